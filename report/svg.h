// A small SVG/HTML text builder for qgrid's figures: escaping of text and
// attribute values, number formatting, and the colour-blind-safe palettes
// (Okabe & Ito 2008 for categories; samples of matplotlib's viridis for
// sequential scales; both stay distinguishable under the common colour
// vision deficiencies). Output is standalone SVG 1.1 (xmlns set, no
// external references) that renders the same inline in HTML or as a file.
// Pure functions; thread-safe.
#ifndef QGRID_REPORT_SVG_H_
#define QGRID_REPORT_SVG_H_

#include <string>
#include <string_view>

namespace qgrid::report {

// & < > " ' as XML entities (valid in text and attribute values alike).
std::string XmlEscape(std::string_view s);

// A coordinate or length: at most 2 decimals, no trailing zeros ("12.5").
std::string Num(double v);

// A metric value for labels: 4 significant digits ("0.3125", "153.9").
std::string FormatValue(double v);

// The i-th Okabe-Ito colour (cycles through the 7 that are not black).
const char* CategoricalColour(int i);

// viridis at t in [0, 1] (clamped), "#rrggbb", interpolated between
// 9 samples of the published colour map.
std::string Viridis(double t);

// Black or white, whichever reads better on the given "#rrggbb".
const char* TextColourOn(const std::string& hex_background);

// Accumulates one SVG document.
class SvgWriter {
 public:
  SvgWriter(double width, double height, std::string_view title);
  // Raw markup (already escaped by the caller).
  void Raw(std::string_view markup) { body_ += markup; }
  // <rect> with fill; `stroke` "" = none. `tooltip` becomes a <title>.
  void Rect(double x, double y, double w, double h, std::string_view fill,
            std::string_view stroke = "", double stroke_width = 1,
            std::string_view tooltip = "", std::string_view css_class = "");
  void Line(double x1, double y1, double x2, double y2, std::string_view stroke,
            double width = 1, std::string_view dash = "",
            std::string_view css_class = "");
  void Circle(double cx, double cy, double r, std::string_view fill,
              std::string_view tooltip = "", std::string_view css_class = "");
  // anchor: start | middle | end. `rotate` degrees about (x, y).
  void Text(double x, double y, std::string_view text,
            std::string_view anchor = "start", double size = 12,
            std::string_view fill = "#000", bool bold = false,
            double rotate = 0);
  // The closed document.
  std::string Finish() const;

 private:
  double width_, height_;
  std::string title_;
  std::string body_;
};

}  // namespace qgrid::report

#endif  // QGRID_REPORT_SVG_H_
