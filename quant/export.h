// Saving quantized models and loading them back.
//
// ExportModel writes a Hugging Face folder: config.json (the source config
// plus `quantization_config` for packed formats and `qgrid_quantization`
// with qgrid's canonical QuantConfig and runtime settings), one
// model.safetensors, and the source's tokenizer files.
//   fake: plain dense weights (dequantized), loadable by anything.
//   gptq: per quantized linear `qweight` int32 [in*bits/32, out] (packed
//         along the input dim, LSB-first), `qzeros` int32 [groups,
//         out*bits/32] holding zero-1, `scales` fp16 [groups, out], `g_idx`
//         int32 [in]; quantization_config {quant_method: "gptq", bits,
//         group_size, desc_act, sym, ...} (AutoGPTQ / vLLM layout), also
//         written as quantize_config.json. Mixed per-layer bits/group
//         sizes: the most common form is the base, the other packed
//         modules get GPTQModel `dynamic` overrides {"+:^name$": {bits,
//         group_size, sym}} and dense block linears "-:^name$": {}.
//   awq:  4-bit GEMM layout: `qweight` int32 [in, out/8] and `qzeros` int32
//         [groups, out/8] with AWQ's interleaved nibble order, `scales` fp16
//         [groups, out]; quantization_config {quant_method: "awq", bits: 4,
//         group_size, zero_point: true, version: "gemm"}.
//   compressed-tensors: compressed-tensors' "pack-quantized" form
//         (PackedQuantizationCompressor; what vLLM's CompressedTensorsWNA16
//         and transformers read), weight-only int W2..W8A16: per linear
//         `weight_packed` int32 [out, ceil(in*bits/32)] (each row one dense
//         LSB-first bit stream of the unsigned codes, padded to whole
//         words; compressed-tensors' signed int8 value q - 2^(bits-1) plus
//         pack_to_int32's offset 2^(bits-1) is qgrid's code),
//         `weight_scale` [out, groups] (float32; float16 for float16
//         models; readers such as compressed-tensors and vLLM hold it in
//         the model dtype, so for bfloat16 models they round qgrid's
//         fp16-grid scales to bf16), `weight_zero_point` (asymmetric only: the
//         zero points, packed the same way along the output dim, int32
//         [ceil(out*bits/32), groups]; symmetric layers must have zero
//         2^(bits-1) and store none), `weight_shape` int64 [out, in], and
//         `weight_g_idx` int32 [in] when groups are not contiguous (GPTQ
//         act-order without static groups). Dequantized: w[o, i] =
//         (q - zp)[o, g] * scale[o, g], g = g_idx[i] (contiguous: i / group).
//         quantization_config {quant_method: "compressed-tensors", format:
//         "pack-quantized", quantization_status: "compressed",
//         config_groups: {group_0: {targets: ["Linear"], weights:
//         {num_bits, type: "int", symmetric, strategy: "group"|"channel",
//         group_size (null for channel), actorder: null | "weight"
//         (act-order, contiguous groups) | "group" (g_idx: the layout of
//         compressed-tensors < 0.19 and of vLLM's WNA16 scheme; 0.19
//         refuses the value, so such exports need an older reader),
//         dynamic: false, zp_dtype:
//         "torch.int8" when asymmetric, ...}, format: "pack-quantized"}},
//         ignore: ["lm_head", dense block linears]}. Other per-layer forms
//         (layer rules) get further groups whose targets name their
//         modules (an exact name wins over "Linear" in compressed-tensors
//         and vLLM). W8A8 (a_bits 8, per-token, dynamic; 8-bit weights) is
//         the "int-quantized" format instead (IntQuantizationCompressor):
//         `weight` int8 [out, in] holding the signed codes q - 128,
//         `weight_scale`, `weight_zero_point` int8 [out, groups] when
//         asymmetric, no weight_shape/g_idx (act-order needs static
//         groups), and input_activations {num_bits: 8, type: "int",
//         symmetric: true, strategy: "token", dynamic: true} (qgrid's
//         activation fake-quant: absmax / 127 per token, as vLLM's dynamic
//         int8). Per-tensor scales, fp8, other activation forms and KV
//         quantization are refused (ValidateExport).
// Layers left dense (skipped by rules, lm_head) are stored as `.weight`.
//
// LoadModel reads all of them back: it installs QuantizedLinearFactory when
// config.json has a quantization_config (compressed-tensors linears become
// FakeQuantLinear with their integer form), and re-installs the
// activation and KV-cache fake-quant recorded in `qgrid_quantization`.
//
// Thread-safety: free functions; ExportModel only reads the model.
#ifndef QGRID_QUANT_EXPORT_H_
#define QGRID_QUANT_EXPORT_H_

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "model/causal_lm.h"
#include "quant/quant_config.h"

namespace qgrid::quant {

absl::Status ExportModel(model::CausalLM& lm, const QuantConfig& cfg,
                         const std::string& out_dir, ExportFormat format);

// The LoadOptions::linear_factory for gptq/awq checkpoints: builds a
// PackedLinear for a linear stored as `<name>.qweight`; nullptr otherwise
// (the loader then reads a dense weight). `config` is the checkpoint's
// config (its raw_json holds quantization_config).
// Per-module bits/group size come from quantization_config's GPTQModel
// `dynamic` map when present (first matching pattern; "-:" = not packed).
decltype(model::LoadOptions::linear_factory) QuantizedLinearFactory();
// The same with the quantization config given as JSON text (an AutoGPTQ
// quantize_config.json) instead of config.json's quantization_config.
decltype(model::LoadOptions::linear_factory) QuantizedLinearFactory(
    const std::string& quantize_config_json);

// CausalLM::Load that understands qgrid's and GPTQ/AWQ exports (see above).
// Plain checkpoints load as usual.
absl::StatusOr<std::unique_ptr<model::CausalLM>> LoadModel(
    const std::string& dir, model::LoadOptions opts = model::LoadOptions());

}  // namespace qgrid::quant

#endif  // QGRID_QUANT_EXPORT_H_
