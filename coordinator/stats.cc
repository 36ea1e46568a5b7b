#include "coordinator/stats.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/str_cat.h"

namespace qgrid::coordinator {
namespace {

using json = nlohmann::json;

double Finish(Aggregation agg, double num, double den) {
  switch (agg) {
    case Aggregation::kMean:
      return num / den;
    case Aggregation::kExp:
      return std::exp(num / den);
    case Aggregation::kBits:
      return num / den / std::log(2.0);
  }
  return NAN;
}

// splitmix64 (Steele, Lea, Flood 2014): a tiny generator whose stream is the
// same on every platform, unlike std::uniform_int_distribution's.
struct SplitMix64 {
  uint64_t state;
  uint64_t Next() {
    uint64_t z = (state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
  // Uniform in [0, n) by Lemire's multiply-shift (bias < n / 2^64).
  size_t Below(size_t n) {
    return static_cast<size_t>((static_cast<unsigned __int128>(Next()) * n) >>
                               64);
  }
};

// numpy.percentile's default (linear) on sorted `v`.
double Percentile(const std::vector<double>& v, double q) {
  const double pos = q * static_cast<double>(v.size() - 1);
  const size_t lo = static_cast<size_t>(std::floor(pos));
  const size_t hi = std::min(lo + 1, v.size() - 1);
  return v[lo] + (pos - static_cast<double>(lo)) * (v[hi] - v[lo]);
}

absl::StatusOr<std::vector<double>> Numbers(const json& j,
                                            const std::string& where) {
  if (!j.is_array()) {
    return absl::InvalidArgumentError(where + ": expected an array of numbers");
  }
  std::vector<double> out;
  out.reserve(j.size());
  for (size_t i = 0; i < j.size(); ++i) {
    if (!j[i].is_number()) {
      return absl::InvalidArgumentError(
          absl::StrCat(where, "[", i, "]: not a number"));
    }
    out.push_back(j[i].get<double>());
  }
  return out;
}

}  // namespace

double ItemScores::Value() const {
  if (x.empty()) return NAN;
  double num = 0, d = 0;
  for (double v : x) num += v;
  if (agg == Aggregation::kMean) {
    d = static_cast<double>(x.size());
  } else {
    for (double v : den) d += v;
  }
  return Finish(agg, num, d);
}

absl::StatusOr<ItemScores> ParseItemScores(const json& j,
                                           const std::string& where) {
  ItemScores s;
  if (j.is_string()) {
    const std::string& bits = j.get_ref<const std::string&>();
    s.binary = true;
    s.x.reserve(bits.size());
    for (size_t i = 0; i < bits.size(); ++i) {
      if (bits[i] != '0' && bits[i] != '1') {
        return absl::InvalidArgumentError(
            absl::StrCat(where, ": character ", i, " is '",
                         std::string(1, bits[i]), "', expected 0 or 1"));
      }
      s.x.push_back(bits[i] == '1' ? 1.0 : 0.0);
    }
    return s;
  }
  if (j.is_array()) {
    auto x = Numbers(j, where);
    if (!x.ok()) return x.status();
    s.x = std::move(*x);
    s.binary = std::all_of(s.x.begin(), s.x.end(),
                           [](double v) { return v == 0 || v == 1; });
    return s;
  }
  if (!j.is_object() || !j.contains("nll") || !j.contains("den")) {
    return absl::InvalidArgumentError(
        where + ": expected a 0/1 string, an array, or {nll, den, agg}");
  }
  const std::string agg = j.value("agg", "exp");
  if (agg == "exp") {
    s.agg = Aggregation::kExp;
  } else if (agg == "bits") {
    s.agg = Aggregation::kBits;
  } else {
    return absl::InvalidArgumentError(where + ".agg: '" + agg +
                                      "' (expected exp or bits)");
  }
  auto x = Numbers(j["nll"], where + ".nll");
  if (!x.ok()) return x.status();
  s.x = std::move(*x);
  if (j["den"].is_number()) {
    s.den.assign(s.x.size(), j["den"].get<double>());
  } else {
    auto d = Numbers(j["den"], where + ".den");
    if (!d.ok()) return d.status();
    if (d->size() != s.x.size()) {
      return absl::InvalidArgumentError(absl::StrCat(
          where, ".den: ", d->size(), " counts for ", s.x.size(), " items"));
    }
    s.den = std::move(*d);
  }
  for (size_t i = 0; i < s.den.size(); ++i) {
    if (!(s.den[i] > 0)) {
      return absl::InvalidArgumentError(
          absl::StrCat(where, ".den[", i, "]: count must be > 0"));
    }
  }
  return s;
}

json ItemScoresToJson(const ItemScores& s) {
  if (s.agg == Aggregation::kMean) {
    if (s.binary) {
      std::string bits;
      bits.reserve(s.x.size());
      for (double v : s.x) bits.push_back(v != 0 ? '1' : '0');
      return bits;
    }
    return s.x;
  }
  json j = {{"nll", s.x}, {"agg", s.agg == Aggregation::kExp ? "exp" : "bits"}};
  const bool same =
      !s.den.empty() && std::all_of(s.den.begin(), s.den.end(),
                                    [&](double d) { return d == s.den[0]; });
  j["den"] = same ? json(s.den[0]) : json(s.den);
  return j;
}

double Stderr(const ItemScores& s) {
  const size_t n = s.n();
  if (n < 2) return NAN;
  const double nd = static_cast<double>(n);
  if (s.agg == Aggregation::kMean) {
    double mean = 0;
    for (double v : s.x) mean += v;
    mean /= nd;
    double ss = 0;
    for (double v : s.x) ss += (v - mean) * (v - mean);
    return std::sqrt(ss / (nd - 1) / nd);
  }
  double num = 0, den = 0;
  for (size_t i = 0; i < n; ++i) {
    num += s.x[i];
    den += s.den[i];
  }
  const double r = num / den;
  double ss = 0;
  for (size_t i = 0; i < n; ++i) {
    const double e = s.x[i] - r * s.den[i];
    ss += e * e;
  }
  const double se_r = std::sqrt(ss / (nd * (nd - 1))) / (den / nd);
  return s.agg == Aggregation::kExp ? std::exp(r) * se_r : se_r / std::log(2.0);
}

absl::StatusOr<std::vector<std::vector<double>>> BootstrapValues(
    const std::vector<const ItemScores*>& cells, int resamples, uint64_t seed) {
  // One item resamples to itself: a zero-width interval that would call any
  // difference significant.
  if (cells.empty() || cells[0]->n() < 2) {
    return absl::InvalidArgumentError(
        absl::StrCat("bootstrap: needs at least 2 items, got ",
                     cells.empty() ? 0 : cells[0]->n()));
  }
  if (resamples < 1) {
    return absl::InvalidArgumentError("bootstrap: resamples must be >= 1");
  }
  const size_t n = cells[0]->n();
  const Aggregation agg = cells[0]->agg;
  for (const ItemScores* o : cells) {
    if (o->n() != n) {
      return absl::InvalidArgumentError(absl::StrCat(
          "bootstrap: the cells were scored on different item counts (", n,
          " and ", o->n(), "); a paired comparison needs the same items"));
    }
    if (o->agg != agg) {
      return absl::InvalidArgumentError(
          "bootstrap: the cells aggregate their items differently");
    }
  }
  const size_t k = cells.size();
  const bool ratio = agg != Aggregation::kMean;
  // Item-major copies (item i's k values side by side): one pass over a
  // resample's indices accumulates every cell.
  std::vector<double> xm(n * k), dm(ratio ? n * k : 0);
  for (size_t c = 0; c < k; ++c) {
    for (size_t i = 0; i < n; ++i) {
      xm[i * k + c] = cells[c]->x[i];
      // Per cell: counts agree when every cell tokenizes alike, but
      // nothing here needs them to.
      if (ratio) dm[i * k + c] = cells[c]->den[i];
    }
  }
  std::vector<std::vector<double>> out(k, std::vector<double>(resamples));
  SplitMix64 rng{seed};
  std::vector<double> num(k), den(k);
  for (int b = 0; b < resamples; ++b) {
    std::fill(num.begin(), num.end(), 0.0);
    std::fill(den.begin(), den.end(), ratio ? 0.0 : static_cast<double>(n));
    for (size_t j = 0; j < n; ++j) {
      const size_t i = rng.Below(n);
      const double* xi = &xm[i * k];
      for (size_t c = 0; c < k; ++c) num[c] += xi[c];
      if (ratio) {
        const double* di = &dm[i * k];
        for (size_t c = 0; c < k; ++c) den[c] += di[c];
      }
    }
    for (size_t c = 0; c < k; ++c) out[c][b] = Finish(agg, num[c], den[c]);
  }
  return out;
}

PairedDiff DiffInterval(const ItemScores& ref,
                        const std::vector<double>& ref_boot,
                        const ItemScores& other,
                        const std::vector<double>& other_boot) {
  std::vector<double> d(ref_boot.size());
  for (size_t b = 0; b < d.size(); ++b) d[b] = other_boot[b] - ref_boot[b];
  std::sort(d.begin(), d.end());
  PairedDiff p;
  p.diff = other.Value() - ref.Value();
  p.ci_low = Percentile(d, 0.025);
  p.ci_high = Percentile(d, 0.975);
  p.significant = p.ci_low > 0 || p.ci_high < 0;
  return p;
}

absl::StatusOr<std::vector<PairedDiff>> PairedBootstrap(
    const ItemScores& ref, const std::vector<const ItemScores*>& others,
    int resamples, uint64_t seed) {
  std::vector<const ItemScores*> cells = {&ref};
  cells.insert(cells.end(), others.begin(), others.end());
  auto boot = BootstrapValues(cells, resamples, seed);
  if (!boot.ok()) return boot.status();
  std::vector<PairedDiff> out;
  for (size_t c = 0; c < others.size(); ++c) {
    out.push_back(DiffInterval(ref, (*boot)[0], *others[c], (*boot)[c + 1]));
  }
  return out;
}

double Recovery(double value, double base, bool lower_is_better) {
  if (std::isnan(value) || std::isnan(base)) return NAN;
  if (lower_is_better) return value == 0 ? NAN : base / value * 100;
  return base == 0 ? NAN : value / base * 100;
}

double FlipRate(const ItemScores& a, const ItemScores& b) {
  if (!a.binary || !b.binary || a.n() != b.n() || a.n() == 0) return NAN;
  size_t flips = 0;
  for (size_t i = 0; i < a.n(); ++i) flips += a.x[i] != b.x[i];
  return static_cast<double>(flips) / static_cast<double>(a.n());
}

}  // namespace qgrid::coordinator
