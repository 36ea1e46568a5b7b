// qgrid: quantize LLMs under many (method x bits x calibration set) settings
// and measure how they generalize across test sets.
//
// This executable links no libtorch (cli/commands.h): it serves --help, the
// coordinator, the client commands and `tasks` itself, and execs qgrid-torch
// for the commands that load models, passing argv through unchanged.
#include <limits.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "common/logging.h"

namespace {

// qgrid-torch: $QGRID_TORCH_EXE, else next to this executable, else
// ../libexec/qgrid/ beside it (an installed layout). Empty when absent.
std::string FindTorchExecutable() {
  if (const char* e = std::getenv("QGRID_TORCH_EXE"); e && *e) {
    return access(e, X_OK) == 0 ? e : "";
  }
  char self[PATH_MAX] = {0};
  ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
  if (n <= 0) return "";
  std::string dir(self, n);
  dir = dir.substr(0, dir.rfind('/'));
  for (const std::string& c :
       {dir + "/qgrid-torch", dir + "/../libexec/qgrid/qgrid-torch"}) {
    if (access(c.c_str(), X_OK) == 0) return c;
  }
  return "";
}

// Runs qgrid-torch with our argv (argv[0] kept, so its messages and help
// say "qgrid"); returns only on failure.
int ExecTorch(int argc, char** argv) {
  std::string exe = FindTorchExecutable();
  if (exe.empty()) {
    std::fprintf(stderr,
                 "qgrid: `%s` needs the libtorch part of qgrid "
                 "(qgrid-torch), which is not installed next to this "
                 "qgrid (a coordinator-only install?). Build with "
                 "-DQGRID_WITH_TORCH=ON, or set QGRID_TORCH_EXE.\n",
                 argv[1]);
    return 1;
  }
  std::vector<char*> args(argv, argv + argc);
  args.push_back(nullptr);
  execv(exe.c_str(), args.data());
  std::fprintf(stderr, "qgrid: cannot run %s: %s\n", exe.c_str(),
               std::strerror(errno));
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc > 1 && qgrid::cli::IsTorchCommand(argv[1])) {
    return ExecTorch(argc, argv);
  }
  qgrid::InitLogging(argv[0]);
  CLI::App app;
  qgrid::cli::DescribeRootApp(app);
  app.name("qgrid");
  qgrid::cli::RegisterServiceCommands(app);
  qgrid::cli::RegisterTasksCommand(app);
  qgrid::cli::RegisterReportCommand(app);
  // The torch commands, for --help only: main() has dispatched them above.
  for (const auto& c : qgrid::cli::kTorchCommands) {
    app.add_subcommand(c.name, c.summary)->allow_extras();
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  return qgrid::cli::ExitCode();
}
