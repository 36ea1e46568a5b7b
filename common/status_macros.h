// Status helpers used at every module boundary.
//
// qgrid returns absl::Status / absl::StatusOr<T> across modules (see
// ../shared/design/architecture.md, "Errors are values"). These macros keep
// call sites short:
//
//   QG_RETURN_IF_ERROR(file.Write(...));
//   QG_ASSIGN_OR_RETURN(auto ckpt, Checkpoint::Open(dir));
#ifndef QGRID_COMMON_STATUS_MACROS_H_
#define QGRID_COMMON_STATUS_MACROS_H_

#include "absl/status/status.h"
#include "absl/status/statusor.h"

#define QG_CONCAT_INNER_(a, b) a##b
#define QG_CONCAT_(a, b) QG_CONCAT_INNER_(a, b)

#define QG_RETURN_IF_ERROR(expr)                   \
  do {                                             \
    ::absl::Status qg_status_ = (expr);            \
    if (!qg_status_.ok()) return qg_status_;       \
  } while (0)

#define QG_ASSIGN_OR_RETURN(lhs, rexpr) \
  QG_ASSIGN_OR_RETURN_IMPL_(QG_CONCAT_(qg_statusor_, __LINE__), lhs, rexpr)

#define QG_ASSIGN_OR_RETURN_IMPL_(statusor, lhs, rexpr) \
  auto statusor = (rexpr);                              \
  if (!statusor.ok()) return statusor.status();         \
  lhs = std::move(statusor).value()

namespace qgrid {

// Prefixes a non-OK status's message with `context` ("file.json: ...").
inline absl::Status Annotate(const absl::Status& s, std::string_view context) {
  if (s.ok()) return s;
  return absl::Status(s.code(), std::string(context) + ": " +
                                    std::string(s.message()));
}

}  // namespace qgrid

#endif  // QGRID_COMMON_STATUS_MACROS_H_
