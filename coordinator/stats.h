// Statistics of result cells from their per-item scores: the standard error
// of a metric, the paired bootstrap confidence interval of the difference of
// two cells scored on the same items, recovery against a baseline and the
// per-item flip rate. Torch-free and pure; thread-safe.
//
// A cell's per-item scores (ItemScores) are what eval/ records when asked
// for item scores (EvalOptions::item_scores) and the worker stores in the
// result's eval_json under "items": {task: {metric: ...}}, one of
//   "0110..."                        0/1 per item (acc, acc_norm, ...)
//   [0.5, 1, ...]                    a real score per item (f1, ...)
//   {"nll": [..], "den": [..] | k,   a ratio metric: per item (perplexity
//    "agg": "exp" | "bits"}          window / document) its negative log-
//                                    likelihood in nats and its count of
//                                    predicted tokens, words or bytes (k:
//                                    the same count for every item).
// The metric of a cell is then
//   mean:  sum(x) / n
//   exp:   exp(sum(nll) / sum(den))            (perplexities)
//   bits:  sum(nll) / sum(den) / ln 2           (bits per byte)
#ifndef QGRID_COORDINATOR_STATS_H_
#define QGRID_COORDINATOR_STATS_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"

namespace qgrid::coordinator {

enum class Aggregation { kMean, kExp, kBits };

struct ItemScores {
  Aggregation agg = Aggregation::kMean;
  std::vector<double> x;    // mean: the score; exp/bits: the item's NLL
  std::vector<double> den;  // exp/bits: the item's count (empty for mean)
  bool binary = false;      // every x is 0 or 1 (correctness; flips defined)
  size_t n() const { return x.size(); }
  // The cell's metric recomputed from its items.
  double Value() const;
};

// Parses one metric's entry of "items" (the forms above). `where` names it
// in errors (e.g. "job 12: items.arc_easy.acc").
absl::StatusOr<ItemScores> ParseItemScores(const nlohmann::json& j,
                                           const std::string& where);

// The compact JSON form of `s` (ParseItemScores' inverse); tests and
// benchmarks build results with it.
nlohmann::json ItemScoresToJson(const ItemScores& s);

// The standard error of the metric.
//   mean: lm-eval's mean_stderr, sqrt(sample_variance / n) with the sample
//         variance's n - 1 denominator (NaN for n < 2).
//   exp/bits: lm-eval reports none for perplexity; we use the delta method
//         for a ratio estimator, items (windows, documents) being the
//         independent units: r = sum(nll) / sum(den),
//         se(r) = sqrt(sum((nll_i - r den_i)^2) / (n (n - 1))) / mean(den),
//         then se(exp r) = exp(r) se(r), se(r / ln 2) = se(r) / ln 2. Chosen
//         over a bootstrap because it is closed-form (cheap at table time
//         for thousands of cells) and deterministic; it agrees with a
//         bootstrap standard error to a few percent for tens of windows
//         (tests/coordinator/stats_test.cc checks this).
double Stderr(const ItemScores& s);

struct PairedDiff {
  double diff = 0;           // Value(other) - Value(ref)
  double ci_low = 0;         // 2.5th percentile of the bootstrap differences
  double ci_high = 0;        // 97.5th percentile
  bool significant = false;  // the interval excludes 0
};

// Paired bootstrap of Value(other) - Value(ref) for each of `others` at
// once: `resamples` times, n item indices are drawn with replacement (the
// same indices for ref and every other cell: the same items were scored in
// each), every cell's metric is recomputed on the resample (ratio metrics:
// exp(sum nll / sum den) over the drawn windows), and the 95% percentile
// interval of the differences is taken (linear interpolation between order
// statistics, numpy's default). Deterministic: a splitmix64 stream seeded
// with `seed`. InvalidArgument when the cells' item counts or aggregations
// differ, or n < 2 (one item
// resamples to itself: a zero-width interval), or resamples < 1.
absl::StatusOr<std::vector<PairedDiff>> PairedBootstrap(
    const ItemScores& ref, const std::vector<const ItemScores*>& others,
    int resamples = 2000, uint64_t seed = 20240617);

// The bootstrap distribution of every cell's metric on shared resamples:
// out[c][b] = Value of cells[c] on the b-th draw of n item indices (the same
// draw for every cell, as PairedBootstrap). One pass for a whole table row,
// from which DiffInterval gives any pair's interval. Same errors.
absl::StatusOr<std::vector<std::vector<double>>> BootstrapValues(
    const std::vector<const ItemScores*>& cells, int resamples = 2000,
    uint64_t seed = 20240617);

// The paired difference other - ref with its 95% percentile interval from
// BootstrapValues' rows of the two cells.
PairedDiff DiffInterval(const ItemScores& ref,
                        const std::vector<double>& ref_boot,
                        const ItemScores& other,
                        const std::vector<double>& other_boot);

// Recovery of `value` against the baseline's, in percent, higher is better:
// value / base * 100, or for lower-is-better metrics (perplexity)
// base / value * 100 (a quantized model at 1.25x the FP16 perplexity
// recovers 80%). NaN when a denominator is 0 or either is NaN.
double Recovery(double value, double base, bool lower_is_better);

// The fraction of items whose 0/1 correctness differs between `a` and `b`
// (both binary, same n); NaN otherwise.
double FlipRate(const ItemScores& a, const ItemScores& b);

}  // namespace qgrid::coordinator

#endif  // QGRID_COORDINATOR_STATS_H_
