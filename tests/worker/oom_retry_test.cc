// worker/oom_retry.h: a phase out of device memory runs once more at half
// the batch size; a second failure names the phase and both sizes.
#include "worker/oom_retry.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <vector>

namespace qgrid::worker {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

// A phase that fits in memory only up to `fits` rows per batch.
std::function<absl::StatusOr<int>(int)> Phase(int fits,
                                              std::vector<int>* tried) {
  return [fits, tried](int batch) -> absl::StatusOr<int> {
    tried->push_back(batch);
    if (batch > fits)
      return absl::ResourceExhaustedError("out of device memory: CUDA");
    return batch;
  };
}

TEST(OomRetry, RetriesOnceAtHalfTheBatch) {
  std::vector<int> tried;
  auto r = RunWithOomRetry<int>("eval", 16, Phase(8, &tried));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(*r, 8);
  EXPECT_THAT(tried, ElementsAre(16, 8));
}

TEST(OomRetry, ASecondFailureNamesThePhaseAndBothBatchSizes) {
  std::vector<int> tried;
  auto r = RunWithOomRetry<int>("eval", 16, Phase(4, &tried));
  EXPECT_TRUE(absl::IsResourceExhausted(r.status()));
  EXPECT_THAT(std::string(r.status().message()),
              HasSubstr("eval phase: out of device memory at batch size 16 "
                        "and again at 8"));
  EXPECT_THAT(tried, ElementsAre(16, 8));
  std::vector<int> one;
  auto s = RunWithOomRetry<int>("quantize", 1, Phase(0, &one));
  EXPECT_THAT(
      std::string(s.status().message()),
      HasSubstr("quantize phase: out of device memory at batch size 1"));
  EXPECT_THAT(one, ElementsAre(1));
}

TEST(OomRetry, OtherErrorsAreNotRetried) {
  int calls = 0;
  auto r = RunWithOomRetry<int>("eval", 8, [&](int) -> absl::StatusOr<int> {
    ++calls;
    return absl::InvalidArgumentError("bad task");
  });
  EXPECT_TRUE(absl::IsInvalidArgument(r.status()));
  EXPECT_EQ(calls, 1);
}

}  // namespace
}  // namespace qgrid::worker
