#include "report/figure_data.h"

#include <algorithm>
#include <cmath>
#include <set>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace qgrid::report {
namespace {

using coordinator::ResultRow;
using json = nlohmann::json;

std::string Str(const json& j, const char* key) {
  if (!j.is_object() || !j.contains(key)) return "";
  const json& v = j[key];
  if (v.is_string()) return v.get<std::string>();
  return v.dump();
}

template <typename T>
void AddOnce(std::vector<T>* v, const T& x) {
  if (std::find(v->begin(), v->end(), x) == v->end()) v->push_back(x);
}

bool IsFp(const GridBlock& b) { return b.method == "fp16"; }

std::string ShotsTitle(const std::string& shots) {
  return shots == "-1" ? "task-default shots" : shots + "-shot";
}

}  // namespace

const GridCell* GridBlock::Find(const std::string& test,
                                const std::string& cal) const {
  auto it = cells.find({test, cal});
  return it == cells.end() ? nullptr : &it->second;
}

std::vector<GridBlock> PivotResults(
    const std::vector<ResultRow>& rows,
    const std::map<std::string, std::string>& metric_of_in) {
  const std::map<std::string, std::string> metric_of =
      metric_of_in.empty() ? coordinator::DefaultMetricPerTest(rows)
                           : metric_of_in;
  std::vector<GridBlock> blocks;
  std::map<std::string, size_t> index;
  for (const ResultRow& r : rows) {
    const json& l = r.labels;
    std::string key = absl::StrCat(Str(l, "model"), "|", Str(l, "method"), "|",
                                   Str(l, "bits"), "|", Str(l, "shots"));
    auto it = index.find(key);
    if (it == index.end()) {
      it = index.emplace(key, blocks.size()).first;
      blocks.push_back(GridBlock{Str(l, "model"), Str(l, "method"),
                                 Str(l, "bits"), Str(l, "shots")});
    }
    GridBlock& b = blocks[it->second];
    const std::string test = Str(l, "test"), cal = Str(l, "calibration");
    AddOnce(&b.tests, test);
    AddOnce(&b.cals, cal);
    GridCell& c = b.cells[{test, cal}];
    c.rows += 1;
    c.job_ids.push_back(r.job_id);
    c.iid = c.iid || (l.contains("iid") && l["iid"].is_boolean() &&
                      l["iid"].get<bool>());
    auto mo = metric_of.find(test);
    auto m =
        mo == metric_of.end() ? r.metrics.end() : r.metrics.find(mo->second);
    if (r.state == "done" && m != r.metrics.end() && std::isfinite(m->second)) {
      c.sum += m->second;
      c.n += 1;
    } else if (r.state != "done") {
      c.state = r.state;
    } else {
      c.state = "done, metric absent";
    }
  }
  return blocks;
}

std::string VariantName(const std::string& method, const std::string& bits) {
  if (method == "fp16" || bits.empty() || bits == "16") return method;
  return absl::StrCat(method, " W", bits);
}

std::string TaskCategory(const std::string& task) {
  // arXiv 2406.12928, Section 2 (S1): the 26 datasets in nine categories.
  struct Entry {
    const char* prefix;
    const char* category;
  };
  static const Entry kEntries[] = {
      {"winogrande", "common sense reasoning"},
      {"wsc273", "common sense reasoning"},
      {"wnli", "common sense reasoning"},
      {"hellaswag", "common sense reasoning"},
      {"swag", "common sense reasoning"},
      {"piqa", "common sense reasoning"},
      {"mathqa", "mathematical reasoning"},
      {"mutual", "multi-turn dialogue reasoning"},
      {"crows_pairs", "bias diagnosis and mitigation"},
      {"toxigen", "bias diagnosis and mitigation"},
      {"pubmedqa", "scientific knowledge QA"},
      {"openbookqa", "scientific knowledge QA"},
      {"sciq", "scientific knowledge QA"},
      {"arc_", "scientific knowledge QA"},
      {"mc_taco", "scientific knowledge QA"},
      {"race", "reading comprehension"},
      {"qa4mre", "reading comprehension"},
      {"mnli", "natural language inference"},
      {"rte", "natural language inference"},
      {"qnli", "natural language inference"},
      {"anli", "natural language inference"},
      {"sst", "sentiment analysis"},
      {"blimp", "syntax phenomena"},
  };
  for (const Entry& e : kEntries) {
    if (absl::StartsWith(task, e.prefix)) return e.category;
  }
  return "";
}

