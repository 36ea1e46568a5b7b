// Pre-tokenizer splitting for Hugging Face tokenizer.json: the GPT-2,
// LLaMA-3 and Qwen2 split regexes as hand-written Unicode-aware scanners
// (std::regex has no \p{L}/\p{N}), and the SplitDelimiterBehavior semantics
// of the `tokenizers` library (Removed, Isolated, MergedWithPrevious,
// MergedWithNext, Contiguous, with `invert`).
//
// The scanners reproduce the leftmost-first alternation and backtracking of
// the regexes exactly (e.g. `\s+(?!\S)` leaves the last space of a run to
// the following word), so token boundaries equal those of the reference.
//
// Thread-safety: pure functions.
#ifndef QGRID_MODEL_HF_TOKENIZER_SPLIT_H_
#define QGRID_MODEL_HF_TOKENIZER_SPLIT_H_

#include <cstddef>
#include <optional>
#include <string_view>
#include <utility>
#include <vector>

namespace qgrid::model::hf {

enum class SplitRegex {
  // 's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
  kGpt2,
  // (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}|
  //  ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+
  kLlama3,
  // As kLlama3 with \p{N} (single digits) instead of \p{N}{1,3}.
  kQwen2,
};

// The scanner for a regex string as it appears in tokenizer.json, if known.
std::optional<SplitRegex> RecognizeSplitRegex(std::string_view regex);

using Range = std::pair<size_t, size_t>;  // [begin, end) in bytes

// All non-overlapping matches, left to right, as findall would return them.
std::vector<Range> FindRegexMatches(SplitRegex re, std::string_view text);

enum class SplitBehavior {
  kRemoved,
  kIsolated,
  kMergedWithPrevious,
  kMergedWithNext,
  kContiguous,
};

// Splits [0, len) given the matches (sorted, non-overlapping). Empty pieces
// are dropped, as in `tokenizers`.
std::vector<Range> SplitByMatches(size_t len, const std::vector<Range>& matches,
                                  SplitBehavior behavior, bool invert);

}  // namespace qgrid::model::hf

#endif  // QGRID_MODEL_HF_TOKENIZER_SPLIT_H_
