// One cell's quantized model: load a checkpoint, build its calibration set
// from a calibration spec (eval/calibration.h) and quantize it with a
// method config. The one path every front door takes: `qgrid quantize`,
// `qgrid eval --method` and the sweep worker (worker/real_executor.cc), so
// the same (model, method config, calibration spec) gives bit-identical
// weights however the cell was started.
//
// Thread-safety: one call per model at a time (quantization mutates it).
#ifndef QGRID_WORKER_QUANTIZE_CELL_H_
#define QGRID_WORKER_QUANTIZE_CELL_H_

#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "eval/calibration.h"
#include "model/causal_lm.h"
#include "nlohmann/json.hpp"
#include "quant/quant_config.h"
#include "quant/quantize.h"

namespace qgrid::worker {

struct CellRequest {
  std::string model_dir;  // plain checkpoint or a qgrid export
  model::LoadOptions load;
  quant::QuantConfig config;
  // Needed when config.NeedsCalibration(); used when given.
  std::optional<eval::CalibrationSpec> calibration;
  quant::QuantizeOptions quantize;
  // Called at each stage ("calibration", "quantize"); may be empty.
  std::function<void(const std::string& stage)> on_stage;
  // Checked between stages; true stops with CANCELLED. May be empty.
  std::function<bool()> cancelled;
};

struct QuantizedCell {
  std::unique_ptr<model::CausalLM> lm;
  quant::QuantReport report;
  // {source, samples, seq_len, seed, packed}; null when not calibrated.
  nlohmann::json calibration;
  // The calibration rows the quantizer saw ([n, seqlen] int64; undefined
  // when not calibrated).
  at::Tensor calibration_ids, calibration_mask;
  // SHA-256 over every linear's dense weight (name, shape, float32 bytes),
  // after quantization.
  std::string weights_sha256;
  // The calibration batch the quantization ran at: the request's, or half
  // of it after running out of device memory once (QuantizeCell).
  int quantize_batch_size = 0;
};

// A sweep job's method config (its "method" JSON, catalogue names; older
// aliases parse too) as a QuantConfig. `where` names it in messages.
absl::StatusOr<quant::QuantConfig> MethodConfigOfJob(
    const std::string& method_json, const std::string& where);

// Validates the config against the model, calibrates and quantizes `lm` in
// place. InvalidArgument for the user's input (a calibrated method without
// calibration, a config the model does not fit, a bad calibration source).
absl::StatusOr<QuantizedCell> QuantizeLoaded(
    std::unique_ptr<model::CausalLM> lm, const CellRequest& r);

// quant::LoadModel(r.model_dir, r.load), then QuantizeLoaded. Out of device
// memory (ResourceExhausted, also when thrown by libtorch), it loads again
// and runs once more at half of r.quantize.batch_size; a second failure
// names the phase ("quantize") and both batch sizes (worker/oom_retry.h).
absl::StatusOr<QuantizedCell> QuantizeCell(const CellRequest& r);

// The hash QuantizedCell::weights_sha256 holds, of any model.
std::string LinearWeightsSha256(model::CausalLM& lm);

}  // namespace qgrid::worker

#endif  // QGRID_WORKER_QUANTIZE_CELL_H_
