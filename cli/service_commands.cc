// qgrid coordinator | submit | status | watch | cancel | retry | workers |
// results: the sweep service's coordinator and client commands. Built into
// the torch-free `qgrid` executable (cli/CMakeLists.txt).
#include <cstdio>
#include <memory>
#include <string>
#include <thread>

#include "cli/commands.h"
#include "cli/exit_code.h"
#include "cli/service_common.h"
#include "common/file_util.h"
#include "common/signal_watcher.h"
#include "coordinator/service.h"
#include "coordinator/spec_tasks.h"
#include "coordinator/sweep_spec.h"
#include "glog/logging.h"
#include "nlohmann/json.hpp"
#include "rpc/client.h"
#include "rpc/coordinator_client.h"
#include "rpc/sweep_view.h"

namespace qgrid::cli {
namespace {

namespace pb = ::qgrid::v1;
using rpc::FormatStatus;
using rpc::FormatSummary;
using rpc::ToJson;

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
      auto t = rpc::ReadTokenFile(f->token_file);
      if (!t.ok()) return (void)ReportError("", t.status());
      o.auth_token = *t;
    }
    if (!f->tls_cert.empty() || !f->tls_key.empty()) {
      auto cert = ReadFileToString(f->tls_cert);
      auto key = ReadFileToString(f->tls_key);
      if (!cert.ok()) return (void)ReportError("", cert.status());
      if (!key.ok()) return (void)ReportError("", key.status());
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
      return (void)ReportError("", s.status());
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
    auto text = ReadFileToString(f->spec, coordinator::kMaxSpecBytes);
    if (!text.ok()) return (void)ReportError("", text.status());
    // Validation is pure: bad specs are refused before any RPC. The task
    // names are checked here because only the client knows the task
    // registry (coordinator/spec_tasks.h).
    auto spec = coordinator::ParseSweepSpec(*text, f->spec);
    if (!spec.ok()) return (void)ReportError("", spec.status());
    absl::Status tasks = coordinator::ValidateSpecTasks(*text, f->spec);
    if (!tasks.ok()) return (void)ReportError("", tasks);
    if (f->dry_run) {
      auto grid = coordinator::ExpandGrid(*spec, f->max_jobs);
      if (!grid.ok()) return (void)ReportError("", grid.status());
      if (cf->json) {
        std::printf("%s\n", grid->summary.ToJson().dump(1).c_str());
        return;
      }
      std::printf("dry run of %s (nothing stored)\n", f->spec.c_str());
      return PrintText(FormatSummary(grid->summary.ToProto()));
    }
    auto client = Connect(*cf);
    if (!client.ok()) return (void)ReportError("", client.status());
    auto resp = (*client)->Submit({*text, f->spec, f->no_cache, f->max_jobs});
    if (!resp.ok()) return (void)ReportError("", resp.status());
    if (cf->json) {
      std::printf("%s\n", ToJson(*resp).c_str());
    } else {
      std::printf("%s\n", resp->sweep_id().c_str());
      std::fflush(stdout);
      PrintText(FormatSummary(resp->summary()));
    }
    if (f->watch) {
      auto st = rpc::WatchSweep(**client, resp->sweep_id(), !cf->json);
      if (!st.ok()) return (void)ReportError("", st.status());
      if (!cf->json) PrintText(FormatStatus(*st));
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
    auto client = Connect(*cf);
    if (!client.ok()) return (void)ReportError("", client.status());
    if (id->empty()) {
      auto resp = (*client)->ListSweeps();
      if (!resp.ok()) return (void)ReportError("", resp.status());
      if (cf->json) return (void)std::printf("%s\n", ToJson(*resp).c_str());
      if (resp->sweeps().empty()) std::printf("no sweeps\n");
      for (const auto& sw : resp->sweeps()) PrintText(FormatStatus(sw));
      return;
    }
    auto status = (*client)->GetStatus(*id);
    if (!status.ok()) return (void)ReportError("", status.status());
    if (cf->json) {
      pb::GetSweepStatusResponse resp;
      *resp.mutable_status() = *status;
      return (void)std::printf("%s\n", ToJson(resp).c_str());
    }
    PrintText(FormatStatus(*status) + FormatSummary(status->summary()));
  });

  auto* w = app.add_subcommand(
      "watch",
      "Live progress of a sweep (done/running/failed, ETA) until it ends");
  auto wcf = std::make_shared<ClientFlags>();
  auto wid = std::make_shared<std::string>();
  w->add_option("sweep", *wid, "Sweep id")->required();
  AddClientFlags(w, wcf.get());
  w->callback([wcf, wid] {
    auto client = Connect(*wcf);
    if (!client.ok()) return (void)ReportError("", client.status());
    auto st = rpc::WatchSweep(**client, *wid, !wcf->json);
    if (!st.ok()) return (void)ReportError("", st.status());
    PrintText(wcf->json ? ToJson(*st) + "\n" : FormatStatus(*st));
    if (st->dead() > 0) SetExitCode(kExitFailed);
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
      auto client = Connect(*cf);
      if (!client.ok()) return (void)ReportError("", client.status());
      int64_t n = 0;
      std::string js;
      if (cancel) {
        auto r = (*client)->Cancel(*id);
        if (!r.ok()) return (void)ReportError("", r.status());
        n = r->cancelled();
        js = ToJson(*r);
      } else {
        auto r = (*client)->Retry(*id);
        if (!r.ok()) return (void)ReportError("", r.status());
        n = r->requeued();
        js = ToJson(*r);
      }
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
    auto client = Connect(*cf);
    if (!client.ok()) return (void)ReportError("", client.status());
    auto resp = (*client)->ListWorkers();
    if (!resp.ok()) return (void)ReportError("", resp.status());
    if (cf->json) return (void)std::printf("%s\n", ToJson(*resp).c_str());
    if (resp->workers().empty()) std::printf("no workers\n");
    const int64_t now = rpc::NowUnixMs();
    for (const auto& w : resp->workers()) PrintText(rpc::FormatWorker(w, now));
  });
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
  AddResultsFlags(c, &f->metric, &f->format);
  AddClientFlags(c, cf.get());
  c->callback([cf, f] {
    auto client = Connect(*cf);
    if (!client.ok()) return (void)ReportError("", client.status());
    std::string format = cf->json ? "json" : f->format;
    auto resp = (*client)->GetResults(f->id, f->metric, format);
    if (!resp.ok()) return (void)ReportError("", resp.status());
    PrintText(resp->rendered());
  });
}

}  // namespace

void RegisterServiceCommands(CLI::App& app) {
  RegisterCoordinator(app);
  RegisterSubmit(app);
  RegisterStatusWatch(app);
  RegisterCancelRetry(app);
  RegisterWorkersCmd(app);
  RegisterResults(app);
}

}  // namespace qgrid::cli
