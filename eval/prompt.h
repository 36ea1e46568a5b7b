// Prompts from a task's templates, with lm-evaluation-harness's layout.
//
// A scored context is
//
//   description + shot_1 + fd + ... + shot_k + fd + doc_to_text(doc)
//
// where fd is fewshot_delimiter ("\n\n") and each shot is
// doc_to_text(shot) + target_delimiter + target text (for multiple choice
// the text of the gold choice). With k = 0 it is description +
// doc_to_text(doc). The description is a template rendered on the scored
// document (so C-Eval's header can name the subject) and carries its own
// trailing separator, as in lm-eval's MMLU/C-Eval configs.
//
// Few-shot documents come from the pool (the few-shot split); the scored
// document itself is never one of them (same index when the pool is the
// scored split, or the same content). `random` draws k+1 with an RNG seeded
// by (seed, document index), drops the document itself and keeps k, so the
// shots of a document do not depend on --limit or batching; `first_n` takes
// the first k (C-Eval's official 5-shot from dev). Grouped tasks draw from
// the scored document's own subject.
//
// Thread-safety: pure functions.
#ifndef QGRID_EVAL_PROMPT_H_
#define QGRID_EVAL_PROMPT_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "eval/dataset.h"
#include "eval/task_config.h"

namespace qgrid::eval {

absl::StatusOr<std::string> DocToText(const TaskConfig& c, const Document& d);
absl::StatusOr<std::vector<std::string>> DocToChoices(const TaskConfig& c,
                                                      const Document& d);
// The gold choice index (multiple_choice, mc_letter, classification): an
// integer, a numeric string, or a string equal to one of the choices.
absl::StatusOr<int> GoldIndex(const TaskConfig& c, const Document& d,
                              const std::vector<std::string>& choices);
// The gold answers for `generate` (a string or a list of strings).
absl::StatusOr<std::vector<std::string>> GoldAnswers(const TaskConfig& c,
                                                     const Document& d);
// doc_to_text + target_delimiter + target, as a few-shot example.
absl::StatusOr<std::string> FormatShot(const TaskConfig& c, const Document& d);

// Indices into `pool` of the shots for the document at `doc_index` of the
// scored split. `same_split`: the pool is the scored split.
std::vector<int64_t> SelectShots(const TaskConfig& c,
                                 const std::vector<Document>& pool,
                                 const Document& doc, int64_t doc_index,
                                 bool same_split, int k, uint64_t seed);

// description + shots + fd; the prefix before doc_to_text (or before the
// context option of a multiple_input task).
absl::StatusOr<std::string> FewshotPrefix(const TaskConfig& c,
                                          const std::vector<Document>& pool,
                                          const Document& doc,
                                          int64_t doc_index, bool same_split,
                                          int k, uint64_t seed);

}  // namespace qgrid::eval

#endif  // QGRID_EVAL_PROMPT_H_
