// The paper-layout result tables and the tidy exports.
#include "coordinator/results_table.h"

#include <gtest/gtest.h>

#include "coordinator/stats.h"

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
            "test,shots,seed,repeat,iid,metric,value,n,stderr,diff_vs_iid,"
            "ci_low,ci_high,significant,best,recovery,flip_rate");
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

// Multiple choice with per-item scores: I.I.D (wiki) 30 of 50 right; c4
// loses 10 of those (significantly worse); pile loses one (a tie); FP16
// gets 35.
std::string Bits(int ones_from, int ones_to, int n) {
  std::string s(n, '0');
  for (int i = ones_from; i < ones_to; ++i) s[i] = '1';
  return s;
}
std::vector<ResultRow> ItemRows() {
  auto row = [](int64_t id, const std::string& method, const std::string& cal,
                const std::string& bits) {
    ResultRow r = Row(id, "wiki_mc", cal, 0, 0);
    r.labels["method"] = method;
    r.labels["iid"] = cal == "wiki";
    auto s = ParseItemScores(bits, "t");
    r.metrics = {{"acc", s->Value()}};
    r.items = {{"acc", bits}};
    return r;
  };
  std::string iid = Bits(0, 30, 50), c4 = Bits(10, 30, 50),
              pile = Bits(1, 30, 50), fp16 = Bits(0, 35, 50);
  ResultRow base = row(4, "fp16", "-", fp16);
  base.labels["bits"] = 16;
  return {row(1, "gptq", "wiki", iid), row(2, "gptq", "c4", c4),
          row(3, "gptq", "pile", pile), base};
}

TEST(RenderResultsStats, StderrDiffCiBestAndSummaryFromItems) {
  auto md = RenderResults(ItemRows(), "", "markdown");
  ASSERT_TRUE(md.ok()) << md.status();
  // stderr of 0.6 over 50: sqrt(0.6 * 0.4 * 50 / 49 / 50) = 0.070; of 0.4 the
  // same; of 0.58: 0.071. Best: the I.I.D cell and pile (not significantly
  // worse), not c4.
  EXPECT_NE(md->find("| wiki_mc n=50 | **0.6 ± 0.07†** | 0.4 ± 0.07 | "
                     "**0.58 ± 0.071** |"),
            std::string::npos)
      << *md;
  // c4 - I.I.D = -0.2, every resample negative; pile -0.02, its CI [-0.06,
  // 0] touches 0 (a 1-item difference).
  EXPECT_NE(md->find("|   Δ vs I.I.D [95% CI] | ref | -0.2 ["),
            std::string::npos)
      << *md;
  EXPECT_NE(md->find("]‡ | -0.02 [-0.06, +0] |"), std::string::npos) << *md;
  // Against FP16 (0.7): recovery 0.6 / 0.7 = 85.7%, 5 of 50 items flipped.
  EXPECT_NE(md->find("|   recovery / flips vs FP16 | 85.7% / 10.0% | 57.1% / "
                     "30.0% | 82.9% / 12.0% |"),
            std::string::npos)
      << *md;
  EXPECT_NE(md->find("I.I.D significantly best in 0, another calibration set "
                     "significantly better in 0, ties within noise in 1"),
            std::string::npos)
      << *md;
  auto tex = RenderResults(ItemRows(), "", "latex");
  ASSERT_TRUE(tex.ok());
  EXPECT_NE(
      tex->find("\\cellcolor{gray!20}\\textbf{0.6 $\\pm$ 0.07$^\\dagger$}"),
      std::string::npos)
      << *tex;
  EXPECT_NE(tex->find("$^\\ddagger$"), std::string::npos) << *tex;
  // The legend is LaTeX too (a comment, but no stray Unicode).
  EXPECT_NE(tex->find("value $\\pm$ standard error"), std::string::npos)
      << *tex;
}

