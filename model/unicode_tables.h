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

struct CombiningClassRange {
  uint32_t lo, hi;  // inclusive
  uint32_t ccc;
};
extern const CombiningClassRange kCombiningClass[];
extern const size_t kCombiningClassSize;

// One level of canonical decomposition: cp -> first (+ second, 0 if none).
// Sorted by cp.
struct Decomposition {
  uint32_t cp, first, second;
};
extern const Decomposition kDecomposition[];
extern const size_t kDecompositionSize;

// Primary composites: (first, second) -> cp, sorted by (first, second).
struct Composition {
  uint32_t first, second, cp;
};
extern const Composition kComposition[];
extern const size_t kCompositionSize;

// One level of compatibility decomposition ("<tag> ..." in UnicodeData):
// cp -> kCompatData[offset .. offset + len). Sorted by cp.
struct CompatDecomposition {
  uint32_t cp, offset, len;
};
extern const CompatDecomposition kCompatDecomposition[];
extern const size_t kCompatDecompositionSize;
extern const uint32_t kCompatData[];

extern const char kUnicodeVersion[];

}  // namespace qgrid::model::unicode

#endif  // QGRID_MODEL_UNICODE_TABLES_H_
