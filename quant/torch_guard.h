// Converts exceptions thrown by libtorch (c10::Error) or the standard
// library into absl::Status at quant/'s boundaries ("errors are values").
// Same contract as model::CatchTorch, kept local so that the quantizers and
// packing stand alone (tests and tools that do not link the model runtime).
#ifndef QGRID_QUANT_TORCH_GUARD_H_
#define QGRID_QUANT_TORCH_GUARD_H_

#include <exception>
#include <functional>
#include <string>

#include "absl/status/status.h"

namespace qgrid::quant {

inline absl::Status GuardTorch(const std::function<absl::Status()>& fn) {
  try {
    return fn();
  } catch (const std::exception& e) {
    // c10::Error derives from std::exception; its what() carries the
    // backtrace after the first line, which we drop.
    std::string msg = e.what();
    const auto nl = msg.find('\n');
    if (nl != std::string::npos) msg.resize(nl);
    return absl::InternalError("libtorch: " + msg);
  }
}

}  // namespace qgrid::quant

#endif  // QGRID_QUANT_TORCH_GUARD_H_
