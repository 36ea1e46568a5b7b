#include "report/figures.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "report/correlation.h"
#include "report/svg.h"

namespace qgrid::report {
namespace {

// Width of a label at 12 px in a sans font, generously (no font metrics).
double TextWidth(const std::string& s, double size = 12) {
  // UTF-8 continuation bytes do not start a glyph.
  int glyphs = 0;
  for (unsigned char c : s) glyphs += (c & 0xC0) != 0x80;
  return glyphs * size * 0.6;
}

double MaxTextWidth(const std::vector<std::string>& v, double size = 12) {
  double w = 0;
  for (const auto& s : v) w = std::max(w, TextWidth(s, size));
  return w;
}

// Maps [lo, hi] onto [a, b] (b < a for a y axis).
struct Scale {
  double lo, hi, a, b;
  double operator()(double v) const {
    if (hi == lo) return (a + b) / 2;
    return a + (v - lo) / (hi - lo) * (b - a);
  }
};

}  // namespace

std::vector<double> NiceTicks(double lo, double hi, int target) {
  if (!std::isfinite(lo) || !std::isfinite(hi)) return {};
  if (hi < lo) std::swap(lo, hi);
  if (hi == lo) return {lo};
  double raw = (hi - lo) / std::max(1, target);
  double mag = std::pow(10.0, std::floor(std::log10(raw)));
  double step = mag;
  for (double m : {1.0, 2.0, 5.0, 10.0}) {
    step = m * mag;
    if (step >= raw) break;
  }
  // Multiples of the step, rounded to its decimals (0.6, not 3 x 0.2).
  const double scale =
      std::pow(10.0, std::max(0.0, -std::floor(std::log10(step)) + 1));
  std::vector<double> ticks;
  const double first = std::ceil(lo / step - 1e-9);
  for (int k = 0;; ++k) {
    double t = (first + k) * step;
    if (t > hi + step * 1e-9 || k > 1000) break;
    t = std::round(t * scale) / scale;
    ticks.push_back(t == 0 ? 0.0 : t);
  }
  return ticks;
}

void FillCorrelations(ScatterFigure* f) {
  for (size_t s = 0; s < f->series.size(); ++s) {
    std::vector<double> x, y;
    for (const auto& p : f->points) {
      if (p.series == static_cast<int>(s)) {
        x.push_back(p.x);
        y.push_back(p.y);
      }
    }
    ScatterSeries& ser = f->series[s];
    auto r = PearsonCorrelation(x, y);
    auto rho = SpearmanCorrelation(x, y);
    ser.pearson.reset();
    ser.spearman.reset();
    ser.why_undefined.clear();
    if (r.ok()) ser.pearson = *r;
    if (rho.ok()) ser.spearman = *rho;
    if (!r.ok()) {
      ser.why_undefined = std::string(r.status().message());
    } else if (!rho.ok()) {
      ser.why_undefined = std::string(rho.status().message());
    }
  }
}

// ------------------------------------------------------------- heatmap

std::string RenderHeatmapSvg(const HeatmapFigure& f) {
  std::vector<std::string> row_labels;
  for (const auto& r : f.rows) {
    row_labels.push_back(absl::StrCat(
        r.test, " [", r.metric, r.lower_is_better ? " \u2193]" : " \u2191]"));
  }
  const double left = std::max(80.0, MaxTextWidth(row_labels) + 16);
  const double cell_w = std::max(76.0, MaxTextWidth(f.calibrations) + 14);
  const double cell_h = 30;
  const double top = 62;
  const int ncol = static_cast<int>(f.calibrations.size());
  const int nrow = static_cast<int>(f.rows.size());
  bool any_significance = false;
  for (const auto& r : f.rows) {
    for (const auto& c : r.cells) any_significance |= c.significant.has_value();
  }
  const std::string legend1 =
      "Colour per row (viridis): brightest = best in that row's "
      "direction (\u2191 higher, \u2193 lower is better). Black outline: "
      "I.I.D calibration.";
  const double width =
      std::max({left + ncol * cell_w + 20, TextWidth(f.title, 14) + 20,
                TextWidth(legend1, 11) + 20});
  const double legend_y = top + nrow * cell_h + 22;
  const double height = legend_y + 40;
  SvgWriter w(width, height, f.title);
  w.Text(10, 22, f.title, "start", 14, "#000", true);
  w.Text(left + ncol * cell_w / 2, 42, "calibration set", "middle", 11, "#333");
  for (int c = 0; c < ncol; ++c) {
    w.Text(left + (c + 0.5) * cell_w, top - 6, f.calibrations[c], "middle", 12);
  }
  for (int r = 0; r < nrow; ++r) {
    const HeatmapRow& row = f.rows[r];
    const double y = top + r * cell_h;
    w.Text(left - 8, y + cell_h / 2 + 4, row_labels[r], "end", 12);
    double lo = std::numeric_limits<double>::infinity(), hi = -lo;
    for (const auto& c : row.cells) {
      if (c.value && std::isfinite(*c.value)) {
        lo = std::min(lo, *c.value);
        hi = std::max(hi, *c.value);
      }
    }
    for (int c = 0; c < ncol && c < static_cast<int>(row.cells.size()); ++c) {
      const HeatmapCell& cell = row.cells[c];
      const double x = left + c * cell_w;
      std::string tip =
          absl::StrCat(row.test, " \u00d7 ", f.calibrations[c], ": ");
      if (cell.value && std::isfinite(*cell.value)) {
        // Brightest = best in this row's direction.
        double t = hi > lo ? (*cell.value - lo) / (hi - lo) : 0.5;
        if (row.lower_is_better) t = 1 - t;
        std::string fill = Viridis(t);
        absl::StrAppend(&tip, row.metric, " = ", FormatValue(*cell.value));
        if (cell.iid) absl::StrAppend(&tip, " (I.I.D)");
        if (cell.diff_ci_low && cell.diff_ci_high) {
          absl::StrAppend(&tip, "; \u0394 vs I.I.D 95% CI [",
                          FormatValue(*cell.diff_ci_low), ", ",
                          FormatValue(*cell.diff_ci_high), "]");
        }
        if (!cell.note.empty()) absl::StrAppend(&tip, "; ", cell.note);
        w.Rect(x, y, cell_w, cell_h, fill, "#fff", 1, tip, "cell");
        std::string label = FormatValue(*cell.value);
        if (cell.significant.value_or(false)) label += "*";
        w.Text(x + cell_w / 2, y + cell_h / 2 + 4, label, "middle", 12,
               TextColourOn(fill), cell.iid);
      } else {
        absl::StrAppend(&tip, cell.note.empty() ? "no result" : cell.note);
        w.Rect(x, y, cell_w, cell_h, "#e0e0e0", "#fff", 1, tip, "cell missing");
        w.Text(x + cell_w / 2, y + cell_h / 2 + 4,
               cell.note.rfind("failed", 0) == 0 ? "failed" : "n/a", "middle",
               11, "#555");
      }
      if (cell.iid) {
        w.Rect(x + 1.5, y + 1.5, cell_w - 3, cell_h - 3, "none", "#000", 3, "",
               "iid");
      }
    }
  }
  w.Text(10, legend_y, legend1, "start", 11, "#333");
  w.Text(10, legend_y + 16,
         any_significance
             ? "* : differs from the I.I.D cell (paired bootstrap 95% CI of "
               "the difference excludes 0)."
             : "Significance vs I.I.D: not computed for these results; "
               "differences may be noise.",
         "start", 11, "#333");
  return w.Finish();
}

// ---------------------------------------------------------------- bars

std::string RenderBarsSvg(const BarFigure& f) {
  constexpr double kBarW = 14, kGap = 18, kPlotH = 220, kTop = 56, kAxisW = 56,
                   kPanelGap = 30;
  double ymax = 0;
  size_t max_series = 0;
  std::vector<std::string> all_categories;
  for (const auto& p : f.panels) {
    max_series = std::max(max_series, p.series.size());
    all_categories.insert(all_categories.end(), p.categories.begin(),
                          p.categories.end());
    for (const auto& row : p.values) {
      for (const auto& v : row) {
        if (v.value && std::isfinite(*v.value)) ymax = std::max(ymax, *v.value);
        if (v.ci_high && std::isfinite(*v.ci_high)) {
          ymax = std::max(ymax, *v.ci_high);
        }
      }
    }
    for (const auto& r : p.reference) {
      if (r && std::isfinite(*r)) ymax = std::max(ymax, *r);
    }
  }
  if (ymax <= 0) ymax = 1;
  std::vector<double> ticks = NiceTicks(0, ymax, 5);
  if (!ticks.empty() && ticks.back() < ymax) {
    ticks.push_back(ticks.back() +
                    (ticks.size() > 1 ? ticks[1] - ticks[0] : 1));
  }
  const double yhi = ticks.empty() ? ymax : ticks.back();
  const double bottom_labels =
      std::min(160.0, MaxTextWidth(all_categories) * 0.71 + 24);
  std::vector<double> panel_x;
  // Category labels are rotated 45 degrees leftwards from their group's
  // centre: the first one needs room left of the first axis.
  double x = std::max(10.0, MaxTextWidth(all_categories, 11) * 0.71 - kAxisW);
  for (const auto& p : f.panels) {
    panel_x.push_back(x);
    double group_w = p.series.size() * kBarW + kGap;
    x +=
        kAxisW + std::max<double>(1, p.categories.size()) * group_w + kPanelGap;
  }
  // Legend: one swatch per series, the reference line.
  std::vector<std::string> legend;
  for (const auto& p : f.panels) {
    for (const auto& s : p.series) {
      if (std::find(legend.begin(), legend.end(), s) == legend.end()) {
        legend.push_back(s);
      }
    }
  }
  const double legend_x = x + 10;
  const double width = std::max({legend_x + MaxTextWidth(legend) + 60,
                                 TextWidth(f.title, 14) + 20, 420.0});
  const double height = std::max(kTop + kPlotH + bottom_labels + 20,
                                 kTop + 24.0 * (legend.size() + 2) + 20);
  SvgWriter w(width, height, f.title);
  w.Text(10, 22, f.title, "start", 14, "#000", true);
  const Scale sy{0, yhi, kTop + kPlotH, kTop};
  for (size_t pi = 0; pi < f.panels.size(); ++pi) {
    const BarPanel& p = f.panels[pi];
    const double ax = panel_x[pi] + kAxisW;
    const double group_w = p.series.size() * kBarW + kGap;
    const double plot_w = std::max<double>(1, p.categories.size()) * group_w;
    w.Text(ax + plot_w / 2, kTop - 10, p.title, "middle", 13, "#000", true);
    // Category bands (the paper shades task types).
    for (size_t c = 0; c < p.categories.size(); ++c) {
      if (c % 2 == 1) {
        w.Rect(ax + c * group_w, kTop, group_w, kPlotH, "#f2f2f2");
      }
    }
    for (double t : ticks) {
      w.Line(ax - 4, sy(t), ax + plot_w, sy(t), "#ccc", 0.5);
      w.Text(ax - 6, sy(t) + 4, FormatValue(t), "end", 10, "#333");
    }
    w.Line(ax, kTop, ax, kTop + kPlotH, "#000", 1);
    w.Line(ax, kTop + kPlotH, ax + plot_w, kTop + kPlotH, "#000", 1);
    w.Text(panel_x[pi] + 12, kTop + kPlotH / 2, f.y_label, "middle", 11, "#333",
           false, -90);
    for (size_t c = 0; c < p.categories.size(); ++c) {
      const double gx = ax + c * group_w + kGap / 2;
      for (size_t s = 0; s < p.series.size(); ++s) {
        const BarValue& v = c < p.values.size() && s < p.values[c].size()
                                ? p.values[c][s]
                                : BarValue{};
        const double bx = gx + s * kBarW;
        int colour = static_cast<int>(
            std::find(legend.begin(), legend.end(), p.series[s]) -
            legend.begin());
        if (!v.value || !std::isfinite(*v.value)) {
          w.Text(bx + kBarW / 2, kTop + kPlotH - 4, "n/a", "middle", 8, "#555",
                 false, -90);
          continue;
        }
        const double top = sy(std::clamp(*v.value, 0.0, yhi));
        w.Rect(bx, top, kBarW - 2, kTop + kPlotH - top,
               CategoricalColour(colour), "", 1,
               absl::StrCat(p.title, " \u00b7 ", p.categories[c], " \u00b7 ",
                            p.series[s], ": ", FormatValue(*v.value)),
               "bar");
        if (v.ci_low && v.ci_high) {
          const double cx = bx + (kBarW - 2) / 2;
          w.Line(cx, sy(*v.ci_low), cx, sy(*v.ci_high), "#000", 1);
        }
      }
      if (c < p.reference.size() && p.reference[c] &&
          std::isfinite(*p.reference[c])) {
        const double ry = sy(std::clamp(*p.reference[c], 0.0, yhi));
        w.Line(ax + c * group_w + 2, ry, ax + (c + 1) * group_w - 2, ry, "#000",
               1.5, "5 3", "reference");
      }
      w.Text(ax + (c + 0.5) * group_w, kTop + kPlotH + 14, p.categories[c],
             "end", 11, "#000", false, -45);
    }
  }
  double ly = kTop + 4;
  for (size_t s = 0; s < legend.size(); ++s, ly += 22) {
    w.Rect(legend_x, ly, 14, 14, CategoricalColour(static_cast<int>(s)));
    w.Text(legend_x + 20, ly + 12, legend[s], "start", 12);
  }
  w.Line(legend_x, ly + 7, legend_x + 14, ly + 7, "#000", 1.5, "5 3");
  w.Text(legend_x + 20, ly + 12, f.reference_label, "start", 12);
  return w.Finish();
}

// ------------------------------------------------------------- scatter

std::string RenderScatterSvg(const ScatterFigure& f) {
  constexpr double kLeft = 66, kTop = 44, kW = 420, kH = 300, kBottom = 56;
  double xlo = std::numeric_limits<double>::infinity(), xhi = -xlo;
  double ylo = xlo, yhi = -xlo;
  for (const auto& p : f.points) {
    if (!std::isfinite(p.x) || !std::isfinite(p.y)) continue;
    xlo = std::min(xlo, p.x);
    xhi = std::max(xhi, p.x);
    ylo = std::min(ylo, p.y);
    yhi = std::max(yhi, p.y);
  }
  if (!std::isfinite(xlo)) xlo = 0, xhi = 1, ylo = 0, yhi = 1;
  // 5% padding so points do not sit on the axes.
  auto pad = [](double* lo, double* hi) {
    double d = *hi - *lo;
    if (d == 0) d = *lo != 0 ? std::fabs(*lo) * 0.2 : 1.0;
    *lo -= d * 0.05;
    *hi += d * 0.05;
  };
  pad(&xlo, &xhi);
  pad(&ylo, &yhi);
  const Scale sx{xlo, xhi, kLeft, kLeft + kW};
  const Scale sy{ylo, yhi, kTop + kH, kTop};
  std::vector<std::string> legend;
  for (const auto& s : f.series) {
    std::string l = s.name + ": ";
    if (s.pearson && s.spearman) {
      absl::StrAppend(&l, "r = ", absl::StrFormat("%.2f", *s.pearson),
                      ", \u03c1 = ", absl::StrFormat("%.2f", *s.spearman));
    } else {
      absl::StrAppend(&l, "r, \u03c1 undefined (", s.why_undefined, ")");
    }
    legend.push_back(l);
  }
  const double legend_x = kLeft + kW + 24;
  const double width = std::max(legend_x + MaxTextWidth(legend, 11) + 40,
                                TextWidth(f.title, 14));
  const double height =
      std::max(kTop + kH + kBottom, kTop + 20.0 * (legend.size() + 1) + 20);
  SvgWriter w(width, height, f.title);
  w.Text(10, 22, f.title, "start", 14, "#000", true);
  for (double t : NiceTicks(xlo, xhi, 6)) {
    w.Line(sx(t), kTop, sx(t), kTop + kH + 4, "#ddd", 0.5);
    w.Text(sx(t), kTop + kH + 16, FormatValue(t), "middle", 10, "#333");
  }
  for (double t : NiceTicks(ylo, yhi, 5)) {
    w.Line(kLeft - 4, sy(t), kLeft + kW, sy(t), "#ddd", 0.5);
    w.Text(kLeft - 6, sy(t) + 4, FormatValue(t), "end", 10, "#333");
  }
  w.Rect(kLeft, kTop, kW, kH, "none", "#000", 1);
  w.Text(kLeft + kW / 2, kTop + kH + 38, f.x_label, "middle", 12);
  w.Text(16, kTop + kH / 2, f.y_label, "middle", 12, "#000", false, -90);
  for (const auto& p : f.points) {
    if (!std::isfinite(p.x) || !std::isfinite(p.y)) continue;
    std::string name = p.series >= 0 && p.series < (int)f.series.size()
                           ? f.series[p.series].name
                           : "";
    w.Circle(
        sx(p.x), sy(p.y), 4.5, CategoricalColour(p.series),
        absl::StrCat(p.label, " \u2014 ", name, ": ", f.x_label, " ",
                     FormatValue(p.x), ", ", f.y_label, " ", FormatValue(p.y)),
        "point");
  }
  double ly = kTop + 6;
  for (size_t s = 0; s < legend.size(); ++s, ly += 20) {
    w.Circle(legend_x + 6, ly, 5, CategoricalColour(static_cast<int>(s)));
    w.Text(legend_x + 16, ly + 4, legend[s], "start", 11);
  }
  w.Text(legend_x, ly + 10, "r: Pearson; \u03c1: Spearman (average ranks)",
         "start", 10, "#333");
  return w.Finish();
}

}  // namespace qgrid::report
