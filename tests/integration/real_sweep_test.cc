// A real sweep end to end with real processes on 127.0.0.1: the stories260K
// LLaMA checkpoint (../shared) quantized with RTN and GPTQ (calibrated on
// WikiText-2 text windows and on ARC-Easy examples), evaluated on WikiText-2
// (rolling word perplexity) and ARC-Easy accuracy at 0 and 1 shots by two
// workers; plus a model with a corrupt checkpoint whose jobs fail after
// max_attempts with the loader's message while the rest of the sweep finishes.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>

#include "nlohmann/json.hpp"
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
  - {name: wiki, dataset: wikitext2, path: wikitext2/wiki.test.raw, samples: 8, seq_len: 64}
  - {name: arc, task: arc_easy, samples: 8, seq_len: 64}
tests:
  - {name: wiki, task: wikitext2, dataset: wikitext2}
  - {name: arc, task: arc_easy, limit: 16}
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
  // 12 stories260K jobs (rtn 1 x 2 tests x 2 shots + gptq 2 cal x 2 x 2)
  // and 4 broken ones; 3 + 1 quantizations.
  EXPECT_EQ(sub["summary"]["jobs"], "16");
  EXPECT_EQ(sub["summary"]["quantizations"], "4");
  int rc = RunQgrid({"watch", id, "--json", "--coordinator", addr}, dir, &out,
                    &err, 240000);
  ASSERT_NE(rc, -1) << "timed out; worker log:\n" << procs[1]->err();
  json st = json::parse(out);
  EXPECT_EQ(st["done"], "12") << st.dump() << procs[1]->err();
  EXPECT_EQ(st["dead"], "4") << st.dump();
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
  procs.clear();
  fs::remove_all(dir);
}

}  // namespace
}  // namespace qgrid::testing
