#include "report/html_report.h"

#include <algorithm>
#include <cmath>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "nlohmann/json.hpp"
#include "report/figure_data.h"
#include "report/figures.h"
#include "report/svg.h"

namespace qgrid::report {
namespace {

using json = nlohmann::json;
constexpr const char* kNotRecorded = "<span class=\"nr\">not recorded</span>";

std::string H(const std::string& s) { return XmlEscape(s); }

std::string Label(const json& l, const char* key) {
  if (!l.is_object() || !l.contains(key)) return "";
  const json& v = l[key];
  return v.is_string() ? v.get<std::string>() : v.dump();
}

json Parse(const std::string& s) {
  if (s.empty()) return json::object();
  json j = json::parse(s, nullptr, false);
  return j.is_discarded() ? json::object() : j;
}

// j[k0][k1]... or null.
const json* At(const json& j, std::initializer_list<const char*> keys) {
  const json* cur = &j;
  for (const char* k : keys) {
    if (!cur->is_object() || !cur->contains(k)) return nullptr;
    cur = &(*cur)[k];
  }
  return cur;
}

std::string Text(const json* v) {
  if (!v || v->is_null()) return "";
  return v->is_string() ? v->get<std::string>() : v->dump();
}

// An escaped value, or "not recorded".
std::string OrNr(const std::string& s) {
  return s.empty() ? kNotRecorded : H(s);
}

std::string UtcTime(int64_t unix_ms) {
  if (unix_ms <= 0) return "";
  std::time_t t = static_cast<std::time_t>(unix_ms / 1000);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof(buf), "%Y-%m-%d %H:%M:%S UTC", &tm);
  return buf;
}

std::string FileSafe(const std::string& s) {
  std::string out;
  for (char c : s) {
    out += (std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_')
               ? c
               : '_';
  }
  return out.substr(0, 60);
}

std::string CellName(const ReportCell& c) {
  const json& l = c.row.labels;
  std::string cal = Label(l, "calibration");
  return absl::StrCat(
      Label(l, "model"), " | ",
      VariantName(Label(l, "method"), Label(l, "bits")), " | ",
      cal.empty() || cal == "-" ? "no calibration" : "calibration " + cal,
      " | test ", Label(l, "test"), " | ", Label(l, "shots"), "-shot");
}

constexpr const char* kCss = R"(
body{font-family:"DejaVu Sans",Helvetica,Arial,sans-serif;margin:24px;color:#111;max-width:1400px}
h1{font-size:22px}h2{font-size:18px;border-bottom:1px solid #ccc;padding-bottom:4px;margin-top:32px}
h3{font-size:15px;margin:18px 0 6px}
table{border-collapse:collapse;margin:6px 0 14px;font-size:13px}
th,td{border:1px solid #ccc;padding:3px 7px;text-align:right;vertical-align:top}
th{background:#f0f0f0}td.l,th.l{text-align:left}
td.iid{background:#e8e8e8}td.best{font-weight:bold}td.missing{color:#a00}
.nr{color:#888;font-style:italic}pre{background:#f7f7f7;border:1px solid #ddd;padding:8px;overflow:auto;font-size:12px}
figure{margin:12px 0 22px}figcaption{font-size:12px;color:#333;max-width:900px}
table.prov td{font-size:11px;white-space:nowrap}.counts td{text-align:left}
nav a{margin-right:14px}
)";

// One result table (a block) in the paper's layout: dagger on the I.I.D
// cell, best bold (ties all bold; none when the row is all equal).
std::string HtmlTable(const HeatmapFigure& f) {
  std::string out =
      absl::StrCat("<table class=\"results\"><caption>", H(f.title),
                   "</caption>\n<tr><th class=\"l\">"
                   "test set (metric)</th>");
  for (const auto& c : f.calibrations) {
    absl::StrAppend(&out, "<th>", H(c == "-" ? "no calibration" : c), "</th>");
  }
  out += "</tr>\n";
  for (const HeatmapRow& r : f.rows) {
    bool any = false, all_equal = true;
    double best = 0;
    for (const auto& c : r.cells) {
      if (!c.value) continue;
      if (any && *c.value != best) all_equal = false;
      if (!any || (r.lower_is_better ? *c.value < best : *c.value > best)) {
        best = *c.value;
      }
      any = true;
    }
    absl::StrAppend(&out, "<tr><td class=\"l\">", H(r.test), " (", H(r.metric),
                    r.lower_is_better ? " \u2193" : " \u2191", ")</td>");
    for (const auto& c : r.cells) {
      std::vector<std::string> cls;
      std::string v;
      if (c.value) {
        v = FormatValue(*c.value);
        if (c.diff_ci_low && c.diff_ci_high) {
          absl::StrAppend(&v, " <small>[", FormatValue(*c.diff_ci_low), ", ",
                          FormatValue(*c.diff_ci_high), "]</small>");
        }
        if (c.significant.value_or(false)) v += "*";
        const bool marked =
            c.best.has_value()
                ? *c.best && !all_equal && r.cells.size() > 1
                : any && !all_equal && *c.value == best && r.cells.size() > 1;
        if (marked) cls.push_back("best");
      } else {
        v = H(c.note.empty() ? "\u2014" : c.note);
        cls.push_back("missing");
      }
      if (c.iid) {
        v += "\u2020";
        cls.push_back("iid");
      }
      std::string c_attr;
      for (const auto& k : cls) c_attr += (c_attr.empty() ? "" : " ") + k;
      absl::StrAppend(&out, "<td",
                      c_attr.empty() ? "" : " class=\"" + c_attr + "\"", ">", v,
                      "</td>");
    }
    out += "</tr>\n";
  }
  out += "</table>\n";
  return out;
}

void AddFigure(const std::string& file, const std::string& svg,
               const std::string& caption, RenderedReport* r,
               std::string* html) {
  r->figures["figures/" + file] = svg;
  absl::StrAppend(html, "<figure id=\"fig-", H(file), "\">\n", svg,
                  "<figcaption>", caption, " (<a href=\"figures/", H(file),
                  "\">", H(file), "</a>)</figcaption></figure>\n");
}

}  // namespace

absl::StatusOr<RenderedReport> RenderReport(const ReportInput& in) {
  RenderedReport rep;
  std::vector<coordinator::ResultRow> rows;
  rows.reserve(in.cells.size());
  for (const auto& c : in.cells) rows.push_back(c.row);

  std::string title = absl::StrCat(
      "qgrid report: ", in.sweep_name.empty() ? in.sweep_id : in.sweep_name);
  std::string& o = rep.index_html;
  o.reserve(4096 + in.cells.size() * 1200);
  absl::StrAppend(&o,
                  "<!DOCTYPE html>\n<html lang=\"en\"><head><meta "
                  "charset=\"utf-8\"/><title>",
                  H(title), "</title><style>", kCss, "</style></head><body>\n",
                  "<h1>", H(title), "</h1>\n");
  absl::StrAppend(&o, "<p>Sweep <code>", H(in.sweep_id), "</code>, state ",
                  H(in.state.empty() ? "unknown" : in.state), ", created ",
                  OrNr(UtcTime(in.created_unix_ms)), ". Written by qgrid ",
                  H(in.generator_version), " at ",
                  OrNr(UtcTime(in.generated_unix_ms)),
                  ". Self-contained: opens without network.</p>\n");
  o += "<nav><a href=\"#spec\">spec</a><a href=\"#tables\">tables</a>"
       "<a href=\"#figures\">figures</a><a href=\"#failed\">failed and "
       "missing cells</a><a href=\"#provenance\">provenance</a></nav>\n";

  // Counts.
  o += "<table class=\"counts\"><tr>";
  for (const auto& [k, v] : in.counts)
    absl::StrAppend(&o, "<th>", H(k), "</th>");
  o += "</tr><tr>";
  for (const auto& [k, v] : in.counts) absl::StrAppend(&o, "<td>", v, "</td>");
  o += "</tr></table>\n";

  absl::StrAppend(&o, "<h2 id=\"spec\">Sweep spec</h2>\n",
                  in.spec_yaml.empty()
                      ? std::string("<p>") + kNotRecorded + "</p>\n"
                      : "<pre class=\"spec\">" + H(in.spec_yaml) + "</pre>\n");

  // Tables.
  std::vector<HeatmapFigure> grids = ResultGridsOf(rows);
  o += "<h2 id=\"tables\">Result tables</h2>\n<p>Rows: test sets, each with "
       "its headline metric (\u2191 higher / \u2193 lower is better); "
       "columns: calibration sets; \u2020 = I.I.D calibration (shaded); bold "
       "= not significantly worse than the best cell of the row, as in "
       "<code>qgrid results</code> (the exact best where no per-item scores "
       "were stored); [low, high] = paired bootstrap 95% CI of the "
       "difference from the I.I.D cell, * = it excludes 0. Repeats and seeds "
       "of a cell are averaged.</p>\n";
  for (const auto& g : grids) o += HtmlTable(g);
  if (!in.results_markdown.empty()) {
    absl::StrAppend(&o,
                    "<details><summary>The same tables as <code>qgrid results "
                    "--format markdown</code></summary><pre>",
                    H(in.results_markdown), "</pre></details>\n");
  }

  // Figures.
  o += "<h2 id=\"figures\">Figures</h2>\n";
  int nfig = 0;
  std::vector<HeatmapFigure> heat = CalibratedGrids(grids);
  for (size_t i = 0; i < heat.size(); ++i) {
    AddFigure(
        absl::StrFormat("heatmap_%02d_%s.svg", i + 1, FileSafe(heat[i].title)),
        RenderHeatmapSvg(heat[i]),
        "Calibration \u00d7 test heatmap: " + H(heat[i].title) +
            ". Outlined: I.I.D calibration.",
        &rep, &o);
    ++nfig;
  }
  std::vector<BarFigure> bars = Figure2Of(rows, {});
  for (size_t i = 0; i < bars.size(); ++i) {
    AddFigure(absl::StrFormat("figure2_%02d.svg", i + 1),
              RenderBarsSvg(bars[i]),
              "The form of arXiv 2406.12928's Figure 2: " + H(bars[i].title) +
                  "; dashed: FP16 reference. Tests outside the paper's nine "
                  "categories form their own group.",
              &rep, &o);
    ++nfig;
  }
  std::vector<ScatterFigure> scat = PerplexityVsAccuracyOf(rows);
  for (size_t i = 0; i < scat.size(); ++i) {
    AddFigure(absl::StrFormat("ppl_vs_acc_%02d.svg", i + 1),
              RenderScatterSvg(scat[i]),
              "As arXiv 2402.16775: " + H(scat[i].title) +
                  ". r: Pearson, \u03c1: Spearman over the points of each "
                  "accuracy test.",
              &rep, &o);
    ++nfig;
  }
  if (nfig == 0) {
    o += "<p>No figure: the sweep has no calibrated block, no "
         "accuracy test and no perplexity test with results.</p>\n";
  }

  // Failed and missing cells.
  o += "<h2 id=\"failed\">Failed and missing cells</h2>\n";
  std::string failed;
  int nfailed = 0;
  for (const auto& c : in.cells) {
    bool has_metric = !c.row.metrics.empty();
    if (c.row.state == "done" && has_metric) continue;
    ++nfailed;
    absl::StrAppend(&failed, "<tr><td>", c.row.job_id, "</td><td class=\"l\">",
                    H(CellName(c)), "</td><td>", H(c.row.state),
                    c.row.state == "done" ? " (no metric)" : "", "</td><td>",
                    c.row.attempt, "</td><td class=\"l\">",
                    c.error.empty() ? "" : "<code>" + H(c.error) + "</code>",
                    "</td></tr>\n");
  }
  if (nfailed == 0) {
    o += "<p>None: every cell of the sweep has a result.</p>\n";
  } else {
    absl::StrAppend(&o, "<p>", nfailed, " of ", in.cells.size(),
                    " cells have no result; tables and figures show them as "
                    "missing, never as values.</p><table class=\"failed\">"
                    "<tr><th>job</th><th class=\"l\">cell</th><th>state</th>"
                    "<th>attempts</th><th class=\"l\">last error</th></tr>\n",
                    failed, "</table>\n");
  }

  // Provenance.
  o += "<h2 id=\"provenance\">Provenance per cell</h2>\n<p>From the job's "
       "config and the worker's records. <span class=\"nr\">not "
       "recorded</span>: the records hold no such field.</p>\n<table "
       "class=\"prov\"><tr><th>job</th><th class=\"l\">cell</th><th>seed</th>"
       "<th>state</th><th>model "
       "path</th><th>worker</th><th>device</th><th>finished</th>"
       "<th>qgrid version</th><th>model files' hash</th><th>quantized weights "
       "SHA-256</th><th>calibration set</th><th>calibration size</th>"
       "<th>calibration set hash</th><th>test items</th><th>few-shot "
       "seed</th><th>quant source</th><th>content key</th></tr>\n";
  for (const auto& c : in.cells) {
    json q = Parse(c.quant_report_json);
    json e = Parse(c.eval_json);
    json cfg = Parse(c.config_json);
    const json& l = c.row.labels;
    std::string device, worker = c.row.worker_id;
    if (auto it = in.workers.find(c.row.worker_id); it != in.workers.end()) {
      device = it->second.device;
      if (!it->second.name.empty()) worker += " (" + it->second.name + ")";
    }
    std::string cal_source = Text(At(q, {"calibration", "source"}));
    std::string cal_size;
    if (At(q, {"calibration", "samples"})) {
      cal_size =
          absl::StrCat(Text(At(q, {"calibration", "samples"})), " \u00d7 ",
                       Text(At(q, {"calibration", "seq_len"})), " tokens");
    }
    std::string calibrated = Label(l, "calibration");
    const bool uncalibrated = calibrated.empty() || calibrated == "-";
    std::string items;
    if (const json* ns = At(e, {"n-samples"}); ns && ns->is_object()) {
      for (auto& [task, v] : ns->items()) {
        items += (items.empty() ? "" : ", ") + Text(At(v, {"effective"}));
      }
    }
    std::string version = Text(At(q, {"qgrid_version"}));
    if (version.empty()) version = Text(At(e, {"config", "qgrid_version"}));
    std::string model_hash = Text(At(q, {"model_sha256"}));
    std::string cal_hash = Text(At(q, {"calibration", "sha256"}));
    std::string na = "<span class=\"nr\">n/a</span>";
    absl::StrAppend(
        &o, "<tr><td>", c.row.job_id, "</td><td class=\"l\">", H(CellName(c)),
        "</td><td>", OrNr(Label(l, "seed")), "</td><td>", H(c.row.state),
        "</td><td>", OrNr(Text(At(cfg, {"job", "model", "path"}))), "</td><td>",
        OrNr(worker), "</td><td>", OrNr(device), "</td><td>",
        OrNr(UtcTime(c.finished_unix_ms)), "</td><td>", OrNr(version),
        "</td><td>", OrNr(model_hash), "</td><td><code>",
        OrNr(Text(At(q, {"weights_sha256"})).substr(0, 16)), "</code></td><td>",
        uncalibrated ? na : OrNr(cal_source), "</td><td>",
        uncalibrated ? na : OrNr(cal_size), "</td><td>",
        uncalibrated ? na : OrNr(cal_hash), "</td><td>", OrNr(items),
        "</td><td>", OrNr(Text(At(e, {"seeds", "fewshot_seed"}))), "</td><td>",
        OrNr(Text(At(q, {"cache", "source"}))), "</td><td><code>",
        OrNr(c.content_key.substr(0, 12)), "</code></td></tr>\n");
  }
  o += "</table>\n</body></html>\n";
  return rep;
}

absl::Status WriteReport(const ReportInput& in, const std::string& dir) {
  namespace fs = std::filesystem;
  auto r = RenderReport(in);
  if (!r.ok()) return r.status();
  std::error_code ec;
  fs::create_directories(fs::path(dir) / "figures", ec);
  if (ec) {
    return absl::InvalidArgumentError(absl::StrCat(
        "report: cannot create ", dir, "/figures: ", ec.message()));
  }
  auto write = [](const fs::path& p, const std::string& text) -> absl::Status {
    std::ofstream f(p, std::ios::binary | std::ios::trunc);
    f << text;
    f.close();
    if (!f) {
      return absl::InvalidArgumentError(
          absl::StrCat("report: cannot write ", p.string()));
    }
    return absl::OkStatus();
  };
  for (const auto& [name, svg] : r->figures) {
    if (absl::Status s = write(fs::path(dir) / name, svg); !s.ok()) return s;
  }
  return write(fs::path(dir) / "index.html", r->index_html);
}

}  // namespace qgrid::report
