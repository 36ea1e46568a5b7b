#include "coordinator/scheduler.h"

#include <algorithm>
#include <random>
#include <set>

#include "absl/strings/str_cat.h"
#include "common/hash.h"
#include "common/status_macros.h"
#include "glog/logging.h"

namespace qgrid::coordinator {

Scheduler::Scheduler(db::Store* store, Clock* clock, SchedulerOptions opts)
    : store_(store), clock_(clock), opts_(std::move(opts)) {}

absl::StatusOr<std::unique_ptr<Scheduler>> Scheduler::Create(
    db::Store* store, Clock* clock, const SchedulerOptions& options) {
  std::unique_ptr<Scheduler> s(new Scheduler(store, clock, options));
  QG_RETURN_IF_ERROR(s->Load());
  return s;
}

absl::Status Scheduler::Load() {
  absl::MutexLock l(&mu_);
  QG_ASSIGN_OR_RETURN(auto workers, store_->ListWorkers());
  for (auto& w : workers) workers_[w.id] = w;
  return RebuildLeasesLocked();
}

absl::Status Scheduler::RebuildLeasesLocked() {
  leases_.clear();
  owners_.clear();
  db::JobFilter f;
  f.states = {db::JobState::kLeased};
  QG_ASSIGN_OR_RETURN(auto leased, store_->ListJobs(f));
  int64_t now = clock_->NowMs();
  for (const auto& j : leased) AddLeaseLocked(j, now);
  return absl::OkStatus();
}

bool Scheduler::AliveLocked(const std::string& worker_id, int64_t now) {
  auto it = workers_.find(worker_id);
  return it != workers_.end() && !it->second.quarantined &&
         now - it->second.last_heartbeat_ms <= opts_.worker_quiet_ms;
}

bool Scheduler::ReservedForOtherLocked(const std::string& quant_key,
                                       const std::string& worker_id,
                                       int64_t now) {
  auto it = owners_.find(quant_key);
  if (it == owners_.end() || it->second.worker_id == worker_id) return false;
  const Owner& o = it->second;
  if (!AliveLocked(o.worker_id, now)) return false;  // went quiet: take over
  return o.leased > 0 || now - o.last_active_ms <= opts_.affinity_grace_ms;
}

void Scheduler::AddLeaseLocked(const db::JobRecord& j, int64_t now) {
  leases_[j.id] = Lease_{j.worker_id, j.quant_key};
  Owner& o = owners_[j.quant_key];
  if (o.worker_id != j.worker_id) {
    // A new owner (the old one went quiet or let go of the key).
    o.worker_id = j.worker_id;
    o.leased = 0;
  }
  ++o.leased;
  o.last_active_ms = now;
}

void Scheduler::DropLeaseLocked(int64_t job_id, int64_t now) {
  auto it = leases_.find(job_id);
  if (it == leases_.end()) return;
  auto oit = owners_.find(it->second.quant_key);
  if (oit != owners_.end() && oit->second.worker_id == it->second.worker_id) {
    oit->second.leased = std::max(0, oit->second.leased - 1);
    oit->second.last_active_ms = now;
  }
  leases_.erase(it);
}

absl::StatusOr<db::WorkerRecord*> Scheduler::WorkerLocked(
    const std::string& id) {
  auto it = workers_.find(id);
  if (it == workers_.end()) {
    return absl::NotFoundError("unknown worker '" + id + "' (register again)");
  }
  return &it->second;
}

absl::Status Scheduler::TouchWorkerLocked(db::WorkerRecord* w,
                                          const std::vector<std::string>* held,
                                          int64_t now) {
  w->last_heartbeat_ms = now;
  if (held) {
    std::set<std::string> before(w->held_quant_keys.begin(),
                                 w->held_quant_keys.end());
    for (const auto& k : *held) {
      if (!before.count(k)) {
        QG_RETURN_IF_ERROR(store_->RecordArtifact(k, w->id, "memory", now));
      }
    }
    w->held_quant_keys = *held;
  }
  // Write the row when something that matters changed, and the heartbeat
  // time at most once a second: a write per lease and per report would cost
  // a transaction each on the claim path. (The persisted heartbeat only
  // serves `qgrid workers` after a restart, so a second of lag is harmless.)
  auto it = persisted_.find(w->id);
  if (it != persisted_.end() &&
      it->second.held_quant_keys == w->held_quant_keys &&
      it->second.consecutive_failures == w->consecutive_failures &&
      it->second.quarantined == w->quarantined &&
      now - it->second.last_heartbeat_ms < 1000) {
    return absl::OkStatus();
  }
  QG_RETURN_IF_ERROR(store_->UpsertWorker(*w));
  persisted_[w->id] = *w;
  return absl::OkStatus();
}

absl::StatusOr<db::WorkerRecord> Scheduler::RegisterWorker(
    const std::string& name, const std::string& device, int64_t memory_bytes,
    const std::vector<std::string>& held_keys) {
  absl::MutexLock l(&mu_);
  int64_t now = clock_->NowMs();
  // Unique across coordinator restarts: a random suffix, not a counter.
  std::random_device rd;
  std::string id = absl::StrCat(
      name.empty() ? "worker" : name.substr(0, 64), "-",
      Sha256Hex(absl::StrCat(now, ":", rd(), ":", rd(), ":", ++worker_seq_))
          .substr(0, 10));
  db::WorkerRecord w;
  w.id = id;
  w.name = name;
  w.device = device;
  w.memory_bytes = memory_bytes;
  w.registered_ms = now;
  workers_[id] = w;
  QG_RETURN_IF_ERROR(TouchWorkerLocked(&workers_[id], &held_keys, now));
  LOG(INFO) << "worker " << id << " registered (" << device << ")";
  return workers_[id];
}

absl::StatusOr<int64_t> Scheduler::ExpireLocked(int64_t now) {
  QG_ASSIGN_OR_RETURN(auto changed, store_->ExpireLeases(now, opts_.retry));
  for (const auto& j : changed) {
    LOG(WARNING) << "job " << j.id << ": " << j.last_error << " -> "
                 << db::JobStateName(j.state);
    DropLeaseLocked(j.id, now);
    ++counters_.leases_expired;
    // A lease that lapsed says its worker is not working on the key: free
    // the key for others at once.
    auto oit = owners_.find(j.quant_key);
    if (oit != owners_.end() && oit->second.leased == 0) {
      oit->second.last_active_ms = 0;
    }
  }
  // Forget keys nobody works on any more (they would reserve nothing): the
  // lease path walks `owners_`, which must not grow with every key ever
  // started.
  for (auto it = owners_.begin(); it != owners_.end();) {
    if (it->second.leased == 0 &&
        now - it->second.last_active_ms > opts_.affinity_grace_ms) {
      it = owners_.erase(it);
    } else {
      ++it;
    }
  }
  next_expiry_check_ms_ = now + std::max<int64_t>(50, opts_.lease_ms / 20);
  return static_cast<int64_t>(changed.size());
}

absl::StatusOr<int64_t> Scheduler::ExpireLeases() {
  absl::MutexLock l(&mu_);
  return ExpireLocked(clock_->NowMs());
}

absl::StatusOr<LeaseResult> Scheduler::Lease(
    const std::string& worker_id, const std::vector<std::string>& held_keys,
    int max_jobs) {
  absl::MutexLock l(&mu_);
  int64_t now = clock_->NowMs();
  QG_ASSIGN_OR_RETURN(db::WorkerRecord * w, WorkerLocked(worker_id));
  QG_RETURN_IF_ERROR(TouchWorkerLocked(w, &held_keys, now));
  LeaseResult out;
  if (w->quarantined) {
    out.quarantined = true;
    return out;
  }
  if (now >= next_expiry_check_ms_)
    QG_RETURN_IF_ERROR(ExpireLocked(now).status());
  max_jobs = std::clamp(max_jobs, 1, opts_.max_lease_batch);

  std::vector<int64_t> pick;
  std::set<int64_t> picked;
  auto take_key = [&](const std::string& key, int limit) -> absl::Status {
    db::JobFilter f;
    f.ready_at_ms = now;
    f.quant_key = key;
    f.limit = limit;
    QG_ASSIGN_OR_RETURN(auto jobs, store_->ListJobs(f));
    for (const auto& j : jobs) {
      if (picked.insert(j.id).second) pick.push_back(j.id);
    }
    return absl::OkStatus();
  };
  // 1. Keys this worker holds, then keys it is working on.
  std::vector<std::string> mine = held_keys;
  for (const auto& [key, o] : owners_) {
    if (o.worker_id == worker_id && o.leased > 0) mine.push_back(key);
  }
  for (const auto& key : mine) {
    if (static_cast<int>(pick.size()) >= max_jobs) break;
    if (ReservedForOtherLocked(key, worker_id, now)) continue;
    QG_RETURN_IF_ERROR(take_key(key, max_jobs - pick.size()));
  }
  // 2. Otherwise start the best ready key nobody else is working on.
  if (pick.empty()) {
    db::JobFilter f;
    f.ready_at_ms = now;
    f.limit = 32;  // usually the first ready job's key is free
    std::set<std::string> skipped;
    for (f.offset = 0;; f.offset += f.limit) {
      QG_ASSIGN_OR_RETURN(auto page, store_->ListJobs(f));
      std::string chosen;
      for (const auto& j : page) {
        if (skipped.count(j.quant_key)) continue;
        if (ReservedForOtherLocked(j.quant_key, worker_id, now)) {
          skipped.insert(j.quant_key);
          continue;
        }
        chosen = j.quant_key;
        break;
      }
      if (!chosen.empty()) {
        QG_RETURN_IF_ERROR(
            take_key(chosen, std::min(max_jobs, opts_.affinity_batch)));
        break;
      }
      if (static_cast<int64_t>(page.size()) < f.limit) break;
    }
  }
  if (!pick.empty()) {
    QG_ASSIGN_OR_RETURN(out.jobs, store_->ClaimJobs(pick, worker_id, now,
                                                    now + opts_.lease_ms));
    for (const auto& j : out.jobs) AddLeaseLocked(j, now);
    CountDispatchLocked(static_cast<int64_t>(out.jobs.size()), now);
  }
  ++counters_.lease_calls;
  if (out.jobs.empty()) out.retry_after_ms = opts_.idle_retry_ms;
  return out;
}

absl::StatusOr<HeartbeatResult> Scheduler::Heartbeat(
    const std::string& worker_id, const std::vector<JobProgressReport>& jobs,
    const std::vector<std::string>& held_keys) {
  absl::MutexLock l(&mu_);
  int64_t now = clock_->NowMs();
  QG_ASSIGN_OR_RETURN(db::WorkerRecord * w, WorkerLocked(worker_id));
  QG_RETURN_IF_ERROR(TouchWorkerLocked(w, &held_keys, now));
  HeartbeatResult out;
  out.quarantined = w->quarantined;
  if (now >= next_expiry_check_ms_)
    QG_RETURN_IF_ERROR(ExpireLocked(now).status());
  std::vector<std::pair<int64_t, int>> extend;
  for (const auto& p : jobs) {
    auto job = store_->GetJob(p.job_id);
    if (!job.ok() || job->state != db::JobState::kLeased ||
        job->worker_id != worker_id || job->attempt != p.attempt) {
      // Cancelled, expired and given to another worker, or unknown: the
      // worker must stop it (its result would be refused or stale).
      out.cancelled.push_back(p.job_id);
      continue;
    }
    extend.emplace_back(p.job_id, p.attempt);
    QG_RETURN_IF_ERROR(store_->UpdateProgress(p.job_id, p.attempt, worker_id,
                                              p.phase, p.percent, now));
  }
  if (!extend.empty()) {
    int64_t until = now + opts_.lease_ms;
    QG_ASSIGN_OR_RETURN(auto ids,
                        store_->ExtendLeases(worker_id, extend, until, now));
    for (int64_t id : ids) out.extended.emplace_back(id, until);
  }
  return out;
}

absl::StatusOr<db::ReportOutcome> Scheduler::ReportResult(
    const std::string& worker_id, int64_t job_id, int attempt,
    const db::ResultRecord& r) {
  absl::MutexLock l(&mu_);
  int64_t now = clock_->NowMs();
  QG_ASSIGN_OR_RETURN(db::WorkerRecord * w, WorkerLocked(worker_id));
  QG_ASSIGN_OR_RETURN(db::ReportOutcome o,
                      store_->CompleteJob(job_id, worker_id, attempt, r, now));
  if (o == db::ReportOutcome::kAccepted) {
    auto it = leases_.find(job_id);
    if (it != leases_.end() && it->second.worker_id == worker_id) {
      DropLeaseLocked(job_id, now);
    }
    w->consecutive_failures = 0;
    ++counters_.results_accepted;
  } else if (o != db::ReportOutcome::kNotHolder) {
    ++counters_.results_ignored;
  }
  QG_RETURN_IF_ERROR(TouchWorkerLocked(w, nullptr, now));
  return o;
}

absl::StatusOr<db::JobState> Scheduler::ReportFailure(
    const std::string& worker_id, int64_t job_id, int attempt,
    const std::string& error, bool permanent) {
  absl::MutexLock l(&mu_);
  int64_t now = clock_->NowMs();
  QG_ASSIGN_OR_RETURN(db::WorkerRecord * w, WorkerLocked(worker_id));
  QG_ASSIGN_OR_RETURN(db::JobState st,
                      store_->FailJob(job_id, worker_id, attempt, error,
                                      permanent, now, opts_.retry));
  DropLeaseLocked(job_id, now);
  ++counters_.failures;
  // A permanent failure is the job's fault (bad config), not the worker's.
  if (!permanent) {
    if (++w->consecutive_failures >= opts_.quarantine_after &&
        !w->quarantined) {
      w->quarantined = true;
      ++counters_.quarantines;
      LOG(ERROR) << "worker " << worker_id << " quarantined after "
                 << w->consecutive_failures
                 << " consecutive failures; last: " << error;
    }
  }
  QG_RETURN_IF_ERROR(TouchWorkerLocked(w, nullptr, now));
  return st;
}

absl::Status Scheduler::Release(const std::string& worker_id, int64_t job_id,
                                int attempt) {
  absl::MutexLock l(&mu_);
  int64_t now = clock_->NowMs();
  QG_RETURN_IF_ERROR(WorkerLocked(worker_id).status());
  QG_RETURN_IF_ERROR(store_->ReleaseJob(job_id, worker_id, attempt, now));
  DropLeaseLocked(job_id, now);
  ++counters_.jobs_released;
  // Let another worker start the key right away.
  auto it = owners_.begin();
  for (; it != owners_.end(); ++it) {
    if (it->second.worker_id == worker_id && it->second.leased == 0) {
      it->second.last_active_ms = 0;
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<int64_t> Scheduler::CancelSweep(const std::string& sweep_id) {
  absl::MutexLock l(&mu_);
  QG_ASSIGN_OR_RETURN(int64_t n,
                      store_->CancelSweep(sweep_id, clock_->NowMs()));
  QG_RETURN_IF_ERROR(RebuildLeasesLocked());
  return n;
}

absl::StatusOr<int64_t> Scheduler::RetrySweep(const std::string& sweep_id) {
  absl::MutexLock l(&mu_);
  return store_->RetrySweep(sweep_id, clock_->NowMs());
}

std::vector<Scheduler::WorkerView> Scheduler::Workers() {
  absl::MutexLock l(&mu_);
  int64_t now = clock_->NowMs();
  std::vector<WorkerView> out;
  for (const auto& [id, w] : workers_) {
    WorkerView v;
    v.record = w;
    v.alive = AliveLocked(id, now);
    for (const auto& [job, lease] : leases_) {
      if (lease.worker_id == id) v.leased_job_ids.push_back(job);
    }
    out.push_back(std::move(v));
  }
  return out;
}

void Scheduler::CountDispatchLocked(int64_t n, int64_t now) {
  counters_.jobs_dispatched += n;
  int64_t sec = now / 1000;
  int slot = static_cast<int>(sec % 60);
  if (minute_second_[slot] != sec) {
    minute_second_[slot] = sec;
    minute_count_[slot] = 0;
  }
  minute_count_[slot] += n;
}

SchedulerCounters Scheduler::Counters() {
  absl::MutexLock l(&mu_);
  SchedulerCounters c = counters_;
  int64_t sec = clock_->NowMs() / 1000;
  c.dispatched_last_minute = 0;
  for (int i = 0; i < 60; ++i) {
    if (minute_second_[i] > sec - 60 && minute_second_[i] <= sec) {
      c.dispatched_last_minute += minute_count_[i];
    }
  }
  return c;
}

}  // namespace qgrid::coordinator
