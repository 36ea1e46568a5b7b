// The figures of a qgrid report as standalone SVG documents, drawn from
// plain data structs (figure_data.h fills them from result rows):
//
//   - Heatmap: test sets (rows) x calibration sets (columns) for one
//     (model, method, bits, shots), the layout of arXiv 2406.12928's
//     Tables 2-4. Each row is coloured on its own scale (rows may mix
//     perplexity and accuracy), the best cell brightest (viridis), the
//     I.I.D cell outlined, cells whose difference from I.I.D is significant
//     marked with an asterisk (when the statistics provide it).
//   - Grouped bars: 2406.12928's Figure 2, one group per task category, one
//     bar per method x bits, the FP16 score as a dashed reference line per
//     category, one panel per shot count.
//   - Scatter: 2402.16775's perplexity against task accuracy across
//     quantized variants, one colour per accuracy task, with Pearson's r and
//     Spearman's rho per task in the legend.
//
// The optional fields (confidence intervals, significance) are filled by
// the statistics of issue 14 section 2 when they are available; without
// them the figures say "not computed" instead of implying a finding.
// Colours: Okabe-Ito and viridis (svg.h), both colour-blind safe.
// Pure functions; thread-safe.
#ifndef QGRID_REPORT_FIGURES_H_
#define QGRID_REPORT_FIGURES_H_

#include <optional>
#include <string>
#include <vector>

namespace qgrid::report {

// ---- heatmap

struct HeatmapCell {
  std::optional<double> value;  // nullopt: missing or failed (drawn hatched)
  bool iid = false;             // calibration set of the test's domain
  std::string note;             // shown in the tooltip (e.g. the error)
  // 95% CI of (this cell - I.I.D cell), and whether it excludes 0.
  std::optional<double> diff_ci_low, diff_ci_high;
  std::optional<bool> significant;
  // The results tables' best mark (not significantly worse than the row's
  // best cell; the exact best where no per-item scores are stored);
  // nullopt: not computed (the HTML table then marks the exact best).
  std::optional<bool> best;
};

struct HeatmapRow {
  std::string test;
  std::string metric;
  bool lower_is_better = false;
  std::vector<HeatmapCell> cells;  // one per HeatmapFigure::calibrations
};

struct HeatmapFigure {
  std::string title;
  std::vector<std::string> calibrations;
  std::vector<HeatmapRow> rows;
};

// ---- grouped bars (Figure 2)

struct BarValue {
  std::optional<double> value;            // nullopt: no result (no bar, "n/a")
  std::optional<double> ci_low, ci_high;  // drawn as an error bar
};

struct BarPanel {
  std::string title;  // "0-shot"
  std::vector<std::string> categories;
  std::vector<std::string> series;  // "gptq W4", one bar each per category
  std::vector<std::vector<BarValue>> values;     // [category][series]
  std::vector<std::optional<double>> reference;  // FP16, per category
};

struct BarFigure {
  std::string title;
  std::string y_label;
  std::string reference_label = "FP16";
  std::vector<BarPanel> panels;
};

// ---- scatter (perplexity vs accuracy)

struct ScatterPoint {
  double x = 0, y = 0;
  int series = 0;     // index into ScatterFigure::series
  std::string label;  // the variant, for the tooltip
};

struct ScatterSeries {
  std::string name;
  std::optional<double> pearson, spearman;  // FillCorrelations
  std::string why_undefined;                // when they are nullopt
};

struct ScatterFigure {
  std::string title, x_label, y_label;
  std::vector<ScatterSeries> series;
  std::vector<ScatterPoint> points;
};

// Pearson's r and Spearman's rho of each series' points (report/
// correlation.h); undefined ones get why_undefined.
void FillCorrelations(ScatterFigure* f);

// Tick values covering [lo, hi], about `target` of them, at 1/2/5 x 10^k.
std::vector<double> NiceTicks(double lo, double hi, int target = 5);

std::string RenderHeatmapSvg(const HeatmapFigure& f);
std::string RenderBarsSvg(const BarFigure& f);
std::string RenderScatterSvg(const ScatterFigure& f);

}  // namespace qgrid::report

#endif  // QGRID_REPORT_FIGURES_H_
