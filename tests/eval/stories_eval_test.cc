// The real stories260K checkpoint on real data through the built-in task
// YAMLs (skipped when ../shared is absent).
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>

#include "eval/evaluate.h"
#include "eval/perplexity.h"
#include "eval/task_config.h"
#include "model/causal_lm.h"
#include "tests/test_util.h"

namespace qgrid::eval {
namespace {

using json = nlohmann::json;

std::unique_ptr<model::CausalLM> LoadStories(const std::string& dir) {
  auto lm = model::CausalLM::Load(dir);
  EXPECT_TRUE(lm.ok()) << lm.status();
  return lm.ok() ? std::move(lm).value() : nullptr;
}

TEST(StoriesEval, ArcEasyAndPiqaThroughTaskYamlsBatchedEqualsUnbatched) {
  QG_REQUIRE_SHARED(model_dir, "models/stories260K");
  QG_REQUIRE_SHARED(data_dir, "data");
  auto lm = LoadStories(model_dir);
  ASSERT_NE(lm, nullptr);
  for (const char* name : {"arc_easy", "piqa"}) {
    auto task = ResolveTask(name);
    ASSERT_TRUE(task.ok()) << task.status();
    std::vector<json> runs;
    for (auto [reuse, bs] :
         std::vector<std::pair<bool, int>>{{true, 8}, {false, 1}, {true, 1}}) {
      EvalOptions o;
      o.data_dir = data_dir;
      o.limit = 12;
      o.batch_size = bs;
      o.reuse_context = reuse;
      o.shots = 1;
      std::string samples =
          ::qgrid::testing::MakeTempDir("stories") + "/s.jsonl";
      o.samples_out = samples;
      auto r = Evaluate(*lm, *task, o);
      ASSERT_TRUE(r.ok()) << r.status();
      const json& res = (*r)["results"][name];
      double acc = res["acc,none"], acc_norm = res["acc_norm,none"];
      EXPECT_GE(acc, 0.0);
      EXPECT_LE(acc, 1.0);
      EXPECT_GE(acc_norm, 0.0);
      EXPECT_LE(acc_norm, 1.0);
      EXPECT_EQ((*r)["n-samples"][name]["effective"], 12);
      // Keep the per-sample log-likelihoods to compare runs.
      std::ifstream in(samples);
      json lls = json::array();
      std::string line;
      while (std::getline(in, line))
        lls.push_back(json::parse(line)["loglikelihoods"]);
      runs.push_back({{"acc", acc}, {"acc_norm", acc_norm}, {"lls", lls}});
    }
    for (size_t i = 1; i < runs.size(); ++i) {
      EXPECT_EQ(runs[i]["acc"], runs[0]["acc"]) << name << " run " << i;
      EXPECT_EQ(runs[i]["acc_norm"], runs[0]["acc_norm"]) << name;
      ASSERT_EQ(runs[i]["lls"].size(), 12u);
      for (size_t d = 0; d < 12; ++d)
        for (size_t c = 0; c < runs[0]["lls"][d].size(); ++c)
          EXPECT_NEAR(runs[i]["lls"][d][c].get<double>(),
                      runs[0]["lls"][d][c].get<double>(), 1e-3)
              << name << " doc " << d << " choice " << c;
    }
  }
}

TEST(StoriesEval, CevalLettersWinograndeAndWikitextRun) {
  QG_REQUIRE_SHARED(model_dir, "models/stories260K");
  QG_REQUIRE_SHARED(data_dir, "data");
  auto lm = LoadStories(model_dir);
  ASSERT_NE(lm, nullptr);
  EvalOptions o;
  o.data_dir = data_dir;
  o.limit = 6;
  auto ceval = ResolveTask("ceval:law");
  ASSERT_TRUE(ceval.ok());
  auto r = Evaluate(*lm, *ceval, o);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ((*r)["n-shot"]["ceval:law"], 5);
  double acc = (*r)["results"]["ceval:law"]["acc,none"];
  EXPECT_GE(acc, 0.0);
  EXPECT_LE(acc, 1.0);

  auto wino = ResolveTask("winogrande");
  auto w = Evaluate(*lm, *wino, o);
  ASSERT_TRUE(w.ok()) << w.status();

  // Rolling perplexity of a children's-story model on Wikipedia is high but
  // finite; bits per byte = log2(byte perplexity).
  auto wiki = ResolveTask("wikitext2");
  ASSERT_TRUE(wiki.ok());
  wiki->format = "lines";  // one document per line keeps the test short
  o.limit = 20;
  o.max_length = 256;
  auto p = Evaluate(*lm, *wiki, o);
  ASSERT_TRUE(p.ok()) << p.status();
  const json& res = (*p)["results"]["wikitext2"];
  double bpb = res["bits_per_byte,none"],
         byte_ppl = res["byte_perplexity,none"];
  EXPECT_GT(bpb, 0.5);
  EXPECT_LT(bpb, 8.0);
  EXPECT_NEAR(std::log2(byte_ppl), bpb, 1e-9);
}

TEST(StoriesEval, GptqPerplexityTaskMatchesTheReferenceFigure) {
  QG_REQUIRE_SHARED(model_dir, "models/stories260K");
  QG_REQUIRE_SHARED(wiki, "data/wikitext2/wiki.test.raw");
  auto lm = LoadStories(model_dir);
  ASSERT_NE(lm, nullptr);
  // ../shared/README.md: about 148.7 on the first 60,000 bytes with
  // non-overlapping 256-token windows.
  std::ifstream in(wiki, std::ios::binary);
  std::string text(60000, '\0');
  in.read(text.data(), 60000);
  std::string dir = ::qgrid::testing::MakeTempDir("gptq");
  std::ofstream(dir + "/wiki60k.raw", std::ios::binary) << text;
  PerplexityOptions po;
  po.seqlen = 256;
  po.show_progress = false;
  auto readme = Perplexity(*lm, lm->tokenizer()->Encode(text, true), po);
  ASSERT_TRUE(readme.ok());
  EXPECT_NEAR(readme->ppl, 148.7, 0.1);
  // The task scores GPTQ's text: Hugging Face's rows of the file (each
  // line with its newline, blank lines empty) joined with "\n\n".
  std::string gptq_text;
  size_t pos = 0;
  for (bool first = true; pos < text.size(); first = false) {
    size_t nl = text.find('\n', pos);
    size_t end = nl == std::string::npos ? text.size() : nl + 1;
    std::string row = text.substr(pos, end - pos);
    if (row.find_first_not_of(" \t\r\n") == std::string::npos) row.clear();
    if (!first) gptq_text += "\n\n";
    gptq_text += row;
    pos = end;
  }
  std::vector<int> ids = lm->tokenizer()->Encode(gptq_text, true);
  auto task = ResolveTask("wikitext2_gptq");
  ASSERT_TRUE(task.ok());
  task->data_files["test"] = {dir + "/wiki60k.raw"};
  task->seqlen = 256;
  EvalOptions o;
  auto r = Evaluate(*lm, *task, o);
  ASSERT_TRUE(r.ok()) << r.status();
  auto full = Perplexity(*lm, ids, po);
  ASSERT_TRUE(full.ok());
  EXPECT_NEAR(
      (*r)["results"]["wikitext2_gptq"]["perplexity,none"].get<double>(),
      full->ppl, full->ppl * 1e-6);
  EXPECT_EQ((*r)["config"]["windows"], full->windows);
  // The blank-line rows add newlines: more tokens than the raw text.
  EXPECT_GT(full->windows, readme->windows);
  // --limit counts windows here: a token budget from the stream's start,
  // the same number Perplexity() gives on those tokens.
  o.limit = 20;
  auto lim = Evaluate(*lm, *task, o);
  ASSERT_TRUE(lim.ok()) << lim.status();
  EXPECT_EQ((*lim)["config"]["windows"], 20);
  ids.resize(20 * 256);
  auto direct = Perplexity(*lm, ids, po);
  ASSERT_TRUE(direct.ok());
  // Evaluate batches 2 windows per forward, this 1: float summation order
  // differs in the last digits only.
  EXPECT_NEAR(
      (*lim)["results"]["wikitext2_gptq"]["perplexity,none"].get<double>(),
      direct->ppl, direct->ppl * 1e-6);
  EXPECT_GT(std::fabs(direct->ppl - full->ppl), 1.0);  // not the full stream
}

// BOSS AdvQA (the real MI-optimize file) through boss_advqa.yaml: the
// paper's 1-shot instruction prompt, 5 greedy tokens, SQuAD EM/F1.
TEST(StoriesEval, BossAdvqaGeneratesWithThePapersPrompt) {
  QG_REQUIRE_SHARED(model_dir, "models/stories260K");
  QG_REQUIRE_SHARED(data_dir, "data");
  auto lm = LoadStories(model_dir);
  ASSERT_NE(lm, nullptr);
  auto task = ResolveTask("boss_advqa");
  ASSERT_TRUE(task.ok()) << task.status();
  EvalOptions o;
  o.data_dir = data_dir;
  o.limit = 4;
  std::string samples = ::qgrid::testing::MakeTempDir("advqa") + "/s.jsonl";
  o.samples_out = samples;
  auto r = Evaluate(*lm, *task, o);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ((*r)["n-shot"]["boss_advqa"], 1);
  EXPECT_EQ((*r)["n-samples"]["boss_advqa"]["original"], 2700);
  const json& res = (*r)["results"]["boss_advqa"];
  std::ifstream in(samples);
  std::string line;
  int n = 0;
  double f1 = 0;
  while (std::getline(in, line)) {
    json s = json::parse(line);
    const std::string prompt = s["prompt"];
    EXPECT_EQ(prompt.rfind("### Instruction ###\nSolve the extractive", 0), 0u);
    EXPECT_NE(prompt.find("// Answer: Daljir.\n### Input ###\nPassage: "),
              std::string::npos);
    EXPECT_EQ(prompt.substr(prompt.size() - 11), " // Answer:");
    EXPECT_FALSE(s["gold"].empty());
    f1 += s["metrics"]["f1"].get<double>();
    ++n;
  }
  ASSERT_EQ(n, 4);
  EXPECT_DOUBLE_EQ(res["f1,none"].get<double>(), f1 / 4);
  EXPECT_LE(res["exact_match,none"].get<double>(),
            res["f1,none"].get<double>());
  // 5 new tokens per question at most.
  EXPECT_LE((*r)["scorer"]["generated_tokens"].get<int64_t>(), 4 * 5);
}

}  // namespace
}  // namespace qgrid::eval
