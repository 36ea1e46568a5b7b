// Check of the evaluation tasks a sweep spec names, made by the client
// before the spec is sent (`qgrid submit`, `qgrid submit --dry-run`, `qgrid
// run`).
//
// It checks every `tests[i].task` and every `calibration[i].task` (or
// `dataset`, when it is what the worker will resolve: no `task`, no `path`)
// against the built-in task registry of this installation
// (eval/task_config.h ResolveTask; torch-free). An unknown name is refused
// with its file:line:col, the closest known name and the list of known
// tasks. Task files (NAME.yaml) are resolved under a worker's data roots and
// are left to the worker, which fails such a job permanently with the same
// kind of message. The coordinator's service does not call it: workers may
// carry a newer task registry than the coordinator's host. Pure;
// thread-safe.
#ifndef QGRID_COORDINATOR_SPEC_TASKS_H_
#define QGRID_COORDINATOR_SPEC_TASKS_H_

#include <string>

#include "absl/status/status.h"

namespace qgrid::coordinator {

// InvalidArgument naming `file`:line:col of the first unknown task, else OK.
// Specs of `kind: synthetic` name no tasks and pass.
absl::Status ValidateSpecTasks(const std::string& yaml_text,
                               const std::string& file);

}  // namespace qgrid::coordinator

#endif  // QGRID_COORDINATOR_SPEC_TASKS_H_
