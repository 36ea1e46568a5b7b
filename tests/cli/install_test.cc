// Installs this build (`cmake --install BUILD --prefix TMP`) and runs the
// installed qgrid from another folder with QGRID_TASKS_DIR unset: it must
// find its built-in tasks, assets and qgrid-torch relative to itself
// (common/install_paths.h). A copy of the binary with no share/ beside it
// must still work from the compiled-in source tree.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <string>

#include "nlohmann/json.hpp"
#include "tests/test_util.h"

namespace qgrid {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using ::testing::Not;

// Runs shell text `cmd` in folder `cwd` with the variables that would
// bypass the lookup removed; stderr merged into the output when
// `with_stderr`, else discarded.
testing::QgridResult Sh(const std::string& cwd, const std::string& cmd,
                        bool with_stderr = true) {
  return testing::RunShell("cd '" + cwd +
                               "' && env -u QGRID_TASKS_DIR -u "
                               "QGRID_TORCH_EXE -u QGRID_DEMO_SPEC " +
                               cmd,
                           with_stderr);
}

class InstalledQgrid : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    prefix_ = new std::string(testing::MakeTempDir("install-prefix"));
    elsewhere_ = new std::string(testing::MakeTempDir("install-cwd"));
    install_ = new testing::QgridResult(
        Sh(*elsewhere_, std::string("'") + QGRID_CMAKE_COMMAND +
                            "' --install '" + testing::BinaryDir() +
                            "' --prefix '" + *prefix_ + "'"));
  }
  static void TearDownTestSuite() {
    fs::remove_all(*prefix_);
    fs::remove_all(*elsewhere_);
  }
  void SetUp() override { ASSERT_EQ(install_->code, 0) << install_->out; }
  static std::string* prefix_;
  static std::string* elsewhere_;
  static testing::QgridResult* install_;
};
std::string* InstalledQgrid::prefix_ = nullptr;
std::string* InstalledQgrid::elsewhere_ = nullptr;
testing::QgridResult* InstalledQgrid::install_ = nullptr;

TEST_F(InstalledQgrid, LaysOutBinariesTasksAndAssets) {
  const std::string& p = *prefix_;
  EXPECT_EQ(access((p + "/bin/qgrid").c_str(), X_OK), 0);
  EXPECT_EQ(access((p + "/bin/qgrid-torch").c_str(), X_OK), 0);
  EXPECT_TRUE(fs::exists(p + "/share/qgrid/tasks/arc_easy.yaml"));
  EXPECT_TRUE(fs::exists(p + "/share/qgrid/tasks/demo_quotes_ppl.yaml"));
  EXPECT_TRUE(fs::exists(p + "/share/qgrid/assets/qgrid-tiny/config.json"));
  EXPECT_TRUE(
      fs::exists(p + "/share/qgrid/assets/qgrid-tiny/model.safetensors"));
  EXPECT_TRUE(fs::exists(p + "/share/qgrid/assets/demo-sweep.yaml"));
}

TEST_F(InstalledQgrid, ListsBuiltinTasksFromTheInstalledTree) {
  testing::QgridResult r = Sh(*elsewhere_, *prefix_ + "/bin/qgrid tasks");
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_THAT(r.out,
              HasSubstr("Built-in tasks (" + *prefix_ + "/share/qgrid/tasks)"));
  EXPECT_THAT(r.out, HasSubstr("arc_easy"));
  EXPECT_THAT(r.out, HasSubstr("demo_quotes_ppl"));
}

// A real computation: `qgrid eval` (the front end execs the installed
// qgrid-torch next to it) of a built-in task on the installed tiny model.
TEST_F(InstalledQgrid, EvaluatesABuiltinTaskOnTheInstalledModel) {
  std::string data = *elsewhere_ + "/data";
  fs::create_directories(data + "/quotes");
  fs::copy_file(
      testing::SourceDir() + "/tests/eval/fixtures/handmade_prose.txt",
      data + "/quotes/test.txt", fs::copy_options::overwrite_existing);
  testing::QgridResult r = Sh(
      *elsewhere_,
      *prefix_ + "/bin/qgrid eval --json --task demo_quotes_ppl " + "--model " +
          *prefix_ + "/share/qgrid/assets/qgrid-tiny --data-dir " + data,
      /*with_stderr=*/false);
  ASSERT_EQ(r.code, 0) << r.out;
  nlohmann::json j = nlohmann::json::parse(r.out);
  double ppl = j["results"]["demo_quotes_ppl"]["perplexity,none"].get<double>();
  EXPECT_TRUE(std::isfinite(ppl));
  EXPECT_GT(ppl, 1.0);
}

TEST_F(InstalledQgrid, CopiedBinaryWithoutShareUsesTheSourceTree) {
  std::string bin = *elsewhere_ + "/copy/bin";
  fs::create_directories(bin);
  fs::copy_file(*prefix_ + "/bin/qgrid", bin + "/qgrid",
                fs::copy_options::overwrite_existing);
  testing::QgridResult r = Sh(*elsewhere_, bin + "/qgrid tasks");
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_THAT(r.out, HasSubstr(testing::SourceDir() + "/eval/tasks"));
  EXPECT_THAT(r.out, Not(HasSubstr("share/qgrid")));
  EXPECT_THAT(r.out, HasSubstr("arc_easy"));
}

TEST_F(InstalledQgrid, MissingTasksErrorListsThePlacesTried) {
  testing::QgridResult r =
      Sh(*elsewhere_, "QGRID_TASKS_DIR=/nonexistent-qgrid-tasks " + *prefix_ +
                          "/bin/qgrid tasks");
  EXPECT_NE(r.code, 0);
  EXPECT_THAT(r.out, HasSubstr("/nonexistent-qgrid-tasks"));
  EXPECT_THAT(r.out, HasSubstr("looked in"));
}

}  // namespace
}  // namespace qgrid
