// The reproduction specs through the real `qgrid` binary: `qgrid submit
// --dry-run` prints, for every spec under specs/, the grid, job,
// quantization and evaluation counts its `# expect:` line states; the
// smallest specs/small/ spec runs end to end (`qgrid run`, the committed
// tiny model, ../shared/data). The other specs/small/ specs take minutes
// each on a loaded 2-core machine and run in bench/small_specs.sh.
#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <set>
#include <string>

#include "nlohmann/json.hpp"
#include "tests/spec_expect.h"
#include "tests/test_util.h"

namespace qgrid::cli {
namespace {

using json = nlohmann::json;
using ::qgrid::testing::ExpectedCounts;
using ::qgrid::testing::ReadAll;
using ::qgrid::testing::RunQgrid;
using ::qgrid::testing::SourceDir;
using ::qgrid::testing::SpecFiles;

TEST(SmallSpecs, DryRunPrintsTheCountsEverySpecStates) {
  for (const auto& f : SpecFiles()) {
    SCOPED_TRACE(f.string());
    auto want = ExpectedCounts(ReadAll(f), f.string());
    ASSERT_TRUE(want.ok()) << want.status();
    auto r = RunQgrid("submit --dry-run --json '" + f.string() + "'", true);
    ASSERT_EQ(r.code, 0) << r.out;
    json got = json::parse(r.out, nullptr, false);
    ASSERT_TRUE(got.is_object()) << r.out;
    for (const auto& [k, v] : *want) {
      EXPECT_EQ(got.value(k, int64_t{-1}), v) << k;
    }
    // The text form says the same.
    auto text = RunQgrid("submit --dry-run '" + f.string() + "'", true);
    ASSERT_EQ(text.code, 0) << text.out;
    EXPECT_NE(
        text.out.find("(" + std::to_string(want->at("grid_cells")) + " cells)"),
        std::string::npos)
        << text.out;
    EXPECT_NE(
        text.out.find(
            "jobs: " + std::to_string(want->at("jobs")) +
            "  quantizations: " + std::to_string(want->at("quantizations")) +
            "  evaluations: " + std::to_string(want->at("evaluations"))),
        std::string::npos)
        << text.out;
  }
}

// specs/small/table5_tiny.yaml: FP16 and SmoothQuant+GPTQ W8A8/W4A8/W3A8 of
// assets/qgrid-tiny, WikiText-2 perplexity (about a minute on 2 cores).
TEST(SmallSpecs, Table5SpecRunsEndToEnd) {
  QG_REQUIRE_SHARED(wiki, "data/wikitext2/wiki.test.raw");
  QG_REQUIRE_SHARED(advqa, "data/boss/advqa/train.json");
  const std::string data = ::qgrid::testing::SharedDir() + "/data";
  const std::string src = SourceDir();
  auto r = RunQgrid("run '" + src + "/specs/small/table5_tiny.yaml' --json " +
                    "--model-root '" + src + "/assets' --data-dir '" + data +
                    "' --data-dir '" + src + "/specs/paper'");
  ASSERT_EQ(r.code, 0) << r.out;
  json rows = json::parse(r.out, nullptr, false);
  ASSERT_TRUE(rows.is_array()) << r.out;
  std::set<int64_t> jobs;
  std::map<std::string, double> ppl;  // "method W bits" -> word ppl
  for (const auto& row : rows) {
    EXPECT_EQ(row["state"], "done") << row.dump();
    jobs.insert(row["job_id"].get<int64_t>());
    if (row["metric"] == "ppl" || row["metric"] == "word_perplexity") {
      ASSERT_TRUE(row["value"].is_number()) << row.dump();
      double v = row["value"].get<double>();
      EXPECT_TRUE(std::isfinite(v) && v > 1) << row.dump();
      ppl[row["method"].get<std::string>() + " W" + row["bits"].dump()] = v;
    }
  }
  EXPECT_EQ(jobs.size(), 4u);
  ASSERT_EQ(ppl.size(), 4u) << rows.dump(1);
  // 8-bit weights and activations leave the model's perplexity within 1%.
  const double fp = ppl.at("fp16 W16");
  EXPECT_NEAR(ppl.at("smoothquant+gptq W8"), fp, 0.01 * fp);
  for (const char* k : {"smoothquant+gptq W4", "smoothquant+gptq W3"}) {
    EXPECT_LT(ppl.at(k), 2 * fp) << k;
  }
}

}  // namespace
}  // namespace qgrid::cli
