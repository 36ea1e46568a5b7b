// qgrid: quantize LLMs under many (method x bits x calibration set) settings
// and measure how they generalize across test sets.
#include <cstdio>

#include "cli/commands.h"
#include "common/logging.h"
#include "common/malloc_tuning.h"

namespace qgrid::cli {
namespace {
int g_exit_code = 0;
}  // namespace
void SetExitCode(int code) { g_exit_code = code; }
int ExitCode() { return g_exit_code; }
}  // namespace qgrid::cli

int main(int argc, char** argv) {
  // Before any tensor exists (see common/malloc_tuning.h).
  qgrid::TuneMallocForTensors();
  qgrid::InitLogging(argv[0]);
  CLI::App app{
      "qgrid: evaluate how quantized LLMs generalize.\n"
      "Quantize a model with a method at a bit-width, calibrated on one data\n"
      "set, and evaluate it on others (I.I.D vs OOD calibration).\n"
      "Run `qgrid run` for the built-in demo sweep."};
  app.require_subcommand(1);
  app.set_help_all_flag("--help-all", "Show help for every subcommand");
  qgrid::cli::RegisterModelCommands(app);
  qgrid::cli::RegisterQuantCommands(app);
  qgrid::cli::RegisterEvalCommands(app);
  qgrid::cli::RegisterDemoCommands(app);
  qgrid::cli::RegisterServiceCommands(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  return qgrid::cli::ExitCode();
}
