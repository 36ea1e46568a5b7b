// GPTQ-style perplexity of a causal LM over one long token stream.
//
// The reference semantics (IST-DASLab/gptq `llama_eval`, and the WikiText-2
// figures of the GPTQ/AWQ papers): the whole test text is tokenized once,
// cut into non-overlapping windows of `seqlen` tokens (the remainder that
// does not fill a window is dropped), every window is scored independently
// (each starts with an empty context), and
//
//   ppl = exp(mean NLL over every predicted token)
//
// where a window of seqlen tokens predicts its last seqlen-1 tokens. (GPTQ
// writes this as exp(sum_w loss_w * seqlen / (windows * seqlen)); with every
// window predicting the same number of tokens this is the same number.)
//
// Thread-safety: Perplexity() only reads the model; see CausalLM::Forward.
#ifndef QGRID_EVAL_PERPLEXITY_H_
#define QGRID_EVAL_PERPLEXITY_H_

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "model/causal_lm.h"

namespace qgrid::eval {

struct PerplexityOptions {
  // Window length in tokens; <= 0 means DefaultSeqlen(model config).
  int64_t seqlen = 0;
  // Windows scored per forward call (memory: batch x seqlen x vocab floats).
  int64_t batch_size = 1;
  // A progress bar on stderr (common/progress.h).
  bool show_progress = true;
  std::string label = "ppl";
};

struct PerplexityResult {
  double ppl = 0;         // exp(mean_nll)
  double mean_nll = 0;    // nats per predicted token
  int64_t tokens = 0;     // tokens in the stream given (before dropping)
  int64_t predicted = 0;  // windows * (seqlen - 1)
  int64_t windows = 0;
  int64_t seqlen = 0;
  std::vector<double> window_nll;  // summed NLL of each window, in order
  // {"ppl", "mean_nll", "tokens", "windows", "seqlen", "predicted_tokens"}.
  nlohmann::json ToJson() const;
};

// min(max_position_embeddings, 2048), GPTQ's default context.
int64_t DefaultSeqlen(const model::ModelConfig& config);

// `ids` is the tokenized text, special tokens included as the tokenizer adds
// them (LLaMA: one BOS at the very start, as `tokenizer(text)` gives).
absl::StatusOr<PerplexityResult> Perplexity(
    const model::CausalLM& lm, const std::vector<int>& ids,
    const PerplexityOptions& opts = PerplexityOptions());

}  // namespace qgrid::eval

#endif  // QGRID_EVAL_PERPLEXITY_H_
