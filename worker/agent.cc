#include "worker/agent.h"

#include <chrono>
#include <deque>
#include <random>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "common/hash.h"
#include "glog/logging.h"
#include "proto/qgrid.grpc.pb.h"

namespace qgrid::worker {
namespace {

namespace pb = ::qgrid::v1;

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

enum class CancelReason { kNone, kCoordinator, kDrain };

// A report the coordinator has not acknowledged yet.
struct PendingReport {
  enum Kind { kResult, kFailure, kRelease } kind;
  int64_t job_id = 0;
  int attempt = 0;
  pb::Result result;
  std::string error;
  bool permanent = false;
};

}  // namespace

class WorkerAgent::Impl {
 public:
  Impl(AgentOptions o, JobExecutor* ex)
      : opts(std::move(o)),
        executor(ex),
        channel(rpc::MakeChannel(opts.rpc)),
        stub(pb::WorkerService::NewStub(channel)) {}

  AgentOptions opts;
  JobExecutor* executor;
  std::shared_ptr<grpc::Channel> channel;
  std::unique_ptr<pb::WorkerService::Stub> stub;

  absl::Mutex mu;
  std::string worker_id ABSL_GUARDED_BY(mu);
  int64_t heartbeat_ms ABSL_GUARDED_BY(mu) = 1000;
  std::deque<pb::Job> queue ABSL_GUARDED_BY(mu);
  std::deque<PendingReport> reports ABSL_GUARDED_BY(mu);
  // The running job.
  bool running ABSL_GUARDED_BY(mu) = false;
  int64_t cur_id ABSL_GUARDED_BY(mu) = 0;
  int cur_attempt ABSL_GUARDED_BY(mu) = 0;
  std::string cur_phase ABSL_GUARDED_BY(mu);
  double cur_percent ABSL_GUARDED_BY(mu) = 0;
  CancelReason cancel ABSL_GUARDED_BY(mu) = CancelReason::kNone;
  bool draining ABSL_GUARDED_BY(mu) = false;
  bool stopping ABSL_GUARDED_BY(mu) = false;
  bool hb_stop ABSL_GUARDED_BY(mu) = false;
  int64_t drain_started ABSL_GUARDED_BY(mu) = 0;
  AgentStats stats ABSL_GUARDED_BY(mu);
  int failures_in_a_row = 0;  // main thread only

  class Control : public JobControl {
   public:
    explicit Control(Impl* impl) : impl_(impl) {}
    void SetProgress(const std::string& phase, double percent) override {
      absl::MutexLock l(&impl_->mu);
      impl_->cur_phase = phase;
      impl_->cur_percent = percent;
    }
    bool Cancelled() const override {
      absl::MutexLock l(&impl_->mu);
      return impl_->cancel != CancelReason::kNone;
    }

   private:
    Impl* impl_;
  };

  // Sleeps up to `ms`, waking early on drain/stop.
  void Sleep(int64_t ms) {
    absl::MutexLock l(&mu);
    auto woken = [this]() ABSL_SHARED_LOCKS_REQUIRED(mu) {
      return draining || stopping;
    };
    mu.AwaitWithTimeout(absl::Condition(&woken), absl::Milliseconds(ms));
  }

  int64_t Backoff() {
    int k = std::min(failures_in_a_row++, 16);
    int64_t b = std::min<int64_t>(opts.backoff_max_ms,
                                  opts.backoff_initial_ms << std::min(k, 10));
    static thread_local std::mt19937 rng{std::random_device{}()};
    // Jitter so that a restarted coordinator is not hit by every worker at
    // the same instant.
    return b / 2 + std::uniform_int_distribution<int64_t>(0, b / 2)(rng);
  }

  std::string Id() {
    absl::MutexLock l(&mu);
    return worker_id;
  }
  bool Draining() {
    absl::MutexLock l(&mu);
    return draining;
  }
  bool Stopping() {
    absl::MutexLock l(&mu);
    return stopping;
  }

