// MemoryStore: an in-memory Store for tests (a fake of SqliteStore with the
// same semantics; tests/db/store_test.cc runs one fixture against both).
// Thread-safe (one mutex). Nothing survives the object.
#ifndef QGRID_DB_MEMORY_STORE_H_
#define QGRID_DB_MEMORY_STORE_H_

#include <map>
#include <memory>
#include <set>

#include "absl/synchronization/mutex.h"
#include "db/store.h"

namespace qgrid::db {

class MemoryStore : public Store {
 public:
  MemoryStore() = default;
  MemoryStore(const MemoryStore&) = delete;
  MemoryStore& operator=(const MemoryStore&) = delete;

  absl::StatusOr<CreateSweepOutcome> CreateSweep(
      const SweepRecord& sweep, const std::vector<JobRecord>& jobs,
      bool use_cache, int64_t now_ms) override;
  absl::StatusOr<SweepRecord> GetSweep(const std::string& id) override;
  absl::StatusOr<std::vector<SweepRecord>> ListSweeps() override;
  absl::StatusOr<std::map<JobState, int64_t>> CountJobs(
      const std::string& sweep_id) override;
  absl::StatusOr<JobRecord> GetJob(int64_t id) override;
  absl::StatusOr<std::vector<JobRecord>> ListJobs(
      const JobFilter& filter) override;
  absl::StatusOr<std::vector<JobRecord>> ClaimJobs(
      const std::vector<int64_t>& job_ids, const std::string& worker_id,
      int64_t now_ms, int64_t lease_until_ms) override;
  absl::StatusOr<std::vector<int64_t>> ExtendLeases(
      const std::string& worker_id,
      const std::vector<std::pair<int64_t, int>>& job_attempts,
      int64_t lease_until_ms, int64_t now_ms) override;
  absl::Status UpdateProgress(int64_t job_id, int attempt,
                              const std::string& worker_id,
                              const std::string& phase, double percent,
                              int64_t now_ms) override;
  absl::StatusOr<std::vector<JobRecord>> ExpireLeases(
      int64_t now_ms, const RetryPolicy& retry) override;
  absl::StatusOr<ReportOutcome> CompleteJob(int64_t job_id,
                                            const std::string& worker_id,
                                            int attempt,
                                            const ResultRecord& result,
                                            int64_t now_ms) override;
  absl::StatusOr<JobState> FailJob(int64_t job_id, const std::string& worker_id,
                                   int attempt, const std::string& error,
                                   bool permanent, int64_t now_ms,
                                   const RetryPolicy& retry) override;
  absl::Status ReleaseJob(int64_t job_id, const std::string& worker_id,
                          int attempt, int64_t now_ms) override;
  absl::StatusOr<int64_t> CancelSweep(const std::string& sweep_id,
                                      int64_t now_ms) override;
  absl::StatusOr<int64_t> RetrySweep(const std::string& sweep_id,
                                     int64_t now_ms) override;
  absl::StatusOr<std::optional<ResultRecord>> GetResult(
      int64_t job_id) override;
  absl::StatusOr<std::vector<ResultRecord>> ListResults(
      const std::string& sweep_id) override;
  absl::Status UpsertWorker(const WorkerRecord& w) override;
  absl::StatusOr<WorkerRecord> GetWorker(const std::string& id) override;
  absl::StatusOr<std::vector<WorkerRecord>> ListWorkers() override;
  absl::Status RecordArtifact(const std::string& quant_key,
                              const std::string& worker_id,
                              const std::string& location,
                              int64_t now_ms) override;
  absl::StatusOr<std::vector<std::string>> ArtifactHolders(
      const std::string& quant_key) override;

 private:
  absl::Mutex mu_;
  std::map<std::string, SweepRecord> sweeps_ ABSL_GUARDED_BY(mu_);
  std::map<int64_t, JobRecord> jobs_ ABSL_GUARDED_BY(mu_);
  std::map<int64_t, ResultRecord> results_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, WorkerRecord> workers_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, std::set<std::string>> artifacts_ ABSL_GUARDED_BY(mu_);
  int64_t next_job_id_ ABSL_GUARDED_BY(mu_) = 1;
};

}  // namespace qgrid::db

#endif  // QGRID_DB_MEMORY_STORE_H_
