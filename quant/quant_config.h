// Quantization configuration: which method, at which precision, for which
// layers.
//
// A QuantConfig is the whole "method config" part of a quant key: the weight
// method and its parameters, optional activation and KV-cache quantization,
// and per-layer rules (regex on the Hugging Face module name, e.g.
// "model.layers.3.mlp.down_proj") that override bits/group size/method or
// skip a layer. lm_head is skipped unless a rule says otherwise (as GPTQ,
// AWQ and the paper's toolboxes do).
//
// Keys are the method catalogue's parameter names (quant/method_catalog.h;
// older spellings accepted as its aliases), plus `method` (alias `name`, as
// a sweep's method entry spells it) and `layer_rules`.
// ParseQuantConfig reads JSON (nlohmann) or YAML; Validate rejects invalid
// combinations with a message naming the field, before any work starts;
// ToCanonicalJson gives a stable serialization (sorted keys, every field) so
// that equal configs hash equal.
//
// Thread-safety: plain values; const methods are safe concurrently.
#ifndef QGRID_QUANT_QUANT_CONFIG_H_
#define QGRID_QUANT_QUANT_CONFIG_H_

#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "model/config.h"
#include "nlohmann/json.hpp"

namespace qgrid::quant {

// Methods understood by QuantizeModel: the catalogue's
// (quant/method_catalog.h, with a line on each).
const std::vector<std::string>& KnownMethods();

// A per-layer override. `pattern` is an ECMAScript regex searched
// (std::regex_search) in the module name; later matching rules win.
struct LayerRule {
  std::string pattern;
  std::optional<bool> skip;  // true: leave dense; false: force quantize
  std::optional<std::string> method;
  std::optional<int> w_bits;
  std::optional<int> group_size;
  std::optional<bool> sym;
};

// What one layer gets after rules are applied.
struct LayerSpec {
  bool skip = false;
  std::string method;
  int w_bits = 4;
  int group_size = 128;
  bool sym = false;
};

struct QuantConfig {
  std::string method = "rtn";
  // Weight quantization.
  int w_bits = 4;
  int group_size = 128;  // -1: per output channel; 0: per tensor
  bool sym = false;      // GPTQ/AWQ reference default: asymmetric
  // GPTQ.
  bool act_order = false;      // desc_act: columns by decreasing diag(H)
  bool static_groups = false;  // group params fixed before act-order
  // GPTQ's --true-sequential (IST-DASLab llama.py): within a block, the
  // Hessians of o_proj, of gate/up and of down_proj are taken after the
  // linears before them are quantized (4 capture passes per block). Off: one
  // pass over the block's full-precision inputs, as llama.py's default and
  // llm-compressor's sequential pipeline.
  bool true_sequential = false;
  double percdamp = 0.01;  // dampening, fraction of mean(diag(H))
  int block_size = 128;    // lazy batch update width
  // Activation fake-quant (symmetric). 16 = off.
  int a_bits = 16;
  std::string a_granularity = "per_token";  // "per_token" | "per_tensor"
  bool a_static = false;  // static: scale calibrated once (per_tensor only)
  // KV-cache fake-quant (asymmetric, per token). 16 = off.
  int kv_bits = 16;
  int kv_group_size = 0;  // 0: one group per head (head_dim)
  // SmoothQuant migration strength.
  double alpha = 0.5;
  // AWQ search grid (llm-awq: 20 ratios; clip shrink up to 0.5).
  int awq_grid = 20;
  bool awq_clip = true;
  // SpQR.
  int spqr_group_size = 16;  // first-level group (a layer rule's wins)
  int spqr_stat_bits = 3;
  // SpQR's outlier_relative_threshold (config key either name).
  double spqr_outlier_threshold = 0.2;
  // LLM.int8() outlier threshold on |activation|.
  double llm_int8_threshold = 6.0;
  std::string fp8_format = "e4m3";  // "e4m3" | "e5m2"
  std::vector<LayerRule> layer_rules;

  // The spec of the layer named `name` (HF module name without ".weight").
  LayerSpec Resolve(const std::string& name) const;
  // Canonical JSON: sorted keys, every field, no whitespace.
  std::string ToCanonicalJson() const;
  // True when some layer needs calibration data (not rtn/fp16/fp8 alone).
  bool NeedsCalibration() const;
};

// Parses a JSON or YAML object (`source` names the origin in messages).
// Unknown keys are errors. Method-implied defaults are applied: smoothquant
// and llm_int8 set w_bits=8, a_bits=8 unless given.
absl::StatusOr<QuantConfig> ParseQuantConfig(const std::string& text,
                                             const std::string& source);
// Sets one field from a JSON value: `key` is `method` (or `name`) or a
// catalogue parameter by name or alias; errors name `source` and the key.
// Parameters without effect (has_effect false) are type-checked only. No
// method-implied defaults (ParseQuantConfig applies those).
absl::Status SetQuantParam(QuantConfig* c, const std::string& key,
                           const nlohmann::json& value,
                           const std::string& source);
// The value of `method` or a catalogue parameter (name or alias) in `c`;
// nullopt for unknown names and parameters without effect.
std::optional<nlohmann::json> GetQuantParam(const QuantConfig& c,
                                            const std::string& name);

// Layer rules from a JSON/YAML file: either a list of rules or
// {"rules": [...]}. Each rule: {match: REGEX, skip?, method?, bits?,
// group_size?, sym?}.
absl::StatusOr<std::vector<LayerRule>> LoadLayerRules(const std::string& path);

// Rejects invalid configs. With `model`, also checks every quantized layer
// of that architecture (group size must divide the layer's input dim, ...).
absl::Status Validate(const QuantConfig& cfg,
                      const model::ModelConfig* model = nullptr);

// Export formats (quant/export.h). Checked against the model as well:
// packed formats need in/out dims that fill whole int32 words.
enum class ExportFormat { kFake, kGptq, kAwq, kCompressedTensors };
absl::StatusOr<ExportFormat> ParseExportFormat(const std::string& s);
absl::Status ValidateExport(const QuantConfig& cfg,
                            const model::ModelConfig& model,
                            ExportFormat format);

// Names and [out, in] shapes of every linear of a model config, in forward
// order, lm_head last (the same names as CausalLM::Linears()).
struct LinearShape {
  std::string name;
  int64_t out = 0, in = 0;
};
std::vector<LinearShape> LinearShapes(const model::ModelConfig& model);

}  // namespace qgrid::quant

#endif  // QGRID_QUANT_QUANT_CONFIG_H_
