// The Prometheus view of the coordinator (coordinator/metrics.h) over the
// scheduler with a fake clock and the in-memory store: it reports what the
// scheduler actually did.
#include "coordinator/metrics.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "db/memory_store.h"
#include "tests/test_util.h"

namespace qgrid::coordinator {
namespace {

class MetricsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    SchedulerOptions o;
    o.lease_ms = 10000;
    o.worker_quiet_ms = 15000;
    o.affinity_batch = 4;
    o.quarantine_after = 2;
    auto s = Scheduler::Create(&store_, &clock_, o);
    ASSERT_TRUE(s.ok()) << s.status();
    sched_ = std::move(*s);
    std::vector<db::JobRecord> jobs;
    for (int i = 0; i < 6; ++i) {
      db::JobRecord j;
      j.quant_key = i < 4 ? "A" : "B";
      j.content_key = "c" + std::to_string(i);
      j.config_json = "{}";
      jobs.push_back(j);
    }
    db::SweepRecord sw;
    sw.id = "s";
    ASSERT_TRUE(store_.CreateSweep(sw, jobs, true, clock_.NowMs()).ok());
  }

  std::string Render() {
    auto m = RenderMetrics(&store_, sched_.get());
    EXPECT_TRUE(m.ok()) << m.status();
    return m.ok() ? *m : "";
  }
  static bool Has(const std::string& text, const std::string& line) {
    std::istringstream in(text);
    for (std::string l; std::getline(in, l);) {
      if (l == line) return true;
    }
    return false;
  }

  db::MemoryStore store_;
  FakeClock clock_;
  std::unique_ptr<Scheduler> sched_;
};

TEST_F(MetricsTest, ReportsJobsWorkersAndWhatTheSchedulerDid) {
  std::string before = Render();
  EXPECT_TRUE(Has(before, "qgrid_jobs{state=\"pending\"} 6")) << before;
  EXPECT_TRUE(Has(before, "qgrid_jobs_dispatched_total 0")) << before;
  EXPECT_TRUE(Has(before, "# TYPE qgrid_jobs_dispatched_total counter"));

  auto a = sched_->RegisterWorker("a", "cpu", 0, {});
  auto b = sched_->RegisterWorker("b", "cpu", 0, {});
  ASSERT_TRUE(a.ok() && b.ok());
  auto la = sched_->Lease(a->id, {}, 4);  // all four jobs of key A
  ASSERT_TRUE(la.ok());
  ASSERT_EQ(la->jobs.size(), 4u);
  db::ResultRecord r;
  r.metrics_json = "{\"ppl\":1}";
  const auto& j0 = la->jobs[0];
  ASSERT_TRUE(sched_->ReportResult(a->id, j0.id, j0.attempt, r).ok());
  ASSERT_TRUE(sched_->ReportResult(a->id, j0.id, j0.attempt, r).ok());  // dup
  for (int i = 1; i < 3; ++i) {
    const auto& j = la->jobs[i];
    ASSERT_TRUE(
        sched_->ReportFailure(a->id, j.id, j.attempt, "oom", false).ok());
  }
  // b takes key B, then goes quiet: its lease expires.
  auto lb = sched_->Lease(b->id, {}, 4);
  ASSERT_TRUE(lb.ok());
  ASSERT_EQ(lb->jobs.size(), 2u);
  // a keeps j3 alive with heartbeats (at 5 s and 12 s; leases last 10 s).
  const auto& j3 = la->jobs[3];
  for (int64_t step : {5000, 7000}) {
    clock_.Advance(step);
    ASSERT_TRUE(
        sched_->Heartbeat(a->id, {{j3.id, j3.attempt, "eval", 50}}, {}).ok());
  }
  clock_.Advance(4000);  // 16 s: b is quiet (15 s)
  auto expired = sched_->ExpireLeases();
  ASSERT_TRUE(expired.ok());

  std::string m = Render();
  EXPECT_TRUE(Has(m, "qgrid_jobs{state=\"done\"} 1")) << m;
  EXPECT_TRUE(Has(m, "qgrid_jobs{state=\"failed\"} 2")) << m;
  // j3 still leased by a (it heartbeats), b's two jobs back to pending.
  EXPECT_TRUE(Has(m, "qgrid_jobs{state=\"leased\"} 1")) << m;
  EXPECT_TRUE(Has(m, "qgrid_jobs{state=\"pending\"} 2")) << m;
  EXPECT_TRUE(Has(m, "qgrid_jobs_dispatched_total 6")) << m;
  EXPECT_TRUE(Has(m, "qgrid_lease_calls_total 2")) << m;
  EXPECT_TRUE(Has(m, "qgrid_results_accepted_total 1")) << m;
  EXPECT_TRUE(Has(m, "qgrid_results_ignored_total 1")) << m;
  EXPECT_TRUE(Has(m, "qgrid_job_failures_total 2")) << m;
  EXPECT_TRUE(Has(m, "qgrid_leases_expired_total 2")) << m;
  // a failed twice in a row: quarantined; b went quiet.
  EXPECT_TRUE(Has(m, "qgrid_quarantines_total 1")) << m;
  EXPECT_TRUE(Has(m, "qgrid_workers{status=\"quarantined\"} 1")) << m;
  EXPECT_TRUE(Has(m, "qgrid_workers{status=\"quiet\"} 1")) << m;
  EXPECT_TRUE(Has(m, "qgrid_sweeps{status=\"active\"} 1")) << m;
  // 6 dispatches 16 s ago are inside the last minute.
  EXPECT_TRUE(Has(m, "qgrid_dispatch_rate 0.1")) << m;
  clock_.Advance(61000);
  EXPECT_TRUE(Has(Render(), "qgrid_dispatch_rate 0")) << Render();
}

TEST_F(MetricsTest, TheFileIsReplacedWhole) {
  std::string dir = testing::MakeTempDir("metrics");
  std::string path = dir + "/qgrid.prom";
  ASSERT_TRUE(WriteMetricsFile(&store_, sched_.get(), path).ok());
  std::ifstream in(path);
  std::string text((std::istreambuf_iterator<char>(in)), {});
  EXPECT_TRUE(Has(text, "qgrid_jobs{state=\"pending\"} 6")) << text;
  EXPECT_FALSE(std::filesystem::exists(path + ".tmp"));
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace qgrid::coordinator
