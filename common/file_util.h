// Whole-file reading for every module: checkpoints' JSON, task YAMLs,
// datasets, specs, certificates, tokens.
//
// One reader so that every "cannot open" reads the same way and names the
// file (and the OS reason). Thread-safe: no shared state.
#ifndef QGRID_COMMON_FILE_UTIL_H_
#define QGRID_COMMON_FILE_UTIL_H_

#include <cstddef>
#include <string>

#include "absl/status/statusor.h"

namespace qgrid {

// The whole file, byte for byte. NotFound "PATH: cannot open (REASON)" when
// it cannot be opened; InvalidArgument "PATH: larger than N bytes" when it is
// longer than `max_bytes` (0 = no limit). A directory is refused too.
absl::StatusOr<std::string> ReadFileToString(const std::string& path,
                                             size_t max_bytes = 0);

// Its first `max_bytes` bytes (the whole file when shorter; 0 = all): for
// callers that only need a prefix, e.g. `qgrid ppl --max-bytes`.
absl::StatusOr<std::string> ReadFilePrefix(const std::string& path,
                                           size_t max_bytes);

}  // namespace qgrid

#endif  // QGRID_COMMON_FILE_UTIL_H_
