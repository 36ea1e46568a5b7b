// JobExecutor: what a worker does with one leased job. The agent
// (worker/agent.h) owns the protocol; executors own the work:
//   - SyntheticExecutor (worker/synthetic_executor.h): sleeps, no model work;
//     for tests and the service load benchmark.
//   - the real executor (worker/real_executor.h): model + quant + eval.
// An executor reports progress and must poll Cancelled() often enough that a
// cancelled or drained job stops within about a heartbeat.
#ifndef QGRID_WORKER_EXECUTOR_H_
#define QGRID_WORKER_EXECUTOR_H_

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "proto/qgrid.pb.h"

namespace qgrid::worker {

struct JobOutcome {
  std::map<std::string, double> metrics;
  std::string quant_report_json = "{}";
  std::string efficiency_json = "{}";
  std::string eval_json = "{}";
};

// Handed to the executor for the duration of one job. Thread-safe.
class JobControl {
 public:
  virtual ~JobControl() = default;
  virtual void SetProgress(const std::string& phase, double percent) = 0;
  // True once the job was cancelled (sweep cancelled, lease lost) or the
  // worker must give it back (drain): stop and return CancelledError.
  virtual bool Cancelled() const = 0;
};

class JobExecutor {
 public:
  virtual ~JobExecutor() = default;
  // Runs the job. An error status is reported as a failure with its message;
  // IsPermanent errors (retrying cannot help) make the job dead at once,
  // CANCELLED means the job was stopped on request.
  virtual absl::StatusOr<JobOutcome> Run(const qgrid::v1::Job& job,
                                         JobControl* control) = 0;
  // Quant keys of the quantized models this executor holds (affinity).
  virtual std::vector<std::string> HeldQuantKeys() = 0;
};

// Marks `s` as a permanent failure: the job's configuration is wrong (e.g. an
// unknown task name), so no retry on any worker can help.
absl::Status Permanent(absl::Status s);
// Marked by Permanent, or PERMISSION_DENIED (a path outside the worker's
// roots) or UNIMPLEMENTED (a job kind this build cannot run).
bool IsPermanent(const absl::Status& s);

std::unique_ptr<JobExecutor> MakeSyntheticExecutor(size_t cache_capacity = 4);

// Routes each job to the executor of its kind: "synthetic" to `synthetic`,
// "eval" to `eval` (which may be null when this build has no real executor:
// such jobs then fail permanently with a message saying so).
class KindRouter : public JobExecutor {
 public:
  KindRouter(std::unique_ptr<JobExecutor> synthetic,
             std::unique_ptr<JobExecutor> eval)
      : synthetic_(std::move(synthetic)), eval_(std::move(eval)) {}
  absl::StatusOr<JobOutcome> Run(const qgrid::v1::Job& job,
                                 JobControl* control) override;
  std::vector<std::string> HeldQuantKeys() override;

 private:
  std::unique_ptr<JobExecutor> synthetic_, eval_;
};

}  // namespace qgrid::worker

#endif  // QGRID_WORKER_EXECUTOR_H_
