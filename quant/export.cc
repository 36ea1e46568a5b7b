#include "quant/export.h"

#include <ATen/ATen.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <regex>
#include <sstream>
#include <tuple>

#include "absl/strings/str_cat.h"
#include "common/file_util.h"
#include "common/status_macros.h"
#include "model/safetensors.h"
#include "model/torch_util.h"
#include "quant/packing.h"
#include "quant/quant_linear.h"

namespace qgrid::quant {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

// Files a tokenizer may need (model/tokenizer.h LoadTokenizer reads these).
constexpr const char* kTokenizerFiles[] = {"tokenizer.model",
                                           "tokenizer.json",
                                           "tokenizer_config.json",
                                           "special_tokens_map.json",
                                           "generation_config.json",
                                           "added_tokens.json",
                                           "vocab.json",
                                           "merges.txt",
                                           "tokenizer.model.v3"};

// The integer form of a layer, from a fake-quant layer or a packed one.
struct IntegerForm {
  at::Tensor codes, scales, zeros, g_idx;  // [out,in], [out,G], [out,G], [in]
  int bits = 0;
};

bool GetIntegerForm(const model::Linear& l, IntegerForm* f) {
  const model::Linear* base = &l;
  if (auto* a = dynamic_cast<const ActQuantLinear*>(base)) base = &a->inner();
  if (auto* fq = dynamic_cast<const FakeQuantLinear*>(base)) {
    const QuantizedWeight& q = fq->quantized();
    if (!q.has_exact_codes()) return false;
    f->codes = q.codes.cpu();
    f->scales = q.scales.cpu();
    f->zeros = q.zeros.cpu();
    f->g_idx = q.g_idx.cpu();
    f->bits = q.bits;
    return true;
  }
  if (auto* p = dynamic_cast<const PackedLinear*>(base)) {
    f->codes = p->Codes();
    f->scales = p->scales().t().to(at::kFloat).contiguous();
    f->zeros = p->Zeros();
    f->g_idx = p->g_idx();
    f->bits = p->bits();
    return true;
  }
  return false;
}

// "^model\.layers\.0\.mlp\.down_proj$": the module name as an anchored
// regex (dots escaped; HF module names hold no other metacharacters).
std::string AnchoredRegex(const std::string& module) {
  std::string r = "^";
  for (char c : module) {
    if (std::string(".^$|()[]{}*+?\\").find(c) != std::string::npos) r += '\\';
    r += c;
  }
  return r + "$";
}

// GPTQModel `dynamic` resolution for one module, as vLLM's
// get_dynamic_override: patterns in file order, "-:" excludes the module
// (returns false), "+:" or no prefix overrides fields of the base config
// (re.match: anchored at the start). Returns true with `bits`/`group_size`
// updated, or false for excluded modules.
bool ResolveDynamic(const nlohmann::ordered_json& qc, const std::string& name,
                    int* bits, int* group_size) {
  if (!qc.contains("dynamic") || !qc["dynamic"].is_object()) return true;
  for (const auto& [pat, over] : qc["dynamic"].items()) {
    const bool negative = pat.rfind("-:", 0) == 0;
    const std::string re = pat.rfind("-:", 0) == 0 || pat.rfind("+:", 0) == 0
                               ? pat.substr(2)
                               : pat;
    if (!std::regex_search(name, std::regex(re),
                           std::regex_constants::match_continuous))
      continue;
    if (negative) return false;
    if (over.is_object()) {
      *bits = over.value("bits", *bits);
      *group_size = over.value("group_size", *group_size);
    }
    return true;
  }
  return true;
}

// compressed-tensors pack-quantized tensors of one module (see export.h).
// Returns the module's actorder code (0 none, 1 weight, 2 group).
absl::StatusOr<int> AppendCompressedTensors(
    const std::string& module, const IntegerForm& f, bool sym, bool act_order,
    bool int_quantized, at::ScalarType weight_dtype,
    std::vector<std::pair<std::string, at::Tensor>>* tensors) {
  const int64_t out = f.codes.size(0), in = f.codes.size(1);
  const int64_t G = f.scales.size(1);
  const int64_t half = int64_t{1} << (f.bits - 1);
  const int64_t maxq = (int64_t{1} << f.bits) - 1;
  at::Tensor z = f.zeros.to(at::kLong);
  if (z.min().item<int64_t>() < 0 || z.max().item<int64_t>() > maxq)
    return absl::InvalidArgumentError(
        module +
        ": zero points outside [0, 2^bits) cannot be stored in "
        "compressed-tensors' int8 zero_point");
  if (sym && !z.eq(half).all().item<bool>())
    return absl::InvalidArgumentError(
        module +
        ": symmetric layer whose zero point is not 2^(bits-1); "
        "compressed-tensors' symmetric form has no zero point");
  if (int_quantized) {
    // int-quantized (W8A8): the signed codes q - 2^(b-1) as int8 `weight`.
    tensors->emplace_back(module + ".weight",
                          (f.codes.to(at::kInt) - half).to(at::kChar));
  } else {
    // compressed-tensors' signed code q - 2^(b-1) plus pack_to_int32's
    // offset 2^(b-1) is qgrid's unsigned code: pack the codes as they are.
    QG_ASSIGN_OR_RETURN(at::Tensor packed, PackStreamCols(f.codes, f.bits));
    tensors->emplace_back(module + ".weight_packed", packed);
  }
  // Scales are on the fp16 grid: fp16 models keep fp16 scales (the
  // product with a small integer is then rounded once, as the fake weight
  // is), everything else float32 (bf16 cannot hold every fp16 value).
  const at::ScalarType sdt = weight_dtype == at::kHalf ? at::kHalf : at::kFloat;
  tensors->emplace_back(module + ".weight_scale",
                        f.scales.to(sdt).contiguous());
  if (!sym && int_quantized) {
    tensors->emplace_back(module + ".weight_zero_point",
                          (z - half).to(at::kChar).contiguous());
  } else if (!sym) {
    // zero_point [out, G] packed along the output dim (packed_dim=0).
    QG_ASSIGN_OR_RETURN(at::Tensor zp,
                        PackStreamCols(f.zeros.t().contiguous(), f.bits));
    tensors->emplace_back(module + ".weight_zero_point", zp.t().contiguous());
  }
  if (!int_quantized)
    tensors->emplace_back(module + ".weight_shape",
                          at::tensor(std::vector<int64_t>{out, in}, at::kLong));
  at::Tensor contiguous = at::arange(in, at::kLong)
                              .floor_divide(std::max<int64_t>(in / G, 1))
                              .to(at::kInt);
  if (at::equal(f.g_idx.to(at::kInt), contiguous)) return act_order ? 1 : 0;
  if (int_quantized)
    return absl::InvalidArgumentError(
        module + ": int-quantized (W8A8) has no g_idx; use static groups");
  tensors->emplace_back(module + ".weight_g_idx",
                        f.g_idx.to(at::kInt).contiguous());
  return 2;
}

// A compressed-tensors pack-quantized linear (`<name>.weight_packed`),
// reloaded as a FakeQuantLinear that keeps its integer form. The module's
// config group: an exact-name target first, then a "re:" target, then
// "Linear" (compressed-tensors' precedence).
absl::StatusOr<std::shared_ptr<model::Linear>> LoadCompressedTensorsLinear(
    const std::string& name, const model::Checkpoint& ckpt,
    const model::ModelConfig& config, const model::LoadOptions& opts) {
  auto j = nlohmann::ordered_json::parse(config.raw_json, nullptr, false);
  if (j.is_discarded() || !j.contains("quantization_config") ||
      !j["quantization_config"].contains("config_groups"))
    return absl::InvalidArgumentError(
        name +
        ".weight_packed present but config.json has no "
        "compressed-tensors quantization_config.config_groups");
  const auto& qc = j["quantization_config"];
  const std::string fmt = qc.value("format", "");
  if (fmt != "pack-quantized" && fmt != "int-quantized")
    return absl::InvalidArgumentError(
        absl::StrCat(name, ": compressed-tensors format '", fmt,
                     "' (qgrid reads pack-quantized and int-quantized)"));
  const bool int_quantized = fmt == "int-quantized";
  const nlohmann::ordered_json* chosen = nullptr;
  int rank = 3;
  for (const auto& [gname, g] : qc["config_groups"].items()) {
    if (!g.contains("targets") || !g["targets"].is_array()) continue;
    for (const auto& t : g["targets"]) {
      if (!t.is_string()) continue;
      const std::string s = t.get<std::string>();
      int r = 3;
      if (s == name) {
        r = 0;
      } else if (s.rfind("re:", 0) == 0 &&
                 std::regex_search(name, std::regex(s.substr(3)),
                                   std::regex_constants::match_continuous)) {
        r = 1;
      } else if (s == "Linear") {
        r = 2;
      }
      if (r < rank) rank = r, chosen = &g;
    }
  }
  if (chosen == nullptr || !chosen->contains("weights") ||
      !(*chosen)["weights"].is_object())
    return absl::InvalidArgumentError(
        name + ": no compressed-tensors config group with weights targets it");
  const auto& w = (*chosen)["weights"];
  const int bits = w.value("num_bits", 0);
  const bool sym = w.value("symmetric", true);
  const std::string strategy = w.value("strategy", "");
  if (w.value("type", "int") != "int" || bits < 2 || bits > 8 ||
      (strategy != "group" && strategy != "channel"))
    return absl::InvalidArgumentError(absl::StrCat(
        name,
        ": compressed-tensors weights must be int, 2..8 bits, group or "
        "channel strategy (got ",
        w.value("type", "?"), ", ", bits, " bits, ", strategy, ")"));
  std::shared_ptr<model::Linear> out;
  absl::Status st = model::CatchTorch([&]() -> absl::Status {
    at::Tensor packed, shape;
    QG_ASSIGN_OR_RETURN(at::Tensor scale, ckpt.Load(name + ".weight_scale"));
    if (int_quantized) {
      QG_ASSIGN_OR_RETURN(packed, ckpt.Load(name + ".weight"));
      if (packed.dim() != 2)
        return absl::InvalidArgumentError(name + ": weight must be 2-D");
      shape = at::tensor(packed.sizes().vec(), at::kLong);
    } else {
      QG_ASSIGN_OR_RETURN(packed, ckpt.Load(name + ".weight_packed"));
      QG_ASSIGN_OR_RETURN(shape, ckpt.Load(name + ".weight_shape"));
    }
    shape = shape.to(at::kLong);
    if (shape.numel() != 2 || scale.dim() != 2)
      return absl::InvalidArgumentError(
          name + ": weight_shape must hold [out, in], weight_scale be 2-D");
    const int64_t n_out = shape[0].item<int64_t>();
    const int64_t n_in = shape[1].item<int64_t>();
    const int64_t G = scale.size(1);
    if (scale.size(0) != n_out || G < 1 || n_in % G != 0)
      return absl::InvalidArgumentError(
          name + ": weight_scale shape does not match weight_shape");
    QuantizedWeight q;
    q.bits = bits;
    q.sym = sym;
    q.group_size = strategy == "group" ? int(n_in / G) : -1;
    const int half = 1 << (bits - 1);
    if (int_quantized) {
      q.codes = packed.to(at::kInt) + half;
    } else {
      QG_ASSIGN_OR_RETURN(q.codes, UnpackStreamCols(packed, bits, n_in));
    }
    if (q.codes.size(0) != n_out)
      return absl::InvalidArgumentError(name + ": weight_packed rows != out");
    q.scales = scale.to(at::kFloat).contiguous();
    if (sym) {
      q.zeros = at::full({n_out, G}, half, at::kInt);
    } else if (int_quantized) {
      QG_ASSIGN_OR_RETURN(at::Tensor zp,
                          ckpt.Load(name + ".weight_zero_point"));
      q.zeros = (zp.to(at::kInt) + half).reshape({n_out, G}).contiguous();
    } else {
      QG_ASSIGN_OR_RETURN(at::Tensor zp,
                          ckpt.Load(name + ".weight_zero_point"));
      QG_ASSIGN_OR_RETURN(at::Tensor z,
                          UnpackStreamCols(zp.to(at::kInt).t(), bits, n_out));
      q.zeros = z.t().contiguous();
    }
    if (ckpt.Has(name + ".weight_g_idx")) {
      QG_ASSIGN_OR_RETURN(q.g_idx, ckpt.Load(name + ".weight_g_idx"));
      q.g_idx = q.g_idx.to(at::kInt).contiguous();
      q.act_order = true;
    } else {
      q.g_idx = at::arange(n_in, at::kLong).floor_divide(n_in / G).to(at::kInt);
    }
    q.weight = DequantizeCodes(q.codes, q.scales, q.zeros, q.g_idx);
    at::Tensor bias;
    if (ckpt.Has(name + ".bias")) {
      QG_ASSIGN_OR_RETURN(bias, ckpt.Load(name + ".bias", opts.dtype));
    }
    out = std::make_shared<FakeQuantLinear>(std::move(q), bias, opts.dtype);
    return absl::OkStatus();
  });
  if (!st.ok()) return st;
  return out;
}

absl::Status WriteText(const std::string& path, const std::string& text) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  if (!f) return absl::InternalError(path + ": cannot write");
  f << text;
  if (!f) return absl::InternalError(path + ": write failed");
  return absl::OkStatus();
}

}  // namespace

