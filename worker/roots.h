// Roots enforcement: a worker reads models and data only under the
// directories it was given (--model-root, --data-dir). A job's path is
// resolved against the roots (relative paths) or checked to lie under one
// (absolute paths), after resolving symlinks and "..", so a spec cannot make
// a worker read /etc/passwd. Pure function; thread-safe.
#ifndef QGRID_WORKER_ROOTS_H_
#define QGRID_WORKER_ROOTS_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace qgrid::worker {

// The canonical path of `path` if it is under one of `roots` (the first root
// where a relative path exists wins); PERMISSION_DENIED when outside,
// NOT_FOUND when it exists under no root. `what` names it in messages
// ("model path").
absl::StatusOr<std::string> ResolveUnderRoots(
    const std::string& path, const std::vector<std::string>& roots,
    const std::string& what);

}  // namespace qgrid::worker

#endif  // QGRID_WORKER_ROOTS_H_
