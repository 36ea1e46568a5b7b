// UTF-8 decoding/encoding and the Unicode character classes that tokenizer
// pre-tokenizer regexes use (\p{L}, \p{N}, \p{M}, \p{P}, \s).
//
// Category tables come from tools/gen_unicode_tables.py (Python's
// unicodedata). \s follows Oniguruma / Rust regex in Unicode mode: the
// White_Space property (TAB..CR, SPACE, NEL, NBSP, OGHAM SPACE, U+2000..200A,
// LS, PS, NNBSP, MMSP, IDEOGRAPHIC SPACE).
//
// Invalid UTF-8 never crashes: a byte that does not start a valid sequence
// decodes as itself with length 1 and is classified as "other".
//
// Thread-safety: pure functions.
#ifndef QGRID_MODEL_UNICODE_H_
#define QGRID_MODEL_UNICODE_H_

#include <cstddef>
#include <string>
#include <string_view>

namespace qgrid::model::unicode {

// Marks a decoded invalid byte: kInvalidBase + byte.
constexpr char32_t kInvalidBase = 0x110000;

struct DecodedChar {
  char32_t cp;  // >= kInvalidBase for an invalid byte
  int len;      // bytes consumed, 1..4
};

// Decodes the code point starting at s[i] (i < s.size()).
DecodedChar DecodeAt(std::string_view s, size_t i);
void AppendUtf8(char32_t cp, std::string* out);
// Length of the UTF-8 sequence s[i] starts (1 for an invalid byte).
inline int CharLenAt(std::string_view s, size_t i) {
  return DecodeAt(s, i).len;
}

bool IsLetter(char32_t cp);       // \p{L}
bool IsNumber(char32_t cp);       // \p{N}
bool IsMark(char32_t cp);         // \p{M}
bool IsPunctuation(char32_t cp);  // \p{P}
bool IsWhitespace(char32_t cp);   // \s (White_Space)

// Canonical combining class (0 for starters).
int CombiningClass(char32_t cp);

// Unicode Normalization Form C (canonical decomposition, canonical ordering,
// canonical composition; Hangul algorithmically). Invalid bytes pass through
// unchanged. Text without code points >= U+0300 is returned as is (it is
// always in NFC).
std::string NormalizeNfc(std::string_view s);
// The other forms: NFD (canonical decomposition and ordering), NFKC and
// NFKD (compatibility decompositions as well: "ﬁ" -> "fi", "²" -> "2",
// full-width -> ASCII).
std::string NormalizeNfd(std::string_view s);
std::string NormalizeNfkc(std::string_view s);
std::string NormalizeNfkd(std::string_view s);
// The same forms (compat: K forms; compose: C forms) as the `tokenizers`
// package computes them: its unicode-normalization tables predate Unicode
// 14, so the 73 characters whose (compatibility) decompositions and the 76
// marks whose combining classes are newer keep themselves and class 0.
std::string TokenizersNormalize(std::string_view s, bool compat, bool compose);

// The Unicode version of the category tables.
const char* TablesVersion();

}  // namespace qgrid::model::unicode

#endif  // QGRID_MODEL_UNICODE_H_
