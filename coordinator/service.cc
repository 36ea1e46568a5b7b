#include "coordinator/service.h"

#include <grpcpp/grpcpp.h>

#include <atomic>
#include <condition_variable>
#include <random>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/hash.h"
#include "common/status_macros.h"
#include "coordinator/metrics.h"
#include "coordinator/results_table.h"
#include "coordinator/sweep_spec.h"
#include "db/sqlite_store.h"
#include "glog/logging.h"
#include "nlohmann/json.hpp"
#include "proto/qgrid.grpc.pb.h"
#include "rpc/client.h"

namespace qgrid::coordinator {

void FillJob(const db::JobRecord& j, ::qgrid::v1::Job* out) {
  out->set_id(j.id);
  out->set_sweep_id(j.sweep_id);
  out->set_content_key(j.content_key);
  out->set_quant_key(j.quant_key);
  out->set_attempt(j.attempt);
  out->set_config_json(j.config_json);
  out->set_lease_expiry_unix_ms(j.lease_expiry_ms);
  nlohmann::json c = nlohmann::json::parse(j.config_json, nullptr, false);
  if (!c.is_object() || !c.contains("job")) return;
  const nlohmann::json& job = c["job"];
  out->set_kind(job.value("kind", "eval"));
  if (job.contains("model")) {
    out->mutable_model()->set_name(job["model"].value("name", ""));
    out->mutable_model()->set_path(job["model"].value("path", ""));
    out->mutable_model()->set_dtype(job["model"].value("dtype", ""));
  }
  out->set_method_json(job.value("method", nlohmann::json::object()).dump());
  out->set_calibration_json(
      job.contains("calibration") ? job["calibration"].dump() : "null");
  nlohmann::json test = job.value("test", nlohmann::json::object());
  if (job.contains("synthetic")) test["synthetic"] = job["synthetic"];
  out->set_test_json(test.dump());
  out->set_shots(job.value("shots", 0));
  out->set_seed(job.value("seed", int64_t{0}));
}

namespace {

using json = nlohmann::json;
namespace pb = ::qgrid::v1;

using rpc::ToGrpc;

constexpr size_t kMaxId = 256;

grpc::Status CheckString(const std::string& s, const char* what,
                         size_t max = kMaxId) {
  if (s.size() > max) {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                        absl::StrCat(what, " longer than ", max, " bytes"));
  }
  return grpc::Status::OK;
}

// Constant-time comparison: the token check must not leak a prefix match.
bool SameToken(const std::string& a, const std::string& b) {
  if (a.size() != b.size()) return false;
  unsigned char d = 0;
  for (size_t i = 0; i < a.size(); ++i) d |= a[i] ^ b[i];
  return d == 0;
}

grpc::Status Authorize(grpc::ServerContext* ctx, const std::string& token) {
  if (token.empty()) return grpc::Status::OK;
  const auto& md = ctx->client_metadata();
  auto it = md.find("authorization");
  if (it == md.end() ||
      !SameToken(std::string(it->second.data(), it->second.size()),
                 "Bearer " + token)) {
    return grpc::Status(grpc::StatusCode::UNAUTHENTICATED,
                        "missing or wrong bearer token (--auth-token-file)");
  }
  return grpc::Status::OK;
}

std::string NewSweepId(int64_t now_ms) {
  std::random_device rd;
  std::string h =
      Sha256Hex(absl::StrCat(now_ms, ":", rd(), ":", rd())).substr(0, 8);
  time_t secs = now_ms / 1000;
  struct tm tm;
  gmtime_r(&secs, &tm);
  char buf[32];
  strftime(buf, sizeof(buf), "%Y%m%d-%H%M%S", &tm);
  return absl::StrCat("sw-", buf, "-", h);
}

class WorkerServiceImpl final : public pb::WorkerService::Service {
 public:
  WorkerServiceImpl(Scheduler* sched, std::string token)
      : sched_(sched), token_(std::move(token)) {}

