#include "cli/commands.h"

namespace qgrid::cli {

void RegisterModelCommands(CLI::App& app) {}

}  // namespace qgrid::cli
