// The coordinator's durable state: sweeps, jobs (with their leases),
// workers, results and artifacts.
//
// Store is an interface with two implementations: SqliteStore
// (db/sqlite_store.h, the real one) and MemoryStore (db/memory_store.h, a fake
// for tests). Both pass the same test fixture (tests/db/store_test.cc). Every
// method is one atomic transition of the job life cycle
//
//   pending -> leased -> done | failed | dead | cancelled
//
// where "failed" means "failed, will be retried after a backoff" (it is
// claimable again once not_before_ms has passed) and "dead" means no attempt
// is left. Times are passed in (milliseconds since the epoch) so that the
// scheduler's clock can be faked. Results are first-valid-wins: a duplicate or
// late report changes nothing. Thread-safety: implementations are safe for
// concurrent use (they serialize internally).
#ifndef QGRID_DB_STORE_H_
#define QGRID_DB_STORE_H_

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace qgrid::db {

enum class JobState { kPending, kLeased, kDone, kFailed, kDead, kCancelled };
const char* JobStateName(JobState s);
absl::StatusOr<JobState> ParseJobState(const std::string& s);
bool IsTerminal(JobState s);  // done, dead, cancelled

struct SweepRecord {
  std::string id;
  std::string name;
  std::string spec_yaml;     // as submitted
  std::string summary_json;  // parsed summary (counts per axis, ...)
  int64_t created_ms = 0;
  bool cancelled = false;
};

// A job as stored. `config_json` is the canonical configuration that the
// content key hashes; the store does not interpret it.
struct JobRecord {
  int64_t id = 0;
  std::string sweep_id;
  std::string content_key;
  std::string quant_key;
  std::string config_json;
  int priority = 0;
  int max_attempts = 3;
  JobState state = JobState::kPending;
  int attempt = 0;        // attempts started so far
  std::string worker_id;  // holder while leased; last holder after
  int64_t lease_expiry_ms = 0;
  int64_t not_before_ms = 0;  // backoff: not claimable before this
  std::string last_error;
  std::string phase;
  double percent = 0;
  int64_t updated_ms = 0;
};

struct ResultRecord {
  int64_t job_id = 0;
  std::string sweep_id;
  std::string content_key;
  std::string worker_id;
  int attempt = 0;
  std::string metrics_json;  // {"ppl": 12.3, ...}
  std::string quant_report_json;
  std::string efficiency_json;
  std::string eval_json;
  int64_t created_ms = 0;
};

struct WorkerRecord {
  std::string id;
  std::string name;
  std::string device;
  int64_t memory_bytes = 0;
  std::vector<std::string> held_quant_keys;
  int64_t registered_ms = 0;
  int64_t last_heartbeat_ms = 0;
  int consecutive_failures = 0;
  bool quarantined = false;
};

// Exponential backoff for retries: base * 2^(attempt-1), capped.
struct RetryPolicy {
  int64_t base_ms = 1000;
  int64_t max_ms = 60000;
  int64_t BackoffMs(int attempt) const;
};

// What a ReportResult did.
enum class ReportOutcome {
  kAccepted,   // this report made the job done
  kDuplicate,  // the same worker+attempt already reported: nothing changes
  kStale,      // the job is done (by another attempt) or cancelled
  kNotHolder,  // the worker does not hold the job: refused
};
const char* ReportOutcomeName(ReportOutcome o);

struct JobFilter {
  std::optional<std::string> sweep_id;
  std::vector<JobState> states;  // empty = any
  std::optional<std::string> quant_key;
  std::optional<std::string> worker_id;
  // Only jobs claimable at this time (state pending/failed with
  // not_before_ms <= ready_at_ms). Overrides `states`.
  std::optional<int64_t> ready_at_ms;
  int64_t limit = 0;  // 0 = no limit
  int64_t offset = 0;
  // Order: priority desc, id asc when ready_at_ms is set; id asc otherwise.
};

struct CreateSweepOutcome {
  int64_t jobs_inserted = 0;
  int64_t duplicates_merged = 0;  // cells with a content key already in it
  int64_t cached = 0;             // jobs done at once from an earlier result
};

class Store {
 public:
  virtual ~Store() = default;

  // Sweeps ------------------------------------------------------------
  // Inserts the sweep and its jobs in one transaction. Jobs whose content key
  // repeats within the sweep are stored once. With `use_cache`, a job whose
  // content key has a result from any earlier job is stored as done with a
  // copy of that result.
  virtual absl::StatusOr<CreateSweepOutcome> CreateSweep(
      const SweepRecord& sweep, const std::vector<JobRecord>& jobs,
      bool use_cache, int64_t now_ms) = 0;
  virtual absl::StatusOr<SweepRecord> GetSweep(const std::string& id) = 0;
  virtual absl::StatusOr<std::vector<SweepRecord>> ListSweeps() = 0;
  // Job counts per state for a sweep.
  virtual absl::StatusOr<std::map<JobState, int64_t>> CountJobs(
      const std::string& sweep_id) = 0;

  // Jobs --------------------------------------------------------------
  virtual absl::StatusOr<JobRecord> GetJob(int64_t id) = 0;
  virtual absl::StatusOr<std::vector<JobRecord>> ListJobs(
      const JobFilter& filter) = 0;
  // Leases those of `job_ids` that are claimable now (pending/failed, backoff
  // over) to `worker_id` until `lease_until_ms`, incrementing their attempt.
  // One BEGIN IMMEDIATE transaction. Returns the jobs actually claimed.
  virtual absl::StatusOr<std::vector<JobRecord>> ClaimJobs(
      const std::vector<int64_t>& job_ids, const std::string& worker_id,
      int64_t now_ms, int64_t lease_until_ms) = 0;
  // Extends the leases that `worker_id` still holds (at that attempt).
  // Returns the ids extended.
  virtual absl::StatusOr<std::vector<int64_t>> ExtendLeases(
      const std::string& worker_id,
      const std::vector<std::pair<int64_t, int>>& job_attempts,
      int64_t lease_until_ms, int64_t now_ms) = 0;
  virtual absl::Status UpdateProgress(int64_t job_id, int attempt,
                                      const std::string& worker_id,
                                      const std::string& phase, double percent,
                                      int64_t now_ms) = 0;
  // Leases expired at `now_ms` go back to pending with a backoff, or dead
  // when no attempt is left. Returns the jobs changed (new state).
  virtual absl::StatusOr<std::vector<JobRecord>> ExpireLeases(
      int64_t now_ms, const RetryPolicy& retry) = 0;
  // First valid result wins (see ReportOutcome).
  virtual absl::StatusOr<ReportOutcome> CompleteJob(
      int64_t job_id, const std::string& worker_id, int attempt,
      const ResultRecord& result, int64_t now_ms) = 0;
  // A failed attempt: failed (retry after backoff) or dead (no attempt left,
  // or `permanent`). A job the worker does not hold is left alone
  // (FAILED_PRECONDITION). Returns the new state.
  virtual absl::StatusOr<JobState> FailJob(int64_t job_id,
                                           const std::string& worker_id,
                                           int attempt,
                                           const std::string& error,
                                           bool permanent, int64_t now_ms,
                                           const RetryPolicy& retry) = 0;
  // Gives a leased job back unfinished (worker draining): pending at once,
  // and the attempt is not counted.
  virtual absl::Status ReleaseJob(int64_t job_id, const std::string& worker_id,
                                  int attempt, int64_t now_ms) = 0;
  // Every non-terminal job of the sweep becomes cancelled. Returns how many.
  virtual absl::StatusOr<int64_t> CancelSweep(const std::string& sweep_id,
                                              int64_t now_ms) = 0;
  // failed/dead/cancelled jobs of the sweep go back to pending with their
  // attempts reset. Returns how many.
  virtual absl::StatusOr<int64_t> RetrySweep(const std::string& sweep_id,
                                             int64_t now_ms) = 0;

  // Results -----------------------------------------------------------
  virtual absl::StatusOr<std::optional<ResultRecord>> GetResult(
      int64_t job_id) = 0;
  virtual absl::StatusOr<std::vector<ResultRecord>> ListResults(
      const std::string& sweep_id) = 0;

  // Workers -----------------------------------------------------------
  virtual absl::Status UpsertWorker(const WorkerRecord& w) = 0;
  virtual absl::StatusOr<WorkerRecord> GetWorker(const std::string& id) = 0;
  virtual absl::StatusOr<std::vector<WorkerRecord>> ListWorkers() = 0;

  // Artifacts: which worker holds which quantized model (quant key).
  virtual absl::Status RecordArtifact(const std::string& quant_key,
                                      const std::string& worker_id,
                                      const std::string& location,
                                      int64_t now_ms) = 0;
  virtual absl::StatusOr<std::vector<std::string>> ArtifactHolders(
      const std::string& quant_key) = 0;
};

}  // namespace qgrid::db

#endif  // QGRID_DB_STORE_H_
