// Evaluate one task on one model: the call the worker makes for every
// test-set job and that `qgrid eval` wraps.
//
// Evaluate() loads the task's documents, builds the prompts (eval/prompt.h),
// sends every request to the scorer at once (so it can sort, batch and
// reuse contexts), computes the metrics and returns a JSON document in the
// spirit of lm-evaluation-harness's results file:
//
//   {"results": {"arc_easy": {"alias": "arc_easy", "acc,none": 0.25,
//                             "acc_stderr,none": 0.01, ...}},
//    "groups": {"ceval:law": {...}},          // per subject, grouped tasks
//    "n-shot": {"arc_easy": 0},
//    "n-samples": {"arc_easy": {"original": 2376, "effective": 50}},
//    "config": {...}, "seeds": {"fewshot_seed": 1234},
//    "efficiency": {"weight_bytes": .., "peak_rss_bytes": .., ...}}
//
// Per-output-type semantics:
//   multiple_choice  one request (context, target_delimiter + choice) per
//                    choice; acc = argmax ll, acc_norm = argmax ll/len(choice
//                    in characters). multiple_input: (prefix + option,
//                    delimiter + continuation). With doc_to_labels
//                    (TruthfulQA MC2) acc is instead the normalised
//                    probability mass of the true choices, as lm-eval's
//                    truthfulqa_mc2 reports it ("mc2" is an alias).
//                    Also, when listed in `metrics`:
//                    r@1 / r@2 / mrr (MuTual), likelihood_diff /
//                    pct_stereotype (CrowS-Pairs, two choices) and f1
//                    (corpus-level binary F1 of the predicted choice index,
//                    MC-TACO); metrics.h defines each.
//   mc_letter        next-token log-probs of the choice letters after the
//                    prompt (C-Eval official); acc.
//   classification   loglikelihood: as multiple_choice (acc); generate:
//                    greedy answer, mapped to the label whose text occurs
//                    first in it (case-insensitive), or with label_match:
//                    normalized_exact as BOSS does (MatchNormalizedLabel);
//                    none = wrong.
//   generate         greedy until a stop sequence; SQuAD exact_match / f1
//                    (as fractions; the official script's x100 is not
//                    applied).
//                    number_match: GSM8K's final number (metrics.h).
//   loglikelihood    one (context, delimiter + target) per document: acc =
//                    target is greedy, perplexity = exp(-mean ll) (LAMBADA).
//   perplexity       rolling: word_perplexity, byte_perplexity,
//                    bits_per_byte over all documents.
//
// Thread-safety: one call per scorer at a time.
#ifndef QGRID_EVAL_EVALUATE_H_
#define QGRID_EVAL_EVALUATE_H_

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "eval/scorer.h"
#include "eval/task_config.h"

namespace qgrid::model {
class CausalLM;
}

namespace qgrid::eval {

struct EvalOptions {
  // -1: the task's default (num_fewshot, or its fixed_fewshot); with
  // fixed demonstrations 0 selects the zero-shot description.
  int shots = -1;
  // 0: all documents, else the first `limit`. GPTQ-style perplexity joins
  // the documents into one stream, so there the unit is a window: the first
  // `limit` windows of seqlen tokens (a fixed token budget).
  int64_t limit = 0;
  int batch_size = 8;
  std::optional<uint64_t> seed;  // few-shot seed override
  std::string data_dir;          // "" = $QGRID_DATA_DIR, else "data"
  std::string samples_out;       // JSONL of per-sample records when set
  bool progress = false;         // progress bar with ETA on stderr
  bool reuse_context = true;     // KV reuse (eval/scorer.h)
  int64_t max_length = 0;        // 0 = model's max positions
  // The tokenizer's special tokens on every text, as lm-eval 0.4.13 (its
  // add_bos_token unset; false = add_bos_token=False); eval/scorer.h.
  bool special_tokens = true;
  bool add_bos = false;        // BOS first on every context even without them
  bool measure_speed = false;  // prefill/decode tokens/s (efficiency.h)
  // Per-item scores in the results document, for statistics at table time
  // (paired bootstrap, flip rates; coordinator/stats.h reads them):
  //   "items": {task: {metric: "0110.." (0/1 per document) | [x, ..] (a
  //             real score per document, rounded to 1e-6) | {"nll": [..],
  //             "den": [..] | k, "agg": "exp" | "bits"} (perplexities and
  //             bits per byte: per document or GPTQ window its NLL in nats,
  //             rounded to 1e-4, and its count of words, bytes or predicted
  //             tokens)}}
  // Corpus-level metrics that are no mean or ratio of per-item terms (MC
  // F1) have no entry. Off by default: lm-eval's results file has no such
  // key; the worker turns it on.
  bool item_scores = false;
};

absl::StatusOr<nlohmann::json> Evaluate(const model::CausalLM& lm,
                                        const TaskConfig& task,
                                        const EvalOptions& opts);

// Every task in order, as one results document (eval/results_text.h's
// MergeResults); the first failure stops it.
absl::StatusOr<nlohmann::json> EvaluateTasks(
    const model::CausalLM& lm, const std::vector<TaskConfig>& tasks,
    const EvalOptions& opts);

// Evaluate on any scorer (tests use a fake one).
absl::StatusOr<nlohmann::json> EvaluateWithScorer(Scorer& scorer,
                                                  const TaskConfig& task,
                                                  const EvalOptions& opts);

// The label a generated answer maps to: the choice whose lowercased text
// occurs earliest in the lowercased answer (ties: the longer label); -1 when
// none occurs (unparseable, counted wrong).
int ParseGeneratedLabel(const std::string& answer,
                        const std::vector<std::string>& labels);

// BOSS's way (MI-optimize benchmark/boss/metrics.py): the answer is
// SQuAD-normalized, mapped through `aliases` (normalized answer -> label),
// and must then equal a label's normalized text; -1 otherwise.
int MatchNormalizedLabel(const std::string& answer,
                         const std::vector<std::string>& labels,
                         const std::map<std::string, std::string>& aliases);

}  // namespace qgrid::eval

#endif  // QGRID_EVAL_EVALUATE_H_
