// `qgrid quantize`: quantize a Hugging Face checkpoint with one method and
// save it (fake-quant safetensors, GPTQ or AWQ packed layout) together with
// a quantization report.
#include <ATen/ATen.h>

#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>

#include "absl/strings/str_format.h"
#include "cli/commands.h"
#include "model/causal_lm.h"
#include "model/config.h"
#include "quant/export.h"
#include "quant/quant_config.h"
#include "quant/quantize.h"

namespace qgrid::cli {
namespace {

namespace fs = std::filesystem;

struct QuantizeArgs {
  std::string model, method = "rtn", config_file, layer_rules, calib_text, out,
                     format = "fake", device = "cpu", dtype = "float32",
                     a_granularity = "per_token", fp8_format = "e4m3";
  int bits = 4, group_size = 128, a_bits = 16, kv_bits = 16, kv_group_size = 0,
      calib_samples = 128, calib_seqlen = 512, batch_size = 8, block_size = 128;
  uint64_t seed = 42;
  bool sym = false, asym = false, act_order = false, static_groups = false,
       a_static = false, json = false, no_awq_clip = false;
  double alpha = 0.5, percdamp = 0.01, llm_int8_threshold = 6.0,
         spqr_outlier_threshold = 0.2;
  int spqr_group_size = 16, spqr_stat_bits = 3;
};

int Fail(int code, const std::string& msg) {
  std::cerr << "qgrid quantize: " << msg << "\n";
  SetExitCode(code);
  return code;
}

absl::StatusOr<at::ScalarType> ParseDtype(const std::string& s) {
  if (s == "float32" || s == "fp32") return at::kFloat;
  if (s == "float16" || s == "fp16") return at::kHalf;
  if (s == "bfloat16" || s == "bf16") return at::kBFloat16;
  return absl::InvalidArgumentError(
      "--dtype must be float32, float16 or "
      "bfloat16, got '" +
      s + "'");
}

void RunQuantize(const QuantizeArgs& a, CLI::App* cmd) {
  auto given = [cmd](const char* flag) { return cmd->count(flag) > 0; };
  // ---- Build and validate everything before any heavy work.
  quant::QuantConfig cfg;
  if (!a.config_file.empty()) {
    std::ifstream f(a.config_file);
    if (!f) {
      Fail(2, a.config_file + ": cannot open --config");
      return;
    }
    std::stringstream ss;
    ss << f.rdbuf();
    auto c = quant::ParseQuantConfig(ss.str(), a.config_file);
    if (!c.ok()) {
      Fail(2, std::string(c.status().message()));
      return;
    }
    cfg = *c;
  } else {
    // Through the parser so that method defaults (W8A8 for smoothquant and
    // llm_int8) apply exactly as for config files.
    nlohmann::json j = {{"method", a.method}};
    if (given("--bits")) j["bits"] = a.bits;
    if (given("--a-bits")) j["a_bits"] = a.a_bits;
    auto c = quant::ParseQuantConfig(j.dump(), "command line");
    if (!c.ok()) {
      Fail(2, std::string(c.status().message()));
      return;
    }
    cfg = *c;
    cfg.group_size = a.group_size;
  }
  // Explicit flags override a --config file.
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
    if (!r.ok()) {
      Fail(2, std::string(r.status().message()));
      return;
    }
    cfg.layer_rules.insert(cfg.layer_rules.end(), r->begin(), r->end());
  }
  auto fmt = quant::ParseExportFormat(a.format);
  if (!fmt.ok()) {
    Fail(2, std::string(fmt.status().message()));
    return;
  }
  auto dtype = ParseDtype(a.dtype);
  if (!dtype.ok()) {
    Fail(2, std::string(dtype.status().message()));
    return;
  }
  if (a.device.rfind("cuda", 0) == 0 && !at::hasCUDA()) {
    Fail(2, "--device " + a.device +
                ": this build has no CUDA (libtorch CPU); use --device cpu");
    return;
  }
  if (a.device != "cpu" && a.device.rfind("cuda", 0) != 0) {
    Fail(2, "--device must be cpu or cuda[:N], got '" + a.device + "'");
    return;
  }
  auto mc = model::ModelConfig::FromJsonFile(
      (fs::path(a.model) / "config.json").string());
  if (!mc.ok()) {
    Fail(2, std::string(mc.status().message()));
    return;
  }
  if (auto s = quant::Validate(cfg, &*mc); !s.ok()) {
    Fail(2, std::string(s.message()));
    return;
  }
  if (auto s = quant::ValidateExport(cfg, *mc, *fmt); !s.ok()) {
    Fail(2, std::string(s.message()));
    return;
  }
  const bool need_calib = cfg.NeedsCalibration();
  if (need_calib && a.calib_text.empty()) {
    Fail(2, "method " + cfg.method +
                " needs calibration data: pass --calib-text FILE");
    return;
  }
  if (!a.calib_text.empty() && !fs::exists(a.calib_text)) {
    Fail(2, a.calib_text + ": --calib-text file not found");
    return;
  }
  if (a.calib_samples < 1 || a.calib_seqlen < 2) {
    Fail(2, "--calib-samples must be >= 1 and --calib-seqlen >= 2");
    return;
  }

