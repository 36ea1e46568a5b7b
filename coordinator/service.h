// The coordinator's gRPC front: WorkerService and ClientService
// (proto/qgrid.proto) over the Scheduler and the Store, and the server that
// hosts them.
//
// Security: with an auth token every RPC must carry
// "authorization: Bearer <token>" (else UNAUTHENTICATED); TLS when a
// certificate and key are given; messages over `max_message_bytes` and specs
// over kMaxSpecBytes are refused. A background thread expires the leases of
// quiet workers. Thread-safe (gRPC's sync server calls from a thread pool).
#ifndef QGRID_COORDINATOR_SERVICE_H_
#define QGRID_COORDINATOR_SERVICE_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "coordinator/scheduler.h"
#include "db/store.h"
#include "proto/qgrid.pb.h"

namespace qgrid::coordinator {

// The Job message a worker leases for a stored job (its config's "job":
// model, method, calibration, test, shots, seed).
void FillJob(const db::JobRecord& j, ::qgrid::v1::Job* out);

struct ServerOptions {
  std::string db_path;                     // SQLite file (created when absent)
  std::string listen = "127.0.0.1:50051";  // port 0 picks a free port
  std::string auth_token;                  // empty = no auth
  std::string tls_cert_pem;                // both or neither
  std::string tls_key_pem;
  int max_message_bytes = 16 << 20;
  int64_t max_jobs_limit = 1'000'000;  // hard cap whatever --max-jobs says
  // Threads the gRPC server keeps polling between calls (see service.cc).
  int rpc_threads = 16;
  // When set, the Prometheus text of coordinator/metrics.h is rewritten to
  // this file every `metrics_interval_ms`.
  std::string metrics_file;
  int64_t metrics_interval_ms = 5000;
  SchedulerOptions scheduler;
};

class CoordinatorServer {
 public:
  // Opens (and migrates) the database, starts serving.
  static absl::StatusOr<std::unique_ptr<CoordinatorServer>> Start(
      const ServerOptions& options);
  ~CoordinatorServer();
  CoordinatorServer(const CoordinatorServer&) = delete;
  CoordinatorServer& operator=(const CoordinatorServer&) = delete;

  // The port actually bound.
  int port() const;
  // "127.0.0.1:<port>" style address clients can dial.
  std::string address() const;
  // Stops accepting, finishes in-flight calls (bounded), stops the reaper.
  void Shutdown();
  // Blocks until Shutdown() (from another thread or a signal handler loop).
  void Wait();

 private:
  class Impl;
  explicit CoordinatorServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace qgrid::coordinator

#endif  // QGRID_COORDINATOR_SERVICE_H_
