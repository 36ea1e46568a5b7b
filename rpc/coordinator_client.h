// CoordinatorClient: the typed client of the coordinator's ClientService,
// one method per RPC, each with the deadline and bearer token of its
// RpcOptions, and WaitForSweep, the polling loop behind `qgrid submit
// --watch`, `qgrid watch` and `qgrid run`.
//
// Errors are absl::Status; an unreachable coordinator reads "coordinator
// ADDR unreachable: ... (start one with `qgrid coordinator`, ...)".
// Thread-safe: one client may be used by several threads (gRPC stubs are).
#ifndef QGRID_RPC_COORDINATOR_CLIENT_H_
#define QGRID_RPC_COORDINATOR_CLIENT_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "proto/qgrid.grpc.pb.h"
#include "rpc/client.h"

namespace qgrid::rpc {

struct SubmitOptions {
  std::string spec_yaml;
  std::string spec_name;  // shown in messages (the file name)
  bool no_cache = false;
  int64_t max_jobs = 0;  // 0: the coordinator's default
};

class CoordinatorClient {
 public:
  explicit CoordinatorClient(RpcOptions options);

  const RpcOptions& options() const { return options_; }

  absl::StatusOr<v1::SubmitSweepResponse> Submit(const SubmitOptions& s);
  absl::StatusOr<v1::SweepStatus> GetStatus(const std::string& sweep_id);
  absl::StatusOr<v1::ListSweepsResponse> ListSweeps();
  absl::StatusOr<v1::CancelSweepResponse> Cancel(const std::string& sweep_id);
  absl::StatusOr<v1::RetrySweepResponse> Retry(const std::string& sweep_id);
  absl::StatusOr<v1::ListWorkersResponse> ListWorkers();
  // `format`: table | markdown | csv | json | latex; `metric` empty: the
  // coordinator's default (ppl, else acc, else the first). `with_items`:
  // keep the per-item scores in the raw results' eval_json.
  absl::StatusOr<v1::GetResultsResponse> GetResults(const std::string& sweep_id,
                                                    const std::string& metric,
                                                    const std::string& format,
                                                    bool with_items = false);

  // Polls the sweep every `poll_ms` until it is no longer active, or until
  // `stop()` (when given) says nothing will make progress any more (e.g.
  // `qgrid run`'s local workers have all drained after a signal). Calls
  // `on_status` after every poll (progress bars). Returns the last status.
  absl::StatusOr<v1::SweepStatus> WaitForSweep(
      const std::string& sweep_id,
      const std::function<void(const v1::SweepStatus&)>& on_status = nullptr,
      const std::function<bool()>& stop = nullptr, int64_t poll_ms = 300);

 private:
  RpcOptions options_;
  std::shared_ptr<v1::ClientService::Stub> stub_;
};

}  // namespace qgrid::rpc

#endif  // QGRID_RPC_COORDINATOR_CLIENT_H_
