#include "worker/quantize_cell.h"

#include <ATen/ATen.h>

#include "absl/strings/str_cat.h"
#include "common/hash.h"
#include "common/status_macros.h"
#include "model/torch_util.h"
#include "quant/export.h"
#include "worker/oom_retry.h"

namespace qgrid::worker {

absl::StatusOr<quant::QuantConfig> MethodConfigOfJob(
    const std::string& method_json, const std::string& where) {
  // The catalogue (quant/method_catalog.h) is the one vocabulary of sweep
  // specs and QuantConfig alike: no renaming.
  return quant::ParseQuantConfig(method_json, where);
}

std::string LinearWeightsSha256(model::CausalLM& lm) {
  std::string buf;
  for (const model::LinearRef& ref : lm.Linears()) {
    at::Tensor w =
        (*ref.slot)->DenseWeight().to(at::kCPU, at::kFloat).contiguous();
    buf += ref.name;
    for (int64_t d : w.sizes()) absl::StrAppend(&buf, ":", d);
    buf += "\n";
    buf.append(static_cast<const char*>(w.data_ptr()),
               static_cast<size_t>(w.numel()) * sizeof(float));
  }
  return Sha256Hex(buf);
}

absl::StatusOr<QuantizedCell> QuantizeLoaded(
    std::unique_ptr<model::CausalLM> lm, const CellRequest& r) {
  const quant::QuantConfig& cfg = r.config;
  QG_RETURN_IF_ERROR(quant::Validate(cfg, &lm->config()));
  auto stage = [&](const char* s) {
    if (r.on_stage) r.on_stage(s);
  };
  auto cancelled = [&] { return r.cancelled && r.cancelled(); };
  if (cancelled()) return absl::CancelledError("cancelled");
  QuantizedCell out;
  at::Tensor calib;
  if (cfg.NeedsCalibration() && !r.calibration) {
    return absl::InvalidArgumentError("method '" + cfg.method +
                                      "' needs a calibration set");
  }
  if (r.calibration) {
    if (!lm->tokenizer()) {
      return absl::FailedPreconditionError(
          r.model_dir + ": no tokenizer to encode the calibration data");
    }
    stage("calibration");
    const eval::CalibrationSpec& spec = *r.calibration;
    QG_ASSIGN_OR_RETURN(eval::CalibrationSet set,
                        eval::BuildCalibrationSet(*lm->tokenizer(), spec));
    calib = set.ids;
    out.calibration_ids = set.ids;
    out.calibration_mask = set.attention_mask;
    out.calibration = {
        {"source", set.source},
        {"samples", spec.opts.n},
        {"seq_len", spec.opts.seqlen},
        {"seed", spec.opts.seed},
        {"packed", spec.opts.mode == eval::CalibrationOptions::Mode::kPacked}};
  }
  if (cancelled()) return absl::CancelledError("cancelled");
  stage("quantize");
  QG_ASSIGN_OR_RETURN(out.report,
                      quant::QuantizeModel(*lm, cfg, calib, r.quantize));
  out.weights_sha256 = LinearWeightsSha256(*lm);
  out.lm = std::move(lm);
  return out;
}

absl::StatusOr<QuantizedCell> QuantizeCell(const CellRequest& r) {
  // Out of device memory: once more at half the calibration batch
  // (worker/oom_retry.h), from a fresh load, since the failed try has
  // quantized its first blocks in place already.
  return RunWithOomRetry<QuantizedCell>(
      "quantize", r.quantize.batch_size,
      [&](int batch) -> absl::StatusOr<QuantizedCell> {
        CellRequest again = r;
        again.quantize.batch_size = batch;
        QG_ASSIGN_OR_RETURN(std::unique_ptr<model::CausalLM> lm,
                            quant::LoadModel(r.model_dir, r.load));
        absl::StatusOr<QuantizedCell> out = absl::InternalError("not run");
        QG_RETURN_IF_ERROR(model::CatchTorch([&]() -> absl::Status {
          out = QuantizeLoaded(std::move(lm), again);
          return absl::OkStatus();
        }));
        if (out.ok()) out->quantize_batch_size = batch;
        return out;
      });
}

}  // namespace qgrid::worker
