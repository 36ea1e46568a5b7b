#include "quant/quant_config.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/file_util.h"
#include "common/status_macros.h"
#include "quant/method_catalog.h"

namespace qgrid::quant {
namespace {

using json = nlohmann::json;

// YAML -> JSON, scalars typed by their look (int, float, bool, string).
json YamlToJson(const YAML::Node& n) {
  switch (n.Type()) {
    case YAML::NodeType::Sequence: {
      json a = json::array();
      for (const auto& e : n) a.push_back(YamlToJson(e));
      return a;
    }
    case YAML::NodeType::Map: {
      json o = json::object();
      for (const auto& kv : n)
        o[kv.first.as<std::string>()] = YamlToJson(kv.second);
      return o;
    }
    case YAML::NodeType::Scalar: {
      const std::string s = n.Scalar();
      if (n.Tag() == "!") return s;  // quoted
      if (s == "true" || s == "True") return true;
      if (s == "false" || s == "False") return false;
      try {
        size_t pos = 0;
        long long v = std::stoll(s, &pos);
        if (pos == s.size()) return v;
      } catch (...) {
      }
      try {
        size_t pos = 0;
        double d = std::stod(s, &pos);
        if (pos == s.size()) return d;
      } catch (...) {
      }
      return s;
    }
    default:
      return nullptr;
  }
}

absl::StatusOr<json> ParseJsonOrYaml(const std::string& text,
                                     const std::string& source) {
  json j = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (!j.is_discarded()) return j;
  try {
    return YamlToJson(YAML::Load(text));
  } catch (const YAML::Exception& e) {
    return absl::InvalidArgumentError(
        absl::StrCat(source, ": neither JSON nor YAML: ", e.what()));
  }
}

absl::StatusOr<LayerRule> ParseRule(const json& r, const std::string& where) {
  if (!r.is_object())
    return absl::InvalidArgumentError(where + ": a rule must be an object");
  LayerRule rule;
  for (auto it = r.begin(); it != r.end(); ++it) {
    const std::string& k = it.key();
    const json& v = it.value();
    auto bad = [&](const char* what) {
      return absl::InvalidArgumentError(
          absl::StrCat(where, ".", k, ": expected ", what));
    };
    if (k == "match" || k == "pattern") {
      if (!v.is_string()) return bad("a regex string");
      rule.pattern = v.get<std::string>();
    } else if (k == "skip") {
      if (!v.is_boolean()) return bad("true/false");
      rule.skip = v.get<bool>();
    } else if (k == "quantize") {
      if (!v.is_boolean()) return bad("true/false");
      rule.skip = !v.get<bool>();
    } else if (k == "method") {
      if (!v.is_string()) return bad("a method name");
      rule.method = v.get<std::string>();
    } else if (k == "bits" || k == "w_bits") {
      if (!v.is_number_integer()) return bad("an integer");
      rule.w_bits = v.get<int>();
    } else if (k == "group_size") {
      if (!v.is_number_integer()) return bad("an integer");
      rule.group_size = v.get<int>();
    } else if (k == "sym") {
      if (!v.is_boolean()) return bad("true/false");
      rule.sym = v.get<bool>();
    } else {
      return absl::InvalidArgumentError(absl::StrCat(
          where, ": unknown key '", k,
          "' (known: match, skip, quantize, method, bits, group_size, sym)"));
    }
  }
  if (rule.pattern.empty())
    return absl::InvalidArgumentError(where + ": rule needs 'match'");
  try {
    std::regex re(rule.pattern);
  } catch (const std::regex_error& e) {
    return absl::InvalidArgumentError(absl::StrCat(
        where, ".match: invalid regex '", rule.pattern, "': ", e.what()));
  }
  return rule;
}

absl::StatusOr<std::vector<LayerRule>> ParseRules(const json& j,
                                                  const std::string& source) {
  const json* list = &j;
  if (j.is_object() && j.contains("rules")) list = &j["rules"];
  if (!list->is_array())
    return absl::InvalidArgumentError(
        source + ": layer rules must be a list or {rules: [...]}");
  std::vector<LayerRule> rules;
  for (size_t i = 0; i < list->size(); ++i) {
    QG_ASSIGN_OR_RETURN(
        LayerRule r,
        ParseRule((*list)[i], absl::StrCat(source, ": rules[", i, "]")));
    rules.push_back(std::move(r));
  }
  return rules;
}

json RuleToJson(const LayerRule& r) {
  json o;
  o["match"] = r.pattern;
  if (r.skip) o["skip"] = *r.skip;
  if (r.method) o["method"] = *r.method;
  if (r.w_bits) o["bits"] = *r.w_bits;
  if (r.group_size) o["group_size"] = *r.group_size;
  if (r.sym) o["sym"] = *r.sym;
  return o;
}

// Where each catalogue parameter (quant/method_catalog.h) lives in a
// QuantConfig: exactly one member pointer is set, of the parameter's type.
struct Field {
  int QuantConfig::*i = nullptr;
  double QuantConfig::*d = nullptr;
  bool QuantConfig::*b = nullptr;
  std::string QuantConfig::*s = nullptr;
};

const std::map<std::string, Field>& Fields() {
  static const auto* m = [] {
    auto I = [](int QuantConfig::*p) {
      Field f;
      f.i = p;
      return f;
    };
    auto D = [](double QuantConfig::*p) {
      Field f;
      f.d = p;
      return f;
    };
    auto B = [](bool QuantConfig::*p) {
      Field f;
      f.b = p;
      return f;
    };
    auto S = [](std::string QuantConfig::*p) {
      Field f;
      f.s = p;
      return f;
    };
    return new std::map<std::string, Field>{
        {"bits", I(&QuantConfig::w_bits)},
        {"group_size", I(&QuantConfig::group_size)},
        {"sym", B(&QuantConfig::sym)},
        {"act_order", B(&QuantConfig::act_order)},
        {"static_groups", B(&QuantConfig::static_groups)},
        {"true_sequential", B(&QuantConfig::true_sequential)},
        {"percdamp", D(&QuantConfig::percdamp)},
        {"block_size", I(&QuantConfig::block_size)},
        {"a_bits", I(&QuantConfig::a_bits)},
        {"a_granularity", S(&QuantConfig::a_granularity)},
        {"a_static", B(&QuantConfig::a_static)},
        {"kv_bits", I(&QuantConfig::kv_bits)},
        {"kv_group_size", I(&QuantConfig::kv_group_size)},
        {"alpha", D(&QuantConfig::alpha)},
        {"awq_grid", I(&QuantConfig::awq_grid)},
        {"awq_clip", B(&QuantConfig::awq_clip)},
        {"spqr_group_size", I(&QuantConfig::spqr_group_size)},
        {"spqr_stat_bits", I(&QuantConfig::spqr_stat_bits)},
        {"spqr_outlier_threshold", D(&QuantConfig::spqr_outlier_threshold)},
        {"llm_int8_threshold", D(&QuantConfig::llm_int8_threshold)},
        {"fp8_format", S(&QuantConfig::fp8_format)},
    };
  }();
  return *m;
}

}  // namespace

const std::vector<std::string>& KnownMethods() { return MethodNames(); }

absl::Status SetQuantParam(QuantConfig* c, const std::string& key,
                           const nlohmann::json& v, const std::string& source) {
  auto bad = [&](const char* what) {
    return absl::InvalidArgumentError(
        absl::StrCat(source, ": field '", key, "': expected ", what));
  };
  if (IsMethodKey(key)) {
    if (!v.is_string()) return bad("a string");
    c->method = v.get<std::string>();
    return absl::OkStatus();
  }
  const ParamSpec* p = FindParam(key);
  if (p == nullptr)
    return absl::InvalidArgumentError(
        absl::StrCat(source, ": unknown field '", key, "'"));
  const bool type_ok = p->type == ParamType::kInt      ? v.is_number_integer()
                       : p->type == ParamType::kNumber ? v.is_number()
                       : p->type == ParamType::kBool   ? v.is_boolean()
                                                       : v.is_string();
  if (!type_ok) return bad(TypeDescription(p->type));
  if (!p->has_effect) return absl::OkStatus();  // accepted, no field
  auto it = Fields().find(p->name);
  if (it == Fields().end())
    return absl::InternalError("quant config: catalogue parameter '" + p->name +
                               "' has no QuantConfig field");
  const Field& f = it->second;
  if (f.i) c->*f.i = v.get<int>();
  if (f.d) c->*f.d = v.get<double>();
  if (f.b) c->*f.b = v.get<bool>();
  if (f.s) c->*f.s = v.get<std::string>();
  return absl::OkStatus();
}

std::optional<nlohmann::json> GetQuantParam(const QuantConfig& c,
                                            const std::string& name) {
  if (IsMethodKey(name)) return nlohmann::json(c.method);
  const ParamSpec* p = FindParam(name);
  if (p == nullptr) return std::nullopt;
  auto it = Fields().find(p->name);
  if (it == Fields().end()) return std::nullopt;
  const Field& f = it->second;
  if (f.i) return nlohmann::json(c.*f.i);
  if (f.d) return nlohmann::json(c.*f.d);
  if (f.b) return nlohmann::json(c.*f.b);
  return nlohmann::json(c.*f.s);
}

LayerSpec QuantConfig::Resolve(const std::string& name) const {
  LayerSpec s;
  s.method = method;
  s.w_bits = w_bits;
  s.group_size = group_size;
  s.sym = sym;
  // lm_head stays in 16 bits by default (GPTQ/AWQ/vLLM convention).
  s.skip = name == "lm_head";
  bool group_from_rule = false;
  for (const LayerRule& r : layer_rules) {
    if (!std::regex_search(name, std::regex(r.pattern))) continue;
    if (r.skip) s.skip = *r.skip;
    if (r.method) s.method = *r.method;
    if (r.w_bits) s.w_bits = *r.w_bits;
    if (r.group_size) {
      s.group_size = *r.group_size;
      group_from_rule = true;
    }
    if (r.sym) s.sym = *r.sym;
  }
  // SpQR's first-level groups are spqr_group_size unless a rule sets this
  // layer's group size (e.g. -1 where the input dim has no fitting divisor).
  if (s.method == "spqr" && !group_from_rule) s.group_size = spqr_group_size;
  return s;
}

bool QuantConfig::NeedsCalibration() const {
  auto calibrates = [](const std::string& m) {
    const MethodSpec* spec = FindMethod(m);
    return spec == nullptr || spec->uses_calibration;
  };
  if (calibrates(method)) return true;
  for (const auto& r : layer_rules)
    if (r.method && calibrates(*r.method)) return true;
  // Static activation scales need calibration too.
  return a_bits < 16 && a_static;
}

std::string QuantConfig::ToCanonicalJson() const {
  json o;  // nlohmann's default object is a sorted std::map.
  o["method"] = method;
  o["w_bits"] = w_bits;
  o["group_size"] = group_size;
  o["sym"] = sym;
  o["act_order"] = act_order;
  o["static_groups"] = static_groups;
  // Only when on: the keys of every config from before the option existed
  // (when it was accepted without effect, and off) stay as they were.
  if (true_sequential) o["true_sequential"] = true;
  o["percdamp"] = percdamp;
  o["block_size"] = block_size;
  o["a_bits"] = a_bits;
  o["a_granularity"] = a_granularity;
  o["a_static"] = a_static;
  o["kv_bits"] = kv_bits;
  o["kv_group_size"] = kv_group_size;
  o["alpha"] = alpha;
  o["awq_grid"] = awq_grid;
  o["awq_clip"] = awq_clip;
  o["spqr_group_size"] = spqr_group_size;
  o["spqr_stat_bits"] = spqr_stat_bits;
  o["spqr_outlier_threshold"] = spqr_outlier_threshold;
  o["llm_int8_threshold"] = llm_int8_threshold;
  o["fp8_format"] = fp8_format;
  json rules = json::array();
  for (const auto& r : layer_rules) rules.push_back(RuleToJson(r));
  o["layer_rules"] = rules;
  return o.dump();
}

absl::StatusOr<QuantConfig> ParseQuantConfig(const std::string& text,
                                             const std::string& source) {
  QG_ASSIGN_OR_RETURN(json j, ParseJsonOrYaml(text, source));
  if (!j.is_object())
    return absl::InvalidArgumentError(source + ": expected an object");
  QuantConfig c;
  bool w_bits_given = false, a_bits_given = false;
  for (auto it = j.begin(); it != j.end(); ++it) {
    const std::string& k = it.key();
    if (k == "layer_rules") {
      QG_ASSIGN_OR_RETURN(c.layer_rules,
                          ParseRules(it.value(), source + ": layer_rules"));
      continue;
    }
    QG_RETURN_IF_ERROR(SetQuantParam(&c, k, it.value(), source));
    if (const ParamSpec* p = FindParam(k)) {
      w_bits_given |= p->name == "bits";
      a_bits_given |= p->name == "a_bits";
    }
  }
  // W8A8 methods: 8-bit weights and activations unless told otherwise.
  if (c.method == "smoothquant" || c.method == "llm_int8") {
    if (!w_bits_given) c.w_bits = 8;
    if (!a_bits_given) c.a_bits = 8;
  }
  if (c.method == "smoothquant+gptq" && !a_bits_given) c.a_bits = 8;
  if (c.method == "fp8" && !w_bits_given) c.w_bits = 8;
  return c;
}

absl::StatusOr<std::vector<LayerRule>> LoadLayerRules(const std::string& path) {
  QG_ASSIGN_OR_RETURN(std::string text, ReadFileToString(path));
  QG_ASSIGN_OR_RETURN(json j, ParseJsonOrYaml(text, path));
  return ParseRules(j, path);
}

std::vector<LinearShape> LinearShapes(const model::ModelConfig& m) {
  std::vector<LinearShape> out;
  const int64_t hd = m.head_dim > 0
                         ? m.head_dim
                         : (m.num_heads ? m.hidden_size / m.num_heads : 0);
  const int64_t kvh = m.num_kv_heads > 0 ? m.num_kv_heads : m.num_heads;
  for (int64_t i = 0; i < m.num_layers; ++i) {
    const std::string p = absl::StrCat("model.layers.", i, ".");
    if (m.fused_qkv) {
      out.push_back(
          {p + "self_attn.W_pack", 3 * m.num_heads * hd, m.hidden_size});
    } else {
      out.push_back({p + "self_attn.q_proj", m.num_heads * hd, m.hidden_size});
      out.push_back({p + "self_attn.k_proj", kvh * hd, m.hidden_size});
      out.push_back({p + "self_attn.v_proj", kvh * hd, m.hidden_size});
    }
    out.push_back({p + "self_attn.o_proj", m.hidden_size, m.num_heads * hd});
    out.push_back({p + "mlp.gate_proj", m.intermediate_size, m.hidden_size});
    out.push_back({p + "mlp.up_proj", m.intermediate_size, m.hidden_size});
    out.push_back({p + "mlp.down_proj", m.hidden_size, m.intermediate_size});
  }
  out.push_back({"lm_head", m.vocab_size, m.hidden_size});
  return out;
}

namespace {

absl::Status CheckSpec(const QuantConfig& c, const LayerSpec& s,
                       const std::string& where) {
  const auto& known = KnownMethods();
  if (std::find(known.begin(), known.end(), s.method) == known.end())
    return absl::InvalidArgumentError(
        absl::StrCat(where, "unknown method '", s.method,
                     "' (known: ", absl::StrJoin(known, ", "), ")"));
  if (s.method == "fp16") return absl::OkStatus();
  if (s.method == "fp8") {
    if (c.fp8_format != "e4m3" && c.fp8_format != "e5m2")
      return absl::InvalidArgumentError(absl::StrCat(
          where, "fp8_format must be e4m3 or e5m2, got '", c.fp8_format, "'"));
    if (s.w_bits != 8)
      return absl::InvalidArgumentError(where + "fp8 uses 8 bits");
    return absl::OkStatus();
  }
  if (s.method == "llm_int8" && s.w_bits != 8)
    return absl::InvalidArgumentError(
        where + "llm_int8 is 8-bit vector-wise; bits must be 8");
  if (s.w_bits < 2 || s.w_bits > 8)
    return absl::InvalidArgumentError(absl::StrCat(
        where, "bits must be in [2, 8] for ", s.method, ", got ", s.w_bits));
  if (s.group_size < -1)
    return absl::InvalidArgumentError(absl::StrCat(
        where,
        "group_size must be -1 (per channel), 0 (per tensor) or > 0, "
        "got ",
        s.group_size));
  return absl::OkStatus();
}

}  // namespace

absl::Status Validate(const QuantConfig& c, const model::ModelConfig* model) {
  QG_RETURN_IF_ERROR(CheckSpec(c, c.Resolve("model.layers.0.self_attn.q_proj"),
                               "quant config: "));
  {
    LayerSpec base;
    base.method = c.method;
    base.w_bits = c.w_bits;
    base.group_size = c.group_size;
    QG_RETURN_IF_ERROR(CheckSpec(c, base, "quant config: "));
  }
  for (size_t i = 0; i < c.layer_rules.size(); ++i) {
    const LayerRule& r = c.layer_rules[i];
    LayerSpec s;
    s.method = r.method.value_or(c.method);
    s.w_bits = r.w_bits.value_or(c.w_bits);
    s.group_size = r.group_size.value_or(c.group_size);
    QG_RETURN_IF_ERROR(CheckSpec(
        c, s, absl::StrCat("layer rule ", i, " ('", r.pattern, "'): ")));
  }
  if (c.a_bits != 16 && (c.a_bits < 4 || c.a_bits > 8))
    return absl::InvalidArgumentError(absl::StrCat(
        "quant config: a_bits must be 16 (off) or in [4, 8], got ", c.a_bits));
  if (c.a_granularity != "per_token" && c.a_granularity != "per_tensor")
    return absl::InvalidArgumentError(
        "quant config: a_granularity must be per_token or per_tensor, got '" +
        c.a_granularity + "'");
  if (c.a_static && c.a_granularity != "per_tensor")
    return absl::InvalidArgumentError(
        "quant config: static activation scales are per_tensor (a per-token "
        "scale cannot be calibrated ahead of time)");
  if (c.kv_bits != 16 && (c.kv_bits < 2 || c.kv_bits > 8))
    return absl::InvalidArgumentError(absl::StrCat(
        "quant config: kv_bits must be 16 (off) or in [2, 8], got ",
        c.kv_bits));
  if (c.kv_group_size < 0)
    return absl::InvalidArgumentError(
        "quant config: kv_group_size must be >= 0");
  if (!(c.percdamp > 0 && c.percdamp < 1))
    return absl::InvalidArgumentError(absl::StrCat(
        "quant config: percdamp must be in (0, 1), got ", c.percdamp));
  if (c.block_size < 1)
    return absl::InvalidArgumentError("quant config: block_size must be >= 1");
  if (!(c.alpha >= 0 && c.alpha <= 1))
    return absl::InvalidArgumentError(
        absl::StrCat("quant config: alpha must be in [0, 1], got ", c.alpha));
  if (c.awq_grid < 1)
    return absl::InvalidArgumentError("quant config: awq_grid must be >= 1");
  if (c.spqr_group_size < 1 || c.spqr_stat_bits < 2 || c.spqr_stat_bits > 8)
    return absl::InvalidArgumentError(
        "quant config: spqr_group_size must be >= 1 and spqr_stat_bits in "
        "[2, 8]");
  if (c.spqr_outlier_threshold <= 0)
    return absl::InvalidArgumentError(
        "quant config: spqr_outlier_threshold must be > 0");
  if (c.llm_int8_threshold <= 0)
    return absl::InvalidArgumentError(
        "quant config: llm_int8_threshold must be > 0");
  if (c.act_order && c.static_groups && c.group_size <= 0)
    return absl::InvalidArgumentError(
        "quant config: static_groups needs group_size > 0");
  if (!model) return absl::OkStatus();

  const int64_t hd =
      model->head_dim > 0
          ? model->head_dim
          : (model->num_heads ? model->hidden_size / model->num_heads : 0);
  if (c.kv_bits != 16 && c.kv_group_size > 0 && hd % c.kv_group_size != 0)
    return absl::InvalidArgumentError(
        absl::StrCat("quant config: kv_group_size ", c.kv_group_size,
                     " does not divide head_dim ", hd));
  for (const LinearShape& l : LinearShapes(*model)) {
    LayerSpec s = c.Resolve(l.name);
    if (s.skip) continue;
    QG_RETURN_IF_ERROR(CheckSpec(c, s, l.name + ": "));
    if (s.method == "fp16" || s.method == "fp8" || s.method == "llm_int8")
      continue;
    const int g = s.group_size;
    if (g > 0 && l.in % g != 0)
      return absl::InvalidArgumentError(absl::StrCat(
          l.name, ": group size ", g, " does not divide the input dim ", l.in,
          " of this layer; use a group size dividing it, -1 (per channel), or "
          "a layer rule for it (e.g. {match: \"mlp\\\\.down_proj\", "
          "group_size: -1})"));
  }
  return absl::OkStatus();
}

absl::StatusOr<ExportFormat> ParseExportFormat(const std::string& s) {
  if (s == "fake") return ExportFormat::kFake;
  if (s == "gptq") return ExportFormat::kGptq;
  if (s == "awq") return ExportFormat::kAwq;
  if (s == "compressed-tensors") return ExportFormat::kCompressedTensors;
  return absl::InvalidArgumentError(
      "unknown export format '" + s +
      "' (known: fake, gptq, awq, compressed-tensors)");
}

absl::Status ValidateExport(const QuantConfig& c,
                            const model::ModelConfig& model,
                            ExportFormat format) {
  if (format == ExportFormat::kFake) return absl::OkStatus();
  // compressed-tensors: weight-only pack-quantized, or W8A8 int-quantized
  // with dynamic per-token int8 activations.
  const bool ct_w8a8 = format == ExportFormat::kCompressedTensors &&
                       c.a_bits == 8 && c.a_granularity == "per_token" &&
                       !c.a_static;
  if (format == ExportFormat::kCompressedTensors &&
      ((c.a_bits < 16 && !ct_w8a8) || c.kv_bits < 16))
    return absl::InvalidArgumentError(absl::StrCat(
        "--format compressed-tensors: qgrid writes weight-only "
        "pack-quantized (W2..W8A16) and W8A8 int-quantized with dynamic "
        "per-token 8-bit activations; activation (a_bits ",
        c.a_bits, ") or KV-cache (kv_bits ", c.kv_bits,
        ") quantization cannot be stored, use --format fake"));
  const char* fname = format == ExportFormat::kGptq  ? "gptq"
                      : format == ExportFormat::kAwq ? "awq"
                                                     : "compressed-tensors";
  // compressed-tensors packs any row length (padded to whole words).
  const bool ct = format == ExportFormat::kCompressedTensors;
  std::set<int> bits_seen;
  std::set<int> groups_seen;
  for (const LinearShape& l : LinearShapes(model)) {
    LayerSpec s = c.Resolve(l.name);
    if (s.skip) continue;
    const MethodSpec* ms = FindMethod(s.method);
    if (ms == nullptr || !ms->integer_codes)
      return absl::InvalidArgumentError(absl::StrCat(
          "--format ", fname, ": method ", s.method, " (layer ", l.name,
          ") has no integer-code form; use --format fake"));
    if (ct_w8a8 && s.w_bits != 8)
      return absl::InvalidArgumentError(absl::StrCat(
          "--format compressed-tensors: W8A8 int-quantized needs 8-bit "
          "weights; layer ",
          l.name, " has ", s.w_bits));
    if (s.method.rfind("smoothquant", 0) == 0 && c.a_bits < 16 && !ct_w8a8)
      return absl::InvalidArgumentError(
          absl::StrCat("--format ", fname,
                       ": weight-only format; activation quantization "
                       "(a_bits ",
                       c.a_bits, ") cannot be stored, use --format fake"));
    if (format == ExportFormat::kAwq) {
      if (s.w_bits != 4)
        return absl::InvalidArgumentError(absl::StrCat(
            "--format awq: the AWQ GEMM layout is 4-bit only; layer ", l.name,
            " has ", s.w_bits, " bits (use --format gptq or fake)"));
      if (s.sym)
        return absl::InvalidArgumentError(
            "--format awq: AWQ checkpoints are asymmetric (zero point); use "
            "--asym or --format gptq");
      if (c.act_order)
        return absl::InvalidArgumentError(
            "--format awq: the AWQ layout has no g_idx; act-order needs "
            "--format gptq");
    }
    if (s.group_size == 0)
      return absl::InvalidArgumentError(
          absl::StrCat("--format ", fname,
                       ": per-tensor scales (group_size 0) are not "
                       "expressible; use -1 or a group size"));
    const int words_in = format == ExportFormat::kGptq ? s.w_bits : 0;
    if (words_in && (l.in * s.w_bits) % 32 != 0)
      return absl::InvalidArgumentError(absl::StrCat(
          "--format gptq: layer ", l.name, " input dim ", l.in, " x ", s.w_bits,
          " bits does not fill whole int32 words; skip it with a "
          "layer rule ({match: ..., skip: true}) or use --format fake"));
    if (!ct && (l.out * s.w_bits) % 32 != 0)
      return absl::InvalidArgumentError(
          absl::StrCat("--format ", fname, ": layer ", l.name, " output dim ",
                       l.out, " x ", s.w_bits,
                       " bits does not fill whole int32 words; skip it "
                       "with a layer rule or use --format fake"));
    bits_seen.insert(s.w_bits);
    groups_seen.insert(s.group_size);
  }
  // GPTQ exports carry per-module overrides (GPTQModel `dynamic`); the AWQ
  // layout has one config for the whole checkpoint.
  if (format == ExportFormat::kAwq &&
      (bits_seen.size() > 1 || groups_seen.size() > 1))
    return absl::InvalidArgumentError(
        "--format awq: one quantization_config covers the whole "
        "checkpoint, but layer rules give different bits/group sizes; use "
        "--format gptq (per-module `dynamic` overrides) or fake");
  return absl::OkStatus();
}

}  // namespace qgrid::quant
