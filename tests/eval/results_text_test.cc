// Merging per-task results documents and the text table `qgrid eval`
// prints from them.
#include "eval/results_text.h"

#include <gtest/gtest.h>

namespace qgrid::eval {
namespace {

nlohmann::json OneTask(const std::string& task, double acc, int64_t n,
                       int shots) {
  return {{"results",
           {{task,
             {{"name", task},
              {"alias", task},
              {"sample_len", n},
              {"acc,none", acc},
              {"acc_stderr,none", 0.01},
              {"acc_norm,none", acc + 0.1}}}}},
          {"n-shot", {{task, shots}}},
          {"n-samples", {{task, {{"original", n}, {"effective", n}}}}},
          {"config", {{"model", "m"}, {"task", task}}},
          {"efficiency",
           {{"weight_bytes", 2 << 20},
            {"peak_rss_bytes", 100 << 20},
            {"eval_seconds", 1.5}}}};
}

TEST(MergeResults, KeepsEveryTasksMetricsShotsCountsAndConfig) {
  nlohmann::json all;
  MergeResults(OneTask("arc_easy", 0.25, 40, 0), "arc_easy", &all);
  MergeResults(OneTask("piqa", 0.5, 20, 5), "piqa", &all);
  EXPECT_DOUBLE_EQ(all["results"]["arc_easy"]["acc,none"].get<double>(), 0.25);
  EXPECT_DOUBLE_EQ(all["results"]["piqa"]["acc,none"].get<double>(), 0.5);
  EXPECT_EQ(all["n-shot"]["piqa"].get<int>(), 5);
  EXPECT_EQ(all["n-samples"]["arc_easy"]["effective"].get<int>(), 40);
  EXPECT_EQ(all["configs"]["piqa"]["task"], "piqa");
  EXPECT_EQ(all["configs"]["arc_easy"]["task"], "arc_easy");
  // The first document's own config stays where Evaluate put it.
  EXPECT_EQ(all["config"]["task"], "arc_easy");
}

// lm-eval's results file layout (tests/conformance/test_results_schema.py
// compares it with one lm-eval writes).
TEST(FinishResults, AddsLmEvalsVersionsHigherIsBetterSubtasksRunAndDate) {
  nlohmann::json all;
  MergeResults(OneTask("arc_easy", 0.25, 40, 0), "arc_easy", &all);
  all["results"]["arc_easy"]["perplexity,none"] = 12.0;
  TaskConfig arc, ceval;
  arc.task = "arc_easy";
  ceval.task = "ceval";
  ceval.version = 2.0;
  ceval.subjects = {{"law", "法学", "Humanities"},
                    {"logic", "逻辑学", "Other"}};
  MergeResults(OneTask("ceval", 0.5, 20, 5), "ceval", &all);
  FinishResults({arc, ceval}, {{"model", "qgrid"}, {"batch_size", 8}}, &all);
  EXPECT_EQ(all["versions"]["arc_easy"], 1.0);
  EXPECT_EQ(all["versions"]["ceval"], 2.0);
  EXPECT_EQ(all["higher_is_better"]["arc_easy"],
            (nlohmann::json{
                {"acc", true}, {"acc_norm", true}, {"perplexity", false}}));
  EXPECT_FALSE(all["group_subtasks"].contains("arc_easy"));
  EXPECT_EQ(all["group_subtasks"]["ceval"], (nlohmann::json{"law", "logic"}));
  EXPECT_EQ(all["config"]["model"], "qgrid");
  EXPECT_EQ(all["configs"]["arc_easy"]["task"], "arc_easy");
  EXPECT_GT(all["date"].get<double>(), 1.7e9);
  EXPECT_FALSE(HigherIsBetter("word_perplexity"));
  EXPECT_FALSE(HigherIsBetter("likelihood_diff"));
  EXPECT_TRUE(HigherIsBetter("exact_match"));
}

TEST(FormatResultsTable, OneLinePerTaskWithStderrCountsAndShots) {
  nlohmann::json all;
  MergeResults(OneTask("arc_easy", 0.25, 40, 0), "arc_easy", &all);
  MergeResults(OneTask("piqa", 0.5, 20, 5), "piqa", &all);
  std::string t = FormatResultsTable(all);
  EXPECT_NE(t.find("arc_easy                acc 0.2500 ± 0.0100  acc_norm "
                   "0.3500  (n=40, 0-shot)\n"),
            std::string::npos)
      << t;
  EXPECT_NE(t.find("piqa                    acc 0.5000 ± 0.0100  acc_norm "
                   "0.6000  (n=20, 5-shot)\n"),
            std::string::npos)
      << t;
  EXPECT_NE(t.find("weights 2.00 MiB, peak RSS 100.0 MiB, 1.5 s\n"),
            std::string::npos)
      << t;
  EXPECT_EQ(t.find("alias"), std::string::npos) << t;
  EXPECT_EQ(t.find("sample_len"), std::string::npos) << t;
}

}  // namespace
}  // namespace qgrid::eval
