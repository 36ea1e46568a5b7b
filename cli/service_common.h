// What the service commands of both executables share: client flags and
// their RpcOptions, scheduler flags, printing of sweep summaries and
// statuses, a sweep watch with a progress bar, and SIGINT/SIGTERM handling
// outside signal context. `qgrid` (coordinator and client commands) and
// `qgrid-torch` (`worker`, `run`) both link it. Main-thread use only,
// except the signal watcher's callback, which runs on its own thread.
#ifndef QGRID_CLI_SERVICE_COMMON_H_
#define QGRID_CLI_SERVICE_COMMON_H_

#include <google/protobuf/message.h>

#include <CLI/CLI.hpp>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "absl/status/statusor.h"
#include "coordinator/scheduler.h"
#include "proto/qgrid.pb.h"
#include "rpc/client.h"
#include "rpc/coordinator_client.h"

namespace qgrid::cli {

// --coordinator, --auth-token-file, --tls, --tls-ca, --json, --timeout-ms.
struct ClientFlags {
  std::string coordinator;  // default: $QGRID_COORDINATOR, else 127.0.0.1:50051
  std::string auth_token_file;
  std::string tls_ca;
  bool tls = false;
  bool json = false;
  int64_t timeout_ms = 10000;
  ClientFlags();
};
void AddClientFlags(CLI::App* c, ClientFlags* f);
// The flags' RpcOptions (token and CA files read).
absl::StatusOr<rpc::RpcOptions> RpcFrom(const ClientFlags& f);
// A client of the coordinator the flags name.
absl::StatusOr<std::unique_ptr<rpc::CoordinatorClient>> Connect(
    const ClientFlags& f);

struct SchedFlags {
  int64_t lease_ms = 30000;
  int64_t heartbeat_ms = 5000;
  int64_t quiet_ms = 0;
  int64_t retry_base_ms = 2000;
  int64_t retry_max_ms = 120000;
  int quarantine_after = 5;
  int affinity_batch = 8;
  int64_t idle_retry_ms = 0;
};
void AddSchedFlags(CLI::App* c, SchedFlags* f);
coordinator::SchedulerOptions SchedOpts(const SchedFlags& f);

// Protobuf message as indented JSON with proto field names.
std::string ToJson(const google::protobuf::Message& m);
void PrintSummary(const v1::SweepSummary& s);
void PrintStatus(const v1::SweepStatus& s);
// "3.2s ago", "5m ago", "never".
std::string Ago(int64_t unix_ms);

// Waits for the sweep (CoordinatorClient::WaitForSweep), drawing a progress
// bar on stderr when `bar`.
absl::StatusOr<v1::SweepStatus> WatchSweep(
    rpc::CoordinatorClient& client, const std::string& id, bool bar,
    const std::function<bool()>& stop = nullptr);

// SIGINT/SIGTERM: a process-wide handler writes the signal to a pipe; the
// returned thread reads it and calls `on_signal(count)` (count from 1)
// outside signal context, so it may lock and log. Return false to stop
// watching. StopWatcher ends and joins it.
std::thread SignalWatcher(std::function<bool(int)> on_signal);
void StopWatcher(std::thread& t);

}  // namespace qgrid::cli

#endif  // QGRID_CLI_SERVICE_COMMON_H_
