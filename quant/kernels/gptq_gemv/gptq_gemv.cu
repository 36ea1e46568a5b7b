// Weight-only GEMV for decoding (batch 1-16) straight from the GPTQ packed
// layout (gptq_gemv_kernel.h). Decoding is bound by reading the weight once:
// the kernel streams qweight with 16-byte loads, coalesced along N, and
// dequantizes in registers.
//
// Work split: a block of 256 threads owns kCols = 16 output columns and
// the whole K. A thread owns 4 adjacent columns (one int4 load per packed
// row gives 4 columns x 32/bits inputs) and one of kSlices = 64 slices of
// the packed rows (rows slice, slice + 64, ...). The 4 lanes of a slice
// read 64 contiguous bytes of a row; a warp covers 8 consecutive rows.
// Partial sums meet by warp shuffles (the 8 slices of a warp), then in
// shared memory (the 8 warps).
//
// Without act-order (g_idx[k] == k / group_size, group_size a multiple of
// 32 / bits) one packed row lies in one group, and the row's contribution
// factors as scale * (sum_k x_k q_k - zero * sum_k x_k): one scale and zero
// per row and column, one FMA per weight and batch row. With act-order the
// group is looked up per input.
#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include "quant/kernels/gptq_gemv/gptq_gemv_kernel.h"

