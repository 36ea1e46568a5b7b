// Block transforms that migrate difficulty between activations and weights
// by per-input-channel scales folded into the preceding operation, so the
// transformed model computes the same function in full precision.
//
// AWQ (Lin et al. 2023; mit-han-lab/llm-awq auto_scale.py / auto_clip.py):
//   for each group of linears sharing an input (q/k/v after
//   input_layernorm, o_proj after v_proj when their shapes match - never
//   with GQA -, gate/up after post_attention_layernorm, down_proj after
//   up_proj) search s = mean|x|^r / sqrt(max * min) over r in {0, 1/grid,
//   ..., (grid-1)/grid} minimizing the output error of the fake-quantized
//   scaled weights, fold 1/s into the previous op and s into the weights;
//   then (optionally) search a per-group clipping max |w| * (1 - i/20),
//   i < 10, for every linear except q/k, on 512 sampled tokens.
//   Deviation, on purpose: the loss of the q/k/v and gate/up searches is the
//   error of those linears' own outputs, not of the whole attention/MLP
//   module that llm-awq inspects (our block API has no attention-only
//   forward); the o_proj and down_proj searches match llm-awq.
// SmoothQuant (Xiao et al. 2023; mit-han-lab/smoothquant smooth.py):
//   s_j = max|X_j|^alpha / max|W_:,j|^(1-alpha) for q/k/v (folded into
//   input_layernorm) and gate/up (post_attention_layernorm).
//
// Thread-safety: mutate the given decoder layer; single-threaded use.
#ifndef QGRID_QUANT_TRANSFORMS_H_
#define QGRID_QUANT_TRANSFORMS_H_

#include <ATen/core/Tensor.h>

#include <map>
#include <string>

#include "absl/status/status.h"
#include "model/causal_lm.h"
#include "quant/quant_config.h"

namespace qgrid::quant {

// Calibration statistics of one linear's input.
struct InputCapture {
  at::Tensor abs_sum;  // [in] sum of |x| over tokens
  at::Tensor abs_max;  // [in] max |x|
  int64_t rows = 0;
  at::Tensor sample;            // [N, in] float32 subsample of input rows
  at::Tensor abs_mean() const;  // abs_sum / rows
};

// Role of a linear in a LLaMA block from its name: "q", "k", "v", "o",
// "gate", "up", "down", "" (unknown).
std::string LinearRole(const std::string& name);

// `inputs` is keyed by role ("q", "o", "gate", "down" at least); `prefix`
// is the block's module prefix ("model.layers.3.") used to resolve each
// linear's spec. Returns the scales it applied, keyed by group ("qkv", "o",
// "gate_up", "down"), for the report and tests. clip=false skips clipping.
absl::StatusOr<std::map<std::string, at::Tensor>> ApplyAwq(
    model::DecoderLayer& layer, const std::string& prefix,
    const std::map<std::string, InputCapture>& inputs, const QuantConfig& cfg,
    bool clip);

absl::StatusOr<std::map<std::string, at::Tensor>> ApplySmoothQuant(
    model::DecoderLayer& layer,
    const std::map<std::string, InputCapture>& inputs, double alpha);

}  // namespace qgrid::quant

#endif  // QGRID_QUANT_TRANSFORMS_H_
