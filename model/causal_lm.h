// The decoder-only transformer (LLaMA family) in libtorch.
//
// Weights use Hugging Face names (model.embed_tokens, model.layers.{i}.
// self_attn.{q,k,v,o}_proj, mlp.{gate,up,down}_proj, input_layernorm,
// post_attention_layernorm, model.norm, lm_head). Every linear layer sits in
// a replaceable slot reachable by name (Linears()), so quant/ can observe
// its inputs (SetLinearInputObserver) and swap in quantized versions, and
// keys/values pass through an optional transform (SetKVTransform) for
// KV-cache quantization. Rotary embeddings follow Hugging Face's
// rotate-half implementation exactly.
//
// Forward() runs under NoGradGuard unless the model was built with
// LoadOptions::trainable (for training with autograd).
//
// Thread-safety: Forward/LayerForward are const and may run concurrently
// as long as nobody mutates layers or hooks at the same time.
#ifndef QGRID_MODEL_CAUSAL_LM_H_
#define QGRID_MODEL_CAUSAL_LM_H_

#include <ATen/core/Tensor.h>

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "model/config.h"
#include "model/tokenizer.h"
#include "model/torch_util.h"

namespace qgrid::model {

class Checkpoint;

// y = x W^T + b. DenseLinear is the plain layer; quant/ adds fake-quant and
// packed implementations. Forward maps [..., in] to [..., out] in x's dtype.
class Linear {
 public:
  virtual ~Linear() = default;
  virtual at::Tensor Forward(const at::Tensor& x) const = 0;
  virtual int64_t in_features() const = 0;
  virtual int64_t out_features() const = 0;
  // The weight as a dense [out, in] tensor (dequantized for packed layers).
  virtual at::Tensor DenseWeight() const = 0;
  // Undefined tensor when the layer has no bias.
  virtual at::Tensor bias() const { return at::Tensor(); }
  // Bytes the layer's parameters occupy in memory.
  virtual int64_t WeightBytes() const = 0;
  // "dense", "fake-quant", "packed", ... (shown by `qgrid model info`).
  virtual std::string kind() const = 0;
};

class DenseLinear : public Linear {
 public:
  explicit DenseLinear(at::Tensor weight, at::Tensor bias = at::Tensor());
  at::Tensor Forward(const at::Tensor& x) const override;
  int64_t in_features() const override;
  int64_t out_features() const override;
  at::Tensor DenseWeight() const override { return weight_; }
  at::Tensor bias() const override { return bias_; }
  int64_t WeightBytes() const override;
  std::string kind() const override { return "dense"; }
  // Mutable access for in-place transforms (AWQ/SmoothQuant scaling).
  at::Tensor& weight() { return weight_; }
  at::Tensor& mutable_bias() { return bias_; }

