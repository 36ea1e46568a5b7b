// Result rows -> figure data: which blocks get heatmaps, Figure 2's
// categories and FP16 reference, the perplexity-vs-accuracy points.
#include "report/figure_data.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace qgrid::report {
namespace {

using coordinator::ResultRow;
using json = nlohmann::json;

ResultRow Row(const std::string& method, int bits, const std::string& cal,
              const std::string& test, int shots, const std::string& metric,
              double v, const std::string& state = "done") {
  ResultRow r;
  static int64_t id = 0;
  r.job_id = ++id;
  r.labels = {{"model", "tiny"},    {"method", method}, {"bits", bits},
              {"calibration", cal}, {"test", test},     {"shots", shots},
              {"seed", 42},         {"repeat", 0},      {"iid", cal == test}};
  r.state = state;
  if (state == "done") r.metrics[metric] = v;
  return r;
}

// fp16 and gptq W3 (calibrated on wiki and arc_easy) on a perplexity test
// and an accuracy test at 0 shots; one gptq cell dead.
std::vector<ResultRow> Sweep() {
  return {
      Row("fp16", 16, "-", "wiki", 0, "word_perplexity", 100),
      Row("fp16", 16, "-", "arc_easy", 0, "acc", 0.50),
      Row("gptq", 3, "wiki", "wiki", 0, "word_perplexity", 120),
      Row("gptq", 3, "arc_easy", "wiki", 0, "word_perplexity", 130),
      Row("gptq", 3, "wiki", "arc_easy", 0, "acc", 0.44),
      Row("gptq", 3, "arc_easy", "arc_easy", 0, "acc", 0.40, "dead"),
      Row("rtn", 3, "-", "wiki", 0, "word_perplexity", 150),
      Row("rtn", 3, "-", "arc_easy", 0, "acc", 0.30),
  };
}

TEST(FigureData, HeatmapsOnlyForCalibratedBlocksWithMissingCellsKept) {
  auto h = HeatmapsOf(Sweep());
  ASSERT_EQ(h.size(), 1u);
  EXPECT_EQ(h[0].title, "tiny | gptq W3 | 0-shot");
  EXPECT_EQ(h[0].calibrations, (std::vector<std::string>{"wiki", "arc_easy"}));
  ASSERT_EQ(h[0].rows.size(), 2u);
  EXPECT_EQ(h[0].rows[0].test, "wiki");
  EXPECT_EQ(h[0].rows[0].metric, "word_perplexity");
  EXPECT_TRUE(h[0].rows[0].lower_is_better);
  EXPECT_TRUE(h[0].rows[0].cells[0].iid);
  EXPECT_DOUBLE_EQ(*h[0].rows[0].cells[1].value, 130);
  EXPECT_FALSE(h[0].rows[1].cells[1].value.has_value());
  EXPECT_EQ(h[0].rows[1].cells[1].note, "failed (dead)");
  EXPECT_TRUE(h[0].rows[1].cells[1].iid);
  // Every block is a table.
  EXPECT_EQ(ResultGridsOf(Sweep()).size(), 3u);
}

// With per-item scores, the heatmap's cells carry the tables' paired
// bootstrap CI against the I.I.D cell (coordinator::CellStatsByJob): the
// same figures as `qgrid results`. I.I.D 30 of 50 right; c4 20 of them (10
// items lost: significantly worse); pile 29 (one item: a tie).
TEST(FigureData, HeatmapCellsCarryTheTablesCiAgainstIid) {
  auto bits = [](int from, int to) {
    std::string s(50, '0');
    for (int i = from; i < to; ++i) s[i] = '1';
    return s;
  };
  auto row = [&](const std::string& cal, const std::string& b) {
    ResultRow r = Row("gptq", 3, cal, "wiki", 0, "acc", 0);
    int ones = 0;
    for (char ch : b) ones += ch == '1';
    r.metrics["acc"] = ones / 50.0;
    r.items = {{"acc", b}};
    return r;
  };
  std::vector<ResultRow> rows = {row("wiki", bits(0, 30)),
                                 row("c4", bits(10, 30)),
                                 row("pile", bits(1, 30))};
  auto h = HeatmapsOf(rows);
  ASSERT_EQ(h.size(), 1u);
  ASSERT_EQ(h[0].rows.size(), 1u);
  const auto& cells = h[0].rows[0].cells;
  ASSERT_EQ(cells.size(), 3u);
  EXPECT_FALSE(cells[0].significant.has_value());  // the I.I.D cell itself
  ASSERT_TRUE(cells[1].significant.has_value());
  EXPECT_TRUE(*cells[1].significant);
  EXPECT_LT(*cells[1].diff_ci_high, 0);
  EXPECT_LE(*cells[1].diff_ci_low, -0.2);
  ASSERT_TRUE(cells[2].significant.has_value());
  EXPECT_FALSE(*cells[2].significant);
  // Best marks as the tables': I.I.D and the tie (pile), not c4.
  EXPECT_EQ(cells[0].best, std::optional<bool>(true));
  EXPECT_EQ(cells[1].best, std::optional<bool>(false));
  EXPECT_EQ(cells[2].best, std::optional<bool>(true));
  auto stats = coordinator::CellStatsByJob(rows, {});
  ASSERT_TRUE(stats.ok()) << stats.status();
  EXPECT_DOUBLE_EQ(*cells[1].diff_ci_low,
                   stats->at(rows[1].job_id)["ci_low"].get<double>());
  // Without items: no slots filled (the figure says "not computed").
  rows[1].items = nullptr;
  auto none = HeatmapsOf(rows);
  EXPECT_FALSE(none[0].rows[0].cells[1].significant.has_value());
}

TEST(FigureData, Figure2GroupsTasksByThePapersCategoriesWithFp16Reference) {
  EXPECT_EQ(TaskCategory("arc_easy"), "scientific knowledge QA");
  EXPECT_EQ(TaskCategory("blimp_anaphor_gender_agreement"), "syntax phenomena");
  EXPECT_EQ(TaskCategory("mutual_plus"), "multi-turn dialogue reasoning");
  EXPECT_EQ(TaskCategory("demo_quotes_mc"), "");
  auto f = Figure2Of(Sweep(), {});
  ASSERT_EQ(f.size(), 1u);
  ASSERT_EQ(f[0].panels.size(), 1u);
  const BarPanel& p = f[0].panels[0];
  EXPECT_EQ(p.title, "0-shot");
  // Perplexity tests are not in Figure 2.
  EXPECT_EQ(p.categories,
            (std::vector<std::string>{"scientific knowledge QA"}));
  EXPECT_EQ(p.series, (std::vector<std::string>{"gptq W3", "rtn W3"}));
  // gptq: the mean over calibration sets with a result (the dead one is not
  // a zero).
  EXPECT_DOUBLE_EQ(*p.values[0][0].value, 0.44);
  EXPECT_DOUBLE_EQ(*p.values[0][1].value, 0.30);
  EXPECT_DOUBLE_EQ(*p.reference[0], 0.50);
  EXPECT_EQ(f[0].y_label, "acc");
  // A category given for a test wins over the built-in one.
  auto g = Figure2Of(Sweep(), {{"arc_easy", "science"}});
  EXPECT_EQ(g[0].panels[0].categories, (std::vector<std::string>{"science"}));
}

TEST(FigureData, PerplexityVsAccuracyPairsEachVariantsTwoScores) {
  auto s = PerplexityVsAccuracyOf(Sweep());
  ASSERT_EQ(s.size(), 1u);
  ASSERT_EQ(s[0].series.size(), 1u);
  EXPECT_EQ(s[0].series[0].name, "arc_easy (acc)");
  // fp16 (100, 0.5), gptq/wiki (120, 0.44), rtn (150, 0.30); gptq/arc_easy
  // has no accuracy (dead).
  ASSERT_EQ(s[0].points.size(), 3u);
  std::map<double, double> xy;
  for (const auto& p : s[0].points) xy[p.x] = p.y;
  EXPECT_EQ(xy,
            (std::map<double, double>{{100, 0.5}, {120, 0.44}, {150, 0.3}}));
  // Monotone decreasing: rho = -1.
  ASSERT_TRUE(s[0].series[0].spearman.has_value());
  EXPECT_DOUBLE_EQ(*s[0].series[0].spearman, -1.0);
  EXPECT_LT(*s[0].series[0].pearson, -0.95);
}

}  // namespace
}  // namespace qgrid::report
