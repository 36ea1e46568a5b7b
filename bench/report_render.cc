// Render time of `qgrid report` (issue 14 section 4): the HTML report of a
// synthetic sweep of about 2,000 jobs, target < 5 s. No RPC and no model:
// the rows are made here with realistic result records (a quant report,
// an lm-eval style eval document and efficiency JSON per cell) so that the
// timing covers pivoting, every figure, the tables and the provenance
// table, and writing DIR/index.html and DIR/figures/.
//
// Grid: 1 model x {fp16, rtn W4/W3/W2 (uncalibrated), gptq, awq, spqr at
// W4/W3/W2 x 5 calibration sets} x 20 tests (4 perplexity, 16 of the
// paper's multiple-choice tasks) x {0, 5} shots = 1,960 jobs, 2% dead.
//
//   bench_report_render [--jobs-scale N] [--out DIR]
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <random>
#include <string>

#include "nlohmann/json.hpp"
#include "report/html_report.h"

namespace {

using json = nlohmann::json;
using qgrid::report::ReportCell;
using qgrid::report::ReportInput;

ReportInput SyntheticSweep(int scale) {
  ReportInput in;
  in.sweep_id = "bench-2000";
  in.sweep_name = "synthetic 2,000-job sweep";
  in.state = "finished";
  in.spec_yaml = "name: bench\n# synthetic\n";
  in.generator_version = "bench";
  in.workers["w-0"] = {"gpu-0", "cuda:0", 80LL << 30};
  const char* cals[] = {"c4", "wikitext2", "ptb", "arc_easy", "piqa"};
  const char* ppl_tests[] = {"c4", "wikitext2", "ptb", "lambada"};
  const char* mc_tests[] = {"winogrande", "hellaswag", "piqa",
                            "mathqa",     "mutual",    "crows_pairs_english",
                            "toxigen",    "pubmedqa",  "openbookqa",
                            "sciq",       "arc_easy",  "arc_challenge",
                            "race",       "mnli",      "sst2",
                            "blimp"};
  struct Method {
    const char* name;
    int bits;
    bool calibrated;
  };
  std::vector<Method> methods = {{"fp16", 16, false}};
  for (int b : {4, 3, 2}) methods.push_back({"rtn", b, false});
  for (const char* m : {"gptq", "awq", "spqr"}) {
    for (int b : {4, 3, 2}) methods.push_back({m, b, true});
  }
  std::mt19937 rng(42);
  std::uniform_real_distribution<double> u(0, 1);
  int64_t id = 0;
  for (int rep = 0; rep < scale; ++rep) {
    for (const Method& m : methods) {
      std::vector<std::string> cs;
      if (m.calibrated) {
        cs.assign(std::begin(cals), std::end(cals));
      } else {
        cs = {"-"};
      }
      for (const std::string& cal : cs) {
        for (int shots : {0, 5}) {
          std::vector<std::pair<std::string, bool>> tests;
          for (const char* t : ppl_tests) tests.push_back({t, true});
          for (const char* t : mc_tests) tests.push_back({t, false});
          for (const auto& [test, ppl] : tests) {
            ReportCell c;
            c.row.job_id = ++id;
            c.row.labels = {{"model", "llama2-7b"}, {"method", m.name},
                            {"bits", m.bits},       {"calibration", cal},
                            {"test", test},         {"shots", shots},
                            {"seed", 42 + rep},     {"repeat", rep},
                            {"iid", cal == test}};
            c.row.worker_id = "w-0";
            c.row.attempt = 1;
            c.content_key = std::to_string(id) + "0123456789abcdef";
            c.config_json =
                json{{"job", {{"model", {{"path", "llama2-7b"}}}}}}.dump();
            const double damage = m.bits == 16 ? 0 : (5 - m.bits) * 0.05;
            if (u(rng) < 0.02) {
              c.row.state = "dead";
              c.error = "CUDA out of memory (synthetic)";
            } else {
              c.row.state = "done";
              c.finished_unix_ms = 1700000000000 + id * 1000;
              if (ppl) {
                c.row.metrics["word_perplexity"] =
                    5.5 * (1 + damage * 4) + u(rng) * 0.2;
              } else {
                c.row.metrics["acc"] = 0.6 - damage + u(rng) * 0.03;
                c.row.metrics["acc_norm"] = 0.62 - damage + u(rng) * 0.03;
              }
              c.eval_json = json{{"n-samples", {{test, {{"effective", 1000}}}}},
                                 {"seeds", {{"fewshot_seed", 1234}}},
                                 {"config", {{"task", test}, {"limit", 0}}}}
                                .dump();
              c.efficiency_json = json{{"duration_ms", 60000}}.dump();
              json q = {{"weights_sha256", std::string(64, 'a')},
                        {"cache", {{"source", "quantized"}}}};
              if (m.calibrated) {
                q["calibration"] = {{"source", cal + "/train"},
                                    {"samples", 128},
                                    {"seq_len", 2048}};
              }
              c.quant_report_json = q.dump();
            }
            in.cells.push_back(std::move(c));
          }
        }
      }
    }
  }
  return in;
}

}  // namespace

int main(int argc, char** argv) {
  int scale = 1;
  std::string out =
      (std::filesystem::temp_directory_path() / "qgrid-bench-report").string();
  for (int i = 1; i + 1 < argc; ++i) {
    if (!std::strcmp(argv[i], "--jobs-scale")) scale = std::atoi(argv[i + 1]);
    if (!std::strcmp(argv[i], "--out")) out = argv[i + 1];
  }
  ReportInput in = SyntheticSweep(std::max(1, scale));
  using clock = std::chrono::steady_clock;
  auto t0 = clock::now();
  auto rendered = qgrid::report::RenderReport(in);
  auto t1 = clock::now();
  if (!rendered.ok()) {
    std::fprintf(stderr, "render failed: %s\n",
                 std::string(rendered.status().message()).c_str());
    return 1;
  }
  absl::Status s = qgrid::report::WriteReport(in, out);
  auto t2 = clock::now();
  if (!s.ok()) {
    std::fprintf(stderr, "write failed: %s\n",
                 std::string(s.message()).c_str());
    return 1;
  }
  const double render_s = std::chrono::duration<double>(t1 - t0).count();
  const double write_s = std::chrono::duration<double>(t2 - t1).count();
  std::printf(
      "report of %zu jobs: render %.3f s (index.html %.1f MB, %zu figures); "
      "render + write to %s %.3f s; target < 5 s: %s\n",
      in.cells.size(), render_s, rendered->index_html.size() / 1e6,
      rendered->figures.size(), out.c_str(), write_s,
      write_s < 5 ? "met" : "MISSED");
  return 0;
}
