// qgrid-torch: the part of `qgrid` that links libtorch (cli/commands.h).
// `qgrid` execs it for kTorchCommands with argv unchanged; run directly it
// behaves the same for those commands.
#include <cstdio>

#include "cli/commands.h"
#include "common/logging.h"
#include "common/malloc_tuning.h"

int main(int argc, char** argv) {
  // Before any tensor exists (see common/malloc_tuning.h).
  qgrid::TuneMallocForTensors();
  qgrid::InitLogging(argv[0]);
  CLI::App app;
  qgrid::cli::DescribeRootApp(app);
  app.name("qgrid");
  qgrid::cli::RegisterModelCommands(app);
  qgrid::cli::RegisterQuantCommands(app);
  qgrid::cli::RegisterEvalCommands(app);
  qgrid::cli::RegisterDemoCommands(app);
  qgrid::cli::RegisterWorkerCommands(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  return qgrid::cli::ExitCode();
}