std::vector<HeatmapFigure> HeatmapsOf(const std::vector<ResultRow>& rows) {
  return CalibratedGrids(ResultGridsOf(rows));
}

std::vector<HeatmapFigure> CalibratedGrids(std::vector<HeatmapFigure> grids) {
  std::vector<HeatmapFigure> out;
  for (HeatmapFigure& f : grids) {
    if (f.calibrations.size() == 1 &&
        (f.calibrations[0] == "-" || f.calibrations[0].empty())) {
      continue;  // not calibrated: nothing to compare
    }
    out.push_back(std::move(f));
  }
  return out;
}

std::vector<HeatmapFigure> ResultGridsOf(const std::vector<ResultRow>& rows) {
  const auto metric_of = coordinator::DefaultMetricPerTest(rows);
  // The tables' statistics (coordinator/results_table.h), so that figure
  // and table mark the same cells; none (slots left empty: "not computed")
  // when the stored items cannot be read.
  auto stats = coordinator::CellStatsByJob(rows, metric_of);
  std::vector<HeatmapFigure> out;
  for (const GridBlock& b : PivotResults(rows, metric_of)) {
    HeatmapFigure f;
    f.title = absl::StrCat(b.model, " | ", VariantName(b.method, b.bits), " | ",
                           ShotsTitle(b.shots));
    f.calibrations = b.cals;
    for (const std::string& test : b.tests) {
      HeatmapRow row;
      row.test = test;
      auto m = metric_of.find(test);
      row.metric = m == metric_of.end() ? "" : m->second;
      row.lower_is_better = coordinator::LowerIsBetter(row.metric);
      for (const std::string& cal : b.cals) {
        HeatmapCell cell;
        if (const GridCell* c = b.Find(test, cal)) {
          cell.iid = c->iid;
          if (stats.ok() && !c->job_ids.empty()) {
            auto st = stats->find(c->job_ids.front());
            if (st != stats->end() && st->second["best"].is_boolean()) {
              cell.best = st->second["best"].get<bool>();
            }
            if (st != stats->end() && st->second["significant"].is_boolean()) {
              cell.diff_ci_low = st->second["ci_low"].get<double>();
              cell.diff_ci_high = st->second["ci_high"].get<double>();
              cell.significant = st->second["significant"].get<bool>();
            }
          }
          if (c->has_value()) {
            cell.value = c->value();
          } else {
            cell.note = c->state == "dead" || c->state == "failed"
                            ? "failed (" + c->state + ")"
                            : c->state;
          }
        } else {
          cell.note = "not in the sweep";
        }
        row.cells.push_back(cell);
      }
      f.rows.push_back(std::move(row));
    }
    out.push_back(std::move(f));
  }
  return out;
}

std::vector<BarFigure> Figure2Of(
    const std::vector<ResultRow>& rows,
    const std::map<std::string, std::string>& category_of_test) {
  const auto metric_of = coordinator::DefaultMetricPerTest(rows);
  std::vector<GridBlock> blocks = PivotResults(rows, metric_of);
  auto category = [&](const std::string& test) {
    auto it = category_of_test.find(test);
    std::string c = it != category_of_test.end() ? it->second : "";
    if (c.empty()) c = TaskCategory(test);
    return c.empty() ? test : c;
  };
  std::vector<std::string> models;
  for (const auto& b : blocks) AddOnce(&models, b.model);
  std::vector<BarFigure> out;
  for (const std::string& model : models) {
    // shots -> category -> series -> (sum, n) of per-test means; the fp16
    // reference per category likewise.
    struct Acc {
      double sum = 0;
      int n = 0;
    };
    std::vector<std::string> shots_order, categories, series;
    std::set<std::string> metrics;
    std::map<std::string, std::map<std::string, std::map<std::string, Acc>>>
        acc;
    std::map<std::string, std::map<std::string, Acc>> ref;
    for (const GridBlock& b : blocks) {
      if (b.model != model) continue;
      for (const std::string& test : b.tests) {
        auto m = metric_of.find(test);
        if (m == metric_of.end() || coordinator::LowerIsBetter(m->second)) {
          continue;  // perplexity rows are not in Figure 2
        }
        // The test's score under this variant: mean over calibration sets.
        double sum = 0;
        int n = 0;
        for (const std::string& cal : b.cals) {
          const GridCell* c = b.Find(test, cal);
          if (c && c->has_value()) sum += c->value(), ++n;
        }
        if (n == 0) continue;
        metrics.insert(m->second);
        AddOnce(&shots_order, b.shots);
        const std::string cat = category(test);
        AddOnce(&categories, cat);
        Acc& a = IsFp(b) ? ref[b.shots][cat]
                         : acc[b.shots][cat][VariantName(b.method, b.bits)];
        if (!IsFp(b)) AddOnce(&series, VariantName(b.method, b.bits));
        a.sum += sum / n;
        a.n += 1;
      }
    }
    if (shots_order.empty()) continue;
    std::sort(shots_order.begin(), shots_order.end(),
              [](const std::string& a, const std::string& b) {
                return std::atoi(a.c_str()) < std::atoi(b.c_str());
              });
    BarFigure f;
    f.title =
        absl::StrCat(model,
                     ": accuracy per task category (mean over its tests and "
                     "calibration sets)");
    std::string ylabel;
    for (const auto& m : metrics) ylabel += (ylabel.empty() ? "" : " / ") + m;
    f.y_label = ylabel;
    for (const std::string& shots : shots_order) {
      BarPanel p;
      p.title = ShotsTitle(shots);
      p.categories = categories;
      p.series = series;
      for (const std::string& cat : categories) {
        std::vector<BarValue> vals;
        for (const std::string& s : series) {
          BarValue v;
          auto& a = acc[shots][cat][s];
          if (a.n) v.value = a.sum / a.n;
          vals.push_back(v);
        }
        p.values.push_back(std::move(vals));
        auto& r = ref[shots][cat];
        p.reference.push_back(r.n ? std::optional<double>(r.sum / r.n)
                                  : std::nullopt);
      }
      f.panels.push_back(std::move(p));
    }
    out.push_back(std::move(f));
  }
  return out;
}

