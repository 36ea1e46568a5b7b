// The boundary with libtorch that every torch-using module shares:
//
//  - ParseDtype: the one spelling table of compute dtypes, for flags
//    (`--dtype`), sweep specs (`models[].dtype`) and configs: fp32 / float32
//    / f32, fp16 / float16 / f16 / half, bf16 / bfloat16. DtypeName is the
//    canonical name back ("float32", "float16", "bfloat16").
//  - CatchTorch: runs a function and turns a thrown c10::Error (or any
//    std::exception) into an absl::Status, since module boundaries return
//    Status (architecture decision 8, "errors are values"); the backtrace
//    libtorch appends is dropped.
//
// Thread-safe: pure functions.
#ifndef QGRID_MODEL_TORCH_UTIL_H_
#define QGRID_MODEL_TORCH_UTIL_H_

#include <c10/core/ScalarType.h>

#include <functional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace qgrid::model {

// InvalidArgument "<what>: unknown dtype "x" (float32, float16, bfloat16)"
// for anything else; `what` names the flag or field, e.g. "--dtype".
absl::StatusOr<at::ScalarType> ParseDtype(const std::string& name,
                                          const std::string& what = "dtype");
const char* DtypeName(at::ScalarType t);

absl::Status CatchTorch(const std::function<absl::Status()>& fn);

}  // namespace qgrid::model

#endif  // QGRID_MODEL_TORCH_UTIL_H_
