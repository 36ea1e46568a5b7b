// Runs the real `qgrid` binary's model commands.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>
#include <string>

#include "nlohmann/json.hpp"
#include "tests/test_util.h"

namespace qgrid {
namespace {

using ::testing::HasSubstr;
using testing::RunQgrid;

TEST(ModelCommands, GenerateContinuesOnceUponATime) {
  QG_REQUIRE_SHARED(dir, "models/stories260K");
  testing::QgridResult r =
      RunQgrid("generate --model " + dir +
               " --prompt 'Once upon a time' --max-new-tokens 40");
  EXPECT_EQ(r.code, 0);
  EXPECT_THAT(r.out, ::testing::StartsWith(
                         "Once upon a time, there was a little girl named "
                         "Lily. She loved to play outside in the park."));
}

TEST(ModelCommands, InfoReportsArchitectureAndCheckpoint) {
  QG_REQUIRE_SHARED(dir, "models/stories260K");
  testing::QgridResult r = RunQgrid("model info --json --model " + dir);
  ASSERT_EQ(r.code, 0);
  auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["architecture"], "LlamaForCausalLM");
  EXPECT_EQ(j["layers"], 5);
  EXPECT_EQ(j["kv_heads"], 4);
  EXPECT_EQ(j["parameters"], 260032);
  EXPECT_EQ(j["checkpoint_elements"], 260032);
  EXPECT_EQ(j["checkpoint_dtypes"]["F32"], 47);
  EXPECT_EQ(j["tokenizer"], "sentencepiece");
}

TEST(ModelCommands, TokenizeNeedsOnlyTokenizerFiles) {
  QG_REQUIRE_SHARED(dir, "models/tokenizers/llama2");
  std::string tmp = testing::MakeTempDir("tok");
  std::ofstream(tmp + "/t.txt") << "Hello world";
  testing::QgridResult r = RunQgrid("tokenize --json --model " + dir +
                                    " --text-file " + tmp + "/t.txt");
  ASSERT_EQ(r.code, 0);
  // LLaMA-2: BOS, "▁Hello", "▁world".
  EXPECT_EQ(nlohmann::json::parse(r.out)["ids"],
            nlohmann::json::array({1, 15043, 3186}));
}

TEST(ModelCommands, PplPrintsJson) {
  QG_REQUIRE_SHARED(dir, "models/stories260K");
  QG_REQUIRE_SHARED(text, "data/wikitext2/wiki.test.raw");
  testing::QgridResult r =
      RunQgrid("ppl --json --model " + dir + " --text-file " + text +
               " --max-bytes 20000 --seqlen 128 --batch-size 4");
  ASSERT_EQ(r.code, 0);
  auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["seqlen"], 128);
  EXPECT_EQ(j["windows"], j["tokens"].get<int>() / 128);
  EXPECT_GT(j["ppl"].get<double>(), 50);
  EXPECT_LT(j["ppl"].get<double>(), 1000);
}

TEST(ModelCommands, ClearErrorsExitWithOne) {
  EXPECT_EQ(RunQgrid("ppl --model /nonexistent --text-file /nonexistent").code,
            1);
  EXPECT_EQ(RunQgrid("model info --model /").code, 1);
  EXPECT_EQ(RunQgrid("generate --model / --prompt x").code, 1);
  testing::QgridResult help = RunQgrid("ppl --help");
  EXPECT_THAT(help.out, HasSubstr("--seqlen"));
  EXPECT_THAT(help.out, HasSubstr("--max-bytes"));
}

}  // namespace
}  // namespace qgrid
