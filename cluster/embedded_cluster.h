// EmbeddedCluster: a coordinator and N local workers in one process, the
// engine of `qgrid run` (architecture decision 6, "the embedded default").
//
// Start() opens the SQLite store, serves the coordinator on a loopback port
// and runs one WorkerAgent thread per executor; the executors are injected
// (real model executors for `qgrid run`, synthetic or fake ones in tests),
// so this library needs no libtorch. The workers dial the coordinator over
// gRPC exactly as remote ones do, so a sweep behaves here as on a cluster.
// client() talks to the coordinator (submit, wait, results).
//
// Drain() lets each worker finish (or give back) its current job and
// stop; Stop() gives running jobs back at once, joins the workers and
// shuts the coordinator down; the destructor calls Stop(). Thread-safe:
// Drain()/Stop()/live_workers() may be called from any thread, e.g. a
// signal-watching one.
#ifndef QGRID_CLUSTER_EMBEDDED_CLUSTER_H_
#define QGRID_CLUSTER_EMBEDDED_CLUSTER_H_

#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "coordinator/scheduler.h"
#include "rpc/coordinator_client.h"
#include "worker/agent.h"
#include "worker/executor.h"

namespace qgrid::coordinator {
class CoordinatorServer;
}  // namespace qgrid::coordinator

namespace qgrid::cluster {

struct EmbeddedClusterOptions {
  // SQLite file, created if absent; empty: a fresh one in a new temporary
  // folder (/tmp/qgrid-run-XXXXXX/qgrid.db), kept after Stop() so its
  // results can still be read.
  std::string db_path;
  coordinator::SchedulerOptions scheduler;
  // Template for every local worker: `rpc` is set to the coordinator's
  // address and `name` gets "-<index>" appended ("local" when empty).
  worker::AgentOptions agent;
};

class EmbeddedCluster {
 public:
  // One local worker per executor (at least one). Fails, with nothing left
  // running, when the store cannot be opened or the port not bound.
  static absl::StatusOr<std::unique_ptr<EmbeddedCluster>> Start(
      EmbeddedClusterOptions options,
      std::vector<std::unique_ptr<worker::JobExecutor>> executors);
  ~EmbeddedCluster();
  EmbeddedCluster(const EmbeddedCluster&) = delete;
  EmbeddedCluster& operator=(const EmbeddedCluster&) = delete;

  // "127.0.0.1:<port>".
  std::string address() const;
  // The SQLite file in use (options.db_path, or the temporary one).
  const std::string& db_path() const { return db_path_; }
  rpc::CoordinatorClient& client() { return *client_; }
  int workers() const { return static_cast<int>(executors_.size()); }
  // Local workers whose agent loop is still running.
  int live_workers() const { return live_.load(); }

  void Drain();
  void Stop();

 private:
  EmbeddedCluster() = default;

  std::string db_path_;
  std::vector<std::unique_ptr<worker::JobExecutor>> executors_;
  std::unique_ptr<coordinator::CoordinatorServer> server_;
  std::unique_ptr<rpc::CoordinatorClient> client_;
  absl::Mutex mu_;
  std::vector<std::unique_ptr<worker::WorkerAgent>> agents_
      ABSL_GUARDED_BY(mu_);
  std::vector<std::thread> threads_ ABSL_GUARDED_BY(mu_);
  bool stopped_ ABSL_GUARDED_BY(mu_) = false;
  std::atomic<int> live_{0};
};

}  // namespace qgrid::cluster

#endif  // QGRID_CLUSTER_EMBEDDED_CLUSTER_H_
