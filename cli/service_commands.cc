// qgrid coordinator | worker | submit | status | watch | cancel | retry |
// workers | results | run: the sweep service from the command line.
#include <ATen/Parallel.h>
#include <errno.h>
#include <google/protobuf/util/json_util.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <iostream>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/synchronization/mutex.h"
#include "cli/commands.h"
#include "cli/spec_tasks.h"
#include "common/progress.h"
#include "coordinator/service.h"
#include "coordinator/sweep_spec.h"
#include "demo/data.h"
#include "glog/logging.h"
#include "nlohmann/json.hpp"
#include "proto/qgrid.grpc.pb.h"
#include "worker/agent.h"
#include "worker/executor.h"
#include "worker/real_executor.h"
#include "worker/rpc_client.h"
#include "worker/synthetic_executor.h"

namespace qgrid::cli {
namespace {

namespace pb = ::qgrid::v1;
using json = nlohmann::json;

constexpr char kDefaultCoordinator[] = "127.0.0.1:50051";

std::string DefaultCoordinator() {
  const char* env = std::getenv("QGRID_COORDINATOR");
  return env && *env ? env : kDefaultCoordinator;
}

// Options every client command shares.
struct ClientFlags {
  std::string coordinator = DefaultCoordinator();
  std::string auth_token_file;
  std::string tls_ca;
  bool tls = false;
  bool json = false;
  int64_t timeout_ms = 10000;
};

void AddClientFlags(CLI::App* c, ClientFlags* f) {
  c->add_option("--coordinator", f->coordinator,
                "Coordinator address HOST:PORT (default: $QGRID_COORDINATOR, "
                "else 127.0.0.1:50051)");
  c->add_option("--auth-token-file", f->auth_token_file,
                "File holding the bearer token the coordinator expects")
      ->envname("QGRID_AUTH_TOKEN_FILE");
  c->add_flag("--tls", f->tls, "Use TLS (system roots unless --tls-ca)");
  c->add_option("--tls-ca", f->tls_ca,
                "PEM root certificate to verify the coordinator (implies "
                "--tls)");
  c->add_flag("--json", f->json, "Machine-readable JSON output");
  c->add_option("--timeout-ms", f->timeout_ms, "Deadline of each RPC (ms)");
}

int Fail(const std::string& msg, int code = 1) {
  std::fprintf(stderr, "qgrid: %s\n", msg.c_str());
  SetExitCode(code);
  return code;
}

absl::StatusOr<worker::RpcOptions> RpcFrom(const ClientFlags& f) {
  worker::RpcOptions o;
  o.address = f.coordinator;
  o.deadline_ms = f.timeout_ms;
  if (!f.auth_token_file.empty()) {
    auto t = worker::ReadTokenFile(f.auth_token_file);
    if (!t.ok()) return t.status();
    o.auth_token = *t;
  }
  if (!f.tls_ca.empty() || f.tls) {
    o.tls = true;
    if (!f.tls_ca.empty()) {
      auto ca = worker::ReadFileToString(f.tls_ca);
      if (!ca.ok()) return ca.status();
      o.tls_ca_pem = *ca;
    }
  }
  return o;
}

std::string ToJson(const google::protobuf::Message& m) {
  std::string out;
  google::protobuf::util::JsonPrintOptions o;
  o.add_whitespace = true;
  o.always_print_primitive_fields = true;
  o.preserve_proto_field_names = true;
  (void)google::protobuf::util::MessageToJsonString(m, &out, o);
  return out;
}

// A connected client: stub + options, and uniform error reporting.
class Client {
 public:
  static absl::StatusOr<Client> Connect(const ClientFlags& f) {
    auto o = RpcFrom(f);
    if (!o.ok()) return o.status();
    return Client(*o);
  }
  explicit Client(worker::RpcOptions o)
      : opts_(std::move(o)),
        stub_(pb::ClientService::NewStub(worker::MakeChannel(opts_))) {}

  template <class Req, class Resp>
  absl::Status Call(grpc::Status (pb::ClientService::Stub::*method)(
                        grpc::ClientContext*, const Req&, Resp*),
                    const Req& req, Resp* resp) {
    grpc::ClientContext ctx;
    worker::PrepareContext(&ctx, opts_);
    grpc::Status s = ((*stub_).*method)(&ctx, req, resp);
    if (s.ok()) return absl::OkStatus();
    std::string msg = s.error_message();
    if (s.error_code() == grpc::StatusCode::UNAVAILABLE ||
        s.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED) {
      msg = absl::StrCat("coordinator ", opts_.address, " unreachable: ", msg,
                         " (start one with `qgrid coordinator`, or set "
                         "--coordinator / QGRID_COORDINATOR)");
    }
    return absl::Status(static_cast<absl::StatusCode>(s.error_code()), msg);
  }

