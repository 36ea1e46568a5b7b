// The paper-layout result tables and the tidy exports.
#include "coordinator/results_table.h"

#include <gtest/gtest.h>

namespace qgrid::coordinator {
namespace {

using json = nlohmann::json;

ResultRow Row(int64_t id, const std::string& test, const std::string& cal,
              double ppl, double acc) {
  ResultRow r;
  r.job_id = id;
  r.labels = {{"model", "tiny"},    {"method", "gptq"}, {"bits", 4},
              {"calibration", cal}, {"test", test},     {"shots", 0},
              {"seed", 0},          {"repeat", 0},      {"iid", test == cal}};
  r.state = "done";
  r.metrics = {{"ppl", ppl}, {"acc", acc}};
  return r;
}

// wiki row: I.I.D (wiki) best with 10 vs 12. c4 row: OOD (wiki) best, 20 vs
// I.I.D 21.
std::vector<ResultRow> Rows() {
  return {Row(1, "wiki", "wiki", 10, 0.5), Row(2, "wiki", "c4", 12, 0.4),
          Row(3, "c4", "wiki", 20, 0.3), Row(4, "c4", "c4", 21, 0.6)};
}

TEST(RenderResults, TaskDefaultShotsAreNamedNotPrintedAsMinusOne) {
  std::vector<ResultRow> rows = Rows();
  for (auto& r : rows) r.labels["shots"] = -1;
  auto md = RenderResults(rows, "ppl", "markdown");
  ASSERT_TRUE(md.ok()) << md.status();
  EXPECT_NE(md->find("### tiny | gptq W4 | task-default shots"),
            std::string::npos)
      << *md;
  EXPECT_EQ(md->find("-1-shot"), std::string::npos) << *md;
}

TEST(RenderResults, MarkdownMarksIidAndBoldsTheBestPerRow) {
  auto md = RenderResults(Rows(), "ppl", "markdown");
  ASSERT_TRUE(md.ok()) << md.status();
  EXPECT_NE(md->find("### tiny | gptq W4 | 0-shot"), std::string::npos) << *md;
  EXPECT_NE(md->find("| wiki | **10†** | 12 |"), std::string::npos) << *md;
  EXPECT_NE(md->find("| c4 | **20** | 21† |"), std::string::npos) << *md;
  // Gaps OOD - IID: wiki 12-10 = +2, c4 20-21 = -1; mean +0.5.
  EXPECT_NE(md->find("I.I.D calibration is best in 1 of 2 rows"),
            std::string::npos);
  EXPECT_NE(md->find("gap: +0.5"), std::string::npos) << *md;
}

TEST(RenderResults, HigherIsBetterForAccuracy) {
  auto md = RenderResults(Rows(), "acc", "markdown");
  ASSERT_TRUE(md.ok());
  EXPECT_NE(md->find("| wiki | **0.5†** | 0.4 |"), std::string::npos) << *md;
  EXPECT_NE(md->find("| c4 | 0.3 | **0.6†** |"), std::string::npos) << *md;
  EXPECT_NE(md->find("best in 2 of 2 rows"), std::string::npos);
}

TEST(RenderResults, TidyJsonAndCsvHaveOneRowPerJobAndMetric) {
  auto j = RenderResults(Rows(), "", "json", "sw1");
  ASSERT_TRUE(j.ok());
  json rows = json::parse(*j);
  ASSERT_EQ(rows.size(), 8u);
  EXPECT_EQ(rows[0]["sweep"], "sw1");
  EXPECT_EQ(rows[0]["metric"], "acc");
  auto csv = RenderResults(Rows(), "", "csv", "sw1");
  ASSERT_TRUE(csv.ok());
  EXPECT_EQ(std::count(csv->begin(), csv->end(), '\n'), 9);
  EXPECT_EQ(csv->substr(0, csv->find('\n')),
            "sweep,job_id,state,worker,attempt,model,method,bits,calibration,"
            "test,shots,seed,repeat,iid,metric,value");
}

TEST(RenderResults, TerminalAndLatexTablesAndMissingCells) {
  auto rows = Rows();
  rows[3].state = "pending";
  rows[3].metrics.clear();
  auto t = RenderResults(rows, "ppl", "table");
  ASSERT_TRUE(t.ok());
  EXPECT_NE(t->find("10†*"), std::string::npos) << *t;
  EXPECT_NE(t->find("…†"), std::string::npos) << *t;
  auto tex = RenderResults(rows, "ppl", "latex");
  ASSERT_TRUE(tex.ok());
  EXPECT_NE(tex->find("\\textbf{10$^\\dagger$}"), std::string::npos) << *tex;
  EXPECT_NE(tex->find("\\begin{tabular}{lrr}"), std::string::npos);
  EXPECT_FALSE(RenderResults(rows, "ppl", "html").ok());
}

TEST(RenderResults, DefaultMetricPrefersPerplexity) {
  EXPECT_EQ(DefaultMetric(Rows()), "ppl");
  EXPECT_TRUE(LowerIsBetter("ppl"));
  EXPECT_FALSE(LowerIsBetter("acc_norm"));
}

// A sweep like the built-in demo: perplexity tests and multiple-choice tests
// (acc and acc_norm), two calibration sets each.
std::vector<ResultRow> MixedRows() {
  auto row = [](int64_t id, const std::string& test, const std::string& cal,
                std::map<std::string, double> m) {
    ResultRow r = Row(id, test, cal, 0, 0);
    r.labels["iid"] = test.substr(0, test.find('_')) == cal;
    r.metrics = std::move(m);
    return r;
  };
  return {row(1, "wiki", "wiki", {{"ppl", 10}, {"perplexity", 10}}),
          row(2, "wiki", "c4", {{"ppl", 12}, {"perplexity", 12}}),
          row(3, "wiki_mc", "wiki", {{"acc", 0.30}, {"acc_norm", 0.40}}),
          row(4, "wiki_mc", "c4", {{"acc", 0.35}, {"acc_norm", 0.45}}),
          row(5, "qa", "wiki", {{"exact_match", 0.1}, {"f1", 0.2}}),
          row(6, "qa", "c4", {{"exact_match", 0.3}, {"f1", 0.1}}),
          row(7, "cls", "wiki", {{"acc", 0.7}}),
          row(8, "cls", "c4", {{"acc", 0.6}})};
}

TEST(RenderResults, EachTestSetUsesItsOwnMetricByDefault) {
  auto per = DefaultMetricPerTest(MixedRows());
  EXPECT_EQ(per["wiki"], "ppl");
  EXPECT_EQ(per["wiki_mc"], "acc_norm");
  EXPECT_EQ(per["qa"], "f1");
  EXPECT_EQ(per["cls"], "acc");
  auto md = RenderResults(MixedRows(), "", "markdown");
  ASSERT_TRUE(md.ok()) << md.status();
  EXPECT_NE(md->find("each test set with its own metric"), std::string::npos)
      << *md;
  // ppl: lower wins (the I.I.D wiki); acc_norm, f1, acc: higher wins.
  EXPECT_NE(md->find("| wiki (ppl ↓) | **10†** | 12 |"), std::string::npos)
      << *md;
  EXPECT_NE(md->find("| wiki_mc (acc_norm ↑) | 0.4† | **0.45** |"),
            std::string::npos)
      << *md;
  EXPECT_NE(md->find("| qa (f1 ↑) | **0.2** | 0.1 |"), std::string::npos)
      << *md;
  EXPECT_NE(md->find("| cls (acc ↑) | **0.7** | 0.6 |"), std::string::npos)
      << *md;
  // No "…" for tests that simply lack ppl.
  EXPECT_EQ(md->find("…"), std::string::npos) << *md;
  // One summary line per metric; gaps are not mixed across metrics.
  EXPECT_NE(md->find("best in 1 of 1 rows; mean OOD - I.I.D ppl gap: +2"),
            std::string::npos)
      << *md;
  EXPECT_NE(md->find("best in 0 of 1 rows; mean OOD - I.I.D acc_norm gap: "
                     "+0.05"),
            std::string::npos)
      << *md;
  auto tex = RenderResults(MixedRows(), "", "latex");
  ASSERT_TRUE(tex.ok());
  EXPECT_NE(tex->find("wiki\\_mc (acc\\_norm $\\uparrow$)"), std::string::npos)
      << *tex;
}

TEST(RenderResults, TiesAreAllBestAndAllEqualRowsHaveNoBest) {
  auto rows = MixedRows();
  rows[3].metrics["acc_norm"] = 0.40;  // wiki_mc: 0.40 and 0.40
  rows[1].metrics["ppl"] = 10;         // wiki: 10 and 10
  rows.push_back(rows[1]);             // a third calibration set, worse
  rows.back().job_id = 9;
  rows.back().labels["calibration"] = "pile";
  rows.back().metrics["ppl"] = 11;
  auto md = RenderResults(rows, "", "markdown");
  ASSERT_TRUE(md.ok());
  EXPECT_NE(md->find("| wiki (ppl ↓) | **10†** | **10** | 11 |"),
            std::string::npos)
      << *md;
  EXPECT_NE(md->find("| wiki_mc (acc_norm ↑) | 0.4† | 0.4 | "),
            std::string::npos)
      << *md;
  // A tie with the I.I.D cell counts as I.I.D best.
  EXPECT_NE(md->find("best in 1 of 1 rows; mean OOD - I.I.D ppl gap: +0.5"),
            std::string::npos)
      << *md;
  EXPECT_NE(md->find("best in 1 of 1 rows; mean OOD - I.I.D acc_norm gap: +0"),
            std::string::npos)
      << *md;
}

TEST(RenderResults, MetricFlagOverridesEveryRow) {
  auto md = RenderResults(MixedRows(), "acc", "markdown");
  ASSERT_TRUE(md.ok());
  EXPECT_NE(md->find("**acc (higher is better)**"), std::string::npos) << *md;
  EXPECT_NE(md->find("| wiki_mc | 0.3† | **0.35** |"), std::string::npos)
      << *md;
  // Rows without acc are shown as missing.
  EXPECT_NE(md->find("| wiki | …† | … |"), std::string::npos) << *md;
  // Tidy exports do not depend on the metric: every job x metric.
  auto csv = RenderResults(MixedRows(), "acc", "csv");
  ASSERT_TRUE(csv.ok());
  EXPECT_EQ(std::count(csv->begin(), csv->end(), '\n'), 1 + 14);
}

}  // namespace
}  // namespace qgrid::coordinator
