// Evaluate() on a model: the CausalLM scorer plus efficiency figures. Kept
// apart from evaluate.cc so that code using only EvaluateWithScorer does
// not pull in the model runtime.
#include <chrono>

#include "common/status_macros.h"
#include "eval/efficiency.h"
#include "eval/evaluate.h"
#include "model/causal_lm.h"

namespace qgrid::eval {

absl::StatusOr<nlohmann::json> Evaluate(const model::CausalLM& lm,
                                        const TaskConfig& task,
                                        const EvalOptions& opts) {
  if (task.output_type == OutputType::kPerplexity &&
      task.perplexity_style == "gptq")
    return absl::UnimplementedError(
        "task '" + task.task +
        "': GPTQ-style perplexity comes from eval/perplexity.h (model "
        "branch), not merged yet");
  ScorerOptions so;
  so.batch_size = opts.batch_size;
  so.reuse_context = opts.reuse_context;
  so.max_length = opts.max_length;
  so.add_bos = opts.add_bos;
  QG_ASSIGN_OR_RETURN(auto scorer, CausalLMScorer::Create(lm, so));
  auto t0 = std::chrono::steady_clock::now();
  QG_ASSIGN_OR_RETURN(nlohmann::json result,
                      EvaluateWithScorer(*scorer, task, opts));
  double secs =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0)
          .count();
  ScorerStats st = scorer->stats();
  nlohmann::json eff = {
      {"weight_bytes", lm.WeightBytes()},
      {"peak_rss_bytes", PeakRssBytes()},
      {"eval_seconds", secs},
      {"forward_tokens_per_s", secs > 0 ? st.forward_tokens / secs : 0.0}};
  if (opts.measure_speed) {
    QG_ASSIGN_OR_RETURN(Efficiency e, MeasureEfficiency(lm));
    eff["prefill_tokens_per_s"] = e.prefill_tokens_per_s;
    eff["decode_tokens_per_s"] = e.decode_tokens_per_s;
    eff["peak_rss_bytes"] = PeakRssBytes();
  }
  result["efficiency"] = eff;
  result["config"]["model"] = lm.source_dir();
  return result;
}

}  // namespace qgrid::eval
