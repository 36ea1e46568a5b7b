// Efficiency measurement (eval/efficiency.h).
#include "eval/efficiency.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>

#include "eval/calibration.h"
#include "eval/evaluate.h"
#include "eval/task_config.h"
#include "model/tokenizer.h"
#include "tests/eval/tiny_model.h"
#include "tests/test_util.h"

namespace qgrid::eval {
namespace {

using testing::TinyModel;

TEST(Efficiency, ReportsWeightsMemoryAndThroughput) {
  auto lm = TinyModel();
  ASSERT_NE(lm, nullptr);
  EfficiencyOptions o;
  o.prompt_tokens = 32;
  o.decode_tokens = 4;
  auto e = MeasureEfficiency(*lm, o);
  ASSERT_TRUE(e.ok()) << e.status();
  EXPECT_EQ(e->weight_bytes, lm->WeightBytes());
  EXPECT_GT(e->peak_rss_bytes, 0);
  EXPECT_GT(e->prefill_tokens_per_s, 0);
  EXPECT_GT(e->decode_tokens_per_s, 0);
}

}  // namespace
}  // namespace qgrid::eval
