#include "coordinator/metrics.h"

#include <cstdio>
#include <fstream>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"

namespace qgrid::coordinator {
namespace {

void Metric(std::string* out, const std::string& name, const char* type,
            const char* help) {
  absl::StrAppend(out, "# HELP ", name, " ", help, "\n# TYPE ", name, " ", type,
                  "\n");
}

}  // namespace

absl::StatusOr<std::string> RenderMetrics(db::Store* store, Scheduler* sched) {
  std::map<db::JobState, int64_t> jobs;
  for (db::JobState s :
       {db::JobState::kPending, db::JobState::kLeased, db::JobState::kDone,
        db::JobState::kFailed, db::JobState::kDead, db::JobState::kCancelled}) {
    jobs[s] = 0;
  }
  QG_ASSIGN_OR_RETURN(auto sweeps, store->ListSweeps());
  int64_t open_sweeps = 0;
  for (const auto& sw : sweeps) {
    QG_ASSIGN_OR_RETURN(auto counts, store->CountJobs(sw.id));
    bool open = false;
    for (const auto& [state, n] : counts) {
      jobs[state] += n;
      if (n > 0 && !db::IsTerminal(state)) open = true;
    }
    open_sweeps += open && !sw.cancelled;
  }
  std::string out;
  Metric(&out, "qgrid_jobs", "gauge", "Jobs by state, all sweeps.");
  for (const auto& [state, n] : jobs) {
    absl::StrAppend(&out, "qgrid_jobs{state=\"", db::JobStateName(state),
                    "\"} ", n, "\n");
  }
  Metric(&out, "qgrid_sweeps", "gauge",
         "Sweeps stored, and those with jobs still to run.");
  absl::StrAppend(&out, "qgrid_sweeps{status=\"all\"} ", sweeps.size(), "\n",
                  "qgrid_sweeps{status=\"active\"} ", open_sweeps, "\n");

  int64_t alive = 0, quiet = 0, quarantined = 0, leased = 0;
  for (const auto& w : sched->Workers()) {
    if (w.record.quarantined) {
      ++quarantined;
    } else if (w.alive) {
      ++alive;
    } else {
      ++quiet;
    }
    leased += static_cast<int64_t>(w.leased_job_ids.size());
  }
  Metric(&out, "qgrid_workers", "gauge",
         "Registered workers: heartbeating, gone quiet, quarantined.");
  absl::StrAppend(&out, "qgrid_workers{status=\"alive\"} ", alive, "\n",
                  "qgrid_workers{status=\"quiet\"} ", quiet, "\n",
                  "qgrid_workers{status=\"quarantined\"} ", quarantined, "\n");
  Metric(&out, "qgrid_leases", "gauge", "Jobs currently leased to workers.");
  absl::StrAppend(&out, "qgrid_leases ", leased, "\n");

  SchedulerCounters c = sched->Counters();
  auto counter = [&](const char* name, const char* help, int64_t v) {
    Metric(&out, name, "counter", help);
    absl::StrAppend(&out, name, " ", v, "\n");
  };
  counter("qgrid_jobs_dispatched_total", "Jobs handed to workers.",
          c.jobs_dispatched);
  counter("qgrid_lease_calls_total", "LeaseJobs (claim) calls answered.",
          c.lease_calls);
  counter("qgrid_results_accepted_total", "Results that made a job done.",
          c.results_accepted);
  counter("qgrid_results_ignored_total",
          "Duplicate or stale result reports (nothing changed).",
          c.results_ignored);
  counter("qgrid_job_failures_total", "Failed attempts reported by workers.",
          c.failures);
  counter("qgrid_leases_expired_total",
          "Leases that lapsed because their worker went quiet.",
          c.leases_expired);
  counter("qgrid_jobs_released_total", "Jobs given back by draining workers.",
          c.jobs_released);
  counter("qgrid_quarantines_total", "Workers quarantined.", c.quarantines);
  Metric(&out, "qgrid_dispatch_rate", "gauge",
         "Jobs dispatched per second over the last minute.");
  absl::StrAppend(&out, "qgrid_dispatch_rate ",
                  static_cast<double>(c.dispatched_last_minute) / 60.0, "\n");
  return out;
}

absl::Status WriteMetricsFile(db::Store* store, Scheduler* sched,
                              const std::string& path) {
  QG_ASSIGN_OR_RETURN(std::string text, RenderMetrics(store, sched));
  std::string tmp = path + ".tmp";
  {
    std::ofstream f(tmp, std::ios::trunc);
    f << text;
    f.close();
    if (!f) return absl::UnavailableError(tmp + ": cannot write metrics");
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    return absl::UnavailableError(path + ": cannot rename metrics file");
  }
  return absl::OkStatus();
}

}  // namespace qgrid::coordinator
