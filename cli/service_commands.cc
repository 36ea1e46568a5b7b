#include "cli/commands.h"

namespace qgrid::cli {

void RegisterServiceCommands(CLI::App& app) {}

}  // namespace qgrid::cli
