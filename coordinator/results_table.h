// Result tables in the paper's layout (arXiv 2406.12928, Tables 2-5): for each
// (model, method, bits, shots) and each test set, one column per calibration
// set; the I.I.D cell (calibration set of the test's domain) is marked with a
// dagger and the best cell of the row is bold. A summary says how often the
// I.I.D calibration set is the best and the mean OOD - I.I.D gap.
// json and csv give tidy rows (one per job and metric) for other analyses.
// Repeats/seeds of a cell are averaged. Pure functions; thread-safe.
//
// Statistics (coordinator/stats.h), from the per-item scores a result
// carries (ResultRow::items; results from before they were recorded show
// "n/a" where a statistic needs them):
//   - every value with its standard error and item count n;
//   - per row (test x model x method x bits x shots), each calibration
//     cell's difference from the I.I.D cell with a paired bootstrap 95% CI
//     over the test items (kBootstrapResamples, seeded), marked significant
//     when the CI excludes 0;
//   - "best" marks on every cell not significantly worse than the best
//     cell (paired bootstrap against it; without items: exact ties);
//   - against the FP16 cell (method "fp16" or "none") of the same model,
//     test and shots: recovery (% of the FP16 score; perplexity-like
//     metrics FP16 / value x 100, so higher is better everywhere) and the
//     flip rate (fraction of items whose 0/1 correctness changed);
//   - the summary counts rows where I.I.D is significantly best, rows where
//     another cell is significantly better, and ties within noise.
// csv/json rows add n, stderr, diff_vs_iid, ci_low, ci_high, significant,
// best, recovery, flip_rate (null/empty when not defined).
#ifndef QGRID_COORDINATOR_RESULTS_TABLE_H_
#define QGRID_COORDINATOR_RESULTS_TABLE_H_

#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"

namespace qgrid::coordinator {

struct ResultRow {
  int64_t job_id = 0;
  nlohmann::json labels;  // model, method, bits, calibration, test, shots,
                          // seed, repeat, iid (see sweep_spec.h)
  std::string state;      // done, pending, ...
  std::string worker_id;  // who produced the result (tidy rows)
  int attempt = 0;
  std::map<std::string, double> metrics;
  // Per-item scores of the job's task: {metric: compact form} (stats.h);
  // null for results without them.
  nlohmann::json items;
};

// Bootstrap resamples per row, and the seed (the same for every row, so a
// table is reproducible).
inline constexpr int kBootstrapResamples = 1000;
inline constexpr uint64_t kBootstrapSeed = 20240617;

// Lower is better for perplexity/loss-like metrics, higher otherwise.
bool LowerIsBetter(const std::string& metric);

// The headline metric among `rows`' metrics: perplexity (ppl, perplexity,
// word/byte perplexity, bits per byte), else acc_norm, acc, f1, exact_match,
// number_match, else the first name in order.
std::string DefaultMetric(const std::vector<ResultRow>& rows);

// What a table shows when no --metric is given: each test set its own
// headline metric (DefaultMetric over that test's rows), so that a sweep
// mixing perplexity and multiple-choice tests shows both.
std::map<std::string, std::string> DefaultMetricPerTest(
    const std::vector<ResultRow>& rows);

// The statistics of each job's cell under `metric_of` (test -> metric;
// empty: DefaultMetricPerTest), keyed by job id: {n, stderr, diff_vs_iid,
// ci_low, ci_high, significant, best, recovery, flip_rate}, null where not
// defined: the fields of the tidy csv/json rows. For other renderers (the
// HTML report's figures), so that every view shows the same statistics.
absl::StatusOr<std::map<int64_t, nlohmann::json>> CellStatsByJob(
    const std::vector<ResultRow>& rows,
    const std::map<std::string, std::string>& metric_of);

// format: table | markdown | csv | json | latex. `metric` "" = each test set
// its own metric (DefaultMetricPerTest), the best cell following that
// metric's direction; else that metric for every row. `ansi`: bold with
// terminal escapes in "table" (else the best cell is marked with '*').
absl::StatusOr<std::string> RenderResults(const std::vector<ResultRow>& rows,
                                          const std::string& metric,
                                          const std::string& format,
                                          const std::string& sweep_id = "",
                                          bool ansi = false);

}  // namespace qgrid::coordinator

#endif  // QGRID_COORDINATOR_RESULTS_TABLE_H_