  // ---- Work.
  model::LoadOptions lo;
  lo.dtype = *dtype;
  // The model stays in CPU memory; --device is where each block is
  // calibrated and quantized, one block at a time.
  lo.device = "cpu";
  auto lm = model::CausalLM::Load(a.model, lo);
  if (!lm.ok()) {
    Fail(1, std::string(lm.status().message()));
    return;
  }
  at::Tensor calib;
  if (!a.calib_text.empty()) {
    if (!(*lm)->tokenizer()) {
      Fail(1, a.model + ": no tokenizer to encode --calib-text");
      return;
    }
    auto c = quant::SampleCalibrationFromText(*(*lm)->tokenizer(), a.calib_text,
                                              a.calib_samples, a.calib_seqlen,
                                              a.seed);
    if (!c.ok()) {
      Fail(1, std::string(c.status().message()));
      return;
    }
    calib = *c;
  }
  quant::QuantizeOptions qo;
  qo.batch_size = a.batch_size;
  qo.show_progress = true;
  qo.device = a.device;
  auto rep = quant::QuantizeModel(**lm, cfg, calib, qo);
  if (!rep.ok()) {
    Fail(1, std::string(rep.status().message()));
    return;
  }
  if (auto s = quant::ExportModel(**lm, cfg, a.out, *fmt); !s.ok()) {
    Fail(1, std::string(s.message()));
    return;
  }
  const std::string report = rep->ToJson(2);
  {
    std::ofstream f(fs::path(a.out) / "quant_report.json");
    f << report << "\n";
    if (!f) {
      Fail(1, a.out + "/quant_report.json: write failed");
      return;
    }
  }
  if (a.json) {
    std::cout << report << "\n";
    return;
  }
  std::cout << absl::StrFormat("%-44s %-12s %4s %6s %10s %8s\n", "layer",
                               "method", "bits", "group", "rel_mse", "sec");
  for (const auto& l : rep->layers) {
    std::cout << absl::StrFormat("%-44s %-12s %4d %6d %10.3g %8.2f\n", l.name,
                                 l.method, l.bits, l.group_size,
                                 l.rel_output_mse, l.seconds);
  }
  std::cout << absl::StrFormat(
      "quantized %s with %s in %.1f s: %.3f bits/param (linear layers), peak "
      "RSS %.0f MiB\nsaved %s (format %s) and %s/quant_report.json\n",
      a.model, cfg.method, rep->total_seconds, rep->avg_bits_per_param,
      rep->peak_rss_bytes / 1048576.0, a.out, a.format, a.out);
}

}  // namespace

