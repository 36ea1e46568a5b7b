// One fixture for every Store: the in-memory fake, a fresh SQLite database
// and one migrated from schema version 1. They must agree on the job life
// cycle, first-valid-wins results, cache reuse and workers.
#include "db/store.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <functional>
#include <memory>

#include "db/memory_store.h"
#include "db/sqlite_store.h"
#include "tests/test_util.h"

namespace qgrid::db {
namespace {

struct StoreKind {
  std::string name;
  std::function<std::unique_ptr<Store>(const std::string& dir)> make;
};

std::unique_ptr<Store> MakeMigrated(const std::string& dir) {
  std::string path = dir + "/old.db";
  {
    SqliteStore::Options o;
    o.migrate_to = 1;
    auto old = SqliteStore::Open(path, o);
    EXPECT_TRUE(old.ok()) << old.status();
    EXPECT_EQ(*(*old)->SchemaVersion(), 1);
    // A sweep written by a version-1 coordinator must survive the upgrade.
    EXPECT_TRUE((*old)
                    ->ExecForTest("INSERT INTO sweeps VALUES('old', 'legacy', "
                                  "'x: 1', '{}', 1, 0)")
                    .ok());
  }
  auto s = SqliteStore::Open(path);
  EXPECT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(*(*s)->SchemaVersion(), LatestSchemaVersion());
  EXPECT_EQ((*s)->GetSweep("old")->name, "legacy");
  return std::move(*s);
}

class StoreTest : public ::testing::TestWithParam<StoreKind> {
 protected:
  void SetUp() override {
    dir_ = qgrid::testing::MakeTempDir("store");
    store_ = GetParam().make(dir_);
    ASSERT_NE(store_, nullptr);
  }
  void TearDown() override {
    store_.reset();
    std::filesystem::remove_all(dir_);
  }

  JobRecord Job(const std::string& content, const std::string& quant,
                int priority = 0, int max_attempts = 3) {
    JobRecord j;
    j.content_key = content;
    j.quant_key = quant;
    j.config_json = "{\"cell\":\"" + content + "\"}";
    j.priority = priority;
    j.max_attempts = max_attempts;
    return j;
  }

  // Creates sweep `id` with the given jobs; returns their ids.
  std::vector<int64_t> Sweep(const std::string& id,
                             const std::vector<JobRecord>& jobs,
                             bool use_cache = true) {
    SweepRecord s;
    s.id = id;
    s.name = id;
    s.spec_yaml = "name: " + id;
    s.summary_json = "{}";
    s.created_ms = 100;
    auto out = store_->CreateSweep(s, jobs, use_cache, 100);
    EXPECT_TRUE(out.ok()) << out.status();
    JobFilter f;
    f.sweep_id = id;
    std::vector<int64_t> ids;
    auto jobs = store_->ListJobs(f);
    EXPECT_TRUE(jobs.ok()) << jobs.status();
    for (const auto& j : *jobs) ids.push_back(j.id);
    return ids;
  }

  ResultRecord Res(double v) {
    ResultRecord r;
    r.metrics_json = "{\"ppl\":" + std::to_string(v) + "}";
    r.quant_report_json = r.efficiency_json = r.eval_json = "{}";
    return r;
  }

  std::string dir_;
  std::unique_ptr<Store> store_;
  RetryPolicy retry_{1000, 8000};
};

TEST_P(StoreTest, CreateSweepStoresIdenticalCellsOnce) {
  auto ids = Sweep("s1", {Job("a", "q1"), Job("b", "q1"), Job("a", "q1")});
  EXPECT_EQ(ids.size(), 2u);
  auto counts = *store_->CountJobs("s1");
  EXPECT_EQ(counts[JobState::kPending], 2);
  SweepRecord again;
  again.id = "s1";
  EXPECT_EQ(store_->CreateSweep(again, {}, true, 1).status().code(),
            absl::StatusCode::kAlreadyExists);
}

TEST_P(StoreTest, ClaimLeasesOnlyClaimableJobsAndCountsAttempts) {
  auto ids = Sweep("s", {Job("a", "q"), Job("b", "q")});
  auto got = *store_->ClaimJobs(ids, "w1", 1000, 5000);
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].state, JobState::kLeased);
  EXPECT_EQ(got[0].attempt, 1);
  EXPECT_EQ(got[0].worker_id, "w1");
  EXPECT_EQ(got[0].lease_expiry_ms, 5000);
  // Already leased: a second worker gets nothing.
  EXPECT_TRUE(store_->ClaimJobs(ids, "w2", 1001, 5000)->empty());
}

