// Worker agents with the synthetic executor against a real in-process
// coordinator on 127.0.0.1: completion, failures, retries, cancellation,
// drain, coordinator outage, auth.
#include "worker/agent.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <thread>

#include "coordinator/service.h"
#include "nlohmann/json.hpp"
#include "proto/qgrid.grpc.pb.h"
#include "tests/test_util.h"
#include "worker/synthetic_executor.h"

namespace qgrid::worker {
namespace {

namespace pb = ::qgrid::v1;
using coordinator::CoordinatorServer;

class AgentTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = qgrid::testing::MakeTempDir("agent");
    opts_.db_path = dir_ + "/q.db";
    opts_.listen = "127.0.0.1:0";
    opts_.scheduler.lease_ms = 1500;
    opts_.scheduler.heartbeat_ms = 100;
    opts_.scheduler.worker_quiet_ms = 1500;
    opts_.scheduler.idle_retry_ms = 50;
    opts_.scheduler.retry = db::RetryPolicy{50, 200};
    opts_.scheduler.quarantine_after = 100;
    StartServer();
  }
  void TearDown() override {
    for (auto& a : agents_) a->Stop();
    for (auto& t : threads_) t.join();
    if (server_) server_->Shutdown();
    std::filesystem::remove_all(dir_);
  }
  void StartServer() {
    auto s = CoordinatorServer::Start(opts_);
    ASSERT_TRUE(s.ok()) << s.status();
    server_ = std::move(*s);
    opts_.listen = server_->address();  // a restart reuses the port
    rpc_.address = server_->address();
    rpc_.deadline_ms = 2000;
  }

  WorkerAgent* StartAgent(const std::string& name, int prefetch = 1,
                          absl::Status* status = nullptr) {
    AgentOptions o;
    o.rpc = rpc_;
    o.name = name;
    o.prefetch = prefetch;
    o.backoff_initial_ms = 20;
    o.backoff_max_ms = 200;
    o.max_idle_poll_ms = 50;
    executors_.push_back(std::make_unique<SyntheticExecutor>());
    agents_.push_back(
        std::make_unique<WorkerAgent>(o, executors_.back().get()));
    WorkerAgent* a = agents_.back().get();
    threads_.emplace_back([a, status] {
      absl::Status s = a->Run();
      if (status) *status = s;
    });
    return a;
  }

  std::unique_ptr<pb::ClientService::Stub> Client() {
    return pb::ClientService::NewStub(rpc::MakeChannel(rpc_));
  }

  std::string Submit(const std::string& yaml) {
    pb::SubmitSweepRequest req;
    req.set_spec_yaml(yaml);
    req.set_spec_name("t.yaml");
    pb::SubmitSweepResponse resp;
    grpc::ClientContext ctx;
    rpc::PrepareContext(&ctx, rpc_);
    grpc::Status s = Client()->SubmitSweep(&ctx, req, &resp);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return resp.sweep_id();
  }

  pb::SweepStatus Status(const std::string& id) {
    pb::GetSweepStatusRequest req;
    req.set_sweep_id(id);
    pb::GetSweepStatusResponse resp;
    grpc::ClientContext ctx;
    rpc::PrepareContext(&ctx, rpc_);
    grpc::Status s = Client()->GetSweepStatus(&ctx, req, &resp);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return resp.status();
  }

  // Waits (bounded) until `pred(status)`.
  bool WaitFor(const std::string& id,
               const std::function<bool(const pb::SweepStatus&)>& pred,
               int timeout_ms = 15000) {
    auto end = std::chrono::steady_clock::now() +
               std::chrono::milliseconds(timeout_ms);
    while (std::chrono::steady_clock::now() < end) {
      if (pred(Status(id))) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(25));
    }
    return false;
  }

  pb::GetResultsResponse Results(const std::string& id) {
    pb::GetResultsRequest req;
    req.set_sweep_id(id);
    pb::GetResultsResponse resp;
    grpc::ClientContext ctx;
    rpc::PrepareContext(&ctx, rpc_);
    EXPECT_TRUE(Client()->GetResults(&ctx, req, &resp).ok());
    return resp;
  }

  static std::string Spec(const std::string& tests, int max_attempts = 3,
                          int duration_ms = 10) {
    return "kind: synthetic\nmodels: [{name: m}]\n"
           "methods: [{name: rtn, bits: [2, 3, 4]}]\n"
           "tests: " +
           tests + "\nshots: [0, 1]\n" +
           "max_attempts: " + std::to_string(max_attempts) + "\n" +
           "synthetic: {duration_ms: " + std::to_string(duration_ms) +
           ", quantize_ms: 5}\n";
  }

  std::string dir_;
  coordinator::ServerOptions opts_;
  rpc::RpcOptions rpc_;
  std::unique_ptr<CoordinatorServer> server_;
  std::vector<std::unique_ptr<SyntheticExecutor>> executors_;
  std::vector<std::unique_ptr<WorkerAgent>> agents_;
  std::vector<std::thread> threads_;
};

