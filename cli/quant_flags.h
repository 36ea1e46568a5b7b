// Quantization flags shared by `qgrid quantize` and `qgrid eval`.
//
// Both commands take the same method flags (--method, --bits,
// --group-size, --sym, ...) and a full config file; AddQuantFlags registers
// them on a subcommand and BuildQuantConfig turns what was given into a
// quant::QuantConfig the same way for both: the config file (or the method
// alone, through quant::ParseQuantConfig so that method defaults such as
// W8A8 for smoothquant apply), then every flag given explicitly on top.
// The config-file flag is named per command (`--config` for quantize,
// `--quant-config` for eval, where --config would be ambiguous).
//
// Thread-safety: plain values; used on the CLI thread only.
#ifndef QGRID_CLI_QUANT_FLAGS_H_
#define QGRID_CLI_QUANT_FLAGS_H_

#include <CLI/CLI.hpp>
#include <string>

#include "absl/status/statusor.h"
#include "quant/quant_config.h"

namespace qgrid::cli {

struct QuantFlags {
  std::string config_flag = "--config";  // the config file flag's name
  std::string method = "rtn", config_file, layer_rules,
              a_granularity = "per_token", fp8_format = "e4m3";
  int bits = 4, group_size = 128, a_bits = 16, kv_bits = 16, kv_group_size = 0,
      block_size = 128, spqr_group_size = 16, spqr_stat_bits = 3;
  bool sym = false, asym = false, act_order = false, static_groups = false,
       a_static = false, no_awq_clip = false;
  double alpha = 0.5, percdamp = 0.01, llm_int8_threshold = 6.0,
         spqr_outlier_threshold = 0.2;
};

// Registers the method flags and `f->config_flag` on `cmd`; `f` must
// outlive the parse.
void AddQuantFlags(CLI::App* cmd, QuantFlags* f);

// True when any method flag or the config file was given on `cmd`.
bool AnyQuantFlagGiven(const QuantFlags& f, const CLI::App& cmd);

// The config the flags describe (not yet validated against a model:
// call quant::Validate(cfg, &model_config)). Errors name the flag or file.
absl::StatusOr<quant::QuantConfig> BuildQuantConfig(const QuantFlags& f,
                                                    const CLI::App& cmd);

}  // namespace qgrid::cli

#endif  // QGRID_CLI_QUANT_FLAGS_H_
