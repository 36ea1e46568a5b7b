// Calibration sets (eval/calibration.h).
#include "eval/calibration.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>

#include "eval/efficiency.h"
#include "eval/evaluate.h"
#include "eval/task_config.h"
#include "model/tokenizer.h"
#include "tests/eval/tiny_model.h"
#include "tests/test_util.h"

namespace qgrid::eval {
namespace {

using json = nlohmann::json;

TEST(Calibration, PerExampleAndPackedSetsFromTaskData) {
  testing::ByteTokenizer tok;
  auto task = ResolveTask("arc_easy");
  ASSERT_TRUE(task.ok());
  task->data_files["test"] = {"mc.jsonl"};
  CalibrationOptions o;
  o.data_dir = ::qgrid::testing::SourceDir() + "/tests/eval/data";
  o.n = 3;
  o.seqlen = 48;
  auto per = BuildTaskCalibrationSet(tok, *task, o);
  ASSERT_TRUE(per.ok()) << per.status();
  EXPECT_EQ(per->ids.sizes(), (std::vector<int64_t>{3, 48}));
  EXPECT_EQ(per->texts[0], "Question: What color is the sky?\nAnswer: blue");
  EXPECT_EQ(per->ids[0][0].item<int64_t>(), 1);  // BOS
  int64_t len = 1 + per->texts[0].size();
  EXPECT_EQ(per->attention_mask[0].sum().item<int64_t>(),
            std::min<int64_t>(len, 48));
  o.mode = CalibrationOptions::Mode::kPacked;
  o.n = 2;
  o.seqlen = 64;
  auto packed = BuildTaskCalibrationSet(tok, *task, o);
  ASSERT_TRUE(packed.ok()) << packed.status();
  EXPECT_EQ(packed->ids.sizes(), (std::vector<int64_t>{2, 64}));
  EXPECT_EQ(packed->attention_mask.sum().item<int64_t>(), 128);
  // Row 1 continues the stream where row 0 stopped.
  // Stream = [BOS] + joined texts, so row 1 starts at text byte 63.
  std::string joined;
  for (const auto& t : packed->texts) joined += t;
  EXPECT_EQ(packed->ids[1][0].item<int64_t>(),
            3 + static_cast<unsigned char>(joined[63]));
  EXPECT_EQ(packed->texts[1].substr(0, 2), "\n\n");  // fewshot_delimiter
  o.n = 50;
  EXPECT_FALSE(BuildTaskCalibrationSet(tok, *task, o).ok());
}

TEST(Calibration, RandomTextWindowsAreSeeded) {
  testing::ByteTokenizer tok;
  std::string path =
      ::qgrid::testing::SourceDir() + "/tests/eval/data/text.txt";
  auto a = RandomTextWindows(tok, path, 4, 10, 42);
  auto b = RandomTextWindows(tok, path, 4, 10, 42);
  auto c = RandomTextWindows(tok, path, 4, 10, 7);
  ASSERT_TRUE(a.ok() && b.ok() && c.ok());
  EXPECT_TRUE(a->ids.equal(b->ids));
  EXPECT_FALSE(a->ids.equal(c->ids));
  EXPECT_FALSE(RandomTextWindows(tok, path, 1, 1000, 1).ok());
}

}  // namespace
}  // namespace qgrid::eval
