// The one tiny random LLaMA of the test suites: a ModelConfig of chosen
// sizes and random weights in Hugging Face's tensor names, built through
// CausalLM::FromTensors (no files). Suites choose the sizes and the weight
// scales their assertions were written for; the draws are made in one fixed
// order (embeddings; per layer: norms, q, k, v, o, gate, up, down, q/k/v
// biases; final norm; lm_head), so a seed gives the same model everywhere.
// ByteTokenizer maps bytes to ids for exact hand-computed log-likelihoods.
#ifndef QGRID_TESTS_TESTING_TINY_LLAMA_H_
#define QGRID_TESTS_TESTING_TINY_LLAMA_H_

#include <ATen/ATen.h>

#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "model/causal_lm.h"
#include "model/config.h"
#include "model/tokenizer.h"

namespace qgrid::testing {

struct TinyLlamaSizes {
  std::string model_type = "llama";
  int64_t hidden = 32, intermediate = 48, layers = 2, heads = 4, kv_heads = 2,
          head_dim = 8, vocab = 259, max_positions = 0;  // 0: config default
  bool tied = false;
  bool qkv_bias = false;
  double rms_norm_eps = 1e-5;
};

// How the random weights are drawn: projections ~ N(0, 1) * scale; norms
// 1 + 0.1 N(0, 1) when noisy, else exactly 1.
struct TinyLlamaInit {
  double embed_scale = 1.0;
  double proj_scale = 0.3;  // q, k, v, o, gate, up
  double down_scale = 0.3;
  double lm_head_scale = 0.3;
  bool noisy_layer_norms = true;
  bool noisy_final_norm = true;
};

inline model::ModelConfig TinyLlamaConfig(const TinyLlamaSizes& s = {}) {
  model::ModelConfig c;
  c.model_type = s.model_type;
  c.hidden_size = s.hidden;
  c.intermediate_size = s.intermediate;
  c.num_layers = s.layers;
  c.num_heads = s.heads;
  c.num_kv_heads = s.kv_heads;
  c.head_dim = s.head_dim;
  c.vocab_size = s.vocab;
  if (s.max_positions > 0) c.max_position_embeddings = s.max_positions;
  c.rms_norm_eps = s.rms_norm_eps;
  c.tie_word_embeddings = s.tied;
  c.qkv_bias = s.qkv_bias;
  return c;
}

inline std::map<std::string, at::Tensor> TinyLlamaWeights(
    const model::ModelConfig& c, uint64_t seed,
    const TinyLlamaInit& init = {}) {
  at::manual_seed(seed);
  const int64_t H = c.hidden_size, I = c.intermediate_size,
                q = c.num_heads * c.head_dim, kv = c.num_kv_heads * c.head_dim;
  auto w = [](int64_t o, int64_t i, double scale) {
    return at::randn({o, i}) * scale;
  };
  auto norm = [H](bool noisy) {
    return noisy ? 1 + 0.1 * at::randn({H}) : at::ones({H});
  };
  std::map<std::string, at::Tensor> t;
  t["model.embed_tokens.weight"] =
      at::randn({c.vocab_size, H}) * init.embed_scale;
  for (int64_t l = 0; l < c.num_layers; ++l) {
    std::string p = "model.layers." + std::to_string(l) + ".";
    t[p + "input_layernorm.weight"] = norm(init.noisy_layer_norms);
    t[p + "post_attention_layernorm.weight"] = norm(init.noisy_layer_norms);
    t[p + "self_attn.q_proj.weight"] = w(q, H, init.proj_scale);
    t[p + "self_attn.k_proj.weight"] = w(kv, H, init.proj_scale);
    t[p + "self_attn.v_proj.weight"] = w(kv, H, init.proj_scale);
    t[p + "self_attn.o_proj.weight"] = w(H, q, init.proj_scale);
    t[p + "mlp.gate_proj.weight"] = w(I, H, init.proj_scale);
    t[p + "mlp.up_proj.weight"] = w(I, H, init.proj_scale);
    t[p + "mlp.down_proj.weight"] = w(H, I, init.down_scale);
    if (c.qkv_bias) {
      t[p + "self_attn.q_proj.bias"] = at::randn({q});
      t[p + "self_attn.k_proj.bias"] = at::randn({kv});
      t[p + "self_attn.v_proj.bias"] = at::randn({kv});
    }
  }
  t["model.norm.weight"] = norm(init.noisy_final_norm);
  if (!c.tie_word_embeddings) {
    t["lm_head.weight"] = w(c.vocab_size, H, init.lm_head_scale);
  }
  return t;
}

// id 1 = BOS, 2 = EOS, 3 + byte otherwise (vocabulary 259).
class ByteTokenizer : public model::Tokenizer {
 public:
  std::vector<int> Encode(std::string_view text,
                          bool add_special_tokens = true) const override {
    std::vector<int> out;
    if (add_special_tokens) out.push_back(1);
    for (unsigned char c : text) out.push_back(3 + c);
    return out;
  }
  std::string Decode(const std::vector<int>& ids,
                     bool skip_special_tokens = true) const override {
    std::string s;
    for (int id : ids)
      if (id >= 3) s += static_cast<char>(id - 3);
    return s;
  }
  int vocab_size() const override { return 259; }
  int bos_id() const override { return 1; }
  int eos_id() const override { return 2; }
  std::string IdToPiece(int id) const override {
    return id >= 3 ? std::string(1, static_cast<char>(id - 3)) : "<s>";
  }
  std::string kind() const override { return "bytes"; }
};

// The model (nullptr when FromTensors refuses the config).
inline std::unique_ptr<model::CausalLM> TinyLlama(
    const model::ModelConfig& c, uint64_t seed, const TinyLlamaInit& init = {},
    const model::LoadOptions& opts = {}) {
  auto lm =
      model::CausalLM::FromTensors(c, TinyLlamaWeights(c, seed, init), opts);
  if (!lm.ok()) return nullptr;
  return std::move(lm).value();
}

}  // namespace qgrid::testing

#endif  // QGRID_TESTS_TESTING_TINY_LLAMA_H_
