// `qgrid eval --dump-requests FILE`: the exact requests a task sends to the
// model, written without a model, so they can be compared with
// lm-evaluation-harness's (tests/conformance/test_requests.py).
//
// One JSON line per request, in the order the evaluation loop makes them
// (documents in order, then choices), with lm-eval's Instance vocabulary:
//
//   {"task": "arc_easy", "idx": 0, "request_type": "loglikelihood",
//    "arguments": [context, continuation]}
//   "loglikelihood_rolling": [text]
//   "generate_until":        [context, {"until": [...], "max_gen_toks": n}]
//   "next_token":            [context, [candidate, ...]]  (C-Eval letters;
//                            lm-eval has no such request type)
//
// GPTQ-style perplexity tasks (perplexity_style: gptq) are token windows of
// one tokenized stream: they need a tokenizer and are refused.
//
// Thread-safety: one call at a time per file.
#ifndef QGRID_EVAL_REQUEST_DUMP_H_
#define QGRID_EVAL_REQUEST_DUMP_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "eval/evaluate.h"
#include "eval/task_config.h"

namespace qgrid::eval {

// Writes (truncates) `path` with the requests of every task, in order.
// Returns the number of requests through `written` when non-null.
absl::Status DumpRequests(const std::vector<TaskConfig>& tasks,
                          const EvalOptions& opts, const std::string& path,
                          int64_t* written = nullptr);

}  // namespace qgrid::eval

#endif  // QGRID_EVAL_REQUEST_DUMP_H_
