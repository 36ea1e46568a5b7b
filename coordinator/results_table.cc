#include "coordinator/results_table.h"

#include <algorithm>
#include <cmath>
#include <optional>
#include <set>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "common/status_macros.h"
#include "coordinator/stats.h"

namespace qgrid::coordinator {
namespace {

using json = nlohmann::json;

std::string Str(const json& j, const char* key) {
  if (!j.contains(key)) return "";
  const json& v = j[key];
  if (v.is_string()) return v.get<std::string>();
  return v.dump();
}

struct CellStats {
  int64_t n = 0;  // items; 0 = no per-item scores
  double stderr_ = NAN;
  bool has_diff = false;  // vs the I.I.D cell
  PairedDiff vs_iid;
  double recovery = NAN, flip_rate = NAN;
};

struct Cell {
  double sum = 0;
  int n = 0;
  bool iid = false;
  bool missing = true;
  std::vector<int64_t> job_ids;
  // Per-item scores of each done result; `items` their per-item mean when
  // every done result has them on the same items.
  std::vector<ItemScores> runs;
  bool runs_complete = true;
  std::optional<ItemScores> items;
  CellStats stats;
  double value() const { return n ? sum / n : NAN; }
};

struct Block {
  std::string model, method, bits, shots;
  std::vector<std::string> tests, cals;  // first-seen order
  std::map<std::pair<std::string, std::string>, Cell> cells;  // (test, cal)
  std::map<std::string, std::set<std::string>> best;  // test -> best cals
  std::map<std::string, int> verdict;                 // test -> Verdict
};

// A row's finding about the I.I.D cell.
enum Verdict {
  kNoIid = 0,       // no I.I.D cell or no OOD cell
  kNoItems,         // some cell lacks per-item scores, or n < 2
  kIidSigBest,      // every OOD cell significantly worse
  kOtherSigBetter,  // some OOD cell significantly better
  kTie,             // otherwise: within noise
};

bool IsBaselineMethod(const std::string& m) {
  return m == "fp16" || m == "none";
}

std::string Fmt(double v) {
  if (std::isnan(v)) return "-";
  return absl::StrFormat(std::fabs(v) >= 1000 ? "%.1f" : "%.4g", v);
}

// Standard errors and CI bounds: two significant digits, signed for
// differences.
std::string FmtSe(double v) { return absl::StrFormat("%.2g", v); }
std::string FmtSigned(double v) {
  return absl::StrFormat(std::fabs(v) >= 1000 ? "%+.1f" : "%+.3g", v);
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

// The per-item entry of `metric` in a result's items ("ppl" is the GPTQ
// perplexity the worker also names "perplexity").
const json* ItemsOf(const json& items, const std::string& metric) {
  if (!items.is_object()) return nullptr;
  auto it = items.find(metric);
  if (it == items.end() && metric == "ppl") it = items.find("perplexity");
  return it == items.end() ? nullptr : &*it;
}

// The per-item mean of several results of one cell (repeats, seeds): its
// metric is then the repeats' mean for mean metrics, and the mean NLL per
// item for ratio metrics.
std::optional<ItemScores> Combine(const std::vector<ItemScores>& runs) {
  if (runs.empty()) return std::nullopt;
  if (runs.size() == 1) return runs[0];
  ItemScores out = runs[0];
  for (size_t r = 1; r < runs.size(); ++r) {
    if (runs[r].n() != out.n() || runs[r].agg != out.agg) return std::nullopt;
    for (size_t i = 0; i < out.n(); ++i) {
      out.x[i] += runs[r].x[i];
      if (!out.den.empty()) out.den[i] += runs[r].den[i];
    }
  }
  const double k = static_cast<double>(runs.size());
  for (double& v : out.x) v /= k;
  for (double& v : out.den) v /= k;
  out.binary = false;
  return out;
}

// `metric_of`: test set -> the metric its row shows.
absl::StatusOr<std::vector<Block>> Pivot(
    const std::vector<ResultRow>& rows,
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
    c.job_ids.push_back(r.job_id);
    c.iid = c.iid || (l.contains("iid") && l["iid"].is_boolean() &&
                      l["iid"].get<bool>());
    auto mo = metric_of.find(test);
    auto m =
        mo == metric_of.end() ? r.metrics.end() : r.metrics.find(mo->second);
    if (r.state == "done" && m != r.metrics.end()) {
      c.sum += m->second;
      c.n += 1;
      c.missing = false;
      const json* items = ItemsOf(r.items, mo->second);
      if (items == nullptr) {
        c.runs_complete = false;
      } else {
        auto s = ParseItemScores(
            *items,
            absl::StrCat("job ", r.job_id, ": eval_json items.", mo->second));
        if (!s.ok()) return s.status();
        c.runs.push_back(std::move(*s));
      }
    }
  }
  for (Block& b : blocks) {
    for (auto& [k, c] : b.cells) {
      if (c.runs_complete) c.items = Combine(c.runs);
      if (c.items) {
        c.stats.n = static_cast<int64_t>(c.items->n());
        c.stats.stderr_ = Stderr(*c.items);
      }
    }
  }
  return blocks;
}

// The best calibration sets of a row by point value: every set whose value
// equals the best one (ties are all best, as the paper bolds them); none
// when the row has no value or all its values are equal (nothing to
// choose). `best_cal` gets one best set.
std::set<std::string> ExactBest(const Block& b, const std::string& test,
                                bool lower, std::string* best_cal) {
  bool any = false;
  double bv = 0;
  for (const auto& cal : b.cals) {
    auto it = b.cells.find({test, cal});
    if (it == b.cells.end() || it->second.missing) continue;
    double v = it->second.value();
    if (!any || (lower ? v < bv : v > bv)) {
      bv = v;
      *best_cal = cal;
    }
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

// Fills every row's statistics: differences from the I.I.D cell with their
// CIs, the best marks, the verdict, and recovery/flips against the FP16
// cell of the same model, test and shots.
absl::Status ComputeStats(std::vector<Block>* blocks,
                          const std::map<std::string, std::string>& metric_of) {
  // Baselines: (model, shots, test) -> the FP16 cell.
  std::map<std::string, const Cell*> baseline;
  for (const Block& b : *blocks) {
    if (!IsBaselineMethod(b.method)) continue;
    for (const auto& [k, c] : b.cells) {
      if (c.missing) continue;
      baseline.emplace(absl::StrCat(b.model, "|", b.shots, "|", k.first), &c);
    }
  }
  for (Block& b : *blocks) {
    for (const auto& test : b.tests) {
      const bool lower = LowerIsBetter(metric_of.at(test));
      std::vector<std::string> cals;  // cells with a value
      bool all_items = true;
      const Cell* iid = nullptr;
      for (const auto& cal : b.cals) {
        auto it = b.cells.find({test, cal});
        if (it == b.cells.end() || it->second.missing) continue;
        cals.push_back(cal);
        all_items = all_items && it->second.items.has_value();
        if (it->second.iid) iid = &it->second;
      }
      std::string best_cal;
      std::set<std::string> exact = ExactBest(b, test, lower, &best_cal);
      b.best[test] = exact;
      int& verdict = b.verdict[test];
      verdict = iid && cals.size() > 1 ? kNoItems : kNoIid;
      // Recovery and flips need only the two cells.
      if (!IsBaselineMethod(b.method)) {
        auto base =
            baseline.find(absl::StrCat(b.model, "|", b.shots, "|", test));
        if (base != baseline.end()) {
          for (const auto& cal : cals) {
            Cell& c = b.cells.at({test, cal});
            c.stats.recovery =
                Recovery(c.value(), base->second->value(), lower);
            if (c.items && base->second->items) {
              c.stats.flip_rate = FlipRate(*c.items, *base->second->items);
            }
          }
        }
      }
      if (!all_items || cals.empty()) continue;
      // One bootstrap pass for the row: every cell on the same resamples.
      std::vector<const ItemScores*> scores;
      for (const auto& cal : cals) {
        scores.push_back(&*b.cells.at({test, cal}).items);
      }
      auto boot = BootstrapValues(scores, kBootstrapResamples, kBootstrapSeed);
      // Cells on different items (a changed limit) or a single item (one
      // document: no variation to resample): no paired figures; n/a.
      if (!boot.ok()) continue;
      const size_t best_i =
          std::find(cals.begin(), cals.end(), best_cal) - cals.begin();
      std::set<std::string> best;
      if (!exact.empty()) {
        for (size_t i = 0; i < cals.size(); ++i) {
          PairedDiff d = DiffInterval(*scores[best_i], (*boot)[best_i],
                                      *scores[i], (*boot)[i]);
          if (i == best_i || !d.significant) best.insert(cals[i]);
        }
      }
      b.best[test] = best;
      if (!iid) continue;
      const size_t iid_i = std::find_if(cals.begin(), cals.end(),
                                        [&](const std::string& c) {
                                          return &b.cells.at({test, c}) == iid;
                                        }) -
                           cals.begin();
      bool all_worse = true, some_better = false;
      for (size_t i = 0; i < cals.size(); ++i) {
        if (i == iid_i) continue;
        Cell& c = b.cells.at({test, cals[i]});
        c.stats.has_diff = true;
        c.stats.vs_iid = DiffInterval(*scores[iid_i], (*boot)[iid_i],
                                      *scores[i], (*boot)[i]);
        const PairedDiff& d = c.stats.vs_iid;
        const bool better = d.significant && (lower ? d.diff < 0 : d.diff > 0);
        const bool worse = d.significant && (lower ? d.diff > 0 : d.diff < 0);
        some_better = some_better || better;
        all_worse = all_worse && worse;
      }
      if (cals.size() > 1) {
        verdict = some_better ? kOtherSigBetter
                  : all_worse ? kIidSigBest
                              : kTie;
      }
    }
  }
  return absl::OkStatus();
}

struct Summary {
  int rows_with_iid = 0;
  int iid_best = 0;
  double gap_sum = 0;
  int gap_n = 0;
  int verdicts[5] = {0, 0, 0, 0, 0};
};

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
      ++s.verdicts[b.verdict.at(test)];
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
  // What survives the noise first; the point-estimate count (the only one
  // before per-item scores) after it, named as such: on tens of items one
  // item decides "best", and a mean gap without its interval is no finding.
  std::string line = absl::StrFormat(
      "%s, %d rows with an I.I.D cell (paired bootstrap 95%% CIs): I.I.D "
      "significantly best in %d, another calibration set significantly "
      "better in %d, ties within noise in %d",
      metric, s.rows_with_iid, s.verdicts[kIidSigBest],
      s.verdicts[kOtherSigBetter], s.verdicts[kTie]);
  if (s.verdicts[kNoItems] > 0) {
    absl::StrAppend(&line, ", n/a (no per-item scores, or under 2 items) in ",
                    s.verdicts[kNoItems]);
  }
  absl::StrAppend(
      &line,
      absl::StrFormat(". Point estimates alone (ties count for I.I.D): I.I.D "
                      "calibration is best in %d of %d rows; mean OOD - I.I.D "
                      "%s gap: %+.4g",
                      s.iid_best, s.rows_with_iid, metric,
                      s.gap_n ? s.gap_sum / s.gap_n : 0.0));
  return line;
}

const char* Arrow(const std::string& metric) {
  return LowerIsBetter(metric) ? "↓" : "↑";
}

std::string BlockTitle(const Block& b) {
  std::string bits = IsBaselineMethod(b.method) ? "" : " W" + b.bits;
  // shots -1: each task's own default (kTaskDefaultShots).
  const std::string shots =
      b.shots == "-1" ? "task-default shots" : b.shots + "-shot";
  return absl::StrCat(b.model, " | ", b.method, bits, " | ", shots);
}

// `metric_of`: test set -> metric. When every test set uses the same metric
// the header names it once; otherwise each row names its own, with an arrow
// giving its direction. Under each row: the differences from the I.I.D cell
// with their CIs, and recovery / flip rate against FP16 where there is one.
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
  const std::string stats_legend = absl::StrFormat(
      "value ± standard error (n items); Δ = difference from "
      "the I.I.D cell [paired bootstrap 95%% CI over the "
      "items, %d resamples], ‡ = CI excludes 0; best = not "
      "significantly worse than the best cell; recovery = %% "
      "of the FP16 cell (perplexity: FP16 / value), flips = "
      "items whose correctness changed; n/a = no per-item "
      "scores stored, or under 2 items",
      kBootstrapResamples);
  if (tex) {
    out << "% qgrid results: "
        << (one ? metric + (lower_all ? " (lower is better)" : "")
                : std::string("each test set with its own metric "
                              "($\\downarrow$ lower / $\\uparrow$ higher "
                              "is better)"))
        << "; \\dag and shading = I.I.D calibration, bold = best "
           "(\\usepackage[table]{xcolor} for \\cellcolor)\n% "
        << absl::StrReplaceAll(
               stats_legend,
               {{"±", "$\\pm$"}, {"Δ", "$\\Delta$"}, {"‡", "$\\ddagger$"}})
        << "\n";
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
        << " = best\n"
        << (md ? "_" : "") << stats_legend << (md ? "_" : "") << "\n\n";
  }
  const std::string pm = tex ? " $\\pm$ " : " ± ";
  for (const auto& b : blocks) {
    std::vector<std::vector<std::string>> grid;
    std::vector<std::string> head = {"test \\ calibration"};
    for (const auto& c : b.cals) head.push_back(tex ? LatexEscape(c) : c);
    grid.push_back(head);
    for (const auto& test : b.tests) {
      const std::string& m = metric_of.at(test);
      const std::set<std::string>& best = b.best.at(test);
      std::string label = tex ? LatexEscape(test) : test;
      // n once per row when every cell has the same.
      std::set<int64_t> ns;
      bool iid_row = false;
      for (const auto& cal : b.cals) {
        auto it = b.cells.find({test, cal});
        if (it == b.cells.end() || it->second.missing) continue;
        ns.insert(it->second.stats.n);
        iid_row = iid_row || it->second.iid;
      }
      if (!one) {
        label += tex ? absl::StrCat(
                           " (", LatexEscape(m), " $",
                           LowerIsBetter(m) ? "\\downarrow" : "\\uparrow", "$)")
                     : absl::StrCat(" (", m, " ", Arrow(m), ")");
      }
      const bool row_n = ns.size() == 1 && *ns.begin() > 0;
      if (row_n) label += absl::StrCat(" n=", *ns.begin());
      std::vector<std::string> row = {label};
      std::vector<std::string> diff_row = {tex ? "\\quad $\\Delta$ vs I.I.D "
                                                 "[95\\% CI]"
                                               : "  Δ vs I.I.D [95% CI]"};
      std::vector<std::string> rec_row = {
          tex ? "\\quad recovery / flips vs FP16"
              : "  recovery / flips vs FP16"};
      for (const auto& cal : b.cals) {
        auto it = b.cells.find({test, cal});
        const Cell* c = it == b.cells.end() ? nullptr : &it->second;
        std::string v = c == nullptr ? "" : Fmt(c->value());
        if (c != nullptr && c->missing) v = "…";
        if (c != nullptr && !c->missing && c->stats.n > 0 &&
            !std::isnan(c->stats.stderr_)) {
          v += pm + FmtSe(c->stats.stderr_);
          if (!row_n) v += absl::StrCat(" (n=", c->stats.n, ")");
        }
        bool iid = c != nullptr && c->iid;
        bool is_best = best.count(cal) > 0 && b.cals.size() > 1;
        if (tex) {
          if (iid) v += "$^\\dagger$";
          if (is_best) v = "\\textbf{" + v + "}";
          if (iid) v = "\\cellcolor{gray!20}" + v;
        } else {
          if (iid) v += "†";
          if (is_best) {
            v = md     ? "**" + v + "**"
                : ansi ? "\033[1m" + v + "\033[0m"
                       : v + "*";
          }
        }
        row.push_back(v);
        // Δ vs I.I.D.
        std::string d;
        if (c == nullptr || c->missing) {
          d = "";
        } else if (iid) {
          d = tex ? "ref." : "ref";
        } else if (c->stats.has_diff) {
          const PairedDiff& p = c->stats.vs_iid;
          d = absl::StrCat(FmtSigned(p.diff), " [", FmtSigned(p.ci_low), ", ",
                           FmtSigned(p.ci_high), "]");
          if (tex) d = "$" + d + "$";
          if (p.significant) d += tex ? "$^\\ddagger$" : "‡";
        } else {
          d = "n/a";
        }
        diff_row.push_back(d);
        std::string rc;
        if (c != nullptr && !c->missing && !std::isnan(c->stats.recovery)) {
          rc = absl::StrFormat("%.1f%s", c->stats.recovery, tex ? "\\%" : "%");
          rc += " / ";
          rc += std::isnan(c->stats.flip_rate)
                    ? "n/a"
                    : absl::StrFormat("%.1f%s", c->stats.flip_rate * 100,
                                      tex ? "\\%" : "%");
        }
        rec_row.push_back(rc);
      }
      grid.push_back(row);
      if (iid_row && b.cals.size() > 1) grid.push_back(diff_row);
      if (std::any_of(rec_row.begin() + 1, rec_row.end(),
                      [](const std::string& s) { return !s.empty(); })) {
        grid.push_back(rec_row);
      }
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

json NumOrNull(double v) { return std::isnan(v) ? json(nullptr) : json(v); }

}  // namespace

absl::StatusOr<std::map<int64_t, json>> CellStatsByJob(
    const std::vector<ResultRow>& rows,
    const std::map<std::string, std::string>& metric_of_in) {
  const std::map<std::string, std::string> metric_of =
      metric_of_in.empty() ? DefaultMetricPerTest(rows) : metric_of_in;
  auto blocks = Pivot(rows, metric_of);
  if (!blocks.ok()) return blocks.status();
  QG_RETURN_IF_ERROR(ComputeStats(&*blocks, metric_of));
  std::map<int64_t, json> out;
  for (const Block& b : *blocks) {
    for (const auto& [k, c] : b.cells) {
      if (c.missing) continue;
      const CellStats& s = c.stats;
      json j = {{"n", s.n > 0 ? json(s.n) : json(nullptr)},
                {"stderr", s.n > 0 ? NumOrNull(s.stderr_) : json(nullptr)},
                {"diff_vs_iid", nullptr},
                {"ci_low", nullptr},
                {"ci_high", nullptr},
                {"significant", nullptr},
                {"best", b.best.at(k.first).count(k.second) > 0},
                {"recovery", NumOrNull(s.recovery)},
                {"flip_rate", NumOrNull(s.flip_rate)}};
      if (s.has_diff) {
        j["diff_vs_iid"] = s.vs_iid.diff;
        j["ci_low"] = s.vs_iid.ci_low;
        j["ci_high"] = s.vs_iid.ci_high;
        j["significant"] = s.vs_iid.significant;
      }
      for (int64_t id : c.job_ids) out[id] = j;
    }
  }
  return out;
}

namespace {

// Tidy rows: one per job and metric, each with its cell's statistics for
// that metric (every metric's table computed).
absl::StatusOr<std::vector<json>> TidyRows(const std::vector<ResultRow>& rows,
                                           const std::string& sweep_id) {
  // job -> metric -> the statistics of its cell.
  std::map<std::pair<int64_t, std::string>, json> stats_of;
  std::set<std::string> names;
  std::set<std::string> tests;
  for (const auto& r : rows) {
    for (const auto& [m, v] : r.metrics) names.insert(m);
    tests.insert(Str(r.labels, "test"));
  }
  for (const auto& m : names) {
    std::map<std::string, std::string> metric_of;
    for (const auto& t : tests) metric_of[t] = m;
    auto by_job = CellStatsByJob(rows, metric_of);
    if (!by_job.ok()) return by_job.status();
    for (auto& [id, j] : *by_job) stats_of[{id, m}] = std::move(j);
  }
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
      auto st = stats_of.find({r.job_id, m});
      if (st != stats_of.end()) row.update(st->second);
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
  if (format == "json") {
    QG_ASSIGN_OR_RETURN(std::vector<json> tidy, TidyRows(rows, sweep_id));
    return json(tidy).dump(1) + "\n";
  }
  if (format == "csv") {
    std::ostringstream out;
    const std::vector<std::string> cols = {
        "sweep",   "job_id",      "state",  "worker",      "attempt",
        "model",   "method",      "bits",   "calibration", "test",
        "shots",   "seed",        "repeat", "iid",         "metric",
        "value",   "n",           "stderr", "diff_vs_iid", "ci_low",
        "ci_high", "significant", "best",   "recovery",    "flip_rate"};
    out << absl::StrJoin(cols, ",") << "\n";
    QG_ASSIGN_OR_RETURN(std::vector<json> tidy, TidyRows(rows, sweep_id));
    for (const auto& row : tidy) {
      std::vector<std::string> cells;
      for (const auto& c : cols) {
        const json& v = row.contains(c) ? row[c] : json(nullptr);
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
  QG_ASSIGN_OR_RETURN(std::vector<Block> blocks, Pivot(rows, metric_of));
  QG_RETURN_IF_ERROR(ComputeStats(&blocks, metric_of));
  return RenderTable(blocks, metric_of, format, ansi);
}

}  // namespace qgrid::coordinator
