// Quantized linear layers and activation/KV fake-quant (quant/quant_linear.h).
#include "quant/quant_linear.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include "quant/quantizer.h"

namespace qgrid::quant {
namespace {

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

TEST(PackedLinear, ZeroPointOfZeroRoundTrips) {
  // An all-positive row has xmin = 0, hence zero point 0 (stored as 15).
  at::Tensor w = at::rand({8, 32}) + 0.1;
  auto q = RtnQuantizer(4, 32, false).Quantize(w, at::Tensor());
  ASSERT_TRUE(q.ok());
  ASSERT_TRUE((q->zeros == 0).all().item<bool>());
  auto p = PackedLinear::FromQuantized(*q, at::Tensor(), at::kFloat);
  ASSERT_TRUE(p.ok());
  EXPECT_TRUE(((*p)->qzeros() == -1).all().item<bool>());  // 0xFFFFFFFF
  EXPECT_TRUE(at::equal((*p)->Zeros(), q->zeros));
  EXPECT_TRUE(at::equal((*p)->DenseWeight(), q->weight));
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
    // GPTQ stores zero-1 modulo 2^bits; reading adds 1 modulo 2^bits, so
    // even a zero point of 0 survives.
    EXPECT_TRUE(at::equal((*p)->Zeros(), q->zeros)) << bits;
    FakeQuantLinear f(*q, b, at::kFloat);
    at::Tensor x = at::randn({3, 5, 96});
    EXPECT_TRUE(at::equal((*p)->Forward(x), f.Forward(x))) << bits;
  }
}

TEST(PackedLinear, GroupSizeOfConsecutiveGroupsAndActOrder) {
  at::manual_seed(5);
  const int64_t in = 256, out = 32;
  at::Tensor qweight = at::randint(0, 1 << 30, {in / 8, out}, at::kInt);
  auto make = [&](const at::Tensor& g_idx, int64_t groups) {
    at::Tensor qzeros = at::zeros({groups, out / 8}, at::kInt);
    at::Tensor scales = at::ones({groups, out}, at::kHalf);
    auto p = PackedLinear::Create(qweight, qzeros, scales, g_idx, 4,
                                  at::Tensor(), at::kFloat);
    EXPECT_TRUE(p.ok()) << p.status();
    return *p;
  };
  at::Tensor g64 = at::arange(in, at::kLong).div(64, "floor").to(at::kInt);
  EXPECT_EQ(make(g64, 4)->group_size(), 64);
  EXPECT_EQ(make(at::zeros({in}, at::kInt), 1)->group_size(), in);
  // Act-order: groups in the order of the permuted columns.
  EXPECT_EQ(make(g64.index_select(0, at::randperm(in)), 4)->group_size(), 0);
}

TEST(PackedLinear, MovesBetweenDevices) {
  at::manual_seed(6);
  at::Tensor w = at::randn({16, 64});
  auto q = RtnQuantizer(4, 32, false).Quantize(w, at::Tensor());
  ASSERT_TRUE(q.ok());
  auto p = PackedLinear::FromQuantized(*q, at::randn({16}), at::kFloat);
  ASSERT_TRUE(p.ok());
  auto moved = LinearToDevice(*p, at::Device(at::kCPU));
  ASSERT_TRUE(moved.ok()) << moved.status();
  EXPECT_EQ((*moved)->kind(), "packed");
  at::Tensor x = at::randn({2, 64});
  EXPECT_TRUE(at::equal((*moved)->Forward(x), (*p)->Forward(x)));
}

TEST(PackedLinear, DequantizeOnDeviceEqualsTheCpuUnpacking) {
  at::manual_seed(7);
  for (int bits : {2, 4, 8}) {
    const int64_t in = 128, out = 48;
    at::Tensor qweight =
        at::randint(INT32_MIN, INT32_MAX, {in * bits / 32, out}, at::kInt);
    at::Tensor qzeros =
        at::randint(INT32_MIN, INT32_MAX, {4, out * bits / 32}, at::kInt);
    at::Tensor scales = at::rand({4, out}).to(at::kHalf);
    at::Tensor g_idx = at::arange(in, at::kLong)
                           .div(32, "floor")
                           .index_select(0, at::randperm(in))
                           .to(at::kInt);
    auto p = PackedLinear::Create(qweight, qzeros, scales, g_idx, bits,
                                  at::Tensor(), at::kFloat);
    ASSERT_TRUE(p.ok()) << p.status();
    EXPECT_TRUE(
        at::equal(DequantizeGptqOnDevice(qweight, qzeros, scales, g_idx, bits),
                  (*p)->DenseWeight()))
        << bits;
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
