// model/device_info.h: what a worker reports at registration.
#include "model/device_info.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>

namespace qgrid::model {
namespace {

TEST(DescribeDevice, CpuIsNamedCpuWithUnknownMemory) {
  auto d = DescribeDevice("cpu");
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_EQ(d->name, "cpu");
  EXPECT_EQ(d->total_bytes, 0);
  EXPECT_EQ(d->free_bytes, 0);
}

TEST(DescribeDevice, BadSpellingsNameTheDevice) {
  for (const char* s : {"gpu", "", "CPU"}) {
    auto d = DescribeDevice(s);
    EXPECT_TRUE(absl::IsInvalidArgument(d.status())) << s;
    EXPECT_NE(d.status().message().find("must be cpu or cuda[:N]"),
              std::string::npos)
        << d.status();
  }
}

TEST(DescribeDevice, CudaWithoutAGpuSaysWhy) {
  if (at::hasCUDA()) GTEST_SKIP() << "this machine has a CUDA device";
  auto d = DescribeDevice("cuda:0");
  EXPECT_FALSE(d.ok());
  EXPECT_NE(d.status().message().find("no CUDA"), std::string::npos)
      << d.status();
}

TEST(DescribeDevice, CudaNamesTheGpuAndItsFreeMemory) {
  if (!at::hasCUDA()) GTEST_SKIP() << "no CUDA device in this build/machine";
  auto d = DescribeDevice("cuda:0");
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_FALSE(d->name.empty());
  EXPECT_GT(d->free_bytes, 0);
  EXPECT_LE(d->free_bytes, d->total_bytes);
  // A device past the last one is an error, not a guess.
  auto past = DescribeDevice("cuda:999");
  EXPECT_FALSE(past.ok());
}

}  // namespace
}  // namespace qgrid::model
