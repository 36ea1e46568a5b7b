// Command groups of the `qgrid` executable. Each group lives in its own
// *_commands.cc and registers its subcommands on the root app; main.cc calls
// every Register function. A subcommand's callback returns through
// SetExitCode so main can exit with it.
#ifndef QGRID_CLI_COMMANDS_H_
#define QGRID_CLI_COMMANDS_H_

#include <CLI/CLI.hpp>

namespace qgrid::cli {

// model info, tokenize, generate, ppl.
void RegisterModelCommands(CLI::App& app);
// quantize.
void RegisterQuantCommands(CLI::App& app);
// eval, tasks.
void RegisterEvalCommands(CLI::App& app);
// data build-demo, train-tiny.
void RegisterDemoCommands(CLI::App& app);
// coordinator, worker, submit, status, watch, cancel, retry, workers,
// results, run.
void RegisterServiceCommands(CLI::App& app);

// The process exit code set by the subcommand that ran (0 by default).
void SetExitCode(int code);
int ExitCode();

}  // namespace qgrid::cli

#endif  // QGRID_CLI_COMMANDS_H_