  grpc::Status RegisterWorker(grpc::ServerContext* ctx,
                              const pb::RegisterWorkerRequest* req,
                              pb::RegisterWorkerResponse* resp) override {
    if (auto s = Authorize(ctx, token_); !s.ok()) return s;
    if (auto s = CheckString(req->name(), "name", 128); !s.ok()) return s;
    if (auto s = CheckString(req->device(), "device", 64); !s.ok()) return s;
    auto w =
        sched_->RegisterWorker(req->name(), req->device(), req->memory_bytes(),
                               Keys(req->held_quant_keys()));
    if (!w.ok()) return ToGrpc(w.status());
    LOG(INFO) << "worker " << w->id << " (" << req->name()
              << ") registered: " << req->device()
              << (req->device_name().empty()
                      ? ""
                      : " " + req->device_name().substr(0, 128))
              << ", " << req->memory_bytes() / (1 << 20) << " MiB free";
    resp->set_worker_id(w->id);
    resp->set_lease_ms(sched_->options().lease_ms);
    resp->set_heartbeat_ms(sched_->options().heartbeat_ms);
    return grpc::Status::OK;
  }

  grpc::Status LeaseJobs(grpc::ServerContext* ctx,
                         const pb::LeaseJobsRequest* req,
                         pb::LeaseJobsResponse* resp) override {
    if (auto s = Authorize(ctx, token_); !s.ok()) return s;
    auto r = sched_->Lease(req->worker_id(), Keys(req->held_quant_keys()),
                           req->max_jobs());
    if (!r.ok()) return ToGrpc(r.status());
    for (const auto& j : r->jobs) FillJob(j, resp->add_jobs());
    resp->set_quarantined(r->quarantined);
    resp->set_retry_after_ms(r->retry_after_ms);
    return grpc::Status::OK;
  }

  grpc::Status Heartbeat(grpc::ServerContext* ctx,
                         const pb::HeartbeatRequest* req,
                         pb::HeartbeatResponse* resp) override {
    if (auto s = Authorize(ctx, token_); !s.ok()) return s;
    std::vector<JobProgressReport> progress;
    for (const auto& p : req->jobs()) {
      if (auto s = CheckString(p.phase(), "phase", 64); !s.ok()) return s;
      progress.push_back({p.job_id(), p.attempt(), p.phase(), p.percent()});
    }
    auto r = sched_->Heartbeat(req->worker_id(), progress,
                               Keys(req->held_quant_keys()));
    if (!r.ok()) return ToGrpc(r.status());
    for (int64_t id : r->cancelled) resp->add_cancelled_job_ids(id);
    for (const auto& [id, until] : r->extended) {
      auto* e = resp->add_extensions();
      e->set_job_id(id);
      e->set_lease_expiry_unix_ms(until);
    }
    resp->set_quarantined(r->quarantined);
    return grpc::Status::OK;
  }

  grpc::Status ReportResult(grpc::ServerContext* ctx,
                            const pb::ReportResultRequest* req,
                            pb::ReportResultResponse* resp) override {
    if (auto s = Authorize(ctx, token_); !s.ok()) return s;
    db::ResultRecord r;
    json metrics = json::object();
    for (const auto& [k, v] : req->result().metrics()) {
      if (auto s = CheckString(k, "metric name", 128); !s.ok()) return s;
      metrics[k] = v;
    }
    r.metrics_json = metrics.dump();
    r.quant_report_json = Or(req->result().quant_report_json());
    r.efficiency_json = Or(req->result().efficiency_json());
    r.eval_json = Or(req->result().eval_json());
    auto o = sched_->ReportResult(req->worker_id(), req->job_id(),
                                  req->attempt(), r);
    if (!o.ok()) return ToGrpc(o.status());
    if (*o == db::ReportOutcome::kNotHolder) {
      return grpc::Status(
          grpc::StatusCode::PERMISSION_DENIED,
          absl::StrCat("worker ", req->worker_id(), " does not hold job ",
                       req->job_id(), " attempt ", req->attempt()));
    }
    resp->set_accepted(*o == db::ReportOutcome::kAccepted);
    resp->set_outcome(db::ReportOutcomeName(*o));
    return grpc::Status::OK;
  }

  grpc::Status ReportFailure(grpc::ServerContext* ctx,
                             const pb::ReportFailureRequest* req,
                             pb::ReportFailureResponse* resp) override {
    if (auto s = Authorize(ctx, token_); !s.ok()) return s;
    std::string error = req->error().substr(0, 8192);
    if (req->released()) {
      auto s = sched_->Release(req->worker_id(), req->job_id(), req->attempt());
      if (!s.ok()) return ToGrpc(s);
      resp->set_job_state("pending");
      return grpc::Status::OK;
    }
    auto st = sched_->ReportFailure(req->worker_id(), req->job_id(),
                                    req->attempt(), error, req->permanent());
    if (!st.ok()) return ToGrpc(st.status());
    resp->set_job_state(db::JobStateName(*st));
    return grpc::Status::OK;
  }

