#include "eval/perplexity.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <cmath>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/progress.h"
#include "common/status_macros.h"

namespace qgrid::eval {

nlohmann::json PerplexityResult::ToJson() const {
  return {{"ppl", ppl},       {"mean_nll", mean_nll},
          {"tokens", tokens}, {"windows", windows},
          {"seqlen", seqlen}, {"predicted_tokens", predicted}};
}

int64_t DefaultSeqlen(const model::ModelConfig& config) {
  return std::min<int64_t>(config.max_position_embeddings, 2048);
}

absl::StatusOr<PerplexityResult> Perplexity(const model::CausalLM& lm,
                                            const std::vector<int>& ids,
                                            const PerplexityOptions& opts) {
  PerplexityResult r;
  r.seqlen = opts.seqlen > 0 ? opts.seqlen : DefaultSeqlen(lm.config());
  r.tokens = static_cast<int64_t>(ids.size());
  if (r.seqlen < 2) {
    return absl::InvalidArgumentError(
        absl::StrCat("perplexity: seqlen must be >= 2, got ", r.seqlen));
  }
  if (opts.batch_size < 1) {
    return absl::InvalidArgumentError("perplexity: batch size must be >= 1");
  }
  r.windows = r.tokens / r.seqlen;  // the remainder is dropped
  if (r.windows == 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("perplexity: the text has ", r.tokens,
                     " tokens, fewer than one window of ", r.seqlen));
  }
  r.predicted = r.windows * (r.seqlen - 1);

  std::vector<int64_t> all(ids.begin(), ids.begin() + r.windows * r.seqlen);
  at::Tensor stream = at::tensor(all, at::kLong).view({r.windows, r.seqlen});
  Progress progress(opts.label, r.windows, "windows", opts.show_progress);
  double total_nll = 0;  // accumulated in double over windows
  for (int64_t w = 0; w < r.windows; w += opts.batch_size) {
    const int64_t n = std::min(opts.batch_size, r.windows - w);
    at::Tensor batch = stream.narrow(0, w, n);
    QG_ASSIGN_OR_RETURN(at::Tensor logits, lm.Forward(batch));
    absl::Status s = model::CatchTorch([&]() -> absl::Status {
      // Position t predicts token t+1; float32 log-softmax per window to
      // bound memory by one window's logits.
      at::Tensor labels = batch.narrow(1, 1, r.seqlen - 1).to(logits.device());
      for (int64_t i = 0; i < n; ++i) {
        at::Tensor lp =
            at::log_softmax(logits[i].narrow(0, 0, r.seqlen - 1), -1);
        const double nll = -lp.gather(1, labels[i].unsqueeze(1))
                                .to(at::kDouble)
                                .sum()
                                .item<double>();
        r.window_nll.push_back(nll);
        total_nll += nll;
      }
      return absl::OkStatus();
    });
    QG_RETURN_IF_ERROR(s);
    const double so_far =
        total_nll / static_cast<double>((w + n) * (r.seqlen - 1));
    progress.Add(n, absl::StrFormat("ppl %.3f", std::exp(so_far)));
  }
  progress.Finish();
  r.mean_nll = total_nll / static_cast<double>(r.predicted);
  r.ppl = std::exp(r.mean_nll);
  if (!std::isfinite(r.ppl)) {
    return absl::InternalError(
        absl::StrCat("perplexity is not finite (mean NLL ", r.mean_nll,
                     "): the model produced NaN/inf logits"));
  }
  return r;
}

}  // namespace qgrid::eval
