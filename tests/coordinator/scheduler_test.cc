// The scheduler with a fake clock over the in-memory store: leases, expiry,
// retries, affinity, quarantine, cancellation, restart.
#include "coordinator/scheduler.h"

#include <gtest/gtest.h>

#include "db/memory_store.h"

namespace qgrid::coordinator {
namespace {

using db::JobState;

class SchedulerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    opts_.lease_ms = 10000;
    opts_.worker_quiet_ms = 15000;
    opts_.affinity_grace_ms = 1000;
    opts_.affinity_batch = 2;
    opts_.quarantine_after = 3;
    opts_.retry = db::RetryPolicy{500, 4000};
    Restart();
  }
  void Restart() {
    auto s = Scheduler::Create(&store_, &clock_, opts_);
    ASSERT_TRUE(s.ok()) << s.status();
    sched_ = std::move(*s);
  }

  // Sweep "s" with jobs named by quant key: {"A", 3} = 3 jobs of key A.
  void MakeSweep(const std::vector<std::pair<std::string, int>>& keys,
                 int max_attempts = 3, const std::string& id = "s") {
    std::vector<db::JobRecord> jobs;
    for (const auto& [key, n] : keys) {
      for (int i = 0; i < n; ++i) {
        db::JobRecord j;
        j.quant_key = key;
        j.content_key = id + key + std::to_string(i);
        j.config_json = "{}";
        j.max_attempts = max_attempts;
        jobs.push_back(j);
      }
    }
    db::SweepRecord s;
    s.id = id;
    ASSERT_TRUE(store_.CreateSweep(s, jobs, true, clock_.NowMs()).ok());
  }

  std::string Register(const std::string& name) {
    auto w = sched_->RegisterWorker(name, "cpu", 0, {});
    EXPECT_TRUE(w.ok()) << w.status();
    return w->id;
  }

  std::vector<db::JobRecord> Lease(const std::string& w, int n,
                                   std::vector<std::string> held = {}) {
    auto r = sched_->Lease(w, held, n);
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? r->jobs : std::vector<db::JobRecord>{};
  }

  db::ResultRecord Res() {
    db::ResultRecord r;
    r.metrics_json = "{\"ppl\":1}";
    return r;
  }

  db::MemoryStore store_;
  FakeClock clock_;
  SchedulerOptions opts_;
  std::unique_ptr<Scheduler> sched_;
};

TEST_F(SchedulerTest, LeaseExpiresWithoutHeartbeatAndComesBackAfterBackoff) {
  MakeSweep({{"A", 1}});
  std::string w1 = Register("w1"), w2 = Register("w2");
  auto got = Lease(w1, 4);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].attempt, 1);
  EXPECT_TRUE(Lease(w2, 4).empty());
  clock_.Advance(opts_.lease_ms + 1);
  EXPECT_EQ(*sched_->ExpireLeases(), 1);
  EXPECT_EQ(store_.GetJob(got[0].id)->state, JobState::kPending);
  // Backoff of the first retry: 500 ms. w1 went quiet, so w2 may take over.
  EXPECT_TRUE(Lease(w2, 4).empty());
  clock_.Advance(500);
  auto again = Lease(w2, 4);
  ASSERT_EQ(again.size(), 1u);
  EXPECT_EQ(again[0].attempt, 2);
  EXPECT_EQ(again[0].worker_id, w2);
}

TEST_F(SchedulerTest, HeartbeatsKeepLeasesAliveAndReportProgress) {
  MakeSweep({{"A", 1}});
  std::string w1 = Register("w1");
  auto got = Lease(w1, 1);
  ASSERT_EQ(got.size(), 1u);
  for (int i = 0; i < 5; ++i) {
    clock_.Advance(opts_.lease_ms / 2);
    auto hb = sched_->Heartbeat(w1, {{got[0].id, 1, "quantize", 20.0 * i}}, {});
    ASSERT_TRUE(hb.ok());
    ASSERT_EQ(hb->extended.size(), 1u);
    EXPECT_TRUE(hb->cancelled.empty());
    EXPECT_EQ(*sched_->ExpireLeases(), 0);
  }
  EXPECT_EQ(store_.GetJob(got[0].id)->phase, "quantize");
  EXPECT_EQ(*sched_->ReportResult(w1, got[0].id, 1, Res()),
            db::ReportOutcome::kAccepted);
  EXPECT_EQ(store_.GetJob(got[0].id)->state, JobState::kDone);
}

