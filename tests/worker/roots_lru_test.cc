#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "tests/test_util.h"
#include "worker/lru_cache.h"
#include "worker/roots.h"

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

TEST(LruCache, EvictsTheLeastRecentlyUsed) {
  LruCache<int> c(2);
  c.Put("a", std::make_shared<int>(1));
  c.Put("b", std::make_shared<int>(2));
  ASSERT_NE(c.Get("a"), nullptr);  // a is now most recent
  c.Put("c", std::make_shared<int>(3));
  EXPECT_EQ(c.Get("b"), nullptr);
  EXPECT_EQ(*c.Get("a"), 1);
  EXPECT_EQ(c.Keys(), (std::vector<std::string>{"a", "c"}));
  // An evicted value still held by a user stays alive.
  auto held = c.Get("c");
  c.Put("d", std::make_shared<int>(4));
  c.Put("e", std::make_shared<int>(5));
  EXPECT_EQ(*held, 3);
}

}  // namespace
}  // namespace qgrid::worker
