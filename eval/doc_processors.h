// Built-in document preprocessors: what lm-evaluation-harness does in a
// task's Python helpers (`process_docs`, `!function utils.doc_to_...`) for
// the datasets whose prompts a `{{ }}` template cannot express. A task
// names one with `process_docs: NAME`; it runs on every loaded document
// (every split), before templates, and adds or rewrites fields:
//
//   wsc273   lm-eval wsc273/utils.py: double spaces collapsed, options
//            given "'s" after possessive pronouns and lowercased off
//            sentence start; adds "choices" = [text[:pronoun_loc] +
//            option_i] and "continuation" = text[pronoun_loc +
//            len(pronoun):] (partial evaluation; indices in code points).
//   mutual   lm-eval mutual/utils.py: detokenizes "article" and "options".
//   race     lm-eval race/preprocess_race.py on EleutherAI/race (one
//            article with its "problems"): adds "text" (the article, the
//            earlier questions answered, then the last question),
//            "choices" (its options) and "gold" (its answer index).
//            "problems" must be a JSON list or a string holding one.
//   mathqa   lm-eval mathqa/utils.py: adds "choices" parsed from "options"
//            ("a ) 38 , b ) 27.675 , ... e ) 28").
//   hellaswag lm-eval hellaswag/utils.py: adds "query" = preprocess(
//            activity_label + ": " + ctx_a + " " + ctx_b.capitalize()),
//            "choices" = preprocess(endings[i]), "gold" = int(label);
//            preprocess strips, then cleans WikiHow "[title]"/"[...]".
//   toxigen  lm-eval toxigen/utils.py: adds "label" =
//            int(toxicity_ai + toxicity_human > 5.5).
//
// Thread-safety: pure functions.
#ifndef QGRID_EVAL_DOC_PROCESSORS_H_
#define QGRID_EVAL_DOC_PROCESSORS_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "eval/template.h"

namespace qgrid::eval {

// The names above.
const std::vector<std::string>& DocProcessorNames();

// Applies processor `name` to `doc`. InvalidArgument names the missing or
// malformed field; an unknown name is an error too.
absl::Status ProcessDocument(const std::string& name, Doc* doc);

}  // namespace qgrid::eval

#endif  // QGRID_EVAL_DOC_PROCESSORS_H_