TEST(RenderResultsStats, TidyRowsCarryTheIntervalsOfARecomputation) {
  std::vector<ResultRow> rows = ItemRows();
  auto j = RenderResults(rows, "", "json", "sw");
  ASSERT_TRUE(j.ok()) << j.status();
  json tidy = json::parse(*j);
  ASSERT_EQ(tidy.size(), 4u);
  // Recompute c4 vs I.I.D by hand with the same resamples and seed.
  std::vector<const ItemScores*> cells;
  auto iid = *ParseItemScores(rows[0].items["acc"], "iid");
  auto c4 = *ParseItemScores(rows[1].items["acc"], "c4");
  auto pile = *ParseItemScores(rows[2].items["acc"], "pile");
  auto boot =
      *BootstrapValues({&iid, &c4, &pile}, kBootstrapResamples, kBootstrapSeed);
  PairedDiff d = DiffInterval(iid, boot[0], c4, boot[1]);
  EXPECT_EQ(tidy[1]["job_id"], 2);
  EXPECT_EQ(tidy[1]["n"], 50);
  EXPECT_DOUBLE_EQ(tidy[1]["stderr"].get<double>(), Stderr(c4));
  EXPECT_DOUBLE_EQ(tidy[1]["diff_vs_iid"].get<double>(), -0.2);
  EXPECT_DOUBLE_EQ(tidy[1]["ci_low"].get<double>(), d.ci_low);
  EXPECT_DOUBLE_EQ(tidy[1]["ci_high"].get<double>(), d.ci_high);
  EXPECT_EQ(tidy[1]["significant"], true);
  EXPECT_EQ(tidy[1]["best"], false);
  EXPECT_EQ(tidy[2]["significant"], false);
  EXPECT_EQ(tidy[2]["best"], true);
  EXPECT_TRUE(tidy[0]["diff_vs_iid"].is_null());  // the I.I.D cell itself
  EXPECT_NEAR(tidy[0]["recovery"].get<double>(), 0.6 / 0.7 * 100, 1e-9);
  EXPECT_DOUBLE_EQ(tidy[0]["flip_rate"].get<double>(), 0.1);
  auto csv = RenderResults(rows, "", "csv", "sw");
  ASSERT_TRUE(csv.ok());
  EXPECT_NE(csv->find(",acc,0.4,50,"), std::string::npos) << *csv;
}

TEST(RenderResultsStats, PerplexityCellsResampleWindows) {
  auto row = [](int64_t id, const std::string& cal, std::vector<double> nll) {
    ResultRow r = Row(id, "wiki", cal, 0, 0);
    json items = {{"nll", nll}, {"den", 127}, {"agg", "exp"}};
    r.items = {{"perplexity", items}};
    r.metrics = {{"ppl", ParseItemScores(items, "t")->Value()}};
    return r;
  };
  // c4 is worse on every one of 8 windows: significant; ppl ~ e^5.
  std::vector<double> a = {635, 640, 630, 645, 632, 638, 641, 636}, b = a;
  for (double& v : b) v += 4;
  auto md = RenderResults({row(1, "wiki", a), row(2, "c4", b)}, "", "markdown");
  ASSERT_TRUE(md.ok()) << md.status();
  EXPECT_NE(md->find("| wiki n=8 | **"), std::string::npos) << *md;
  EXPECT_NE(md->find("]‡ |"), std::string::npos) << *md;
  EXPECT_NE(md->find("I.I.D significantly best in 1,"), std::string::npos)
      << *md;
}

TEST(RenderResultsStats, OldResultsWithoutItemsSayNa) {
  auto md = RenderResults(Rows(), "ppl", "markdown");
  ASSERT_TRUE(md.ok()) << md.status();
  EXPECT_NE(md->find("|   Δ vs I.I.D [95% CI] | ref | n/a |"),
            std::string::npos)
      << *md;
  EXPECT_NE(md->find("n/a (no per-item scores, or under 2 items) in 2"),
            std::string::npos)
      << *md;
  // Some cells with items, some without: the row is n/a, never a crash.
  auto rows = ItemRows();
  rows[2].items = nullptr;
  auto t = RenderResults(rows, "", "table");
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_NE(t->find("n/a"), std::string::npos) << *t;
  auto j = RenderResults(Rows(), "", "json");
  ASSERT_TRUE(j.ok());
  EXPECT_TRUE(json::parse(*j)[0]["ci_low"].is_null());
}

TEST(RenderResultsStats, CorruptItemsAreAnErrorNamingTheJob) {
  auto rows = ItemRows();
  rows[1].items["acc"] = "01x";
  auto md = RenderResults(rows, "", "markdown");
  ASSERT_FALSE(md.ok());
  EXPECT_NE(md.status().message().find("job 2: eval_json items.acc"),
            std::string::npos)
      << md.status();
}

}  // namespace
}  // namespace qgrid::coordinator
