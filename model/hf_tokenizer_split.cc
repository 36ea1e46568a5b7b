#include "model/hf_tokenizer_split.h"

#include <algorithm>
#include <string>

#include "model/unicode.h"

namespace qgrid::model::hf {

namespace {

constexpr std::string_view kGpt2Regex =
    R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";
constexpr std::string_view kLlama3Regex =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
constexpr std::string_view kQwen2Regex =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";

// Per-character classes of the decoded text.
enum : unsigned char { kL = 1, kN = 2, kS = 4, kCrLf = 8 };

struct Decoded {
  std::vector<char32_t> cp;
  std::vector<unsigned char> cls;
  std::vector<size_t> off;  // byte offset of char i; off[n] = text size
};

Decoded Decode(std::string_view text) {
  Decoded d;
  d.cp.reserve(text.size());
  d.cls.reserve(text.size());
  d.off.reserve(text.size() + 1);
  for (size_t i = 0; i < text.size();) {
    unicode::DecodedChar c = unicode::DecodeAt(text, i);
    unsigned char k = 0;
    if (c.cp < unicode::kInvalidBase) {
      if (unicode::IsLetter(c.cp))
        k |= kL;
      else if (unicode::IsNumber(c.cp))
        k |= kN;
      else if (unicode::IsWhitespace(c.cp))
        k |= kS;
      if (c.cp == '\r' || c.cp == '\n') k |= kCrLf;
    }
    d.cp.push_back(c.cp);
    d.cls.push_back(k);
    d.off.push_back(i);
    i += c.len;
  }
  d.off.push_back(text.size());
  return d;
}

bool IsOther(unsigned char k) { return (k & (kL | kN | kS)) == 0; }

char32_t Lower(char32_t c) { return (c >= 'A' && c <= 'Z') ? c + 32 : c; }

// Length (in chars) of a contraction at i, or 0.
size_t Contraction(const Decoded& d, size_t i, bool ignore_case) {
  const size_t n = d.cp.size();
  if (d.cp[i] != '\'' || i + 1 >= n) return 0;
  auto at = [&](size_t k) { return ignore_case ? Lower(d.cp[k]) : d.cp[k]; };
  char32_t a = at(i + 1);
  if (a == 's' || a == 't' || a == 'm' || a == 'd') return 2;
  if (i + 2 < n) {
    char32_t b = at(i + 2);
    if ((a == 'r' && b == 'e') || (a == 'v' && b == 'e') ||
        (a == 'l' && b == 'l')) {
      return 3;
    }
  }
  return 0;
}

// End of the run of chars from i satisfying pred.
template <typename Pred>
size_t RunEnd(const Decoded& d, size_t i, Pred pred) {
  while (i < d.cp.size() && pred(d.cls[i])) ++i;
  return i;
}

// `\s+(?!\S)|\s+` at i (d.cls[i] is whitespace).
size_t WhitespaceTail(const Decoded& d, size_t i) {
  size_t j = RunEnd(d, i, [](unsigned char k) { return (k & kS) != 0; });
  if (j == d.cp.size()) return j;
  return j - 1 > i ? j - 1 : j;
}

size_t MatchGpt2(const Decoded& d, size_t i) {
  const size_t n = d.cp.size();
  if (size_t c = Contraction(d, i, false)) return i + c;
  auto is_l = [](unsigned char k) { return (k & kL) != 0; };
  auto is_n = [](unsigned char k) { return (k & kN) != 0; };
  size_t j = (d.cp[i] == ' ' && i + 1 < n) ? i + 1 : i;
  if (is_l(d.cls[j])) return RunEnd(d, j, is_l);
  if (is_n(d.cls[j])) return RunEnd(d, j, is_n);
  if (IsOther(d.cls[j])) return RunEnd(d, j, IsOther);
  // j == i + 1 and d.cls[j] is whitespace, or d.cls[i] is whitespace.
  return WhitespaceTail(d, i);
}

size_t MatchLlama3(const Decoded& d, size_t i, size_t max_digits) {
  const size_t n = d.cp.size();
  if (size_t c = Contraction(d, i, true)) return i + c;
  auto is_l = [](unsigned char k) { return (k & kL) != 0; };
  const unsigned char k0 = d.cls[i];
  // [^\r\n\p{L}\p{N}]?\p{L}+
  if (!(k0 & (kCrLf | kL | kN)) && i + 1 < n && is_l(d.cls[i + 1])) {
    return RunEnd(d, i + 1, is_l);
  }
  if (k0 & kL) return RunEnd(d, i, is_l);
  // \p{N}{1,max}
  if (k0 & kN) {
    size_t j = i;
    while (j < n && (d.cls[j] & kN) && j - i < max_digits) ++j;
    return j;
  }
  //  ?[^\s\p{L}\p{N}]+[\r\n]*
  size_t j = (d.cp[i] == ' ' && i + 1 < n && IsOther(d.cls[i + 1])) ? i + 1 : i;
  if (IsOther(d.cls[j])) {
    j = RunEnd(d, j, IsOther);
    return RunEnd(d, j, [](unsigned char k) { return (k & kCrLf) != 0; });
  }
  // \s*[\r\n]+ : through the last CR/LF of the whitespace run.
  size_t end = RunEnd(d, i, [](unsigned char k) { return (k & kS) != 0; });
  for (size_t k = end; k > i; --k) {
    if (d.cls[k - 1] & kCrLf) return k;
  }
  return WhitespaceTail(d, i);
}

}  // namespace

std::optional<SplitRegex> RecognizeSplitRegex(std::string_view regex) {
  if (regex == kGpt2Regex) return SplitRegex::kGpt2;
  if (regex == kLlama3Regex) return SplitRegex::kLlama3;
  if (regex == kQwen2Regex) return SplitRegex::kQwen2;
  return std::nullopt;
}

std::vector<Range> FindRegexMatches(SplitRegex re, std::string_view text) {
  Decoded d = Decode(text);
  std::vector<Range> out;
  const size_t n = d.cp.size();
  for (size_t i = 0; i < n;) {
    size_t e;
    switch (re) {
      case SplitRegex::kGpt2:
        e = MatchGpt2(d, i);
        break;
      case SplitRegex::kLlama3:
        e = MatchLlama3(d, i, 3);
        break;
      case SplitRegex::kQwen2:
      default:
        e = MatchLlama3(d, i, 1);
        break;
    }
    if (e <= i) {  // no alternative matched here; cannot happen, but be safe
      ++i;
      continue;
    }
    out.emplace_back(d.off[i], d.off[e]);
    i = e;
  }
  return out;
}

std::vector<Range> SplitByMatches(size_t len, const std::vector<Range>& matches,
                                  SplitBehavior behavior, bool invert) {
  // The whole string as alternating (range, is_match) parts.
  std::vector<std::pair<Range, bool>> parts;
  size_t pos = 0;
  for (const Range& m : matches) {
    if (m.first > pos) parts.push_back({{pos, m.first}, false});
    if (m.second > m.first) parts.push_back({m, true});
    pos = m.second;
  }
  if (pos < len) parts.push_back({{pos, len}, false});
  if (invert) {
    for (auto& p : parts) p.second = !p.second;
  }
  std::vector<Range> out;
  switch (behavior) {
    case SplitBehavior::kRemoved:
      for (const auto& [r, is_match] : parts) {
        if (!is_match) out.push_back(r);
      }
      break;
    case SplitBehavior::kIsolated:
      for (const auto& p : parts) out.push_back(p.first);
      break;
    case SplitBehavior::kMergedWithPrevious: {
      bool prev_match = false;
      for (const auto& [r, is_match] : parts) {
        if (is_match && !prev_match && !out.empty()) {
          out.back().second = r.second;
        } else {
          out.push_back(r);
        }
        prev_match = is_match;
      }
      break;
    }
    case SplitBehavior::kMergedWithNext: {
      bool prev_match = false;
      for (auto it = parts.rbegin(); it != parts.rend(); ++it) {
        const auto& [r, is_match] = *it;
        if (is_match && !prev_match && !out.empty()) {
          out.back().first = r.first;
        } else {
          out.push_back(r);
        }
        prev_match = is_match;
      }
      std::reverse(out.begin(), out.end());
      break;
    }
    case SplitBehavior::kContiguous: {
      bool prev_match = false;
      for (const auto& [r, is_match] : parts) {
        if (!out.empty() && is_match && prev_match) {
          out.back().second = r.second;
        } else {
          out.push_back(r);
        }
        prev_match = is_match;
      }
      break;
    }
  }
  std::vector<Range> nonempty;
  for (const Range& r : out) {
    if (r.second > r.first) nonempty.push_back(r);
  }
  return nonempty;
}

}  // namespace qgrid::model::hf
