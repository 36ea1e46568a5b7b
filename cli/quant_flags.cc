#include "cli/quant_flags.h"

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

namespace qgrid::cli {
namespace {

// Every method flag (not the config file), for AnyQuantFlagGiven.
constexpr const char* kMethodFlags[] = {"--method",
                                        "--bits",
                                        "--group-size",
                                        "--sym",
                                        "--asym",
                                        "--act-order",
                                        "--static-groups",
                                        "--percdamp",
                                        "--block-size",
                                        "--a-bits",
                                        "--a-granularity",
                                        "--a-static",
                                        "--kv-bits",
                                        "--kv-group-size",
                                        "--alpha",
                                        "--no-awq-clip",
                                        "--spqr-group-size",
                                        "--spqr-stat-bits",
                                        "--spqr-outlier-threshold",
                                        "--llm-int8-threshold",
                                        "--fp8-format",
                                        "--layer-rules"};

}  // namespace

void AddQuantFlags(CLI::App* q, QuantFlags* a) {
  q->add_option("--method", a->method,
                "fp16 | rtn | gptq | awq | awq+gptq | spqr | smoothquant | "
                "smoothquant+gptq | llm_int8 | fp8")
      ->capture_default_str();
  q->add_option(a->config_flag, a->config_file,
                "Full quantization config (JSON or YAML, fields as in "
                "quant/quant_config.h); flags given explicitly override it");
  q->add_option("--bits", a->bits, "Weight bits, 2-8")->capture_default_str();
  q->add_option("--group-size", a->group_size,
                "Input columns per scale group; -1 per output channel, 0 per "
                "tensor")
      ->capture_default_str();
  q->add_flag("--sym", a->sym, "Symmetric weight grid");
  q->add_flag("--asym", a->asym, "Asymmetric weight grid (default)");
  q->add_flag("--act-order", a->act_order,
              "GPTQ: quantize columns by decreasing Hessian diagonal");
  q->add_flag("--static-groups", a->static_groups,
              "GPTQ: fix group scales before act-order reordering");
  q->add_option("--percdamp", a->percdamp,
                "GPTQ/SpQR dampening, fraction of mean diag(H)")
      ->capture_default_str();
  q->add_option("--block-size", a->block_size, "GPTQ lazy-update block width")
      ->capture_default_str();
  q->add_option("--a-bits", a->a_bits,
                "Activation fake-quant bits (4-8; 16 = off)")
      ->capture_default_str();
  q->add_option("--a-granularity", a->a_granularity, "per_token | per_tensor")
      ->capture_default_str();
  q->add_flag("--a-static", a->a_static,
              "Static per-tensor activation scales from calibration");
  q->add_option("--kv-bits", a->kv_bits,
                "KV-cache fake-quant bits (2-8; 16 = off)")
      ->capture_default_str();
  q->add_option("--kv-group-size", a->kv_group_size,
                "KV quant group along head_dim (0 = whole head)")
      ->capture_default_str();
  q->add_option("--alpha", a->alpha, "SmoothQuant migration strength")
      ->capture_default_str();
  q->add_flag("--no-awq-clip", a->no_awq_clip,
              "AWQ: skip the weight clipping search");
  q->add_option("--spqr-group-size", a->spqr_group_size,
                "SpQR first-level group size")
      ->capture_default_str();
  q->add_option("--spqr-stat-bits", a->spqr_stat_bits,
                "SpQR bits of the quantized group statistics")
      ->capture_default_str();
  q->add_option("--spqr-outlier-threshold", a->spqr_outlier_threshold,
                "SpQR relative outlier threshold")
      ->capture_default_str();
  q->add_option("--llm-int8-threshold", a->llm_int8_threshold,
                "LLM.int8() outlier threshold on |activation|")
      ->capture_default_str();
  q->add_option("--fp8-format", a->fp8_format, "fp8: e4m3 | e5m2")
      ->capture_default_str();
  q->add_option("--layer-rules", a->layer_rules,
                "YAML/JSON list of {match: REGEX, skip|method|bits|"
                "group_size|sym} per-layer overrides (later rules win; "
                "lm_head is skipped unless a rule quantizes it)");
}

bool AnyQuantFlagGiven(const QuantFlags& f, const CLI::App& cmd) {
  if (cmd.count(f.config_flag) > 0) return true;
  for (const char* flag : kMethodFlags)
    if (cmd.count(flag) > 0) return true;
  return false;
}

absl::StatusOr<quant::QuantConfig> BuildQuantConfig(const QuantFlags& a,
                                                    const CLI::App& cmd) {
  auto given = [&cmd](const char* flag) { return cmd.count(flag) > 0; };
  quant::QuantConfig cfg;
  if (!a.config_file.empty()) {
    std::ifstream f(a.config_file);
    if (!f)
      return absl::NotFoundError(a.config_file + ": cannot open " +
                                 a.config_flag);
    std::stringstream ss;
    ss << f.rdbuf();
    auto c = quant::ParseQuantConfig(ss.str(), a.config_file);
    if (!c.ok()) return c.status();
    cfg = *c;
  } else {
    // Through the parser so that method defaults (W8A8 for smoothquant and
    // llm_int8) apply exactly as for config files.
    nlohmann::json j = {{"method", a.method}};
    if (given("--bits")) j["bits"] = a.bits;
    if (given("--a-bits")) j["a_bits"] = a.a_bits;
    auto c = quant::ParseQuantConfig(j.dump(), "command line");
    if (!c.ok()) return c.status();
    cfg = *c;
    cfg.group_size = a.group_size;
  }
  // Explicit flags override a config file.
  if (given("--method") && !a.config_file.empty()) cfg.method = a.method;
  if (given("--bits")) cfg.w_bits = a.bits;
  if (given("--group-size")) cfg.group_size = a.group_size;
  if (a.sym) cfg.sym = true;
  if (a.asym) cfg.sym = false;
  if (a.act_order) cfg.act_order = true;
  if (a.static_groups) cfg.static_groups = true;
  if (given("--percdamp")) cfg.percdamp = a.percdamp;
  if (given("--block-size")) cfg.block_size = a.block_size;
  if (given("--a-bits")) cfg.a_bits = a.a_bits;
  if (given("--a-granularity")) cfg.a_granularity = a.a_granularity;
  if (a.a_static) cfg.a_static = true;
  if (given("--kv-bits")) cfg.kv_bits = a.kv_bits;
  if (given("--kv-group-size")) cfg.kv_group_size = a.kv_group_size;
  if (given("--alpha")) cfg.alpha = a.alpha;
  if (given("--fp8-format")) cfg.fp8_format = a.fp8_format;
  if (given("--llm-int8-threshold"))
    cfg.llm_int8_threshold = a.llm_int8_threshold;
  if (given("--spqr-group-size")) cfg.spqr_group_size = a.spqr_group_size;
  if (given("--spqr-stat-bits")) cfg.spqr_stat_bits = a.spqr_stat_bits;
  if (given("--spqr-outlier-threshold"))
    cfg.spqr_outlier_threshold = a.spqr_outlier_threshold;
  if (a.no_awq_clip) cfg.awq_clip = false;
  if (!a.layer_rules.empty()) {
    auto r = quant::LoadLayerRules(a.layer_rules);
    if (!r.ok()) return r.status();
    cfg.layer_rules.insert(cfg.layer_rules.end(), r->begin(), r->end());
  }
  return cfg;
}

}  // namespace qgrid::cli
