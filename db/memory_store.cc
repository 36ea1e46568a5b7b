#include "db/memory_store.h"

#include <algorithm>

#include "absl/strings/str_cat.h"

namespace qgrid::db {
namespace {

bool Claimable(const JobRecord& j, int64_t now_ms) {
  return (j.state == JobState::kPending || j.state == JobState::kFailed) &&
         j.not_before_ms <= now_ms;
}

bool Holds(const JobRecord& j, const std::string& worker, int attempt) {
  return j.state == JobState::kLeased && j.worker_id == worker &&
         j.attempt == attempt;
}

}  // namespace

absl::StatusOr<CreateSweepOutcome> MemoryStore::CreateSweep(
    const SweepRecord& sweep, const std::vector<JobRecord>& jobs,
    bool use_cache, int64_t now_ms) {
  absl::MutexLock l(&mu_);
  if (sweeps_.count(sweep.id)) {
    return absl::AlreadyExistsError("sweep " + sweep.id + " exists");
  }
  sweeps_[sweep.id] = sweep;
  CreateSweepOutcome out;
  std::set<std::string> seen;
  for (const JobRecord& in : jobs) {
    if (!seen.insert(in.content_key).second) {
      ++out.duplicates_merged;
      continue;
    }
    JobRecord j = in;
    j.id = next_job_id_++;
    j.sweep_id = sweep.id;
    j.state = JobState::kPending;
    j.attempt = 0;
    j.worker_id.clear();
    j.lease_expiry_ms = j.not_before_ms = 0;
    j.updated_ms = now_ms;
    if (use_cache) {
      for (const auto& [id, r] : results_) {
        if (r.content_key != j.content_key) continue;
        ResultRecord copy = r;
        copy.job_id = j.id;
        copy.sweep_id = sweep.id;
        copy.created_ms = now_ms;
        results_[j.id] = copy;
        j.state = JobState::kDone;
        j.percent = 100;
        ++out.cached;
        break;
      }
    }
    jobs_[j.id] = j;
    ++out.jobs_inserted;
  }
  return out;
}

absl::StatusOr<SweepRecord> MemoryStore::GetSweep(const std::string& id) {
  absl::MutexLock l(&mu_);
  auto it = sweeps_.find(id);
  if (it == sweeps_.end()) return absl::NotFoundError("no sweep " + id);
  return it->second;
}

absl::StatusOr<std::vector<SweepRecord>> MemoryStore::ListSweeps() {
  absl::MutexLock l(&mu_);
  std::vector<SweepRecord> out;
  for (const auto& [id, s] : sweeps_) out.push_back(s);
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) {
    return a.created_ms != b.created_ms ? a.created_ms < b.created_ms
                                        : a.id < b.id;
  });
  return out;
}

absl::StatusOr<std::map<JobState, int64_t>> MemoryStore::CountJobs(
    const std::string& sweep_id) {
  absl::MutexLock l(&mu_);
  std::map<JobState, int64_t> out;
  for (const auto& [id, j] : jobs_) {
    if (j.sweep_id == sweep_id) ++out[j.state];
  }
  return out;
}

absl::StatusOr<JobRecord> MemoryStore::GetJob(int64_t id) {
  absl::MutexLock l(&mu_);
  auto it = jobs_.find(id);
  if (it == jobs_.end())
    return absl::NotFoundError(absl::StrCat("no job ", id));
  return it->second;
}

absl::StatusOr<std::vector<JobRecord>> MemoryStore::ListJobs(
    const JobFilter& f) {
  absl::MutexLock l(&mu_);
  std::vector<JobRecord> out;
  for (const auto& [id, j] : jobs_) {
    if (f.sweep_id && j.sweep_id != *f.sweep_id) continue;
    if (f.quant_key && j.quant_key != *f.quant_key) continue;
    if (f.worker_id && j.worker_id != *f.worker_id) continue;
    if (f.ready_at_ms) {
      if (!Claimable(j, *f.ready_at_ms)) continue;
    } else if (!f.states.empty() && std::find(f.states.begin(), f.states.end(),
                                              j.state) == f.states.end()) {
      continue;
    }
    out.push_back(j);
  }
  if (f.ready_at_ms) {
    std::stable_sort(out.begin(), out.end(), [](const auto& a, const auto& b) {
      return a.priority > b.priority;
    });
  }
  if (f.offset > 0) {
    out.erase(out.begin(),
              out.begin() + std::min<int64_t>(f.offset, out.size()));
  }
  if (f.limit > 0 && static_cast<int64_t>(out.size()) > f.limit) {
    out.resize(f.limit);
  }
  return out;
}

