// SyntheticExecutor: the service's own job kind. It does no model work: it
// "quantizes" (sleeps quantize_ms the first time it sees a quant key, then
// keeps the key in an LRU, like the real executor keeps quantized models)
// and "evaluates" (sleeps duration_ms), then returns metrics derived from the
// content key, so every cell has a distinct, reproducible value. A test
// entry with `fail: MESSAGE` fails with that message; `fail_attempts: N`
// fails the first N attempts. Used by tests and bench/service_load.cc.
// Thread-safe.
#ifndef QGRID_WORKER_SYNTHETIC_EXECUTOR_H_
#define QGRID_WORKER_SYNTHETIC_EXECUTOR_H_

#include <string>

#include "worker/executor.h"
#include "worker/lru_cache.h"

namespace qgrid::worker {

class SyntheticExecutor : public JobExecutor {
 public:
  explicit SyntheticExecutor(size_t cache_capacity = 4)
      : held_(cache_capacity) {}
  absl::StatusOr<JobOutcome> Run(const qgrid::v1::Job& job,
                                 JobControl* control) override;
  std::vector<std::string> HeldQuantKeys() override { return held_.Keys(); }

  // The metrics a synthetic job reports (tests check them).
  static std::map<std::string, double> MetricsFor(
      const std::string& content_key);

 private:
  LruCache<bool> held_;
};

}  // namespace qgrid::worker

#endif  // QGRID_WORKER_SYNTHETIC_EXECUTOR_H_
