// AWQ scale search against the reference semantics (module-output loss)
// and SpQR's outlier detection / storage accounting on synthetic tensors.
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <string>

#include "quant/quant_config.h"
#include "quant/quantizer.h"
#include "quant/transforms.h"

namespace qgrid::quant {
namespace {

at::Tensor RtnFake(const at::Tensor& w, int bits, int group) {
  auto q = RtnQuantizer(bits, group, false).Quantize(w, at::Tensor());
  EXPECT_TRUE(q.ok()) << q.status();
  return q->weight;
}

InputCapture CaptureOf(const at::Tensor& x) {
  InputCapture c;
  c.abs_sum = x.abs().sum(0);
  c.abs_max = x.abs().amax(0);
  c.rows = x.size(0);
  c.sample = x;
  return c;
}

std::shared_ptr<model::Linear> Dense(const at::Tensor& w) {
  return std::make_shared<model::DenseLinear>(w.clone());
}

at::Tensor DenseW(const std::shared_ptr<model::Linear>& l) {
  return l->DenseWeight().to(at::kFloat);
}

// A block whose MLP input has a few large "salient" channels (AWQ's premise):
// the searched gate/up scale must lower the MLP output error of the final,
// folded and RTN-quantized weights against plain RTN (ratio 0), measured
// here independently of the search's own bookkeeping.
TEST(Awq, ModuleOutputSearchLowersMlpErrorAgainstRatioZero) {
  at::manual_seed(21);
  const int64_t H = 64, I = 96, N = 512;
  model::DecoderLayer L;
  L.input_layernorm.weight = at::ones({H});
  L.post_attention_layernorm.weight = at::ones({H});
  L.q_proj = Dense(at::randn({H, H}) / 8);
  L.k_proj = Dense(at::randn({H, H}) / 8);
  L.v_proj = Dense(at::randn({H, H}) / 8);
  L.o_proj = Dense(at::randn({H, H}) / 8);
  L.gate_proj = Dense(at::randn({I, H}) / 8);
  L.up_proj = Dense(at::randn({I, H}) / 8);
  L.down_proj = Dense(at::randn({H, I}) / 10);
  const at::Tensor wg = DenseW(L.gate_proj), wu = DenseW(L.up_proj),
                   wd = DenseW(L.down_proj);
  at::Tensor x = at::randn({N, H});
  x.slice(1, 0, 4).mul_(25);  // salient input channels
  at::Tensor xo = at::randn({N, H}), xd = at::randn({N, I});
  std::map<std::string, InputCapture> in = {{"q", CaptureOf(x)},
                                            {"o", CaptureOf(xo)},
                                            {"gate", CaptureOf(x)},
                                            {"down", CaptureOf(xd)}};
  QuantConfig cfg;
  cfg.method = "awq";
  cfg.w_bits = 3;
  cfg.group_size = 16;
  std::map<std::string, AwqSearchLog> log;
  auto applied =
      ApplyAwq(L, "model.layers.0.", in, cfg, /*clip=*/false, nullptr, &log);
  ASSERT_TRUE(applied.ok()) << applied.status();
  ASSERT_TRUE(applied->count("gate_up"));
  const AwqSearchLog& gl = log["gate_up"];
  ASSERT_EQ(gl.losses.size(), 20u);
  EXPECT_GT(gl.best, 0);
  EXPECT_LT(gl.losses[gl.best], 0.9 * gl.losses[0]);

  // The folded model: x / s reaches gate/up (the norm was divided by s);
  // the up->down fold also rescaled up's rows and down's columns, so the
  // folded model uses the new down_proj (kept in full precision here).
  at::Tensor s = applied->at("gate_up");
  EXPECT_TRUE(at::allclose(L.post_attention_layernorm.weight, 1 / s));
  at::Tensor xs = x / s.unsqueeze(0);
  const at::Tensor wd2 = DenseW(L.down_proj);
  at::Tensor ref = MlpForward(x, wg, wu, wd);
  auto err = [&](const at::Tensor& out) {
    return (out - ref).pow(2).mean().item<double>();
  };
  const double awq = err(MlpForward(xs, RtnFake(DenseW(L.gate_proj), 3, 16),
                                    RtnFake(DenseW(L.up_proj), 3, 16), wd2));
  const double rtn =
      err(MlpForward(x, RtnFake(wg, 3, 16), RtnFake(wu, 3, 16), wd));
  EXPECT_LT(awq, 0.9 * rtn) << "awq " << awq << " rtn " << rtn;
  // Full precision is unchanged by the fold.
  EXPECT_TRUE(
      at::allclose(MlpForward(xs, DenseW(L.gate_proj), DenseW(L.up_proj), wd2),
                   ref, 1e-3, 1e-3));
}

// Only the attention loss decides the q/k/v scales when one is given.
TEST(Awq, QkvSearchUsesTheAttentionLossWhenGiven) {
  at::manual_seed(22);
  const int64_t H = 32;
  model::DecoderLayer L;
  L.input_layernorm.weight = at::ones({H});
  L.post_attention_layernorm.weight = at::ones({H});
  for (auto* l : {&L.q_proj, &L.k_proj, &L.v_proj, &L.o_proj, &L.gate_proj,
                  &L.up_proj, &L.down_proj})
    *l = Dense(at::randn({H, H}) / 6);
  at::Tensor x = at::randn({256, H});
  std::map<std::string, InputCapture> in = {{"q", CaptureOf(x)},
                                            {"o", CaptureOf(x)},
                                            {"gate", CaptureOf(x)},
                                            {"down", CaptureOf(x)}};
  QuantConfig cfg;
  cfg.method = "awq";
  cfg.group_size = 16;
  int calls = 0;
  // A loss that prefers the largest ratio: the search must pick it.
  AttentionLoss loss = [&](const std::map<std::string, at::Tensor>& w) {
    ++calls;
    EXPECT_EQ(w.size(), 3u);
    return 100.0 - calls;
  };
  std::map<std::string, AwqSearchLog> log;
  ASSERT_TRUE(ApplyAwq(L, "model.layers.0.", in, cfg, false, loss, &log).ok());
  EXPECT_EQ(calls, 20);
  EXPECT_EQ(log["qkv"].best, 19);
}

// Planted outliers in a smooth weight: SpQR's leave-one-out criterion and
// the per-weight threshold find every one of them and little else, with and
// without act-order.
TEST(SpqrQuantizer, FindsPlantedOutliers) {
  at::manual_seed(23);
  const int64_t rows = 32, cols = 64;
  at::Tensor mix = at::randn({cols, cols}) / 8 + at::eye(cols);
  at::Tensor xin = at::randn({1024, cols}).mm(mix);
  HessianAccumulator acc(cols);
  acc.Add(xin);
  at::Tensor w = at::randn({rows, cols}) * 0.05;
  const std::vector<std::pair<int64_t, int64_t>> planted = {
      {0, 3}, {5, 17}, {9, 40}, {20, 63}, {31, 0}, {14, 33}};
  for (auto [r, c] : planted) w.index_put_({r, c}, (r % 2 ? -1.0 : 1.0) * 2.0);
  for (bool act : {false, true}) {
    SpqrOptions o;
    o.bits = 3;
    o.group_size = 16;
    o.act_order = act;
    auto q = SpqrQuantizer(o).Quantize(w, acc.hessian());
    ASSERT_TRUE(q.ok()) << q.status();
    ASSERT_TRUE(q->outlier_mask.defined());
    for (auto [r, c] : planted) {
      EXPECT_TRUE(q->outlier_mask[r][c].item<bool>())
          << "missed (" << r << ", " << c << ") act_order " << act;
      // Kept unquantized: SpQR stores the outlier's GPTQ-updated value, so
      // it is near the planted +-2, far outside its group's 3-bit grid
      // (whose range the outlier did not widen).
      EXPECT_NEAR(q->weight[r][c].item<float>(), w[r][c].item<float>(), 0.1);
    }
    const int64_t n = q->outlier_mask.sum().item<int64_t>();
    EXPECT_LE(n, int64_t(planted.size()) + 10) << "act_order " << act;
    EXPECT_DOUBLE_EQ(q->outlier_fraction, double(n) / (rows * cols));
    EXPECT_DOUBLE_EQ(
        q->bits_per_param,
        SpqrStoredBits(rows, cols, 16, 3, 3, false, act, n) / (rows * cols));
  }
  // Without planted outliers the threshold (relative to the weight's own
  // column variance) flags only the tail of the rounding errors, a few
  // percent of a Gaussian weight.
  at::Tensor clean = at::randn({rows, cols}) * 0.05;
  SpqrOptions o;
  auto q = SpqrQuantizer(o).Quantize(clean, acc.hessian());
  ASSERT_TRUE(q.ok());
  EXPECT_LT(q->outlier_fraction, 0.05);
}

TEST(SpqrStoredBits, CountsCodesBilevelStatsPermutationAndCsrOutliers) {
  // 32 x 64, 3-bit codes, groups of 16 -> 128 (row, group) stats at 3 bits
  // x2 (scale, zero); 2 row chunks x 4 groups x 2 stats x 32 bits.
  const double dense = 32 * 64 * 3 + 128 * 2 * 3 + 2 * 4 * 2 * 32;
  EXPECT_DOUBLE_EQ(SpqrStoredBits(32, 64, 16, 3, 3, false, false, 0), dense);
  EXPECT_DOUBLE_EQ(SpqrStoredBits(32, 64, 16, 3, 3, false, true, 5),
                   dense + 64 * 32 + 5 * 32 + 33 * 32);
  EXPECT_DOUBLE_EQ(SpqrStoredBits(32, 64, 16, 3, 3, true, false, 0),
                   32 * 64 * 3 + 128 * 3 + 2 * 4 * 32);
}

}  // namespace
}  // namespace qgrid::quant
