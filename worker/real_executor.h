// The real job executor: composes the model, quantization and evaluation
// engines for an "eval" job:
//
//   CausalLM::Load(model path under --model-root)
//     -> calibration set (text windows or task examples, data under
//        --data-dir) -> quant::QuantizeModel(method config)
//     -> eval::Evaluate(test task, shots) -> metrics + reports
//
// The quantized model is the expensive artifact: it is kept in an in-memory
// LRU keyed by the job's quant key, so every (test x shots) job of one quant
// key reuses one quantization (architecture.md, decision 4). Paths outside
// the worker's roots are refused (PERMISSION_DENIED, a permanent failure).
// With `cache_dir`, quantized models are also kept on disk (worker/
// disk_cache.h): memory LRU first, then the disk cache, then quantize (and
// store). Each job's quant report says where its model came from:
// "cache": {"source": "quantized" | "memory" | "disk"}.
// Thread-safety: one Run at a time (the agent runs jobs sequentially).
#ifndef QGRID_WORKER_REAL_EXECUTOR_H_
#define QGRID_WORKER_REAL_EXECUTOR_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "worker/executor.h"

namespace qgrid::worker {

struct RealExecutorOptions {
  std::string device = "cpu";
  std::string cache_dir;        // "": no on-disk cache
  int64_t cache_max_bytes = 0;  // disk cache size limit, 0 = unlimited
  size_t cache_capacity = 4;    // quantized models kept in memory
  std::vector<std::string> model_roots;
  std::vector<std::string> data_dirs;
  int batch_size = 8;
};

// Fails when `device` is not one this build can use (model::CheckDevice)
// or `cache_dir` cannot be created.
absl::StatusOr<std::unique_ptr<JobExecutor>> MakeRealExecutor(
    const RealExecutorOptions& o);

// What a worker process runs (`qgrid worker`, each local worker of
// `qgrid run`): synthetic jobs to the synthetic executor, real ones to
// MakeRealExecutor(o). Fails as MakeRealExecutor does.
absl::StatusOr<std::unique_ptr<JobExecutor>> MakeWorkerExecutor(
    const RealExecutorOptions& o);

}  // namespace qgrid::worker

#endif  // QGRID_WORKER_REAL_EXECUTOR_H_