 private:
  static std::vector<std::string> Keys(
      const google::protobuf::RepeatedPtrField<std::string>& keys) {
    std::vector<std::string> out;
    for (const auto& k : keys) {
      if (k.size() <= 128 && out.size() < 1024) out.push_back(k);
    }
    return out;
  }
  static std::string Or(const std::string& s) { return s.empty() ? "{}" : s; }

  Scheduler* sched_;
  std::string token_;
};

class ClientServiceImpl final : public pb::ClientService::Service {
 public:
  ClientServiceImpl(db::Store* store, Scheduler* sched,
                    const ServerOptions& opts)
      : store_(store), sched_(sched), opts_(opts) {}

  grpc::Status SubmitSweep(grpc::ServerContext* ctx,
                           const pb::SubmitSweepRequest* req,
                           pb::SubmitSweepResponse* resp) override {
    if (auto s = Authorize(ctx, opts_.auth_token); !s.ok()) return s;
    if (auto s = CheckString(req->spec_name(), "spec name", 1024); !s.ok()) {
      return s;
    }
    int64_t max_jobs = req->max_jobs() > 0 ? req->max_jobs() : kDefaultMaxJobs;
    if (max_jobs > opts_.max_jobs_limit) {
      return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                          absl::StrCat("--max-jobs ", max_jobs,
                                       " is above this coordinator's "
                                       "limit of ",
                                       opts_.max_jobs_limit));
    }
    auto spec = ParseSweepSpec(req->spec_yaml(), req->spec_name());
    if (!spec.ok()) return ToGrpc(spec.status());
    auto grid = ExpandGrid(*spec, max_jobs);
    if (!grid.ok()) return ToGrpc(grid.status());
    *resp->mutable_summary() = grid->summary.ToProto();
    if (req->dry_run()) return grpc::Status::OK;
    int64_t now = sched_->clock()->NowMs();
    db::SweepRecord sw;
    sw.id = NewSweepId(now);
    sw.name = spec->name;
    sw.spec_yaml = req->spec_yaml();
    sw.created_ms = now;
    std::vector<db::JobRecord> jobs;
    jobs.reserve(grid->jobs.size());
    for (const auto& g : grid->jobs) {
      db::JobRecord j;
      j.content_key = g.content_key;
      j.quant_key = g.quant_key;
      j.config_json = g.config.dump();
      j.priority = g.priority;
      j.max_attempts = g.max_attempts;
      jobs.push_back(std::move(j));
    }
    json summary = grid->summary.ToJson();
    summary["file"] = req->spec_name();
    sw.summary_json = summary.dump();
    auto out = store_->CreateSweep(sw, jobs, !req->no_cache(), now);
    if (!out.ok()) return ToGrpc(out.status());
    resp->set_sweep_id(sw.id);
    resp->mutable_summary()->set_cached(out->cached);
    LOG(INFO) << "sweep " << sw.id << " (" << spec->name
              << "): " << out->jobs_inserted << " jobs, " << out->cached
              << " cached";
    return grpc::Status::OK;
  }

  grpc::Status GetSweepStatus(grpc::ServerContext* ctx,
                              const pb::GetSweepStatusRequest* req,
                              pb::GetSweepStatusResponse* resp) override {
    if (auto s = Authorize(ctx, opts_.auth_token); !s.ok()) return s;
    auto sw = store_->GetSweep(req->sweep_id());
    if (!sw.ok()) return ToGrpc(sw.status());
    return ToGrpc(FillStatus(*sw, resp->mutable_status(), true));
  }

  grpc::Status ListSweeps(grpc::ServerContext* ctx,
                          const pb::ListSweepsRequest* req,
                          pb::ListSweepsResponse* resp) override {
    if (auto s = Authorize(ctx, opts_.auth_token); !s.ok()) return s;
    auto sweeps = store_->ListSweeps();
    if (!sweeps.ok()) return ToGrpc(sweeps.status());
    for (const auto& sw : *sweeps) {
      auto s = FillStatus(sw, resp->add_sweeps(), false);
      if (!s.ok()) return ToGrpc(s);
    }
    return grpc::Status::OK;
  }

  grpc::Status CancelSweep(grpc::ServerContext* ctx,
                           const pb::CancelSweepRequest* req,
                           pb::CancelSweepResponse* resp) override {
    if (auto s = Authorize(ctx, opts_.auth_token); !s.ok()) return s;
    auto n = sched_->CancelSweep(req->sweep_id());
    if (!n.ok()) return ToGrpc(n.status());
    resp->set_cancelled(*n);
    return grpc::Status::OK;
  }

