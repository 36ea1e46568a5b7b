// A tiny random LLaMA model with a byte-level tokenizer, for exact scorer
// tests: log-likelihoods can be recomputed by hand from its logits.
#ifndef QGRID_TESTS_EVAL_TINY_MODEL_H_
#define QGRID_TESTS_EVAL_TINY_MODEL_H_

#include <ATen/ATen.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "model/causal_lm.h"
#include "model/tokenizer.h"

namespace qgrid::eval::testing {

// id 1 = BOS, 2 = EOS, 3 + byte otherwise.
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

inline std::unique_ptr<model::CausalLM> TinyModel(uint64_t seed = 1) {
  model::ModelConfig c;
  c.model_type = "llama";
  c.architecture = "LlamaForCausalLM";
  c.hidden_size = 32;
  c.intermediate_size = 48;
  c.num_layers = 2;
  c.num_heads = 4;
  c.num_kv_heads = 2;
  c.head_dim = 8;
  c.vocab_size = 259;
  c.max_position_embeddings = 512;
  c.rms_norm_eps = 1e-5;
  c.tie_word_embeddings = false;
  c.bos_token_id = 1;
  c.eos_token_id = 2;
  at::manual_seed(seed);
  const int64_t H = c.hidden_size, I = c.intermediate_size,
                q = c.num_heads * c.head_dim, kv = c.num_kv_heads * c.head_dim;
  std::map<std::string, at::Tensor> t;
  auto w = [](int64_t o, int64_t i) { return at::randn({o, i}) * 0.3; };
  t["model.embed_tokens.weight"] = at::randn({c.vocab_size, H});
  for (int64_t l = 0; l < c.num_layers; ++l) {
    std::string p = "model.layers." + std::to_string(l) + ".";
    t[p + "input_layernorm.weight"] = 1 + 0.1 * at::randn({H});
    t[p + "post_attention_layernorm.weight"] = 1 + 0.1 * at::randn({H});
    t[p + "self_attn.q_proj.weight"] = w(q, H);
    t[p + "self_attn.k_proj.weight"] = w(kv, H);
    t[p + "self_attn.v_proj.weight"] = w(kv, H);
    t[p + "self_attn.o_proj.weight"] = w(H, q);
    t[p + "mlp.gate_proj.weight"] = w(I, H);
    t[p + "mlp.up_proj.weight"] = w(I, H);
    t[p + "mlp.down_proj.weight"] = w(H, I);
  }
  t["model.norm.weight"] = 1 + 0.1 * at::randn({H});
  t["lm_head.weight"] = w(c.vocab_size, H);
  auto lm = model::CausalLM::FromTensors(c, t);
  if (!lm.ok()) return nullptr;
  (*lm)->set_tokenizer(std::make_unique<ByteTokenizer>());
  return std::move(lm).value();
}

// log p(ids[t] | ids[:t]) for t >= from, by one plain forward.
inline double HandLoglikelihood(const model::CausalLM& lm,
                                const std::vector<int>& ids, size_t from,
                                bool* greedy = nullptr) {
  std::vector<int64_t> v(ids.begin(), ids.end() - 1);
  at::Tensor x = at::tensor(v, at::kLong).view({1, -1});
  at::Tensor lp = at::log_softmax(*lm.Forward(x), -1)[0];
  double s = 0;
  if (greedy) *greedy = true;
  for (size_t t = from; t < ids.size(); ++t) {
    s += lp[t - 1][ids[t]].item<double>();
    if (greedy && lp[t - 1].argmax().item<int64_t>() != ids[t]) *greedy = false;
  }
  return s;
}

}  // namespace qgrid::eval::testing

#endif  // QGRID_TESTS_EVAL_TINY_MODEL_H_
