// The reproduction specs (specs/paper/, specs/small/): every spec parses,
// names known tasks and expands to exactly the counts its opening comment
// derives, read from its machine-readable line
//   # expect: grid_cells=N jobs=N quantizations=N evaluations=N
// so the arithmetic written for readers and the grid qgrid builds cannot
// drift apart. The carved C-Eval/CMMLU task files are checked against the
// built-in tasks they restrict. `qgrid submit --dry-run` printing the same
// counts is tests/cli/small_specs_test.cc.
#include <gtest/gtest.h>

#include <filesystem>
#include <map>
#include <regex>
#include <string>
#include <vector>

#include "coordinator/spec_tasks.h"
#include "coordinator/sweep_spec.h"
#include "eval/task_config.h"
#include "tests/spec_expect.h"
#include "tests/test_util.h"

namespace qgrid::coordinator {
namespace {

namespace fs = std::filesystem;

using ::qgrid::testing::ExpectedCounts;
using ::qgrid::testing::ReadAll;
using ::qgrid::testing::SpecFiles;

TEST(ExpectedCounts, ReadsTheLineAndRefusesMalformedOnes) {
  auto ok = ExpectedCounts(
      "# a\n# expect: grid_cells=12 jobs=8 quantizations=3 evaluations=8\n",
      "f.yaml");
  ASSERT_TRUE(ok.ok()) << ok.status();
  EXPECT_EQ(ok->at("grid_cells"), 12);
  EXPECT_EQ(ok->at("jobs"), 8);
  EXPECT_EQ(ok->at("quantizations"), 3);
  EXPECT_EQ(ok->at("evaluations"), 8);
  auto none = ExpectedCounts("name: x\n", "f.yaml");
  EXPECT_NE(none.status().message().find("exactly one"), std::string::npos);
  auto bad = ExpectedCounts("# expect: jobs=eight\n", "f.yaml");
  EXPECT_NE(bad.status().message().find("f.yaml:1:"), std::string::npos)
      << bad.status();
  auto partial = ExpectedCounts("# expect: jobs=8\n", "f.yaml");
  EXPECT_NE(partial.status().message().find("lacks grid_cells"),
            std::string::npos)
      << partial.status();
}

TEST(ReproductionSpecs, EveryPaperStudyHasASpecAndASmallVersion) {
  std::vector<fs::path> files = SpecFiles();
  int paper = 0, small = 0;
  for (const auto& f : files) {
    (f.parent_path().filename() == "paper" ? paper : small)++;
  }
  // s1, s2 BOSS, s2 C-Eval/CMMLU, Table 5, 2402.16775, 2402.18158.
  EXPECT_EQ(paper, 6);
  EXPECT_EQ(small, 6);
  // Each small spec names the paper spec it scales down, which exists.
  static const std::regex kCites(R"(specs/paper/([A-Za-z0-9_.]+\.yaml))");
  for (const auto& f : files) {
    if (f.parent_path().filename() != "small") continue;
    std::string text = ReadAll(f);
    std::smatch m;
    ASSERT_TRUE(std::regex_search(text, m, kCites))
        << f << " names no specs/paper/*.yaml";
    EXPECT_TRUE(fs::exists(fs::path(::qgrid::testing::SourceDir()) /
                           "specs/paper" / m[1].str()))
        << f << " cites missing " << m[1];
  }
}

TEST(ReproductionSpecs, EverySpecExpandsToTheCountsItsCommentDerives) {
  std::vector<fs::path> files = SpecFiles();
  ASSERT_FALSE(files.empty());
  for (const auto& f : files) {
    SCOPED_TRACE(f.string());
    const std::string text = ReadAll(f);
    auto want = ExpectedCounts(text, f.string());
    ASSERT_TRUE(want.ok()) << want.status();
    auto spec = ParseSweepSpec(text, f.string());
    ASSERT_TRUE(spec.ok()) << spec.status();
    // Built-in task names exist (task files are the worker's to resolve).
    absl::Status tasks = ValidateSpecTasks(text, f.string());
    ASSERT_TRUE(tasks.ok()) << tasks;
    auto grid = ExpandGrid(*spec);
    ASSERT_TRUE(grid.ok()) << grid.status();
    const GridSummary& s = grid->summary;
    EXPECT_EQ(s.grid_cells, want->at("grid_cells"));
    EXPECT_EQ(s.jobs, want->at("jobs"));
    EXPECT_EQ(s.quantizations, want->at("quantizations"));
    EXPECT_EQ(s.evaluations, want->at("evaluations"));
    // The protocol of the paper specs: calibrated methods see 128 samples;
    // weight groups are 128 wherever a method takes a group size.
    if (f.parent_path().filename() == "paper") {
      for (const auto& c : spec->calibration) {
        EXPECT_EQ(c.config.value("samples", 0), 128) << c.name;
      }
      for (const auto& m : spec->methods) {
        if (m.contains("group_size")) {
          EXPECT_EQ(m["group_size"].get<int64_t>(), 128) << m.dump();
        }
      }
    }
  }
}

// specs/paper/tasks/<base>_<category>_carve<N>.yaml: the built-in task
// `base` restricted to one category, with N documents carved (seed 42) as
// the calibration split.
TEST(ReproductionSpecs, CarvedTaskFilesAreTheBuiltinCategoryPlusACarve) {
  fs::path dir = fs::path(::qgrid::testing::SourceDir()) / "specs/paper/tasks";
  static const std::regex kName(R"(^(ceval|cmmlu)_([a-z_]+)_carve([0-9]+)$)");
  int n = 0;
  for (const auto& e : fs::directory_iterator(dir)) {
    if (e.path().extension() != ".yaml") continue;
    SCOPED_TRACE(e.path().string());
    ++n;
    std::string stem = e.path().stem().string();
    std::smatch m;
    ASSERT_TRUE(std::regex_match(stem, m, kName));
    auto file = eval::ResolveTask(e.path().string());
    ASSERT_TRUE(file.ok()) << file.status();
    auto builtin = eval::ResolveTask(m[1].str() + ":" + m[2].str());
    ASSERT_TRUE(builtin.ok()) << builtin.status();
    EXPECT_EQ(file->task, stem);
    EXPECT_EQ(file->carve_size, std::stoi(m[3]));
    EXPECT_EQ(file->carve_seed, 42u);
    EXPECT_EQ(file->carve_split, "train");
    EXPECT_EQ(builtin->carve_size, 0);
    // The category's subjects, in the built-in's order.
    ASSERT_EQ(file->subjects.size(), builtin->subjects.size());
    for (size_t i = 0; i < file->subjects.size(); ++i) {
      EXPECT_EQ(file->subjects[i].id, builtin->subjects[i].id);
      EXPECT_EQ(file->subjects[i].name, builtin->subjects[i].name);
      EXPECT_EQ(file->subjects[i].category, builtin->subjects[i].category);
    }
    // Prompt, splits and scoring as the built-in's.
    EXPECT_EQ(file->data_files, builtin->data_files);
    EXPECT_EQ(file->test_split, builtin->test_split);
    EXPECT_EQ(file->fewshot_split, builtin->fewshot_split);
    EXPECT_EQ(file->fewshot_sampler, builtin->fewshot_sampler);
    EXPECT_EQ(file->output_type, builtin->output_type);
    EXPECT_EQ(file->description, builtin->description);
    EXPECT_EQ(file->doc_to_text, builtin->doc_to_text);
    EXPECT_EQ(file->doc_to_choice_list, builtin->doc_to_choice_list);
    EXPECT_EQ(file->doc_to_choice, builtin->doc_to_choice);
    EXPECT_EQ(file->doc_to_target, builtin->doc_to_target);
    EXPECT_EQ(file->target_delimiter, builtin->target_delimiter);
    EXPECT_EQ(file->fewshot_delimiter, builtin->fewshot_delimiter);
    EXPECT_EQ(file->num_fewshot, builtin->num_fewshot);
    EXPECT_EQ(file->metrics, builtin->metrics);
  }
  EXPECT_EQ(n, 6);  // {ceval, cmmlu} x {humanities, social_science, stem}
}

}  // namespace
}  // namespace qgrid::coordinator
