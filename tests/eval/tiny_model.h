// The eval suites' tiny model (tests/testing/tiny_llama.h) with the byte
// tokenizer, for exact scorer tests: log-likelihoods can be recomputed by
// hand from its logits.
#ifndef QGRID_TESTS_EVAL_TINY_MODEL_H_
#define QGRID_TESTS_EVAL_TINY_MODEL_H_

#include <ATen/ATen.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "model/causal_lm.h"
#include "model/tokenizer.h"
#include "tests/testing/tiny_llama.h"

namespace qgrid::eval::testing {

using ::qgrid::testing::ByteTokenizer;

// 2 layers, hidden 32, GQA 4/2 heads, byte vocabulary, 512 positions.
inline std::unique_ptr<model::CausalLM> TinyModel(uint64_t seed = 1) {
  ::qgrid::testing::TinyLlamaSizes sizes;
  sizes.vocab = 259;
  sizes.max_positions = 512;
  model::ModelConfig c = ::qgrid::testing::TinyLlamaConfig(sizes);
  c.architecture = "LlamaForCausalLM";
  c.bos_token_id = 1;
  c.eos_token_id = 2;
  auto lm = ::qgrid::testing::TinyLlama(c, seed);
  if (lm) lm->set_tokenizer(std::make_unique<ByteTokenizer>());
  return lm;
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
