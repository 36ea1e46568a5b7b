// The GPTQ weight-only GEMV of decoding (gptq_gemv.cu) on ATen tensors: a
// launcher that says what it supports, so that callers (PackedLinear on
// CUDA) fall back to dequantize-then-matmul for everything else.
//
// Supported: x on a CUDA device, fp16 or bf16, at most kMaxBatch rows once
// flattened to [M, K]; 2, 4 or 8 bits (3 bits straddles words: no);
// qweight/qzeros/scales/g_idx in the GPTQ layout of quant/packing.h on
// x's device, contiguous, int32/int32/fp16/int32; any g_idx (act-order
// reads it per input; group_size > 0 skips it). Output in x's dtype,
// accumulated in fp32.
//
// Only in QGRID_WITH_CUDA builds (quant/kernels/CMakeLists.txt).
// Thread-safety: stateless; launches on the current CUDA stream.
#ifndef QGRID_QUANT_KERNELS_GPTQ_GEMV_GPTQ_GEMV_H_
#define QGRID_QUANT_KERNELS_GPTQ_GEMV_GPTQ_GEMV_H_

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <string>

namespace qgrid::quant::kernels::gptq_gemv {

struct Weights {
  at::Tensor qweight;  // int32 [K * bits / 32, N]
  at::Tensor qzeros;   // int32 [G, N * bits / 32], zero - 1 (GPTQ v1)
  at::Tensor scales;   // fp16 [G, N]
  at::Tensor g_idx;    // int32 [K]
  int bits = 4;
  // g_idx[k] == k / group_size for every k (no act-order; per-channel is
  // group_size == K); 0 when not (GroupSizeOf).
  int64_t group_size = 0;
};

// The group size g_idx follows (g_idx[k] == k / gs, G == ceil(K / gs)), or
// 0 when it follows none (act-order). Any device.
int64_t GroupSizeOf(const at::Tensor& g_idx, int64_t groups);

// Whether Run handles this call; if not and `why` is given, the reason.
bool Supports(const at::Tensor& x, const Weights& w,
              std::string* why = nullptr);

// x [..., K] -> [..., N] (+ bias [N], any dtype, converted). Requires
// Supports(x, w).
at::Tensor Run(const at::Tensor& x, const Weights& w, const at::Tensor& bias);

}  // namespace qgrid::quant::kernels::gptq_gemv

#endif  // QGRID_QUANT_KERNELS_GPTQ_GEMV_GPTQ_GEMV_H_
