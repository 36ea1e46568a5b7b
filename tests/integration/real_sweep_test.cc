// A real sweep end to end with real processes on 127.0.0.1: the stories260K
// LLaMA checkpoint (../shared) quantized with RTN and GPTQ (calibrated on
// WikiText-2 text windows and on ARC-Easy examples), evaluated on WikiText-2
// (rolling word perplexity) and ARC-Easy accuracy at 0 and 1 shots by two
// workers; plus a model with a corrupt checkpoint whose jobs fail after
// max_attempts with the loader's message while the rest of the sweep finishes.
// The result tables' statistics (standard errors, paired bootstrap CIs
// against the I.I.D cell) are checked against a recomputation from the
// per-item scores the coordinator stored.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>

#include "coordinator/results_table.h"
#include "coordinator/stats.h"
#include "db/sqlite_store.h"
#include "nlohmann/json.hpp"
#include "rpc/coordinator_client.h"
#include "tests/integration/proc_util.h"
#include "tests/test_util.h"

namespace qgrid::testing {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

TEST(RealSweep, TinyModelRtnAndGptqOnTwoCalibrationAndTwoTestSets) {
  QG_REQUIRE_SHARED(model_dir, "models/stories260K");
  QG_REQUIRE_SHARED(wiki, "data/wikitext2/wiki.test.raw");
  QG_REQUIRE_SHARED(arc, "data/arc_easy/arc_easy.jsonl");
  std::string dir = MakeTempDir("real");
  // Data root: a 24 KB slice of WikiText-2 (keeps perplexity jobs to a
  // second) and ARC-Easy.
  fs::create_directories(dir + "/data/wikitext2");
  fs::create_directories(dir + "/data/arc_easy");
  {
    std::string text = Slurp(wiki).substr(0, 24000);
    std::ofstream(dir + "/data/wikitext2/wiki.test.raw") << text;
    fs::copy_file(arc, dir + "/data/arc_easy/arc_easy.jsonl");
  }
  // Model roots: ../shared/models and one with a corrupt checkpoint.
  fs::create_directories(dir + "/models/broken");
  fs::copy_file(model_dir + "/config.json", dir + "/models/broken/config.json");
  std::ofstream(dir + "/models/broken/model.safetensors")
      << "this is not a safetensors file";
  std::string models_root = fs::path(model_dir).parent_path().string();
  std::ofstream(dir + "/spec.yaml") << R"(name: real
models:
  - {name: stories260K, path: stories260K, dtype: float32}
  - {name: broken, path: broken}
methods:
  - {name: rtn, bits: 4, group_size: -1}
  - {name: gptq, bits: 4, group_size: -1}
calibration:
  - {name: wiki, dataset: wikitext2, path: wikitext2/wiki.test.raw, samples: 8, seq_len: 64, domain: wiki}
  - {name: arc, task: arc_easy, samples: 8, seq_len: 64, domain: arc}
tests:
  - {name: wiki, task: wikitext2, dataset: wikitext2, domain: wiki}
  - {name: arc, task: arc_easy, limit: 16, domain: arc}
  - {name: wiki_windows, task: wikitext2_gptq, seq_len: 128, domain: wiki}
shots: [0, 1]
exclude:
  - {model: broken, method: gptq}
max_attempts: 2
)";
  std::vector<std::unique_ptr<Proc>> procs;
  procs.push_back(std::make_unique<Proc>(
      std::vector<std::string>{"coordinator", "--db", dir + "/q.db", "--listen",
                               "127.0.0.1:0", "--lease-ms", "20000",
                               "--heartbeat-ms", "200", "--retry-base-ms",
                               "100", "--quarantine-after", "100"},
      dir, "coord"));
  std::string addr = WaitForAddress(*procs[0]);
  ASSERT_FALSE(addr.empty()) << procs[0]->err();
  for (const char* name : {"wA", "wB"}) {
    procs.push_back(std::make_unique<Proc>(
        std::vector<std::string>{"worker", "--coordinator", addr, "--name",
                                 name, "--model-root", models_root,
                                 "--model-root", dir + "/models", "--data-dir",
                                 dir + "/data"},
        dir, name));
  }
  std::string out, err;
  ASSERT_EQ(
      RunQgrid({"submit", dir + "/spec.yaml", "--coordinator", addr, "--json"},
               dir, &out, &err),
      0)
      << err;
  json sub = json::parse(out);
  std::string id = sub["sweep_id"];
  // 18 stories260K jobs (rtn 1 x 3 tests x 2 shots + gptq 2 cal x 3 x 2)
  // and 6 broken ones; 3 + 1 quantizations.
  EXPECT_EQ(sub["summary"]["jobs"], "24");
  EXPECT_EQ(sub["summary"]["quantizations"], "4");
  int rc = RunQgrid({"watch", id, "--json", "--coordinator", addr}, dir, &out,
                    &err, 240000);
  ASSERT_NE(rc, -1) << "timed out; worker log:\n" << procs[1]->err();
  json st = json::parse(out);
  EXPECT_EQ(st["done"], "18") << st.dump() << procs[1]->err();
  EXPECT_EQ(st["dead"], "6") << st.dump();
  ASSERT_TRUE(st.contains("errors"));
  // The corrupt checkpoint's jobs carry the loader's message.
  for (const auto& e : st["errors"]) {
    EXPECT_NE(e.get<std::string>().find("broken"), std::string::npos) << e;
  }