  grpc::Status RetrySweep(grpc::ServerContext* ctx,
                          const pb::RetrySweepRequest* req,
                          pb::RetrySweepResponse* resp) override {
    if (auto s = Authorize(ctx, opts_.auth_token); !s.ok()) return s;
    auto n = sched_->RetrySweep(req->sweep_id());
    if (!n.ok()) return ToGrpc(n.status());
    resp->set_requeued(*n);
    return grpc::Status::OK;
  }

  grpc::Status ListWorkers(grpc::ServerContext* ctx,
                           const pb::ListWorkersRequest* req,
                           pb::ListWorkersResponse* resp) override {
    if (auto s = Authorize(ctx, opts_.auth_token); !s.ok()) return s;
    for (const auto& v : sched_->Workers()) {
      auto* w = resp->add_workers();
      w->set_worker_id(v.record.id);
      w->set_name(v.record.name);
      w->set_device(v.record.device);
      w->set_memory_bytes(v.record.memory_bytes);
      for (const auto& k : v.record.held_quant_keys) w->add_held_quant_keys(k);
      w->set_last_heartbeat_unix_ms(v.record.last_heartbeat_ms);
      w->set_consecutive_failures(v.record.consecutive_failures);
      w->set_quarantined(v.record.quarantined);
      w->set_alive(v.alive);
      for (int64_t id : v.leased_job_ids) w->add_leased_job_ids(id);
    }
    return grpc::Status::OK;
  }

  grpc::Status GetResults(grpc::ServerContext* ctx,
                          const pb::GetResultsRequest* req,
                          pb::GetResultsResponse* resp) override {
    if (auto s = Authorize(ctx, opts_.auth_token); !s.ok()) return s;
    auto sw = store_->GetSweep(req->sweep_id());
    if (!sw.ok()) return ToGrpc(sw.status());
    db::JobFilter f;
    f.sweep_id = req->sweep_id();
    auto jobs = store_->ListJobs(f);
    if (!jobs.ok()) return ToGrpc(jobs.status());
    auto results = store_->ListResults(req->sweep_id());
    if (!results.ok()) return ToGrpc(results.status());
    std::map<int64_t, const db::ResultRecord*> by_job;
    for (const auto& r : *results) by_job[r.job_id] = &r;
    resp->set_spec_yaml(sw->spec_yaml);
    std::vector<ResultRow> rows;
    for (const auto& j : *jobs) {
      auto* jr = resp->add_results();
      FillJob(j, jr->mutable_job());
      jr->set_state(db::JobStateName(j.state));
      jr->set_error(j.last_error);
      jr->set_worker_id(j.worker_id);
      ResultRow row;
      row.job_id = j.id;
      row.state = db::JobStateName(j.state);
      row.attempt = j.attempt;
      json c = json::parse(j.config_json, nullptr, false);
      if (c.is_object() && c.contains("labels")) row.labels = c["labels"];
      auto it = by_job.find(j.id);
      if (it != by_job.end()) {
        const db::ResultRecord& r = *it->second;
        json m = json::parse(r.metrics_json, nullptr, false);
        if (m.is_object()) {
          for (auto& [k, v] : m.items()) {
            if (v.is_number()) {
              (*jr->mutable_result()->mutable_metrics())[k] = v.get<double>();
              row.metrics[k] = v.get<double>();
            }
          }
        }
        jr->mutable_result()->set_quant_report_json(r.quant_report_json);
        jr->mutable_result()->set_efficiency_json(r.efficiency_json);
        jr->mutable_result()->set_eval_json(r.eval_json);
        // The per-item scores of the job's one task (stats at table time).
        if ((!req->format().empty() || !req->with_items()) &&
            r.eval_json.find("\"items\"") != std::string::npos) {
          json e = json::parse(r.eval_json, nullptr, false);
          if (e.is_object() && e.contains("items") && e["items"].is_object() &&
              !e["items"].empty()) {
            row.items = e["items"].begin().value();
          }
          // The rendered table already holds what the items give; the raw
          // rows go back without them unless asked (a few KB per job,
          // which for sweeps of thousands of jobs would approach the
          // message limit).
          if (!req->with_items() && e.is_object() && e.contains("items")) {
            e.erase("items");
            jr->mutable_result()->set_eval_json(e.dump());
          }
        }
        jr->set_worker_id(r.worker_id);
        jr->set_finished_unix_ms(r.created_ms);
        row.worker_id = r.worker_id;
        row.attempt = r.attempt;
      }
      rows.push_back(std::move(row));
    }
    if (!req->format().empty()) {
      auto text =
          RenderResults(rows, req->metric(), req->format(), req->sweep_id());
      if (!text.ok()) return ToGrpc(text.status());
      resp->set_rendered(*text);
    }
    return grpc::Status::OK;
  }

