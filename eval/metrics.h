// Metrics, with lm-evaluation-harness / official-script semantics.
//
// - Standard error of a mean = sample standard deviation (n-1) / sqrt(n)
//   (lm-eval's mean_stderr).
// - SQuAD answer normalization (official evaluate-v2.0.py): lowercase,
//   remove ASCII punctuation, remove the articles a/an/the, collapse
//   whitespace. Exact match and token F1 take the max over gold answers;
//   an empty gold list means "unanswerable" and only the empty prediction
//   scores.
// - Rolling perplexities (lm-eval's wikitext task): word_perplexity =
//   exp(-sum ll / words), byte_perplexity = exp(-sum ll / bytes),
//   bits_per_byte = -sum ll / (bytes * ln 2), words counted as
//   len(re.split(r"\s+", doc)).
//
// Thread-safety: pure functions.
#ifndef QGRID_EVAL_METRICS_H_
#define QGRID_EVAL_METRICS_H_

#include <cstdint>
#include <string>
#include <vector>

namespace qgrid::eval {

double Mean(const std::vector<double>& v);
// Sample std (ddof=1) / sqrt(n); 0 when n < 2.
double MeanStderr(const std::vector<double>& v);

// Index of the max (first on ties, like numpy.argmax); -1 when empty.
int Argmax(const std::vector<double>& v);

// Unicode code points in UTF-8 `s` (Python's len(str)).
int64_t Utf8Length(const std::string& s);

std::string NormalizeSquadAnswer(const std::string& s);
double SquadExactMatch(const std::string& prediction,
                       const std::vector<std::string>& golds);
double SquadF1(const std::string& prediction,
               const std::vector<std::string>& golds);

// GSM8K-style final-number match: the last number in `prediction` (commas
// and '$' removed, a trailing '.' dropped) equals the number after "####"
// in `gold` (else its last number). lm-eval's "flexible-extract".
double NumberExactMatch(const std::string& prediction, const std::string& gold);
std::string LastNumber(const std::string& text);

// TruthfulQA MC2 (lm-eval truthfulqa/utils.py process_results_mc2): the
// probability mass of the true answers (labels[i] == 1) after normalising
// exp(ll) over all choices. Computed with a max shift (lm-eval exponentiates
// directly, which gives 0/0 when every ll underflows; equal otherwise).
double Mc2TrueMass(const std::vector<double>& ll,
                   const std::vector<int>& labels);

// MuTual's ranking metrics (lm-eval mutual/utils.py): r@1 = the argmax is
// gold; rank = how many choices score strictly higher than gold; r@2 =
// r@1 + (rank == 1); mrr = 1 / (rank + 1).
struct RankMetrics {
  double r1 = 0, r2 = 0, mrr = 0;
};
RankMetrics GoldRankMetrics(const std::vector<double>& ll, int gold);

// Binary F1 with 1 as the positive class (lm-eval's f1 aggregation is
// sklearn.metrics.f1_score(golds, preds)): 2tp / (2tp + fp + fn), 0 when
// there is no positive at all.
double BinaryF1(const std::vector<int>& golds, const std::vector<int>& preds);

// Words as lm-eval counts them: len(re.split(r"\s+", text)).
int64_t CountWords(const std::string& text);

struct RollingTotals {
  double loglikelihood = 0;  // natural log, summed over docs
  int64_t words = 0, bytes = 0;
  double WordPerplexity() const;
  double BytePerplexity() const;
  double BitsPerByte() const;
};

}  // namespace qgrid::eval

#endif  // QGRID_EVAL_METRICS_H_
