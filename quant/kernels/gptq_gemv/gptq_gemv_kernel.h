// The raw launch of the GPTQ weight-only GEMV kernel (gptq_gemv.cu): plain
// pointers and a CUDA stream, no libtorch, so that nvcc compiles no ATen
// header. Callers go through gptq_gemv.h, which checks what this assumes.
//
// y[m, n] = sum_k x[m, k] * scales[g, n] * (code[k, n] - zero[g, n]) (+
// bias[n]), g = g_idx[k] (or k / group_size), over the GPTQ layout of
// quant/packing.h: qweight int32 [K * bits / 32, N] packed along K LSB
// first, qzeros int32 [G, N * bits / 32] packed along N holding zero - 1
// (GPTQ v1, modulo 2^bits), scales fp16 [G, N]. Accumulation in fp32.
#ifndef QGRID_QUANT_KERNELS_GPTQ_GEMV_GPTQ_GEMV_KERNEL_H_
#define QGRID_QUANT_KERNELS_GPTQ_GEMV_GPTQ_GEMV_KERNEL_H_

#include <cuda_runtime_api.h>

#include <cstdint>

namespace qgrid::quant::kernels::gptq_gemv {

// The largest batch (rows of x) the GEMV kernel takes; larger batches are
// prefill and go to a dense GEMM.
inline constexpr int kMaxBatch = 16;

struct GemvParams {
  const void* x = nullptr;           // [M, K], fp16 or bf16, 16-byte aligned
  const int32_t* qweight = nullptr;  // [K * bits / 32, N], 16-byte aligned
  const int32_t* qzeros = nullptr;   // [G, N * bits / 32]
  const void* scales = nullptr;      // fp16 [G, N], 8-byte aligned
  const int32_t* g_idx = nullptr;    // [K]; read only when group_size == 0
  const void* bias = nullptr;        // [N] in x's dtype, or null
  void* y = nullptr;                 // [M, N] in x's dtype
  int M = 0, K = 0, N = 0, G = 0;
  // > 0: g_idx[k] == k / group_size (no act-order) and a multiple of
  // 32 / bits; 0: any g_idx (act-order), read per input.
  int group_size = 0;
  int bits = 4;       // 2, 4 or 8
  bool bf16 = false;  // x, bias and y are bf16 (else fp16)
};

// Launches on `stream`; requires 1 <= M <= kMaxBatch, N % 4 == 0 (N % 16 for
// 2 bits), K % (32 / bits) == 0. Returns the launch error, if any.
cudaError_t LaunchGemv(const GemvParams& p, cudaStream_t stream);

}  // namespace qgrid::quant::kernels::gptq_gemv

#endif  // QGRID_QUANT_KERNELS_GPTQ_GEMV_GPTQ_GEMV_KERNEL_H_