 private:
  absl::Status FillStatus(const db::SweepRecord& sw, pb::SweepStatus* out,
                          bool with_errors) {
    out->set_sweep_id(sw.id);
    out->set_name(sw.name);
    out->set_created_unix_ms(sw.created_ms);
    QG_ASSIGN_OR_RETURN(auto counts, store_->CountJobs(sw.id));
    auto n = [&](db::JobState s) {
      auto it = counts.find(s);
      return it == counts.end() ? int64_t{0} : it->second;
    };
    out->set_pending(n(db::JobState::kPending));
    out->set_running(n(db::JobState::kLeased));
    out->set_done(n(db::JobState::kDone));
    out->set_failed(n(db::JobState::kFailed));
    out->set_dead(n(db::JobState::kDead));
    out->set_cancelled(n(db::JobState::kCancelled));
    int64_t total = 0;
    for (const auto& [s, c] : counts) total += c;
    out->set_total(total);
    bool open = out->pending() + out->running() + out->failed() > 0;
    out->set_state(sw.cancelled ? "cancelled" : open ? "active" : "finished");
    json s = json::parse(sw.summary_json, nullptr, false);
    if (s.is_object()) {
      auto* sum = out->mutable_summary();
      if (s.contains("axis_counts")) {
        for (auto& [k, v] : s["axis_counts"].items()) {
          (*sum->mutable_axis_counts())[k] = v.get<int64_t>();
        }
      }
      sum->set_grid_cells(s.value("grid_cells", int64_t{0}));
      sum->set_jobs(s.value("jobs", int64_t{0}));
      sum->set_quantizations(s.value("quantizations", int64_t{0}));
      sum->set_evaluations(s.value("evaluations", int64_t{0}));
      sum->set_duplicates_merged(s.value("duplicates_merged", int64_t{0}));
    }
    if (with_errors) {
      db::JobFilter f;
      f.sweep_id = sw.id;
      f.states = {db::JobState::kDead, db::JobState::kFailed};
      f.limit = 5;
      QG_ASSIGN_OR_RETURN(auto bad, store_->ListJobs(f));
      for (const auto& j : bad) {
        out->add_errors(absl::StrCat("job ", j.id, " (",
                                     db::JobStateName(j.state), ", attempt ",
                                     j.attempt, "): ", j.last_error));
      }
    }
    return absl::OkStatus();
  }

  db::Store* store_;
  Scheduler* sched_;
  const ServerOptions& opts_;
};

}  // namespace

class CoordinatorServer::Impl {
 public:
  ServerOptions opts;
  std::unique_ptr<db::SqliteStore> store;
  SystemClock clock;
  std::unique_ptr<Scheduler> sched;
  std::unique_ptr<WorkerServiceImpl> worker_svc;
  std::unique_ptr<ClientServiceImpl> client_svc;
  std::unique_ptr<grpc::Server> server;
  int port = 0;
  std::thread reaper;
  std::mutex mu;
  std::condition_variable cv;
  bool stopping = false;
  std::atomic<bool> shut{false};

  void Reap() {
    int64_t every = std::clamp<int64_t>(opts.scheduler.lease_ms / 10, 20, 1000);
    if (!opts.metrics_file.empty()) {
      every = std::min(every, std::max<int64_t>(10, opts.metrics_interval_ms));
    }
    int64_t next_metrics = 0;
    std::unique_lock<std::mutex> l(mu);
    while (!stopping) {
      l.unlock();
      WriteMetrics(&next_metrics);
      l.lock();
      cv.wait_for(l, std::chrono::milliseconds(every));
      if (stopping) break;
      l.unlock();
      auto n = sched->ExpireLeases();
      if (!n.ok()) LOG(ERROR) << "expiring leases: " << n.status();
      l.lock();
    }
    l.unlock();
    next_metrics = 0;
    WriteMetrics(&next_metrics);  // the final state
  }

