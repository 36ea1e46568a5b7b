#include "quant/method_catalog.h"

#include <algorithm>

namespace qgrid::quant {
namespace {

ParamSpec Int(std::string name, int def, double lo, double hi, std::string help,
              std::vector<std::string> aliases = {}) {
  ParamSpec p;
  p.name = std::move(name);
  p.aliases = std::move(aliases);
  p.type = ParamType::kInt;
  p.default_value = std::to_string(def);
  p.min = lo;
  p.max = hi;
  p.help = std::move(help);
  return p;
}

ParamSpec Num(std::string name, std::string def, double lo, double hi,
              std::string help, std::vector<std::string> aliases = {}) {
  ParamSpec p =
      Int(std::move(name), 0, lo, hi, std::move(help), std::move(aliases));
  p.type = ParamType::kNumber;
  p.default_value = std::move(def);
  return p;
}

ParamSpec Bool(std::string name, bool def, std::string help,
               std::vector<std::string> aliases = {},
               std::string negative = "") {
  ParamSpec p;
  p.name = std::move(name);
  p.aliases = std::move(aliases);
  p.type = ParamType::kBool;
  p.default_value = def ? "true" : "false";
  p.help = std::move(help);
  p.negative_flag = std::move(negative);
  return p;
}

ParamSpec Str(std::string name, std::string def,
              std::vector<std::string> choices, std::string help,
              std::vector<std::string> aliases = {}) {
  ParamSpec p;
  p.name = std::move(name);
  p.aliases = std::move(aliases);
  p.type = ParamType::kString;
  p.default_value = std::move(def);
  p.choices = std::move(choices);
  p.help = std::move(help);
  return p;
}

ParamSpec NoEffect(ParamSpec p) {
  p.has_effect = false;
  return p;
}

constexpr double kMaxGroup = 1 << 20;

}  // namespace

const std::vector<ParamSpec>& Params() {
  static const auto* v = new std::vector<ParamSpec>{
      Int("bits", 4, 2, 8, "Weight bits, 2-8", {"w_bits"}),
      Int("group_size", 128, -1, kMaxGroup,
          "Input columns per scale group; -1 per output channel, 0 per "
          "tensor"),
      Bool("sym", false,
           "Symmetric weight grid (--asym: asymmetric, the "
           "default)",
           {}, "asym"),
      Bool("act_order", false,
           "GPTQ: quantize columns by decreasing Hessian diagonal",
           {"desc_act"}),
      Bool("static_groups", false,
           "GPTQ: fix group scales before act-order reordering"),
      Bool("true_sequential", false,
           "GPTQ: Hessians of later linears of a block after the earlier "
           "ones are quantized (4 passes per block)"),
      Num("percdamp", "0.01", 0, 1,
          "GPTQ/SpQR dampening, fraction of mean diag(H)", {"damp"}),
      Int("block_size", 128, 1, 1 << 16, "GPTQ lazy-update block width"),
      Int("a_bits", 16, 4, 16, "Activation fake-quant bits (4-8; 16 = off)"),
      Str("a_granularity", "per_token", {"per_token", "per_tensor"},
          "Activation scale granularity: per_token | per_tensor"),
      Bool("a_static", false,
           "Static per-tensor activation scales from calibration"),
      Int("kv_bits", 16, 2, 16, "KV-cache fake-quant bits (2-8; 16 = off)"),
      Int("kv_group_size", 0, 0, kMaxGroup,
          "KV quant group along head_dim (0 = whole head)"),
      Num("alpha", "0.5", 0, 1, "SmoothQuant migration strength"),
      Int("awq_grid", 20, 1, 1000, "AWQ scale search grid points", {"n_grid"}),
      Bool("awq_clip", true, "AWQ: weight clipping search"),
      Int("spqr_group_size", 16, 1, kMaxGroup, "SpQR first-level group size"),
      Int("spqr_stat_bits", 3, 2, 8,
          "SpQR bits of the quantized group statistics", {"qq_bits"}),
      Num("spqr_outlier_threshold", "0.2", 0, 1e6,
          "SpQR relative outlier threshold",
          {"outlier_threshold", "outlier_relative_threshold"}),
      Num("llm_int8_threshold", "6.0", 0, 1e6,
          "LLM.int8() outlier threshold on |activation|", {"threshold"}),
      Str("fp8_format", "e4m3", {"e4m3", "e5m2"}, "fp8: e4m3 | e5m2",
          {"format"}),
      NoEffect(Str("dtype", "float16", {"float16", "bfloat16", "float32"},
                   "fp16: the baseline's dtype (the model's load dtype "
                   "applies)")),
  };
  return *v;
}

const std::vector<MethodSpec>& Methods() {
  static const auto* v = [] {
    auto p = [](const char* n) { return MethodParam{n, {}, {}}; };
    auto eight = MethodParam{"bits", 8, 8};
    return new std::vector<MethodSpec>{
        {"fp16",
         "no weight change (baseline; act/KV quant still apply)",
         false,
         false,
         false,
         {p("dtype")}},
        {"rtn",
         "round-to-nearest",
         false,
         true,
         true,
         {p("bits"), p("group_size"), p("sym")}},
        {"gptq",
         "GPTQ (Frantar et al. 2022)",
         true,
         true,
         true,
         {p("bits"), p("group_size"), p("sym"), p("act_order"),
          p("static_groups"), p("true_sequential"), p("percdamp"),
          p("block_size")}},
        {"awq",
         "AWQ scale search + clipping, then RTN (Lin et al. 2023)",
         true,
         true,
         true,
         {p("bits"), p("group_size"), p("awq_grid")}},
        {"awq+gptq",
         "AWQ scales + clipping, then GPTQ",
         true,
         true,
         true,
         {p("bits"), p("group_size"), p("act_order"), p("percdamp"),
          p("awq_grid")}},
        {"spqr",
         "SpQR-style bilevel small groups + fp16 outliers",
         true,
         true,
         false,
         {p("bits"), p("group_size"), p("spqr_outlier_threshold"),
          p("spqr_stat_bits"), p("percdamp")}},
        {"smoothquant",
         "SmoothQuant smoothing, then W8A8 RTN (Xiao et al.)",
         true,
         false,
         true,
         {p("alpha"), MethodParam{"bits", 4, 8}, p("a_bits")}},
        {"smoothquant+gptq",
         "smoothing, then GPTQ (SmoothQuant paper, Table 5)",
         true,
         true,
         true,
         {p("alpha"), p("bits"), p("a_bits"), p("group_size"), p("act_order"),
          p("percdamp")}},
        {"llm_int8",
         "LLM.int8(): vector-wise int8 + 16-bit outlier dims",
         false,
         false,
         false,
         {eight, p("llm_int8_threshold")}},
        {"fp8",
         "FP8 (E4M3 / E5M2) weight rounding",
         false,
         false,
         false,
         {eight, p("fp8_format")}},
    };
  }();
  return *v;
}

const std::vector<std::string>& MethodNames() {
  static const auto* v = [] {
    auto* out = new std::vector<std::string>;
    for (const MethodSpec& m : Methods()) out->push_back(m.name);
    return out;
  }();
  return *v;
}

const MethodSpec* FindMethod(std::string_view name) {
  for (const MethodSpec& m : Methods())
    if (m.name == name) return &m;
  return nullptr;
}

bool MethodUsesCalibration(std::string_view name) {
  const MethodSpec* m = FindMethod(name);
  return m != nullptr && m->uses_calibration;
}

const ParamSpec* FindParam(std::string_view key) {
  for (const ParamSpec& p : Params()) {
    if (p.name == key) return &p;
    if (std::find(p.aliases.begin(), p.aliases.end(), key) != p.aliases.end())
      return &p;
  }
  return nullptr;
}

bool IsMethodKey(std::string_view key) {
  return key == "method" || key == "name";
}

double ParamMin(const MethodSpec& m, const ParamSpec& p) {
  for (const MethodParam& mp : m.params)
    if (mp.name == p.name && mp.min) return *mp.min;
  return p.min;
}

double ParamMax(const MethodSpec& m, const ParamSpec& p) {
  for (const MethodParam& mp : m.params)
    if (mp.name == p.name && mp.max) return *mp.max;
  return p.max;
}

std::string FlagName(const ParamSpec& p) {
  std::string f = "--" + p.name;
  std::replace(f.begin(), f.end(), '_', '-');
  return f;
}

std::string NegativeFlagName(const ParamSpec& p) {
  std::string n = p.negative_flag.empty() ? "no-" + p.name : p.negative_flag;
  std::replace(n.begin(), n.end(), '_', '-');
  return "--" + n;
}

const char* TypeDescription(ParamType t) {
  switch (t) {
    case ParamType::kInt:
      return "an integer";
    case ParamType::kNumber:
      return "a number";
    case ParamType::kBool:
      return "true/false";
    case ParamType::kString:
      return "a string";
  }
  return "a value";
}

}  // namespace qgrid::quant
