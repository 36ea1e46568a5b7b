// A job phase that ran out of device memory runs once more at half the
// batch size (vLLM/lm-eval users expect a smaller batch, not a dead
// worker); a second failure is a job failure that names the phase and both
// batch sizes.
//
// Thread-safety: a pure function of `run`.
#ifndef QGRID_WORKER_OOM_RETRY_H_
#define QGRID_WORKER_OOM_RETRY_H_

#include <functional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"

namespace qgrid::worker {

// Runs run(batch); on ResourceExhausted (model::CatchTorch's out of device
// memory) with batch > 1, run(batch / 2) once. `phase` names the phase
// ("eval", "quantize") in the error.
template <typename T>
absl::StatusOr<T> RunWithOomRetry(
    const std::string& phase, int batch,
    const std::function<absl::StatusOr<T>(int)>& run) {
  absl::StatusOr<T> r = run(batch);
  if (r.ok() || !absl::IsResourceExhausted(r.status())) return r;
  if (batch <= 1)
    return absl::ResourceExhaustedError(
        absl::StrCat(phase, " phase: out of device memory at batch size 1: ",
                     r.status().message()));
  const int half = batch / 2;
  absl::StatusOr<T> again = run(half);
  if (again.ok() || !absl::IsResourceExhausted(again.status())) return again;
  return absl::ResourceExhaustedError(
      absl::StrCat(phase, " phase: out of device memory at batch size ", batch,
                   " and again at ", half, ": ", again.status().message()));
}

}  // namespace qgrid::worker

#endif  // QGRID_WORKER_OOM_RETRY_H_
