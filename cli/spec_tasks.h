// Client-side check of the evaluation tasks a sweep spec names, before the
// spec is sent (`qgrid submit`, `qgrid submit --dry-run`, `qgrid run`).
//
// The coordinator validates the spec's structure (coordinator/sweep_spec.h)
// but may not depend on eval/ (architecture.md: db <- coordinator; eval is
// the workers' business), so it cannot know which tasks exist. The `qgrid`
// client links eval/ and checks every `tests[i].task` and every
// `calibration[i].task` (or `dataset`, when it is what the worker will
// resolve: no `task`, no `path`) against the built-in task registry
// (eval/task_config.h ResolveTask, the built-in task directories). An unknown
// name is refused with its file:line:col, the closest known name and the list
// of known tasks. Task files (NAME.yaml) are resolved under a worker's data
// roots and are left to the worker, which fails such a job permanently with
// the same kind of message. Pure; thread-safe.
#ifndef QGRID_CLI_SPEC_TASKS_H_
#define QGRID_CLI_SPEC_TASKS_H_

#include <string>

#include "absl/status/status.h"

namespace qgrid::cli {

// InvalidArgument naming `file`:line:col of the first unknown task, else OK.
// Specs of `kind: synthetic` name no tasks and pass.
absl::Status ValidateSpecTasks(const std::string& yaml_text,
                               const std::string& file);

}  // namespace qgrid::cli

#endif  // QGRID_CLI_SPEC_TASKS_H_