absl::StatusOr<std::vector<JobRecord>> MemoryStore::ClaimJobs(
    const std::vector<int64_t>& job_ids, const std::string& worker_id,
    int64_t now_ms, int64_t lease_until_ms) {
  absl::MutexLock l(&mu_);
  std::vector<JobRecord> out;
  for (int64_t id : job_ids) {
    auto it = jobs_.find(id);
    if (it == jobs_.end() || !Claimable(it->second, now_ms)) continue;
    JobRecord& j = it->second;
    j.state = JobState::kLeased;
    j.attempt += 1;
    j.worker_id = worker_id;
    j.lease_expiry_ms = lease_until_ms;
    j.phase.clear();
    j.percent = 0;
    j.updated_ms = now_ms;
    out.push_back(j);
  }
  return out;
}

absl::StatusOr<std::vector<int64_t>> MemoryStore::ExtendLeases(
    const std::string& worker_id,
    const std::vector<std::pair<int64_t, int>>& job_attempts,
    int64_t lease_until_ms, int64_t now_ms) {
  absl::MutexLock l(&mu_);
  std::vector<int64_t> out;
  for (const auto& [id, attempt] : job_attempts) {
    auto it = jobs_.find(id);
    if (it == jobs_.end() || !Holds(it->second, worker_id, attempt)) continue;
    it->second.lease_expiry_ms = lease_until_ms;
    out.push_back(id);
  }
  return out;
}

absl::Status MemoryStore::UpdateProgress(int64_t job_id, int attempt,
                                         const std::string& worker_id,
                                         const std::string& phase,
                                         double percent, int64_t now_ms) {
  absl::MutexLock l(&mu_);
  auto it = jobs_.find(job_id);
  if (it == jobs_.end() || !Holds(it->second, worker_id, attempt)) {
    return absl::OkStatus();
  }
  it->second.phase = phase;
  it->second.percent = percent;
  it->second.updated_ms = now_ms;
  return absl::OkStatus();
}

absl::StatusOr<std::vector<JobRecord>> MemoryStore::ExpireLeases(
    int64_t now_ms, const RetryPolicy& retry) {
  absl::MutexLock l(&mu_);
  std::vector<JobRecord> out;
  for (auto& [id, j] : jobs_) {
    if (j.state != JobState::kLeased || j.lease_expiry_ms > now_ms) continue;
    j.last_error = absl::StrCat("lease expired: worker ", j.worker_id,
                                " went quiet (attempt ", j.attempt, ")");
    if (j.attempt >= j.max_attempts) {
      j.state = JobState::kDead;
    } else {
      j.state = JobState::kPending;
      j.not_before_ms = now_ms + retry.BackoffMs(j.attempt);
    }
    j.updated_ms = now_ms;
    out.push_back(j);
  }
  return out;
}

absl::StatusOr<ReportOutcome> MemoryStore::CompleteJob(
    int64_t job_id, const std::string& worker_id, int attempt,
    const ResultRecord& result, int64_t now_ms) {
  absl::MutexLock l(&mu_);
  auto it = jobs_.find(job_id);
  if (it == jobs_.end()) {
    return absl::NotFoundError(absl::StrCat("no job ", job_id));
  }
  JobRecord& j = it->second;
  auto rit = results_.find(job_id);
  if (rit != results_.end()) {
    return rit->second.worker_id == worker_id && rit->second.attempt == attempt
               ? ReportOutcome::kDuplicate
               : ReportOutcome::kStale;
  }
  if (j.state == JobState::kCancelled || j.state == JobState::kDone) {
    return ReportOutcome::kStale;
  }
  // The holder, or the last holder of the current attempt when nobody else
  // has taken the job since (a late report that saves recomputation).
  bool own = j.worker_id == worker_id && j.attempt == attempt;
  if (!own) return ReportOutcome::kNotHolder;
  ResultRecord r = result;
  r.job_id = job_id;
  r.sweep_id = j.sweep_id;
  r.content_key = j.content_key;
  r.worker_id = worker_id;
  r.attempt = attempt;
  r.created_ms = now_ms;
  results_[job_id] = r;
  j.state = JobState::kDone;
  j.percent = 100;
  j.last_error.clear();
  j.updated_ms = now_ms;
  return ReportOutcome::kAccepted;
}

absl::StatusOr<JobState> MemoryStore::FailJob(int64_t job_id,
                                              const std::string& worker_id,
                                              int attempt,
                                              const std::string& error,
                                              bool permanent, int64_t now_ms,
                                              const RetryPolicy& retry) {
  absl::MutexLock l(&mu_);
  auto it = jobs_.find(job_id);
  if (it == jobs_.end()) {
    return absl::NotFoundError(absl::StrCat("no job ", job_id));
  }
  JobRecord& j = it->second;
  if (!Holds(j, worker_id, attempt)) {
    return absl::FailedPreconditionError(
        absl::StrCat("job ", job_id, " attempt ", attempt,
                     " is not held by worker ", worker_id));
  }
  j.last_error = error;
  if (permanent || j.attempt >= j.max_attempts) {
    j.state = JobState::kDead;
  } else {
    j.state = JobState::kFailed;
    j.not_before_ms = now_ms + retry.BackoffMs(j.attempt);
  }
  j.updated_ms = now_ms;
  return j.state;
}