TEST_P(StoreTest, ReadyJobsComeByPriorityThenId) {
  auto ids = Sweep("s", {Job("a", "q", 0), Job("b", "q", 5), Job("c", "q", 0)});
  JobFilter f;
  f.ready_at_ms = 0;
  auto ready = *store_->ListJobs(f);
  ASSERT_EQ(ready.size(), 3u);
  EXPECT_EQ(ready[0].content_key, "b");
  EXPECT_EQ(ready[1].content_key, "a");
  f.limit = 1;
  f.offset = 1;
  EXPECT_EQ(store_->ListJobs(f)->at(0).content_key, "a");
}

TEST_P(StoreTest, ExpiredLeaseReturnsToPendingWithBackoffThenDies) {
  auto ids = Sweep("s", {Job("a", "q", 0, 2)});
  ASSERT_EQ(store_->ClaimJobs(ids, "w1", 0, 100)->size(), 1u);
  EXPECT_TRUE(store_->ExpireLeases(99, retry_)->empty());
  auto expired = *store_->ExpireLeases(100, retry_);
  ASSERT_EQ(expired.size(), 1u);
  EXPECT_EQ(expired[0].state, JobState::kPending);
  EXPECT_EQ(expired[0].not_before_ms, 100 + 1000);
  EXPECT_NE(expired[0].last_error.find("lease expired"), std::string::npos);
  // Backoff: not claimable before not_before.
  EXPECT_TRUE(store_->ClaimJobs(ids, "w2", 1099, 5000)->empty());
  ASSERT_EQ(store_->ClaimJobs(ids, "w2", 1100, 5000)->size(), 1u);
  auto dead = *store_->ExpireLeases(6000, retry_);
  ASSERT_EQ(dead.size(), 1u);
  EXPECT_EQ(dead[0].state, JobState::kDead);
  EXPECT_EQ(store_->GetJob(ids[0])->attempt, 2);
}

TEST_P(StoreTest, HeartbeatExtendsOnlyLeasesTheWorkerHolds) {
  auto ids = Sweep("s", {Job("a", "q"), Job("b", "q")});
  store_->ClaimJobs({ids[0]}, "w1", 0, 100).IgnoreError();
  store_->ClaimJobs({ids[1]}, "w2", 0, 100).IgnoreError();
  auto ext = *store_->ExtendLeases("w1", {{ids[0], 1}, {ids[1], 1}}, 900, 50);
  EXPECT_EQ(ext, std::vector<int64_t>{ids[0]});
  EXPECT_TRUE(store_->ExpireLeases(150, retry_)->size() == 1);  // only b
  EXPECT_EQ(store_->GetJob(ids[0])->state, JobState::kLeased);
  // Wrong attempt: not extended.
  EXPECT_TRUE(store_->ExtendLeases("w1", {{ids[0], 2}}, 990, 60)->empty());
  ASSERT_TRUE(store_->UpdateProgress(ids[0], 1, "w1", "quantize", 40, 70).ok());
  EXPECT_EQ(store_->GetJob(ids[0])->phase, "quantize");
  EXPECT_DOUBLE_EQ(store_->GetJob(ids[0])->percent, 40);
}

TEST_P(StoreTest, FirstValidResultWinsAndDuplicatesChangeNothing) {
  auto ids = Sweep("s", {Job("a", "q")});
  store_->ClaimJobs(ids, "w1", 0, 100).IgnoreError();
  // A worker that does not hold the job is refused.
  EXPECT_EQ(*store_->CompleteJob(ids[0], "w2", 1, Res(1), 10),
            ReportOutcome::kNotHolder);
  EXPECT_EQ(*store_->CompleteJob(ids[0], "w1", 1, Res(2), 10),
            ReportOutcome::kAccepted);
  EXPECT_EQ(*store_->CompleteJob(ids[0], "w1", 1, Res(3), 11),
            ReportOutcome::kDuplicate);
  EXPECT_EQ(*store_->CompleteJob(ids[0], "w2", 2, Res(4), 12),
            ReportOutcome::kStale);
  auto r = *store_->GetResult(ids[0]);
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->metrics_json, Res(2).metrics_json);
  EXPECT_EQ(store_->ListResults("s")->size(), 1u);
  EXPECT_EQ(store_->GetJob(ids[0])->state, JobState::kDone);
}

TEST_P(StoreTest, LateReportOfOwnAttemptIsAcceptedUntilSomeoneElseTakesIt) {
  auto ids = Sweep("s", {Job("a", "q"), Job("b", "q")});
  store_->ClaimJobs(ids, "w1", 0, 100).IgnoreError();
  store_->ExpireLeases(200, retry_).IgnoreError();  // both back to pending
  // Job a: nobody took it since; w1's late result is still good.
  EXPECT_EQ(*store_->CompleteJob(ids[0], "w1", 1, Res(1), 300),
            ReportOutcome::kAccepted);
  // Job b: w2 holds it now; w1's late report must not override.
  store_->ClaimJobs({ids[1]}, "w2", 5000, 9000).IgnoreError();
  EXPECT_EQ(*store_->CompleteJob(ids[1], "w1", 1, Res(1), 5001),
            ReportOutcome::kNotHolder);
  EXPECT_EQ(*store_->CompleteJob(ids[1], "w2", 2, Res(2), 5002),
            ReportOutcome::kAccepted);
}