absl::Status ExportModel(model::CausalLM& lm, const QuantConfig& cfg,
                         const std::string& out_dir, ExportFormat format) {
  QG_RETURN_IF_ERROR(Validate(cfg, &lm.config()));
  QG_RETURN_IF_ERROR(ValidateExport(cfg, lm.config(), format));
  std::error_code ec;
  fs::create_directories(out_dir, ec);
  if (ec) return absl::InternalError(out_dir + ": " + ec.message());

  std::vector<std::pair<std::string, at::Tensor>> tensors;
  json static_scales = json::object();
  bool any_packed = false;
  // Per packed module: (bits, group_size, sym); dense decoder linears.
  // actorder (compressed-tensors only): 0 none, 1 "weight" (act-order
  // with contiguous groups), 2 "group" (a g_idx is stored).
  struct Form {
    int bits, group;
    bool sym;
    int actorder = 0;
    bool operator<(const Form& o) const {
      return std::tie(bits, group, sym, actorder) <
             std::tie(o.bits, o.group, o.sym, o.actorder);
    }
  };
  std::vector<std::pair<std::string, Form>> packed;
  std::vector<std::string> dense_linears;
  // compressed-tensors: W8A8 (dynamic per-token int8 activations) is the
  // "int-quantized" format, weight-only forms "pack-quantized".
  const bool int_quantized =
      format == ExportFormat::kCompressedTensors && cfg.a_bits < 16;
  const char* ct_format = int_quantized ? "int-quantized" : "pack-quantized";
  QG_RETURN_IF_ERROR(model::CatchTorch([&]() -> absl::Status {
    std::map<std::string, const model::Linear*> linears;
    for (const model::LinearRef& r : lm.Linears()) {
      linears[r.name] = r.slot->get();
      const model::Linear* base = r.slot->get();
      if (auto* a = dynamic_cast<const ActQuantLinear*>(base))
        base = &a->inner();
      if (auto* fq = dynamic_cast<const FakeQuantLinear*>(base))
        if (fq->act().static_scale > 0)
          static_scales[r.name] = fq->act().static_scale;
    }
    for (auto& [name, t] : lm.StateDict()) {
      const std::string suffix = ".weight";
      const bool is_weight =
          name.size() > suffix.size() &&
          name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0;
      const std::string module =
          is_weight ? name.substr(0, name.size() - suffix.size()) : "";
      auto it = linears.find(module);
      IntegerForm f;
      if (format == ExportFormat::kFake || !is_weight || it == linears.end() ||
          cfg.Resolve(module).skip || !GetIntegerForm(*it->second, &f)) {
        tensors.emplace_back(name, t.detach().cpu().contiguous());
        if (is_weight && it != linears.end() && module != "lm_head")
          dense_linears.push_back(module);
        continue;
      }
      any_packed = true;
      const int64_t out = f.codes.size(0), in = f.codes.size(1);
      const int64_t G = f.scales.size(1);
      packed.push_back({module, Form{f.bits, G == 1 ? -1 : int(in / G),
                                     cfg.Resolve(module).sym}});
      if (format == ExportFormat::kCompressedTensors) {
        QG_ASSIGN_OR_RETURN(
            packed.back().second.actorder,
            AppendCompressedTensors(module, f, packed.back().second.sym,
                                    cfg.act_order, int_quantized,
                                    t.scalar_type(), &tensors));
      } else if (format == ExportFormat::kGptq) {
        QG_ASSIGN_OR_RETURN(at::Tensor qweight,
                            PackRows(f.codes.t().contiguous(), f.bits));
        const int64_t mask = (int64_t{1} << f.bits) - 1;
        at::Tensor z = (f.zeros.t().to(at::kLong) - 1).bitwise_and(mask);
        QG_ASSIGN_OR_RETURN(at::Tensor qzeros,
                            PackCols(z.to(at::kInt).contiguous(), f.bits));
        tensors.emplace_back(module + ".qweight", qweight);
        tensors.emplace_back(module + ".qzeros", qzeros);
        tensors.emplace_back(module + ".scales",
                             f.scales.t().to(at::kHalf).contiguous());
        tensors.emplace_back(module + ".g_idx",
                             f.g_idx.to(at::kInt).contiguous());
      } else {
        // AWQ has no g_idx: groups must be contiguous.
        at::Tensor expect = at::arange(in, at::kLong)
                                .floor_divide(std::max<int64_t>(in / G, 1))
                                .to(at::kInt);
        if (!at::equal(f.g_idx.to(at::kInt), expect))
          return absl::InvalidArgumentError(
              module + ": --format awq needs contiguous groups (no act-order)");
        QG_ASSIGN_OR_RETURN(at::Tensor qweight,
                            PackAwqCols(f.codes.t().contiguous()));
        QG_ASSIGN_OR_RETURN(at::Tensor qzeros,
                            PackAwqCols(f.zeros.t().contiguous()));
        tensors.emplace_back(module + ".qweight", qweight);
        tensors.emplace_back(module + ".qzeros", qzeros);
        tensors.emplace_back(module + ".scales",
                             f.scales.t().to(at::kHalf).contiguous());
      }
      (void)out;
    }
    return absl::OkStatus();
  }));
  QG_RETURN_IF_ERROR(model::WriteSafetensors(
      (fs::path(out_dir) / "model.safetensors").string(), tensors,
      {{"format", "pt"}}));

  json config = json::parse(lm.config().raw_json, nullptr, false);
  if (config.is_discarded() || !config.is_object()) {
    return absl::FailedPreconditionError(
        "export: the model's config.json text is not available");
  }
  if (format != ExportFormat::kFake && any_packed) {
    // The base form is the most common one; other modules get GPTQModel
    // `dynamic` overrides ("+:regex": {bits, group_size, sym}), modules
    // left dense inside the blocks a "-:regex": {} entry (vLLM and
    // GPTQModel then skip quantized init for them). Patterns are anchored
    // module names, so entry order does not matter.
    std::map<Form, int> count;
    for (const auto& [m, f] : packed) ++count[f];
    Form base = packed.front().second;
    for (const auto& [f, n] : count)
      if (n > count[base]) base = f;
    json dynamic = json::object();
    for (const auto& [m, f] : packed) {
      if (!(f < base) && !(base < f)) continue;
      dynamic["+:" + AnchoredRegex(m)] = {
          {"bits", f.bits}, {"group_size", f.group}, {"sym", f.sym}};
    }
    for (const std::string& m : dense_linears)
      dynamic["-:" + AnchoredRegex(m)] = json::object();
    const int common_bits = base.bits, common_group = base.group;
    if (format == ExportFormat::kCompressedTensors) {
      // One config group per form: the most common targets every Linear,
      // the others list their modules by name (compressed-tensors and
      // vLLM prefer an exact-name target over a class target).
      std::map<Form, std::vector<std::string>> members;
      for (const auto& [m, f] : packed) members[f].push_back(m);
      json groups = json::object();
      int next = 1;
      // qgrid's dynamic per-token activation fake-quant: symmetric,
      // absmax / (2^(bits-1) - 1), as vLLM's dynamic per-token int8.
      json input_acts = nullptr;
      if (int_quantized)
        input_acts = {
            {"num_bits", cfg.a_bits}, {"type", "int"},
            {"symmetric", true},      {"group_size", nullptr},
            {"strategy", "token"},    {"block_structure", nullptr},
            {"dynamic", true},        {"actorder", nullptr},
            {"observer", nullptr},    {"observer_kwargs", json::object()}};
      for (const auto& [f, mods] : members) {
        const bool is_base = !(f < base) && !(base < f);
        json w = {{"num_bits", f.bits},
                  {"type", "int"},
                  {"symmetric", f.sym},
                  {"group_size", f.group > 0 ? json(f.group) : json(nullptr)},
                  {"strategy", f.group > 0 ? "group" : "channel"},
                  {"block_structure", nullptr},
                  {"dynamic", false},
                  {"actorder", f.actorder == 0   ? json(nullptr)
                               : f.actorder == 1 ? json("weight")
                                                 : json("group")},
                  {"observer", "minmax"},
                  {"observer_kwargs", json::object()}};
        if (!f.sym) w["zp_dtype"] = "torch.int8";
        groups[is_base ? "group_0" : absl::StrCat("group_", next++)] = {
            {"targets", is_base ? json::array({"Linear"}) : json(mods)},
            {"weights", w},
            {"input_activations", input_acts},
            {"output_activations", nullptr},
            {"format", ct_format}};
      }
      json ignore = json::array();
      bool lm_head_packed = false;
      for (const auto& [m, f] : packed) lm_head_packed |= m == "lm_head";
      if (!lm_head_packed) ignore.push_back("lm_head");
      for (const std::string& m : dense_linears) ignore.push_back(m);
      config["quantization_config"] = {{"quant_method", "compressed-tensors"},
                                       {"format", ct_format},
                                       {"quantization_status", "compressed"},
                                       {"config_groups", groups},
                                       {"ignore", ignore},
                                       {"kv_cache_scheme", nullptr},
                                       {"global_compression_ratio", nullptr}};
    } else if (format == ExportFormat::kGptq) {
      config["quantization_config"] = {{"quant_method", "gptq"},
                                       {"bits", common_bits},
                                       {"group_size", common_group},
                                       {"desc_act", cfg.act_order},
                                       {"sym", base.sym},
                                       {"static_groups", cfg.static_groups},
                                       {"damp_percent", cfg.percdamp},
                                       {"true_sequential", cfg.true_sequential},
                                       {"checkpoint_format", "gptq"}};
      if (!dynamic.empty()) config["quantization_config"]["dynamic"] = dynamic;
      // AutoGPTQ / GPTQModel also write it as quantize_config.json.
      QG_RETURN_IF_ERROR(
          WriteText((fs::path(out_dir) / "quantize_config.json").string(),
                    config["quantization_config"].dump(2) + "\n"));
    } else {
      config["quantization_config"] = {{"quant_method", "awq"},
                                       {"bits", 4},
                                       {"group_size", common_group},
                                       {"zero_point", true},
                                       {"version", "gemm"}};
    }
  } else {
    config.erase("quantization_config");
  }
  const char* fname = format == ExportFormat::kFake   ? "fake"
                      : format == ExportFormat::kGptq ? "gptq"
                      : format == ExportFormat::kAwq  ? "awq"
                                                      : "compressed-tensors";
  config["qgrid_quantization"] = {
      {"format", fname},
      {"config", json::parse(cfg.ToCanonicalJson())},
      {"act_static_scales", static_scales}};
  QG_RETURN_IF_ERROR(WriteText((fs::path(out_dir) / "config.json").string(),
                               config.dump(2) + "\n"));
  const std::string src = lm.source_dir();
  if (!src.empty() && fs::absolute(src, ec) != fs::absolute(out_dir, ec)) {
    for (const char* f : kTokenizerFiles) {
      fs::path from = fs::path(src) / f;
      if (!fs::exists(from, ec)) continue;
      fs::copy_file(from, fs::path(out_dir) / f,
                    fs::copy_options::overwrite_existing, ec);
      if (ec)
        return absl::InternalError(
            absl::StrCat("export: copying ", f, ": ", ec.message()));
    }
  }
  return absl::OkStatus();
}

