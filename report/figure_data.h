// From a sweep's result rows (coordinator/results_table.h ResultRow) to the
// data of its figures (figures.h). Each test set is shown with its headline
// metric (DefaultMetricPerTest); repeats and seeds of a cell are averaged,
// as in the result tables.
//
//   - HeatmapsOf: one heatmap per (model, method, bits, shots) whose method
//     is calibrated (methods without calibration have a single "-" column
//     and appear in the tables and bar charts only).
//   - Figure2Of: per model, the paper's Figure 2 (arXiv 2406.12928): tests
//     with a higher-is-better metric grouped into the paper's nine task
//     categories (TaskCategory), each category's score the mean over its
//     tests and over calibration sets; one bar per method x bits, FP16 (the
//     fp16 method) as the reference; one panel per shot count.
//   - PerplexityVsAccuracyOf: per (model, perplexity test), 2402.16775's
//     scatter: one point per quantized variant (method, bits, calibration)
//     and accuracy test x shots, x its perplexity (averaged over shots, which
//     do not change it), y its accuracy; Pearson and Spearman per test.
//
// `category_of_test` maps test names to a Figure 2 category; tests absent
// from it get TaskCategory(name). Pure functions; thread-safe.
#ifndef QGRID_REPORT_FIGURE_DATA_H_
#define QGRID_REPORT_FIGURE_DATA_H_

#include <map>
#include <string>
#include <vector>

#include "coordinator/results_table.h"
#include "report/figures.h"

namespace qgrid::report {

// One (model, method, bits, shots) block of a sweep: its test sets (rows)
// and calibration sets (columns) in first-seen order, each cell the mean of
// its done rows' values of the test's metric.
struct GridCell {
  double sum = 0;
  int n = 0;     // done rows with the metric
  int rows = 0;  // rows of any state
  bool iid = false;
  std::string state;  // a state of a row that is not done ("dead", ...)
  std::vector<int64_t> job_ids;  // the cell's rows' jobs
  bool has_value() const { return n > 0; }
  double value() const { return n ? sum / n : 0; }
};
struct GridBlock {
  std::string model, method, bits, shots;  // labels as text
  std::vector<std::string> tests, cals;
  std::map<std::pair<std::string, std::string>, GridCell> cells;  // test, cal
  const GridCell* Find(const std::string& test, const std::string& cal) const;
};
// `metric_of`: test -> metric (DefaultMetricPerTest when empty).
std::vector<GridBlock> PivotResults(
    const std::vector<coordinator::ResultRow>& rows,
    const std::map<std::string, std::string>& metric_of);
// "gptq W3", "fp16".
std::string VariantName(const std::string& method, const std::string& bits);

// The paper's category of an lm-eval task name (Section 2: common sense
// reasoning, mathematical reasoning, multi-turn dialogue reasoning, bias
// diagnosis, scientific knowledge QA, reading comprehension, natural
// language inference, sentiment analysis, syntax phenomena), matched on the
// task name's prefix (blimp_*, crows_pairs_*, ...); "" when unknown.
std::string TaskCategory(const std::string& task);

// Every (model, method, bits, shots) block as heatmap data (the HTML
// tables are drawn from these), with the results tables' statistics;
// HeatmapsOf keeps the calibrated ones, CalibratedGrids likewise from grids
// already built (the statistics are computed once).
std::vector<HeatmapFigure> ResultGridsOf(
    const std::vector<coordinator::ResultRow>& rows);
std::vector<HeatmapFigure> HeatmapsOf(
    const std::vector<coordinator::ResultRow>& rows);
std::vector<HeatmapFigure> CalibratedGrids(std::vector<HeatmapFigure> grids);

std::vector<BarFigure> Figure2Of(
    const std::vector<coordinator::ResultRow>& rows,
    const std::map<std::string, std::string>& category_of_test);

std::vector<ScatterFigure> PerplexityVsAccuracyOf(
    const std::vector<coordinator::ResultRow>& rows);

}  // namespace qgrid::report

#endif  // QGRID_REPORT_FIGURE_DATA_H_
