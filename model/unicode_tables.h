// Unicode general-category range tables (generated; see
// tools/gen_unicode_tables.py). Internal to model/unicode.cc.
#ifndef QGRID_MODEL_UNICODE_TABLES_H_
#define QGRID_MODEL_UNICODE_TABLES_H_

#include <cstddef>
#include <cstdint>

namespace qgrid::model::unicode {

struct CodePointRange {
  uint32_t lo, hi;  // inclusive
};

extern const CodePointRange kLetter[];
extern const size_t kLetterSize;
extern const CodePointRange kNumber[];
extern const size_t kNumberSize;
extern const CodePointRange kMark[];
extern const size_t kMarkSize;
extern const CodePointRange kPunctuation[];
extern const size_t kPunctuationSize;
extern const char kUnicodeVersion[];

}  // namespace qgrid::model::unicode

#endif  // QGRID_MODEL_UNICODE_TABLES_H_
