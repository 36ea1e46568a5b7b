// What a client shows of a sweep: the text forms of the service's messages
// (as `qgrid submit/status/watch/workers/run` print them), their JSON form,
// and a wait on a sweep that draws a progress bar. Plain functions over the
// proto messages, so any client program (and a test) can use them.
#ifndef QGRID_RPC_SWEEP_VIEW_H_
#define QGRID_RPC_SWEEP_VIEW_H_

#include <google/protobuf/message.h>

#include <cstdint>
#include <functional>
#include <string>

#include "absl/status/statusor.h"
#include "proto/qgrid.pb.h"
#include "rpc/coordinator_client.h"

namespace qgrid::rpc {

// The message as indented JSON with proto field names and every primitive
// field (defaults included).
std::string ToJson(const google::protobuf::Message& m);

// "grid: models=1 methods=2 ...  (C cells)\njobs: N  quantizations: Q
// evaluations: E" plus merged/reused counts when non-zero; ends with a
// newline. C, the product of the axes, is left out when the server sent none.
std::string FormatSummary(const v1::SweepSummary& s);

// One line of counts per sweep, then "  error: ..." lines; ends with a
// newline.
std::string FormatStatus(const v1::SweepStatus& s);

// One line per worker: id, device, alive/quiet, last heartbeat, leased jobs,
// held quant keys, failures, quarantine.
std::string FormatWorker(const v1::WorkerInfo& w, int64_t now_unix_ms);

// "3.2s ago", "5m ago" (from `now_unix_ms`), or "never" for 0.
std::string Ago(int64_t unix_ms, int64_t now_unix_ms);

int64_t NowUnixMs();

// CoordinatorClient::WaitForSweep with a progress bar of finished jobs on
// stderr when `bar`.
absl::StatusOr<v1::SweepStatus> WatchSweep(
    CoordinatorClient& client, const std::string& sweep_id, bool bar,
    const std::function<bool()>& stop = nullptr);

}  // namespace qgrid::rpc

#endif  // QGRID_RPC_SWEEP_VIEW_H_