  absl::Status Register() {
    while (!Stopping()) {
      pb::RegisterWorkerRequest req;
      req.set_name(opts.name);
      req.set_device(opts.device);
      req.set_memory_bytes(opts.memory_bytes);
      req.set_device_name(opts.device_name);
      req.set_version(QgridVersion());
      for (const auto& k : executor->HeldQuantKeys())
        req.add_held_quant_keys(k);
      pb::RegisterWorkerResponse resp;
      grpc::ClientContext ctx;
      rpc::PrepareContext(&ctx, opts.rpc);
      grpc::Status s = stub->RegisterWorker(&ctx, req, &resp);
      if (s.ok()) {
        failures_in_a_row = 0;
        absl::MutexLock l(&mu);
        worker_id = resp.worker_id();
        heartbeat_ms = std::max<int64_t>(20, resp.heartbeat_ms());
        LOG(INFO) << "registered as " << worker_id << " with "
                  << opts.rpc.address;
        return absl::OkStatus();
      }
      if (!rpc::IsTransient(s)) {
        return absl::Status(
            rpc::FromGrpc(s).code(),
            "coordinator refused registration: " + s.error_message());
      }
      int64_t b = Backoff();
      LOG(WARNING) << "coordinator " << opts.rpc.address << " unreachable ("
                   << s.error_message() << "); retry in " << b << " ms";
      Sleep(b);
    }
    return absl::CancelledError("stopped before registering");
  }

  // Sends unacknowledged reports, oldest first. False on a transient error
  // (keep them, back off, try again).
  bool Flush() {
    while (true) {
      PendingReport r;
      std::string id;
      {
        absl::MutexLock l(&mu);
        if (reports.empty()) return true;
        r = reports.front();
        id = worker_id;
      }
      grpc::ClientContext ctx;
      rpc::PrepareContext(&ctx, opts.rpc);
      grpc::Status s;
      std::string what;
      if (r.kind == PendingReport::kResult) {
        pb::ReportResultRequest req;
        req.set_worker_id(id);
        req.set_job_id(r.job_id);
        req.set_attempt(r.attempt);
        *req.mutable_result() = r.result;
        pb::ReportResultResponse resp;
        s = stub->ReportResult(&ctx, req, &resp);
        what = resp.outcome();
      } else {
        pb::ReportFailureRequest req;
        req.set_worker_id(id);
        req.set_job_id(r.job_id);
        req.set_attempt(r.attempt);
        req.set_error(r.error);
        req.set_permanent(r.permanent);
        req.set_released(r.kind == PendingReport::kRelease);
        pb::ReportFailureResponse resp;
        s = stub->ReportFailure(&ctx, req, &resp);
        what = resp.job_state();
      }
      if (!s.ok() && rpc::IsTransient(s)) {
        LOG(WARNING) << "report of job " << r.job_id << " not delivered ("
                     << s.error_message() << "); keeping it";
        return false;
      }
      if (!s.ok()) {
        // Refused for good (not our job any more, unknown job): the
        // coordinator's state wins; nothing to retry.
        LOG(WARNING) << "report of job " << r.job_id
                     << " refused: " << s.error_message();
      } else {
        VLOG(1) << "job " << r.job_id << " reported: " << what;
      }
      failures_in_a_row = 0;
      absl::MutexLock l(&mu);
      reports.pop_front();
    }
  }

  void ReleaseQueue() {
    absl::MutexLock l(&mu);
    while (!queue.empty()) {
      PendingReport r;
      r.kind = PendingReport::kRelease;
      r.job_id = queue.front().id();
      r.attempt = queue.front().attempt();
      reports.push_back(r);
      ++stats.jobs_released;
      queue.pop_front();
    }
  }