  void WriteMetrics(int64_t* next_ms) {
    if (opts.metrics_file.empty()) return;
    int64_t now = clock.NowMs();
    if (now < *next_ms) return;
    *next_ms = now + opts.metrics_interval_ms;
    absl::Status s =
        WriteMetricsFile(store.get(), sched.get(), opts.metrics_file);
    if (!s.ok()) LOG(ERROR) << "metrics: " << s;
  }
};

CoordinatorServer::CoordinatorServer(std::unique_ptr<Impl> impl)
    : impl_(std::move(impl)) {}

CoordinatorServer::~CoordinatorServer() { Shutdown(); }

absl::StatusOr<std::unique_ptr<CoordinatorServer>> CoordinatorServer::Start(
    const ServerOptions& options) {
  auto impl = std::make_unique<Impl>();
  impl->opts = options;
  if (options.tls_cert_pem.empty() != options.tls_key_pem.empty()) {
    return absl::InvalidArgumentError("--tls-cert and --tls-key go together");
  }
  QG_ASSIGN_OR_RETURN(impl->store, db::SqliteStore::Open(options.db_path));
  QG_ASSIGN_OR_RETURN(
      impl->sched,
      Scheduler::Create(impl->store.get(), &impl->clock, options.scheduler));
  impl->worker_svc = std::make_unique<WorkerServiceImpl>(impl->sched.get(),
                                                         options.auth_token);
  impl->client_svc = std::make_unique<ClientServiceImpl>(
      impl->store.get(), impl->sched.get(), impl->opts);
  grpc::ServerBuilder b;
  std::shared_ptr<grpc::ServerCredentials> creds;
  if (!options.tls_cert_pem.empty()) {
    grpc::SslServerCredentialsOptions ssl;
    ssl.pem_key_cert_pairs.push_back(
        {options.tls_key_pem, options.tls_cert_pem});
    creds = grpc::SslServerCredentials(ssl);
  } else {
    creds = grpc::InsecureServerCredentials();
  }
  b.AddListeningPort(options.listen, creds, &impl->port);
  b.SetMaxReceiveMessageSize(options.max_message_bytes);
  b.SetMaxSendMessageSize(options.max_message_bytes);
  // The sync server's thread manager lets a worker thread exit after a call
  // whenever more than MAX_POLLERS threads are polling (default 2), and
  // spawns a new one when fewer than MIN_POLLERS remain: under a steady
  // stream of claims from many workers that is a thread create+destroy per
  // burst of calls. Keep a small standing pool instead.
  b.SetSyncServerOption(grpc::ServerBuilder::SyncServerOption::NUM_CQS, 1);
  b.SetSyncServerOption(grpc::ServerBuilder::SyncServerOption::MIN_POLLERS, 2);
  b.SetSyncServerOption(grpc::ServerBuilder::SyncServerOption::MAX_POLLERS,
                        options.rpc_threads);
  b.RegisterService(impl->worker_svc.get());
  b.RegisterService(impl->client_svc.get());
  impl->server = b.BuildAndStart();
  if (!impl->server || impl->port == 0) {
    return absl::UnavailableError("cannot listen on " + options.listen);
  }
  impl->reaper = std::thread([p = impl.get()] { p->Reap(); });
  LOG(INFO) << "coordinator listening on " << options.listen << " (port "
            << impl->port << "), db " << options.db_path
            << (options.auth_token.empty() ? "" : ", bearer auth")
            << (options.tls_cert_pem.empty() ? "" : ", TLS");
  return std::unique_ptr<CoordinatorServer>(
      new CoordinatorServer(std::move(impl)));
}

int CoordinatorServer::port() const { return impl_->port; }

std::string CoordinatorServer::address() const {
  std::string host =
      impl_->opts.listen.substr(0, impl_->opts.listen.rfind(':'));
  if (host == "0.0.0.0" || host == "[::]" || host.empty()) host = "127.0.0.1";
  return absl::StrCat(host, ":", impl_->port);
}

void CoordinatorServer::Shutdown() {
  if (impl_->shut.exchange(true)) return;
  {
    std::lock_guard<std::mutex> l(impl_->mu);
    impl_->stopping = true;
  }
  impl_->cv.notify_all();
  impl_->server->Shutdown(std::chrono::system_clock::now() +
                          std::chrono::seconds(2));
  if (impl_->reaper.joinable()) impl_->reaper.join();
}

void CoordinatorServer::Wait() { impl_->server->Wait(); }

}  // namespace qgrid::coordinator