TEST_F(SchedulerTest, FailuresRetryWithBackoffThenDieWithTheLastError) {
  MakeSweep({{"A", 1}}, /*max_attempts=*/2);
  std::string w1 = Register("w1");
  auto a = Lease(w1, 1);
  ASSERT_EQ(a.size(), 1u);
  EXPECT_EQ(*sched_->ReportFailure(w1, a[0].id, 1, "cuda oom", false),
            JobState::kFailed);
  EXPECT_TRUE(Lease(w1, 1).empty());  // backing off
  clock_.Advance(500);
  auto b = Lease(w1, 1);
  ASSERT_EQ(b.size(), 1u);
  EXPECT_EQ(*sched_->ReportFailure(w1, b[0].id, 2, "cuda oom again", false),
            JobState::kDead);
  EXPECT_EQ(store_.GetJob(a[0].id)->last_error, "cuda oom again");
  clock_.Advance(100000);
  EXPECT_TRUE(Lease(w1, 1).empty());
}

TEST_F(SchedulerTest, AWorkerKeepsItsQuantKeyAndOthersStartOtherKeys) {
  MakeSweep({{"A", 5}, {"B", 2}});
  std::string w1 = Register("w1"), w2 = Register("w2");
  auto first = Lease(w1, 4);
  // A new key comes in batches of affinity_batch (2).
  ASSERT_EQ(first.size(), 2u);
  EXPECT_EQ(first[0].quant_key, "A");
  EXPECT_EQ(first[1].quant_key, "A");
  // A is being quantized by w1: w2 must start B, not quantize A too.
  auto second = Lease(w2, 4);
  ASSERT_EQ(second.size(), 2u);
  EXPECT_EQ(second[0].quant_key, "B");
  // w1, still on A, keeps getting A's jobs.
  auto third = Lease(w1, 4, {"A"});
  ASSERT_EQ(third.size(), 3u);
  for (const auto& j : third) EXPECT_EQ(j.quant_key, "A");
}

TEST_F(SchedulerTest, HeldKeysComeFirst) {
  MakeSweep({{"A", 2}, {"B", 2}});
  std::string w1 = Register("w1");
  // w1 already holds B's quantized model: B first, although A is older.
  auto got = Lease(w1, 1, {"B"});
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].quant_key, "B");
}

TEST_F(SchedulerTest, AQuietOwnerLosesItsKey) {
  MakeSweep({{"A", 4}});
  std::string w1 = Register("w1"), w2 = Register("w2");
  ASSERT_EQ(Lease(w1, 1).size(), 1u);
  EXPECT_TRUE(Lease(w2, 1).empty());  // reserved for w1
  // w2 keeps heartbeating; w1 does not.
  clock_.Advance(opts_.worker_quiet_ms + 1);
  ASSERT_TRUE(sched_->Heartbeat(w2, {}, {}).ok());
  auto got = Lease(w2, 4);
  EXPECT_FALSE(got.empty());
  for (const auto& j : got) EXPECT_EQ(j.quant_key, "A");
}

TEST_F(SchedulerTest, ReleasedKeyIsFreeAtOnceAndTheAttemptIsNotSpent) {
  MakeSweep({{"A", 1}});
  std::string w1 = Register("w1"), w2 = Register("w2");
  auto got = Lease(w1, 1);
  ASSERT_EQ(got.size(), 1u);
  ASSERT_TRUE(sched_->Release(w1, got[0].id, 1).ok());
  auto again = Lease(w2, 1);
  ASSERT_EQ(again.size(), 1u);
  EXPECT_EQ(again[0].attempt, 1);
}

