#include <string>

#include "cli/commands.h"

namespace qgrid::cli {

bool IsTorchCommand(const std::string& name) {
  for (const CommandInfo& c : kTorchCommands) {
    if (name == c.name) return true;
  }
  return false;
}

void DescribeRootApp(CLI::App& app) {
  app.description(
      "qgrid: evaluate how quantized LLMs generalize.\n"
      "Quantize a model with a method at a bit-width, calibrated on one data\n"
      "set, and evaluate it on others (I.I.D vs OOD calibration).\n"
      "Run `qgrid run` for the built-in demo sweep.");
  app.footer(std::string("`qgrid CMD --help` shows a command's flags.\n") +
             kExitCodesHelp);
  app.require_subcommand(1);
  app.set_help_all_flag("--help-all", "Show help for every subcommand");
}

}  // namespace qgrid::cli
