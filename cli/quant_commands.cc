#include "cli/commands.h"

namespace qgrid::cli {

void RegisterQuantCommands(CLI::App& app) {}

}  // namespace qgrid::cli
