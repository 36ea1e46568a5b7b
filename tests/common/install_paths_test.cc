// A fake installed tree in a temporary folder: <tmp>/bin/qgrid with
// <tmp>/share/qgrid/tasks present or absent, and the environment override.
#include "common/install_paths.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>

#include "tests/test_util.h"

namespace qgrid {
namespace {

namespace fs = std::filesystem;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

constexpr char kEnv[] = "QGRID_INSTALL_PATHS_TEST_DIR";

class InstallPathsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    unsetenv(kEnv);
    root_ = testing::MakeTempDir("install-paths");
    ASSERT_FALSE(root_.empty());
    fs::create_directories(root_ + "/bin");
    exe_ = root_ + "/bin/qgrid";  // need not exist: only its folder counts
  }
  void TearDown() override {
    unsetenv(kEnv);
    fs::remove_all(root_);
  }
  std::string root_, exe_;
};

TEST_F(InstallPathsTest, InstalledTreeAbsentFallsBackToCompiledIn) {
  EXPECT_EQ(InstalledDataDir("tasks", exe_), "");
  DataSearchPath p =
      ResolveDataSearchPath(kEnv, "tasks", "/src/a:/src/b", exe_);
  EXPECT_THAT(p.dirs, ElementsAre("/src/a", "/src/b"));
  EXPECT_EQ(p.origin, "source tree");
  // Every place considered is named, so a "not found" error can list them.
  std::string tried = DescribeTried(p);
  EXPECT_THAT(tried, HasSubstr(std::string("$") + kEnv + " (unset)"));
  EXPECT_THAT(tried, HasSubstr(root_ + "/share/qgrid/tasks (installed tree, "
                                       "absent)"));
  EXPECT_THAT(tried, HasSubstr("/src/a:/src/b (compiled-in source tree)"));
}

TEST_F(InstallPathsTest, InstalledTreeNextToTheExecutableWins) {
  fs::create_directories(root_ + "/share/qgrid/tasks");
  EXPECT_EQ(InstalledDataDir("tasks", exe_), root_ + "/share/qgrid/tasks");
  EXPECT_EQ(InstalledDataDir("assets", exe_), "");  // per kind
  DataSearchPath p = ResolveDataSearchPath(kEnv, "tasks", "/src/a", exe_);
  EXPECT_THAT(p.dirs, ElementsAre(root_ + "/share/qgrid/tasks"));
  EXPECT_EQ(p.origin, "installed tree");
  // No override variable: straight to the installed tree.
  EXPECT_THAT(ResolveDataSearchPath("", "tasks", "/src/a", exe_).dirs,
              ElementsAre(root_ + "/share/qgrid/tasks"));
}

TEST_F(InstallPathsTest, EnvironmentOverridesBoth) {
  fs::create_directories(root_ + "/share/qgrid/tasks");
  setenv(kEnv, "/x:/y", 1);
  DataSearchPath p = ResolveDataSearchPath(kEnv, "tasks", "/src/a", exe_);
  EXPECT_THAT(p.dirs, ElementsAre("/x", "/y"));
  EXPECT_EQ(p.origin, std::string("$") + kEnv);
  // Set but empty counts as unset.
  setenv(kEnv, "", 1);
  EXPECT_EQ(ResolveDataSearchPath(kEnv, "tasks", "/src/a", exe_).origin,
            "installed tree");
}

TEST(InstallPaths, SelfExecutablePathIsThisTestBinary) {
  std::string self = SelfExecutablePath();
  ASSERT_FALSE(self.empty());
  EXPECT_TRUE(fs::exists(self));
  EXPECT_THAT(self, HasSubstr("common_tests"));
}

}  // namespace
}  // namespace qgrid
