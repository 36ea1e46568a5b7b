// The method catalogue: every quantization method qgrid knows, every
// parameter a method config may carry (one spelling each, its type, default
// and allowed values), which parameters each method takes in a sweep, and
// whether it calibrates on data.
//
// This is the one place the method vocabulary is written. Sweep validation
// (coordinator/sweep_spec.cc), the CLI's method flags (cli/quant_flags.cc:
// `--<name with - for _>`), QuantConfig parsing (quant/quant_config.cc) and
// the worker all read it, so a knob has one name in YAML, JSON and flags
// (`percdamp` <-> `--percdamp`, `spqr_stat_bits` <-> `--spqr-stat-bits`).
// Older spellings are accepted on input as aliases (listed per parameter)
// and normalized to the name; no output uses them.
//
// Torch-free on purpose (target qgrid_quant_catalog, abseil only): the
// coordinator links it without libtorch.
//
// Thread-safety: immutable static data; safe from any thread.
#ifndef QGRID_QUANT_METHOD_CATALOG_H_
#define QGRID_QUANT_METHOD_CATALOG_H_

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace qgrid::quant {

enum class ParamType { kInt, kNumber, kBool, kString };

// One parameter of a method config.
struct ParamSpec {
  std::string name;                  // the one spelling (YAML/JSON key)
  std::vector<std::string> aliases;  // older spellings accepted on input
  ParamType type = ParamType::kInt;
  std::string default_value;         // as text: "4", "0.01", "false", "e4m3"
  double min = -1e300, max = 1e300;  // kInt/kNumber, inclusive
  std::vector<std::string> choices;  // kString: allowed values (empty: any)
  std::string help;
  // False: accepted (sweeps and configs carry it) but without effect on the
  // quantized model (fp16's dtype is the model's load dtype). No flag, no
  // QuantConfig field.
  bool has_effect = true;
  // kBool flags: the negative flag's name ("asym" for sym); "" = "no-NAME".
  std::string negative_flag;
};

// A parameter a method takes in a sweep, with a method-specific range
// (e.g. llm_int8's bits are 8 only).
struct MethodParam {
  std::string name;
  std::optional<double> min, max;
};

struct MethodSpec {
  std::string name;
  std::string description;
  bool uses_calibration = false;    // else the calibration axis collapses
  bool needs_bits = false;          // a sweep entry must give `bits`
  bool integer_codes = false;       // exportable as packed integer codes
  std::vector<MethodParam> params;  // what a sweep entry may set
};

// Every method, in documentation order.
const std::vector<MethodSpec>& Methods();
// Every method name, in that order.
const std::vector<std::string>& MethodNames();
// nullptr for an unknown name.
const MethodSpec* FindMethod(std::string_view name);
// False for unknown names.
bool MethodUsesCalibration(std::string_view name);

// Every parameter (the union over methods, plus the ones every config may
// carry: activation/KV quantization, ...). `method` itself is not one.
const std::vector<ParamSpec>& Params();
// By name or alias; nullptr when unknown.
const ParamSpec* FindParam(std::string_view name_or_alias);
// "method" and its aliases (a sweep's method entry calls it `name`).
bool IsMethodKey(std::string_view key);

// The parameter's effective range for `method` (the method's override, else
// the parameter's own).
double ParamMin(const MethodSpec& method, const ParamSpec& p);
double ParamMax(const MethodSpec& method, const ParamSpec& p);

// `--spqr-stat-bits` for spqr_stat_bits.
std::string FlagName(const ParamSpec& p);
// For kBool: `--asym` / `--no-awq-clip`.
std::string NegativeFlagName(const ParamSpec& p);

// "an integer", "a number", "true/false", "a string".
const char* TypeDescription(ParamType t);

}  // namespace qgrid::quant

#endif  // QGRID_QUANT_METHOD_CATALOG_H_
