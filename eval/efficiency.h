// Efficiency figures of a model (the efficiency dimension of arXiv
// 2402.16775): weight memory, peak process memory, prefill and decode
// throughput.
//
// Prefill: one forward over `prompt_tokens` ids (batch 1), timed after a
// warm-up. Decode: `decode_tokens` greedy steps with the KV cache after
// that prompt. Reading a scalar from the logits synchronizes the device,
// so the timings hold on CUDA too. Token ids are a fixed deterministic
// sequence over the vocabulary, not text: speed does not depend on content.
//
// Thread-safety: MeasureEfficiency runs forwards on the model; do not mutate
// the model meanwhile.
#ifndef QGRID_EVAL_EFFICIENCY_H_
#define QGRID_EVAL_EFFICIENCY_H_

#include <cstdint>
#include <nlohmann/json.hpp>

#include "absl/status/statusor.h"

namespace qgrid::model {
class CausalLM;
}

namespace qgrid::eval {

struct EfficiencyOptions {
  int64_t prompt_tokens = 128;
  int decode_tokens = 32;
};

struct Efficiency {
  int64_t weight_bytes = 0;    // CausalLM::WeightBytes()
  int64_t peak_rss_bytes = 0;  // getrusage(RUSAGE_SELF).ru_maxrss
  double prefill_tokens_per_s = 0;
  double decode_tokens_per_s = 0;
};

// Peak resident set size of this process so far, in bytes.
int64_t PeakRssBytes();

absl::StatusOr<Efficiency> MeasureEfficiency(
    const model::CausalLM& lm, const EfficiencyOptions& opts = {});

nlohmann::json EfficiencyToJson(const Efficiency& e);

}  // namespace qgrid::eval

#endif  // QGRID_EVAL_EFFICIENCY_H_
