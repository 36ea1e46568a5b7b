// The `qgrid` command is two executables (ARCHITECTURE.md, "Two
// executables"):
//
//   qgrid        torch-free: --help, the coordinator, the client commands
//                (submit, status, watch, cancel, retry, workers, results,
//                report)
//                and the spec tooling (tasks). Starts in milliseconds.
//   qgrid-torch  links libtorch: everything that loads a model (worker,
//                run, quantize, eval, ppl, generate, tokenize, model,
//                train-tiny, data). `qgrid` execs it for those subcommands
//                (git-style), so users type one `qgrid`.
//
// kTorchCommands is the one list of the second kind: `qgrid` dispatches on
// it and shows its one-line summaries in `qgrid --help` (`qgrid CMD --help`
// is answered by qgrid-torch with the full text). Each command group lives in
// its own
// *_commands.cc and registers its subcommands on the root app; a callback
// sets the exit code through cli/exit_code.h.
#ifndef QGRID_CLI_COMMANDS_H_
#define QGRID_CLI_COMMANDS_H_

#include <CLI/CLI.hpp>
#include <string>

#include "cli/exit_code.h"

namespace qgrid::cli {

struct CommandInfo {
  const char* name;
  const char* summary;
};

inline constexpr CommandInfo kTorchCommands[] = {
    {"model", "Inspect a Hugging Face model"},
    {"tokenize", "Token ids of a text file under a model's tokenizer"},
    {"generate", "Greedy continuation of a prompt (KV-cached decoding)"},
    {"ppl", "GPTQ-style perplexity of a text file"},
    {"quantize",
     "Quantize a model (RTN, GPTQ, AWQ, SpQR, SmoothQuant, ...) and export "
     "it"},
    {"eval",
     "Evaluate a model on tasks (lm-evaluation-harness semantics), "
     "optionally quantized in memory first"},
    {"data", "Build and inspect the built-in demo data"},
    {"train-tiny",
     "Train the tiny demo model from the demo corpora (assets/qgrid-tiny)"},
    {"worker",
     "Run a worker: lease jobs from the coordinator, quantize and evaluate, "
     "report results. SIGTERM drains (finish or give back the current job)"},
    {"run",
     "The embedded default: start a coordinator on a local SQLite file and "
     "N local workers, run the sweep (the built-in demo when no spec is "
     "given) with a progress bar, then print the results table"},
};

bool IsTorchCommand(const std::string& name);

// The root app's description and footer, shared by both executables.
void DescribeRootApp(CLI::App& app);

// --- qgrid (torch-free)
// coordinator, submit, status, watch, cancel, retry, workers, results.
void RegisterServiceCommands(CLI::App& app);
// tasks.
void RegisterTasksCommand(CLI::App& app);
// report (cli/report_commands.cc).
void RegisterReportCommand(CLI::App& app);

// --- qgrid-torch
// model info, tokenize, generate, ppl.
void RegisterModelCommands(CLI::App& app);
// quantize.
void RegisterQuantCommands(CLI::App& app);
// eval.
void RegisterEvalCommands(CLI::App& app);
// data build-demo / demo-report, train-tiny.
void RegisterDemoCommands(CLI::App& app);
// worker, run.
void RegisterWorkerCommands(CLI::App& app);

}  // namespace qgrid::cli

#endif  // QGRID_CLI_COMMANDS_H_
