#include "coordinator/results_table.h"

#include <algorithm>
#include <cmath>
#include <set>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"

namespace qgrid::coordinator {
namespace {

using json = nlohmann::json;

std::string Str(const json& j, const char* key) {
  if (!j.contains(key)) return "";
  const json& v = j[key];
  if (v.is_string()) return v.get<std::string>();
  return v.dump();
}

struct Cell {
  double sum = 0;
  int n = 0;
  bool iid = false;
  bool missing = true;
  double value() const { return n ? sum / n : NAN; }
};

struct Block {
  std::string model, method, bits, shots;
  std::vector<std::string> tests, cals;  // first-seen order
  std::map<std::pair<std::string, std::string>, Cell> cells;  // (test, cal)
};

std::string Fmt(double v) {
  if (std::isnan(v)) return "-";
  return absl::StrFormat(std::fabs(v) >= 1000 ? "%.1f" : "%.4g", v);
}

std::string CsvEscape(const std::string& s) {
  if (s.find_first_of(",\"\n") == std::string::npos) return s;
  return "\"" + absl::StrReplaceAll(s, {{"\"", "\"\""}}) + "\"";
}

std::string LatexEscape(const std::string& s) {
  return absl::StrReplaceAll(
      s,
      {{"_", "\\_"}, {"%", "\\%"}, {"&", "\\&"}, {"#", "\\#"}, {"+", "{+}"}});
}

// `metric_of`: test set -> the metric its row shows.
std::vector<Block> Pivot(const std::vector<ResultRow>& rows,
                         const std::map<std::string, std::string>& metric_of) {
  std::vector<Block> blocks;
  std::map<std::string, size_t> index;
  for (const auto& r : rows) {
    const json& l = r.labels;
    std::string key = absl::StrCat(Str(l, "model"), "|", Str(l, "method"), "|",
                                   Str(l, "bits"), "|", Str(l, "shots"));
    auto it = index.find(key);
    if (it == index.end()) {
      it = index.emplace(key, blocks.size()).first;
      blocks.push_back(Block{Str(l, "model"), Str(l, "method"), Str(l, "bits"),
                             Str(l, "shots")});
    }
    Block& b = blocks[it->second];
    std::string test = Str(l, "test"), cal = Str(l, "calibration");
    if (std::find(b.tests.begin(), b.tests.end(), test) == b.tests.end()) {
      b.tests.push_back(test);
    }
    if (std::find(b.cals.begin(), b.cals.end(), cal) == b.cals.end()) {
      b.cals.push_back(cal);
    }
    Cell& c = b.cells[{test, cal}];
    c.iid = c.iid || (l.contains("iid") && l["iid"].is_boolean() &&
                      l["iid"].get<bool>());
    auto mo = metric_of.find(test);
    auto m =
        mo == metric_of.end() ? r.metrics.end() : r.metrics.find(mo->second);
    if (r.state == "done" && m != r.metrics.end()) {
      c.sum += m->second;
      c.n += 1;
      c.missing = false;
    }
  }
  return blocks;
}

struct Summary {
  int rows_with_iid = 0;
  int iid_best = 0;
  double gap_sum = 0;
  int gap_n = 0;
};

// The best calibration sets of a row: every set whose value equals the best
// one (ties are all best, as the paper bolds them); none when the row has
// no value or all its values are equal (nothing to choose).
std::set<std::string> BestCals(const Block& b, const std::string& test,
                               bool lower) {
  bool any = false;
  double bv = 0;
  for (const auto& cal : b.cals) {
    auto it = b.cells.find({test, cal});
    if (it == b.cells.end() || it->second.missing) continue;
    double v = it->second.value();
    if (!any || (lower ? v < bv : v > bv)) bv = v;
    any = true;
  }
  std::set<std::string> best;
  bool all_equal = true;
  for (const auto& cal : b.cals) {
    auto it = b.cells.find({test, cal});
    if (it == b.cells.end() || it->second.missing) continue;
    if (it->second.value() == bv) {
      best.insert(cal);
    } else {
      all_equal = false;
    }
  }
  if (all_equal) best.clear();
  return best;
}

// One summary per metric (gaps of different metrics do not average).
std::map<std::string, Summary> Summarize(
    const std::vector<Block>& blocks,
    const std::map<std::string, std::string>& metric_of) {
  std::map<std::string, Summary> out;
  for (const auto& b : blocks) {
    for (const auto& test : b.tests) {
      const std::string& metric = metric_of.at(test);
      bool lower = LowerIsBetter(metric);
      const Cell* iid = nullptr;
      std::vector<double> ood;
      for (const auto& cal : b.cals) {
        auto it = b.cells.find({test, cal});
        if (it == b.cells.end() || it->second.missing) continue;
        if (it->second.iid) {
          iid = &it->second;
        } else {
          ood.push_back(it->second.value());
        }
      }
      if (!iid || ood.empty()) continue;
      Summary& s = out[metric];
      ++s.rows_with_iid;
      // Best = no OOD cell strictly better (a tie counts for the I.I.D).
      const double iv = iid->value();
      if (std::none_of(ood.begin(), ood.end(),
                       [&](double v) { return lower ? v < iv : v > iv; })) {
        ++s.iid_best;
      }
      for (double v : ood) {
        s.gap_sum += v - iid->value();
        ++s.gap_n;
      }
    }
  }
  return out;
}

std::string SummaryLine(const Summary& s, const std::string& metric) {
  return absl::StrFormat(
      "I.I.D calibration is best in %d of %d rows; mean OOD - I.I.D %s gap: "
      "%+.4g",
      s.iid_best, s.rows_with_iid, metric, s.gap_n ? s.gap_sum / s.gap_n : 0.0);
}

const char* Arrow(const std::string& metric) {
  return LowerIsBetter(metric) ? "↓" : "↑";
}

std::string BlockTitle(const Block& b) {
  std::string bits = b.method == "fp16" ? "" : " W" + b.bits;
  // shots -1: each task's own default (kTaskDefaultShots).
  const std::string shots =
      b.shots == "-1" ? "task-default shots" : b.shots + "-shot";
  return absl::StrCat(b.model, " | ", b.method, bits, " | ", shots);
}

// `metric_of`: test set -> metric. When every test set uses the same metric
// the header names it once; otherwise each row names its own, with an arrow
// giving its direction.
std::string RenderTable(const std::vector<Block>& blocks,
                        const std::map<std::string, std::string>& metric_of,
                        const std::string& fmt, bool ansi) {
  std::ostringstream out;
  bool md = fmt == "markdown", tex = fmt == "latex";
  std::set<std::string> metrics;
  for (const auto& [t, m] : metric_of) metrics.insert(m);
  const bool one = metrics.size() <= 1;
  const std::string metric = metrics.empty() ? "ppl" : *metrics.begin();
  const bool lower_all = LowerIsBetter(metric);
  if (tex) {
    out << "% qgrid results: "
        << (one ? metric + (lower_all ? " (lower is better)" : "")
                : std::string("each test set with its own metric "
                              "($\\downarrow$ lower / $\\uparrow$ higher "
                              "is better)"))
        << "; \\dag = I.I.D calibration, bold = best\n";
  } else {
    out << (md ? "**" : "")
        << (one ? metric +
                      (lower_all ? " (lower is better)" : " (higher is better)")
                : std::string("each test set with its own metric (↓ lower "
                              "is better, ↑ higher is better)"))
        << (md ? "**" : "") << "; † = I.I.D calibration set, "
        << (md     ? "**bold**"
            : ansi ? "\033[1mbold\033[0m"
                   : "*")
        << " = best\n\n";
  }
  for (const auto& b : blocks) {
    std::vector<std::vector<std::string>> grid;
    std::vector<std::string> head = {"test \\ calibration"};
    for (const auto& c : b.cals) head.push_back(tex ? LatexEscape(c) : c);
    grid.push_back(head);
    for (const auto& test : b.tests) {
      const std::string& m = metric_of.at(test);
      std::set<std::string> best = BestCals(b, test, LowerIsBetter(m));
      std::string label = tex ? LatexEscape(test) : test;
      if (!one) {
        label += tex ? absl::StrCat(
                           " (", LatexEscape(m), " $",
                           LowerIsBetter(m) ? "\\downarrow" : "\\uparrow", "$)")
                     : absl::StrCat(" (", m, " ", Arrow(m), ")");
      }
      std::vector<std::string> row = {label};
      for (const auto& cal : b.cals) {
        auto it = b.cells.find({test, cal});
        std::string v = it == b.cells.end() ? "" : Fmt(it->second.value());
        if (it != b.cells.end() && it->second.missing) v = "…";
        bool iid = it != b.cells.end() && it->second.iid;
        bool is_best = best.count(cal) > 0 && b.cals.size() > 1;
        if (tex) {
          if (iid) v += "$^\\dagger$";
          if (is_best) v = "\\textbf{" + v + "}";
        } else {
          if (iid) v += "†";
          if (is_best) {
            v = md     ? "**" + v + "**"
                : ansi ? "\033[1m" + v + "\033[0m"
                       : v + "*";
          }
        }
        row.push_back(v);
      }
      grid.push_back(row);
    }
    if (tex) {
      out << "\\begin{table}[h]\n\\centering\n\\caption{"
          << LatexEscape(BlockTitle(b)) << "}\n\\begin{tabular}{l"
          << std::string(b.cals.size(), 'r') << "}\n\\toprule\n";
      for (size_t r = 0; r < grid.size(); ++r) {
        out << absl::StrJoin(grid[r], " & ") << " \\\\\n";
        if (r == 0) out << "\\midrule\n";
      }
      out << "\\bottomrule\n\\end{tabular}\n\\end{table}\n\n";
      continue;
    }
    if (md) {
      out << "### " << BlockTitle(b) << "\n\n";
      for (size_t r = 0; r < grid.size(); ++r) {
        out << "| " << absl::StrJoin(grid[r], " | ") << " |\n";
        if (r == 0) {
          out << "|" << std::string(":---|");
          for (size_t c = 1; c < grid[r].size(); ++c) out << "---:|";
          out << "\n";
        }
      }
      out << "\n";
      continue;
    }
    // Terminal: aligned columns. Width counts code points, not escapes.
    auto width = [](const std::string& s) {
      size_t w = 0;
      bool esc = false;
      for (unsigned char ch : s) {
        if (ch == 0x1b) esc = true;
        if (esc) {
          if (ch == 'm') esc = false;
          continue;
        }
        if ((ch & 0xc0) != 0x80) ++w;
      }
      return w;
    };
    std::vector<size_t> widths(grid[0].size(), 0);
    for (const auto& row : grid) {
      for (size_t c = 0; c < row.size(); ++c) {
        widths[c] = std::max(widths[c], width(row[c]));
      }
    }
    out << BlockTitle(b) << "\n";
    for (size_t r = 0; r < grid.size(); ++r) {
      for (size_t c = 0; c < grid[r].size(); ++c) {
        size_t pad = widths[c] - width(grid[r][c]);
        if (c == 0) {
          out << grid[r][c] << std::string(pad, ' ');
        } else {
          out << "  " << std::string(pad, ' ') << grid[r][c];
        }
      }
      out << "\n";
    }
    out << "\n";
  }
  std::map<std::string, Summary> sums = Summarize(blocks, metric_of);
  std::vector<std::string> lines;
  if (sums.empty()) {
    lines.push_back("No row has both an I.I.D and an OOD calibration set.");
  }
  for (const auto& [m, s] : sums) lines.push_back(SummaryLine(s, m));
  for (const auto& line : lines) {
    if (tex) {
      out << "% " << line << "\n";
    } else {
      out << (md ? "_" : "") << line << (md ? "_" : "") << "\n";
    }
  }
  return out.str();
}

std::vector<json> TidyRows(const std::vector<ResultRow>& rows,
                           const std::string& sweep_id) {
  std::vector<json> out;
  for (const auto& r : rows) {
    json base = {{"sweep", sweep_id},
                 {"job_id", r.job_id},
                 {"state", r.state},
                 {"worker", r.worker_id},
                 {"attempt", r.attempt}};
    for (const char* k : {"model", "method", "bits", "calibration", "test",
                          "shots", "seed", "repeat", "iid"}) {
      base[k] = r.labels.contains(k) ? r.labels[k] : json(nullptr);
    }
    if (r.metrics.empty()) {
      json row = base;
      row["metric"] = nullptr;
      row["value"] = nullptr;
      out.push_back(row);
    }
    for (const auto& [m, v] : r.metrics) {
      json row = base;
      row["metric"] = m;
      row["value"] = v;
      out.push_back(row);
    }
  }
  return out;
}

}  // namespace

bool LowerIsBetter(const std::string& m) {
  return m.find("ppl") != std::string::npos ||
         m.find("perplexity") != std::string::npos ||
         m.find("loss") != std::string::npos ||
         m.find("nll") != std::string::npos ||
         m.find("error") != std::string::npos ||
         m.find("latency") != std::string::npos ||
         m.find("_ms") != std::string::npos ||
         m.find("bytes") != std::string::npos;
}

namespace {
// lm-evaluation-harness's headline metric of each task family: perplexity
// for language modelling (qgrid's "ppl" is the GPTQ-style window
// perplexity), acc_norm for multiple choice where reported (length-
// normalized, lm-eval's usual figure for ARC/HellaSwag/PIQA/OpenBookQA),
// acc for classification, F1 for extractive QA (SQuAD), exact match for
// generation.
constexpr const char* kPreferred[] = {"ppl",
                                      "perplexity",
                                      "word_perplexity",
                                      "byte_perplexity",
                                      "bits_per_byte",
                                      "acc_norm",
                                      "acc",
                                      "f1",
                                      "exact_match",
                                      "number_match"};

std::string Preferred(const std::set<std::string>& names) {
  for (const char* pref : kPreferred) {
    if (names.count(pref)) return pref;
  }
  return names.empty() ? "ppl" : *names.begin();
}
}  // namespace

std::string DefaultMetric(const std::vector<ResultRow>& rows) {
  std::set<std::string> names;
  for (const auto& r : rows) {
    for (const auto& [m, v] : r.metrics) names.insert(m);
  }
  return Preferred(names);
}

std::map<std::string, std::string> DefaultMetricPerTest(
    const std::vector<ResultRow>& rows) {
  std::map<std::string, std::set<std::string>> names;
  for (const auto& r : rows) {
    auto& n = names[Str(r.labels, "test")];
    for (const auto& [m, v] : r.metrics) n.insert(m);
  }
  // A test with no result yet borrows the sweep-wide choice.
  std::string fallback = DefaultMetric(rows);
  std::map<std::string, std::string> out;
  for (const auto& [test, n] : names) {
    out[test] = n.empty() ? fallback : Preferred(n);
  }
  return out;
}

absl::StatusOr<std::string> RenderResults(const std::vector<ResultRow>& rows,
                                          const std::string& metric_in,
                                          const std::string& format,
                                          const std::string& sweep_id,
                                          bool ansi) {
  if (format == "json") return json(TidyRows(rows, sweep_id)).dump(1) + "\n";
  if (format == "csv") {
    std::ostringstream out;
    const std::vector<std::string> cols = {
        "sweep",  "job_id", "state",       "worker", "attempt", "model",
        "method", "bits",   "calibration", "test",   "shots",   "seed",
        "repeat", "iid",    "metric",      "value"};
    out << absl::StrJoin(cols, ",") << "\n";
    for (const auto& row : TidyRows(rows, sweep_id)) {
      std::vector<std::string> cells;
      for (const auto& c : cols) {
        const json& v = row[c];
        cells.push_back(v.is_null()     ? ""
                        : v.is_string() ? CsvEscape(v.get<std::string>())
                                        : v.dump());
      }
      out << absl::StrJoin(cells, ",") << "\n";
    }
    return out.str();
  }
  if (format != "table" && format != "markdown" && format != "latex") {
    return absl::InvalidArgumentError("unknown format '" + format +
                                      "' (table, markdown, csv, json, latex)");
  }
  std::map<std::string, std::string> metric_of = DefaultMetricPerTest(rows);
  if (!metric_in.empty()) {
    for (auto& [test, m] : metric_of) m = metric_in;
  }
  return RenderTable(Pivot(rows, metric_of), metric_of, format, ansi);
}

}  // namespace qgrid::coordinator
