// One calibration path (worker/quantize_cell.h): the same model
// (assets/qgrid-tiny), method (GPTQ W4 g32), calibration file
// (tests/eval/fixtures/handmade_prose.txt, 8 windows of 64 tokens) and seed
// through `qgrid quantize --out`, `qgrid eval --method` and a one-cell sweep
// (spec -> expansion -> leased job -> the real worker executor with a disk
// cache) give bit-identical quantized weights and the same perplexity to
// the last digit. Real computation, ~1 min on one core.
#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>

#include "coordinator/service.h"
#include "coordinator/sweep_spec.h"
#include "nlohmann/json.hpp"
#include "quant/export.h"
#include "tests/test_util.h"
#include "worker/disk_cache.h"
#include "worker/quantize_cell.h"
#include "worker/real_executor.h"

namespace qgrid::worker {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

class NullControl : public JobControl {
 public:
  void SetProgress(const std::string&, double) override {}
  bool Cancelled() const override { return false; }
};

std::string WeightsOf(const std::string& dir) {
  auto lm = quant::LoadModel(dir, model::LoadOptions{});
  EXPECT_TRUE(lm.ok()) << dir << ": " << lm.status();
  return lm.ok() ? LinearWeightsSha256(**lm) : "";
}

TEST(CalibrationPaths, QuantizeEvalAndSweepGiveTheSameWeights) {
  const std::string assets = testing::SourceDir() + "/assets";
  const std::string tiny = assets + "/qgrid-tiny";
  const std::string fx = testing::SourceDir() + "/tests/eval/fixtures";
  if (!fs::exists(tiny + "/config.json")) GTEST_SKIP() << "needs " << tiny;
  const std::string dir = testing::MakeTempDir("calib-paths");
  const std::string method = "--method gptq --bits 4 --group-size 32";
  const std::string task =
      "--task " + fx + "/handmade_prose_ppl.yaml --data-dir " + fx;

  // 1. qgrid quantize --out (its older flag spellings: --calib-text, --seed).
  auto q = testing::RunQgrid("quantize --json --model " + tiny + " " + method +
                             " --calib-text " + fx +
                             "/handmade_prose.txt --calib-samples 8 "
                             "--calib-seq-len 64 --seed 7 --out " +
                             dir + "/q");
  ASSERT_EQ(q.code, 0) << q.out;
  const json qrep = json::parse(q.out);
  const std::string h_quantize = qrep["weights_sha256"];
  auto qe = testing::RunQgrid("eval --json --model " + dir + "/q " + task);
  ASSERT_EQ(qe.code, 0) << qe.out;
  const double ppl_quantize =
      json::parse(qe.out)["results"]["handmade_prose_ppl"]["perplexity,none"];

  // 2. qgrid eval --method (quantized in memory).
  auto e = testing::RunQgrid("eval --json --model " + tiny + " " + task + " " +
                             method + " --calib " + fx +
                             "/handmade_prose.txt --calib-samples 8 "
                             "--calib-seq-len 64 --calib-seed 7");
  ASSERT_EQ(e.code, 0) << e.out;
  const json ej = json::parse(e.out);
  const std::string h_eval = ej["quantization"]["weights_sha256"];
  const double ppl_eval =
      ej["results"]["handmade_prose_ppl"]["perplexity,none"];

  // 3. A one-cell sweep, run by the worker's real executor.
  auto spec = coordinator::ParseSweepSpec(R"(name: one-cell
models: [{name: tiny, path: qgrid-tiny, dtype: float32}]
methods: [{name: gptq, bits: 4, group_size: 32}]
calibration:
  - {name: prose, path: handmade_prose.txt, samples: 8, seq_len: 64, seed: 7}
tests: [{name: ppl, task: handmade_prose_ppl.yaml}]
)",
                                          "one-cell.yaml");
  ASSERT_TRUE(spec.ok()) << spec.status();
  auto grid = coordinator::ExpandGrid(*spec);
  ASSERT_TRUE(grid.ok()) << grid.status();
  ASSERT_EQ(grid->jobs.size(), 1u);
  db::JobRecord rec;
  rec.id = 1;
  rec.quant_key = grid->jobs[0].quant_key;
  rec.config_json = grid->jobs[0].config.dump();
  qgrid::v1::Job job;
  coordinator::FillJob(rec, &job);
  RealExecutorOptions o;
  o.cache_dir = dir + "/cache";
  o.model_roots = {assets};
  o.data_dirs = {fx};
  auto ex = MakeRealExecutor(o);
  ASSERT_TRUE(ex.ok()) << ex.status();
  NullControl ctl;
  auto out = (*ex)->Run(job, &ctl);
  ASSERT_TRUE(out.ok()) << out.status();
  const json srep = json::parse(out->quant_report_json);
  const std::string h_sweep = srep["weights_sha256"];
  const double ppl_sweep = out->metrics.at("perplexity");

  std::printf(
      "weights sha256: quantize %s\n                eval     %s\n"
      "                sweep    %s\nperplexity: quantize --out + eval "
      "%.17g, eval --method %.17g, sweep %.17g\n",
      h_quantize.c_str(), h_eval.c_str(), h_sweep.c_str(), ppl_quantize,
      ppl_eval, ppl_sweep);
  EXPECT_EQ(h_quantize, h_eval);
  EXPECT_EQ(h_quantize, h_sweep);
  EXPECT_EQ(ppl_quantize, ppl_eval);
  EXPECT_EQ(ppl_quantize, ppl_sweep);
  // The same calibration record everywhere.
  EXPECT_EQ(qrep["calibration"], ej["quantization"]["calibration"]);
  EXPECT_EQ(qrep["calibration"], srep["calibration"]);
  // The stored artifacts hold those weights too: the --out export and the
  // worker's disk-cache entry load back to the same bits.
  EXPECT_EQ(WeightsOf(dir + "/q"), h_quantize);
  auto cache = DiskCache::Open({dir + "/cache", 0});
  ASSERT_TRUE(cache.ok()) << cache.status();
  auto entry = (*cache)->Lookup(job.quant_key());
  ASSERT_TRUE(entry.ok()) << entry.status();
  EXPECT_EQ(WeightsOf(entry->dir), h_sweep);
  fs::remove_all(dir);
}

}  // namespace
}  // namespace qgrid::worker
