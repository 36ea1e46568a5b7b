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

}  // namespace
}  // namespace qgrid::coordinator
