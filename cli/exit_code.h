// The exit-code policy of every `qgrid` command, in one place:
//
//   0    success
//   1    the work failed (a missing model or file, a failed job, a
//        coordinator that is unreachable, ...)
//   2    bad input: a flag, spec, task or config that is invalid
//        (absl InvalidArgument)
//   3    refused: missing or wrong bearer token (Unauthenticated)
//   130  interrupted (SIGINT/SIGTERM; Cancelled)
//
// Flag syntax errors found by the parser itself keep CLI11's codes (100+).
// `qgrid --help` prints kExitCodesHelp. Not thread-safe: the exit code is
// set by the command that runs, from the main thread.
#ifndef QGRID_CLI_EXIT_CODE_H_
#define QGRID_CLI_EXIT_CODE_H_

#include <string>

#include "absl/status/status.h"

namespace qgrid::cli {

inline constexpr int kExitFailed = 1;
inline constexpr int kExitBadInput = 2;
inline constexpr int kExitRefused = 3;
inline constexpr int kExitInterrupted = 130;

extern const char kExitCodesHelp[];

// The code for a status, by the policy above (0 for OK).
int ExitCodeFor(const absl::Status& s);

// Prints "qgrid CMD: MESSAGE" (or "qgrid: MESSAGE" when `cmd` is empty) to
// stderr, sets the process exit code by the policy and returns it. OK: sets
// nothing, returns 0.
int ReportError(const std::string& cmd, const absl::Status& s);

// `s` with code InvalidArgument (same message): for errors that are bad
// input whatever their code, e.g. a flag naming a task that does not exist.
absl::Status AsBadInput(const absl::Status& s);

// The process exit code set by the subcommand that ran (0 by default).
void SetExitCode(int code);
int ExitCode();

}  // namespace qgrid::cli

#endif  // QGRID_CLI_EXIT_CODE_H_
