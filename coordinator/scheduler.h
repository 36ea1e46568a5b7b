// The scheduler: leases jobs to workers, keeps the worker registry, extends
// leases on heartbeats, expires the leases of quiet workers, accepts results
// and failures, and quarantines workers that keep failing.
//
// Affinity (issue 6): a quantized model is the expensive artifact, so
//  1. a worker is first given ready jobs whose quant key it already holds or
//     is working on;
//  2. otherwise it starts the highest-priority ready quant key that no other
//     live worker is working on, and gets that key's jobs in batches of
//     `affinity_batch`;
//  3. a key stays reserved for its worker while that worker leases jobs of it
//     (and `affinity_grace_ms` after), unless the worker goes quiet (no
//     heartbeat for `worker_quiet_ms`): two workers never quantize the same
//     key at once unless one went quiet.
// Cancellation reaches running jobs through heartbeat responses.
//
// All durable state lives in the Store; the scheduler keeps only derived
// caches (live leases per quant key, the worker registry) rebuilt from the
// store at construction, so a restarted coordinator carries on. Thread-safe:
// decisions are serialized on one mutex.
#ifndef QGRID_COORDINATOR_SCHEDULER_H_
#define QGRID_COORDINATOR_SCHEDULER_H_

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "coordinator/clock.h"
#include "db/store.h"

namespace qgrid::coordinator {

struct SchedulerOptions {
  int64_t lease_ms = 30000;
  int64_t heartbeat_ms = 5000;      // the interval workers are told to use
  int64_t worker_quiet_ms = 30000;  // no heartbeat for this long = quiet
  int64_t idle_retry_ms = 1000;     // "ask again" hint when nothing is ready
  int64_t affinity_grace_ms = 2000;
  int affinity_batch = 8;
  int max_lease_batch = 64;
  int quarantine_after = 5;  // consecutive failures
  db::RetryPolicy retry;
};

struct LeaseResult {
  std::vector<db::JobRecord> jobs;
  bool quarantined = false;
  int64_t retry_after_ms = 0;
};

struct JobProgressReport {
  int64_t job_id = 0;
  int attempt = 0;
  std::string phase;
  double percent = 0;
};

struct HeartbeatResult {
  std::vector<int64_t> cancelled;                     // stop these
  std::vector<std::pair<int64_t, int64_t>> extended;  // job id, new expiry
  bool quarantined = false;
};

// Monotonic counters since this scheduler started (the monitoring view,
// coordinator/metrics.h), and the dispatches of the last minute.
struct SchedulerCounters {
  int64_t lease_calls = 0;       // Lease() calls that were answered
  int64_t jobs_dispatched = 0;   // jobs handed to workers
  int64_t results_accepted = 0;  // reports that made a job done
  int64_t results_ignored = 0;   // duplicate or stale reports
  int64_t failures = 0;          // failed attempts reported by workers
  int64_t leases_expired = 0;    // leases that lapsed (quiet workers)
  int64_t jobs_released = 0;     // given back by draining workers
  int64_t quarantines = 0;       // workers quarantined
  int64_t dispatched_last_minute = 0;
};

class Scheduler {
 public:
  // `store` and `clock` must outlive the scheduler.
  static absl::StatusOr<std::unique_ptr<Scheduler>> Create(
      db::Store* store, Clock* clock, const SchedulerOptions& options);
  Scheduler(const Scheduler&) = delete;
  Scheduler& operator=(const Scheduler&) = delete;

  const SchedulerOptions& options() const { return opts_; }
  Clock* clock() const { return clock_; }

  absl::StatusOr<db::WorkerRecord> RegisterWorker(
      const std::string& name, const std::string& device, int64_t memory_bytes,
      const std::vector<std::string>& held_keys);
  absl::StatusOr<LeaseResult> Lease(const std::string& worker_id,
                                    const std::vector<std::string>& held_keys,
                                    int max_jobs);
  absl::StatusOr<HeartbeatResult> Heartbeat(
      const std::string& worker_id, const std::vector<JobProgressReport>& jobs,
      const std::vector<std::string>& held_keys);
  // First valid result wins; kNotHolder when the worker may not report it.
  absl::StatusOr<db::ReportOutcome> ReportResult(const std::string& worker_id,
                                                 int64_t job_id, int attempt,
                                                 const db::ResultRecord& r);
  absl::StatusOr<db::JobState> ReportFailure(const std::string& worker_id,
                                             int64_t job_id, int attempt,
                                             const std::string& error,
                                             bool permanent);
  // A draining worker gives a job back without spending an attempt.
  absl::Status Release(const std::string& worker_id, int64_t job_id,
                       int attempt);
  // Returns expired leases to pending (or dead). Returns how many changed.
  absl::StatusOr<int64_t> ExpireLeases();
  absl::StatusOr<int64_t> CancelSweep(const std::string& sweep_id);
  absl::StatusOr<int64_t> RetrySweep(const std::string& sweep_id);

  // The registry with liveness, and the jobs each worker holds.
  struct WorkerView {
    db::WorkerRecord record;
    bool alive = false;
    std::vector<int64_t> leased_job_ids;
  };
  std::vector<WorkerView> Workers();
  SchedulerCounters Counters();

 private:
  Scheduler(db::Store* store, Clock* clock, SchedulerOptions opts);
  absl::Status Load();

  struct Owner {
    std::string worker_id;
    int leased = 0;
    int64_t last_active_ms = 0;
  };
  struct Lease_ {
    std::string worker_id;
    std::string quant_key;
  };

  bool AliveLocked(const std::string& worker_id, int64_t now)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  bool ReservedForOtherLocked(const std::string& quant_key,
                              const std::string& worker_id, int64_t now)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void AddLeaseLocked(const db::JobRecord& j, int64_t now)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void DropLeaseLocked(int64_t job_id, int64_t now)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::StatusOr<db::WorkerRecord*> WorkerLocked(const std::string& id)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status TouchWorkerLocked(db::WorkerRecord* w,
                                 const std::vector<std::string>* held,
                                 int64_t now)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::StatusOr<int64_t> ExpireLocked(int64_t now)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status RebuildLeasesLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void CountDispatchLocked(int64_t n, int64_t now)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  db::Store* const store_;
  Clock* const clock_;
  const SchedulerOptions opts_;

  absl::Mutex mu_;
  std::map<std::string, db::WorkerRecord> workers_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, db::WorkerRecord> persisted_ ABSL_GUARDED_BY(mu_);
  std::map<int64_t, Lease_> leases_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, Owner> owners_ ABSL_GUARDED_BY(mu_);
  int64_t next_expiry_check_ms_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t worker_seq_ ABSL_GUARDED_BY(mu_) = 0;
  SchedulerCounters counters_ ABSL_GUARDED_BY(mu_);
  // Dispatches per second of the last minute: slot = second % 60.
  int64_t minute_count_[60] ABSL_GUARDED_BY(mu_) = {};
  int64_t minute_second_[60] ABSL_GUARDED_BY(mu_) = {};
};

}  // namespace qgrid::coordinator

#endif  // QGRID_COORDINATOR_SCHEDULER_H_
