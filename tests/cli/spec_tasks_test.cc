// The real `qgrid` binary refuses sweep specs that name unknown evaluation
// tasks (cli/spec_tasks.h) before anything is sent or started, with the
// file:line:col and the known tasks.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "tests/test_util.h"

namespace qgrid {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

class SpecTasksTest : public ::testing::Test {
 protected:
  void SetUp() override { dir_ = testing::MakeTempDir("spec-tasks"); }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string Spec(const std::string& text) {
    std::string p = dir_ + "/sweep.yaml";
    std::ofstream(p) << text;
    return p;
  }
  std::string dir_;
};

constexpr char kHead[] = R"(models:
  - {name: m, path: m}
methods:
  - {name: gptq, bits: 4}
)";

TEST_F(SpecTasksTest, AnUnknownTestTaskIsRefusedWithItsPosition) {
  std::string spec = Spec(std::string(kHead) + R"(calibration:
  - {name: wiki, path: wiki.txt}
tests:
  - {name: ok, task: wikitext2}
  - {name: arc, task: arc_easyy}
)");
  // Dry run and a real submit (no coordinator running: the check comes
  // first, so no "unreachable" error).
  for (const char* extra : {" --dry-run", " --coordinator 127.0.0.1:1"}) {
    testing::QgridResult r = testing::RunQgrid("submit " + spec + extra, true);
    EXPECT_EQ(r.code, 2) << r.out;
    EXPECT_THAT(r.out, HasSubstr(spec + ":9:23: tests[1].task: unknown task "
                                        "'arc_easyy' (did you mean "
                                        "'arc_easy'?)"));
    EXPECT_THAT(r.out, HasSubstr("known tasks: anli_r1, anli_r2, anli_r3, "
                                 "arc_challenge, arc_easy,"));
    EXPECT_THAT(r.out, Not(HasSubstr("unreachable")));
  }
}

TEST_F(SpecTasksTest, AnUnknownCalibrationTaskIsRefused) {
  std::string spec = Spec(std::string(kHead) + R"(calibration:
  - {name: c, task: hellaswg, samples: 8}
  - {name: d, dataset: nosuchset}
tests:
  - {name: t, task: arc_easy}
)");
  testing::QgridResult r = testing::RunQgrid("submit --dry-run " + spec, true);
  EXPECT_EQ(r.code, 2);
  EXPECT_THAT(r.out, HasSubstr(spec + ":6:21: calibration[0].task: unknown "
                                      "task 'hellaswg' (did you mean "
                                      "'hellaswag'?)"));
  // `qgrid run` refuses it before starting a coordinator or workers.
  r = testing::RunQgrid("run " + spec, true);
  EXPECT_EQ(r.code, 2);
  EXPECT_THAT(r.out, HasSubstr("calibration[0].task: unknown task"));
  EXPECT_THAT(r.out, Not(HasSubstr("sweep ")));
  // A dataset without a path is what the worker resolves as a task.
  spec = Spec(std::string(kHead) + R"(calibration:
  - {name: d, dataset: nosuchset}
tests:
  - {name: t, task: arc_easy}
)");
  r = testing::RunQgrid("submit --dry-run " + spec, true);
  EXPECT_EQ(r.code, 2);
  EXPECT_THAT(r.out, HasSubstr(":6:24: calibration[0].dataset: unknown task "
                               "'nosuchset'"));
}

TEST_F(SpecTasksTest, KnownTasksSubsetsAndTaskFilesPass) {
  std::string spec = Spec(std::string(kHead) + R"(calibration:
  - {name: wiki, dataset: wikitext2, path: wiki.txt}
  - {name: arc, task: arc_easy}
tests:
  - {name: a, task: demo_quotes_mc}
  - {name: b, task: "ceval:law"}
  - {name: c, task: my_task.yaml}
)");
  testing::QgridResult r = testing::RunQgrid("submit --dry-run " + spec, true);
  EXPECT_EQ(r.code, 0) << r.out;
  EXPECT_THAT(r.out, HasSubstr("jobs: 6"));
  // An unknown subset of a grouped task is named too.
  spec = Spec(std::string(kHead) + R"(calibration:
  - {name: arc, task: arc_easy}
tests:
  - {name: b, task: "ceval:nosuchsubject"}
)");
  r = testing::RunQgrid("submit --dry-run " + spec, true);
  EXPECT_EQ(r.code, 2);
  EXPECT_THAT(r.out, HasSubstr(":8:21: tests[0].task:"));
}

}  // namespace
}  // namespace qgrid
