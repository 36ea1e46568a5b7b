// worker/quantize_cell.h: the quantize phase out of device memory loads
// the model again and runs once more at half the calibration batch; a
// second failure names the phase and both batch sizes. The out-of-memory
// error is thrown by libtorch's own macro from the per-block callback, as
// a CUDA allocation would throw it mid-model. Real GPTQ on
// assets/qgrid-tiny (8 windows of 64 tokens), a few seconds on one core.
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <filesystem>

#include "tests/test_util.h"
#include "worker/quantize_cell.h"

namespace qgrid::worker {
namespace {

namespace fs = std::filesystem;

CellRequest GptqRequest(const std::string& tiny) {
  CellRequest r;
  r.model_dir = tiny;
  r.config.method = "gptq";
  r.config.w_bits = 4;
  r.config.group_size = 32;
  eval::CalibrationSpec spec;
  spec.text_file =
      testing::SourceDir() + "/tests/eval/fixtures/handmade_prose.txt";
  spec.opts.n = 8;
  spec.opts.seqlen = 64;
  spec.opts.seed = 7;
  r.calibration = spec;
  r.quantize.batch_size = 8;
  r.quantize.show_progress = false;
  return r;
}

TEST(QuantizeOomRetry, RetriesFromAFreshLoadAtHalfTheBatch) {
  const std::string tiny = testing::SourceDir() + "/assets/qgrid-tiny";
  if (!fs::exists(tiny + "/config.json")) GTEST_SKIP() << "needs " << tiny;
  // A clean run at the batch the retry will use (the batch groups the
  // rows into forwards, which changes float rounding of the statistics).
  CellRequest at4 = GptqRequest(tiny);
  at4.quantize.batch_size = 4;
  auto clean = QuantizeCell(at4);
  ASSERT_TRUE(clean.ok()) << clean.status();
  EXPECT_EQ(clean->quantize_batch_size, 4);

  // The first try runs out of memory after its second block was quantized.
  CellRequest r = GptqRequest(tiny);
  int blocks = 0;
  r.quantize.on_block = [&blocks](int i, int, double) {
    ++blocks;
    TORCH_CHECK_WITH(OutOfMemoryError, blocks != 2,
                     "CUDA out of memory. Tried to allocate 1.00 GiB");
  };
  auto retried = QuantizeCell(r);
  ASSERT_TRUE(retried.ok()) << retried.status();
  EXPECT_EQ(retried->quantize_batch_size, 4);
  EXPECT_GT(blocks, 2);
  // From a fresh load: bitwise the clean run's weights, not blocks 0 and 1
  // quantized twice.
  EXPECT_EQ(retried->weights_sha256, clean->weights_sha256);
}

TEST(QuantizeOomRetry, ASecondFailureNamesThePhaseAndBothBatchSizes) {
  const std::string tiny = testing::SourceDir() + "/assets/qgrid-tiny";
  if (!fs::exists(tiny + "/config.json")) GTEST_SKIP() << "needs " << tiny;
  CellRequest r = GptqRequest(tiny);
  int tries = 0;
  r.quantize.on_block = [&tries](int i, int, double) {
    if (i == 0) ++tries;
    TORCH_CHECK_WITH(OutOfMemoryError, false,
                     "CUDA out of memory. Tried to allocate 1.00 GiB");
  };
  auto s = QuantizeCell(r);
  EXPECT_TRUE(absl::IsResourceExhausted(s.status())) << s.status();
  EXPECT_NE(s.status().message().find(
                "quantize phase: out of device memory at batch size 8 and "
                "again at 4"),
            std::string::npos)
      << s.status();
  EXPECT_EQ(tries, 2);
}

TEST(QuantizeOomRetry, OtherErrorsAreNotRetried) {
  const std::string tiny = testing::SourceDir() + "/assets/qgrid-tiny";
  if (!fs::exists(tiny + "/config.json")) GTEST_SKIP() << "needs " << tiny;
  CellRequest r = GptqRequest(tiny);
  int tries = 0;
  r.quantize.on_block = [&tries](int i, int, double) {
    if (i == 0) ++tries;
    TORCH_CHECK(false, "a bug, not memory");
  };
  auto s = QuantizeCell(r);
  EXPECT_FALSE(s.ok());
  EXPECT_FALSE(absl::IsResourceExhausted(s.status())) << s.status();
  EXPECT_EQ(tries, 1);
}

}  // namespace
}  // namespace qgrid::worker
