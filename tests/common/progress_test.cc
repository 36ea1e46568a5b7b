#include "common/progress.h"

#include <gtest/gtest.h>

#include <string>

namespace qgrid {
namespace {

// A run that finishes within half a second (a sweep whose cells were all
// cached) shows no rate: done / elapsed there is noise ("21649337.7
// jobs/s" before).
TEST(Progress, NoRateUnderHalfASecond) {
  ::testing::internal::CaptureStderr();
  {
    Progress p("sweep", 152, "jobs", /*enabled=*/true);
    p.Add(152);
    p.Finish();
  }
  const std::string err = ::testing::internal::GetCapturedStderr();
  EXPECT_NE(err.find("152/152 jobs  - jobs/s  took"), std::string::npos)
      << err;
}

}  // namespace
}  // namespace qgrid
