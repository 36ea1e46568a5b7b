#include "model/unicode.h"

#include <algorithm>
#include <utility>
#include <vector>

#include "model/unicode_tables.h"

namespace qgrid::model::unicode {

DecodedChar DecodeAt(std::string_view s, size_t i) {
  const auto b0 = static_cast<unsigned char>(s[i]);
  if (b0 < 0x80) return {b0, 1};
  int len;
  char32_t cp, min;
  if ((b0 & 0xE0) == 0xC0) {
    len = 2, cp = b0 & 0x1F, min = 0x80;
  } else if ((b0 & 0xF0) == 0xE0) {
    len = 3, cp = b0 & 0x0F, min = 0x800;
  } else if ((b0 & 0xF8) == 0xF0) {
    len = 4, cp = b0 & 0x07, min = 0x10000;
  } else {
    return {kInvalidBase + b0, 1};
  }
  if (i + len > s.size()) return {kInvalidBase + b0, 1};
  for (int k = 1; k < len; ++k) {
    const auto b = static_cast<unsigned char>(s[i + k]);
    if ((b & 0xC0) != 0x80) return {kInvalidBase + b0, 1};
    cp = (cp << 6) | (b & 0x3F);
  }
  // Overlong forms, surrogates and values past U+10FFFF are invalid.
  if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
    return {kInvalidBase + b0, 1};
  }
  return {cp, len};
}

