#include "rpc/sweep_view.h"

#include <google/protobuf/util/json_util.h>

#include <chrono>
#include <memory>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/progress.h"

namespace qgrid::rpc {

namespace pb = ::qgrid::v1;

std::string ToJson(const google::protobuf::Message& m) {
  std::string out;
  google::protobuf::util::JsonPrintOptions o;
  o.add_whitespace = true;
  o.always_print_primitive_fields = true;
  o.preserve_proto_field_names = true;
  (void)google::protobuf::util::MessageToJsonString(m, &out, o);
  return out;
}

int64_t NowUnixMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string Ago(int64_t unix_ms, int64_t now_unix_ms) {
  if (unix_ms <= 0) return "never";
  double s = (now_unix_ms - unix_ms) / 1000.0;
  return s < 120 ? absl::StrFormat("%.1fs ago", s)
                 : absl::StrFormat("%.0fm ago", s / 60);
}

std::string FormatSummary(const pb::SweepSummary& s) {
  std::string out = "grid:";
  for (const char* axis : {"models", "methods", "calibration", "tests", "shots",
                           "seeds", "repeats"}) {
    auto it = s.axis_counts().find(axis);
    if (it != s.axis_counts().end()) {
      absl::StrAppend(&out, " ", axis, "=", it->second);
    }
  }
  if (s.grid_cells() > 0)
    absl::StrAppend(&out, "  (", s.grid_cells(), " cells)");
  absl::StrAppend(&out, "\njobs: ", s.jobs(),
                  "  quantizations: ", s.quantizations(),
                  "  evaluations: ", s.evaluations());
  if (s.duplicates_merged()) {
    absl::StrAppend(&out, "  (identical cells merged: ", s.duplicates_merged(),
                    ")");
  }
  if (s.cached()) {
    absl::StrAppend(&out, "  reused from earlier results: ", s.cached());
  }
  return out + "\n";
}

std::string FormatStatus(const pb::SweepStatus& s) {
  std::string out = absl::StrFormat(
      "%s  %-10s %-16s total %d: done %d, running %d, pending %d, failed %d, "
      "dead %d, cancelled %d\n",
      s.sweep_id(), s.state(), s.name().empty() ? "-" : s.name(), s.total(),
      s.done(), s.running(), s.pending(), s.failed(), s.dead(), s.cancelled());
  for (const auto& e : s.errors()) absl::StrAppend(&out, "  error: ", e, "\n");
  return out;
}

std::string FormatWorker(const pb::WorkerInfo& w, int64_t now_unix_ms) {
  return absl::StrFormat(
      "%-28s %-8s %-6s %-12s jobs %d  held keys %d  failures %d%s\n",
      w.worker_id(), w.device(), w.alive() ? "alive" : "quiet",
      Ago(w.last_heartbeat_unix_ms(), now_unix_ms), w.leased_job_ids_size(),
      w.held_quant_keys_size(), w.consecutive_failures(),
      w.quarantined() ? "  QUARANTINED" : "");
}

absl::StatusOr<pb::SweepStatus> WatchSweep(CoordinatorClient& client,
                                           const std::string& sweep_id,
                                           bool bar,
                                           const std::function<bool()>& stop) {
  std::unique_ptr<Progress> progress;
  int64_t shown = 0;
  auto st = client.WaitForSweep(
      sweep_id,
      [&](const pb::SweepStatus& st) {
        int64_t finished = st.done() + st.dead() + st.cancelled();
        if (!progress) {
          progress = std::make_unique<Progress>("sweep " + sweep_id, st.total(),
                                                "jobs", bar);
        }
        progress->Add(finished - shown,
                      absl::StrFormat("done %d running %d failed %d", st.done(),
                                      st.running(), st.failed() + st.dead()));
        shown = finished;
      },
      stop);
  if (progress) progress->Finish();
  return st;
}

}  // namespace qgrid::rpc