absl::Status MemoryStore::ReleaseJob(int64_t job_id,
                                     const std::string& worker_id, int attempt,
                                     int64_t now_ms) {
  absl::MutexLock l(&mu_);
  auto it = jobs_.find(job_id);
  if (it == jobs_.end() || !Holds(it->second, worker_id, attempt)) {
    return absl::FailedPreconditionError(
        absl::StrCat("job ", job_id, " is not held by worker ", worker_id));
  }
  JobRecord& j = it->second;
  j.state = JobState::kPending;
  j.attempt -= 1;
  j.not_before_ms = now_ms;
  j.updated_ms = now_ms;
  return absl::OkStatus();
}

absl::StatusOr<int64_t> MemoryStore::CancelSweep(const std::string& sweep_id,
                                                 int64_t now_ms) {
  absl::MutexLock l(&mu_);
  auto sit = sweeps_.find(sweep_id);
  if (sit == sweeps_.end()) return absl::NotFoundError("no sweep " + sweep_id);
  sit->second.cancelled = true;
  int64_t n = 0;
  for (auto& [id, j] : jobs_) {
    if (j.sweep_id != sweep_id || IsTerminal(j.state)) continue;
    j.state = JobState::kCancelled;
    j.updated_ms = now_ms;
    ++n;
  }
  return n;
}

absl::StatusOr<int64_t> MemoryStore::RetrySweep(const std::string& sweep_id,
                                                int64_t now_ms) {
  absl::MutexLock l(&mu_);
  auto sit = sweeps_.find(sweep_id);
  if (sit == sweeps_.end()) return absl::NotFoundError("no sweep " + sweep_id);
  sit->second.cancelled = false;
  int64_t n = 0;
  for (auto& [id, j] : jobs_) {
    if (j.sweep_id != sweep_id) continue;
    if (j.state != JobState::kFailed && j.state != JobState::kDead &&
        j.state != JobState::kCancelled) {
      continue;
    }
    j.state = JobState::kPending;
    j.attempt = 0;
    j.not_before_ms = 0;
    j.worker_id.clear();
    j.updated_ms = now_ms;
    ++n;
  }
  return n;
}

absl::StatusOr<std::optional<ResultRecord>> MemoryStore::GetResult(
    int64_t job_id) {
  absl::MutexLock l(&mu_);
  auto it = results_.find(job_id);
  if (it == results_.end()) return std::optional<ResultRecord>();
  return std::optional<ResultRecord>(it->second);
}

absl::StatusOr<std::vector<ResultRecord>> MemoryStore::ListResults(
    const std::string& sweep_id) {
  absl::MutexLock l(&mu_);
  std::vector<ResultRecord> out;
  for (const auto& [id, r] : results_) {
    if (r.sweep_id == sweep_id) out.push_back(r);
  }
  return out;
}

absl::Status MemoryStore::UpsertWorker(const WorkerRecord& w) {
  absl::MutexLock l(&mu_);
  workers_[w.id] = w;
  return absl::OkStatus();
}

absl::StatusOr<WorkerRecord> MemoryStore::GetWorker(const std::string& id) {
  absl::MutexLock l(&mu_);
  auto it = workers_.find(id);
  if (it == workers_.end()) return absl::NotFoundError("no worker " + id);
  return it->second;
}

absl::StatusOr<std::vector<WorkerRecord>> MemoryStore::ListWorkers() {
  absl::MutexLock l(&mu_);
  std::vector<WorkerRecord> out;
  for (const auto& [id, w] : workers_) out.push_back(w);
  return out;
}

absl::Status MemoryStore::RecordArtifact(const std::string& quant_key,
                                         const std::string& worker_id,
                                         const std::string& location,
                                         int64_t now_ms) {
  absl::MutexLock l(&mu_);
  artifacts_[quant_key].insert(worker_id);
  return absl::OkStatus();
}

absl::StatusOr<std::vector<std::string>> MemoryStore::ArtifactHolders(
    const std::string& quant_key) {
  absl::MutexLock l(&mu_);
  auto it = artifacts_.find(quant_key);
  if (it == artifacts_.end()) return std::vector<std::string>();
  return std::vector<std::string>(it->second.begin(), it->second.end());
}

}  // namespace qgrid::db
