#include "cli/service_common.h"

#include <errno.h>
#include <google/protobuf/util/json_util.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>

#include "absl/strings/str_format.h"
#include "common/progress.h"

namespace qgrid::cli {

namespace pb = ::qgrid::v1;

namespace {
constexpr char kDefaultCoordinator[] = "127.0.0.1:50051";
}  // namespace

ClientFlags::ClientFlags() {
  const char* env = std::getenv("QGRID_COORDINATOR");
  coordinator = env && *env ? env : kDefaultCoordinator;
}

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

absl::StatusOr<rpc::RpcOptions> RpcFrom(const ClientFlags& f) {
  rpc::RpcOptions o;
  o.address = f.coordinator;
  o.deadline_ms = f.timeout_ms;
  absl::Status s =
      rpc::LoadClientCredentials(f.auth_token_file, f.tls_ca, f.tls, &o);
  if (!s.ok()) return s;
  return o;
}

absl::StatusOr<std::unique_ptr<rpc::CoordinatorClient>> Connect(
    const ClientFlags& f) {
  auto o = RpcFrom(f);
  if (!o.ok()) return o.status();
  return std::make_unique<rpc::CoordinatorClient>(*o);
}

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

std::string ToJson(const google::protobuf::Message& m) {
  std::string out;
  google::protobuf::util::JsonPrintOptions o;
  o.add_whitespace = true;
  o.always_print_primitive_fields = true;
  o.preserve_proto_field_names = true;
  (void)google::protobuf::util::MessageToJsonString(m, &out, o);
  return out;
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

absl::StatusOr<pb::SweepStatus> WatchSweep(rpc::CoordinatorClient& client,
                                           const std::string& id, bool bar,
                                           const std::function<bool()>& stop) {
  std::unique_ptr<Progress> progress;
  int64_t shown = 0;
  auto st = client.WaitForSweep(
      id,
      [&](const pb::SweepStatus& st) {
        int64_t finished = st.done() + st.dead() + st.cancelled();
        if (!progress) {
          progress = std::make_unique<Progress>("sweep " + id, st.total(),
                                                "jobs", bar);
        }
        progress->Add(finished - shown,
                      absl::StrFormat("done %d running %d failed %d", st.done(),
                                      st.running(), st.failed() + st.dead()));
        shown = finished;
      },
      stop);
  if (progress) progress->Finish();
  return st;
}

namespace {
int g_signal_pipe[2] = {-1, -1};

extern "C" void QgridOnSignal(int sig) {
  unsigned char b = static_cast<unsigned char>(sig);
  ssize_t n = write(g_signal_pipe[1], &b, 1);
  (void)n;
}

}  // namespace

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

}  // namespace qgrid::cli
