#include "eval/metrics.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <map>
#include <sstream>

namespace qgrid::eval {

double Mean(const std::vector<double>& v) {
  if (v.empty()) return 0;
  double s = 0;
  for (double x : v) s += x;
  return s / static_cast<double>(v.size());
}

double MeanStderr(const std::vector<double>& v) {
  size_t n = v.size();
  if (n < 2) return 0;
  double m = Mean(v), ss = 0;
  for (double x : v) ss += (x - m) * (x - m);
  return std::sqrt(ss / static_cast<double>(n - 1)) /
         std::sqrt(static_cast<double>(n));
}

int Argmax(const std::vector<double>& v) {
  if (v.empty()) return -1;
  int best = 0;
  for (size_t i = 1; i < v.size(); ++i)
    if (v[i] > v[best]) best = static_cast<int>(i);
  return best;
}

int64_t Utf8Length(const std::string& s) {
  int64_t n = 0;
  for (unsigned char c : s)
    if ((c & 0xC0) != 0x80) ++n;
  return n;
}

std::string NormalizeSquadAnswer(const std::string& s) {
  // lower, then remove punctuation (string.punctuation is ASCII only).
  std::string t;
  for (unsigned char c : s) {
    if (c < 0x80 && std::ispunct(c)) continue;
    t += static_cast<char>(c < 0x80 ? std::tolower(c) : c);
  }
  // Tokens split on whitespace drop the articles and join with one space.
  std::istringstream in(t);
  std::string w, out;
  while (in >> w) {
    if (w == "a" || w == "an" || w == "the") continue;
    if (!out.empty()) out += ' ';
    out += w;
  }
  return out;
}

namespace {
std::vector<std::string> Tokens(const std::string& s) {
  std::istringstream in(NormalizeSquadAnswer(s));
  std::vector<std::string> out;
  std::string w;
  while (in >> w) out.push_back(w);
  return out;
}

double F1One(const std::string& pred, const std::string& gold) {
  auto p = Tokens(pred), g = Tokens(gold);
  // Official: if either is empty, F1 = 1 when both are empty, else 0.
  if (p.empty() || g.empty()) return p.empty() && g.empty() ? 1.0 : 0.0;
  std::map<std::string, int> count;
  for (const auto& t : g) ++count[t];
  int common = 0;
  for (const auto& t : p)
    if (count[t]-- > 0) ++common;
  if (common == 0) return 0;
  double precision = static_cast<double>(common) / p.size();
  double recall = static_cast<double>(common) / g.size();
  return 2 * precision * recall / (precision + recall);
}
}  // namespace

double SquadExactMatch(const std::string& prediction,
                       const std::vector<std::string>& golds) {
  // Unanswerable questions are scored against the empty answer.
  if (golds.empty()) return NormalizeSquadAnswer(prediction).empty() ? 1 : 0;
  std::string p = NormalizeSquadAnswer(prediction);
  for (const auto& g : golds)
    if (p == NormalizeSquadAnswer(g)) return 1;
  return 0;
}

double SquadF1(const std::string& prediction,
               const std::vector<std::string>& golds) {
  if (golds.empty()) return F1One(prediction, "");
  double best = 0;
  for (const auto& g : golds) best = std::max(best, F1One(prediction, g));
  return best;
}

std::string LastNumber(const std::string& text) {
  std::string best, cur;
  auto flush = [&] {
    while (!cur.empty() && (cur.back() == '.' || cur.back() == ','))
      cur.pop_back();
    bool digit = false;
    for (char c : cur) digit |= std::isdigit(static_cast<unsigned char>(c));
    if (digit) best = cur;
    cur.clear();
  };
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (std::isdigit(static_cast<unsigned char>(c)) ||
        ((c == '.' || c == ',') && !cur.empty()) ||
        (c == '-' && cur.empty() && i + 1 < text.size() &&
         std::isdigit(static_cast<unsigned char>(text[i + 1])))) {
      cur += c;
    } else if (c == '$' && cur.empty()) {
      continue;
    } else {
      flush();
    }
  }
  flush();
  std::string out;
  for (char c : best)
    if (c != ',') out += c;
  return out;
}

double NumberExactMatch(const std::string& prediction,
                        const std::string& gold) {
  size_t hash = gold.find("####");
  std::string g =
      LastNumber(hash == std::string::npos ? gold : gold.substr(hash + 4));
  std::string p = LastNumber(prediction);
  return !g.empty() && p == g ? 1.0 : 0.0;
}

int64_t CountWords(const std::string& text) {
  // re.split(r"\s+") yields one more piece than there are whitespace runs
  // (empty pieces at the ends included).
  int64_t runs = 0;
  bool in_ws = false;
  for (unsigned char c : text) {
    bool ws = std::isspace(c);
    if (ws && !in_ws) ++runs;
    in_ws = ws;
  }
  return runs + 1;
}

double RollingTotals::WordPerplexity() const {
  return std::exp(-loglikelihood / static_cast<double>(words));
}
double RollingTotals::BytePerplexity() const {
  return std::exp(-loglikelihood / static_cast<double>(bytes));
}
double RollingTotals::BitsPerByte() const {
  return -loglikelihood / (static_cast<double>(bytes) * std::log(2.0));
}

double Mc2TrueMass(const std::vector<double>& ll,
                   const std::vector<int>& labels) {
  if (ll.empty()) return 0;
  const double mx = *std::max_element(ll.begin(), ll.end());
  double total = 0, truth = 0;
  for (size_t i = 0; i < ll.size(); ++i) {
    double p = std::exp(ll[i] - mx);
    total += p;
    if (i < labels.size() && labels[i] == 1) truth += p;
  }
  return truth / total;
}

RankMetrics GoldRankMetrics(const std::vector<double>& ll, int gold) {
  RankMetrics m;
  if (gold < 0 || gold >= static_cast<int>(ll.size())) return m;
  int rank = 0;
  for (double v : ll) rank += v > ll[gold];
  m.r1 = Argmax(ll) == gold ? 1.0 : 0.0;
  m.r2 = m.r1 + (rank == 1 ? 1.0 : 0.0);
  m.mrr = 1.0 / (rank + 1);
  return m;
}

double BinaryF1(const std::vector<int>& golds, const std::vector<int>& preds) {
  int64_t tp = 0, fp = 0, fn = 0;
  for (size_t i = 0; i < golds.size() && i < preds.size(); ++i) {
    tp += golds[i] == 1 && preds[i] == 1;
    fp += golds[i] != 1 && preds[i] == 1;
    fn += golds[i] == 1 && preds[i] != 1;
  }
  if (tp + fp + fn == 0) return 0;
  return 2.0 * tp / (2.0 * tp + fp + fn);
}

}  // namespace qgrid::eval
