// WorkerAgent: the worker's side of the protocol.
//
//   register -> loop { flush unacknowledged reports; lease a batch;
//                      run each job with the executor; report }
//
// A heartbeat thread reports the running job's phase/percent and keeps the
// leases of queued jobs alive; its response cancels jobs (sweep cancelled or
// lease lost). When the coordinator is unreachable the agent retries with
// exponential backoff and keeps finished results until they are
// acknowledged, so a coordinator restart loses nothing. A failing job is
// reported failed with its message and the agent goes on. Drain() (SIGTERM)
// finishes the current job (or gives it back after `drain_grace_ms`),
// releases queued jobs and returns. Thread-safe: Drain()/Stop() may be called
// from any thread or a signal-watching thread.
#ifndef QGRID_WORKER_AGENT_H_
#define QGRID_WORKER_AGENT_H_

#include <atomic>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "rpc/client.h"
#include "worker/executor.h"

namespace qgrid::worker {

struct AgentOptions {
  rpc::RpcOptions rpc;
  std::string name;
  std::string device = "cpu";
  // What model::DescribeDevice says of `device` (free memory at start).
  int64_t memory_bytes = 0;
  std::string device_name;
  int prefetch = 1;  // jobs per lease
  int64_t backoff_initial_ms = 100;
  int64_t backoff_max_ms = 5000;
  int64_t max_idle_poll_ms = 2000;
  int64_t drain_grace_ms = 60000;  // then the current job is given back
  // Stop when no job was leased for this long (0 = never); `qgrid run` uses
  // it to let local workers exit once the sweep is over.
  int64_t exit_when_idle_ms = 0;
};

struct AgentStats {
  int64_t jobs_done = 0;
  int64_t jobs_failed = 0;
  int64_t jobs_cancelled = 0;
  int64_t jobs_released = 0;
};

class WorkerAgent {
 public:
  WorkerAgent(AgentOptions options, JobExecutor* executor);
  ~WorkerAgent();
  WorkerAgent(const WorkerAgent&) = delete;
  WorkerAgent& operator=(const WorkerAgent&) = delete;

  // Runs until drained/stopped (OK), quarantined or refused by the
  // coordinator (error).
  absl::Status Run();
  // Finish or give back the current job, release the queue, return from Run.
  void Drain();
  // Stop as soon as possible: the current job is cancelled and released.
  void Stop();

  AgentStats stats() const;
  std::string worker_id() const;

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace qgrid::worker

#endif  // QGRID_WORKER_AGENT_H_
