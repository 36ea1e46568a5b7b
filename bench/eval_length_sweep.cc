// Forward throughput against prompt length, to tell a real cliff from
// machine load: the no-reuse multiple-choice path (eval/scorer.h) runs
// [batch, T] through CausalLM::Forward and log_softmax; this times exactly
// that for T up to the model's max positions, several repetitions each,
// printing the best and median tokens/s. A real cliff shows in the best
// time as well; load only in the median. CPU time (std::clock, the whole
// process) is printed beside wall time: on a shared machine wall time
// includes the time the process was not scheduled, CPU time does not. Baseline:
// the same model at T = 128 (throughput should fall at most roughly linearly in
// T from the attention's T^2 share).
//
// BUDGET sets LoadOptions::attention_score_budget_bytes (default 16 MiB:
// query-chunked attention once a layer's score tensor exceeds it; 0 = one
// score tensor per layer, the baseline without chunking).
//
//   bench_eval_length_sweep [MODEL_DIR] [BATCH] [REPS] [BUDGET]
// default model: ../shared/models/stories260K, batch 8, 5 repetitions.
#include <ATen/ATen.h>
#include <ATen/Parallel.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <string>
#include <vector>

#include "model/causal_lm.h"

int main(int argc, char** argv) {
  using namespace qgrid;
  std::string model_dir = argc > 1 ? argv[1]
                                   : std::string(QGRID_SOURCE_DIR) +
                                         "/../shared/models/stories260K";
  const int64_t B = argc > 2 ? std::atoll(argv[2]) : 8;
  const int reps = argc > 3 ? std::atoi(argv[3]) : 5;
  auto lm = model::CausalLM::Load(model_dir);
  if (!lm.ok()) {
    std::fprintf(stderr, "error: %s\n",
                 std::string(lm.status().message()).c_str());
    return 1;
  }
  if (argc > 4) (*lm)->set_attention_score_budget_bytes(std::atoll(argv[4]));
  const int64_t maxT = (*lm)->config().max_position_embeddings;
  const int64_t V = (*lm)->config().vocab_size;
  std::printf(
      "model %s, batch %lld, max positions %lld, %d reps, %d threads, "
      "attention score budget %lld bytes\n",
      model_dir.c_str(), static_cast<long long>(B),
      static_cast<long long>(maxT), reps, at::get_num_threads(),
      static_cast<long long>((*lm)->attention_score_budget_bytes()));
  for (bool ftz : {false, true}) {
    at::globalContext().setFlushDenormal(ftz);
    std::printf("\nflush denormals to zero: %s\n", ftz ? "on" : "off");
    std::printf("%6s %10s %12s %12s %12s %12s\n", "T", "best ms", "best tok/s",
                "median tok/s", "best cpu ms", "tok/cpu-s");
    std::vector<int64_t> lengths = {64, 128, 256, 384, 448, 480, 496, 511};
    if (maxT >= 512) lengths.push_back(512);
    for (int64_t T : lengths) {
      if (T > maxT) continue;
      at::manual_seed(0);
      at::Tensor ids = at::randint(3, V, {B, T}, at::kLong);
      std::vector<double> ms, cpu_ms;
      for (int r = 0; r < reps + 1; ++r) {
        auto t0 = std::chrono::steady_clock::now();
        const std::clock_t c0 = std::clock();
        auto logits = (*lm)->Forward(ids);
        if (!logits.ok()) {
          std::fprintf(stderr, "error: %s\n",
                       std::string(logits.status().message()).c_str());
          return 1;
        }
        at::Tensor lp = at::log_softmax(*logits, -1);
        const double c = 1e3 * (std::clock() - c0) / CLOCKS_PER_SEC;
        const double s = std::chrono::duration<double, std::milli>(
                             std::chrono::steady_clock::now() - t0)
                             .count();
        if (r > 0) {  // the first is warm-up
          ms.push_back(s);
          cpu_ms.push_back(c);
        }
      }
      std::sort(ms.begin(), ms.end());
      std::sort(cpu_ms.begin(), cpu_ms.end());
      const double best = ms.front(), med = ms[ms.size() / 2],
                   cpu = cpu_ms.front();
      std::printf("%6lld %10.2f %12.0f %12.0f %12.2f %12.0f\n",
                  static_cast<long long>(T), best, B * T / (best / 1e3),
                  B * T / (med / 1e3), cpu, B * T / (cpu / 1e3));
    }
  }
  // The scorer also tokenizes every (context, continuation) pair twice
  // (eval/scorer.h EncodePair) before truncating to max positions, so a
  // tokenizer that is superlinear in the text length would show up as a
  // "tokens/s" cliff once 5-shot prompts pass the context window.
  if ((*lm)->tokenizer() != nullptr) {
    std::printf("\n%8s %8s %12s %14s\n", "chars", "tokens", "encode ms",
                "chars/ms");
    const std::string unit =
        "Question: Which of these is a source of light? Answer: the sun. ";
    for (int chars : {500, 1000, 2000, 4000, 8000, 16000}) {
      std::string text;
      while (static_cast<int>(text.size()) < chars) text += unit;
      text.resize(chars);
      std::vector<double> ms;
      size_t ntok = 0;
      for (int r = 0; r < reps; ++r) {
        auto t0 = std::chrono::steady_clock::now();
        ntok = (*lm)->tokenizer()->Encode(text, false).size();
        ms.push_back(std::chrono::duration<double, std::milli>(
                         std::chrono::steady_clock::now() - t0)
                         .count());
      }
      std::sort(ms.begin(), ms.end());
      std::printf("%8d %8zu %12.3f %14.0f\n", chars, ntok, ms.front(),
                  chars / ms.front());
    }
  }
  return 0;
}
