// The GPTQ weight-only GEMV (quant/kernels/gptq_gemv/) against the CPU
// PackedLinear path. Built only in QGRID_WITH_CUDA builds; every test skips
// with a message when no CUDA device is present.
//
// Tolerance, from the quantization step: the kernel and the CPU reference
// decode the same codes, zeros and fp16 scales, so they differ only by the
// kernel's rounding of y to fp16/bf16 (eps_out * |y|) and fp32 summation
// order. A single misdecoded code, zero or group would move y[n] by at
// least one step (scale) times |x_k|, so the bound allows a quarter of the
// smallest step times mean |x| on top of the output rounding.
#include <ATen/ATen.h>
#include <gtest/gtest.h>
#include <torch/cuda.h>

#include <string>

#include "absl/strings/str_cat.h"
#include "quant/kernels/gptq_gemv/gptq_gemv.h"
#include "quant/kernels/gptq_gemv/gptq_gemv_kernel.h"
#include "quant/quant_linear.h"

namespace qgrid::quant {
namespace {

namespace gemv = kernels::gptq_gemv;

#define QG_SKIP_WITHOUT_CUDA()                                         \
  do {                                                                 \
    if (!torch::cuda::is_available())                                  \
      GTEST_SKIP() << "no CUDA device: the GPTQ GEMV kernel is built " \
                      "but cannot run here (run on a GPU machine)";    \
  } while (0)

struct Case {
  int bits;
  int64_t group;  // -1: per channel
  bool act_order;
  int64_t in, out;
};

std::string Name(const Case& c) {
  return absl::StrCat(c.bits, "-bit group ", c.group,
                      c.act_order ? " act-order" : "", " [", c.out, " x ", c.in,
                      "]");
}

// A random layer in GPTQ layout: every int32 is a valid word of codes.
std::shared_ptr<PackedLinear> RandomLayer(const Case& c, bool with_bias) {
  const int64_t groups = c.group < 0 ? 1 : (c.in + c.group - 1) / c.group;
  const int64_t gs = c.group < 0 ? c.in : c.group;
  at::Tensor qweight =
      at::randint(INT32_MIN, INT32_MAX, {c.in * c.bits / 32, c.out}, at::kInt);
  at::Tensor qzeros = at::randint(INT32_MIN, INT32_MAX,
                                  {groups, c.out * c.bits / 32}, at::kInt);
  // Steps of a few 1e-2 (unit-scale weights at 4 bits).
  at::Tensor scales = (at::rand({groups, c.out}) * 0.02 + 0.01).to(at::kHalf);
  at::Tensor g_idx = at::arange(c.in, at::kLong).div(gs, "floor");
  if (c.act_order) g_idx = g_idx.index_select(0, at::randperm(c.in));
  at::Tensor bias = with_bias ? at::randn({c.out}) : at::Tensor();
  auto p = PackedLinear::Create(qweight, qzeros, scales, g_idx.to(at::kInt),
                                c.bits, bias, at::kFloat);
  EXPECT_TRUE(p.ok()) << p.status();
  return *p;
}

// Max over outputs of |y - ref| / allowed.
double ErrorRatio(const at::Tensor& y, const at::Tensor& ref,
                  const PackedLinear& layer, const at::Tensor& x,
                  at::ScalarType dtype) {
  const double eps = dtype == at::kHalf ? 1.0 / 1024 : 1.0 / 128;
  const double min_step = layer.scales().to(at::kFloat).min().item<double>();
  const double mean_x = x.to(at::kFloat).abs().mean().item<double>();
  at::Tensor allowed = ref.abs() * eps + 0.25 * min_step * mean_x;
  at::Tensor err = (y.cpu().to(at::kFloat) - ref).abs();
  return (err / allowed).max().item<double>();
}

TEST(GptqGemvCuda, MatchesCpuPackedLinear) {
  QG_SKIP_WITHOUT_CUDA();
  at::manual_seed(12);
  const at::Device cuda(at::kCUDA, 0);
  std::vector<Case> cases;
  for (int bits : {2, 4, 8})
    for (int64_t group : {32, 64, 128, -1})
      for (bool act : {false, true})
        cases.push_back({bits, group, act, /*in=*/1024, /*out=*/272});
  cases.push_back({4, 128, false, 4096, 528});  // multi-row slices, odd tiles
  cases.push_back({4, 128, true, 11008 / 4, 4096 / 8});
  for (const Case& c : cases) {
    auto cpu = RandomLayer(c, /*with_bias=*/true);
    auto dev = cpu->To(cuda);
    if (c.group > 0) {
      EXPECT_EQ(dev->group_size() > 0, !c.act_order) << Name(c);
    }
    for (at::ScalarType dtype : {at::kHalf, at::kBFloat16}) {
      for (int64_t m : {1, 3, 8, 16}) {
        at::Tensor x = at::randn({m, c.in}).to(dtype);
        at::Tensor ref = cpu->Forward(x.to(at::kFloat));
        at::Tensor xc = x.to(cuda);
        gemv::Weights w{dev->qweight(), dev->qzeros(), dev->scales(),
                        dev->g_idx(),   c.bits,        dev->group_size()};
        std::string why;
        ASSERT_TRUE(gemv::Supports(xc, w, &why)) << Name(c) << ": " << why;
        at::Tensor y = dev->Forward(xc);
        EXPECT_EQ(y.scalar_type(), dtype);
        EXPECT_EQ(y.device(), xc.device());
        EXPECT_LE(ErrorRatio(y, ref, *cpu, x, dtype), 1.0)
            << Name(c) << " " << c10::toString(dtype) << " batch " << m;
      }
    }
  }
}

TEST(GptqGemvCuda, LeadingDimsAndLayerOnCpu) {
  QG_SKIP_WITHOUT_CUDA();
  at::manual_seed(13);
  auto cpu = RandomLayer({4, 64, false, 512, 128}, /*with_bias=*/false);
  at::Tensor x = at::randn({2, 3, 512}).to(at::kHalf);
  // The layer's tensors stay on CPU: Forward copies them to x's device.
  at::Tensor y = cpu->Forward(x.cuda());
  ASSERT_EQ(y.sizes(), (std::vector<int64_t>{2, 3, 128}));
  EXPECT_LE(ErrorRatio(y.reshape({6, 128}),
                       cpu->Forward(x.to(at::kFloat)).reshape({6, 128}), *cpu,
                       x, at::kHalf),
            1.0);
}

TEST(GptqGemvCuda, FallsBackBeyondTheKernel) {
  QG_SKIP_WITHOUT_CUDA();
  at::manual_seed(14);
  const at::Device cuda(at::kCUDA, 0);
  // Prefill batch (dequantize + matmul) and 3 bits (straddles words).
  for (const Case& c :
       {Case{4, 128, false, 512, 256}, Case{3, 128, false, 512, 256}}) {
    auto cpu = RandomLayer(c, /*with_bias=*/true);
    auto dev = cpu->To(cuda);
    const int64_t m = c.bits == 3 ? 2 : gemv::kMaxBatch + 1;
    at::Tensor x = at::randn({m, c.in}).to(at::kHalf);
    gemv::Weights w{dev->qweight(), dev->qzeros(), dev->scales(),
                    dev->g_idx(),   c.bits,        dev->group_size()};
    std::string why;
    EXPECT_FALSE(gemv::Supports(x.to(cuda), w, &why)) << Name(c);
    EXPECT_FALSE(why.empty());
    at::Tensor y = dev->Forward(x.to(cuda));
    // The fallback computes in the layer's dtype (fp32 here).
    EXPECT_LE(ErrorRatio(y.to(at::kHalf), cpu->Forward(x.to(at::kFloat)), *cpu,
                         x, at::kHalf),
              1.0)
        << Name(c);
  }
}

}  // namespace
}  // namespace qgrid::quant
