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

// compressed-tensors pack_to_int32: a dense LSB-first stream per row, any
// width 1..8, rows padded to whole words.
TEST(Packing, StreamColsRoundTripsAnyWidthWithPadding) {
  at::manual_seed(3);
  for (int bits = 1; bits <= 8; ++bits) {
    for (int64_t m : {32, 37, 172}) {
      at::Tensor c = at::randint(0, 1 << bits, {3, m}, at::kInt);
      auto p = PackStreamCols(c, bits);
      ASSERT_TRUE(p.ok()) << p.status();
      EXPECT_EQ(p->size(1), (m * bits + 31) / 32) << bits << " " << m;
      auto u = UnpackStreamCols(*p, bits, m);
      ASSERT_TRUE(u.ok());
      EXPECT_TRUE(at::equal(*u, c)) << bits << " " << m;
    }
  }
  at::Tensor c4 = at::arange(8, at::kInt).reshape({1, 8});
  EXPECT_EQ(Word(*PackStreamCols(c4, 4), 0, 0), 0x76543210u);
  // 5 bits: code 6 starts at bit 30, its top 3 bits open word 1.
  at::Tensor c5 = at::zeros({1, 8}, at::kInt);
  c5.index_put_({0, 6}, 0b10110);
  auto p5 = PackStreamCols(c5, 5);
  EXPECT_EQ(Word(*p5, 0, 0), 0b10u << 30);
  EXPECT_EQ(Word(*p5, 0, 1), 0b101u);
  EXPECT_FALSE(PackStreamCols(c4, 9).ok());
  EXPECT_FALSE(UnpackStreamCols(*p5, 5, 20).ok());
}

}  // namespace
}  // namespace qgrid::quant