  ASSERT_EQ(RunQgrid({"results", id, "--format", "json", "--coordinator", addr},
                     dir, &out, &err),
            0)
      << err;
  json rows = json::parse(out);
  std::map<std::string, double> ppl, acc;  // "method/cal/shots" -> value
  for (const auto& r : rows) {
    if (r["state"] != "done") continue;
    std::string key = r["method"].get<std::string>() + "/" +
                      r["calibration"].get<std::string>() + "/" +
                      std::to_string(r["shots"].get<int>());
    if (r["test"] == "wiki" && r["metric"] == "word_perplexity")
      ppl[key] = r["value"];
    if (r["test"] == "arc" && r["metric"] == "acc") acc[key] = r["value"];
  }
  ASSERT_EQ(ppl.size(), 6u) << out;
  ASSERT_EQ(acc.size(), 6u) << out;
  for (const auto& [k, v] : ppl) {
    EXPECT_TRUE(std::isfinite(v) && v > 1) << k << " " << v;
  }
  for (const auto& [k, v] : acc) EXPECT_TRUE(v >= 0 && v <= 1) << k;
  // Calibration matters: GPTQ's two calibration sets give two models.
  EXPECT_NE(ppl["gptq/wiki/0"], ppl["gptq/arc/0"]);
  // Perplexity does not depend on shots: the same quantized model (reused
  // from the cache by quant key) gives the same number.
  EXPECT_DOUBLE_EQ(ppl["rtn/-/0"], ppl["rtn/-/1"]);
  ASSERT_EQ(RunQgrid({"results", id, "--coordinator", addr}, dir, &out, &err),
            0);
  EXPECT_NE(out.find("stories260K | gptq W4 | 0-shot"), std::string::npos)
      << out;
  // Statistics in the table: standard errors, item counts, the differences
  // from the I.I.D cell with their CIs, and the summary's verdicts.
  EXPECT_NE(out.find(" ± "), std::string::npos) << out;
  EXPECT_NE(out.find("arc (acc_norm ↑) n=16"), std::string::npos) << out;
  EXPECT_NE(out.find("Δ vs I.I.D [95% CI]"), std::string::npos) << out;
  EXPECT_NE(out.find("ties within noise in"), std::string::npos) << out;
  // WikiText-2 rolling is one document (the whole file): no interval from
  // one item; its GPTQ-style windows have them.
  EXPECT_NE(out.find("wiki_windows (ppl ↓) n="), std::string::npos) << out;
  EXPECT_NE(out.find("n/a (no per-item scores, or under 2 items) in 2"),
            std::string::npos)
      << out;
  // The raw results carry the per-item scores only when asked (qgrid report
  // asks; qgrid results, whose table has used them, does not).
  {
    rpc::RpcOptions ro;
    ro.address = addr;
    rpc::CoordinatorClient client(ro);
    for (bool with : {false, true}) {
      auto r = client.GetResults(id, "", "table", with);
      ASSERT_TRUE(r.ok()) << r.status();
      int with_items = 0, done = 0;
      for (const auto& jr : r->results()) {
        if (jr.state() != "done") continue;
        ++done;
        with_items +=
            json::parse(jr.result().eval_json()).contains("items") ? 1 : 0;
      }
      EXPECT_GT(done, 0);
      EXPECT_EQ(with_items, with ? done : 0) << "with_items " << with;
    }
  }
  procs.clear();

