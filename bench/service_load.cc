// Load benchmark of the sweep service itself (no model work: synthetic jobs).
//
// A real coordinator process (`qgrid coordinator`, SQLite in a temp dir) on
// 127.0.0.1 and 16 workers run as threads of this process, EACH WITH ITS OWN
// gRPC channel (so 16 independent HTTP/2 connections, as 16 worker processes
// would have). Two phases:
//   1. dispatch: 10,000 zero-length jobs (1,250 quant keys x 8 jobs); each
//      worker loops lease(1) -> report. Prints dispatches/s and the p50/p99
//      latency of the LeaseJobs (claim) RPC.
//      Target (issue 6): >= 1,000 dispatches/s.
//   2. overhead: 16 workers x 8 jobs of 1 s each through the real WorkerAgent
//      (heartbeats, leases, reports). Ideal makespan = 8 s; prints the
//      measured makespan and the overhead. Target: <= 2%.
// Usage: bench_service_load [--jobs N] [--workers N] [--job-ms MS]
//                           [--jobs-per-worker N]
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include "proto/qgrid.grpc.pb.h"
#include "worker/agent.h"
#include "worker/rpc_client.h"
#include "worker/synthetic_executor.h"

namespace pb = ::qgrid::v1;
using Clock = std::chrono::steady_clock;

namespace {

struct Coordinator {
  pid_t pid = -1;
  std::string address;
};

Coordinator StartCoordinator(const std::string& dir) {
  int fds[2];
  if (pipe(fds) != 0) return {};
  Coordinator c;
  c.pid = fork();
  if (c.pid == 0) {
    dup2(fds[1], 1);
    int devnull = open("/dev/null", O_WRONLY);
    dup2(devnull, 2);  // INFO logs per sweep only; keep the bench output clean
    std::string bin = std::string(QGRID_BINARY_DIR) + "/cli/qgrid";
    std::string db = dir + "/bench.db";
    execl(bin.c_str(), bin.c_str(), "coordinator", "--db", db.c_str(),
          "--listen", "127.0.0.1:0", "--lease-ms", "30000", "--heartbeat-ms",
          "1000", "--affinity-batch", "1", nullptr);
    _exit(127);
  }
  close(fds[1]);
  std::string out;
  char buf[256];
  std::regex re("listening on (127\\.0\\.0\\.1:[0-9]+)");
  std::smatch m;
  while (true) {
    ssize_t n = read(fds[0], buf, sizeof(buf));
    if (n <= 0) break;
    out.append(buf, n);
    if (std::regex_search(out, m, re)) {
      c.address = m[1];
      break;
    }
  }
  close(fds[0]);
  return c;
}

double Pct(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  size_t i =
      std::min(v.size() - 1, static_cast<size_t>(p * (v.size() - 1) + 0.5));
  return v[i];
}

std::string Submit(const qgrid::worker::RpcOptions& rpc,
                   const std::string& yaml, int64_t max_jobs) {
  auto stub = pb::ClientService::NewStub(qgrid::worker::MakeChannel(rpc));
  pb::SubmitSweepRequest req;
  req.set_spec_yaml(yaml);
  req.set_spec_name("bench.yaml");
  req.set_max_jobs(max_jobs);
  req.set_no_cache(true);
  pb::SubmitSweepResponse resp;
  grpc::ClientContext ctx;
  qgrid::worker::PrepareContext(&ctx, rpc, 60000);
  grpc::Status s = stub->SubmitSweep(&ctx, req, &resp);
  if (!s.ok()) {
    std::fprintf(stderr, "submit failed: %s\n", s.error_message().c_str());
    return "";
  }
  return resp.sweep_id();
}

pb::SweepStatus Status(const qgrid::worker::RpcOptions& rpc,
                       const std::string& id) {
  auto stub = pb::ClientService::NewStub(qgrid::worker::MakeChannel(rpc));
  pb::GetSweepStatusRequest req;
  req.set_sweep_id(id);
  pb::GetSweepStatusResponse resp;
  grpc::ClientContext ctx;
  qgrid::worker::PrepareContext(&ctx, rpc);
  stub->GetSweepStatus(&ctx, req, &resp);
  return resp.status();
}

}  // namespace

