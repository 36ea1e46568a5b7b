#include "report/svg.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace qgrid::report {

std::string XmlEscape(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

std::string Num(double v) {
  if (!std::isfinite(v)) return "0";
  std::string s = absl::StrFormat("%.2f", v);
  while (!s.empty() && s.back() == '0') s.pop_back();
  if (!s.empty() && s.back() == '.') s.pop_back();
  if (s == "-0") s = "0";
  return s;
}

std::string FormatValue(double v) {
  if (std::isnan(v)) return "nan";
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  return absl::StrFormat("%.4g", v);
}

const char* CategoricalColour(int i) {
  // Okabe & Ito, "Color Universal Design" (2008), without black.
  static const char* kColours[] = {"#E69F00", "#56B4E9", "#009E73", "#F0E442",
                                   "#0072B2", "#D55E00", "#CC79A7"};
  constexpr int n = sizeof(kColours) / sizeof(kColours[0]);
  return kColours[((i % n) + n) % n];
}

namespace {

struct Rgb {
  int r, g, b;
};

Rgb ParseHex(const std::string& hex) {
  if (hex.size() != 7 || hex[0] != '#') return {255, 255, 255};
  long v = std::strtol(hex.c_str() + 1, nullptr, 16);
  return {static_cast<int>((v >> 16) & 255), static_cast<int>((v >> 8) & 255),
          static_cast<int>(v & 255)};
}

}  // namespace

std::string Viridis(double t) {
  // matplotlib's viridis at 0, 1/8, ..., 1.
  static const Rgb kStops[] = {{68, 1, 84},    {71, 44, 122},  {59, 81, 139},
                               {44, 113, 142}, {33, 144, 141}, {39, 173, 129},
                               {92, 200, 99},  {170, 220, 50}, {253, 231, 37}};
  constexpr int n = sizeof(kStops) / sizeof(kStops[0]);
  if (!std::isfinite(t)) t = 0;
  t = std::clamp(t, 0.0, 1.0) * (n - 1);
  int i = std::min(static_cast<int>(t), n - 2);
  double f = t - i;
  auto mix = [f](int a, int b) {
    return static_cast<int>(std::lround(a + (b - a) * f));
  };
  return absl::StrFormat("#%02x%02x%02x", mix(kStops[i].r, kStops[i + 1].r),
                         mix(kStops[i].g, kStops[i + 1].g),
                         mix(kStops[i].b, kStops[i + 1].b));
}

const char* TextColourOn(const std::string& hex_background) {
  Rgb c = ParseHex(hex_background);
  // Relative luminance, ITU-R BT.709 weights on the gamma-encoded values
  // (close enough to choose between black and white).
  double y = 0.2126 * c.r + 0.7152 * c.g + 0.0722 * c.b;
  return y > 140 ? "#000" : "#fff";
}

SvgWriter::SvgWriter(double width, double height, std::string_view title)
    : width_(width), height_(height), title_(title) {}

void SvgWriter::Rect(double x, double y, double w, double h,
                     std::string_view fill, std::string_view stroke,
                     double stroke_width, std::string_view tooltip,
                     std::string_view css_class) {
  absl::StrAppend(&body_, "<rect x=\"", Num(x), "\" y=\"", Num(y),
                  "\" width=\"", Num(std::max(0.0, w)), "\" height=\"",
                  Num(std::max(0.0, h)), "\" fill=\"", XmlEscape(fill), "\"");
  if (!stroke.empty()) {
    absl::StrAppend(&body_, " stroke=\"", XmlEscape(stroke),
                    "\" stroke-width=\"", Num(stroke_width), "\"");
  }
  if (!css_class.empty()) {
    absl::StrAppend(&body_, " class=\"", XmlEscape(css_class), "\"");
  }
  if (tooltip.empty()) {
    body_ += "/>\n";
  } else {
    absl::StrAppend(&body_, "><title>", XmlEscape(tooltip),
                    "</title></rect>\n");
  }
}

void SvgWriter::Line(double x1, double y1, double x2, double y2,
                     std::string_view stroke, double width,
                     std::string_view dash, std::string_view css_class) {
  absl::StrAppend(&body_, "<line x1=\"", Num(x1), "\" y1=\"", Num(y1),
                  "\" x2=\"", Num(x2), "\" y2=\"", Num(y2), "\" stroke=\"",
                  XmlEscape(stroke), "\" stroke-width=\"", Num(width), "\"");
  if (!dash.empty()) {
    absl::StrAppend(&body_, " stroke-dasharray=\"", XmlEscape(dash), "\"");
  }
  if (!css_class.empty()) {
    absl::StrAppend(&body_, " class=\"", XmlEscape(css_class), "\"");
  }
  body_ += "/>\n";
}

void SvgWriter::Circle(double cx, double cy, double r, std::string_view fill,
                       std::string_view tooltip, std::string_view css_class) {
  absl::StrAppend(&body_, "<circle cx=\"", Num(cx), "\" cy=\"", Num(cy),
                  "\" r=\"", Num(r), "\" fill=\"", XmlEscape(fill),
                  "\" stroke=\"#000\" stroke-width=\"0.5\"");
  if (!css_class.empty()) {
    absl::StrAppend(&body_, " class=\"", XmlEscape(css_class), "\"");
  }
  if (tooltip.empty()) {
    body_ += "/>\n";
  } else {
    absl::StrAppend(&body_, "><title>", XmlEscape(tooltip),
                    "</title></circle>\n");
  }
}

void SvgWriter::Text(double x, double y, std::string_view text,
                     std::string_view anchor, double size,
                     std::string_view fill, bool bold, double rotate) {
  absl::StrAppend(&body_, "<text x=\"", Num(x), "\" y=\"", Num(y),
                  "\" font-size=\"", Num(size), "\" text-anchor=\"",
                  XmlEscape(anchor), "\" fill=\"", XmlEscape(fill), "\"");
  if (bold) body_ += " font-weight=\"bold\"";
  if (rotate != 0) {
    absl::StrAppend(&body_, " transform=\"rotate(", Num(rotate), " ", Num(x),
                    " ", Num(y), ")\"");
  }
  absl::StrAppend(&body_, ">", XmlEscape(text), "</text>\n");
}

std::string SvgWriter::Finish() const {
  return absl::StrCat(
      "<svg xmlns=\"http://www.w3.org/2000/svg\" version=\"1.1\" width=\"",
      Num(width_), "\" height=\"", Num(height_), "\" viewBox=\"0 0 ",
      Num(width_), " ", Num(height_),
      "\" font-family=\"DejaVu Sans, Helvetica, Arial, sans-serif\" "
      "role=\"img\">\n<title>",
      XmlEscape(title_), "</title>\n<rect x=\"0\" y=\"0\" width=\"",
      Num(width_), "\" height=\"", Num(height_),
      "\" fill=\"#fff\" class=\"background\"/>\n", body_, "</svg>\n");
}

}  // namespace qgrid::report
