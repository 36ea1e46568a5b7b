#include "quant/kernels/gptq_gemv/gptq_gemv.h"

#include <ATen/ATen.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>

#include "absl/strings/str_cat.h"
#include "quant/kernels/gptq_gemv/gptq_gemv_kernel.h"

namespace qgrid::quant::kernels::gptq_gemv {
namespace {

bool Aligned(const at::Tensor& t, int bytes) {
  return reinterpret_cast<uintptr_t>(t.data_ptr()) % bytes == 0;
}

bool Fail(std::string* why, std::string msg) {
  if (why != nullptr) *why = std::move(msg);
  return false;
}

}  // namespace

int64_t GroupSizeOf(const at::Tensor& g_idx, int64_t groups) {
  const int64_t k = g_idx.numel();
  if (k == 0 || groups <= 0) return 0;
  const int64_t gs = (k + groups - 1) / groups;
  at::Tensor want =
      at::arange(k, g_idx.options().dtype(at::kLong)).div(gs, "floor");
  return at::equal(g_idx.to(at::kLong), want) ? gs : 0;
}

bool Supports(const at::Tensor& x, const Weights& w, std::string* why) {
  if (!x.defined() || !x.is_cuda()) return Fail(why, "x is not on CUDA");
  if (x.scalar_type() != at::kHalf && x.scalar_type() != at::kBFloat16)
    return Fail(why, absl::StrCat("x is ", c10::toString(x.scalar_type()),
                                  ", not fp16/bf16"));
  if (w.bits != 2 && w.bits != 4 && w.bits != 8)
    return Fail(why, absl::StrCat(w.bits, " bits"));
  if (x.dim() < 1 || w.qweight.dim() != 2 || w.scales.dim() != 2)
    return Fail(why, "shapes");
  const int64_t k = x.size(-1), n = w.qweight.size(1);
  const int64_t m = k == 0 ? 0 : x.numel() / k;
  if (m < 1 || m > kMaxBatch)
    return Fail(why, absl::StrCat("batch ", m, " outside 1..", kMaxBatch));
  if (w.qweight.size(0) * 32 != k * w.bits)
    return Fail(why, "x's last dim does not match qweight");
  if (n % 4 != 0) return Fail(why, "out features not a multiple of 4");
  if (w.qzeros.dim() != 2 || w.qzeros.size(1) * 32 != n * w.bits ||
      w.scales.size(1) != n || w.qzeros.size(0) != w.scales.size(0) ||
      w.g_idx.numel() != k)
    return Fail(why, "qzeros/scales/g_idx do not match qweight");
  if (k > INT32_MAX || n > INT32_MAX || m * k > INT32_MAX * 8LL)
    return Fail(why, "too large");
  for (const at::Tensor* t : {&w.qweight, &w.qzeros, &w.scales, &w.g_idx}) {
    if (!t->defined() || t->device() != x.device() || !t->is_contiguous())
      return Fail(why, "weights not contiguous on x's device");
  }
  if (w.qweight.scalar_type() != at::kInt ||
      w.qzeros.scalar_type() != at::kInt ||
      w.scales.scalar_type() != at::kHalf || w.g_idx.scalar_type() != at::kInt)
    return Fail(why, "weight dtypes");
  if (!Aligned(w.qweight, 16) || !Aligned(w.scales, 8))
    return Fail(why, "weights not aligned");
  return true;
}

at::Tensor Run(const at::Tensor& x, const Weights& w, const at::Tensor& bias) {
  std::string why;
  TORCH_CHECK(Supports(x, w, &why), "gptq_gemv: unsupported: ", why);
  const c10::cuda::CUDAGuard guard(x.device());
  const int64_t k = x.size(-1), n = w.qweight.size(1);
  at::Tensor x2 = x.reshape({-1, k}).contiguous();
  // The kernel loads activations in 16-byte pieces.
  if (!Aligned(x2, 16)) x2 = x2.clone();
  at::Tensor b;
  if (bias.defined()) b = bias.to(x.device(), x.scalar_type()).contiguous();
  at::Tensor y = at::empty({x2.size(0), n}, x2.options());

  GemvParams p;
  p.x = x2.data_ptr();
  p.qweight = w.qweight.data_ptr<int32_t>();
  p.qzeros = w.qzeros.data_ptr<int32_t>();
  p.scales = w.scales.data_ptr();
  p.g_idx = w.g_idx.data_ptr<int32_t>();
  p.bias = b.defined() ? b.data_ptr() : nullptr;
  p.y = y.data_ptr();
  p.M = static_cast<int>(x2.size(0));
  p.K = static_cast<int>(k);
  p.N = static_cast<int>(n);
  p.G = static_cast<int>(w.scales.size(0));
  p.bits = w.bits;
  // The fast path needs whole packed words inside one group.
  p.group_size = w.group_size > 0 && w.group_size % (32 / w.bits) == 0
                     ? static_cast<int>(w.group_size)
                     : 0;
  p.bf16 = x.scalar_type() == at::kBFloat16;
  const cudaError_t err =
      LaunchGemv(p, c10::cuda::getCurrentCUDAStream(x.device().index()));
  TORCH_CHECK(err == cudaSuccess,
              "gptq_gemv: launch failed: ", cudaGetErrorString(err));

  std::vector<int64_t> shape(x.sizes().begin(), x.sizes().end());
  shape.back() = n;
  return y.reshape(shape);
}

}  // namespace qgrid::quant::kernels::gptq_gemv
