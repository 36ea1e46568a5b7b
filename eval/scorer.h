// Scoring requests against a language model, lm-evaluation-harness style.
//
// Scorer is the interface the evaluation loop talks to (a fake implements it
// in tests); CausalLMScorer runs a model::CausalLM.
//
// Tokenization of a (context, continuation) pair follows lm-eval's
// HFLM._encode_pair: trailing whitespace of the context moves to the front
// of the continuation; context and context+continuation are encoded
// separately and the continuation tokens are whole[len(context):]. Every
// text is encoded as lm-eval 0.4.13's HFLM.tok_encode does with
// add_bos_token unset: with the tokenizer's own special tokens
// (tokenizer(text) in Hugging Face: Llama's BOS, nothing for GPT-2), and
// without them when the text already starts with the BOS token's text.
// `special_tokens = false` is lm-eval's add_bos_token=False (and the
// default of older lm-eval releases); `add_bos` makes sure BOS leads.
// An empty context becomes the BOS token (EOS when the tokenizer has none),
// lm-eval's prefix token. Inputs longer than max_length keep their last
// max_length tokens (left truncation).
//
// Throughput: requests are grouped by context; unique contexts are sorted
// and batched with right padding. With `reuse_context` (default) each
// context runs once and its KV cache (KVCache::Select) is reused by every
// continuation, and the longest token prefix shared by a batch of contexts
// (a fixed few-shot block, a description) runs once per batch. Without it
// every (context + continuation) runs whole, as lm-eval does. Both give the
// same log-likelihoods within float tolerance (tests/eval/scorer_test.cc).
//
// Thread-safety: a Scorer is used by one thread at a time.
#ifndef QGRID_EVAL_SCORER_H_
#define QGRID_EVAL_SCORER_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace qgrid::model {
class CausalLM;
}

namespace qgrid::eval {

struct LoglikelihoodRequest {
  std::string context, continuation;
};

struct LoglikelihoodResult {
  double logprob = 0;      // sum of log p(continuation token) (natural log)
  bool is_greedy = false;  // every continuation token is the argmax
  int64_t num_tokens = 0;  // continuation tokens scored
};

struct GenerationRequest {
  std::string context;
  std::vector<std::string> until;  // the output is cut before the first hit
  int max_gen_toks = 32;
};

struct RollingResult {
  double logprob = 0;  // over every token of the text
  int64_t num_tokens = 0;
};

// Counters for the efficiency report and the benchmark.
struct ScorerStats {
  int64_t forward_tokens = 0;  // tokens run through the model (incl. padding)
  int64_t scored_tokens = 0;   // continuation tokens scored
  int64_t forward_calls = 0;
  int64_t generated_tokens = 0;
};

using ProgressFn = std::function<void(int64_t done, int64_t total)>;

class Scorer {
 public:
  virtual ~Scorer() = default;
  virtual absl::StatusOr<std::vector<LoglikelihoodResult>> Loglikelihood(
      const std::vector<LoglikelihoodRequest>& requests,
      const ProgressFn& progress = nullptr) = 0;
  // lm-eval's loglikelihood_rolling: every token of each text, in windows
  // of max_length with one token of overlap, the first predicted from the
  // prefix token.
  virtual absl::StatusOr<std::vector<RollingResult>> LoglikelihoodRolling(
      const std::vector<std::string>& texts,
      const ProgressFn& progress = nullptr) = 0;
  // Greedy decoding, cut at the first stop sequence.
  virtual absl::StatusOr<std::vector<std::string>> Generate(
      const std::vector<GenerationRequest>& requests,
      const ProgressFn& progress = nullptr) = 0;
  // Log-softmax of the next-token distribution after each context, read at
  // the first token of each candidate (C-Eval's official letter scoring:
  // logits[tokenizer.encode("A")[0]] ...).
  virtual absl::StatusOr<std::vector<std::vector<double>>> NextTokenScores(
      const std::vector<std::string>& contexts,
      const std::vector<std::string>& candidates,
      const ProgressFn& progress = nullptr) = 0;
  virtual ScorerStats stats() const { return {}; }
};

struct ScorerOptions {
  int batch_size = 8;  // contexts (groups) per forward batch
  bool reuse_context = true;
  int64_t max_length = 0;  // 0 = the model's max_position_embeddings
  // The tokenizer's special tokens on every text (lm-eval 0.4.13 default).
  bool special_tokens = true;
  bool add_bos = false;  // BOS first on every context even without them
  // Minimum shared-prefix length worth a separate forward.
  int64_t min_shared_prefix = 8;
};

// Scores on a model (its tokenizer must be loaded). `lm` must outlive it.
class CausalLMScorer : public Scorer {
 public:
  static absl::StatusOr<std::unique_ptr<CausalLMScorer>> Create(
      const model::CausalLM& lm, const ScorerOptions& opts = ScorerOptions());
  ~CausalLMScorer() override;
  CausalLMScorer(const CausalLMScorer&) = delete;
  CausalLMScorer& operator=(const CausalLMScorer&) = delete;

  absl::StatusOr<std::vector<LoglikelihoodResult>> Loglikelihood(
      const std::vector<LoglikelihoodRequest>& requests,
      const ProgressFn& progress = nullptr) override;
  absl::StatusOr<std::vector<RollingResult>> LoglikelihoodRolling(
      const std::vector<std::string>& texts,
      const ProgressFn& progress = nullptr) override;
  absl::StatusOr<std::vector<std::string>> Generate(
      const std::vector<GenerationRequest>& requests,
      const ProgressFn& progress = nullptr) override;
  absl::StatusOr<std::vector<std::vector<double>>> NextTokenScores(
      const std::vector<std::string>& contexts,
      const std::vector<std::string>& candidates,
      const ProgressFn& progress = nullptr) override;
  ScorerStats stats() const override { return stats_; }

  // The token ids lm-eval's _encode_pair gives (exposed for tests).
  std::pair<std::vector<int>, std::vector<int>> EncodePair(
      const std::string& context, const std::string& continuation) const;
  // A text as lm-eval's tok_encode encodes it (the header comment).
  std::vector<int> EncodeText(const std::string& text) const;

 private:
  CausalLMScorer(const model::CausalLM& lm, const ScorerOptions& opts);
  struct Impl;
  const model::CausalLM& lm_;
  ScorerOptions opts_;
  ScorerStats stats_;
};

}  // namespace qgrid::eval

#endif  // QGRID_EVAL_SCORER_H_
