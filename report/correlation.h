// Correlation coefficients for the perplexity-vs-accuracy analysis of
// arXiv 2402.16775 (does a quantized variant's perplexity predict its task
// accuracy?): Pearson's r on the values and Spearman's rho as Pearson's r
// on the ranks, ties given their average rank (the definition scipy.stats
// uses, so values agree with a reviewer's check). Pure; thread-safe.
#ifndef QGRID_REPORT_CORRELATION_H_
#define QGRID_REPORT_CORRELATION_H_

#include <vector>

#include "absl/status/statusor.h"

namespace qgrid::report {

// 1-based ranks, ties sharing the mean of the ranks they span
// ({10, 20, 20, 30} -> {1, 2.5, 2.5, 4}).
std::vector<double> AverageRanks(const std::vector<double>& v);

// InvalidArgument when the sizes differ, fewer than 3 pairs are given, a
// value is not finite, or either side is constant (r undefined).
absl::StatusOr<double> PearsonCorrelation(const std::vector<double>& x,
                                          const std::vector<double>& y);
absl::StatusOr<double> SpearmanCorrelation(const std::vector<double>& x,
                                           const std::vector<double>& y);

}  // namespace qgrid::report

#endif  // QGRID_REPORT_CORRELATION_H_
