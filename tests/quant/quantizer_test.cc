#include "quant/quantizer.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <vector>

namespace qgrid::quant {
namespace {

at::Tensor T(std::vector<float> v, int64_t rows) {
  return at::tensor(v, at::kFloat).reshape({rows, -1});
}

std::vector<int> Ints(const at::Tensor& t) {
  at::Tensor c = t.to(at::kInt).contiguous().flatten();
  return std::vector<int>(c.data_ptr<int>(), c.data_ptr<int>() + c.numel());
}
std::vector<float> Floats(const at::Tensor& t) {
  at::Tensor c = t.to(at::kFloat).contiguous().flatten();
  return std::vector<float>(c.data_ptr<float>(),
                            c.data_ptr<float>() + c.numel());
}

TEST(RtnQuantizer, AsymmetricPerChannelCodesScalesZeros) {
  // Row 0: range [-1.5, 6] -> scale 7.5/15 = 0.5, zero round(3) = 3.
  // Row 1: range [min(0,1)=0, 7.5] -> scale 0.5, zero 0.
  at::Tensor w = T({-1.5, 0, 1.0, 6.0, 1, 3, 5, 7.5}, 2);
  auto q = RtnQuantizer(4, -1, false).Quantize(w, at::Tensor());
  ASSERT_TRUE(q.ok()) << q.status();
  EXPECT_EQ(Ints(q->codes), (std::vector<int>{0, 3, 5, 15, 2, 6, 10, 15}));
  EXPECT_EQ(Floats(q->scales), (std::vector<float>{0.5, 0.5}));
  EXPECT_EQ(Ints(q->zeros), (std::vector<int>{3, 0}));
  EXPECT_EQ(Ints(q->g_idx), (std::vector<int>{0, 0, 0, 0}));
  EXPECT_TRUE(at::equal(q->weight, w));  // all on the grid
}

TEST(RtnQuantizer, SymmetricUsesMidpointZeroAndRoundsHalfToEven) {
  // Row 0: max(|-7.5|, 3) = 7.5 -> [-7.5, 7.5], scale 1, zero 8;
  //   -7.5 rounds (half to even) to -8 -> code 0.
  // Row 1: max 15 -> scale 2, zero 8; 15/2 = 7.5 -> 8 -> 16 clamps to 15.
  at::Tensor w = T({-7.5, 1, 2, 3, 1, -2, 0.5, 15}, 2);
  auto q = RtnQuantizer(4, -1, true).Quantize(w, at::Tensor());
  ASSERT_TRUE(q.ok());
  EXPECT_EQ(Ints(q->codes), (std::vector<int>{0, 9, 10, 11, 8, 7, 8, 15}));
  EXPECT_EQ(Floats(q->scales), (std::vector<float>{1, 2}));
  EXPECT_EQ(Ints(q->zeros), (std::vector<int>{8, 8}));
  EXPECT_EQ(Floats(q->weight), (std::vector<float>{-8, 1, 2, 3, 0, -2, 0, 14}));
}

TEST(RtnQuantizer, GroupsAndPerTensor) {
  at::Tensor w = T({-1.5, 0, 1, 6, 1, 3, 5, 7.5}, 1);
  auto g = RtnQuantizer(4, 4, false).Quantize(w, at::Tensor());
  ASSERT_TRUE(g.ok());
  EXPECT_EQ(Ints(g->codes), (std::vector<int>{0, 3, 5, 15, 2, 6, 10, 15}));
  EXPECT_EQ(Floats(g->scales), (std::vector<float>{0.5, 0.5}));
  EXPECT_EQ(Ints(g->zeros), (std::vector<int>{3, 0}));
  EXPECT_EQ(Ints(g->g_idx), (std::vector<int>{0, 0, 0, 0, 1, 1, 1, 1}));
  EXPECT_DOUBLE_EQ(g->bits_per_param, 4 + 20.0 / 4);

  auto t =
      RtnQuantizer(4, 0, false).Quantize(T({-1.5, 0, 1, 6}, 2), at::Tensor());
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(Floats(t->scales), (std::vector<float>{0.5, 0.5}));
  EXPECT_EQ(Ints(t->zeros), (std::vector<int>{3, 3}));
  EXPECT_EQ(Ints(t->codes), (std::vector<int>{0, 3, 5, 15}));

  EXPECT_FALSE(RtnQuantizer(4, 3, false).Quantize(w, at::Tensor()).ok());
}

TEST(RtnQuantizer, ScalesAreFp16Representable) {
  at::manual_seed(1);
  at::Tensor w = at::randn({8, 32});
  auto q = RtnQuantizer(3, 8, false).Quantize(w, at::Tensor());
  ASSERT_TRUE(q.ok());
  EXPECT_TRUE(at::equal(q->scales, q->scales.to(at::kHalf).to(at::kFloat)));
  EXPECT_TRUE(at::equal(
      q->weight, DequantizeCodes(q->codes, q->scales, q->zeros, q->g_idx)));
}

// With a diagonal Hessian the inverse Cholesky factor is diagonal, so GPTQ
// propagates no error and must reproduce RTN exactly.
TEST(GptqQuantizer, DiagonalHessianReducesToRtn) {
  at::manual_seed(2);
  at::Tensor w = at::randn({16, 64});
  at::Tensor h = at::diag(at::rand({64}) + 0.1);
  struct Case {
    int bits, group;
    bool sym;
  };
  for (Case c : {Case{4, -1, false}, Case{3, 16, false}, Case{4, 16, true},
                 Case{2, 32, false}, Case{8, -1, true}}) {
    auto rtn = RtnQuantizer(c.bits, c.group, c.sym).Quantize(w, at::Tensor());
    GptqOptions o;
    o.bits = c.bits;
    o.group_size = c.group;
    o.sym = c.sym;
    o.block_size = 24;  // not a multiple of the group: exercises both paths
    auto g = GptqQuantizer(o).Quantize(w, h);
    ASSERT_TRUE(rtn.ok() && g.ok()) << g.status();
    EXPECT_TRUE(at::equal(rtn->codes, g->codes)) << c.bits << " " << c.group;
    EXPECT_TRUE(at::equal(rtn->weight, g->weight));
    EXPECT_TRUE(at::equal(rtn->scales, g->scales));
    EXPECT_TRUE(at::equal(rtn->g_idx, g->g_idx));
  }
  // Act-order with static groups keeps RTN's groups: still identical.
  GptqOptions o;
  o.bits = 4;
  o.group_size = 16;
  o.act_order = true;
  o.static_groups = true;
  auto g = GptqQuantizer(o).Quantize(w, h);
  auto rtn = RtnQuantizer(4, 16, false).Quantize(w, at::Tensor());
  ASSERT_TRUE(g.ok());
  EXPECT_TRUE(at::equal(rtn->weight, g->weight));
  EXPECT_TRUE(at::equal(rtn->g_idx, g->g_idx));
}

// Correlated inputs: GPTQ's error feedback must beat RTN on the layer
// output error it minimizes.
at::Tensor CorrelatedHessian(int64_t in, int64_t n, uint64_t seed) {
  at::manual_seed(seed);
  at::Tensor mix = at::randn({in, in}) / std::sqrt(double(in));
  at::Tensor x = at::randn({n, in}).mm(mix + at::eye(in));
  x.select(1, 3).mul_(10);  // an outlier channel
  HessianAccumulator acc(in);
  acc.Add(x.slice(0, 0, n / 2));
  acc.Add(x.slice(0, n / 2));
  return acc.hessian();
}

TEST(GptqQuantizer, BeatsRtnOnLayerOutputError) {
  at::Tensor h = CorrelatedHessian(64, 512, 3);
  at::Tensor w = at::randn({32, 64});
  for (int bits : {2, 3, 4}) {
    for (bool act : {false, true}) {
      auto rtn = RtnQuantizer(bits, 16, false).Quantize(w, at::Tensor());
      GptqOptions o;
      o.bits = bits;
      o.group_size = 16;
      o.act_order = act;
      o.block_size = 32;
      auto g = GptqQuantizer(o).Quantize(w, h);
      ASSERT_TRUE(g.ok()) << g.status();
      const double e_rtn = RelativeOutputError(w, rtn->weight, h);
      const double e_gptq = RelativeOutputError(w, g->weight, h);
      EXPECT_LT(e_gptq, e_rtn) << "bits " << bits << " act_order " << act;
      // The integer form reproduces the weight exactly, g_idx is in range.
      EXPECT_TRUE(at::equal(
          g->weight, DequantizeCodes(g->codes, g->scales, g->zeros, g->g_idx)));
      EXPECT_EQ(g->scales.size(1), 4);
      EXPECT_LT(g->g_idx.max().item<int>(), 4);
    }
  }
}

TEST(GptqQuantizer, HandlesDeadColumnsAndRejectsBadShapes) {
  at::Tensor h = CorrelatedHessian(32, 256, 4);
  h.select(0, 5).zero_();
  h.select(1, 5).zero_();
  at::Tensor w = at::randn({8, 32});
  GptqOptions o;
  auto g = GptqQuantizer(o).Quantize(w, h);
  o.group_size = 16;
  g = GptqQuantizer(o).Quantize(w, h);
  ASSERT_TRUE(g.ok()) << g.status();
  EXPECT_TRUE(at::isfinite(g->weight).all().item<bool>());
  EXPECT_FALSE(GptqQuantizer(o).Quantize(w, at::eye(16)).ok());
  EXPECT_FALSE(GptqQuantizer(o).Quantize(w, at::Tensor()).ok());
}

TEST(GptqQuantizer, IsDeterministic) {
  at::Tensor h = CorrelatedHessian(64, 256, 5);
  at::Tensor w = at::randn({32, 64});
  GptqOptions o;
  o.bits = 3;
  o.group_size = 32;
  o.act_order = true;
  auto a = GptqQuantizer(o).Quantize(w, h);
  auto b = GptqQuantizer(o).Quantize(w, h);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_TRUE(at::equal(a->weight, b->weight));
  EXPECT_TRUE(at::equal(a->codes, b->codes));
}

TEST(SpqrQuantizer, BeatsRtnAtThreeBitsAndKeepsFewOutliers) {
  at::Tensor h = CorrelatedHessian(64, 512, 6);
  at::Tensor w = at::randn({32, 64});
  w.index_put_({0, 7}, 12.0);  // a weight outlier
  SpqrOptions o;
  o.bits = 3;
  o.group_size = 16;
  auto s = SpqrQuantizer(o).Quantize(w, h);
  ASSERT_TRUE(s.ok()) << s.status();
  auto rtn = RtnQuantizer(3, 16, false).Quantize(w, at::Tensor());
  EXPECT_LT(RelativeOutputError(w, s->weight, h),
            RelativeOutputError(w, rtn->weight, h));
  EXPECT_GT(s->outlier_fraction, 0.0);
  EXPECT_LT(s->outlier_fraction, 0.05);
  EXPECT_GT(s->bits_per_param, 3.0);
  EXPECT_LT(s->bits_per_param, 5.0);
}

TEST(Fp8, RoundsToNearestRepresentableAndSaturates) {
  at::Tensor x =
      at::tensor({448.f, 500.f, -1e6f, 0.3f, 0.001f, 0.f, 1.0625f}, at::kFloat);
  EXPECT_EQ(Floats(RoundToFp8(x, "e4m3")),
            (std::vector<float>{448, 448, -448, 0.3125f, 0.001953125f, 0,
                                1.0f}));  // 1.0625 ties to even (1.0)
  at::Tensor y = at::tensor({57344.f, 1e6f, 0.3f, 1.125f}, at::kFloat);
  EXPECT_EQ(Floats(RoundToFp8(y, "e5m2")),
            (std::vector<float>{57344, 57344, 0.3125f, 1.0f}));
  at::manual_seed(7);
  at::Tensor w = at::randn({16, 16});
  auto q = Fp8Quantizer("e4m3").Quantize(w, at::Tensor());
  ASSERT_TRUE(q.ok());
  EXPECT_LT((q->weight - w).abs().max().item<float>(),
            w.abs().max().item<float>() / 16);
}

TEST(HessianAccumulator, EqualsTwoOverNTimesXtX) {
  at::manual_seed(8);
  at::Tensor x = at::randn({100, 8});
  HessianAccumulator acc(8);
  acc.Add(x.slice(0, 0, 30));
  acc.Add(x.slice(0, 30).reshape({7, 10, 8}));
  EXPECT_EQ(acc.rows(), 100);
  EXPECT_TRUE(
      at::allclose(acc.hessian(), x.t().mm(x) * (2.0 / 100), 1e-5, 1e-5));
}

}  // namespace
}  // namespace qgrid::quant