TEST_P(StoreTest, FailureRetriesWithBackoffThenDiesWithLastError) {
  auto ids = Sweep("s", {Job("a", "q", 0, 2)});
  store_->ClaimJobs(ids, "w1", 0, 100).IgnoreError();
  EXPECT_EQ(
      store_->FailJob(ids[0], "w2", 1, "x", false, 5, retry_).status().code(),
      absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(*store_->FailJob(ids[0], "w1", 1, "oom", false, 10, retry_),
            JobState::kFailed);
  EXPECT_EQ(store_->GetJob(ids[0])->not_before_ms, 1010);
  EXPECT_TRUE(store_->ClaimJobs(ids, "w1", 1009, 5000)->empty());
  ASSERT_EQ(store_->ClaimJobs(ids, "w1", 1010, 5000)->size(), 1u);
  EXPECT_EQ(*store_->FailJob(ids[0], "w1", 2, "oom again", false, 20, retry_),
            JobState::kDead);
  EXPECT_EQ(store_->GetJob(ids[0])->last_error, "oom again");
}

TEST_P(StoreTest, PermanentFailureIsDeadAtOnce) {
  auto ids = Sweep("s", {Job("a", "q", 0, 5)});
  store_->ClaimJobs(ids, "w1", 0, 100).IgnoreError();
  EXPECT_EQ(*store_->FailJob(ids[0], "w1", 1, "bad path", true, 10, retry_),
            JobState::kDead);
}

TEST_P(StoreTest, ReleaseGivesTheAttemptBack) {
  auto ids = Sweep("s", {Job("a", "q")});
  store_->ClaimJobs(ids, "w1", 0, 100).IgnoreError();
  ASSERT_TRUE(store_->ReleaseJob(ids[0], "w1", 1, 10).ok());
  auto j = *store_->GetJob(ids[0]);
  EXPECT_EQ(j.state, JobState::kPending);
  EXPECT_EQ(j.attempt, 0);
  EXPECT_FALSE(store_->ReleaseJob(ids[0], "w1", 1, 11).ok());
}

TEST_P(StoreTest, CancelThenRetrySweep) {
  auto ids = Sweep("s", {Job("a", "q"), Job("b", "q"), Job("c", "q")});
  store_->ClaimJobs({ids[0]}, "w1", 0, 100).IgnoreError();
  store_->CompleteJob(ids[0], "w1", 1, Res(1), 5).IgnoreError();
  store_->ClaimJobs({ids[1]}, "w1", 0, 100).IgnoreError();
  EXPECT_EQ(*store_->CancelSweep("s", 10), 2);  // the leased and the pending
  EXPECT_TRUE(store_->GetSweep("s")->cancelled);
  EXPECT_EQ(store_->GetJob(ids[1])->state, JobState::kCancelled);
  // A report for a cancelled job changes nothing.
  EXPECT_EQ(*store_->CompleteJob(ids[1], "w1", 1, Res(1), 11),
            ReportOutcome::kStale);
  EXPECT_EQ(*store_->RetrySweep("s", 20), 2);
  auto counts = *store_->CountJobs("s");
  EXPECT_EQ(counts[JobState::kPending], 2);
  EXPECT_EQ(counts[JobState::kDone], 1);
  EXPECT_EQ(store_->CancelSweep("nope", 1).status().code(),
            absl::StatusCode::kNotFound);
}

TEST_P(StoreTest, ResubmissionReusesFinishedResultsUnlessNoCache) {
  auto ids = Sweep("s1", {Job("a", "q"), Job("b", "q")});
  store_->ClaimJobs({ids[0]}, "w1", 0, 100).IgnoreError();
  store_->CompleteJob(ids[0], "w1", 1, Res(7), 5).IgnoreError();
  auto ids2 = Sweep("s2", {Job("a", "q"), Job("b", "q")});
  auto counts = *store_->CountJobs("s2");
  EXPECT_EQ(counts[JobState::kDone], 1);
  EXPECT_EQ(counts[JobState::kPending], 1);
  auto results = *store_->ListResults("s2");
  ASSERT_EQ(results.size(), 1u);
  EXPECT_EQ(results[0].metrics_json, Res(7).metrics_json);
  Sweep("s3", {Job("a", "q")}, /*use_cache=*/false);
  EXPECT_EQ((*store_->CountJobs("s3"))[JobState::kPending], 1);
}

TEST_P(StoreTest, WorkersAndArtifactsRoundTrip) {
  WorkerRecord w;
  w.id = "w1";
  w.name = "gpu0";
  w.device = "cuda:0";
  w.memory_bytes = 80;
  w.held_quant_keys = {"q1", "q2"};
  w.last_heartbeat_ms = 7;
  w.consecutive_failures = 2;
  ASSERT_TRUE(store_->UpsertWorker(w).ok());
  w.quarantined = true;
  ASSERT_TRUE(store_->UpsertWorker(w).ok());
  auto got = *store_->GetWorker("w1");
  EXPECT_EQ(got.name, "gpu0");
  EXPECT_EQ(got.held_quant_keys, w.held_quant_keys);
  EXPECT_TRUE(got.quarantined);
  EXPECT_EQ(store_->ListWorkers()->size(), 1u);
  EXPECT_EQ(store_->GetWorker("nope").status().code(),
            absl::StatusCode::kNotFound);
  ASSERT_TRUE(store_->RecordArtifact("q1", "w1", "mem", 1).ok());
  ASSERT_TRUE(store_->RecordArtifact("q1", "w1", "mem", 2).ok());
  EXPECT_EQ(*store_->ArtifactHolders("q1"), std::vector<std::string>{"w1"});
}

INSTANTIATE_TEST_SUITE_P(
    AllStores, StoreTest,
    ::testing::Values(
        StoreKind{"Memory",
                  [](const std::string&) -> std::unique_ptr<Store> {
                    return std::make_unique<MemoryStore>();
                  }},
        StoreKind{"SqliteFresh",
                  [](const std::string& dir) -> std::unique_ptr<Store> {
                    auto s = SqliteStore::Open(dir + "/fresh.db");
                    EXPECT_TRUE(s.ok()) << s.status();
                    return s.ok() ? std::move(*s) : nullptr;
                  }},
        StoreKind{"SqliteMigrated", MakeMigrated}),
    [](const auto& info) { return info.param.name; });

TEST(SqliteStore, SurvivesReopenAndRefusesNewerSchema) {
  std::string dir = qgrid::testing::MakeTempDir("store-reopen");
  std::string path = dir + "/q.db";
  {
    auto s = *SqliteStore::Open(path);
    SweepRecord sw;
    sw.id = "s";
    JobRecord j;
    j.content_key = "a";
    j.quant_key = "q";
    ASSERT_TRUE(s->CreateSweep(sw, {j}, true, 1).ok());
    JobFilter f;
    ASSERT_EQ(s->ClaimJobs({s->ListJobs(f)->at(0).id}, "w", 1, 9)->size(), 1u);
  }
  {
    auto s = *SqliteStore::Open(path);
    JobFilter f;
    auto jobs = *s->ListJobs(f);
    ASSERT_EQ(jobs.size(), 1u);
    EXPECT_EQ(jobs[0].state, JobState::kLeased);
    ASSERT_TRUE(s->ExecForTest("UPDATE schema_version SET version=999").ok());
  }
  auto s = SqliteStore::Open(path);
  EXPECT_EQ(s.status().code(), absl::StatusCode::kFailedPrecondition);
  std::filesystem::remove_all(dir);
}

// The coordinator holds the database's lock for its lifetime (exclusive
// locking mode): a second coordinator on the same file is refused instead of
// interleaving claims with the first.
TEST(SqliteStore, ASecondOpenerOfTheSameFileIsRefused) {
  std::string dir = qgrid::testing::MakeTempDir("store-lock");
  std::string path = dir + "/q.db";
  auto first = SqliteStore::Open(path);
  ASSERT_TRUE(first.ok()) << first.status();
  SqliteStore::Options o;
  o.busy_timeout_ms = 100;
  auto second = SqliteStore::Open(path, o);
  EXPECT_FALSE(second.ok());
  if (!second.ok()) {
    EXPECT_NE(second.status().message().find("locked"), std::string::npos)
        << second.status();
  }
  SweepRecord sw;
  sw.id = "s";
  JobRecord j;
  j.content_key = "a";
  j.quant_key = "q";
  EXPECT_TRUE((*first)->CreateSweep(sw, {j}, true, 1).ok());
  first->reset();
  // Free once the first closes; and an existing database is locked as well.
  auto third = SqliteStore::Open(path, o);
  ASSERT_TRUE(third.ok()) << third.status();
  EXPECT_FALSE(SqliteStore::Open(path, o).ok());
  std::filesystem::remove_all(dir);
}

TEST(SqliteStore, UnopenablePathIsAnError) {
  auto s = SqliteStore::Open("/nonexistent-dir/x/q.db");
  EXPECT_FALSE(s.ok());
}

}  // namespace
}  // namespace qgrid::db