 private:
  at::Tensor weight_, bias_;
};

struct RMSNorm {
  at::Tensor weight;  // [hidden]
  double eps = 1e-6;
  // Computes in float32 and casts back, as Hugging Face's LlamaRMSNorm does.
  at::Tensor Forward(const at::Tensor& x) const;
};

struct DecoderLayer {
  RMSNorm input_layernorm, post_attention_layernorm;
  std::shared_ptr<Linear> q_proj, k_proj, v_proj, o_proj;
  std::shared_ptr<Linear> gate_proj, up_proj, down_proj;
};

// A named linear slot. `name` is the HF module name without ".weight",
// e.g. "model.layers.0.self_attn.q_proj"; `layer` is -1 for lm_head.
struct LinearRef {
  std::string name;
  int layer = -1;
  std::shared_ptr<Linear>* slot = nullptr;
};

// Keys (after RoPE) and values per layer, [B, kv_heads, T, head_dim].
struct KVCache {
  std::vector<at::Tensor> keys, values;
  int64_t length() const;  // cached positions (0 when empty)
  void Clear();
  // Repeats each batch row `times` times (row-major, like repeat_interleave),
  // so a shared context can be continued by several candidates at once.
  KVCache RepeatInterleave(int64_t times) const;
  // Keeps the batch rows in `index` (int64 tensor).
  KVCache Select(const at::Tensor& index) const;
};

// What every block of one forward call shares.
// Positions come from the attention mask (cumsum(mask) - 1, as Hugging
// Face's generate does), so left-padded rows get the same RoPE phases as
// unpadded ones.
struct AttentionContext {
  at::Tensor positions;  // [B, T] int64, position ids for RoPE
  // [B, 1, T, past+T] float32 additive: 0 where attended, the lowest finite
  // float elsewhere (as Hugging Face uses finfo.min: rows that attend to
  // nothing, e.g. left padding, stay finite instead of NaN).
  // Causal with respect to past_length: query i never sees a key past
  // past_length + i (chunked attention relies on it).
  at::Tensor mask;
  int64_t past_length = 0;
  // RoPE tables [B, T, head_dim] float32 for `positions` (filled by
  // MakeContext; LayerForward computes them when left undefined).
  at::Tensor cos, sin;
};

struct LoadOptions {
  at::ScalarType dtype = at::kFloat;
  std::string device = "cpu";
  bool load_tokenizer = true;
  // Parameters require grad and Forward records autograd (training).
  bool trainable = false;
  // Builds the layer for a linear stored in another form than
  // "<name>.weight" (e.g. a GPTQ export's qweight/qzeros/scales/g_idx).
  // Returns nullptr to say "not mine"; the loader then reads a dense weight.
  std::function<absl::StatusOr<std::shared_ptr<Linear>>(
      const std::string& name, const Checkpoint& ckpt,
      const ModelConfig& config, const LoadOptions& opts)>
      linear_factory;
  // Inference attention processes the queries in chunks whenever one
  // layer's float32 score tensor (batch x heads x queries x keys x 4 bytes)
  // would exceed this many bytes (0 = never), with the same result up to
  // float summation order. Why: it bounds activation memory (a 7B model's
  // 32 heads at 2048 tokens need 512 MiB of scores per sequence and layer),
  // and with glibc's default allocator (QGRID_SYSTEM_MALLOC=1, see
  // common/malloc_tuning.h) blocks above 32 MiB come from fresh zeroed pages
  // each time, whose page faults cost more than the attention itself.
  int64_t attention_score_budget_bytes = int64_t{16} << 20;
};

using LinearInputObserver =
    std::function<void(const std::string& name, const at::Tensor& input)>;
// Applied to keys after RoPE (is_key=true) and to values, before they are
// cached and attended to.
using KVTransform =
    std::function<at::Tensor(int layer, bool is_key, const at::Tensor& x)>;

class CausalLM {
 public:
  // Loads config.json, the safetensors checkpoint and (unless disabled) the
  // tokenizer from `dir`.
  static absl::StatusOr<std::unique_ptr<CausalLM>> Load(
      const std::string& dir, const LoadOptions& opts = LoadOptions());
  // Builds a model from tensors under HF names (tests, trainer).
  static absl::StatusOr<std::unique_ptr<CausalLM>> FromTensors(
      const ModelConfig& config, std::map<std::string, at::Tensor> tensors,
      const LoadOptions& opts = LoadOptions());
  ~CausalLM();
  CausalLM(const CausalLM&) = delete;
  CausalLM& operator=(const CausalLM&) = delete;

  const ModelConfig& config() const { return config_; }
  const Tokenizer* tokenizer() const { return tokenizer_.get(); }
  void set_tokenizer(std::unique_ptr<Tokenizer> t) {
    tokenizer_ = std::move(t);
  }
  at::ScalarType dtype() const { return opts_.dtype; }
  // LoadOptions::attention_score_budget_bytes; set it before running
  // forwards (not synchronized with concurrent Forward calls).
  void set_attention_score_budget_bytes(int64_t bytes) {
    opts_.attention_score_budget_bytes = bytes;
  }
  int64_t attention_score_budget_bytes() const {
    return opts_.attention_score_budget_bytes;
  }
  at::Device device() const;
  const std::string& source_dir() const { return source_dir_; }

