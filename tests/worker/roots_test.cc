#include "worker/roots.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "tests/test_util.h"
#include "worker/lru_cache.h"

namespace qgrid::worker {
namespace {
namespace fs = std::filesystem;

TEST(ResolveUnderRoots, AcceptsPathsUnderARootAndRefusesEscapes) {
  std::string root = qgrid::testing::MakeTempDir("roots");
  fs::create_directories(root + "/models/tiny");
  std::ofstream(root + "/models/tiny/config.json") << "{}";
  auto ok = ResolveUnderRoots("models/tiny", {root}, "model path");
  ASSERT_TRUE(ok.ok()) << ok.status();
  EXPECT_EQ(*ok, fs::canonical(root + "/models/tiny").string());
  EXPECT_TRUE(ResolveUnderRoots(root + "/models/tiny", {root}, "m").ok());
  auto esc = ResolveUnderRoots("../../etc/passwd", {root}, "model path");
  EXPECT_EQ(esc.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_NE(esc.status().message().find("outside the allowed roots"),
            std::string::npos);
  EXPECT_EQ(ResolveUnderRoots("/etc/passwd", {root}, "m").status().code(),
            absl::StatusCode::kPermissionDenied);
  // A symlink inside the root pointing outside is an escape too.
  fs::create_directory_symlink("/etc", root + "/link");
  EXPECT_EQ(ResolveUnderRoots("link/passwd", {root}, "m").status().code(),
            absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(ResolveUnderRoots("models/nope", {root}, "m").status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(ResolveUnderRoots("models/tiny", {}, "m").status().code(),
            absl::StatusCode::kPermissionDenied);
  fs::remove_all(root);
}

}  // namespace
}  // namespace qgrid::worker
