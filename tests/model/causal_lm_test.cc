#include "model/causal_lm.h"

#include <ATen/ATen.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "model/safetensors.h"
#include "model/torch_compat.h"
#include "tests/test_util.h"
#include "tests/testing/tiny_llama.h"

namespace qgrid::model {
namespace {

namespace fs = std::filesystem;

constexpr char kStories[] = "models/stories260K";

// "Once upon a time" in stories260K's SentencePiece vocabulary, BOS first
// (computed once with the reference python3-sentencepiece).
const std::vector<int> kOnceUponATime = {1, 403, 407, 261, 378};
// SentencePiece ids of ", there was a little girl named Lily. She loved to
// play outside in the park." (the reference continuation, same tool): the
// greedy continuation must start with exactly these pieces.
const std::vector<int> kExpectedContinuation = {
    432, 383, 286, 261, 376, 298, 315, 421, 395, 317, 426,
    338, 401, 396, 267, 337, 410, 408, 419, 292, 411, 322};

std::unique_ptr<CausalLM> LoadStories(const std::string& dir,
                                      at::ScalarType dtype = at::kFloat) {
  LoadOptions opts;
  opts.load_tokenizer = false;
  opts.dtype = dtype;
  auto lm = CausalLM::Load(dir, opts);
  EXPECT_TRUE(lm.ok()) << lm.status();
  return lm.ok() ? std::move(lm).value() : nullptr;
}

at::Tensor Ids(const std::vector<int64_t>& v) {
  return at::tensor(v, at::kLong).view({1, -1});
}

at::Tensor Fwd(const CausalLM& lm, const at::Tensor& ids,
               const at::Tensor& mask = at::Tensor(),
               KVCache* cache = nullptr) {
  auto r = lm.Forward(ids, mask, cache);
  EXPECT_TRUE(r.ok()) << r.status();
  return r.ok() ? *r : at::Tensor();
}

double MaxDiff(const at::Tensor& a, const at::Tensor& b) {
  return (a - b).abs().max().item<double>();
}

TEST(CausalLMStories, GreedyContinuesOnceUponATimeAsReference) {
  QG_REQUIRE_SHARED(dir, kStories);
  auto lm = LoadStories(dir);
  ASSERT_NE(lm, nullptr);
  EXPECT_EQ(lm->num_layers(), 5);
  // The reference sentence below ends 44 pieces after the prompt (24 new
  // pieces only reach "... in the p": SentencePiece splits "outside" and
  // "park" into several pieces), so generate enough to cover it.
  auto out = GreedyGenerate(*lm, kOnceUponATime, 44);
  ASSERT_TRUE(out.ok()) << out.status();
  ASSERT_GE(out->size(), kExpectedContinuation.size());
  std::vector<int> head(out->begin(),
                        out->begin() + kExpectedContinuation.size());
  EXPECT_EQ(head, kExpectedContinuation);
  // With the tokenizer merged, also check the decoded text.
  auto tok = LoadTokenizer(dir);
  if (tok.ok()) {
    std::vector<int> all = kOnceUponATime;
    all.insert(all.end(), out->begin(), out->end());
    EXPECT_THAT((*tok)->Decode(all),
                ::testing::StartsWith(
                    "Once upon a time, there was a little girl named Lily. "
                    "She loved to play outside in the park. One day, she saw "
                    "a big, red ball."));
  }
}

// Three prompts of different lengths, padded on the left or on the right:
// every real position must get the logits it gets alone.
TEST(CausalLMStories, BatchedWithPaddingMatchesOneByOne) {
  QG_REQUIRE_SHARED(dir, kStories);
  auto lm = LoadStories(dir);
  ASSERT_NE(lm, nullptr);
  std::vector<std::vector<int64_t>> prompts = {
      {1, 403, 407, 261, 378, 432, 383},
      {1, 50, 60, 70},
      {1, 300, 301, 302, 303, 304, 305, 306, 307, 308}};
  const int64_t T = 10;
  for (bool left : {false, true}) {
    at::Tensor ids = at::zeros({3, T}, at::kLong);
    at::Tensor mask = at::zeros({3, T}, at::kLong);
    for (int b = 0; b < 3; ++b) {
      const int64_t n = prompts[b].size(), off = left ? T - n : 0;
      ids[b].narrow(0, off, n).copy_(at::tensor(prompts[b], at::kLong));
      mask[b].narrow(0, off, n).fill_(1);
    }
    at::Tensor batched = Fwd(*lm, ids, mask);
    ASSERT_TRUE(batched.defined());
    EXPECT_FALSE(batched.isnan().any().item<bool>());
    for (int b = 0; b < 3; ++b) {
      const int64_t n = prompts[b].size(), off = left ? T - n : 0;
      at::Tensor alone = Fwd(*lm, Ids(prompts[b]))[0];
      EXPECT_LT(MaxDiff(batched[b].narrow(0, off, n), alone), 1e-4)
          << (left ? "left" : "right") << " padding, row " << b;
    }
  }
}

TEST(CausalLMStories, KVCacheDecodingMatchesFullForward) {
  QG_REQUIRE_SHARED(dir, kStories);
  auto lm = LoadStories(dir);
  ASSERT_NE(lm, nullptr);
  std::vector<int64_t> seq = {1, 403, 407, 261, 378, 432, 383, 286, 261, 376};
  at::Tensor full = Fwd(*lm, Ids(seq))[0];
  KVCache cache;
  at::Tensor first = Fwd(*lm, Ids({seq.begin(), seq.begin() + 6}), {}, &cache);
  EXPECT_EQ(cache.length(), 6);
  EXPECT_LT(MaxDiff(first[0], full.narrow(0, 0, 6)), 1e-4);
  for (size_t t = 6; t < seq.size(); ++t) {
    at::Tensor step = Fwd(*lm, Ids({seq[t]}), {}, &cache);
    EXPECT_LT(MaxDiff(step[0][0], full[t]), 1e-4) << "position " << t;
  }
  EXPECT_EQ(cache.length(), static_cast<int64_t>(seq.size()));

  // Left-padded batch continued through the cache with a growing mask.
  at::Tensor ids =
      at::tensor({0, 0, 1, 403, 407, 1, 403, 407, 261, 378}, at::kLong)
          .view({2, 5});
  at::Tensor mask =
      at::tensor({0, 0, 1, 1, 1, 1, 1, 1, 1, 1}, at::kLong).view({2, 5});
  KVCache bcache;
  Fwd(*lm, ids, mask, &bcache);
  at::Tensor next = at::tensor({432, 432}, at::kLong).view({2, 1});
  at::Tensor mask2 = at::cat({mask, at::ones({2, 1}, at::kLong)}, 1);
  at::Tensor inc = Fwd(*lm, next, mask2, &bcache);
  at::Tensor ref0 = Fwd(*lm, Ids({1, 403, 407, 432}))[0][3];
  at::Tensor ref1 = Fwd(*lm, Ids({1, 403, 407, 261, 378, 432}))[0][5];
  EXPECT_LT(MaxDiff(inc[0][0], ref0), 1e-4);
  EXPECT_LT(MaxDiff(inc[1][0], ref1), 1e-4);

  // RepeatInterleave / Select keep rows aligned with the batch.
  KVCache rep = bcache.RepeatInterleave(2);
  EXPECT_EQ(rep.keys[0].size(0), 4);
  KVCache sel = rep.Select(at::tensor({2}, at::kLong));
  EXPECT_TRUE(at::equal(sel.keys[3][0], bcache.keys[3][1]));
}

TEST(CausalLMStories, Bf16IsCloseToFp32) {
  QG_REQUIRE_SHARED(dir, kStories);
  auto f32 = LoadStories(dir, at::kFloat);
  auto bf16 = LoadStories(dir, at::kBFloat16);
  ASSERT_NE(f32, nullptr);
  ASSERT_NE(bf16, nullptr);
  EXPECT_EQ(bf16->WeightBytes() * 2, f32->WeightBytes());
  at::Tensor ids = Ids({1, 403, 407, 261, 378, 432, 383, 286, 261, 376});
  at::Tensor a = Fwd(*f32, ids), b = Fwd(*bf16, ids);
  EXPECT_EQ(b.scalar_type(), at::kFloat);
  // bf16 keeps 8 mantissa bits: logits agree to a few percent of their
  // spread and the predicted tokens agree.
  const double spread = a.std().item<double>();
  EXPECT_LT(MaxDiff(a, b), 0.1 * spread + 0.1);
  EXPECT_GE(a.argmax(-1).eq(b.argmax(-1)).sum().item<int64_t>(), 9);
  auto gen = GreedyGenerate(*bf16, kOnceUponATime, 8);
  ASSERT_TRUE(gen.ok());
  EXPECT_EQ((*gen)[0], kExpectedContinuation[0]);
}

TEST(CausalLMStories, Fp16RunsOnCpu) {
  QG_REQUIRE_SHARED(dir, kStories);
  auto f32 = LoadStories(dir, at::kFloat);
  auto f16 = LoadStories(dir, at::kHalf);
  ASSERT_NE(f16, nullptr);
  at::Tensor ids = Ids({1, 403, 407, 261, 378});
  at::Tensor a = Fwd(*f32, ids), b = Fwd(*f16, ids);
  ASSERT_TRUE(b.defined());
  EXPECT_LT(MaxDiff(a, b), 0.05 * a.std().item<double>() + 0.05);
}

TEST(CausalLMStories, HooksSeeEveryLinearInForwardOrder) {
  QG_REQUIRE_SHARED(dir, kStories);
  auto lm = LoadStories(dir);
  ASSERT_NE(lm, nullptr);
  std::vector<std::string> seen;
  std::vector<int64_t> widths;
  lm->SetLinearInputObserver([&](const std::string& name, const at::Tensor& x) {
    seen.push_back(name);
    widths.push_back(x.size(-1));
  });
  int kv_calls = 0;
  lm->SetKVTransform([&](int layer, bool is_key, const at::Tensor& x) {
    ++kv_calls;
    return x;
  });
  at::Tensor ids = Ids({1, 403, 407});
  at::Tensor plain = Fwd(*lm, ids);
  std::vector<std::string> names;
  std::vector<int64_t> in_features;
  for (const LinearRef& r : lm->Linears()) {
    names.push_back(r.name);
    in_features.push_back((*r.slot)->in_features());
  }
  EXPECT_EQ(names.size(), 5u * 7 + 1);
  EXPECT_EQ(names.front(), "model.layers.0.self_attn.q_proj");
  EXPECT_EQ(names.back(), "lm_head");
  EXPECT_EQ(seen, names);
  EXPECT_EQ(widths, in_features);
  EXPECT_EQ(kv_calls, 2 * 5);

  // A transform that changes values changes the output; swapping a slot
  // changes what runs.
  lm->SetKVTransform([](int layer, bool is_key, const at::Tensor& x) {
    return is_key ? x : x * 0;
  });
  EXPECT_GT(MaxDiff(Fwd(*lm, ids), plain), 1e-3);
  lm->SetKVTransform(nullptr);
  lm->SetLinearInputObserver(nullptr);
  auto& slot = *lm->Linears()[3].slot;  // layer 0 o_proj
  slot = std::make_shared<DenseLinear>(slot->DenseWeight() * 0);
  EXPECT_GT(MaxDiff(Fwd(*lm, ids), plain), 1e-3);
}

TEST(CausalLMStories, StateDictRoundTripsThroughSafetensors) {
  QG_REQUIRE_SHARED(dir, kStories);
  auto lm = LoadStories(dir);
  ASSERT_NE(lm, nullptr);
  auto sd = lm->StateDict();
  int64_t params = 0;
  for (const auto& [n, t] : sd) params += t.numel();
  EXPECT_EQ(params, lm->config().ParameterCount());
  // Tied: lm_head is not saved separately (as save_pretrained does).
  for (const auto& [n, t] : sd) EXPECT_NE(n, "lm_head.weight");
  std::string tmp = testing::MakeTempDir("sd");
  ASSERT_TRUE(WriteSafetensors(tmp + "/model.safetensors", sd).ok());
  fs::copy_file(dir + "/config.json", tmp + "/config.json");
  auto again = LoadStories(tmp);
  ASSERT_NE(again, nullptr);
  at::Tensor ids = Ids({1, 403, 407, 261});
  EXPECT_TRUE(at::equal(Fwd(*lm, ids), Fwd(*again, ids)));
  fs::remove_all(tmp);
}

// --- tiny random models built through FromTensors

ModelConfig TinyConfig(const std::string& type, bool tied) {
  qgrid::testing::TinyLlamaSizes s;
  s.model_type = type;
  s.vocab = 50;
  s.tied = tied;
  s.qkv_bias = type == "qwen2";
  return qgrid::testing::TinyLlamaConfig(s);
}

std::map<std::string, at::Tensor> RandomTensors(const ModelConfig& c,
                                                uint64_t seed = 1) {
  qgrid::testing::TinyLlamaInit init;
  init.proj_scale = init.down_scale = init.lm_head_scale = 0.2;
  return qgrid::testing::TinyLlamaWeights(c, seed, init);
}

TEST(CausalLMTiny, GqaBiasTiedAndUntiedModelsRunAndTrain) {
  for (const auto& [type, tied] : std::vector<std::pair<std::string, bool>>{
           {"llama", true}, {"qwen2", false}, {"mistral", false}}) {
    ModelConfig c = TinyConfig(type, tied);
    LoadOptions opts;
    opts.trainable = true;
    auto lm = CausalLM::FromTensors(c, RandomTensors(c), opts);
    ASSERT_TRUE(lm.ok()) << lm.status();
    int64_t n = 0;
    for (const auto& p : (*lm)->Parameters()) n += p.numel();
    EXPECT_EQ(n, c.ParameterCount()) << type;

    at::Tensor ids = at::randint(0, c.vocab_size, {2, 7}, at::kLong);
    auto logits = (*lm)->Forward(ids);
    ASSERT_TRUE(logits.ok()) << logits.status();
    EXPECT_EQ(logits->sizes().vec(), (std::vector<int64_t>{2, 7, 50}));
    ASSERT_TRUE(logits->requires_grad()) << type;
    at::Tensor loss =
        at::cross_entropy_loss(logits->narrow(1, 0, 6).reshape({-1, 50}),
                               ids.narrow(1, 1, 6).reshape({-1}));
    loss.backward();
    for (const auto& p : (*lm)->Parameters()) {
      ASSERT_TRUE(p.grad().defined()) << type;
      EXPECT_GT(p.grad().abs().sum().item<double>(), 0) << type;
    }
  }
}

// Batched greedy decoding of left-padded rows (GreedyGenerateBatch, as
// transformers' generate) gives each row's one-by-one greedy tokens; after
// an EOS a row continues with the pad id, and decoding stops once every row
// has ended.
TEST(CausalLMTiny, BatchedGreedyEqualsOneByOneAndPadsAfterEos) {
  ModelConfig c = TinyConfig("llama", false);
  auto lm = CausalLM::FromTensors(c, RandomTensors(c, 5));
  ASSERT_TRUE(lm.ok()) << lm.status();
  const std::vector<std::vector<int>> rows = {{3, 9, 4, 7, 1}, {12, 5}};
  const int steps = 6;
  std::vector<std::vector<int>> alone;
  for (const auto& r : rows) {
    auto g = GreedyGenerate(**lm, r, steps, /*stop_at_eos=*/false);
    ASSERT_TRUE(g.ok()) << g.status();
    alone.push_back(*g);
  }
  at::Tensor ids = at::zeros({2, 5}, at::kLong);
  at::Tensor mask = at::zeros({2, 5}, at::kLong);
  for (size_t r = 0; r < rows.size(); ++r) {
    const int64_t pad = 5 - static_cast<int64_t>(rows[r].size());
    for (size_t t = 0; t < rows[r].size(); ++t) {
      ids[r][pad + t] = rows[r][t];
      mask[r][pad + t] = 1;
    }
  }
  auto out = GreedyGenerateBatch(**lm, ids, mask, steps);
  ASSERT_TRUE(out.ok()) << out.status();
  ASSERT_EQ(out->sizes().vec(), (std::vector<int64_t>{2, steps}));
  for (int r = 0; r < 2; ++r) {
    for (int t = 0; t < steps; ++t) {
      EXPECT_EQ((*out)[r][t].item<int64_t>(), alone[r][t]) << r << " " << t;
    }
  }
  // Row 0's third token as EOS: row 0 ends there and is padded; decoding
  // stops when row 1 has ended too (its own EOS: its second token).
  const int64_t eos0 = alone[0][2], eos1 = alone[1][1];
  auto stopped = GreedyGenerateBatch(**lm, ids, mask, steps, {eos0, eos1},
                                     /*pad_id=*/49);
  ASSERT_TRUE(stopped.ok()) << stopped.status();
  std::vector<std::vector<int64_t>> got(2);
  for (int r = 0; r < 2; ++r) {
    for (int64_t t = 0; t < stopped->size(1); ++t) {
      got[r].push_back((*stopped)[r][t].item<int64_t>());
    }
  }
  // Expected: each row up to its first EOS, then 49s, until both ended.
  auto first_eos = [&](const std::vector<int>& a) {
    for (size_t t = 0; t < a.size(); ++t) {
      if (a[t] == eos0 || a[t] == eos1) return static_cast<int>(t);
    }
    return static_cast<int>(a.size()) - 1;
  };
  const int end = std::max(first_eos(alone[0]), first_eos(alone[1]));
  ASSERT_EQ(stopped->size(1), end + 1);
  for (int r = 0; r < 2; ++r) {
    const int e = first_eos(alone[r]);
    for (int t = 0; t <= end; ++t) {
      EXPECT_EQ(got[r][t], t <= e ? alone[r][t] : 49) << r << " " << t;
    }
  }
}

TEST(CausalLMTiny, InferenceRecordsNoGraph) {
  ModelConfig c = TinyConfig("llama", false);
  auto lm = CausalLM::FromTensors(c, RandomTensors(c));
  ASSERT_TRUE(lm.ok());
  auto logits = (*lm)->Forward(at::zeros({1, 3}, at::kLong));
  ASSERT_TRUE(logits.ok());
  EXPECT_FALSE(logits->requires_grad());
}

// Query-chunked attention (LoadOptions::attention_score_budget_bytes) gives
// the unchunked logits: plain causal, left/right-padded batches (padding
// rows included) and continuing a KV cache.
TEST(CausalLMTiny, ChunkedAttentionEqualsUnchunked) {
  ModelConfig c = TinyConfig("llama", false);  // GQA: 4 heads, 2 kv heads
  LoadOptions whole;
  whole.attention_score_budget_bytes = 0;
  auto ref = CausalLM::FromTensors(c, RandomTensors(c, 3), whole);
  ASSERT_TRUE(ref.ok());
  // 1 byte: one query per chunk; 2*4*13*4*3 bytes: 3 queries (uneven tail).
  for (int64_t budget : {int64_t{1}, int64_t{2 * 4 * 13 * 4 * 3}}) {
    LoadOptions o;
    o.attention_score_budget_bytes = budget;
    auto lm = CausalLM::FromTensors(c, RandomTensors(c, 3), o);
    ASSERT_TRUE(lm.ok());
    at::manual_seed(5);
    at::Tensor ids = at::randint(0, c.vocab_size, {2, 13}, at::kLong);
    auto want = (*ref)->Forward(ids);
    auto got = (*lm)->Forward(ids);
    ASSERT_TRUE(want.ok() && got.ok());
    EXPECT_LT((*got - *want).abs().max().item<double>(), 1e-5) << budget;

    at::Tensor mask = at::ones({2, 13}, at::kLong);
    mask[0].narrow(0, 0, 4).fill_(0);   // left padding
    mask[1].narrow(0, 10, 3).fill_(0);  // right padding
    want = (*ref)->Forward(ids, mask);
    got = (*lm)->Forward(ids, mask);
    ASSERT_TRUE(want.ok() && got.ok());
    EXPECT_LT((*got - *want).abs().max().item<double>(), 1e-5) << budget;

    // A cached prefix of 8 then 5 new positions (past 8, keys 13).
    KVCache kw, kg;
    at::Tensor first = ids.narrow(1, 0, 8), rest = ids.narrow(1, 8, 5);
    ASSERT_TRUE((*ref)->Forward(first, mask.narrow(1, 0, 8), &kw).ok());
    ASSERT_TRUE((*lm)->Forward(first, mask.narrow(1, 0, 8), &kg).ok());
    want = (*ref)->Forward(rest, mask, &kw);
    got = (*lm)->Forward(rest, mask, &kg);
    ASSERT_TRUE(want.ok() && got.ok());
    EXPECT_LT((*got - *want).abs().max().item<double>(), 1e-5) << budget;
    EXPECT_LT((kg.values[1] - kw.values[1]).abs().max().item<double>(), 1e-5);
  }
}

TEST(CausalLMTiny, BaichuanWPackEqualsSeparateProjections) {
  ModelConfig c = TinyConfig("llama", false);
  c.num_kv_heads = c.num_heads;  // Baichuan has no GQA
  auto tensors = RandomTensors(c, 7);
  auto llama = CausalLM::FromTensors(c, tensors);
  ASSERT_TRUE(llama.ok());
  std::map<std::string, at::Tensor> packed = tensors;
  for (int64_t l = 0; l < c.num_layers; ++l) {
    std::string p = "model.layers." + std::to_string(l) + ".self_attn.";
    packed[p + "W_pack.weight"] =
        at::cat({packed[p + "q_proj.weight"], packed[p + "k_proj.weight"],
                 packed[p + "v_proj.weight"]});
    for (const char* n : {"q_proj.weight", "k_proj.weight", "v_proj.weight"})
      packed.erase(p + n);
  }
  ModelConfig bc = c;
  bc.model_type = "baichuan";
  bc.fused_qkv = true;
  auto baichuan = CausalLM::FromTensors(bc, packed);
  ASSERT_TRUE(baichuan.ok()) << baichuan.status();
  at::Tensor ids = at::randint(0, c.vocab_size, {1, 6}, at::kLong);
  EXPECT_TRUE(
      at::allclose(*(*llama)->Forward(ids), *(*baichuan)->Forward(ids)));

  // NormHead: logits come from unit-norm head rows.
  bc.norm_head = true;
  auto normed = CausalLM::FromTensors(bc, packed);
  ASSERT_TRUE(normed.ok());
  at::Tensor w = (*normed)->lm_head()->DenseWeight();
  EXPECT_LT(MaxDiff(w.norm(2, {1}), at::ones({c.vocab_size})), 1e-5);
}

TEST(CausalLMTiny, LinearRopeScalingEqualsScaledPositions) {
  // linear scaling divides inv_freq by the factor, so the scaled model at
  // positions 2p must equal the plain model at positions p.
  ModelConfig c = TinyConfig("llama", true);
  auto tensors = RandomTensors(c, 3);
  auto plain = CausalLM::FromTensors(c, tensors);
  ModelConfig sc = c;
  sc.rope_scaling.type = "linear";
  sc.rope_scaling.factor = 2.0;
  auto scaled = CausalLM::FromTensors(sc, tensors);
  ASSERT_TRUE(plain.ok() && scaled.ok());
  at::Tensor ids = at::randint(0, c.vocab_size, {1, 5}, at::kLong);
  at::NoGradGuard ng;
  AttentionContext a = (*plain)->MakeContext(at::Tensor(), 1, 5, 0);
  AttentionContext b = (*scaled)->MakeContext(at::Tensor(), 1, 5, 0);
  at::Tensor h0 = (*plain)->Embed(ids);
  b.positions = a.positions * 2;
  b.cos = at::Tensor();
  b.sin = at::Tensor();
  at::Tensor x = (*plain)->LayerForward(0, h0, a);
  at::Tensor y = (*scaled)->LayerForward(0, h0, b);
  EXPECT_LT(MaxDiff(x, y), 1e-5);
  // ... and differs at the unscaled positions.
  AttentionContext b2 = (*scaled)->MakeContext(at::Tensor(), 1, 5, 0);
  EXPECT_GT(MaxDiff(x, (*scaled)->LayerForward(0, h0, b2)), 1e-4);
}

// llama3 scaling keeps frequencies whose wavelength is below
// original_max / high_freq_factor and divides those above
// original_max / low_freq_factor by the factor. With head_dim 8 and theta
// 10000 the wavelengths are 2*pi*{1, 10, 100, 1000}: a huge original
// context leaves every frequency alone (= no scaling), a tiny one scales
// every frequency (= linear scaling by the factor), and in between the
// result differs from both.
TEST(CausalLMTiny, Llama3RopeScalingLimitsAreNoScalingAndLinear) {
  ModelConfig c = TinyConfig("llama", true);
  auto tensors = RandomTensors(c, 4);
  auto logits = [&](const std::string& type, double factor, int64_t orig) {
    ModelConfig x = c;
    x.rope_scaling.type = type;
    x.rope_scaling.factor = factor;
    x.rope_scaling.original_max_position_embeddings = orig;
    auto lm = CausalLM::FromTensors(x, tensors);
    EXPECT_TRUE(lm.ok()) << lm.status();
    at::manual_seed(9);
    return *(*lm)->Forward(at::randint(0, c.vocab_size, {1, 12}, at::kLong));
  };
  at::Tensor plain = logits("", 1, 0);
  at::Tensor linear = logits("linear", 8, 0);
  EXPECT_LT(MaxDiff(logits("llama3", 8, 1 << 20), plain), 1e-5);
  EXPECT_LT(MaxDiff(logits("llama3", 8, 1), linear), 1e-5);
  // 1000: keeps 2*pi*{1,10}, smooths 2*pi*100, scales 2*pi*1000.
  at::Tensor mid = logits("llama3", 8, 1000);
  EXPECT_GT(MaxDiff(mid, plain), 1e-4);
  EXPECT_GT(MaxDiff(mid, linear), 1e-4);
}

TEST(CausalLMStories, ShardedCheckpointLoadsTheSameModel) {
  QG_REQUIRE_SHARED(dir, kStories);
  auto lm = LoadStories(dir);
  ASSERT_NE(lm, nullptr);
  auto sd = lm->StateDict();
  std::string tmp = testing::MakeTempDir("shard");
  const size_t half = sd.size() / 2;
  std::vector<std::pair<std::string, at::Tensor>> a(sd.begin(),
                                                    sd.begin() + half);
  std::vector<std::pair<std::string, at::Tensor>> b(sd.begin() + half,
                                                    sd.end());
  ASSERT_TRUE(
      WriteSafetensors(tmp + "/model-00001-of-00002.safetensors", a).ok());
  ASSERT_TRUE(
      WriteSafetensors(tmp + "/model-00002-of-00002.safetensors", b).ok());
  std::ofstream index(tmp + "/model.safetensors.index.json");
  index << "{\"weight_map\": {";
  for (size_t i = 0; i < sd.size(); ++i) {
    index << (i ? ", " : "") << "\"" << sd[i].first << "\": \"model-0000"
          << (i < half ? 1 : 2) << "-of-00002.safetensors\"";
  }
  index << "}}";
  index.close();
  fs::copy_file(dir + "/config.json", tmp + "/config.json");
  auto sharded = LoadStories(tmp);
  ASSERT_NE(sharded, nullptr);
  at::Tensor ids = Ids({1, 403, 407, 261});
  EXPECT_TRUE(at::equal(Fwd(*lm, ids), Fwd(*sharded, ids)));
  fs::remove_all(tmp);
}

TEST(CausalLMTiny, RejectsBadInputs) {
  ModelConfig c = TinyConfig("llama", true);
  auto tensors = RandomTensors(c);
  auto bad = tensors;
  bad["model.layers.1.mlp.up_proj.weight"] = at::zeros({3, 3});
  auto r = CausalLM::FromTensors(c, bad);
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(std::string(r.status().message()),
              ::testing::HasSubstr("model.layers.1.mlp.up_proj.weight"));
  bad = tensors;
  bad.erase("model.norm.weight");
  EXPECT_FALSE(CausalLM::FromTensors(c, bad).ok());

  auto lm = CausalLM::FromTensors(c, tensors);
  ASSERT_TRUE(lm.ok());
  EXPECT_FALSE((*lm)->Forward(at::full({1, 2}, 50, at::kLong)).ok());
  EXPECT_FALSE((*lm)->Forward(at::zeros({3}, at::kLong)).ok());
  EXPECT_FALSE(
      (*lm)->Forward(at::zeros({1, 2}, at::kLong), at::ones({1, 3})).ok());
}

TEST(CausalLMTiny, LoadConsultsLinearFactoryAndReportsMissingDirs) {
  ModelConfig c = TinyConfig("llama", false);
  std::string dir = testing::MakeTempDir("lm");
  auto tensors = RandomTensors(c);
  const std::string special = "model.layers.1.mlp.down_proj";
  at::Tensor down = tensors[special + ".weight"];
  tensors.erase(special + ".weight");  // only the factory can build it
  std::vector<std::pair<std::string, at::Tensor>> list(tensors.begin(),
                                                       tensors.end());
  ASSERT_TRUE(WriteSafetensors(dir + "/model.safetensors", list).ok());
  std::ofstream(dir + "/config.json")
      << R"({"model_type": "llama", "hidden_size": 32, "intermediate_size": 48,
             "num_hidden_layers": 2, "num_attention_heads": 4,
             "num_key_value_heads": 2, "vocab_size": 50,
             "rms_norm_eps": 1e-5, "tie_word_embeddings": false})";
  LoadOptions opts;
  opts.load_tokenizer = false;
  EXPECT_FALSE(CausalLM::Load(dir, opts).ok());  // the weight is missing
  std::vector<std::string> asked;
  opts.linear_factory =
      [&](const std::string& name, const Checkpoint& ckpt,
          const ModelConfig& cfg,
          const LoadOptions& o) -> absl::StatusOr<std::shared_ptr<Linear>> {
    asked.push_back(name);
    if (name == special) return std::make_shared<DenseLinear>(down);
    return std::shared_ptr<Linear>();
  };
  auto lm = CausalLM::Load(dir, opts);
  ASSERT_TRUE(lm.ok()) << lm.status();
  EXPECT_EQ(asked.size(), 2u * 7 + 1);
  EXPECT_TRUE((*lm)->layer(1).down_proj->DenseWeight().is_same(down));

  auto missing = CausalLM::Load(dir + "/nope", opts);
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
  fs::remove(dir + "/config.json");
  auto no_cfg = CausalLM::Load(dir, opts);
  EXPECT_THAT(std::string(no_cfg.status().message()),
              ::testing::HasSubstr("config.json"));
  fs::remove_all(dir);
}

}  // namespace
}  // namespace qgrid::model
