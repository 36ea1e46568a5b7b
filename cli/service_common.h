// What the service commands of both executables share: client and
// scheduler flags and the options they make, the results flags. `qgrid`
// (coordinator and client commands) and `qgrid-torch` (`worker`, `run`)
// both link it. Printing is rpc/sweep_view.h; signals common/signal_watcher.h.
#ifndef QGRID_CLI_SERVICE_COMMON_H_
#define QGRID_CLI_SERVICE_COMMON_H_

#include <CLI/CLI.hpp>
#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "coordinator/scheduler.h"
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
// Adds the connection flags; with `commands` also --json and --timeout-ms
// (a worker has neither).
void AddClientFlags(CLI::App* c, ClientFlags* f, bool commands = true);
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

// --metric and --format of `qgrid results` and `qgrid run`.
void AddResultsFlags(CLI::App* c, std::string* metric, std::string* format);

// Writes `text` to stdout as is.
void PrintText(const std::string& text);

}  // namespace qgrid::cli

#endif  // QGRID_CLI_SERVICE_COMMON_H_
