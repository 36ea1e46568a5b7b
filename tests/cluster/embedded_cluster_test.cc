// The embedded cluster with synthetic executors: a sweep runs to the end on
// its local workers and its results come back through its client; Drain
// ends the workers; bad options fail with nothing left running.
#include "cluster/embedded_cluster.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "nlohmann/json.hpp"
#include "tests/test_util.h"
#include "worker/synthetic_executor.h"

namespace qgrid::cluster {
namespace {

std::vector<std::unique_ptr<worker::JobExecutor>> Synthetic(int n) {
  std::vector<std::unique_ptr<worker::JobExecutor>> v;
  for (int i = 0; i < n; ++i) {
    v.push_back(std::make_unique<worker::SyntheticExecutor>());
  }
  return v;
}

EmbeddedClusterOptions Options(const std::string& dir) {
  EmbeddedClusterOptions o;
  o.db_path = dir + "/q.db";
  o.scheduler.lease_ms = 5000;
  o.scheduler.heartbeat_ms = 100;
  o.scheduler.idle_retry_ms = 20;
  o.agent.max_idle_poll_ms = 50;
  return o;
}

constexpr char kSpec[] =
    "kind: synthetic\nmodels: [{name: m}]\n"
    "methods: [{name: rtn, bits: [2, 3]}]\n"
    "tests: [{name: a, split: a}, {name: b, split: b}]\nshots: [0]\n"
    "synthetic: {duration_ms: 5, quantize_ms: 5}\n";

TEST(EmbeddedCluster, RunsASweepOnItsLocalWorkersAndReturnsItsResults) {
  std::string dir = qgrid::testing::MakeTempDir("cluster");
  auto c = EmbeddedCluster::Start(Options(dir), Synthetic(2));
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ((*c)->workers(), 2);
  EXPECT_EQ((*c)->live_workers(), 2);
  EXPECT_EQ((*c)->address().rfind("127.0.0.1:", 0), 0u) << (*c)->address();

  auto sub = (*c)->client().Submit({kSpec, "t.yaml", false, 0});
  ASSERT_TRUE(sub.ok()) << sub.status();
  EXPECT_EQ(sub->summary().jobs(), 4);
  int polls = 0;
  auto st = (*c)->client().WaitForSweep(
      sub->sweep_id(), [&](const v1::SweepStatus&) { ++polls; }, nullptr, 20);
  ASSERT_TRUE(st.ok()) << st.status();
  EXPECT_EQ(st->state(), "finished");
  EXPECT_EQ(st->done(), 4);
  EXPECT_GE(polls, 1);

  auto res = (*c)->client().GetResults(sub->sweep_id(), "", "json");
  ASSERT_TRUE(res.ok()) << res.status();
  auto rows = nlohmann::json::parse(res->rendered());
  ASSERT_TRUE(rows.is_array());
  // Every job reported the synthetic executor's metrics for its cell.
  std::set<std::string> tests;
  for (const auto& r : rows) tests.insert(r.value("test", ""));
  EXPECT_EQ(tests, (std::set<std::string>{"a", "b"}));
  EXPECT_GE(rows.size(), 4u);

  (*c)->Stop();
  EXPECT_EQ((*c)->live_workers(), 0);
  (*c)->Stop();  // idempotent
  std::filesystem::remove_all(dir);
}

TEST(EmbeddedCluster, DrainEndsEveryLocalWorker) {
  std::string dir = qgrid::testing::MakeTempDir("cluster");
  auto c = EmbeddedCluster::Start(Options(dir), Synthetic(3));
  ASSERT_TRUE(c.ok()) << c.status();
  (*c)->Drain();
  for (int i = 0; i < 200 && (*c)->live_workers() > 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_EQ((*c)->live_workers(), 0);
  std::filesystem::remove_all(dir);
}

TEST(EmbeddedCluster, RefusesNoWorkersAndAnUnopenableStore) {
  std::string dir = qgrid::testing::MakeTempDir("cluster");
  auto none = EmbeddedCluster::Start(Options(dir), Synthetic(0));
  EXPECT_EQ(none.status().code(), absl::StatusCode::kInvalidArgument);
  EmbeddedClusterOptions bad = Options(dir);
  bad.db_path = dir + "/no/such/dir/q.db";
  auto c = EmbeddedCluster::Start(bad, Synthetic(1));
  EXPECT_FALSE(c.ok());
  std::filesystem::remove_all(dir);
}

TEST(EmbeddedCluster, WithoutADbPathUsesAFreshTemporaryFile) {
  EmbeddedClusterOptions o = Options("");
  o.db_path.clear();
  auto a = EmbeddedCluster::Start(o, Synthetic(1));
  ASSERT_TRUE(a.ok()) << a.status();
  auto b = EmbeddedCluster::Start(o, Synthetic(1));
  ASSERT_TRUE(b.ok()) << b.status();
  std::string pa = (*a)->db_path(), pb = (*b)->db_path();
  EXPECT_EQ(pa.rfind("/tmp/qgrid-run-", 0), 0u) << pa;
  EXPECT_NE(pa, pb);
  auto sub = (*a)->client().Submit({kSpec, "t.yaml", false, 0});
  ASSERT_TRUE(sub.ok()) << sub.status();
  (*a)->Stop();
  (*b)->Stop();
  // The results stay readable after Stop().
  EXPECT_TRUE(std::filesystem::exists(pa));
  std::filesystem::remove_all(std::filesystem::path(pa).parent_path());
  std::filesystem::remove_all(std::filesystem::path(pb).parent_path());
}

}  // namespace
}  // namespace qgrid::cluster