namespace qgrid::quant::kernels::gptq_gemv {
namespace {

constexpr int kThreads = 256;
constexpr int kLanes = 4;                   // threads across columns
constexpr int kCols = kLanes * 4;           // columns per block
constexpr int kSlices = kThreads / kLanes;  // slices of the packed rows
constexpr int kWarps = kThreads / 32;
constexpr int kUnroll = 4;  // packed rows in flight per thread

template <typename T>
struct Cvt;
template <>
struct Cvt<__half> {
  static __device__ __forceinline__ float ToFloat(__half v) {
    return __half2float(v);
  }
  static __device__ __forceinline__ __half FromFloat(float v) {
    return __float2half_rn(v);
  }
};
template <>
struct Cvt<__nv_bfloat16> {
  static __device__ __forceinline__ float ToFloat(__nv_bfloat16 v) {
    return __bfloat162float(v);
  }
  static __device__ __forceinline__ __nv_bfloat16 FromFloat(float v) {
    return __float2bfloat16_rn(v);
  }
};

// x[k0 .. k0 + KPW) as floats; `p` is aligned to KPW * 2 bytes (at least 8).
template <typename T, int KPW>
__device__ __forceinline__ void LoadX(const T* p, float (&out)[KPW]) {
  static_assert(sizeof(T) == 2, "16-bit activations");
  if constexpr (KPW == 4) {
    const uint2 v = __ldg(reinterpret_cast<const uint2*>(p));
    const T* e = reinterpret_cast<const T*>(&v);
#pragma unroll
    for (int i = 0; i < 4; ++i) out[i] = Cvt<T>::ToFloat(e[i]);
  } else {
#pragma unroll
    for (int c = 0; c < KPW / 8; ++c) {
      const uint4 v = __ldg(reinterpret_cast<const uint4*>(p) + c);
      const T* e = reinterpret_cast<const T*>(&v);
#pragma unroll
      for (int i = 0; i < 8; ++i) out[c * 8 + i] = Cvt<T>::ToFloat(e[i]);
    }
  }
}

// Scales and true zero points of columns n0 .. n0 + 3 in group g. The four
// zeros share one qzeros word (n0 % 4 == 0, 4 * bits <= 32).
template <int BITS>
__device__ __forceinline__ void LoadScaleZero(const GemvParams& p, int g,
                                              int n0, float (&s)[4],
                                              float (&z)[4]) {
  constexpr uint32_t kMask = (1u << BITS) - 1;
  const __half* scales = static_cast<const __half*>(p.scales);
  const uint2 sv =
      __ldg(reinterpret_cast<const uint2*>(scales + (size_t)g * p.N + n0));
  const __half* se = reinterpret_cast<const __half*>(&sv);
  const int zwords = p.N * BITS / 32;
  const int bit = n0 * BITS;
  const uint32_t zw =
      static_cast<uint32_t>(__ldg(p.qzeros + (size_t)g * zwords + bit / 32));
#pragma unroll
  for (int c = 0; c < 4; ++c) {
    s[c] = __half2float(se[c]);
    // Stored zero - 1 modulo 2^bits (GPTQ v1): the true zero is +1 mod 2^bits.
    z[c] = static_cast<float>(((zw >> (bit % 32 + c * BITS)) + 1u) & kMask);
  }
}

// Code i of a packed word as a float, times 2^Shift(i), without an
// int-to-float conversion (a quarter-rate instruction that would bound the
// kernel): the code is masked in place within its 16-bit half of the word
// and or-ed into the mantissa of 2^23, so that the float is 2^23 + code *
// 2^Shift(i) exactly; subtracting 2^23 is exact too. One LOP3 and one FADD.
template <int BITS>
__device__ __forceinline__ constexpr int Shift(int i) {
  return (i % (16 / BITS)) * BITS;
}
template <int BITS>
__device__ __forceinline__ float InvPow2(int i) {
  return __int_as_float((127 - Shift<BITS>(i)) << 23);
}
template <int BITS>
__device__ __forceinline__ float CodeTimesPow2(uint32_t word, int i) {
  constexpr uint32_t kMask = (1u << BITS) - 1;
  const uint32_t half = i < 16 / BITS ? word : word >> 16;
  const uint32_t bits = (half & (kMask << Shift<BITS>(i))) | 0x4B000000u;
  return __uint_as_float(bits) - 8388608.f;
}

template <typename T, int BITS, int MT, bool ACT_ORDER>
__global__ void __launch_bounds__(kThreads) GemvKernel(const GemvParams p) {
  constexpr int KPW = 32 / BITS;  // inputs per packed word
  const int lane = threadIdx.x % kLanes;
  const int slice = threadIdx.x / kLanes;
  const int n0 = blockIdx.x * kCols + lane * 4;
  const int rows = p.K / KPW;
  const T* x = static_cast<const T*>(p.x);

  float acc[MT][4];
#pragma unroll
  for (int m = 0; m < MT; ++m)
#pragma unroll
    for (int c = 0; c < 4; ++c) acc[m][c] = 0.f;

  if (n0 < p.N) {
    for (int r0 = slice; r0 < rows; r0 += kSlices * kUnroll) {
      // Issue the weight loads of kUnroll rows before using any.
      int4 w[kUnroll];
#pragma unroll
      for (int u = 0; u < kUnroll; ++u) {
        const int r = r0 + u * kSlices;
        w[u] = r < rows ? __ldg(reinterpret_cast<const int4*>(
                              p.qweight + (size_t)r * p.N + n0))
                        : make_int4(0, 0, 0, 0);
      }
#pragma unroll
      for (int u = 0; u < kUnroll; ++u) {
        const int r = r0 + u * kSlices;
        if (r >= rows) break;
        const int k0 = r * KPW;
        const uint32_t wc[4] = {
            static_cast<uint32_t>(w[u].x), static_cast<uint32_t>(w[u].y),
            static_cast<uint32_t>(w[u].z), static_cast<uint32_t>(w[u].w)};
        // Codes of this row, column-major: q[c][i] = code of input k0 + i
        // times 2^Shift<BITS>(i) (see CodeTimesPow2; x is scaled back).
        float q[4][KPW];
#pragma unroll
        for (int c = 0; c < 4; ++c)
#pragma unroll
          for (int i = 0; i < KPW; ++i) q[c][i] = CodeTimesPow2<BITS>(wc[c], i);
        if constexpr (!ACT_ORDER) {
          float s[4], z[4];
          LoadScaleZero<BITS>(p, k0 / p.group_size, n0, s, z);
#pragma unroll
          for (int m = 0; m < MT; ++m) {
            if (m >= p.M) break;
            float xv[KPW];
            LoadX<T, KPW>(x + (size_t)m * p.K + k0, xv);
            float xsum = 0.f;
#pragma unroll
            for (int i = 0; i < KPW; ++i) {
              xsum += xv[i];
              xv[i] *= InvPow2<BITS>(i);  // exact: a power of two
            }
#pragma unroll
            for (int c = 0; c < 4; ++c) {
              float dot = 0.f;
#pragma unroll
              for (int i = 0; i < KPW; ++i) dot = fmaf(xv[i], q[c][i], dot);
              acc[m][c] = fmaf(s[c], dot - z[c] * xsum, acc[m][c]);
            }
          }
        } else {
#pragma unroll
          for (int i = 0; i < KPW; ++i) {
            float s[4], z[4];
            LoadScaleZero<BITS>(p, __ldg(p.g_idx + k0 + i), n0, s, z);
            float wv[4];
#pragma unroll
            for (int c = 0; c < 4; ++c)
              wv[c] = s[c] * (q[c][i] * InvPow2<BITS>(i) - z[c]);
#pragma unroll
            for (int m = 0; m < MT; ++m) {
              if (m >= p.M) break;
              const float xv = Cvt<T>::ToFloat(x[(size_t)m * p.K + k0 + i]);
#pragma unroll
              for (int c = 0; c < 4; ++c)
                acc[m][c] = fmaf(xv, wv[c], acc[m][c]);
            }
          }
        }
      }
    }
  }

  // The 8 slices of a warp (lane bits 2..4) first, then the 8 warps.
  __shared__ float red[kWarps][MT][kCols];
#pragma unroll
  for (int m = 0; m < MT; ++m)
#pragma unroll
    for (int c = 0; c < 4; ++c) {
      float v = acc[m][c];
#pragma unroll
      for (int off = kLanes; off < 32; off <<= 1)
        v += __shfl_xor_sync(0xffffffffu, v, off);
      acc[m][c] = v;
    }
  const int warp = threadIdx.x / 32;
  if (threadIdx.x % 32 < kLanes) {
#pragma unroll
    for (int m = 0; m < MT; ++m)
#pragma unroll
      for (int c = 0; c < 4; ++c) red[warp][m][lane * 4 + c] = acc[m][c];
  }
  __syncthreads();
  const T* bias = static_cast<const T*>(p.bias);
  T* y = static_cast<T*>(p.y);
  for (int i = threadIdx.x; i < MT * kCols; i += kThreads) {
    const int m = i / kCols, col = i % kCols;
    const int n = blockIdx.x * kCols + col;
    if (m >= p.M || n >= p.N) continue;
    float v = 0.f;
#pragma unroll
    for (int w = 0; w < kWarps; ++w) v += red[w][m][col];
    if (bias != nullptr) v += Cvt<T>::ToFloat(bias[n]);
    y[(size_t)m * p.N + n] = Cvt<T>::FromFloat(v);
  }
}

template <typename T, int BITS, int MT>
cudaError_t LaunchTyped(const GemvParams& p, cudaStream_t stream) {
  const dim3 grid((p.N + kCols - 1) / kCols);
  if (p.group_size > 0)
    GemvKernel<T, BITS, MT, false><<<grid, kThreads, 0, stream>>>(p);
  else
    GemvKernel<T, BITS, MT, true><<<grid, kThreads, 0, stream>>>(p);
  return cudaGetLastError();
}

template <typename T, int BITS>
cudaError_t LaunchBits(const GemvParams& p, cudaStream_t stream) {
  if (p.M <= 1) return LaunchTyped<T, BITS, 1>(p, stream);
  if (p.M <= 2) return LaunchTyped<T, BITS, 2>(p, stream);
  if (p.M <= 4) return LaunchTyped<T, BITS, 4>(p, stream);
  if (p.M <= 8) return LaunchTyped<T, BITS, 8>(p, stream);
  return LaunchTyped<T, BITS, kMaxBatch>(p, stream);
}

template <typename T>
cudaError_t LaunchDtype(const GemvParams& p, cudaStream_t stream) {
  switch (p.bits) {
    case 2:
      return LaunchBits<T, 2>(p, stream);
    case 4:
      return LaunchBits<T, 4>(p, stream);
    case 8:
      return LaunchBits<T, 8>(p, stream);
    default:
      return cudaErrorInvalidValue;
  }
}

}  // namespace

cudaError_t LaunchGemv(const GemvParams& p, cudaStream_t stream) {
  if (p.M < 1 || p.M > kMaxBatch || p.N % 4 != 0 || p.N <= 0 || p.K <= 0)
    return cudaErrorInvalidValue;
  return p.bf16 ? LaunchDtype<__nv_bfloat16>(p, stream)
                : LaunchDtype<__half>(p, stream);
}

}  // namespace qgrid::quant::kernels::gptq_gemv