TEST_F(AgentTest, TwoAgentsRunASweepAndEveryJobHasItsOwnResult) {
  std::string id = Submit(Spec("[{name: a, split: a}, {name: b, split: b}]"));
  StartAgent("w1");
  StartAgent("w2");
  ASSERT_TRUE(WaitFor(id, [](const auto& s) { return s.done() == 12; }));
  auto r = Results(id);
  ASSERT_EQ(r.results_size(), 12);
  for (const auto& jr : r.results()) {
    EXPECT_EQ(jr.state(), "done");
    auto want = SyntheticExecutor::MetricsFor(jr.job().content_key());
    EXPECT_DOUBLE_EQ(jr.result().metrics().at("ppl"), want["ppl"]);
  }
  EXPECT_EQ(agents_[0]->stats().jobs_done + agents_[1]->stats().jobs_done, 12);
}

TEST_F(AgentTest, AFailingJobDiesWithItsMessageAndTheRestFinishes) {
  std::string id =
      Submit(Spec("[{name: a}, {name: bad, fail: corrupt checkpoint}]", 2));
  StartAgent("w1");
  ASSERT_TRUE(WaitFor(
      id, [](const auto& s) { return s.done() == 6 && s.dead() == 6; }));
  auto st = Status(id);
  ASSERT_GT(st.errors_size(), 0);
  EXPECT_NE(st.errors(0).find("corrupt checkpoint"), std::string::npos);
  EXPECT_EQ(agents_[0]->stats().jobs_failed, 12);  // 6 jobs x 2 attempts
}

TEST_F(AgentTest, TransientFailuresAreRetried) {
  std::string id = Submit(Spec("[{name: a, fail_attempts: 1}]"));
  StartAgent("w1");
  ASSERT_TRUE(WaitFor(id, [](const auto& s) { return s.done() == 6; }));
  EXPECT_EQ(agents_[0]->stats().jobs_failed, 6);
}

TEST_F(AgentTest, CancellationStopsTheRunningJobThroughHeartbeats) {
  std::string id = Submit(Spec("[{name: a}]", 3, 60000));
  WorkerAgent* a = StartAgent("w1");
  ASSERT_TRUE(WaitFor(id, [](const auto& s) { return s.running() == 1; }));
  pb::CancelSweepRequest req;
  req.set_sweep_id(id);
  pb::CancelSweepResponse resp;
  grpc::ClientContext ctx;
  rpc::PrepareContext(&ctx, rpc_);
  ASSERT_TRUE(Client()->CancelSweep(&ctx, req, &resp).ok());
  EXPECT_EQ(resp.cancelled(), 6);
  auto end = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (a->stats().jobs_cancelled == 0 &&
         std::chrono::steady_clock::now() < end) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_EQ(a->stats().jobs_cancelled, 1);
  EXPECT_EQ(Status(id).state(), "cancelled");
}

TEST_F(AgentTest, DrainFinishesTheCurrentJobAndReleasesTheQueue) {
  std::string id = Submit(Spec("[{name: a}]", 3, 400));
  WorkerAgent* a = StartAgent("w1", /*prefetch=*/3);
  // The first lease is one quant key's jobs (shots 0 and 1).
  ASSERT_TRUE(WaitFor(id, [](const auto& s) { return s.running() == 2; }));
  a->Drain();
  threads_.back().join();
  threads_.pop_back();
  auto st = Status(id);
  EXPECT_EQ(st.done(), 1);
  EXPECT_EQ(st.running(), 0);
  EXPECT_EQ(st.pending(), 5);
  EXPECT_EQ(a->stats().jobs_released, 1);
  // Released jobs did not spend an attempt.
  auto results = Results(id);
  for (const auto& jr : results.results()) {
    if (jr.state() == "pending") {
      EXPECT_EQ(jr.job().attempt(), 0);
    }
  }
}

TEST_F(AgentTest, ResultsSurviveACoordinatorOutage) {
  std::string id = Submit(Spec("[{name: a}]", 3, 700));
  WorkerAgent* a = StartAgent("w1");
  ASSERT_TRUE(WaitFor(id, [](const auto& s) { return s.running() == 1; }));
  server_->Shutdown();
  server_.reset();
  // The job finishes while the coordinator is down; the agent keeps it.
  std::this_thread::sleep_for(std::chrono::milliseconds(900));
  EXPECT_GE(a->stats().jobs_done, 1);
  StartServer();
  ASSERT_TRUE(WaitFor(id, [](const auto& s) { return s.done() == 6; }));
  auto r = Results(id);
  int done = 0;
  for (const auto& jr : r.results()) done += jr.state() == "done";
  EXPECT_EQ(done, 6);
}

TEST_F(AgentTest, AWorkerWithoutTheTokenIsRefused) {
  server_->Shutdown();
  server_.reset();
  opts_.auth_token = "s3cret";
  StartServer();
  absl::Status st;
  StartAgent("w1", 1, &st);
  threads_.back().join();
  threads_.pop_back();
  EXPECT_EQ(st.code(), absl::StatusCode::kUnauthenticated) << st;
  // With the token it works.
  rpc_.auth_token = "s3cret";
  std::string id = Submit(Spec("[{name: a}]", 3, 1));
  StartAgent("w2");
  EXPECT_TRUE(WaitFor(id, [](const auto& s) { return s.done() == 6; }));
}

}  // namespace
}  // namespace qgrid::worker
