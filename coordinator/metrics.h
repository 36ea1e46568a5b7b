// The coordinator's monitoring view in the Prometheus text exposition
// format (version 0.0.4): jobs by state (all sweeps), sweeps, workers by
// status (alive, quiet, quarantined), and the scheduler's counters since
// start (dispatches, claim calls, results, failures, expired leases,
// releases, quarantines) with the dispatch rate of the last minute.
// `qgrid coordinator --metrics-file F` rewrites F with it (atomically, by
// rename) every few seconds, ready for node_exporter's textfile collector or
// a plain `cat`. Thread-safe (reads the store and the scheduler under their
// own locks).
#ifndef QGRID_COORDINATOR_METRICS_H_
#define QGRID_COORDINATOR_METRICS_H_

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "coordinator/scheduler.h"
#include "db/store.h"

namespace qgrid::coordinator {

absl::StatusOr<std::string> RenderMetrics(db::Store* store, Scheduler* sched);

// Writes RenderMetrics() to `path` through a temporary file and rename(), so
// a reader never sees a half-written file.
absl::Status WriteMetricsFile(db::Store* store, Scheduler* sched,
                              const std::string& path);

}  // namespace qgrid::coordinator

#endif  // QGRID_COORDINATOR_METRICS_H_
