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
// Thread-safety: one Run at a time (the agent runs jobs sequentially).
#ifndef QGRID_WORKER_REAL_EXECUTOR_H_
#define QGRID_WORKER_REAL_EXECUTOR_H_

#include <memory>
#include <string>
#include <vector>

#include "worker/executor.h"

namespace qgrid::worker {

struct RealExecutorOptions {
  std::string device = "cpu";
  std::string cache_dir;  // reserved: on-disk cache of quantized models
  size_t cache_capacity = 4;
  std::vector<std::string> model_roots;
  std::vector<std::string> data_dirs;
  int batch_size = 8;
};

std::unique_ptr<JobExecutor> MakeRealExecutor(const RealExecutorOptions& o);

}  // namespace qgrid::worker

#endif  // QGRID_WORKER_REAL_EXECUTOR_H_
