#include "cli/service_common.h"

#include <cstdio>
#include <cstdlib>
#include <memory>

namespace qgrid::cli {

namespace {
constexpr char kDefaultCoordinator[] = "127.0.0.1:50051";
}  // namespace

ClientFlags::ClientFlags() {
  const char* env = std::getenv("QGRID_COORDINATOR");
  coordinator = env && *env ? env : kDefaultCoordinator;
}

void AddClientFlags(CLI::App* c, ClientFlags* f, bool commands) {
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
  if (!commands) return;
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

void AddResultsFlags(CLI::App* c, std::string* metric, std::string* format) {
  c->add_option("--metric", *metric,
                "Metric of every table row (default: each test set its own "
                "headline metric: perplexity, else acc_norm, acc, f1, ...); "
                "csv/json list every metric");
  c->add_option("--format", *format,
                "table | markdown | csv | json | latex (csv/json: tidy rows, "
                "one per job and metric)")
      ->check(CLI::IsMember({"table", "markdown", "csv", "json", "latex"}));
}

void PrintText(const std::string& text) {
  std::fwrite(text.data(), 1, text.size(), stdout);
}

}  // namespace qgrid::cli