void AppendUtf8(char32_t cp, std::string* out) {
  if (cp >= kInvalidBase) {
    out->push_back(static_cast<char>(cp - kInvalidBase));
  } else if (cp < 0x80) {
    out->push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out->push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out->push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out->push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

namespace {

bool InTable(char32_t cp, const CodePointRange* t, size_t n) {
  // First range whose hi >= cp.
  const CodePointRange* end = t + n;
  const CodePointRange* it = std::lower_bound(
      t, end, cp, [](const CodePointRange& r, char32_t c) { return r.hi < c; });
  return it != end && it->lo <= cp;
}

}  // namespace

bool IsLetter(char32_t cp) {
  if (cp < 0x80) return (cp | 0x20) >= 'a' && (cp | 0x20) <= 'z';
  return InTable(cp, kLetter, kLetterSize);
}

bool IsNumber(char32_t cp) {
  if (cp < 0x80) return cp >= '0' && cp <= '9';
  return InTable(cp, kNumber, kNumberSize);
}

bool IsMark(char32_t cp) {
  if (cp < 0x300) return false;
  return InTable(cp, kMark, kMarkSize);
}

bool IsPunctuation(char32_t cp) {
  return InTable(cp, kPunctuation, kPunctuationSize);
}

bool IsWhitespace(char32_t cp) {
  if (cp < 0x80) return cp == ' ' || (cp >= 0x09 && cp <= 0x0D);
  switch (cp) {
    case 0x85:
    case 0xA0:
    case 0x1680:
    case 0x2028:
    case 0x2029:
    case 0x202F:
    case 0x205F:
    case 0x3000:
      return true;
    default:
      return cp >= 0x2000 && cp <= 0x200A;
  }
}

int CombiningClass(char32_t cp) {
  if (cp < 0x300) return 0;
  const CombiningClassRange* end = kCombiningClass + kCombiningClassSize;
  const CombiningClassRange* it = std::lower_bound(
      kCombiningClass, end, cp,
      [](const CombiningClassRange& r, char32_t c) { return r.hi < c; });
  return it != end && it->lo <= cp ? static_cast<int>(it->ccc) : 0;
}

namespace {

// Hangul syllable constants (Unicode ch. 3.12).
constexpr char32_t kSBase = 0xAC00, kLBase = 0x1100, kVBase = 0x1161,
                   kTBase = 0x11A7;
constexpr int kLCount = 19, kVCount = 21, kTCount = 28;
constexpr int kNCount = kVCount * kTCount, kSCount = kLCount * kNCount;

void Decompose(char32_t cp, std::vector<char32_t>* out) {
  if (cp >= kSBase && cp < kSBase + kSCount) {
    const int s = cp - kSBase;
    out->push_back(kLBase + s / kNCount);
    out->push_back(kVBase + (s % kNCount) / kTCount);
    if (s % kTCount) out->push_back(kTBase + s % kTCount);
    return;
  }
  const Decomposition* end = kDecomposition + kDecompositionSize;
  const Decomposition* it = std::lower_bound(
      kDecomposition, end, cp,
      [](const Decomposition& d, char32_t c) { return d.cp < c; });
  if (it == end || it->cp != cp) {
    out->push_back(cp);
    return;
  }
  Decompose(it->first, out);
  if (it->second) Decompose(it->second, out);
}

// The primary composite of (a, b), or 0.
char32_t Compose(char32_t a, char32_t b) {
  if (a >= kLBase && a < kLBase + kLCount && b >= kVBase &&
      b < kVBase + kVCount) {
    return kSBase + ((a - kLBase) * kVCount + (b - kVBase)) * kTCount;
  }
  if (a >= kSBase && a < kSBase + kSCount && (a - kSBase) % kTCount == 0 &&
      b > kTBase && b < kTBase + kTCount) {
    return a + (b - kTBase);
  }
  const Composition* end = kComposition + kCompositionSize;
  const Composition* it = std::lower_bound(
      kComposition, end, std::make_pair(a, b),
      [](const Composition& c, const std::pair<char32_t, char32_t>& k) {
        return c.first != k.first ? c.first < k.first : c.second < k.second;
      });
  return it != end && it->first == a && it->second == b ? it->cp : 0;
}

}  // namespace

std::string NormalizeNfc(std::string_view s) {
  bool simple = true;
  for (size_t i = 0; i < s.size() && simple;) {
    DecodedChar c = DecodeAt(s, i);
    if (c.cp >= 0x300 && c.cp < kInvalidBase) simple = false;
    i += c.len;
  }
  if (simple) return std::string(s);
  // 1. Full canonical decomposition.
  std::vector<char32_t> d;
  d.reserve(s.size());
  for (size_t i = 0; i < s.size();) {
    DecodedChar c = DecodeAt(s, i);
    if (c.cp >= kInvalidBase) {
      d.push_back(c.cp);
    } else {
      Decompose(c.cp, &d);
    }
    i += c.len;
  }
  // 2. Canonical ordering: stable sort of each run of non-starters.
  for (size_t i = 0; i < d.size();) {
    if (d[i] >= kInvalidBase || CombiningClass(d[i]) == 0) {
      ++i;
      continue;
    }
    size_t j = i;
    while (j < d.size() && d[j] < kInvalidBase && CombiningClass(d[j]) != 0) {
      ++j;
    }
    std::stable_sort(d.begin() + i, d.begin() + j, [](char32_t a, char32_t b) {
      return CombiningClass(a) < CombiningClass(b);
    });
    i = j;
  }
  // 3. Canonical composition.
  std::vector<char32_t> out;
  out.reserve(d.size());
  int starter = -1;  // index in `out` of the last starter
  int last_ccc = 0;
  for (char32_t c : d) {
    const int ccc = c >= kInvalidBase ? 0 : CombiningClass(c);
    if (starter >= 0 && c < kInvalidBase) {
      // Not blocked: nothing between, or the last char's class is lower.
      const bool adjacent = static_cast<int>(out.size()) == starter + 1;
      if (adjacent || (last_ccc != 0 && last_ccc < ccc)) {
        if (char32_t p = Compose(out[starter], c)) {
          out[starter] = p;
          continue;
        }
      }
    }
    if (ccc == 0) {
      starter = static_cast<int>(out.size());
      last_ccc = 0;
    } else {
      last_ccc = ccc;
    }
    out.push_back(c);
  }
  std::string r;
  r.reserve(s.size());
  for (char32_t c : out) AppendUtf8(c, &r);
  return r;
}

const char* TablesVersion() { return kUnicodeVersion; }

}  // namespace qgrid::model::unicode