  void RunJob(const pb::Job& job) {
    LOG(INFO) << "job " << job.id() << " attempt " << job.attempt()
              << ": start (" << job.kind() << ", quant key "
              << job.quant_key().substr(0, 12) << ")";
    {
      absl::MutexLock l(&mu);
      running = true;
      cur_id = job.id();
      cur_attempt = job.attempt();
      cur_phase = "start";
      cur_percent = 0;
      cancel = CancelReason::kNone;
    }
    Control ctl(this);
    absl::StatusOr<JobOutcome> out = absl::InternalError("not run");
    try {
      out = executor->Run(job, &ctl);
    } catch (const std::exception& e) {
      out = absl::InternalError(std::string("uncaught exception: ") + e.what());
    }
    absl::MutexLock l(&mu);
    running = false;
    CancelReason why = cancel;
    PendingReport r;
    r.job_id = job.id();
    r.attempt = job.attempt();
    if (out.ok()) {
      r.kind = PendingReport::kResult;
      for (const auto& [k, v] : out->metrics) {
        (*r.result.mutable_metrics())[k] = v;
      }
      r.result.set_quant_report_json(out->quant_report_json);
      r.result.set_efficiency_json(out->efficiency_json);
      r.result.set_eval_json(out->eval_json);
      // Even a job cancelled at the last moment reports: the coordinator
      // decides (first valid result wins; stale ones change nothing).
      reports.push_back(r);
      ++stats.jobs_done;
      LOG(INFO) << "job " << job.id() << " attempt " << job.attempt()
                << ": done";
      return;
    }
    if (why == CancelReason::kCoordinator) {
      LOG(INFO) << "job " << job.id() << " cancelled by the coordinator";
      ++stats.jobs_cancelled;
      return;
    }
    if (why == CancelReason::kDrain) {
      LOG(INFO) << "job " << job.id() << " given back (draining)";
      r.kind = PendingReport::kRelease;
      reports.push_back(r);
      ++stats.jobs_released;
      return;
    }
    r.kind = PendingReport::kFailure;
    r.error = std::string(out.status().message());
    r.permanent = IsPermanent(out.status());
    LOG(WARNING) << "job " << job.id() << " attempt " << job.attempt()
                 << " failed: " << out.status();
    reports.push_back(r);
    ++stats.jobs_failed;
  }

  void HeartbeatLoop() {
    while (true) {
      int64_t every;
      {
        absl::MutexLock l(&mu);
        every = heartbeat_ms;
        auto stop = [this]() ABSL_SHARED_LOCKS_REQUIRED(mu) { return hb_stop; };
        mu.AwaitWithTimeout(absl::Condition(&stop), absl::Milliseconds(every));
        if (hb_stop) return;
        // A drain that takes too long gives the running job back.
        if (draining && running && cancel == CancelReason::kNone &&
            NowMs() - drain_started > opts.drain_grace_ms) {
          cancel = CancelReason::kDrain;
        }
      }
      pb::HeartbeatRequest req;
      {
        absl::MutexLock l(&mu);
        req.set_worker_id(worker_id);
        if (running) {
          auto* p = req.add_jobs();
          p->set_job_id(cur_id);
          p->set_attempt(cur_attempt);
          p->set_phase(cur_phase);
          p->set_percent(cur_percent);
        }
        // Queued jobs are leased too: keep their leases alive.
        for (const auto& j : queue) {
          auto* p = req.add_jobs();
          p->set_job_id(j.id());
          p->set_attempt(j.attempt());
          p->set_phase("queued");
        }
      }
      for (const auto& k : executor->HeldQuantKeys())
        req.add_held_quant_keys(k);
      grpc::ClientContext ctx;
      rpc::PrepareContext(&ctx, opts.rpc, std::max<int64_t>(1000, 2 * every));
      pb::HeartbeatResponse resp;
      grpc::Status s = stub->Heartbeat(&ctx, req, &resp);
      if (!s.ok()) {
        VLOG(1) << "heartbeat failed: " << s.error_message();
        continue;
      }
      absl::MutexLock l(&mu);
      for (int64_t id : resp.cancelled_job_ids()) {
        if (running && id == cur_id && cancel == CancelReason::kNone) {
          cancel = CancelReason::kCoordinator;
        }
        for (auto it = queue.begin(); it != queue.end();) {
          it = it->id() == id ? queue.erase(it) : it + 1;
        }
      }
    }
  }

  absl::Status Run() {
    absl::Status reg = Register();
    if (!reg.ok()) return absl::IsCancelled(reg) ? absl::OkStatus() : reg;
    std::thread hb([this] { HeartbeatLoop(); });
    absl::Status result = Loop();
    {
      absl::MutexLock l(&mu);
      hb_stop = true;
    }
    hb.join();
    return result;
  }