void RegisterQuantCommands(CLI::App& app) {
  auto args = std::make_shared<QuantizeArgs>();
  CLI::App* q = app.add_subcommand(
      "quantize",
      "Quantize a Hugging Face LLaMA-family checkpoint and save it.\n"
      "Example: qgrid quantize --model M --method gptq --bits 4 "
      "--group-size 128 --calib-text wiki.train.raw --out M-gptq-w4 "
      "--format gptq");
  q->add_option("--model", args->model,
                "Model folder (config.json, *.safetensors, tokenizer)")
      ->required();
  q->add_option("--method", args->method,
                "fp16 | rtn | gptq | awq | awq+gptq | spqr | smoothquant | "
                "smoothquant+gptq | llm_int8 | fp8")
      ->capture_default_str();
  q->add_option("--config", args->config_file,
                "Full quantization config (JSON or YAML, fields as in "
                "quant/quant_config.h); flags given explicitly override it");
  q->add_option("--bits", args->bits, "Weight bits, 2-8")
      ->capture_default_str();
  q->add_option("--group-size", args->group_size,
                "Input columns per scale group; -1 per output channel, 0 per "
                "tensor")
      ->capture_default_str();
  q->add_flag("--sym", args->sym, "Symmetric weight grid");
  q->add_flag("--asym", args->asym, "Asymmetric weight grid (default)");
  q->add_flag("--act-order", args->act_order,
              "GPTQ: quantize columns by decreasing Hessian diagonal");
  q->add_flag("--static-groups", args->static_groups,
              "GPTQ: fix group scales before act-order reordering");
  q->add_option("--percdamp", args->percdamp,
                "GPTQ/SpQR dampening, fraction of mean diag(H)")
      ->capture_default_str();
  q->add_option("--block-size", args->block_size,
                "GPTQ lazy-update block width")
      ->capture_default_str();
  q->add_option("--a-bits", args->a_bits,
                "Activation fake-quant bits (4-8; 16 = off)")
      ->capture_default_str();
  q->add_option("--a-granularity", args->a_granularity,
                "per_token | per_tensor")
      ->capture_default_str();
  q->add_flag("--a-static", args->a_static,
              "Static per-tensor activation scales from calibration");
  q->add_option("--kv-bits", args->kv_bits,
                "KV-cache fake-quant bits (2-8; 16 = off)")
      ->capture_default_str();
  q->add_option("--kv-group-size", args->kv_group_size,
                "KV quant group along head_dim (0 = whole head)")
      ->capture_default_str();
  q->add_option("--alpha", args->alpha, "SmoothQuant migration strength")
      ->capture_default_str();
  q->add_flag("--no-awq-clip", args->no_awq_clip,
              "AWQ: skip the weight clipping search");
  q->add_option("--spqr-group-size", args->spqr_group_size,
                "SpQR first-level group size")
      ->capture_default_str();
  q->add_option("--spqr-stat-bits", args->spqr_stat_bits,
                "SpQR bits of the quantized group statistics")
      ->capture_default_str();
  q->add_option("--spqr-outlier-threshold", args->spqr_outlier_threshold,
                "SpQR relative outlier threshold")
      ->capture_default_str();
  q->add_option("--llm-int8-threshold", args->llm_int8_threshold,
                "LLM.int8() outlier threshold on |activation|")
      ->capture_default_str();
  q->add_option("--fp8-format", args->fp8_format, "fp8: e4m3 | e5m2")
      ->capture_default_str();
  q->add_option("--layer-rules", args->layer_rules,
                "YAML/JSON list of {match: REGEX, skip|method|bits|"
                "group_size|sym} per-layer overrides (later rules win; "
                "lm_head is skipped unless a rule quantizes it)");
  q->add_option("--calib-text", args->calib_text,
                "Calibration text file (random windows, GPTQ style)");
  q->add_option("--calib-samples", args->calib_samples,
                "Number of calibration windows")
      ->capture_default_str();
  q->add_option("--calib-seqlen", args->calib_seqlen,
                "Tokens per calibration window")
      ->capture_default_str();
  q->add_option("--seed", args->seed, "Seed of the window sampler")
      ->capture_default_str();
  q->add_option("--batch-size", args->batch_size,
                "Calibration sequences per forward batch")
      ->capture_default_str();
  q->add_option("--out", args->out, "Output folder")->required();
  q->add_option("--format", args->format,
                "fake (dequantized safetensors) | gptq | awq (4-bit GEMM)")
      ->capture_default_str();
  q->add_option("--device", args->device,
                "cpu | cuda[:N]: where each decoder block is calibrated and "
                "quantized, one block at a time (the model itself stays in "
                "CPU memory, so it may be larger than the GPU's)")
      ->capture_default_str();
  q->add_option("--dtype", args->dtype, "float32 | float16 | bfloat16")
      ->capture_default_str();
  q->add_flag("--json", args->json,
              "Print the quantization report as JSON on stdout");
  q->callback([args, q] { RunQuantize(*args, q); });
}

}  // namespace qgrid::cli
