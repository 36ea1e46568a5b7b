#include "cli/commands.h"

namespace qgrid::cli {

void RegisterDemoCommands(CLI::App& app) {}

}  // namespace qgrid::cli
