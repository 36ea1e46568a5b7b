#include "quant/packing.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include "quant/quant_linear.h"
#include "quant/quantizer.h"

namespace qgrid::quant {
namespace {

uint32_t Word(const at::Tensor& t, int64_t r, int64_t c) {
  return static_cast<uint32_t>(t.index({r, c}).item<int32_t>());
}

TEST(Packing, RoundTripsBitExactlyFor2348Bits) {
  at::manual_seed(1);
  for (int bits : {2, 3, 4, 8}) {
    at::Tensor codes = at::randint(0, 1 << bits, {64, 12}, at::kInt);
    auto p = PackRows(codes, bits);
    ASSERT_TRUE(p.ok()) << p.status();
    EXPECT_EQ(p->size(0), 64 * bits / 32);
    auto u = UnpackRows(*p, bits, 64);
    ASSERT_TRUE(u.ok());
    EXPECT_TRUE(at::equal(*u, codes)) << bits;
    at::Tensor codes_c = at::randint(0, 1 << bits, {5, 96}, at::kInt);
    auto pc = PackCols(codes_c, bits);
    ASSERT_TRUE(pc.ok());
    EXPECT_EQ(pc->size(1), 96 * bits / 32);
    EXPECT_TRUE(at::equal(*UnpackCols(*pc, bits, 96), codes_c));
  }
}

TEST(Packing, LsbFirstLayoutMatchesGptq) {
  // 4-bit: codes 0..7 down a column -> 0x76543210.
  at::Tensor c4 = at::arange(8, at::kInt).reshape({8, 1});
  EXPECT_EQ(Word(*PackRows(c4, 4), 0, 0), 0x76543210u);
  // 3-bit: 32 codes fill 3 words; code 10 straddles words 0/1 and code 21
  // words 1/2 (gptq quant.py pack). Codes k % 8:
  at::Tensor c3 = at::arange(32, at::kInt).remainder(8).reshape({32, 1});
  auto p3 = PackRows(c3, 3);
  ASSERT_TRUE(p3.ok());
  ASSERT_EQ(p3->size(0), 3);
  uint32_t words[3] = {0, 0, 0};
  for (int k = 0; k < 32; ++k)
    for (int b = 0; b < 3; ++b)
      if (((k % 8) >> b) & 1) {
        const int bit = 3 * k + b;
        words[bit / 32] |= 1u << (bit % 32);
      }
  for (int w = 0; w < 3; ++w) EXPECT_EQ(Word(*p3, w, 0), words[w]) << w;
  // Code 10 = 2 (binary 010): its low 2 bits are word 0's top bits.
  EXPECT_EQ(Word(*p3, 0, 0) >> 30, 2u);
  EXPECT_FALSE(PackRows(at::zeros({10, 2}, at::kInt), 3).ok());
  EXPECT_FALSE(PackRows(at::zeros({8, 2}, at::kInt), 5).ok());
}

TEST(Packing, AwqInterleavedOrder) {
  at::Tensor c = at::arange(8, at::kInt).reshape({1, 8});
  auto p = PackAwqCols(c);
  ASSERT_TRUE(p.ok());
  // Nibble k holds column {0,2,4,6,1,3,5,7}[k].
  EXPECT_EQ(Word(*p, 0, 0), 0x75316420u);
  at::manual_seed(2);
  at::Tensor r = at::randint(0, 16, {6, 32}, at::kInt);
  EXPECT_TRUE(at::equal(*UnpackAwqCols(*PackAwqCols(r), 32), r));
}

TEST(PackedLinear, SymmetricFourBitStoresZerosAs0x77777777) {
  at::manual_seed(3);
  at::Tensor w = at::randn({64, 128});
  auto q = RtnQuantizer(4, 32, /*sym=*/true).Quantize(w, at::Tensor());
  ASSERT_TRUE(q.ok());
  auto p = PackedLinear::FromQuantized(*q, at::Tensor(), at::kFloat);
  ASSERT_TRUE(p.ok()) << p.status();
  const auto& z = (*p)->qzeros();
  EXPECT_EQ(z.size(0), 4);
  EXPECT_EQ(z.size(1), 64 * 4 / 32);
  EXPECT_TRUE((z == static_cast<int32_t>(0x77777777)).all().item<bool>());
  EXPECT_EQ((*p)->qweight().size(0), 128 * 4 / 32);
  EXPECT_EQ((*p)->scales().scalar_type(), at::kHalf);
}

TEST(PackedLinear, ForwardEqualsFakeQuantForward) {
  at::manual_seed(4);
  at::Tensor w = at::randn({64, 96});
  at::Tensor b = at::randn({64});
  for (int bits : {2, 3, 4, 8}) {
    auto q = RtnQuantizer(bits, 32, false).Quantize(w, at::Tensor());
    ASSERT_TRUE(q.ok());
    auto p = PackedLinear::FromQuantized(*q, b, at::kFloat);
    ASSERT_TRUE(p.ok()) << p.status();
    at::Tensor codes = (*p)->Codes();
    EXPECT_TRUE(at::equal(codes, q->codes)) << bits;
    // Zeros of 0 cannot be stored in GPTQ's zero-1 form; none here.
    if ((q->zeros > 0).all().item<bool>())
      EXPECT_TRUE(at::equal((*p)->Zeros(), q->zeros));
    FakeQuantLinear f(*q, b, at::kFloat);
    at::Tensor x = at::randn({3, 5, 96});
    if ((q->zeros > 0).all().item<bool>())
      EXPECT_TRUE(at::equal((*p)->Forward(x), f.Forward(x))) << bits;
  }
}

TEST(ActivationQuant, PerTokenSymmetricInt8) {
  at::Tensor x =
      at::tensor({1.0f, -2.0f, 0.5f, 127.0f, 1.4f, -0.6f}, at::kFloat)
          .reshape({2, 3});
  ActQuantSpec s;
  s.bits = 8;
  at::Tensor y = FakeQuantActivation(x, s);
  // Row 0 scale 2/127: values land on multiples of it.
  at::Tensor r0 = y.select(0, 0) / (2.0 / 127);
  EXPECT_TRUE(at::allclose(r0, at::round(r0), 0, 1e-4));
  // Row 1 scale 1: 1.4 -> 1, -0.6 -> -1.
  EXPECT_TRUE(
      at::allclose(y.select(0, 1), at::tensor({127.f, 1.f, -1.f}), 0, 1e-5));
}

TEST(KvQuant, PerTokenAsymmetricGroups) {
  at::manual_seed(5);
  at::Tensor k = at::randn({2, 4, 7, 16});
  at::Tensor q8 = FakeQuantKV(k, 8, 0);
  at::Tensor q2 = FakeQuantKV(k, 2, 8);
  EXPECT_EQ(q8.sizes(), k.sizes());
  const double e8 = (q8 - k).pow(2).mean().item<double>();
  const double e2 = (q2 - k).pow(2).mean().item<double>();
  EXPECT_LT(e8, 1e-4);
  EXPECT_GT(e2, e8);
  // 2 bits, groups of 8: at most 4 distinct values per group.
  at::Tensor g = q2.reshape({-1, 8}).select(0, 0);
  EXPECT_LE(std::get<0>(at::_unique(g)).numel(), 4);
}

TEST(Int8OutlierLinear, KeepsOutlierDimsInFullPrecision) {
  at::manual_seed(6);
  at::Tensor w = at::randn({16, 32});
  Int8OutlierLinear lin(w, at::Tensor(), 6.0, at::kFloat);
  at::Tensor x = at::randn({4, 32});
  x.select(1, 5).fill_(50.0);  // an outlier feature dim
  at::Tensor ref = x.mm(w.t());
  at::Tensor y = lin.Forward(x);
  EXPECT_LT((y - ref).abs().max().item<float>(), 0.2);
}

}  // namespace
}  // namespace qgrid::quant
