// The shared libtorch boundary: dtype spellings, device spellings, and
// thrown torch errors as statuses.
#include "model/torch_util.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>

namespace qgrid::model {
namespace {

TEST(ParseDtype, AcceptsEverySpellingOfTheThreeComputeDtypes) {
  for (const char* s : {"fp32", "float32", "f32"}) {
    EXPECT_EQ(*ParseDtype(s), at::kFloat) << s;
  }
  for (const char* s : {"fp16", "float16", "f16", "half"}) {
    EXPECT_EQ(*ParseDtype(s), at::kHalf) << s;
  }
  for (const char* s : {"bf16", "bfloat16"}) {
    EXPECT_EQ(*ParseDtype(s), at::kBFloat16) << s;
  }
  auto bad = ParseDtype("int4", "--dtype");
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(bad.status().message().find("--dtype"), std::string::npos)
      << bad.status();
  EXPECT_STREQ(DtypeName(at::kBFloat16), "bfloat16");
}

TEST(CheckDevice, CpuAlwaysCudaOnlyWithCudaAndNothingElse) {
  EXPECT_TRUE(CheckDevice("cpu").ok());
  auto gpu = CheckDevice("cuda:0", "--device");
  EXPECT_EQ(gpu.ok(), at::hasCUDA()) << gpu;
  if (!at::hasCUDA()) {
    EXPECT_NE(gpu.message().find("--device cuda:0: this build has no CUDA"),
              std::string::npos)
        << gpu;
  }
  for (const char* s : {"gpu", "cuda0", "", "CPU"}) {
    auto st = CheckDevice(s, "--device");
    EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument) << s;
    EXPECT_NE(st.message().find("must be cpu or cuda[:N]"), std::string::npos)
        << st;
  }
}

TEST(CatchTorch, ATorchErrorBecomesAStatus) {
  absl::Status s = CatchTorch([]() -> absl::Status {
    at::ones({2, 3}).matmul(at::ones({2, 3}));  // shapes do not fit
    return absl::OkStatus();
  });
  EXPECT_FALSE(s.ok());
  EXPECT_EQ(s.message().find("Exception raised from"), std::string::npos)
      << "the backtrace is dropped: " << s;
}

TEST(CatchTorch, OutOfDeviceMemoryBecomesResourceExhausted) {
  absl::Status s = CatchTorch([]() -> absl::Status {
    TORCH_CHECK_WITH(OutOfMemoryError, false,
                     "CUDA out of memory. Tried to allocate 2.00 GiB");
    return absl::OkStatus();
  });
  EXPECT_TRUE(absl::IsResourceExhausted(s)) << s;
  EXPECT_NE(s.message().find("Tried to allocate 2.00 GiB"), std::string::npos);
}

}  // namespace
}  // namespace qgrid::model
