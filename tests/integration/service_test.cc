// End-to-end tests of the sweep service with REAL processes of the built
// `qgrid` binary on 127.0.0.1: a coordinator, workers that are killed with
// SIGKILL mid-job, a coordinator killed and restarted mid-sweep, malformed
// specs and unauthenticated clients. Synthetic jobs (no model work) with
// short leases keep each test to a few seconds.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <set>

#include "nlohmann/json.hpp"
#include "tests/integration/proc_util.h"
#include "tests/test_util.h"

namespace qgrid::testing {
namespace {

using json = nlohmann::json;

class ServiceTest : public ::testing::Test {
 protected:
  void SetUp() override { dir_ = MakeTempDir("svc"); }
  void TearDown() override {
    procs_.clear();  // kills whatever is left
    std::filesystem::remove_all(dir_);
  }

  std::string Write(const std::string& name, const std::string& text) {
    std::string p = dir_ + "/" + name;
    std::ofstream(p) << text;
    return p;
  }

  Proc* StartCoordinator(const std::string& listen = "127.0.0.1:0",
                         std::vector<std::string> extra = {}) {
    std::vector<std::string> args = {"coordinator",  "--db",
                                     dir_ + "/q.db", "--listen",
                                     listen,         "--lease-ms",
                                     "1000",         "--heartbeat-ms",
                                     "100",          "--retry-base-ms",
                                     "100",          "--retry-max-ms",
                                     "400",          "--quarantine-after",
                                     "100"};
    args.insert(args.end(), extra.begin(), extra.end());
    procs_.push_back(std::make_unique<Proc>(
        args, dir_, "coord" + std::to_string(procs_.size())));
    Proc* p = procs_.back().get();
    addr_ = WaitForAddress(*p);
    EXPECT_FALSE(addr_.empty()) << p->err();
    return p;
  }

  Proc* StartWorker(const std::string& name,
                    std::vector<std::string> extra = {}) {
    std::vector<std::string> args = {"worker", "--coordinator", addr_, "--name",
                                     name};
    args.insert(args.end(), extra.begin(), extra.end());
    procs_.push_back(std::make_unique<Proc>(args, dir_, name));
    return procs_.back().get();
  }

  int Qgrid(std::vector<std::string> args, std::string* out,
            std::string* err = nullptr) {
    args.push_back("--coordinator");
    args.push_back(addr_);
    return RunQgrid(args, dir_, out, err);
  }

  std::string Submit(const std::string& spec_text) {
    std::string out, err;
    int rc =
        Qgrid({"submit", Write("spec.yaml", spec_text), "--json"}, &out, &err);
    EXPECT_EQ(rc, 0) << err;
    json j = json::parse(out, nullptr, false);
    EXPECT_TRUE(j.is_object()) << out;
    return j.is_object() ? j.value("sweep_id", "") : "";
  }

  json Status(const std::string& id) {
    std::string out;
    if (Qgrid({"status", id, "--json"}, &out) != 0) return json();
    json j = json::parse(out, nullptr, false);
    return j.is_object() ? j["status"] : json();
  }

  // Blocks in `qgrid watch` until the sweep is no longer active; returns its
  // final status. (Each qgrid process costs a libtorch load, so tests wait
  // with one watch rather than polling status.)
  json Watch(const std::string& id, int timeout_ms = 60000) {
    std::string out, err;
    std::vector<std::string> args = {"watch", id, "--json", "--coordinator",
                                     addr_};
    int rc = RunQgrid(args, dir_, &out, &err, timeout_ms);
    EXPECT_NE(rc, -1) << "watch timed out";
    json j = json::parse(out, nullptr, false);
    EXPECT_TRUE(j.is_object()) << out << err;
    return j;
  }