int main(int argc, char** argv) {
  int jobs = 10000, workers = 16, job_ms = 1000, per_worker = 8;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string a = argv[i];
    int v = std::atoi(argv[i + 1]);
    if (a == "--jobs") jobs = v;
    if (a == "--workers") workers = v;
    if (a == "--job-ms") job_ms = v;
    if (a == "--jobs-per-worker") per_worker = v;
  }
  setvbuf(stdout, nullptr, _IOLBF, 0);
  std::string dir = (std::filesystem::temp_directory_path() /
                     ("qgrid-bench-" + std::to_string(getpid())))
                        .string();
  std::filesystem::create_directories(dir);
  Coordinator coord = StartCoordinator(dir);
  if (coord.address.empty()) {
    std::fprintf(stderr, "coordinator did not start\n");
    return 1;
  }
  std::printf("coordinator: pid %d on %s (SQLite WAL in %s)\n", coord.pid,
              coord.address.c_str(), dir.c_str());
  qgrid::worker::RpcOptions rpc;
  rpc.address = coord.address;

  // ---- Phase 1: dispatch throughput and claim latency. -------------------
  int keys = std::max(1, jobs / 8);
  std::string spec =
      "kind: synthetic\nmodels: [{name: m}]\nmethods: [{name: rtn, bits: 4}]\n"
      "tests: [{name: t0, split: '0'}, {name: t1, split: '1'}, {name: t2, "
      "split: '2'}, {name: t3, split: '3'}]\nshots: [0, 1]\nrepeats: " +
      std::to_string(keys) + "\n";
  auto t_submit = Clock::now();
  std::string id = Submit(rpc, spec, 1000000);
  if (id.empty()) return 1;
  double submit_s =
      std::chrono::duration<double>(Clock::now() - t_submit).count();
  int total = keys * 8;
  std::printf(
      "phase 1: %d jobs submitted in %.2f s; %d workers (threads, one "
      "channel each)\n",
      total, submit_s, workers);
  std::atomic<int> dispatched{0};
  std::vector<std::vector<double>> lat(workers);
  auto t0 = Clock::now();
  std::vector<std::thread> threads;
  for (int w = 0; w < workers; ++w) {
    threads.emplace_back([&, w] {
      auto stub = pb::WorkerService::NewStub(qgrid::worker::MakeChannel(rpc));
      pb::RegisterWorkerRequest rr;
      rr.set_name("bench-" + std::to_string(w));
      pb::RegisterWorkerResponse rresp;
      grpc::ClientContext rc;
      qgrid::worker::PrepareContext(&rc, rpc);
      if (!stub->RegisterWorker(&rc, rr, &rresp).ok()) return;
      int empty = 0;
      while (dispatched.load() < total && empty < 50) {
        pb::LeaseJobsRequest lr;
        lr.set_worker_id(rresp.worker_id());
        lr.set_max_jobs(1);
        pb::LeaseJobsResponse lresp;
        grpc::ClientContext lc;
        qgrid::worker::PrepareContext(&lc, rpc);
        auto a = Clock::now();
        grpc::Status s = stub->LeaseJobs(&lc, lr, &lresp);
        lat[w].push_back(
            std::chrono::duration<double, std::milli>(Clock::now() - a)
                .count());
        if (!s.ok() || lresp.jobs_size() == 0) {
          ++empty;
          std::this_thread::sleep_for(std::chrono::milliseconds(5));
          continue;
        }
        empty = 0;
        for (const auto& j : lresp.jobs()) {
          pb::ReportResultRequest req;
          req.set_worker_id(rresp.worker_id());
          req.set_job_id(j.id());
          req.set_attempt(j.attempt());
          (*req.mutable_result()->mutable_metrics())["ppl"] = 1.0;
          pb::ReportResultResponse resp;
          grpc::ClientContext c;
          qgrid::worker::PrepareContext(&c, rpc);
          stub->ReportResult(&c, req, &resp);
          ++dispatched;
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  double secs = std::chrono::duration<double>(Clock::now() - t0).count();
  std::vector<double> all;
  for (auto& v : lat) all.insert(all.end(), v.begin(), v.end());
  pb::SweepStatus st = Status(rpc, id);
  std::printf(
      "phase 1: %d jobs dispatched+reported in %.2f s = %.0f dispatches/s "
      "(target >= 1000); claim latency p50 %.2f ms, p99 %.2f ms over %zu "
      "LeaseJobs calls; sweep done=%lld (expected %d)\n",
      dispatched.load(), secs, dispatched.load() / secs, Pct(all, 0.5),
      Pct(all, 0.99), all.size(), static_cast<long long>(st.done()), total);

  // ---- Phase 2: overhead against the ideal makespan of 1 s jobs. ---------
  int jobs2 = workers * per_worker;
  std::string spec2 =
      "kind: synthetic\nmodels: [{name: m}]\nmethods: [{name: rtn, bits: 4}]\n"
      "tests: [{name: t}]\nrepeats: " +
      std::to_string(jobs2) +
      "\nsynthetic: {duration_ms: " + std::to_string(job_ms) + "}\n";
  std::vector<std::unique_ptr<qgrid::worker::SyntheticExecutor>> execs;
  std::vector<std::unique_ptr<qgrid::worker::WorkerAgent>> agents;
  std::vector<std::thread> agent_threads;
  for (int w = 0; w < workers; ++w) {
    qgrid::worker::AgentOptions o;
    o.rpc = rpc;
    o.name = "agent-" + std::to_string(w);
    o.max_idle_poll_ms = 20;
    execs.push_back(std::make_unique<qgrid::worker::SyntheticExecutor>());
    agents.push_back(
        std::make_unique<qgrid::worker::WorkerAgent>(o, execs.back().get()));
  }
  for (auto& a : agents) {
    agent_threads.emplace_back([p = a.get()] { p->Run().IgnoreError(); });
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(500));  // registered
  auto t2 = Clock::now();
  std::string id2 = Submit(rpc, spec2, 1000000);
  while (true) {
    pb::SweepStatus s = Status(rpc, id2);
    if (s.done() >= jobs2) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  double makespan = std::chrono::duration<double>(Clock::now() - t2).count();
  double ideal = static_cast<double>(per_worker) * job_ms / 1000.0;
  std::printf(
      "phase 2: %d jobs of %d ms on %d workers (WorkerAgent threads): "
      "makespan %.3f s vs ideal %.3f s -> overhead %.2f%% (target <= 2%%)\n",
      jobs2, job_ms, workers, makespan, ideal,
      100.0 * (makespan - ideal) / ideal);
  for (auto& a : agents) a->Stop();
  for (auto& t : agent_threads) t.join();
  kill(coord.pid, SIGTERM);
  int status = 0;
  waitpid(coord.pid, &status, 0);
  std::filesystem::remove_all(dir);
  return 0;
}
