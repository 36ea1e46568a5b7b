#include "cli/commands.h"

namespace qgrid::cli {

void RegisterEvalCommands(CLI::App& app) {}

}  // namespace qgrid::cli