 private:
  worker::RpcOptions opts_;
  std::shared_ptr<pb::ClientService::Stub> stub_;
};

int FailStatus(const absl::Status& s) {
  int code = s.code() == absl::StatusCode::kInvalidArgument   ? 2
             : s.code() == absl::StatusCode::kUnauthenticated ? 3
                                                              : 1;
  return Fail(std::string(s.message()), code);
}

std::string Ago(int64_t unix_ms) {
  if (unix_ms <= 0) return "never";
  int64_t now = std::chrono::duration_cast<std::chrono::milliseconds>(
                    std::chrono::system_clock::now().time_since_epoch())
                    .count();
  double s = (now - unix_ms) / 1000.0;
  return s < 120 ? absl::StrFormat("%.1fs ago", s)
                 : absl::StrFormat("%.0fm ago", s / 60);
}

void PrintSummary(const pb::SweepSummary& s) {
  std::printf("grid:");
  for (const char* axis : {"models", "methods", "calibration", "tests", "shots",
                           "seeds", "repeats"}) {
    auto it = s.axis_counts().find(axis);
    if (it != s.axis_counts().end()) {
      std::printf(" %s=%lld", axis, static_cast<long long>(it->second));
    }
  }
  std::printf("\njobs: %lld  quantizations: %lld  evaluations: %lld",
              static_cast<long long>(s.jobs()),
              static_cast<long long>(s.quantizations()),
              static_cast<long long>(s.evaluations()));
  if (s.duplicates_merged()) {
    std::printf("  (identical cells merged: %lld)",
                static_cast<long long>(s.duplicates_merged()));
  }
  if (s.cached()) {
    std::printf("  reused from earlier results: %lld",
                static_cast<long long>(s.cached()));
  }
  std::printf("\n");
}

void PrintStatus(const pb::SweepStatus& s) {
  std::printf(
      "%s  %-10s %-16s total %lld: done %lld, running %lld, pending %lld, "
      "failed %lld, dead %lld, cancelled %lld\n",
      s.sweep_id().c_str(), s.state().c_str(),
      s.name().empty() ? "-" : s.name().c_str(),
      static_cast<long long>(s.total()), static_cast<long long>(s.done()),
      static_cast<long long>(s.running()), static_cast<long long>(s.pending()),
      static_cast<long long>(s.failed()), static_cast<long long>(s.dead()),
      static_cast<long long>(s.cancelled()));
  for (const auto& e : s.errors()) std::printf("  error: %s\n", e.c_str());
}

// Polls until the sweep is no longer active, drawing a progress bar.
// Returns the final status.
// Polls the sweep until it is no longer active, or until `stop()` (when
// given) says nothing will make progress any more (e.g. `qgrid run`'s local
// workers have all drained after a signal).
absl::StatusOr<pb::SweepStatus> Watch(
    Client& c, const std::string& id, bool bar,
    const std::function<bool()>& stop = nullptr) {
  pb::GetSweepStatusRequest req;
  req.set_sweep_id(id);
  std::unique_ptr<Progress> progress;
  int64_t shown = 0;
  while (true) {
    pb::GetSweepStatusResponse resp;
    absl::Status s =
        c.Call(&pb::ClientService::Stub::GetSweepStatus, req, &resp);
    if (!s.ok()) return s;
    const pb::SweepStatus& st = resp.status();
    int64_t finished = st.done() + st.dead() + st.cancelled();
    if (!progress) {
      progress =
          std::make_unique<Progress>("sweep " + id, st.total(), "jobs", bar);
    }
    progress->Add(finished - shown,
                  absl::StrFormat("done %d running %d failed %d", st.done(),
                                  st.running(), st.failed() + st.dead()));
    shown = finished;
    if (st.state() != "active" || (stop && stop())) {
      progress->Finish();
      return st;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
  }
}

// SIGINT/SIGTERM handling: a process-wide handler (whichever thread the
// kernel picks, libraries' threads included) writes the signal to a pipe; a
// watcher thread reads it and calls `on_signal(count)` (count from 1) outside
// signal context, so it may lock and log. Return false to stop watching.
int g_signal_pipe[2] = {-1, -1};

extern "C" void QgridOnSignal(int sig) {
  unsigned char b = static_cast<unsigned char>(sig);
  ssize_t n = write(g_signal_pipe[1], &b, 1);
  (void)n;
}

std::thread SignalWatcher(std::function<bool(int)> on_signal) {
  if (g_signal_pipe[0] < 0 && pipe(g_signal_pipe) != 0) return std::thread();
  struct sigaction sa = {};
  sa.sa_handler = QgridOnSignal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
  return std::thread([on_signal] {
    for (int n = 1;;) {
      unsigned char b = 0;
      ssize_t r = read(g_signal_pipe[0], &b, 1);
      if (r < 0 && errno == EINTR) continue;
      if (r <= 0 || b == 0) return;  // 0: StopWatcher
      if (!on_signal(n++)) return;
    }
  });
}

void StopWatcher(std::thread& t) {
  if (!t.joinable()) return;
  unsigned char zero = 0;
  ssize_t n = write(g_signal_pipe[1], &zero, 1);
  (void)n;
  t.join();
}

struct SchedFlags {
  int64_t lease_ms = 30000;
  int64_t heartbeat_ms = 5000;
  int64_t quiet_ms = 0;
  int64_t retry_base_ms = 2000;
  int64_t retry_max_ms = 120000;
  int quarantine_after = 5;
  int affinity_batch = 8;
  int64_t idle_retry_ms = 0;
};

void AddSchedFlags(CLI::App* c, SchedFlags* f) {
  c->add_option("--lease-ms", f->lease_ms,
                "Lease length: a job whose worker sends no heartbeat for this "
                "long goes back to the queue");
  c->add_option("--heartbeat-ms", f->heartbeat_ms,
                "Heartbeat interval workers are told to use");
  c->add_option("--quiet-ms", f->quiet_ms,
                "A worker silent this long loses its quant-key reservations "
                "(default: --lease-ms)");
  c->add_option("--retry-base-ms", f->retry_base_ms,
                "First retry backoff; doubles per attempt");
  c->add_option("--retry-max-ms", f->retry_max_ms, "Retry backoff cap");
  c->add_option("--quarantine-after", f->quarantine_after,
                "Quarantine a worker after this many consecutive failures");
  c->add_option("--affinity-batch", f->affinity_batch,
                "Jobs of a new quant key handed out per lease");
  c->add_option("--idle-retry-ms", f->idle_retry_ms,
                "When no job is ready, workers are told to ask again after "
                "this long (default: min(1000, --heartbeat-ms))");
}

coordinator::SchedulerOptions SchedOpts(const SchedFlags& f) {
  coordinator::SchedulerOptions o;
  o.lease_ms = f.lease_ms;
  o.heartbeat_ms = f.heartbeat_ms;
  o.worker_quiet_ms = f.quiet_ms > 0 ? f.quiet_ms : f.lease_ms;
  o.idle_retry_ms = f.idle_retry_ms > 0
                        ? f.idle_retry_ms
                        : std::min<int64_t>(1000, f.heartbeat_ms);
  o.retry = db::RetryPolicy{f.retry_base_ms, f.retry_max_ms};
  o.quarantine_after = f.quarantine_after;
  o.affinity_batch = f.affinity_batch;
  return o;
}

struct WorkerFlags {
  std::string device = "cpu";
  std::string cache_dir;
  std::string name;
  std::vector<std::string> model_roots;
  std::vector<std::string> data_dirs;
  int prefetch = 1;
  int cache_size = 4;
  double cache_max_gb = 0;
  int64_t exit_when_idle_ms = 0;
  int64_t drain_grace_ms = 60000;
};

absl::StatusOr<std::unique_ptr<worker::JobExecutor>> MakeExecutor(
    const WorkerFlags& f) {
  worker::RealExecutorOptions ro;
  ro.device = f.device;
  ro.cache_dir = f.cache_dir;
  ro.cache_max_bytes = static_cast<int64_t>(f.cache_max_gb * (1 << 30));
  ro.cache_capacity = f.cache_size;
  ro.model_roots = f.model_roots;
  ro.data_dirs = f.data_dirs;
  auto eval = worker::MakeRealExecutor(ro);
  if (!eval.ok()) return eval.status();
  return std::unique_ptr<worker::JobExecutor>(
      std::make_unique<worker::KindRouter>(
          worker::MakeSyntheticExecutor(f.cache_size), std::move(*eval)));
}

void AddWorkerFlags(CLI::App* c, WorkerFlags* f) {
  c->add_option("--device", f->device, "cpu or cuda:N");
  c->add_option("--cache-dir", f->cache_dir,
                "Keep quantized models on disk in DIR, keyed by quant key, so "
                "a restarted worker (or another worker sharing DIR) loads "
                "them instead of quantizing again; entries are verified on "
                "load and a corrupt one is deleted and re-quantized");
  c->add_option("--cache-max-gb", f->cache_max_gb,
                "Size limit of --cache-dir in GiB; least recently used "
                "entries are evicted (0 = no limit)")
      ->check(CLI::NonNegativeNumber);
  c->add_option("--model-root", f->model_roots,
                "Directory models may be read from (repeatable); job paths "
                "outside every root are refused");
  c->add_option("--data-dir", f->data_dirs,
                "Directory datasets may be read from (repeatable)");
  c->add_option("--prefetch", f->prefetch, "Jobs leased at a time");
  c->add_option("--cache-size", f->cache_size,
                "Quantized models kept in memory (LRU)");
  c->add_option("--exit-when-idle-ms", f->exit_when_idle_ms,
                "Exit after this long without a job (0 = never)");
  c->add_option("--drain-grace-ms", f->drain_grace_ms,
                "On SIGTERM, how long the running job may take to finish "
                "before it is given back");
}

void RegisterCoordinator(CLI::App& app) {
  auto* c = app.add_subcommand(
      "coordinator",
      "Run the coordinator: stores sweeps in SQLite and dispatches jobs to "
      "workers over gRPC");
  struct Flags {
    std::string db = "qgrid.db";
    std::string listen = "127.0.0.1:50051";
    std::string token_file, tls_cert, tls_key;
    int max_message_mb = 16;
    std::string metrics_file;
    int64_t metrics_interval_ms = 5000;
    SchedFlags sched;
  };
  auto f = std::make_shared<Flags>();
  c->add_option("--db", f->db, "SQLite database file (created if absent)");
  c->add_option("--listen", f->listen,
                "HOST:PORT to serve on (port 0 picks a free one)");
  c->add_option("--auth-token-file", f->token_file,
                "Require this bearer token on every RPC");
  c->add_option("--tls-cert", f->tls_cert, "PEM certificate (with --tls-key)");
  c->add_option("--tls-key", f->tls_key, "PEM private key (with --tls-cert)");
  c->add_option("--max-message-mb", f->max_message_mb,
                "Largest RPC message accepted");
  c->add_option("--metrics-file", f->metrics_file,
                "Rewrite this file with Prometheus-format metrics (jobs by "
                "state, dispatch rate, expired leases, workers, quarantines) "
                "every --metrics-interval-ms; e.g. for node_exporter's "
                "textfile collector");
  c->add_option("--metrics-interval-ms", f->metrics_interval_ms,
                "How often --metrics-file is rewritten");
  AddSchedFlags(c, &f->sched);
  c->callback([f] {
    coordinator::ServerOptions o;
    o.db_path = f->db;
    o.listen = f->listen;
    o.max_message_bytes = f->max_message_mb << 20;
    o.metrics_file = f->metrics_file;
    o.metrics_interval_ms = std::max<int64_t>(100, f->metrics_interval_ms);
    o.scheduler = SchedOpts(f->sched);
    if (!f->token_file.empty()) {
      auto t = worker::ReadTokenFile(f->token_file);
      if (!t.ok()) return (void)FailStatus(t.status());
      o.auth_token = *t;
    }
    if (!f->tls_cert.empty() || !f->tls_key.empty()) {
      auto cert = worker::ReadFileToString(f->tls_cert);
      auto key = worker::ReadFileToString(f->tls_key);
      if (!cert.ok()) return (void)FailStatus(cert.status());
      if (!key.ok()) return (void)FailStatus(key.status());
      o.tls_cert_pem = *cert;
      o.tls_key_pem = *key;
    }
    std::shared_ptr<coordinator::CoordinatorServer> server;
    std::thread watcher = SignalWatcher([&server](int n) {
      LOG(INFO) << "signal received; shutting down";
      if (server) server->Shutdown();
      return false;
    });
    auto s = coordinator::CoordinatorServer::Start(o);
    if (!s.ok()) {
      StopWatcher(watcher);
      return (void)FailStatus(s.status());
    }
    server = std::move(*s);
    // Tests and scripts read the bound port from here.
    std::printf("qgrid coordinator listening on %s\n",
                server->address().c_str());
    std::fflush(stdout);
    server->Wait();
    StopWatcher(watcher);
  });
}

void RegisterWorker(CLI::App& app) {
  auto* c = app.add_subcommand(
      "worker",
      "Run a worker: lease jobs from the coordinator, quantize and evaluate, "
      "report results. SIGTERM drains (finish or give back the current job)");
  auto cf = std::make_shared<ClientFlags>();
  auto wf = std::make_shared<WorkerFlags>();
  c->add_option("--coordinator", cf->coordinator,
                "Coordinator HOST:PORT (default: $QGRID_COORDINATOR, else "
                "127.0.0.1:50051)");
  c->add_option("--auth-token-file", cf->auth_token_file,
                "File holding the coordinator's bearer token")
      ->envname("QGRID_AUTH_TOKEN_FILE");
  c->add_option("--tls-ca", cf->tls_ca, "PEM root certificate (enables TLS)");
  c->add_option("--name", wf->name, "Worker name (default: host name)");
  AddWorkerFlags(c, wf.get());
  c->callback([cf, wf] {
    auto rpc = RpcFrom(*cf);
    if (!rpc.ok()) return (void)FailStatus(rpc.status());
    worker::AgentOptions o;
    o.rpc = *rpc;
    o.device = wf->device;
    o.prefetch = wf->prefetch;
    o.exit_when_idle_ms = wf->exit_when_idle_ms;
    o.drain_grace_ms = wf->drain_grace_ms;
    o.name = wf->name;
    if (o.name.empty()) {
      char host[256] = {0};
      gethostname(host, sizeof(host) - 1);
      o.name = absl::StrCat(host, "-", getpid());
    }
    // Block the signals before any thread (gRPC's included) exists, so they
    // reach only the watcher.
    std::atomic<worker::WorkerAgent*> live{nullptr};
    std::thread watcher = SignalWatcher([&live](int n) {
      worker::WorkerAgent* a = live.load();
      if (!a) std::_Exit(128 + SIGTERM);  // nothing to drain yet
      if (n == 1) {
        LOG(INFO) << "draining: finishing the current job (signal again to "
                     "give it back now)";
        a->Drain();
        return true;
      }
      a->Stop();
      return false;
    });
    auto executor = MakeExecutor(*wf);
    if (!executor.ok()) {
      StopWatcher(watcher);
      return (void)FailStatus(executor.status());
    }
    worker::WorkerAgent agent(o, executor->get());
    live.store(&agent);
    absl::Status s = agent.Run();
    StopWatcher(watcher);
    auto st = agent.stats();
    LOG(INFO) << "worker done: " << st.jobs_done << " done, " << st.jobs_failed
              << " failed, " << st.jobs_released << " given back";
    if (!s.ok()) FailStatus(s);
  });
}

void RegisterSubmit(CLI::App& app) {
  auto* c = app.add_subcommand(
      "submit", "Submit a sweep spec (YAML); prints the sweep id");
  auto cf = std::make_shared<ClientFlags>();
  struct Flags {
    std::string spec;
    bool dry_run = false, watch = false, no_cache = false;
    int64_t max_jobs = coordinator::kDefaultMaxJobs;
  };
  auto f = std::make_shared<Flags>();
  c->add_option("spec", f->spec, "Sweep spec YAML file")->required();
  c->add_flag("--dry-run", f->dry_run,
              "Validate and expand only: print counts per axis, "
              "quantizations and evaluations; store nothing");
  c->add_flag("--watch", f->watch, "Then show a live progress bar");
  c->add_flag("--no-cache", f->no_cache,
              "Recompute cells that have results from earlier sweeps");
  c->add_option("--max-jobs", f->max_jobs,
                "Refuse grids larger than this (default 10000)");
  AddClientFlags(c, cf.get());
  c->callback([cf, f] {
    auto text = worker::ReadFileToString(f->spec, coordinator::kMaxSpecBytes);
    if (!text.ok()) return (void)FailStatus(text.status());
    // Validation is pure: bad specs are refused before any RPC. The task
    // names are checked here because only the client knows the task
    // registry (cli/spec_tasks.h).
    auto spec = coordinator::ParseSweepSpec(*text, f->spec);
    if (!spec.ok()) return (void)FailStatus(spec.status());
    absl::Status tasks = ValidateSpecTasks(*text, f->spec);
    if (!tasks.ok()) return (void)FailStatus(tasks);
    if (f->dry_run) {
      auto grid = coordinator::ExpandGrid(*spec, f->max_jobs);
      if (!grid.ok()) return (void)FailStatus(grid.status());
      if (cf->json) {
        std::printf("%s\n", grid->summary.ToJson().dump(1).c_str());
        return;
      }
      pb::SweepSummary s;
      for (const auto& [k, v] : grid->summary.axis_counts) {
        (*s.mutable_axis_counts())[k] = v;
      }
      s.set_jobs(grid->summary.jobs);
      s.set_quantizations(grid->summary.quantizations);
      s.set_evaluations(grid->summary.evaluations);
      s.set_duplicates_merged(grid->summary.duplicates_merged);
      std::printf("dry run of %s (nothing stored)\n", f->spec.c_str());
      PrintSummary(s);
      return;
    }
    auto client = Client::Connect(*cf);
    if (!client.ok()) return (void)FailStatus(client.status());
    pb::SubmitSweepRequest req;
    req.set_spec_yaml(*text);
    req.set_spec_name(f->spec);
    req.set_no_cache(f->no_cache);
    req.set_max_jobs(f->max_jobs);
    pb::SubmitSweepResponse resp;
    absl::Status s =
        client->Call(&pb::ClientService::Stub::SubmitSweep, req, &resp);
    if (!s.ok()) return (void)FailStatus(s);
    if (cf->json) {
      std::printf("%s\n", ToJson(resp).c_str());
    } else {
      std::printf("%s\n", resp.sweep_id().c_str());
      std::fflush(stdout);
      PrintSummary(resp.summary());
    }
    if (f->watch) {
      auto st = Watch(*client, resp.sweep_id(), !cf->json);
      if (!st.ok()) return (void)FailStatus(st.status());
      if (!cf->json) PrintStatus(*st);
      if (st->dead() > 0) SetExitCode(1);
    }
  });
}

void RegisterStatusWatch(CLI::App& app) {
  auto* st = app.add_subcommand("status",
                                "Show one sweep's job counts, or list sweeps");
  auto cf = std::make_shared<ClientFlags>();
  auto id = std::make_shared<std::string>();
  st->add_option("sweep", *id, "Sweep id (omit to list all sweeps)");
  AddClientFlags(st, cf.get());
  st->callback([cf, id] {
    auto client = Client::Connect(*cf);
    if (!client.ok()) return (void)FailStatus(client.status());
    if (id->empty()) {
      pb::ListSweepsResponse resp;
      absl::Status s = client->Call(&pb::ClientService::Stub::ListSweeps,
                                    pb::ListSweepsRequest(), &resp);
      if (!s.ok()) return (void)FailStatus(s);
      if (cf->json) return (void)std::printf("%s\n", ToJson(resp).c_str());
      if (resp.sweeps().empty()) std::printf("no sweeps\n");
      for (const auto& sw : resp.sweeps()) PrintStatus(sw);
      return;
    }
    pb::GetSweepStatusRequest req;
    req.set_sweep_id(*id);
    pb::GetSweepStatusResponse resp;
    absl::Status s =
        client->Call(&pb::ClientService::Stub::GetSweepStatus, req, &resp);
    if (!s.ok()) return (void)FailStatus(s);
    if (cf->json) return (void)std::printf("%s\n", ToJson(resp).c_str());
    PrintStatus(resp.status());
    PrintSummary(resp.status().summary());
  });

  auto* w = app.add_subcommand(
      "watch",
      "Live progress of a sweep (done/running/failed, ETA) until it ends");
  auto wcf = std::make_shared<ClientFlags>();
  auto wid = std::make_shared<std::string>();
  w->add_option("sweep", *wid, "Sweep id")->required();
  AddClientFlags(w, wcf.get());
  w->callback([wcf, wid] {
    auto client = Client::Connect(*wcf);
    if (!client.ok()) return (void)FailStatus(client.status());
    auto st = Watch(*client, *wid, !wcf->json);
    if (!st.ok()) return (void)FailStatus(st.status());
    if (wcf->json) {
      std::printf("%s\n", ToJson(*st).c_str());
    } else {
      PrintStatus(*st);
    }
    if (st->dead() > 0) SetExitCode(1);
  });
}

void RegisterCancelRetry(CLI::App& app) {
  for (bool cancel : {true, false}) {
    auto* c = app.add_subcommand(
        cancel ? "cancel" : "retry",
        cancel ? "Cancel a sweep; running jobs stop at their next heartbeat"
               : "Requeue a sweep's failed, dead and cancelled jobs");
    auto cf = std::make_shared<ClientFlags>();
    auto id = std::make_shared<std::string>();
    c->add_option("sweep", *id, "Sweep id")->required();
    AddClientFlags(c, cf.get());
    c->callback([cf, id, cancel] {
      auto client = Client::Connect(*cf);
      if (!client.ok()) return (void)FailStatus(client.status());
      int64_t n = 0;
      absl::Status s;
      std::string js;
      if (cancel) {
        pb::CancelSweepRequest req;
        req.set_sweep_id(*id);
        pb::CancelSweepResponse resp;
        s = client->Call(&pb::ClientService::Stub::CancelSweep, req, &resp);
        n = resp.cancelled();
        js = ToJson(resp);
      } else {
        pb::RetrySweepRequest req;
        req.set_sweep_id(*id);
        pb::RetrySweepResponse resp;
        s = client->Call(&pb::ClientService::Stub::RetrySweep, req, &resp);
        n = resp.requeued();
        js = ToJson(resp);
      }
      if (!s.ok()) return (void)FailStatus(s);
      if (cf->json) return (void)std::printf("%s\n", js.c_str());
      std::printf("%s: %lld jobs %s\n", id->c_str(), static_cast<long long>(n),
                  cancel ? "cancelled" : "requeued");
    });
  }
}

void RegisterWorkersCmd(CLI::App& app) {
  auto* c = app.add_subcommand(
      "workers",
      "List workers: device, held quant keys, last heartbeat, "
      "failures, quarantine");
  auto cf = std::make_shared<ClientFlags>();
  AddClientFlags(c, cf.get());
  c->callback([cf] {
    auto client = Client::Connect(*cf);
    if (!client.ok()) return (void)FailStatus(client.status());
    pb::ListWorkersResponse resp;
    absl::Status s = client->Call(&pb::ClientService::Stub::ListWorkers,
                                  pb::ListWorkersRequest(), &resp);
    if (!s.ok()) return (void)FailStatus(s);
    if (cf->json) return (void)std::printf("%s\n", ToJson(resp).c_str());
    if (resp.workers().empty()) std::printf("no workers\n");
    for (const auto& w : resp.workers()) {
      std::printf(
          "%-28s %-8s %-6s %-12s jobs %d  held keys %d  failures %d%s\n",
          w.worker_id().c_str(), w.device().c_str(),
          w.alive() ? "alive" : "quiet",
          Ago(w.last_heartbeat_unix_ms()).c_str(), w.leased_job_ids_size(),
          w.held_quant_keys_size(), w.consecutive_failures(),
          w.quarantined() ? "  QUARANTINED" : "");
    }
  });
}

absl::StatusOr<std::string> FetchResults(Client& client, const std::string& id,
                                         const std::string& metric,
                                         const std::string& format,
                                         pb::GetResultsResponse* resp) {
  pb::GetResultsRequest req;
  req.set_sweep_id(id);
  req.set_metric(metric);
  req.set_format(format);
  absl::Status s = client.Call(&pb::ClientService::Stub::GetResults, req, resp);
  if (!s.ok()) return s;
  return resp->rendered();
}

void RegisterResults(CLI::App& app) {
  auto* c = app.add_subcommand(
      "results",
      "Result tables: per (model, method, bits, shots), test sets x "
      "calibration sets, I.I.D cell marked with a dagger, best in bold, and "
      "how often I.I.D calibration wins");
  auto cf = std::make_shared<ClientFlags>();
  struct Flags {
    std::string id, metric, format = "table";
  };
  auto f = std::make_shared<Flags>();
  c->add_option("sweep", f->id, "Sweep id")->required();
  c->add_option("--metric", f->metric,
                "Metric to tabulate (default: ppl, else acc, else the first)");
  c->add_option("--format", f->format,
                "table | markdown | csv | json | latex (csv/json: tidy rows, "
                "one per job and metric)")
      ->check(CLI::IsMember({"table", "markdown", "csv", "json", "latex"}));
  AddClientFlags(c, cf.get());
  c->callback([cf, f] {
    auto client = Client::Connect(*cf);
    if (!client.ok()) return (void)FailStatus(client.status());
    std::string format = cf->json ? "json" : f->format;
    pb::GetResultsResponse resp;
    auto text = FetchResults(*client, f->id, f->metric, format, &resp);
    if (!text.ok()) return (void)FailStatus(text.status());
    std::fwrite(text->data(), 1, text->size(), stdout);
  });
}

void RegisterRun(CLI::App& app) {
  auto* c = app.add_subcommand(
      "run",
      "The embedded default: start a coordinator on a local SQLite file and "
      "N local workers, run the sweep (the built-in demo when no spec is "
      "given) with a progress bar, then print the results table");
  struct Flags {
    std::string spec;
    int workers = 2;
    int threads = 0;  // ATen threads per worker; 0: cores / workers
    std::string db;
    std::string metric, format = "table";
    bool no_cache = false;
    int64_t max_jobs = coordinator::kDefaultMaxJobs;
    bool json = false;
    bool verbose = false;
    SchedFlags sched;
    WorkerFlags worker;
  };
  auto f = std::make_shared<Flags>();
  f->sched.lease_ms = 60000;
  f->sched.heartbeat_ms = 1000;
  f->sched.retry_base_ms = 500;
  c->add_option("spec", f->spec,
                "Sweep spec YAML (default: the built-in demo)");
  c->add_option("--workers", f->workers, "Local workers (threads)");
  c->add_option("--threads", f->threads,
                "ATen intra-op threads per local worker (default: CPU cores "
                "divided by --workers, at least 1)");
  c->add_option("--db", f->db,
                "SQLite file (default: a fresh temporary one; give a file to "
                "reuse results across runs)");
  c->add_option("--metric", f->metric, "Metric to tabulate");
  c->add_option("--format", f->format, "table | markdown | csv | json | latex")
      ->check(CLI::IsMember({"table", "markdown", "csv", "json", "latex"}));
  c->add_flag("--no-cache", f->no_cache, "Recompute cached cells");
  c->add_option("--max-jobs", f->max_jobs, "Refuse grids larger than this");
  c->add_flag("--json", f->json, "Results as tidy JSON rows");
  c->add_flag("-v,--verbose", f->verbose,
              "Log every job start/finish (default: warnings only, so the "
              "progress bar stays readable)");
  AddSchedFlags(c, &f->sched);
  AddWorkerFlags(c, &f->worker);
  c->callback([f] {
    if (!f->verbose) FLAGS_minloglevel = google::GLOG_WARNING;
    std::string text, name;
    if (!f->spec.empty()) {
      auto t = worker::ReadFileToString(f->spec, coordinator::kMaxSpecBytes);
      if (!t.ok()) return (void)FailStatus(t.status());
      text = *t;
      name = f->spec;
    } else {
      // The built-in demo: its spec and model under assets/ and the demo
      // data (built on first use).
      name = demo::DemoSweepSpecPath();
      auto t = worker::ReadFileToString(name, coordinator::kMaxSpecBytes);
      if (!t.ok()) return (void)FailStatus(t.status());
      text = *t;
      if (f->worker.model_roots.empty()) {
        f->worker.model_roots = {std::string(QGRID_SOURCE_DIR) + "/assets"};
      }
      if (f->worker.data_dirs.empty()) {
        f->worker.data_dirs = {demo::DemoDataDir()};
      }
      std::string probe = f->worker.model_roots[0] + "/qgrid-tiny/config.json";
      if (access(probe.c_str(), R_OK) != 0) {
        return (void)Fail("the built-in demo needs the model " + probe +
                              " (committed in the repository under assets/; "
                              "or pass --model-root, or give a SPEC.yaml)",
                          2);
      }
      absl::Status ds = demo::EnsureDemoData(f->worker.data_dirs[0]);
      if (!ds.ok()) return (void)FailStatus(ds);
    }
    // Validate before starting anything.
    auto spec = coordinator::ParseSweepSpec(text, name);
    if (!spec.ok()) return (void)FailStatus(spec.status());
    absl::Status tasks = ValidateSpecTasks(text, name);
    if (!tasks.ok()) return (void)FailStatus(tasks);
    std::string db = f->db;
    std::string tmpdir;
    if (db.empty()) {
      char tmpl[] = "/tmp/qgrid-run-XXXXXX";
      if (!mkdtemp(tmpl)) return (void)Fail("cannot create a temporary dir");
      tmpdir = tmpl;
      db = tmpdir + "/qgrid.db";
    }
    // The local workers share this process's cores: give each its share of
    // ATen threads. Oversubscribed OpenMP teams busy-wait for each other
    // (libgomp's default wait policy) and can double the wall time.
    {
      int cores = static_cast<int>(std::thread::hardware_concurrency());
      int per = f->threads > 0 ? f->threads
                               : std::max(1, cores / std::max(1, f->workers));
      at::set_num_threads(per);
    }
    // Executors first: a bad --cache-dir fails before anything starts.
    std::vector<std::unique_ptr<worker::JobExecutor>> executors;
    for (int i = 0; i < std::max(1, f->workers); ++i) {
      auto ex = MakeExecutor(f->worker);
      if (!ex.ok()) return (void)FailStatus(ex.status());
      executors.push_back(std::move(*ex));
    }
    std::vector<std::unique_ptr<worker::WorkerAgent>> agents;
    absl::Mutex agents_mu;
    std::thread watcher = SignalWatcher([&](int n) {
      absl::MutexLock l(&agents_mu);
      for (auto& a : agents) n == 1 ? a->Drain() : a->Stop();
      return n == 1;
    });
    coordinator::ServerOptions so;
    so.db_path = db;
    so.listen = "127.0.0.1:0";
    so.scheduler = SchedOpts(f->sched);
    auto server = coordinator::CoordinatorServer::Start(so);
    if (!server.ok()) {
      StopWatcher(watcher);
      return (void)FailStatus(server.status());
    }
    worker::RpcOptions rpc;
    rpc.address = (*server)->address();
    std::vector<std::thread> threads;
    std::atomic<int> live_workers{0};
    for (int i = 0; i < std::max(1, f->workers); ++i) {
      worker::AgentOptions o;
      o.rpc = rpc;
      o.name = absl::StrCat("local-", i);
      o.device = f->worker.device;
      o.prefetch = f->worker.prefetch;
      o.max_idle_poll_ms = 200;
      absl::MutexLock l(&agents_mu);
      agents.push_back(
          std::make_unique<worker::WorkerAgent>(o, executors[i].get()));
      ++live_workers;
      threads.emplace_back([a = agents.back().get(), &live_workers] {
        absl::Status s = a->Run();
        if (!s.ok()) LOG(ERROR) << "local worker: " << s;
        --live_workers;
      });
    }
    auto finish = [&] {
      {
        absl::MutexLock l(&agents_mu);
        for (auto& a : agents) a->Stop();
      }
      for (auto& t : threads) t.join();
      StopWatcher(watcher);
      (*server)->Shutdown();
    };
    Client client(rpc);
    pb::SubmitSweepRequest req;
    req.set_spec_yaml(text);
    req.set_spec_name(name);
    req.set_no_cache(f->no_cache);
    req.set_max_jobs(f->max_jobs);
    pb::SubmitSweepResponse resp;
    absl::Status s =
        client.Call(&pb::ClientService::Stub::SubmitSweep, req, &resp);
    if (!s.ok()) {
      finish();
      return (void)FailStatus(s);
    }
    if (!f->json) {
      std::printf("sweep %s on %s with %d local workers (db %s)\n",
                  resp.sweep_id().c_str(), rpc.address.c_str(), f->workers,
                  db.c_str());
      PrintSummary(resp.summary());
      std::fflush(stdout);
    }
    auto st = Watch(client, resp.sweep_id(), !f->json,
                    [&] { return live_workers.load() == 0; });
    if (!st.ok()) {
      finish();
      return (void)FailStatus(st.status());
    }
    if (st->state() == "active") {
      // Interrupted (SIGINT/SIGTERM drained the local workers): show what
      // is done and say how to go on.
      std::fprintf(stderr,
                   "interrupted: %lld of %lld jobs finished; the table below "
                   "has what is done.%s\n",
                   static_cast<long long>(st->done() + st->dead()),
                   static_cast<long long>(st->total()),
                   f->db.empty() ? " Pass --db FILE to keep results and "
                                   "resume a run later."
                                 : " Run the same command again to resume.");
      SetExitCode(130);
    }
    pb::GetResultsResponse results;
    auto table = FetchResults(client, resp.sweep_id(), f->metric,
                              f->json ? "json" : f->format, &results);
    finish();
    if (!table.ok()) return (void)FailStatus(table.status());
    if (!f->json) {
      PrintStatus(*st);
      std::printf("\n");
    }
    std::fwrite(table->data(), 1, table->size(), stdout);
    if (st->dead() > 0) SetExitCode(1);
  });
}

}  // namespace

void RegisterServiceCommands(CLI::App& app) {
  RegisterCoordinator(app);
  RegisterWorker(app);
  RegisterSubmit(app);
  RegisterStatusWatch(app);
  RegisterCancelRetry(app);
  RegisterWorkersCmd(app);
  RegisterResults(app);
  RegisterRun(app);
}

}  // namespace qgrid::cli
