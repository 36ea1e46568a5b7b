#include "model/unicode.h"

#include <algorithm>
#include <iterator>
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

// Differences of the tokenizers package's normalization tables (found by
// normalizing every code point with tokenizers 0.23.3 and Python's
// unicodedata 14.0).
constexpr std::pair<char32_t, char32_t> kNoDecompositionInTokenizers[] = {
    {0x32FF, 0x32FF},   {0xA7F2, 0xA7F4},   {0xAB69, 0xAB69},
    {0x10781, 0x10785}, {0x10787, 0x107B0}, {0x107B2, 0x107BA},
    {0x11938, 0x11938}, {0x1F16C, 0x1F16C}, {0x1FBF0, 0x1FBF9}};
constexpr std::pair<char32_t, char32_t> kNoCombiningClassInTokenizers[] = {
    {0x7FD, 0x7FD},     {0x898, 0x89F},     {0x8CA, 0x8D3},
    {0x9FE, 0x9FE},     {0x1ABF, 0x1ACE},   {0x1DF6, 0x1DFA},
    {0x10D24, 0x10D27}, {0x10EAB, 0x10EAC}, {0x10F46, 0x10F50},
    {0x10F82, 0x10F85}, {0x1145E, 0x1145E}, {0x11938, 0x11938},
    {0x1E130, 0x1E136}, {0x1E2AE, 0x1E2AE}, {0x1E2EC, 0x1E2EF}};

bool InRanges(char32_t cp, const std::pair<char32_t, char32_t>* begin,
              const std::pair<char32_t, char32_t>* end) {
  for (const auto* r = begin; r != end; ++r) {
    if (cp >= r->first && cp <= r->second) return true;
  }
  return false;
}

bool OlderTablesDoNotDecompose(char32_t cp) {
  return InRanges(cp, std::begin(kNoDecompositionInTokenizers),
                  std::end(kNoDecompositionInTokenizers));
}

int Ccc(char32_t cp, bool older_tables) {
  if (cp >= kInvalidBase) return 0;
  if (older_tables && InRanges(cp, std::begin(kNoCombiningClassInTokenizers),
                               std::end(kNoCombiningClassInTokenizers))) {
    return 0;
  }
  return CombiningClass(cp);
}

void Decompose(char32_t cp, bool compat, bool older_tables,
               std::vector<char32_t>* out) {
  if (older_tables && OlderTablesDoNotDecompose(cp)) {
    out->push_back(cp);
    return;
  }
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
    if (compat) {
      const CompatDecomposition* cend =
          kCompatDecomposition + kCompatDecompositionSize;
      const CompatDecomposition* k = std::lower_bound(
          kCompatDecomposition, cend, cp,
          [](const CompatDecomposition& d, char32_t c) { return d.cp < c; });
      if (k != cend && k->cp == cp) {
        for (uint32_t i = 0; i < k->len; ++i) {
          Decompose(kCompatData[k->offset + i], compat, older_tables, out);
        }
        return;
      }
    }
    out->push_back(cp);
    return;
  }
  Decompose(it->first, compat, older_tables, out);
  if (it->second) Decompose(it->second, compat, older_tables, out);
}

// The primary composite of (a, b), or 0.
char32_t Compose(char32_t a, char32_t b, bool older_tables) {
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
  if (it == end || it->first != a || it->second != b) return 0;
  if (older_tables && OlderTablesDoNotDecompose(it->cp)) return 0;
  return it->cp;
}

}  // namespace

namespace {

// Decomposition (canonical, plus compatibility when `compat`), canonical
// ordering, then canonical composition when `compose`.
std::string Normalize(std::string_view s, bool compat, bool compose,
                      bool older_tables) {
  // Below U+00A0 no character decomposes (compatibility mappings start at
  // U+00A0, canonical ones at U+00C0) and all have class 0.
  bool simple = true;
  for (size_t i = 0; i < s.size() && simple;) {
    DecodedChar c = DecodeAt(s, i);
    if (c.cp >= (compat || !compose ? 0xA0 : 0x300) && c.cp < kInvalidBase) {
      simple = false;
    }
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
      Decompose(c.cp, compat, older_tables, &d);
    }
    i += c.len;
  }
  // 2. Canonical ordering: stable sort of each run of non-starters.
  for (size_t i = 0; i < d.size();) {
    if (Ccc(d[i], older_tables) == 0) {
      ++i;
      continue;
    }
    size_t j = i;
    while (j < d.size() && Ccc(d[j], older_tables) != 0) ++j;
    std::stable_sort(d.begin() + i, d.begin() + j,
                     [older_tables](char32_t a, char32_t b) {
                       return Ccc(a, older_tables) < Ccc(b, older_tables);
                     });
    i = j;
  }
  if (!compose) {
    std::string r;
    r.reserve(s.size());
    for (char32_t c : d) AppendUtf8(c, &r);
    return r;
  }
  // 3. Canonical composition.
  std::vector<char32_t> out;
  out.reserve(d.size());
  int starter = -1;  // index in `out` of the last starter
  int last_ccc = 0;
  for (char32_t c : d) {
    const int ccc = Ccc(c, older_tables);
    if (starter >= 0 && c < kInvalidBase) {
      // Not blocked: nothing between, or the last char's class is lower.
      const bool adjacent = static_cast<int>(out.size()) == starter + 1;
      if (adjacent || (last_ccc != 0 && last_ccc < ccc)) {
        if (char32_t p = Compose(out[starter], c, older_tables)) {
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

}  // namespace

std::string NormalizeNfc(std::string_view s) {
  return Normalize(s, /*compat=*/false, /*compose=*/true, false);
}
std::string NormalizeNfd(std::string_view s) {
  return Normalize(s, /*compat=*/false, /*compose=*/false, false);
}
std::string NormalizeNfkc(std::string_view s) {
  return Normalize(s, /*compat=*/true, /*compose=*/true, false);
}
std::string NormalizeNfkd(std::string_view s) {
  return Normalize(s, /*compat=*/true, /*compose=*/false, false);
}
std::string TokenizersNormalize(std::string_view s, bool compat, bool compose) {
  return Normalize(s, compat, compose, /*older_tables=*/true);
}

const char* TablesVersion() { return kUnicodeVersion; }

}  // namespace qgrid::model::unicode
