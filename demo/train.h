// Training the tiny default model (`qgrid train-tiny`): a SentencePiece
// tokenizer and a small LLaMA-architecture language model, from the demo
// corpora (demo/corpus.h), written as a normal Hugging Face folder.
//
// TrainTinyLlama() trains a BPE tokenizer with byte fallback on the domains'
// train.txt files (model/sentencepiece_trainer.h), tokenizes the training
// text into one stream (each document prefixed with BOS), then trains a
// CausalLM built with LoadOptions::trainable on random windows of that
// stream: cross-entropy loss, libtorch autograd, AdamW written with ATen ops
// (Loshchilov & Hutter 2019, decoupled weight decay), linear warmup then
// cosine decay (Loshchilov & Hutter 2017), global-norm gradient clipping.
// The output folder holds config.json (LlamaForCausalLM), model.safetensors
// (Hugging Face names), tokenizer.model, tokenizer_config.json,
// special_tokens_map.json, generation_config.json, train_log.json (the loss
// curve) and README.md (the command and seeds that regenerate it).
//
// Determinism: one seed drives weight init (an ATen CPU generator), window
// sampling (std::mt19937_64) and the tokenizer (single-threaded, no
// sampling). ATen's intra-op thread count is pinned (TrainTinyOptions::
// threads) because the reduction order, and so the last bits of every sum,
// depends on it: the same seed and thread count on the same machine
// reproduce the loss curve exactly.
//
// Evaluation helpers for the demo: TokenizeLines() turns a split file into
// one token stream (score it with eval::Perplexity, eval/perplexity.h), and
// UnigramPerplexity() scores an add-one unigram baseline on exactly the
// tokens eval::Perplexity predicts.
//
// Thread-safety: TrainTinyLlama sets the process-wide ATen thread count; do
// not run it concurrently with other ATen work that cares about threads.
// The other functions are pure.
#ifndef QGRID_DEMO_TRAIN_H_
#define QGRID_DEMO_TRAIN_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "eval/perplexity.h"
#include "model/tokenizer.h"

namespace qgrid::demo {

struct TrainTinyOptions {
  // A `qgrid data build-demo` folder: <data_dir>/<domain>/train.txt.
  std::string data_dir;
  // Domains to train on; empty: every subfolder holding a train.txt
  // (sorted by name).
  std::vector<std::string> domains;
  std::string out_dir;
  uint64_t seed = 42;

  // Tokenizer. 6144 pieces at 99.9% coverage give 3,276 CJK characters
  // their own piece: with 4096 at 99.5%, 20% of the Chinese test tokens were
  // UTF-8 bytes and greedy decoding strung lead and continuation bytes of
  // different characters together into rare, unrelated ones (7% of tokens
  // are bytes now; English domains ~2% either way).
  int vocab_size = 6144;
  // Fraction of characters the tokenizer must cover with its own pieces;
  // rarer characters (mostly Chinese) fall back to bytes.
  double character_coverage = 0.999;

  // Architecture (LLaMA: RMSNorm, RoPE, SwiGLU; GQA when kv_heads < heads).
  int hidden_size = 192;
  int num_layers = 4;
  int num_heads = 6;
  int num_kv_heads = 2;
  int intermediate_size = 512;
  int max_position_embeddings = 512;
  double rope_theta = 10000.0;
  double rms_norm_eps = 1e-5;

  // Optimisation.
  // 3500 x 8 x 128 = 3.6M tokens, ~15 minutes on 2 idle cores. Batches of 8
  // beat 16 at the same token count on this budget (mean loss of the last
  // 50 steps 5.22 vs 5.34 after 614k tokens) and run faster per token
  // (3,900 vs 2,280 tokens/s: the activations stay in cache).
  int steps = 3500;
  int batch_size = 8;
  int seq_len = 128;
  double learning_rate = 3e-3;
  double min_lr_ratio = 0.1;  // cosine floor, as a fraction of the peak
  int warmup_steps = 100;
  double weight_decay = 0.1;  // on matrices only, not on norm gains
  double beta1 = 0.9, beta2 = 0.95, adam_eps = 1e-8;
  double grad_clip = 1.0;
  // ATen intra-op threads (pinned for reproducibility).
  int threads = 2;

  // Stored weights: "bfloat16" (half the size) or "float32".
  std::string save_dtype = "bfloat16";
  bool progress = true;
  // Recorded verbatim in README.md.
  std::string command_line;
};

struct TrainTinyResult {
  std::vector<double> losses;  // one per step
  int64_t parameters = 0;
  int64_t train_tokens = 0;  // size of the tokenized training stream
  double seconds = 0;
  double tokens_per_second = 0;
};

absl::StatusOr<TrainTinyResult> TrainTinyLlama(const TrainTinyOptions& opts);

// The learning rate at `step` (0-based): linear warmup to `peak`, then
// cosine decay to peak * min_ratio at `total` steps.
double CosineLearningRate(int step, int total, int warmup, double peak,
                          double min_ratio);

// Documents of a text file, one per line, each encoded with BOS (as the
// tokenizer's add_special_tokens does) and concatenated.
absl::StatusOr<std::vector<int>> TokenizeLines(const model::Tokenizer& tok,
                                               const std::string& path,
                                               int64_t max_docs = -1);

// log p(t) for every id of the add-one smoothed unigram model of `train`:
// p(t) = (count_t + 1) / (|train| + vocab_size).
std::vector<double> UnigramLogProbs(const std::vector<int>& train,
                                    int vocab_size);

// The add-one smoothed unigram model of `train` over `vocab_size` ids,
// scored on exactly the tokens eval::Perplexity predicts in `test` with
// windows of `seq_len` (the remainder dropped, each window's first token
// not predicted); the result's fields mean what they mean there.
eval::PerplexityResult UnigramPerplexity(const std::vector<int>& train,
                                         const std::vector<int>& test,
                                         int vocab_size, int seq_len);

}  // namespace qgrid::demo

#endif  // QGRID_DEMO_TRAIN_H_
