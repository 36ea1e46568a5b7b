// qgrid worker | run: the commands that run jobs on this machine (a worker
// for a coordinator; the embedded cluster of `qgrid run`). Built into
// `qgrid-torch`, which `qgrid` runs for them.
#include <ATen/Parallel.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "cli/commands.h"
#include "cli/exit_code.h"
#include "cli/service_common.h"
#include "cluster/embedded_cluster.h"
#include "common/file_util.h"
#include "common/signal_watcher.h"
#include "coordinator/spec_tasks.h"
#include "coordinator/sweep_spec.h"
#include "demo/data.h"
#include "glog/logging.h"
#include "model/device_info.h"
#include "rpc/sweep_view.h"
#include "worker/agent.h"
#include "worker/real_executor.h"

namespace qgrid::cli {
namespace {

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
  return worker::MakeWorkerExecutor(ro);
}

// The device's name and free memory, for the registration
// (RegisterWorkerRequest.device_name, memory_bytes); a device this machine
// lacks fails here, before anything starts.
absl::Status DescribeInto(const std::string& device, worker::AgentOptions* o) {
  auto info = model::DescribeDevice(device, "--device");
  if (!info.ok()) return info.status();
  o->device_name = info->name;
  o->memory_bytes = info->free_bytes;
  if (device != "cpu") {
    LOG(INFO) << "device " << device << ": " << info->name << ", "
              << info->free_bytes / (1 << 20) << " MiB free of "
              << info->total_bytes / (1 << 20) << " MiB";
  }
  return absl::OkStatus();
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

void RegisterWorker(CLI::App& app) {
  auto* c = app.add_subcommand(
      "worker",
      "Run a worker: lease jobs from the coordinator, quantize and evaluate, "
      "report results. SIGTERM drains (finish or give back the current job)");
  auto cf = std::make_shared<ClientFlags>();
  auto wf = std::make_shared<WorkerFlags>();
  AddClientFlags(c, cf.get(), /*commands=*/false);
  c->add_option("--name", wf->name, "Worker name (default: host name)");
  AddWorkerFlags(c, wf.get());
  c->callback([cf, wf] {
    auto rpc = RpcFrom(*cf);
    if (!rpc.ok()) return (void)ReportError("", rpc.status());
    worker::AgentOptions o;
    o.rpc = *rpc;
    o.device = wf->device;
    if (auto s = DescribeInto(wf->device, &o); !s.ok()) {
      return (void)ReportError("", s);
    }
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
      return (void)ReportError("", executor.status());
    }
    worker::WorkerAgent agent(o, executor->get());
    live.store(&agent);
    absl::Status s = agent.Run();
    StopWatcher(watcher);
    auto st = agent.stats();
    LOG(INFO) << "worker done: " << st.jobs_done << " done, " << st.jobs_failed
              << " failed, " << st.jobs_released << " given back";
    if (!s.ok()) ReportError("", s);
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
  AddResultsFlags(c, &f->metric, &f->format);
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
    // The built-in demo's spec is assets/demo-sweep.yaml (demo/data.h).
    const std::string name =
        f->spec.empty() ? demo::DemoSweepSpecPath() : f->spec;
    auto read = ReadFileToString(name, coordinator::kMaxSpecBytes);
    if (!read.ok()) return (void)ReportError("", read.status());
    const std::string text = *read;
    if (f->spec.empty()) {
      absl::Status ds =
          demo::PrepareDemoRun(&f->worker.model_roots, &f->worker.data_dirs);
      if (!ds.ok()) return (void)ReportError("", ds);
    }
    // Validate before starting anything.
    auto spec = coordinator::ParseSweepSpec(text, name);
    if (!spec.ok()) return (void)ReportError("", spec.status());
    absl::Status tasks = coordinator::ValidateSpecTasks(text, name);
    if (!tasks.ok()) return (void)ReportError("", tasks);
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
      if (!ex.ok()) return (void)ReportError("", ex.status());
      executors.push_back(std::move(*ex));
    }
    cluster::EmbeddedClusterOptions co;
    co.db_path = f->db;
    co.scheduler = SchedOpts(f->sched);
    co.agent.name = "local";
    co.agent.device = f->worker.device;
    if (auto s = DescribeInto(f->worker.device, &co.agent); !s.ok()) {
      return (void)ReportError("", s);
    }
    co.agent.prefetch = f->worker.prefetch;
    co.agent.max_idle_poll_ms = 200;
    std::atomic<cluster::EmbeddedCluster*> live{nullptr};
    std::thread watcher = SignalWatcher([&live](int n) {
      cluster::EmbeddedCluster* c = live.load();
      if (!c) std::_Exit(kExitInterrupted);  // nothing started yet
      n == 1 ? c->Drain() : c->Stop();
      return n == 1;
    });
    auto started = cluster::EmbeddedCluster::Start(co, std::move(executors));
    if (!started.ok()) {
      StopWatcher(watcher);
      return (void)ReportError("", started.status());
    }
    std::unique_ptr<cluster::EmbeddedCluster> cl = std::move(*started);
    live.store(cl.get());
    auto finish = [&] {
      cl->Stop();
      StopWatcher(watcher);
      live.store(nullptr);
    };
    rpc::CoordinatorClient& client = cl->client();
    auto resp = client.Submit({text, name, f->no_cache, f->max_jobs});
    if (!resp.ok()) {
      finish();
      return (void)ReportError("", resp.status());
    }
    if (!f->json) {
      std::printf("sweep %s on %s with %d local workers (db %s)\n",
                  resp->sweep_id().c_str(), cl->address().c_str(),
                  cl->workers(), cl->db_path().c_str());
      PrintText(rpc::FormatSummary(resp->summary()));
      std::fflush(stdout);
    }
    auto st = rpc::WatchSweep(client, resp->sweep_id(), !f->json,
                              [&] { return cl->live_workers() == 0; });
    if (!st.ok()) {
      finish();
      return (void)ReportError("", st.status());
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
      SetExitCode(kExitInterrupted);
    }
    auto results = client.GetResults(resp->sweep_id(), f->metric,
                                     f->json ? "json" : f->format);
    finish();
    if (!results.ok()) return (void)ReportError("", results.status());
    if (!f->json) {
      PrintText(rpc::FormatStatus(*st) + "\n");
    }
    PrintText(results->rendered());
    if (st->dead() > 0) SetExitCode(kExitFailed);
  });
}

}  // namespace

void RegisterWorkerCommands(CLI::App& app) {
  RegisterWorker(app);
  RegisterRun(app);
}

}  // namespace qgrid::cli
