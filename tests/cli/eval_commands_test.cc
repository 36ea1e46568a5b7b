// Runs the real `qgrid eval` binary on the committed assets/qgrid-tiny
// model and the hand-made fixture tests/eval/fixtures/handmade_prose.txt:
// plain, quantized in memory (RTN W3, GPTQ W3 calibrated on a text file),
// and the error paths (missing data, unknown task, no calibration).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <string>
#include <vector>

#include "nlohmann/json.hpp"
#include "tests/test_util.h"

namespace qgrid {
namespace {

using ::testing::HasSubstr;
using testing::RunQgrid;
using json = nlohmann::json;

std::string Fixtures() { return testing::SourceDir() + "/tests/eval/fixtures"; }

// `qgrid eval` on the tiny model and the hand-made prose, extra flags added.
std::string EvalArgs(const std::string& extra) {
  return "eval --json --model " + testing::SourceDir() +
         "/assets/qgrid-tiny --task " + Fixtures() +
         "/handmade_prose_ppl.yaml --data-dir " + Fixtures() + " " + extra;
}

double Ppl(const json& j) {
  return j["results"]["handmade_prose_ppl"]["perplexity,none"].get<double>();
}

TEST(EvalCommand, QuantizesInMemoryAndW3RtnIsWorseThanFp) {
  testing::QgridResult fp = RunQgrid(EvalArgs(""));
  ASSERT_EQ(fp.code, 0) << fp.out;
  json a = json::parse(fp.out);
  EXPECT_EQ(a["n-shot"]["handmade_prose_ppl"], 0);
  EXPECT_EQ(a["configs"]["handmade_prose_ppl"]["output_type"], "perplexity");
  EXPECT_EQ(a["config"]["model"], "qgrid");  // the run, as lm-eval's
  EXPECT_GT(a["n-samples"]["handmade_prose_ppl"]["effective"], 0);
  EXPECT_FALSE(a.contains("quantization"));
  const double ppl_fp = Ppl(a);
  ASSERT_TRUE(std::isfinite(ppl_fp));
  EXPECT_GT(ppl_fp, 1.0);

  testing::QgridResult rtn =
      RunQgrid(EvalArgs("--method rtn --bits 3 --group-size 64"));
  ASSERT_EQ(rtn.code, 0) << rtn.out;
  json b = json::parse(rtn.out);
  EXPECT_EQ(b["quantization"]["config"]["method"], "rtn");
  EXPECT_EQ(b["quantization"]["config"]["w_bits"], 3);
  EXPECT_EQ(b["quantization"]["config"]["group_size"], 64);
  EXPECT_FALSE(b["quantization"].contains("calibration"));
  // Linear layers only, lm_head left at 16 bits: 6144 x 192 of the 2.75M
  // linear weights (43%), so the average is about 0.57 x 3.5 + 0.43 x 16.
  EXPECT_LT(b["quantization"]["avg_bits_per_param"].get<double>(), 10.0);
  EXPECT_GT(b["quantization"]["avg_bits_per_param"].get<double>(), 3.0);
  const double ppl_rtn = Ppl(b);
  // qgrid-tiny has no outlier features, so W3 g64 costs ~2% here (153.9 ->
  // 157.0 when written); per-channel W2 must cost more than W3 g64 (161.4).
  // (On this 2.5 kB text W2 g64 happened to land between fp and W3.)
  EXPECT_GT(ppl_rtn, ppl_fp * 1.001) << "fp " << ppl_fp << " rtn " << ppl_rtn;
  testing::QgridResult w2 =
      RunQgrid(EvalArgs("--method rtn --bits 2 --group-size -1"));
  ASSERT_EQ(w2.code, 0) << w2.out;
  EXPECT_GT(Ppl(json::parse(w2.out)), ppl_rtn);

  // GPTQ calibrated on a text file through --calib; a config file and a
  // flag that overrides it.
  testing::QgridResult gptq = RunQgrid(EvalArgs(
      "--quant-config " + Fixtures() + "/gptq_w4.yaml --bits 3 --calib " +
      Fixtures() + "/handmade_prose.txt --calib-samples 8 --calib-seq-len 64"));
  ASSERT_EQ(gptq.code, 0) << gptq.out;
  json c = json::parse(gptq.out);
  EXPECT_EQ(c["quantization"]["config"]["method"], "gptq");
  EXPECT_EQ(c["quantization"]["config"]["w_bits"], 3);
  EXPECT_EQ(c["quantization"]["calibration"]["samples"], 8);
  EXPECT_EQ(c["quantization"]["calibration"]["seq_len"], 64);
  EXPECT_THAT(c["quantization"]["calibration"]["source"].get<std::string>(),
              HasSubstr("handmade_prose.txt"));
  const double ppl_gptq = Ppl(c);
  EXPECT_GT(std::fabs(ppl_gptq - ppl_fp), 1e-6 * ppl_fp);
  // Calibrated on the evaluated text itself, GPTQ recovers RTN's loss (it
  // may even fit that text slightly better than fp).
  EXPECT_LT(ppl_gptq, ppl_rtn) << "gptq " << ppl_gptq << " rtn " << ppl_rtn;
}

TEST(EvalCommand, MissingDataNamesTaskAndFileAndFails) {
  testing::QgridResult r = RunQgrid(
      "eval --model " + testing::SourceDir() + "/assets/qgrid-tiny --task " +
          Fixtures() + "/handmade_prose_ppl.yaml --data-dir /nonexistent-qgrid",
      true);
  EXPECT_NE(r.code, 0);
  EXPECT_THAT(r.out, HasSubstr("handmade_prose_ppl"));
  EXPECT_THAT(r.out, HasSubstr("handmade_prose.txt"));
}

TEST(EvalCommand, UnknownTaskFailsBeforeLoadingTheModel) {
  // The model path does not exist either: the task error must come first.
  testing::QgridResult r =
      RunQgrid("eval --model /nonexistent-model --task no_such_task_x", true);
  EXPECT_EQ(r.code, 2);
  EXPECT_THAT(r.out, HasSubstr("no_such_task_x"));
}

TEST(EvalCommand, CalibratedMethodWithoutCalibrationIsAUsageError) {
  testing::QgridResult r =
      RunQgrid(EvalArgs("--method gptq --bits 4 --group-size 64"), true);
  EXPECT_EQ(r.code, 2);
  EXPECT_THAT(r.out, HasSubstr("--calib"));
  testing::QgridResult bad = RunQgrid(EvalArgs("--method nosuchmethod"), true);
  EXPECT_EQ(bad.code, 2);
  EXPECT_THAT(bad.out, HasSubstr("nosuchmethod"));
}

// --dump-requests writes the requests, one lm-eval Instance per line, with
// no model (tests/conformance/test_requests.py compares them with lm-eval).
TEST(EvalCommand, DumpRequestsWritesEveryRequestWithoutAModel) {
  const std::string dir = testing::MakeTempDir("dump");
  const std::string out = dir + "/requests.jsonl";
  testing::QgridResult r =
      RunQgrid("eval --task hellaswag --data-dir " + testing::SourceDir() +
                   "/tests/eval/data --shots 1 --dump-requests " + out,
               true);
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_THAT(r.out, HasSubstr("wrote 8 requests"));
  std::ifstream f(out);
  std::vector<json> lines;
  for (std::string l; std::getline(f, l);) lines.push_back(json::parse(l));
  ASSERT_EQ(lines.size(), 8u);  // 2 documents x 4 endings
  EXPECT_EQ(lines[0]["task"], "hellaswag");
  EXPECT_EQ(lines[0]["request_type"], "loglikelihood");
  EXPECT_EQ(lines[7]["idx"], 7);
  // One shot: the other document, with its gold ending, then "\n\n".
  const std::string ctx = lines[0]["arguments"][0];
  EXPECT_THAT(ctx, HasSubstr("Home and Garden: How to clean a grill."));
  EXPECT_THAT(ctx, HasSubstr("\n\nWashing a car: A woman stands next to a "
                             "blue car with a bucket. She"));
  EXPECT_EQ(lines[0]["arguments"][1],
            " throws the bucket onto the roof of a house.");
  // GPTQ-style perplexity needs a tokenizer: refused, naming the task.
  testing::QgridResult ppl =
      RunQgrid("eval --task wikitext2_gptq --dump-requests " + out, true);
  EXPECT_EQ(ppl.code, 2);
  EXPECT_THAT(ppl.out, HasSubstr("wikitext2_gptq"));
  // Without --dump-requests a model is required.
  testing::QgridResult no_model = RunQgrid("eval --task hellaswag", true);
  EXPECT_EQ(no_model.code, 2);
  EXPECT_THAT(no_model.out, HasSubstr("--model is required"));
}

}  // namespace
}  // namespace qgrid
