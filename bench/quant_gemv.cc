// W4A16 GEMV of decoding (quant/kernels/gptq_gemv/): batch 1 on the
// LLaMA-7B projection shapes, timed with CUDA events. Prints the achieved
// bandwidth (bytes the kernel must read and write / time), that as a share
// of the device-to-device copy bandwidth measured on the same GPU (target
// >= 80%), and the speedup over the fp16 at::matmul of the same shape.
//
// Weights rotate over enough copies to exceed four times the L2 cache, so
// every call reads from HBM. Launches are captured in a CUDA graph (one
// kernel is a few microseconds, about a launch's host cost); where capture
// fails, eager back-to-back launches are timed and the line says so.
//
// Without CUDA (a CPU build, or no device) it prints why and exits 0.
#include <ATen/ATen.h>
#include <torch/cuda.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <string>
#include <vector>

#ifdef QGRID_WITH_CUDA
#include <ATen/cuda/CUDAGraph.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#include <cuda_runtime_api.h>

#include "quant/kernels/gptq_gemv/gptq_gemv.h"
#endif

#ifdef QGRID_WITH_CUDA
namespace {

namespace gemv = qgrid::quant::kernels::gptq_gemv;

#define CUDA_OK(e)                                                    \
  do {                                                                \
    cudaError_t err_ = (e);                                           \
    if (err_ != cudaSuccess) {                                        \
      std::fprintf(stderr, "%s: %s\n", #e, cudaGetErrorString(err_)); \
      std::exit(1);                                                   \
    }                                                                 \
  } while (0)

// Microseconds per call of fn(i), i = 0, 1, ..., on the current stream.
double EagerUs(const std::function<void(int)>& fn, int calls) {
  for (int i = 0; i < 3; ++i) fn(i);
  cudaStream_t s = c10::cuda::getCurrentCUDAStream();
  cudaEvent_t a, b;
  CUDA_OK(cudaEventCreate(&a));
  CUDA_OK(cudaEventCreate(&b));
  CUDA_OK(cudaEventRecord(a, s));
  for (int i = 0; i < calls; ++i) fn(i);
  CUDA_OK(cudaEventRecord(b, s));
  CUDA_OK(cudaEventSynchronize(b));
  float ms = 0;
  CUDA_OK(cudaEventElapsedTime(&ms, a, b));
  CUDA_OK(cudaEventDestroy(a));
  CUDA_OK(cudaEventDestroy(b));
  return ms * 1e3 / calls;
}

// The same, `calls` calls captured in one CUDA graph and replayed; sets
// *graph = false and times eagerly when capture fails.
double TimeUs(const std::function<void(int)>& fn, int calls, bool* graph) {
  *graph = false;
  try {
    c10::cuda::CUDAStreamGuard guard(c10::cuda::getStreamFromPool());
    for (int i = 0; i < 3; ++i) fn(i);  // warm up (cuBLAS handles, ...)
    CUDA_OK(cudaStreamSynchronize(c10::cuda::getCurrentCUDAStream()));
    at::cuda::CUDAGraph g;
    g.capture_begin();
    for (int i = 0; i < calls; ++i) fn(i);
    g.capture_end();
    g.replay();
    const int replays = 10;
    const double us = EagerUs([&](int) { g.replay(); }, replays);
    *graph = true;
    return us / calls;
  } catch (const std::exception& e) {
    std::printf("  (CUDA graph capture failed, timing eagerly: %.200s)\n",
                e.what());
  }
  return EagerUs(fn, calls);
}

int L2Bytes() {
  int dev = 0, l2 = 0;
  CUDA_OK(cudaGetDevice(&dev));
  CUDA_OK(cudaDeviceGetAttribute(&l2, cudaDevAttrL2CacheSize, dev));
  return l2;
}

// Device-to-device copy bandwidth (read + write bytes per second).
double CopyGBs() {
  const int64_t bytes = int64_t{1} << 30;
  at::Tensor src = at::empty({bytes}, at::dtype(at::kByte).device(at::kCUDA));
  at::Tensor dst = at::empty_like(src);
  cudaStream_t s = c10::cuda::getCurrentCUDAStream();
  const double us = EagerUs(
      [&](int) {
        CUDA_OK(cudaMemcpyAsync(dst.data_ptr(), src.data_ptr(), bytes,
                                cudaMemcpyDeviceToDevice, s));
      },
      10);
  return 2.0 * bytes / us * 1e-3;
}

}  // namespace
#endif

int main() {
#ifndef QGRID_WITH_CUDA
  std::printf(
      "bench_quant_gemv: skipped: built without CUDA (the kernels build in "
      "build-cuda/: deploy/build.sh --cuda)\n");
  return 0;
#else
  if (!torch::cuda::is_available()) {
    std::printf("bench_quant_gemv: skipped: no CUDA device on this machine\n");
    return 0;
  }
  at::manual_seed(0);
  const auto cuda = at::TensorOptions().device(at::kCUDA);
  cudaDeviceProp prop;
  CUDA_OK(cudaGetDeviceProperties(&prop, 0));
  const double copy = CopyGBs();
  const int64_t l2 = L2Bytes();
  std::printf(
      "bench_quant_gemv: %s, L2 %lld MiB, device-to-device copy %.0f GB/s\n",
      prop.name, static_cast<long long>(l2 >> 20), copy);
  std::printf(
      "W4A16 GPTQ GEMV, group 128, batch 1, fp16 (target >= 80%% of copy)\n");

  struct Shape {
    const char* name;
    int64_t out, in;
  };
  for (const Shape& sh : {Shape{"q/k/v/o 4096x4096", 4096, 4096},
                          Shape{"gate/up 11008x4096", 11008, 4096},
                          Shape{"down 4096x11008", 4096, 11008}}) {
    const int64_t n = sh.out, k = sh.in, groups = k / 128;
    const int64_t wbytes = k * n / 2 + groups * n / 2 + groups * n * 2;
    const int copies =
        static_cast<int>(std::max<int64_t>(2, 4 * l2 / wbytes + 1));
    std::vector<gemv::Weights> ws;
    for (int c = 0; c < copies; ++c) {
      gemv::Weights w;
      w.qweight =
          at::randint(INT32_MIN, INT32_MAX, {k / 8, n}, cuda.dtype(at::kInt));
      w.qzeros = at::randint(INT32_MIN, INT32_MAX, {groups, n / 8},
                             cuda.dtype(at::kInt));
      w.scales = (at::rand({groups, n}, cuda) * 0.01 + 0.01).to(at::kHalf);
      w.g_idx =
          at::arange(k, cuda.dtype(at::kInt)).div(128, "floor").to(at::kInt);
      w.bits = 4;
      w.group_size = 128;
      ws.push_back(w);
    }
    at::Tensor x = at::randn({1, k}, cuda.dtype(at::kHalf));
    std::string why;
    if (!gemv::Supports(x, ws[0], &why)) {
      std::printf("  %s: kernel does not support it: %s\n", sh.name,
                  why.c_str());
      return 1;
    }
    const int calls = copies * ((64 + copies - 1) / copies);
    bool graph = false;
    const double t_q =
        TimeUs([&](int i) { (void)gemv::Run(x, ws[i % copies], at::Tensor()); },
               calls, &graph);
    const double bytes = wbytes + (k + n) * 2.0;
    const double gbs = bytes / t_q * 1e-3;

    const int64_t dbytes = n * k * 2;
    const int dcopies =
        static_cast<int>(std::max<int64_t>(2, 4 * l2 / dbytes + 1));
    std::vector<at::Tensor> dense;
    for (int c = 0; c < dcopies; ++c)
      dense.push_back(at::randn({n, k}, cuda.dtype(at::kHalf)));
    bool dgraph = false;
    const int dcalls = dcopies * ((32 + dcopies - 1) / dcopies);
    const double t_d =
        TimeUs([&](int i) { (void)at::matmul(x, dense[i % dcopies].t()); },
               dcalls, &dgraph);
    std::printf(
        "  %-20s %7.2f us %6.0f GB/s = %5.1f%% of copy%s | fp16 at::matmul "
        "%7.2f us %6.0f GB/s%s | speedup %.2fx\n",
        sh.name, t_q, gbs, 100.0 * gbs / copy, graph ? "" : " (eager)", t_d,
        dbytes / t_d * 1e-3, dgraph ? "" : " (eager)", t_d / t_q);
  }
  return 0;
#endif
}
