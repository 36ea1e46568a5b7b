// Allocator settings for processes that run tensor code on the CPU.
//
// ATen's CPU allocator takes every tensor from malloc. glibc serves blocks
// above its mmap threshold (dynamic, at most 32 MiB) with a fresh mmap and
// returns them to the kernel on free, and it trims the top of the heap the
// same way, so every large activation of every step -- attention scores,
// logits, their gradients, GPTQ's Hessian work buffers -- is faulted in again
// one 4 KiB page at a time. Measured on the 2-core CI machine
// (bench_eval_length_sweep, stories260K, batch 8): T=512 forward 1.5k tok/s
// with glibc's defaults vs 15k tok/s tuned (T=128: 25k vs 53k); train-tiny
// 1.5k vs 2.8k tok/s with bit-identical losses. With mmap'd chunks disabled
// and trimming off, freed memory stays in the heap and is reused without
// faults. The price is that a process keeps its peak heap (RSS does not
// shrink after a large step), as PyTorch's caching allocators do on GPUs.
//
// Thread-safety: call once at process start, before threads are started.
#ifndef QGRID_COMMON_MALLOC_TUNING_H_
#define QGRID_COMMON_MALLOC_TUNING_H_

namespace qgrid {

// Applies the settings above unless the environment variable
// QGRID_SYSTEM_MALLOC is set to a non-empty value other than "0" (then
// glibc's defaults, or its own MALLOC_* variables, stay in force). Returns
// whether the settings were applied. A no-op returning false on non-glibc
// systems.
bool TuneMallocForTensors();

}  // namespace qgrid

#endif  // QGRID_COMMON_MALLOC_TUNING_H_
