#include "cli/exit_code.h"

#include <cstdio>

namespace qgrid::cli {
namespace {
int g_exit_code = 0;
}  // namespace

const char kExitCodesHelp[] =
    "Exit codes: 0 success; 1 the work failed (missing model or file, failed "
    "job, unreachable coordinator); 2 bad input (invalid flag value, spec, "
    "task or config); 3 refused (missing or wrong bearer token); 130 "
    "interrupted.";

int ExitCodeFor(const absl::Status& s) {
  switch (s.code()) {
    case absl::StatusCode::kOk:
      return 0;
    case absl::StatusCode::kInvalidArgument:
      return kExitBadInput;
    case absl::StatusCode::kUnauthenticated:
      return kExitRefused;
    case absl::StatusCode::kCancelled:
      return kExitInterrupted;
    default:
      return kExitFailed;
  }
}

int ReportError(const std::string& cmd, const absl::Status& s) {
  if (s.ok()) return 0;
  std::fprintf(stderr, "qgrid%s%s: %s\n", cmd.empty() ? "" : " ", cmd.c_str(),
               std::string(s.message()).c_str());
  int code = ExitCodeFor(s);
  SetExitCode(code);
  return code;
}

absl::Status AsBadInput(const absl::Status& s) {
  return s.ok() ? s : absl::InvalidArgumentError(s.message());
}

void SetExitCode(int code) { g_exit_code = code; }
int ExitCode() { return g_exit_code; }

}  // namespace qgrid::cli