decltype(model::LoadOptions::linear_factory) QuantizedLinearFactory() {
  return QuantizedLinearFactory("");
}

decltype(model::LoadOptions::linear_factory) QuantizedLinearFactory(
    const std::string& quantize_config_json) {
  return [quantize_config_json](
             const std::string& name, const model::Checkpoint& ckpt,
             const model::ModelConfig& config, const model::LoadOptions& opts)
             -> absl::StatusOr<std::shared_ptr<model::Linear>> {
    if (ckpt.Has(name + ".weight_packed") ||
        (ckpt.Has(name + ".weight_scale") && ckpt.Has(name + ".weight")))
      return LoadCompressedTensorsLinear(name, ckpt, config, opts);
    if (!ckpt.Has(name + ".qweight")) return std::shared_ptr<model::Linear>();
    nlohmann::ordered_json qc;
    if (!quantize_config_json.empty()) {
      qc = nlohmann::ordered_json::parse(quantize_config_json, nullptr, false);
    } else {
      auto j = nlohmann::ordered_json::parse(config.raw_json, nullptr, false);
      if (!j.is_discarded() && j.contains("quantization_config"))
        qc = j["quantization_config"];
    }
    if (qc.is_discarded() || !qc.is_object())
      return absl::InvalidArgumentError(
          name +
          ".qweight present but neither config.json's quantization_config "
          "nor quantize_config.json describes it");
    const std::string method = qc.value("quant_method", "gptq");
    int bits = qc.value("bits", 4);
    int group_size = qc.value("group_size", -1);
    if (!ResolveDynamic(qc, name, &bits, &group_size))
      return absl::InvalidArgumentError(
          name + ": stored packed but excluded by a \"-:\" dynamic rule");
    if (bits < 2 || bits > 8)
      return absl::InvalidArgumentError(
          absl::StrCat(name, ": quantization bits ", bits, " out of range"));
    std::shared_ptr<model::Linear> out;
    absl::Status st = model::CatchTorch([&]() -> absl::Status {
      QG_ASSIGN_OR_RETURN(at::Tensor qweight, ckpt.Load(name + ".qweight"));
      QG_ASSIGN_OR_RETURN(at::Tensor qzeros, ckpt.Load(name + ".qzeros"));
      QG_ASSIGN_OR_RETURN(at::Tensor scales, ckpt.Load(name + ".scales"));
      at::Tensor bias;
      if (ckpt.Has(name + ".bias")) {
        QG_ASSIGN_OR_RETURN(bias, ckpt.Load(name + ".bias", opts.dtype));
      }
      if (method == "gptq") {
        const int64_t in = qweight.size(0) * 32 / bits;
        at::Tensor g_idx;
        if (ckpt.Has(name + ".g_idx")) {
          QG_ASSIGN_OR_RETURN(g_idx, ckpt.Load(name + ".g_idx"));
        } else {
          const int64_t g = group_size > 0 ? group_size : in;
          g_idx = at::arange(in, at::kLong).floor_divide(g).to(at::kInt);
        }
        QG_ASSIGN_OR_RETURN(
            auto p, PackedLinear::Create(qweight, qzeros, scales, g_idx, bits,
                                         bias, opts.dtype));
        out = p;
      } else if (method == "awq") {
        if (bits != 4)
          return absl::InvalidArgumentError(name +
                                            ": AWQ GEMM checkpoints are 4-bit");
        const int64_t in = qweight.size(0), out_f = qweight.size(1) * 8;
        QG_ASSIGN_OR_RETURN(at::Tensor codes, UnpackAwqCols(qweight, out_f));
        QG_ASSIGN_OR_RETURN(at::Tensor zeros, UnpackAwqCols(qzeros, out_f));
        const int64_t G = scales.size(0);
        QuantizedWeight q;
        q.codes = codes.t().contiguous();
        q.zeros = zeros.t().contiguous();
        q.scales = scales.to(at::kFloat).t().contiguous();
        q.g_idx = at::arange(in, at::kLong).floor_divide(in / G).to(at::kInt);
        q.bits = 4;
        QG_ASSIGN_OR_RETURN(auto p,
                            PackedLinear::FromQuantized(q, bias, opts.dtype));
        out = p;
      } else {
        return absl::InvalidArgumentError(
            absl::StrCat(name, ": unsupported quant_method '", method,
                         "' (qgrid reads gptq and awq)"));
      }
      return absl::OkStatus();
    });
    if (!st.ok()) return st;
    return out;
  };
}

