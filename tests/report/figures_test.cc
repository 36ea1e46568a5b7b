// The SVG figures parse as XML, escape their labels, and put values where
// the data says: heatmap colours follow each row's direction, bar heights
// are proportional to values, the FP16 line sits at its value, scatter
// points keep the order of their coordinates.
#include "report/figures.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "report/svg.h"
#include "tests/report/xml_check.h"

namespace qgrid::report {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using testing::ParseXml;
using testing::Select;
using testing::XmlElement;

std::vector<XmlElement> Parsed(const std::string& svg) {
  auto e = ParseXml(svg);
  EXPECT_TRUE(e.ok()) << e.status() << "\n" << svg;
  if (!e.ok()) return {};
  EXPECT_EQ((*e)[0].name, "svg");
  EXPECT_EQ((*e)[0].attrs.at("xmlns"), "http://www.w3.org/2000/svg");
  return *e;
}

HeatmapFigure TwoByThree() {
  HeatmapFigure f;
  f.title = "tiny | gptq W3 | 0-shot";
  f.calibrations = {"wiki", "c4", "a&b<c>"};
  HeatmapRow acc{"arc", "acc", false, {}};
  acc.cells.push_back({0.30, true});
  acc.cells.push_back({0.40, false});
  acc.cells.push_back({0.35, false});
  HeatmapRow ppl{"wiki", "ppl", true, {}};
  ppl.cells.push_back({150.0, true});
  ppl.cells.push_back({200.0, false});
  HeatmapCell failed;
  failed.note = "failed (dead)";
  ppl.cells.push_back(failed);
  f.rows = {acc, ppl};
  return f;
}

TEST(SvgText, EscapesMarkupInTextAndAttributes) {
  EXPECT_EQ(XmlEscape("a&b<c>\"d'"), "a&amp;b&lt;c&gt;&quot;d&#39;");
  SvgWriter w(100, 50, "R&D <fig>");
  w.Text(1, 2, "x < y & z > w");
  w.Rect(0, 0, 10, 10, "#fff", "", 1, "tip \"quoted\"");
  std::string svg = w.Finish();
  auto e = Parsed(svg);
  EXPECT_THAT(svg, HasSubstr("x &lt; y &amp; z &gt; w"));
  EXPECT_THAT(svg, HasSubstr("<title>R&amp;D &lt;fig&gt;</title>"));
  EXPECT_EQ(Select(e, "text").size(), 1u);
}

TEST(Palette, ViridisEndsAndReadableText) {
  EXPECT_EQ(Viridis(0), "#440154");
  EXPECT_EQ(Viridis(1), "#fde725");
  EXPECT_EQ(Viridis(2), "#fde725");  // clamped
  EXPECT_STREQ(TextColourOn("#440154"), "#fff");
  EXPECT_STREQ(TextColourOn("#fde725"), "#000");
  EXPECT_STRNE(CategoricalColour(0), CategoricalColour(1));
  EXPECT_STREQ(CategoricalColour(0), CategoricalColour(7));  // cycles
}

TEST(Heatmap, BestIsBrightestInEachRowsDirectionAndIidIsOutlined) {
  std::string svg = RenderHeatmapSvg(TwoByThree());
  auto e = Parsed(svg);
  auto cells = Select(e, "rect", "cell");
  ASSERT_EQ(cells.size(), 6u);
  // Row-major: arc (higher better): 0.40 brightest, 0.30 darkest.
  EXPECT_EQ(cells[1].attrs.at("fill"), "#fde725");
  EXPECT_EQ(cells[0].attrs.at("fill"), "#440154");
  // wiki (lower better): 150 brightest, 200 darkest; the failed cell grey.
  EXPECT_EQ(cells[3].attrs.at("fill"), "#fde725");
  EXPECT_EQ(cells[4].attrs.at("fill"), "#440154");
  EXPECT_TRUE(cells[5].HasClass("missing"));
  // Geometry: columns left to right, rows top to bottom, equal sizes.
  EXPECT_LT(cells[0].Num("x"), cells[1].Num("x"));
  EXPECT_LT(cells[1].Num("x"), cells[2].Num("x"));
  EXPECT_EQ(cells[0].Num("x"), cells[3].Num("x"));
  EXPECT_LT(cells[0].Num("y"), cells[3].Num("y"));
  // The I.I.D outline sits on the I.I.D cells (column 0 of both rows).
  auto iid = Select(e, "rect", "iid");
  ASSERT_EQ(iid.size(), 2u);
  EXPECT_NEAR(iid[0].Num("x"), cells[0].Num("x") + 1.5, 1e-9);
  EXPECT_NEAR(iid[1].Num("y"), cells[3].Num("y") + 1.5, 1e-9);
  EXPECT_EQ(iid[0].attrs.at("fill"), "none");
  // Labels escaped; the failed cell says so; no significance claimed.
  EXPECT_THAT(svg, HasSubstr(">a&amp;b&lt;c&gt;</text>"));
  EXPECT_THAT(svg, HasSubstr(">failed</text>"));
  EXPECT_THAT(svg, HasSubstr("not computed"));
  EXPECT_THAT(svg, Not(HasSubstr("0.4*")));
}

TEST(Heatmap, MarksSignificantCellsWhenStatisticsAreGiven) {
  HeatmapFigure f = TwoByThree();
  f.rows[0].cells[1].significant = true;
  f.rows[0].cells[1].diff_ci_low = 0.02;
  f.rows[0].cells[1].diff_ci_high = 0.18;
  f.rows[0].cells[2].significant = false;
  std::string svg = RenderHeatmapSvg(f);
  Parsed(svg);
  EXPECT_THAT(svg, HasSubstr(">0.4*</text>"));
  EXPECT_THAT(svg, HasSubstr(">0.35</text>"));
  EXPECT_THAT(svg, HasSubstr("95% CI [0.02, 0.18]"));
  EXPECT_THAT(svg, HasSubstr("CI of the difference excludes 0"));
}

BarFigure Fig2() {
  BarFigure f;
  f.title = "tiny: accuracy per category";
  f.y_label = "acc";
  for (const char* shots : {"0-shot", "5-shot"}) {
    BarPanel p;
    p.title = shots;
    p.categories = {"common sense reasoning", "NLI & <co>"};
    p.series = {"gptq W4", "spqr W4"};
    p.values = {{{0.5}, {0.25}}, {{0.6}, {}}};
    p.reference = {0.5, std::nullopt};
    f.panels.push_back(p);
  }
  return f;
}

TEST(Bars, HeightsAreProportionalAndTheReferenceLineSitsAtItsValue) {
  std::string svg = RenderBarsSvg(Fig2());
  auto e = Parsed(svg);
  auto bars = Select(e, "rect", "bar");
  // 2 panels x (2 + 1) bars; the missing one is "n/a".
  ASSERT_EQ(bars.size(), 6u);
  EXPECT_NEAR(bars[0].Num("height") / bars[1].Num("height"), 2.0, 0.02);
  EXPECT_NEAR(bars[2].Num("height") / bars[0].Num("height"), 1.2, 0.02);
  // All bars stand on one baseline.
  EXPECT_NEAR(bars[0].Num("y") + bars[0].Num("height"),
              bars[1].Num("y") + bars[1].Num("height"), 0.02);
  auto refs = Select(e, "line", "reference");
  ASSERT_EQ(refs.size(), 2u);  // one per panel (the second category has none)
  // FP16 0.5 = the top of the 0.5 bar.
  EXPECT_NEAR(refs[0].Num("y1"), bars[0].Num("y"), 0.02);
  // Second panel to the right of the first.
  EXPECT_GT(bars[3].Num("x"), bars[2].Num("x"));
  EXPECT_THAT(svg, HasSubstr("NLI &amp; &lt;co&gt;"));
  EXPECT_THAT(svg, HasSubstr(">n/a</text>"));
  EXPECT_THAT(svg, HasSubstr(">FP16</text>"));
  EXPECT_THAT(svg, HasSubstr(">5-shot</text>"));
}

TEST(Scatter, PointsKeepTheirOrderAndTheLegendGivesBothCorrelations) {
  ScatterFigure f;
  f.title = "ppl vs acc";
  f.x_label = "ppl";
  f.y_label = "acc";
  f.series = {{"arc (acc)"}, {"two points"}};
  const double xs[] = {1, 2, 3, 4, 5}, ys[] = {2, 4, 5, 4, 5};
  for (int i = 0; i < 5; ++i) f.points.push_back({xs[i], ys[i], 0, "v"});
  f.points.push_back({1, 1, 1, "a"});
  f.points.push_back({2, 2, 1, "b"});
  FillCorrelations(&f);
  ASSERT_TRUE(f.series[0].pearson.has_value());
  EXPECT_NEAR(*f.series[0].pearson, 0.7745966692, 1e-9);
  EXPECT_NEAR(*f.series[0].spearman, 0.7378647874, 1e-9);
  EXPECT_FALSE(f.series[1].pearson.has_value());
  std::string svg = RenderScatterSvg(f);
  auto e = Parsed(svg);
  auto pts = Select(e, "circle", "point");
  ASSERT_EQ(pts.size(), 7u);
  for (int i = 0; i + 1 < 5; ++i) {
    EXPECT_LT(pts[i].Num("cx"), pts[i + 1].Num("cx"));
  }
  // y = 4 and y = 5 are drawn higher (smaller cy) than y = 2.
  EXPECT_LT(pts[1].Num("cy"), pts[0].Num("cy"));
  EXPECT_EQ(pts[1].Num("cy"), pts[3].Num("cy"));
  EXPECT_THAT(svg, HasSubstr("arc (acc): r = 0.77, \u03c1 = 0.74"));
  EXPECT_THAT(svg, HasSubstr("two points: r, \u03c1 undefined"));
}

TEST(NiceTicks, CoverTheRangeAtRoundSteps) {
  EXPECT_EQ(NiceTicks(0, 1, 5),
            (std::vector<double>{0, 0.2, 0.4, 0.6, 0.8, 1}));
  EXPECT_EQ(NiceTicks(147, 212, 5), (std::vector<double>{160, 180, 200}));
  EXPECT_EQ(NiceTicks(0.28, 0.41, 4), (std::vector<double>{0.3, 0.35, 0.4}));
  EXPECT_EQ(NiceTicks(3, 3), (std::vector<double>{3}));
}

}  // namespace
}  // namespace qgrid::report
