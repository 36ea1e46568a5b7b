// SqliteStore: the coordinator's durable Store on one SQLite file.
//
// WAL journal, busy_timeout, foreign keys; the schema is created and upgraded
// by numbered migrations recorded in a `schema_version` table; every query is
// a prepared statement (cached, parameters bound, never string-built SQL);
// claims and every multi-row change run in BEGIN IMMEDIATE transactions so a
// second process opening the file cannot interleave. Only the coordinator
// opens the database. Thread-safe: calls are serialized on one connection.
//
// Durability: journal_mode=WAL with synchronous=NORMAL. A transaction is in
// the WAL file (the OS page cache) before COMMIT returns, so a crash or
// kill -9 of the coordinator loses nothing it acknowledged; only the WAL
// checkpoints fsync. An OS crash or power loss may roll back the last
// transactions before the checkpoint, never corrupt the file: a job then
// reverts to an earlier state (e.g. leased) and is run again, and because a
// result is stored under its job id (first valid report wins), a re-run can
// never add a second result. synchronous=FULL (an fsync per claim) would
// cost several milliseconds per claim on ordinary disks for protection the
// sweep's retry rules already give.
#ifndef QGRID_DB_SQLITE_STORE_H_
#define QGRID_DB_SQLITE_STORE_H_

#include <memory>
#include <string>

#include "db/store.h"

namespace qgrid::db {

// The schema version this build migrates to.
int LatestSchemaVersion();

class SqliteStore : public Store {
 public:
  struct Options {
    int busy_timeout_ms = 5000;
    // Migrate only up to this version (tests build "old" databases); -1 =
    // latest.
    int migrate_to = -1;
  };
  static absl::StatusOr<std::unique_ptr<SqliteStore>> Open(
      const std::string& path, const Options& options);
  static absl::StatusOr<std::unique_ptr<SqliteStore>> Open(
      const std::string& path) {
    return Open(path, Options());
  }
  ~SqliteStore() override;
  SqliteStore(const SqliteStore&) = delete;
  SqliteStore& operator=(const SqliteStore&) = delete;

  // The schema version of the open database.
  absl::StatusOr<int> SchemaVersion();
  // Runs one SQL statement (tests only: building old databases).
  absl::Status ExecForTest(const std::string& sql);

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
  class Impl;
  explicit SqliteStore(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace qgrid::db

#endif  // QGRID_DB_SQLITE_STORE_H_