  // Waits (bounded) until `needle` occurs `times` times in a process's log.
  static bool WaitForLog(const Proc* p, const std::string& needle,
                         int times = 1, int timeout_ms = 30000) {
    auto end = std::chrono::steady_clock::now() +
               std::chrono::milliseconds(timeout_ms);
    while (std::chrono::steady_clock::now() < end) {
      std::string e = p->err();
      int n = 0;
      for (size_t at = e.find(needle); at != std::string::npos;
           at = e.find(needle, at + 1)) {
        ++n;
      }
      if (n >= times) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return false;
  }

  static int64_t N(const json& st, const char* k) {
    if (!st.is_object() || !st.contains(k)) return -1;
    const json& v = st[k];
    // proto3 JSON writes int64 as strings.
    return v.is_string() ? std::stoll(v.get<std::string>()) : v.get<int64_t>();
  }

  json Results(const std::string& id) {
    std::string out, err;
    EXPECT_EQ(Qgrid({"results", id, "--format", "json"}, &out, &err), 0) << err;
    return json::parse(out, nullptr, false);
  }

  // Every job done exactly once: one row per (job, metric), two metrics.
  void ExpectExactlyOneResultPerJob(const json& rows, int jobs) {
    ASSERT_TRUE(rows.is_array());
    std::set<std::pair<int64_t, std::string>> seen;
    std::set<int64_t> job_ids;
    for (const auto& r : rows) {
      EXPECT_EQ(r["state"], "done") << r.dump();
      EXPECT_TRUE(seen.insert({r["job_id"].get<int64_t>(),
                               r["metric"].get<std::string>()})
                      .second)
          << "duplicate " << r.dump();
      job_ids.insert(r["job_id"].get<int64_t>());
    }
    EXPECT_EQ(static_cast<int>(job_ids.size()), jobs);
    EXPECT_EQ(static_cast<int>(rows.size()), jobs * 2);
  }

  static std::string Spec(int duration_ms, int max_attempts = 3,
                          const std::string& extra_test = "") {
    return "name: it\nkind: synthetic\nmodels: [{name: m}]\n"
           "methods:\n  - {name: rtn, bits: [4, 3]}\n"
           "  - {name: gptq, bits: [4, 3]}\n"
           "calibration:\n  - {name: wiki, dataset: wiki}\n"
           "  - {name: c4, dataset: c4}\n"
           "tests:\n  - {name: wiki, task: wiki}\n  - {name: c4, task: c4}\n" +
           extra_test +
           "shots: [0, 1]\nmax_attempts: " + std::to_string(max_attempts) +
           "\nsynthetic: {duration_ms: " + std::to_string(duration_ms) +
           ", quantize_ms: 20}\n";
  }
  // rtn: 2 bits x 2 tests x 2 shots = 8; gptq: 2 x 2 cal x 2 x 2 = 16.
  static constexpr int kJobs = 24;

  std::string dir_, addr_;
  std::vector<std::unique_ptr<Proc>> procs_;
};

TEST_F(ServiceTest, CoordinatorAndTwoWorkersRunASweepToTheExpectedCount) {
  StartCoordinator();
  StartWorker("wA");
  StartWorker("wB");
  std::string id = Submit(Spec(50));
  ASSERT_FALSE(id.empty());
  json st = Watch(id);
  EXPECT_EQ(st.value("state", ""), "finished");
  EXPECT_EQ(N(st, "done"), kJobs);
  json rows = Results(id);
  ExpectExactlyOneResultPerJob(rows, kJobs);
  std::set<std::string> workers;
  for (const auto& r : rows) {
    workers.insert(r["worker"].get<std::string>().substr(0, 2));
  }
  EXPECT_EQ(workers, (std::set<std::string>{"wA", "wB"}));
  std::string out;
  ASSERT_EQ(Qgrid({"results", id, "--format", "markdown"}, &out), 0);
  EXPECT_NE(out.find("I.I.D calibration is best in"), std::string::npos) << out;
  EXPECT_NE(out.find("†"), std::string::npos);
  // Re-submitting the same spec reuses every finished result.
  std::string err;
  ASSERT_EQ(
      Qgrid({"submit", Write("again.yaml", Spec(50)), "--json"}, &out, &err), 0)
      << err;
  json again = json::parse(out);
  EXPECT_EQ(N(again["summary"], "cached"), kJobs);
}

TEST_F(ServiceTest, AWorkerKilledMidJobLosesItAndAnotherFinishesIt) {
  StartCoordinator();
  std::string id = Submit(Spec(400));
  Proc* a = StartWorker("wA");
  ASSERT_TRUE(WaitForLog(a, ": start ("));
  std::this_thread::sleep_for(std::chrono::milliseconds(150));
  a->Kill(SIGKILL);
  StartWorker("wB");
  json st = Watch(id);
  EXPECT_EQ(N(st, "done"), kJobs);
  json rows = Results(id);
  ExpectExactlyOneResultPerJob(rows, kJobs);
  // The job wA held when it died was finished by wB on a later attempt.
  bool retried_elsewhere = false;
  for (const auto& r : rows) {
    if (r["attempt"].get<int>() >= 2 &&
        r["worker"].get<std::string>().rfind("wB", 0) == 0) {
      retried_elsewhere = true;
    }
  }
  EXPECT_TRUE(retried_elsewhere);
}

TEST_F(ServiceTest, ACoordinatorKilledMidSweepRestartsAndLosesNothing) {
  Proc* coord = StartCoordinator();
  std::string port_addr = addr_;
  std::string id = Submit(Spec(150));
  Proc* a = StartWorker("wA");
  StartWorker("wB");
  ASSERT_TRUE(WaitForLog(a, ": done", 3));
  coord->Kill(SIGKILL);
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  StartCoordinator(port_addr);
  ASSERT_EQ(addr_, port_addr);
  json st = Watch(id);
  EXPECT_EQ(N(st, "done"), kJobs);
  ExpectExactlyOneResultPerJob(Results(id), kJobs);
}

TEST_F(ServiceTest, AFailingJobDiesAfterMaxAttemptsAndTheRestFinishes) {
  StartCoordinator();
  StartWorker("wA");
  StartWorker("wB");
  std::string id = Submit(
      Spec(20, 2,
           "  - {name: broken, task: wiki, fail: 'corrupt checkpoint: bad "
           "header'}\n"));
  // broken adds 4 (rtn) + 8 (gptq) jobs.
  json st = Watch(id);
  EXPECT_EQ(N(st, "done"), kJobs);
  EXPECT_EQ(N(st, "dead"), 12);
  ASSERT_TRUE(st.contains("errors") && !st["errors"].empty()) << st.dump();
  EXPECT_NE(st["errors"][0].get<std::string>().find("corrupt checkpoint"),
            std::string::npos);
  std::string out;
  ASSERT_EQ(Qgrid({"retry", id}, &out), 0);
  EXPECT_NE(out.find("12 jobs requeued"), std::string::npos) << out;
}

TEST_F(ServiceTest, MalformedSpecsAndUnauthenticatedCallersAreRefused) {
  std::string bad = Write("bad.yaml",
                          "name: x\nmodels: [{name: m, path: p}]\n"
                          "methods:\n  - {name: gtpq, bits: 4}\n"
                          "tests: [{name: t, task: x}]\n");
  std::string out, err;
  EXPECT_EQ(RunQgrid({"submit", bad, "--dry-run"}, dir_, &out, &err), 2);
  EXPECT_NE(err.find("bad.yaml:4:12: methods[0]: unknown method 'gtpq'"),
            std::string::npos)
      << err;
  std::string token = Write("token", "t0ps3cret\n");
  StartCoordinator("127.0.0.1:0", {"--auth-token-file", token});
  Proc* w = StartWorker("wA");
  // No token: refused.
  EXPECT_EQ(Qgrid({"status"}, &out, &err), 3);
  EXPECT_NE(err.find("bearer token"), std::string::npos) << err;
  // With the token, a malformed spec is refused by the coordinator with its
  // position, before anything is stored.
  std::string yaml_err = Write("broken.yaml", "models: [\n  {name: a\n");
  EXPECT_EQ(Qgrid({"submit", yaml_err, "--auth-token-file", token}, &out, &err),
            2);
  EXPECT_NE(err.find("broken.yaml:3:"), std::string::npos) << err;
  EXPECT_NE(w->Wait(15000), 0);
  EXPECT_NE(w->err().find("bearer token"), std::string::npos) << w->err();
}

TEST_F(ServiceTest, SigtermDrainsAWorker) {
  StartCoordinator();
  std::string id = Submit(Spec(300));
  Proc* a = StartWorker("wA");
  ASSERT_TRUE(WaitForLog(a, ": start ("));
  a->Kill(SIGTERM);
  EXPECT_EQ(a->Wait(10000), 0) << a->err();
  EXPECT_NE(a->err().find("draining"), std::string::npos);
  json st = Status(id);
  EXPECT_EQ(N(st, "running"), 0);  // finished or given back, never a zombie
  EXPECT_GE(N(st, "done"), 1);
  EXPECT_EQ(N(st, "done") + N(st, "pending"), kJobs);
}

}  // namespace
}  // namespace qgrid::testing
