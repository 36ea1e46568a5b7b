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
// Few-shot documents come from the pool (the few-shot split) and are picked
// by ShotSampler below, as lm-evaluation-harness picks them: `random` is
// one Python random.Random(seed) per subject advanced document by document
// in evaluation order (so the shots of a document depend on the documents
// scored before it, as in lm-eval), `first_n` the first k (C-Eval's
// official 5-shot from dev). The scored document itself is never a shot.
// Grouped tasks draw from the scored document's own subject.
//
// Thread-safety: the free functions are pure; a ShotSampler is used by one
// thread.
#ifndef QGRID_EVAL_PROMPT_H_
#define QGRID_EVAL_PROMPT_H_

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "eval/dataset.h"
#include "eval/py_random.h"
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

// Few-shot picks (indices into `pool`) for the scored documents, in
// evaluation order, made as lm-evaluation-harness makes them so that prompts
// and numbers line up with its runs:
//  - `random`: one Python random.Random(seed) per subject (lm-eval runs
//    each subject as its own task, seeded 1234), advanced document by
//    document: sample(subject's pool, k + 1) when the pool is the scored
//    split, dropping the scored document itself (by content), else
//    sample(subject's pool, k);
//  - `first_n`: the first k of the subject's pool other than the document.
// A document never gets itself as a shot: when the pool is another split
// and a draw holds a document with the same content (lm-eval would keep
// it), it is dropped and replaced by further draws. With fewer than k
// candidates all of them are used (lm-eval raises instead).
class ShotSampler {
 public:
  ShotSampler(const TaskConfig& c, const std::vector<Document>& pool,
              bool same_split, int k, uint64_t seed);
  // The shots of the next scored document; call once per document, in
  // evaluation order.
  std::vector<int64_t> Next(const Document& doc);

 private:
  const TaskConfig& c_;
  const std::vector<Document>& pool_;
  bool same_split_;
  int k_;
  uint64_t seed_;
  std::map<std::string, std::vector<int64_t>> candidates_;  // by subject
  std::map<std::string, PyRandom> rngs_;                    // by subject
};

// description + the given shots + fd; the prefix before doc_to_text (or
// before the context option of a multiple_input task).
absl::StatusOr<std::string> FewshotPrefix(const TaskConfig& c,
                                          const std::vector<Document>& pool,
                                          const Document& doc,
                                          const std::vector<int64_t>& shots);

}  // namespace qgrid::eval

#endif  // QGRID_EVAL_PROMPT_H_
