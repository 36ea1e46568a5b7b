// Quantizing a whole model: calibration sampling and the block-sequential
// pipeline.
//
// QuantizeModel runs the calibration sequences through the model one
// decoder block at a time (GPTQ's sequential scheme): it captures each
// Linear's inputs with CausalLM::SetLinearInputObserver, applies the
// method's block transform (AWQ / SmoothQuant scales folded into the
// preceding RMSNorm or linear), quantizes every linear of the block, swaps
// the quantized layers into the model's slots, and feeds the QUANTIZED
// block's outputs to the next block. Activation fake-quant is installed on
// the quantized layers and KV-cache fake-quant through SetKVTransform. The
// model is modified in place; the returned QuantReport says what happened.
//
// Work runs on the model's device, or with QuantizeOptions::device on that
// device one block at a time: the model stays where it is (e.g. CPU), each
// decoder block is moved to the device while it is calibrated and
// quantized and moved back afterwards, so a model larger than the
// device's memory still quantizes (as GPTQ's llama.py does). Calibration
// hidden states are kept for all samples of one block (n x seqlen x hidden
// floats) on the work device.
//
// Thread-safety: QuantizeModel mutates the model; nothing else may use it
// meanwhile.
#ifndef QGRID_QUANT_QUANTIZE_H_
#define QGRID_QUANT_QUANTIZE_H_

#include <ATen/core/Tensor.h>

#include <functional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "model/causal_lm.h"
#include "model/tokenizer.h"
#include "quant/quant_config.h"

namespace qgrid::quant {

// GPTQ-style calibration sampling: tokenize the whole file once (with the
// tokenizer's BOS), then draw `n` windows of `seqlen` tokens at uniformly
// random start offsets from a std::mt19937_64 seeded with `seed` (start =
// rng() % (len - seqlen), platform-independent). Returns int64 [n, seqlen].
// Errors when the text has fewer than seqlen + 1 tokens. (Files go through
// eval::BuildCalibrationSet, the one calibration path.)
absl::StatusOr<at::Tensor> SampleCalibrationFromString(
    const model::Tokenizer& tok, const std::string& text, int n, int seqlen,
    uint64_t seed);

// Summary statistics of a tensor (arXiv 2402.18158 relates quantization
// degradation to them). kurtosis is the plain 4th standardized moment (3
// for a Gaussian); outlier_fraction is the share of entries with
// |x - mean| > 6 std (a Gaussian has ~2e-9).
struct TensorStats {
  double absmax = 0, std = 0, kurtosis = 0, outlier_fraction = 0;
  int64_t count = 0;
};
TensorStats ComputeStats(const at::Tensor& x);

struct LayerReport {
  std::string name;
  std::string method;  // "skip" when left dense
  int bits = 16;
  int group_size = 0;
  double seconds = 0;
  // ||X Wq^T - X W^T||^2 / ||X W^T||^2 on this layer's calibration inputs.
  double rel_output_mse = 0;
  double bits_per_param = 16;
  double outlier_fraction = 0;  // SpQR fp16 outliers
  int64_t params = 0;
  TensorStats weight_stats, input_stats;
};

struct QuantReport {
  std::string config_json;  // QuantConfig::ToCanonicalJson()
  std::vector<LayerReport> layers;
  // Per decoder layer: keys (after RoPE) and values seen in calibration.
  std::vector<TensorStats> key_stats, value_stats;
  double total_seconds = 0;
  double avg_bits_per_param = 16;  // over all linear parameters
  int64_t peak_rss_bytes = 0;
  int calib_samples = 0, calib_seqlen = 0;
  std::string ToJson(int indent = 2) const;
  // One line per layer (name, method, bits, group, rel_mse, seconds) under
  // a header line, as `qgrid quantize` prints it.
  std::string FormatLayerTable() const;
};

struct QuantizeOptions {
  // Sequences per forward batch during calibration.
  int batch_size = 8;
  // Shows a progress bar per block on stderr.
  bool show_progress = true;
  // Called after each block: (block index, number of blocks, seconds).
  std::function<void(int, int, double)> on_block;
  // Record input/KV tensor statistics (costs one extra pass of reductions).
  bool record_stats = true;
  // "" = the model's device. Otherwise ("cpu", "cuda:0", ...) the device
  // blocks are moved to, one at a time, while they are quantized.
  std::string device;
};

absl::StatusOr<QuantReport> QuantizeModel(model::CausalLM& lm,
                                          const QuantConfig& cfg,
                                          const at::Tensor& calib_ids,
                                          const QuantizeOptions& opts = {});

// Peak resident set size of this process in bytes (getrusage).
int64_t PeakRssBytes();

}  // namespace qgrid::quant

#endif  // QGRID_QUANT_QUANTIZE_H_