std::vector<ScatterFigure> PerplexityVsAccuracyOf(
    const std::vector<ResultRow>& rows) {
  const auto metric_of = coordinator::DefaultMetricPerTest(rows);
  std::vector<GridBlock> blocks = PivotResults(rows, metric_of);
  std::vector<std::string> models, ppl_tests, acc_tests;
  for (const auto& b : blocks) {
    AddOnce(&models, b.model);
    for (const auto& t : b.tests) {
      auto m = metric_of.find(t);
      if (m == metric_of.end()) continue;
      AddOnce(coordinator::LowerIsBetter(m->second) ? &ppl_tests : &acc_tests,
              t);
    }
  }
  std::vector<ScatterFigure> out;
  if (acc_tests.empty()) return out;
  for (const std::string& model : models) {
    for (const std::string& pt : ppl_tests) {
      // Variant (method|bits|cal) -> perplexity, averaged over shots.
      std::map<std::string, std::pair<double, int>> ppl;
      for (const auto& b : blocks) {
        if (b.model != model) continue;
        for (const auto& cal : b.cals) {
          const GridCell* c = b.Find(pt, cal);
          if (!c || !c->has_value()) continue;
          auto& p = ppl[absl::StrCat(b.method, "|", b.bits, "|", cal)];
          p.first += c->value();
          p.second += 1;
        }
      }
      if (ppl.empty()) continue;
      ScatterFigure f;
      f.title = absl::StrCat(model, ": perplexity on ", pt,
                             " vs accuracy, across quantized variants");
      f.x_label = absl::StrCat(metric_of.at(pt), " on ", pt);
      std::set<std::string> ms;
      for (const auto& t : acc_tests) ms.insert(metric_of.at(t));
      for (const auto& m : ms) {
        f.y_label += (f.y_label.empty() ? "" : " / ") + m;
      }
      for (const std::string& at : acc_tests) {
        const int series = static_cast<int>(f.series.size());
        bool any = false;
        for (const auto& b : blocks) {
          if (b.model != model) continue;
          for (const auto& cal : b.cals) {
            const GridCell* c = b.Find(at, cal);
            if (!c || !c->has_value()) continue;
            auto p = ppl.find(absl::StrCat(b.method, "|", b.bits, "|", cal));
            if (p == ppl.end()) continue;
            ScatterPoint pt_;
            pt_.x = p->second.first / p->second.second;
            pt_.y = c->value();
            pt_.series = series;
            pt_.label = absl::StrCat(VariantName(b.method, b.bits),
                                     cal == "-" ? "" : ", calibration " + cal,
                                     ", ", ShotsTitle(b.shots));
            f.points.push_back(std::move(pt_));
            any = true;
          }
        }
        if (any)
          f.series.push_back({absl::StrCat(at, " (", metric_of.at(at), ")")});
      }
      if (f.points.empty()) continue;
      FillCorrelations(&f);
      out.push_back(std::move(f));
    }
  }
  return out;
}

}  // namespace qgrid::report
