#include "model/unicode.h"

#include <algorithm>

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

const char* TablesVersion() { return kUnicodeVersion; }

}  // namespace qgrid::model::unicode