TEST_F(SchedulerTest, WorkerIsQuarantinedAfterConsecutiveFailures) {
  MakeSweep({{"A", 1}, {"B", 1}, {"C", 1}, {"D", 1}, {"E", 1}}, 5);
  std::string w1 = Register("w1");
  // A success resets the count.
  auto j = Lease(w1, 1);
  ASSERT_TRUE(sched_->ReportFailure(w1, j[0].id, 1, "x", false).ok());
  j = Lease(w1, 1);
  ASSERT_EQ(*sched_->ReportResult(w1, j[0].id, j[0].attempt, Res()),
            db::ReportOutcome::kAccepted);
  for (int i = 0; i < 3; ++i) {
    clock_.Advance(5000);  // past any backoff
    j = Lease(w1, 1);
    ASSERT_EQ(j.size(), 1u) << i;
    ASSERT_TRUE(
        sched_->ReportFailure(w1, j[0].id, j[0].attempt, "bad gpu", false)
            .ok());
  }
  auto r = sched_->Lease(w1, {}, 1);
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->quarantined);
  EXPECT_TRUE(r->jobs.empty());
  auto views = sched_->Workers();
  ASSERT_EQ(views.size(), 1u);
  EXPECT_TRUE(views[0].record.quarantined);
  EXPECT_EQ(views[0].record.consecutive_failures, 3);
  // The quarantine is durable.
  EXPECT_TRUE(store_.GetWorker(w1)->quarantined);
}

TEST_F(SchedulerTest, CancellationReachesRunningJobsThroughHeartbeats) {
  MakeSweep({{"A", 2}});
  std::string w1 = Register("w1");
  auto got = Lease(w1, 1);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(*sched_->CancelSweep("s"), 2);
  auto hb = sched_->Heartbeat(w1, {{got[0].id, 1, "eval", 50}}, {});
  ASSERT_TRUE(hb.ok());
  EXPECT_EQ(hb->cancelled, std::vector<int64_t>{got[0].id});
  EXPECT_TRUE(hb->extended.empty());
  EXPECT_EQ(*sched_->ReportResult(w1, got[0].id, 1, Res()),
            db::ReportOutcome::kStale);
  EXPECT_TRUE(Lease(w1, 4).empty());
  EXPECT_EQ(*sched_->RetrySweep("s"), 2);
  EXPECT_EQ(Lease(w1, 4).size(), 2u);
}

TEST_F(SchedulerTest, AnotherWorkersJobCannotBeReported) {
  MakeSweep({{"A", 1}});
  std::string w1 = Register("w1"), w2 = Register("w2");
  auto got = Lease(w1, 1);
  EXPECT_EQ(*sched_->ReportResult(w2, got[0].id, 1, Res()),
            db::ReportOutcome::kNotHolder);
  EXPECT_FALSE(sched_->ReportFailure(w2, got[0].id, 1, "x", false).ok());
  EXPECT_EQ(sched_->ReportResult("ghost", got[0].id, 1, Res()).status().code(),
            absl::StatusCode::kNotFound);
}

TEST_F(SchedulerTest, ARestartedSchedulerKeepsLeasesAndReservations) {
  MakeSweep({{"A", 3}});
  std::string w1 = Register("w1"), w2 = Register("w2");
  auto got = Lease(w1, 1);
  ASSERT_EQ(got.size(), 1u);
  Restart();
  // w1 is still registered and its key still reserved.
  ASSERT_TRUE(sched_->Heartbeat(w1, {{got[0].id, 1, "eval", 10}}, {}).ok());
  EXPECT_TRUE(Lease(w2, 1).empty());
  EXPECT_EQ(*sched_->ReportResult(w1, got[0].id, 1, Res()),
            db::ReportOutcome::kAccepted);
}

}  // namespace
}  // namespace qgrid::coordinator
