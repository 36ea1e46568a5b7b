#include "cli/quant_flags.h"

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "absl/strings/str_join.h"
#include "common/file_util.h"
#include "quant/method_catalog.h"

namespace qgrid::cli {
namespace {

// Flags of the catalogue parameters that change the quantized model.
bool HasFlag(const quant::ParamSpec& p) { return p.has_effect; }

}  // namespace

void AddCalibFlags(CLI::App* cmd, CalibFlags* f, bool extra_aliases) {
  cmd->add_option(extra_aliases ? "--calib,--calib-text" : "--calib", f->source,
                  "Calibration data: a text file (random windows, GPTQ "
                  "style) or a task (NAME, NAME:SUBSET or FILE.yaml; "
                  "examples formatted with their answers)");
  cmd->add_option("--calib-samples", f->samples, "Calibration sequences")
      ->capture_default_str();
  cmd->add_option("--calib-seq-len,--calib-seqlen", f->seq_len,
                  "Tokens per calibration sequence")
      ->capture_default_str();
  cmd->add_option(extra_aliases ? "--calib-seed,--seed" : "--calib-seed",
                  f->seed, "Seed of the text-window sampler")
      ->capture_default_str();
  cmd->add_option("--calib-split", f->split,
                  "Split a calibration task draws from (default: training, "
                  "else few-shot, validation, test)");
  cmd->add_flag("--calib-packed", f->packed,
                "Pack calibration task examples into full-length segments "
                "instead of one example per (padded) sequence");
  if (extra_aliases) {
    cmd->add_option("--calib-ids-out", f->ids_out,
                    "Also write the calibration token ids to this JSON file "
                    "({\"input_ids\": [[...]], \"attention_mask\": "
                    "[[...]]}), to rerun the same calibration elsewhere");
  }
}

std::optional<eval::CalibrationSpec> CalibrationSpecOf(
    const CalibFlags& f, const std::string& data_dir) {
  if (f.source.empty()) return std::nullopt;
  eval::CalibrationOptions co;
  co.n = f.samples;
  co.seqlen = f.seq_len;
  co.seed = f.seed;
  co.split = f.split;
  co.data_dir = data_dir;
  co.mode = f.packed ? eval::CalibrationOptions::Mode::kPacked
                     : eval::CalibrationOptions::Mode::kPerExample;
  return eval::CalibrationSpecFromSource(f.source, co);
}

void AddQuantFlags(CLI::App* q, QuantFlags* a) {
  q->add_option("--method", a->method,
                absl::StrJoin(quant::MethodNames(), " | "))
      ->capture_default_str();
  q->add_option(a->config_flag, a->config_file,
                "Full quantization config (JSON or YAML, keys as in "
                "quant/method_catalog.h); flags given explicitly override it");
  for (const quant::ParamSpec& p : quant::Params()) {
    if (!HasFlag(p)) continue;
    CLI::Option* o = nullptr;
    if (p.type == quant::ParamType::kBool) {
      bool& v = a->flags[p.name];
      v = p.default_value == "true";
      std::string help = p.help;
      if (v) help += " (default on; " + quant::NegativeFlagName(p) + ": off)";
      o = q->add_flag(quant::FlagName(p) + ",!" + quant::NegativeFlagName(p), v,
                      help);
    } else {
      o = q->add_option(quant::FlagName(p), a->values[p.name], p.help)
              ->default_str(p.default_value);
      if (p.type == quant::ParamType::kInt) {
        o->check(CLI::TypeValidator<int>())->type_name("INT");
      } else if (p.type == quant::ParamType::kNumber) {
        o->check(CLI::Number)->type_name("FLOAT");
      } else {
        o->type_name("TEXT");
      }
    }
    a->options[p.name] = o;
  }
  q->add_option("--layer-rules", a->layer_rules,
                "YAML/JSON list of {match: REGEX, skip|method|bits|"
                "group_size|sym} per-layer overrides (later rules win; "
                "lm_head is skipped unless a rule quantizes it)");
}

bool AnyQuantFlagGiven(const QuantFlags& f, const CLI::App& cmd) {
  if (cmd.count(f.config_flag) > 0 || cmd.count("--method") > 0 ||
      cmd.count("--layer-rules") > 0)
    return true;
  for (const auto& [name, o] : f.options)
    if (o->count() > 0) return true;
  return false;
}

absl::StatusOr<quant::QuantConfig> BuildQuantConfig(const QuantFlags& a,
                                                    const CLI::App& cmd) {
  // The parameters given as flags, typed as the catalogue says.
  nlohmann::json given = nlohmann::json::object();
  for (const auto& [name, o] : a.options) {
    if (o->count() == 0) continue;
    const quant::ParamSpec* p = quant::FindParam(name);
    switch (p->type) {
      case quant::ParamType::kBool:
        given[name] = a.flags.at(name);
        break;
      case quant::ParamType::kInt:
        given[name] = std::stoll(a.values.at(name));
        break;
      case quant::ParamType::kNumber:
        given[name] = std::stod(a.values.at(name));
        break;
      case quant::ParamType::kString:
        given[name] = a.values.at(name);
        break;
    }
  }
  quant::QuantConfig cfg;
  if (!a.config_file.empty()) {
    auto text = ReadFileToString(a.config_file);
    if (!text.ok()) {
      return absl::Status(
          text.status().code(),
          absl::StrCat(a.config_flag, " ", text.status().message()));
    }
    auto c = quant::ParseQuantConfig(*text, a.config_file);
    if (!c.ok()) return c.status();
    cfg = *c;
    // Explicit flags override a config file.
    if (cmd.count("--method") > 0) cfg.method = a.method;
    for (const auto& [k, v] : given.items()) {
      if (auto s = quant::SetQuantParam(&cfg, k, v, "command line"); !s.ok())
        return s;
    }
  } else {
    // Through the parser so that method defaults (W8A8 for smoothquant and
    // llm_int8) apply exactly as for config files.
    nlohmann::json j = given;
    j["method"] = a.method;
    auto c = quant::ParseQuantConfig(j.dump(), "command line");
    if (!c.ok()) return c.status();
    cfg = *c;
  }
  if (!a.layer_rules.empty()) {
    auto r = quant::LoadLayerRules(a.layer_rules);
    if (!r.ok()) return r.status();
    cfg.layer_rules.insert(cfg.layer_rules.end(), r->begin(), r->end());
  }
  return cfg;
}

}  // namespace qgrid::cli
