// GPTQ's CPU column step (raw pointers) against its tensor formulation on
// random input: the same codes, dequantized column, error and sub-block
// update.
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include "quant/quantizer.h"

namespace qgrid::quant {
namespace {

TEST(GptqColumnStep, CpuLoopMatchesTensorFormulation) {
  at::manual_seed(3);
  const int64_t rows = 37, count = 24, cols = 96, i1 = 48;
  for (int bits : {2, 3, 4, 8}) {
    for (int64_t i : {0, 5, 15}) {
      const int64_t j2 = 16, col = i1 + i;
      at::Tensor W1 = at::randn({rows, count});
      at::Tensor A = at::randn({count, count});
      at::Tensor Hinv1 =
          at::triu(A.mm(A.t()) + count * at::eye(count)).contiguous();
      at::Tensor W = at::randn({rows, cols});
      at::Tensor codes = at::zeros({rows, cols}, at::kInt);
      at::Tensor scale = at::rand({rows}) * 0.5 + 0.05;
      at::Tensor zero = at::randint(0, (1 << bits), {rows}).to(at::kFloat);
      at::Tensor Err1 = at::zeros({rows, count});
      GptqColumn a{W1.clone(), Err1.clone(), Hinv1, codes.clone(),
                   W.clone(),  scale,        zero,  i,
                   j2,         col,          1.7f,  bits};
      GptqColumn b{W1.clone(), Err1.clone(), Hinv1, codes.clone(),
                   W.clone(),  scale,        zero,  i,
                   j2,         col,          1.7f,  bits};
      GptqColumnStepCpu(a);
      GptqColumnStepTensor(b);
      EXPECT_TRUE(at::equal(a.codes, b.codes)) << bits << " " << i;
      EXPECT_TRUE(at::allclose(a.W, b.W, 0, 0)) << bits << " " << i;
      EXPECT_TRUE(at::allclose(a.Err1, b.Err1, 1e-6, 1e-7));
      EXPECT_TRUE(at::allclose(a.W1, b.W1, 1e-5, 1e-6));
      // The step changed what it should: the column's codes, the rest of
      // the sub-block; nothing past j2.
      if (i + 1 < j2) {
        EXPECT_FALSE(
            at::equal(a.W1.slice(1, i + 1, j2), W1.slice(1, i + 1, j2)));
      }
      EXPECT_TRUE(at::equal(a.W1.slice(1, j2), W1.slice(1, j2)));
    }
  }
}

}  // namespace
}  // namespace qgrid::quant
