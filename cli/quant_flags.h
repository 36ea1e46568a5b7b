// Quantization flags shared by `qgrid quantize` and `qgrid eval`.
//
// Both commands take the same method flags (--method, --bits,
// --group-size, --sym, ..., generated from the method catalogue,
// quant/method_catalog.h) and a full config file; AddQuantFlags registers
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
#include <map>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "eval/calibration.h"
#include "quant/quant_config.h"

namespace qgrid::cli {

struct QuantFlags {
  std::string config_flag = "--config";  // the config file flag's name
  std::string method = "rtn", config_file, layer_rules;
  // One flag per catalogue parameter (quant/method_catalog.h), named
  // `--<name with - for _>`; bool parameters also get their negative flag
  // (--asym, --no-awq-clip, ...). Values by parameter name.
  std::map<std::string, std::string> values;  // non-bool parameters
  std::map<std::string, bool> flags;          // bool parameters
  std::map<std::string, CLI::Option*> options;
};
// Calibration flags, the same on `qgrid quantize` and `qgrid eval`:
// --calib SRC (a text file: random windows; else a task NAME, NAME:SUBSET
// or FILE.yaml: examples with answers), --calib-samples, --calib-seq-len,
// --calib-seed, --calib-split, --calib-packed. They describe an
// eval::CalibrationSpec, which worker::QuantizeCell builds as a sweep
// job's calibration entry is built.
struct CalibFlags {
  std::string source;
  int64_t samples = 128, seq_len = 512;
  uint64_t seed = 42;
  std::string split;
  bool packed = false;
  std::string ids_out;  // --calib-ids-out (qgrid quantize only)
};
// `extra_aliases`: also --calib-text (for --calib) and --seed (for
// --calib-seed), `qgrid quantize`'s older spellings.
void AddCalibFlags(CLI::App* cmd, CalibFlags* f, bool extra_aliases);
// The spec (nullopt without --calib). `data_dir` is where task data lives.
std::optional<eval::CalibrationSpec> CalibrationSpecOf(
    const CalibFlags& f, const std::string& data_dir);

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
