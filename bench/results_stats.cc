// Result tables of a 2,000-job sweep with per-item scores: how long
// RenderResults takes (standard errors, one paired bootstrap pass per row of
// kBootstrapResamples resamples, best marks, recovery) next to the same
// table without items (the statistics-free baseline), and how many bytes the
// items add to a result.
//
// Grid: 1 model x {fp16, gptq, awq, spqr} x {4, 3, 2} bits (fp16 once) x 5
// calibration sets x 20 test sets (10 multiple choice of `--items` items, 10
// perplexity of `--windows` windows) x {0, 5} shots = (1 + 3 x 3 x 5) x 20 x
// 2 = 1,840 jobs.
//   bench_results_stats [items=1000] [windows=256]
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <random>

#include "coordinator/results_table.h"
#include "coordinator/stats.h"

using qgrid::coordinator::ItemScores;
using qgrid::coordinator::ItemScoresToJson;
using qgrid::coordinator::RenderResults;
using qgrid::coordinator::ResultRow;
using json = nlohmann::json;

int main(int argc, char** argv) {
  const int items = argc > 1 ? std::atoi(argv[1]) : 1000;
  const int windows = argc > 2 ? std::atoi(argv[2]) : 256;
  std::mt19937_64 gen(1);
  std::vector<ResultRow> rows;
  size_t item_bytes = 0;
  int64_t id = 0;
  const std::vector<std::string> cals = {"c4", "wiki", "pile", "arc", "code"};
  struct M {
    std::string name;
    int bits;
  };
  std::vector<M> methods = {{"fp16", 16}};
  for (const char* m : {"gptq", "awq", "spqr"}) {
    for (int b : {4, 3, 2}) methods.push_back({m, b});
  }
  for (int shots : {0, 5}) {
    for (const M& m : methods) {
      for (const auto& cal :
           m.name == "fp16" ? std::vector<std::string>{"-"} : cals) {
        for (int t = 0; t < 20; ++t) {
          const bool ppl = t >= 10;
          const std::string test =
              ppl ? "ppl" + std::to_string(t) : "mc" + std::to_string(t);
          ResultRow r;
          r.job_id = ++id;
          r.state = "done";
          r.labels = {{"model", "m"},
                      {"method", m.name},
                      {"bits", m.bits},
                      {"calibration", cal},
                      {"test", test},
                      {"shots", shots},
                      {"seed", 0},
                      {"repeat", 0},
                      {"iid", cal == cals[t % 5]}};
          ItemScores s;
          if (ppl) {
            s.agg = qgrid::coordinator::Aggregation::kExp;
            std::normal_distribution<double> nll(5.0 * 511, 40);
            for (int w = 0; w < windows; ++w) {
              s.x.push_back(std::round(nll(gen) * 1e4) / 1e4);
              s.den.push_back(511);
            }
            r.items = {{"perplexity", ItemScoresToJson(s)}};
            r.metrics = {{"ppl", s.Value()}};
          } else {
            s.binary = true;
            std::bernoulli_distribution right(0.4 + 0.01 * (t % 7));
            for (int i = 0; i < items; ++i) s.x.push_back(right(gen));
            r.items = {{"acc", ItemScoresToJson(s)}};
            r.metrics = {{"acc", s.Value()}};
          }
          item_bytes += r.items.dump().size();
          rows.push_back(std::move(r));
        }
      }
    }
  }
  std::vector<ResultRow> bare = rows;
  for (auto& r : bare) r.items = nullptr;
  auto time = [](const std::vector<ResultRow>& rs, const char* fmt) {
    auto t0 = std::chrono::steady_clock::now();
    auto out = RenderResults(rs, "", fmt);
    double s =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0)
            .count();
    if (!out.ok()) {
      std::fprintf(stderr, "%s\n", out.status().ToString().c_str());
      std::exit(1);
    }
    return s;
  };
  std::printf(
      "%zu jobs; %d mc items, %d ppl windows; items JSON %.1f KB per "
      "job (mean)\n",
      rows.size(), items, windows,
      item_bytes / 1024.0 / static_cast<double>(rows.size()));
  for (const char* fmt : {"table", "json"}) {
    std::printf("%-6s with items %.2f s   without items (baseline) %.3f s\n",
                fmt, time(rows, fmt), time(bare, fmt));
  }
  return 0;
}