  // ids: [B, T] int64. attention_mask: [B, past+T] (1 real, 0 padding) or
  // undefined for all ones. Returns float32 logits [B, T, vocab]. With a
  // cache, attends to and appends to it.
  absl::StatusOr<at::Tensor> Forward(
      const at::Tensor& ids, const at::Tensor& attention_mask = at::Tensor(),
      KVCache* cache = nullptr) const;

  // The same forward in pieces, for block-by-block calibration.
  at::Tensor Embed(const at::Tensor& ids) const;
  AttentionContext MakeContext(const at::Tensor& attention_mask, int64_t batch,
                               int64_t seq_len, int64_t past_length) const;
  at::Tensor LayerForward(int i, const at::Tensor& hidden,
                          const AttentionContext& ctx,
                          KVCache* cache = nullptr) const;
  at::Tensor Head(const at::Tensor& hidden) const;  // norm + lm_head, float32

  int num_layers() const { return static_cast<int>(layers_.size()); }
  DecoderLayer& layer(int i) { return layers_[i]; }
  const DecoderLayer& layer(int i) const { return layers_[i]; }
  RMSNorm& final_norm() { return norm_; }
  at::Tensor& embed_tokens() { return embed_; }
  std::shared_ptr<Linear>& lm_head() { return lm_head_; }
  // Every linear slot in forward order, lm_head last.
  std::vector<LinearRef> Linears();

  void SetLinearInputObserver(LinearInputObserver obs) {
    observer_ = std::move(obs);
  }
  void SetKVTransform(KVTransform t) { kv_transform_ = std::move(t); }

  // Dense tensors under HF names (packed layers are dequantized).
  std::vector<std::pair<std::string, at::Tensor>> StateDict() const;
  // Parameters for an optimizer (trainable models).
  std::vector<at::Tensor> Parameters() const;
  int64_t WeightBytes() const;

 private:
  CausalLM() = default;
  struct WeightSource;  // where Init reads tensors from (causal_lm.cc)
  absl::Status Init(WeightSource& src);
  at::Tensor CallLinear(const std::string& name, const Linear& l,
                        const at::Tensor& x) const;

  ModelConfig config_;
  LoadOptions opts_;
  std::string source_dir_;
  std::unique_ptr<Tokenizer> tokenizer_;
  at::Tensor embed_;
  std::vector<DecoderLayer> layers_;
  std::vector<std::string> layer_prefixes_;
  RMSNorm norm_;
  std::shared_ptr<Linear> lm_head_;
  at::Tensor inv_freq_;
  LinearInputObserver observer_;
  KVTransform kv_transform_;
};

// Greedy decoding from `prompt` ids; stops at EOS when `stop_at_eos`.
// Returns only the new ids. Uses the KV cache.
absl::StatusOr<std::vector<int>> GreedyGenerate(const CausalLM& lm,
                                                const std::vector<int>& prompt,
                                                int max_new_tokens,
                                                bool stop_at_eos = true);

// Greedy decoding of a batch as transformers' generate(do_sample=False):
// `ids` [B, T] int64, left-padded when rows differ in length, with
// `attention_mask` [B, T] (undefined: all ones). Each step appends every
// row's argmax (KV-cached, positions from the mask); a row that has produced
// one of `eos_ids` continues with `pad_id`, and decoding stops early once
// every row has. Returns only the new tokens, [B, steps] int64 with
// steps <= max_new_tokens.
absl::StatusOr<at::Tensor> GreedyGenerateBatch(
    const CausalLM& lm, const at::Tensor& ids, const at::Tensor& attention_mask,
    int max_new_tokens, const std::vector<int64_t>& eos_ids = {},
    int64_t pad_id = 0);

}  // namespace qgrid::model

#endif  // QGRID_MODEL_CAUSAL_LM_H_
