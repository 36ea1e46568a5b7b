#include "report/correlation.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "absl/strings/str_cat.h"

namespace qgrid::report {

std::vector<double> AverageRanks(const std::vector<double>& v) {
  std::vector<size_t> order(v.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(),
                   [&v](size_t a, size_t b) { return v[a] < v[b]; });
  std::vector<double> ranks(v.size());
  for (size_t i = 0; i < order.size();) {
    size_t j = i;
    while (j + 1 < order.size() && v[order[j + 1]] == v[order[i]]) ++j;
    // Positions i..j (0-based) hold ranks i+1..j+1; their mean.
    double r = (static_cast<double>(i + 1) + static_cast<double>(j + 1)) / 2;
    for (size_t k = i; k <= j; ++k) ranks[order[k]] = r;
    i = j + 1;
  }
  return ranks;
}

absl::StatusOr<double> PearsonCorrelation(const std::vector<double>& x,
                                          const std::vector<double>& y) {
  if (x.size() != y.size()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "correlation: ", x.size(), " x values but ", y.size(), " y values"));
  }
  if (x.size() < 3) {
    return absl::InvalidArgumentError(
        absl::StrCat("correlation: needs at least 3 pairs, got ", x.size()));
  }
  for (size_t i = 0; i < x.size(); ++i) {
    if (!std::isfinite(x[i]) || !std::isfinite(y[i])) {
      return absl::InvalidArgumentError(
          absl::StrCat("correlation: pair ", i, " is not finite"));
    }
  }
  const double n = static_cast<double>(x.size());
  const double mx = std::accumulate(x.begin(), x.end(), 0.0) / n;
  const double my = std::accumulate(y.begin(), y.end(), 0.0) / n;
  double sxy = 0, sxx = 0, syy = 0;
  for (size_t i = 0; i < x.size(); ++i) {
    sxy += (x[i] - mx) * (y[i] - my);
    sxx += (x[i] - mx) * (x[i] - mx);
    syy += (y[i] - my) * (y[i] - my);
  }
  if (sxx == 0 || syy == 0) {
    return absl::InvalidArgumentError(
        "correlation: one side is constant (undefined)");
  }
  return std::clamp(sxy / std::sqrt(sxx * syy), -1.0, 1.0);
}

absl::StatusOr<double> SpearmanCorrelation(const std::vector<double>& x,
                                           const std::vector<double>& y) {
  if (x.size() != y.size()) return PearsonCorrelation(x, y);  // its message
  for (size_t i = 0; i < x.size(); ++i) {
    if (!std::isfinite(x[i]) || !std::isfinite(y[i])) {
      return PearsonCorrelation(x, y);
    }
  }
  return PearsonCorrelation(AverageRanks(x), AverageRanks(y));
}

}  // namespace qgrid::report