  absl::Status Loop() {
    int64_t idle_since = NowMs();
    int drain_flush_tries = 0;
    while (true) {
      if (!Flush()) {
        if (Draining() && ++drain_flush_tries > 20) {
          return absl::UnavailableError(
              "draining: could not deliver reports to the coordinator");
        }
        Sleep(Backoff());
        continue;
      }
      if (Draining() || Stopping()) {
        ReleaseQueue();
        if (Flush()) return absl::OkStatus();
        if (++drain_flush_tries > 20) {
          return absl::UnavailableError(
              "draining: could not deliver reports to the coordinator");
        }
        Sleep(Backoff());
        continue;
      }
      pb::Job job;
      bool have = false;
      {
        absl::MutexLock l(&mu);
        if (!queue.empty()) {
          job = queue.front();
          queue.pop_front();
          have = true;
        }
      }
      if (have) {
        RunJob(job);
        idle_since = NowMs();
        continue;
      }
      pb::LeaseJobsRequest req;
      req.set_worker_id(Id());
      req.set_max_jobs(opts.prefetch);
      for (const auto& k : executor->HeldQuantKeys())
        req.add_held_quant_keys(k);
      pb::LeaseJobsResponse resp;
      grpc::ClientContext ctx;
      rpc::PrepareContext(&ctx, opts.rpc);
      grpc::Status s = stub->LeaseJobs(&ctx, req, &resp);
      if (!s.ok()) {
        if (s.error_code() == grpc::StatusCode::NOT_FOUND) {
          // The coordinator lost our registration (a new database): start
          // over under a new id.
          LOG(WARNING) << "coordinator does not know this worker; registering";
          absl::Status r = Register();
          if (!r.ok()) return absl::IsCancelled(r) ? absl::OkStatus() : r;
          continue;
        }
        if (!rpc::IsTransient(s)) {
          return absl::Status(rpc::FromGrpc(s).code(),
                              "coordinator refused: " + s.error_message());
        }
        int64_t b = Backoff();
        LOG(WARNING) << "lease failed (" << s.error_message() << "); retry in "
                     << b << " ms";
        Sleep(b);
        continue;
      }
      failures_in_a_row = 0;
      if (resp.quarantined()) {
        return absl::FailedPreconditionError(
            "this worker was quarantined by the coordinator after repeated "
            "failures; check the node, then restart the worker");
      }
      if (resp.jobs_size() == 0) {
        if (opts.exit_when_idle_ms > 0 &&
            NowMs() - idle_since >= opts.exit_when_idle_ms) {
          LOG(INFO) << "idle for " << opts.exit_when_idle_ms << " ms; exiting";
          return absl::OkStatus();
        }
        int64_t wait = resp.retry_after_ms() > 0 ? resp.retry_after_ms() : 500;
        Sleep(std::min(wait, opts.max_idle_poll_ms));
        continue;
      }
      absl::MutexLock l(&mu);
      for (const auto& j : resp.jobs()) queue.push_back(j);
    }
  }
};

WorkerAgent::WorkerAgent(AgentOptions options, JobExecutor* executor)
    : impl_(std::make_unique<Impl>(std::move(options), executor)) {}
WorkerAgent::~WorkerAgent() = default;

absl::Status WorkerAgent::Run() { return impl_->Run(); }

void WorkerAgent::Drain() {
  absl::MutexLock l(&impl_->mu);
  if (!impl_->draining) impl_->drain_started = NowMs();
  impl_->draining = true;
}

void WorkerAgent::Stop() {
  absl::MutexLock l(&impl_->mu);
  impl_->draining = true;
  impl_->stopping = true;
  if (impl_->running && impl_->cancel == CancelReason::kNone) {
    impl_->cancel = CancelReason::kDrain;
  }
}

AgentStats WorkerAgent::stats() const {
  absl::MutexLock l(&impl_->mu);
  return impl_->stats;
}

std::string WorkerAgent::worker_id() const {
  absl::MutexLock l(&impl_->mu);
  return impl_->worker_id;
}

}  // namespace qgrid::worker