absl::StatusOr<std::unique_ptr<model::CausalLM>> LoadModel(
    const std::string& dir, model::LoadOptions opts) {
  const std::string cfg_path = (fs::path(dir) / "config.json").string();
  QG_ASSIGN_OR_RETURN(std::string text, ReadFileToString(cfg_path));
  json j = json::parse(text, nullptr, false);
  if (j.is_discarded())
    return absl::InvalidArgumentError(cfg_path + ": not valid JSON");
  const std::string qc_path = (fs::path(dir) / "quantize_config.json").string();
  if (!opts.linear_factory) {
    if (j.contains("quantization_config")) {
      opts.linear_factory = QuantizedLinearFactory();
    } else if (fs::exists(qc_path)) {
      // Older AutoGPTQ checkpoints describe the packing only there.
      QG_ASSIGN_OR_RETURN(std::string qc_text, ReadFileToString(qc_path));
      if (json::parse(qc_text, nullptr, false).is_discarded())
        return absl::InvalidArgumentError(qc_path + ": not valid JSON");
      opts.linear_factory = QuantizedLinearFactory(qc_text);
    }
  }
  QG_ASSIGN_OR_RETURN(auto lm, model::CausalLM::Load(dir, opts));
  if (!j.contains("qgrid_quantization")) return lm;
  const json& q = j["qgrid_quantization"];
  if (!q.contains("config")) return lm;
  QG_ASSIGN_OR_RETURN(
      QuantConfig cfg,
      ParseQuantConfig(q["config"].dump(), cfg_path + ": qgrid_quantization"));
  if (cfg.a_bits < 16) {
    for (model::LinearRef& r : lm->Linears()) {
      if (cfg.Resolve(r.name).skip) continue;
      ActQuantSpec act;
      act.bits = cfg.a_bits;
      act.per_token = cfg.a_granularity == "per_token";
      if (q.contains("act_static_scales") &&
          q["act_static_scales"].contains(r.name))
        act.static_scale = q["act_static_scales"][r.name].get<double>();
      *r.slot = std::make_shared<ActQuantLinear>(*r.slot, act);
    }
  }
  if (cfg.kv_bits < 16) {
    const int bits = cfg.kv_bits, g = cfg.kv_group_size;
    lm->SetKVTransform([bits, g](int, bool, const at::Tensor& x) {
      return FakeQuantKV(x, bits, g);
    });
  }
  return lm;
}

}  // namespace qgrid::quant