  // Recompute from what the coordinator stored: every done job's eval_json
  // carries its items; the tidy rows' n, stderr and CIs must follow.
  auto store = db::SqliteStore::Open(dir + "/q.db");
  ASSERT_TRUE(store.ok()) << store.status();
  auto results = (*store)->ListResults(id);
  ASSERT_TRUE(results.ok()) << results.status();
  std::map<int64_t, json> items_of;  // job -> {metric: items}
  for (const auto& r : *results) {
    json e = json::parse(r.eval_json);
    ASSERT_TRUE(e.contains("items")) << "job " << r.job_id;
    items_of[r.job_id] = e["items"].begin().value();
  }
  ASSERT_EQ(items_of.size(), 18u);
  using coordinator::ParseItemScores;
  // tidy row of (method, cal, test, shots, metric).
  auto tidy = [&](const std::string& method, const std::string& cal,
                  const std::string& test, int shots,
                  const std::string& metric) -> json {
    for (const auto& r : rows) {
      if (r["method"] == method && r["calibration"] == cal &&
          r["test"] == test && r["shots"] == shots && r["metric"] == metric)
        return r;
    }
    return json();
  };
  int checked = 0;
  for (int shots : {0, 1}) {
    for (const auto& [test, metric] :
         std::vector<std::pair<std::string, std::string>>{
             {"arc", "acc"}, {"arc", "acc_norm"}, {"wiki_windows", "ppl"}}) {
      const std::string iid_cal = test == "arc" ? "arc" : "wiki";
      const std::string ood_cal = test == "arc" ? "wiki" : "arc";
      json ti = tidy("gptq", iid_cal, test, shots, metric);
      json to = tidy("gptq", ood_cal, test, shots, metric);
      ASSERT_FALSE(ti.is_null() || to.is_null()) << test << " " << metric;
      // The GPTQ-style perplexity is stored as "perplexity" (ppl its alias).
      const std::string key = metric == "ppl" ? "perplexity" : metric;
      auto si = ParseItemScores(items_of[ti["job_id"]][key], "iid");
      auto so = ParseItemScores(items_of[to["job_id"]][key], "ood");
      ASSERT_TRUE(si.ok() && so.ok()) << si.status() << so.status();
      // The items reproduce the metric eval/ aggregated (perplexity: NLLs
      // rounded to 1e-4 nats).
      EXPECT_NEAR(si->Value(), ti["value"].get<double>(),
                  1e-6 * ti["value"].get<double>())
          << test << " " << metric;
      if (test == "arc") {
        EXPECT_EQ(si->n(), 16u);
      } else {
        EXPECT_GT(si->n(), 20u);  // windows of 128 tokens in 24 KB
      }
      EXPECT_EQ(ti["n"], si->n());
      EXPECT_DOUBLE_EQ(ti["stderr"].get<double>(), coordinator::Stderr(*si));
      auto boot = coordinator::BootstrapValues({&*si, &*so},
                                               coordinator::kBootstrapResamples,
                                               coordinator::kBootstrapSeed);
      ASSERT_TRUE(boot.ok()) << boot.status();
      coordinator::PairedDiff d =
          coordinator::DiffInterval(*si, (*boot)[0], *so, (*boot)[1]);
      EXPECT_TRUE(ti["ci_low"].is_null());  // the I.I.D cell itself
      EXPECT_DOUBLE_EQ(to["diff_vs_iid"].get<double>(), d.diff);
      EXPECT_DOUBLE_EQ(to["ci_low"].get<double>(), d.ci_low);
      EXPECT_DOUBLE_EQ(to["ci_high"].get<double>(), d.ci_high);
      EXPECT_EQ(to["significant"].get<bool>(), d.significant);
      EXPECT_LE(d.ci_low, d.ci_high);
      ++checked;
    }
  }
  EXPECT_EQ(checked, 6);
  // The one-document rolling perplexity: n = 1, no stderr, no interval.
  json one = tidy("gptq", "arc", "wiki", 0, "word_perplexity");
  EXPECT_EQ(one["n"], 1);
  EXPECT_TRUE(one["stderr"].is_null());
  EXPECT_TRUE(one["ci_low"].is_null());
  fs::remove_all(dir);
}

}  // namespace
}  // namespace qgrid::testing
