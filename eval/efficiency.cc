#include "eval/efficiency.h"

#include <ATen/ATen.h>
#include <sys/resource.h>

#include <chrono>

#include "common/status_macros.h"
#include "model/causal_lm.h"

namespace qgrid::eval {

int64_t PeakRssBytes() {
  struct rusage ru;
  if (getrusage(RUSAGE_SELF, &ru) != 0) return 0;
  return static_cast<int64_t>(ru.ru_maxrss) * 1024;  // Linux: kilobytes
}

absl::StatusOr<Efficiency> MeasureEfficiency(const model::CausalLM& lm,
                                             const EfficiencyOptions& opts) {
  Efficiency e;
  e.weight_bytes = lm.WeightBytes();
  const int64_t vocab = lm.config().vocab_size;
  int64_t T = std::min<int64_t>(
      opts.prompt_tokens,
      std::max<int64_t>(
          1, lm.config().max_position_embeddings - opts.decode_tokens));
  absl::Status st = model::CatchTorch([&]() -> absl::Status {
    using Clock = std::chrono::steady_clock;
    at::Tensor ids = (at::arange(T, at::kLong) * 7919 + 11)
                         .remainder(vocab)
                         .unsqueeze(0)
                         .to(lm.device());
    // Warm-up (allocator, lazy initialisation).
    QG_ASSIGN_OR_RETURN(at::Tensor warm,
                        lm.Forward(ids.narrow(1, 0, std::min<int64_t>(T, 8))));
    (void)warm.sum().item<float>();
    auto t0 = Clock::now();
    model::KVCache cache;
    QG_ASSIGN_OR_RETURN(at::Tensor logits,
                        lm.Forward(ids, at::Tensor(), &cache));
    int64_t next = logits[0][T - 1].argmax().item<int64_t>();
    double prefill = std::chrono::duration<double>(Clock::now() - t0).count();
    e.prefill_tokens_per_s = prefill > 0 ? T / prefill : 0;
    auto t1 = Clock::now();
    for (int s = 0; s < opts.decode_tokens; ++s) {
      at::Tensor step = at::full({1, 1}, next, at::kLong).to(lm.device());
      QG_ASSIGN_OR_RETURN(at::Tensor l, lm.Forward(step, at::Tensor(), &cache));
      next = l[0][0].argmax().item<int64_t>();
    }
    double decode = std::chrono::duration<double>(Clock::now() - t1).count();
    e.decode_tokens_per_s = decode > 0 ? opts.decode_tokens / decode : 0;
    return absl::OkStatus();
  });
  if (!st.ok()) return Annotate(st, "measuring efficiency");
  e.peak_rss_bytes = PeakRssBytes();
  return e;
}

nlohmann::json EfficiencyToJson(const Efficiency& e) {
  return {{"weight_bytes", e.weight_bytes},
          {"peak_rss_bytes", e.peak_rss_bytes},
          {"prefill_tokens_per_s", e.prefill_tokens_per_s},
          {"decode_tokens_per_s", e.decode_tokens_per_s}};
}

}  // namespace qgrid::eval
