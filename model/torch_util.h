// The boundary with libtorch that every torch-using module shares:
//
//  - ParseDtype: the one spelling table of compute dtypes, for flags
//    (`--dtype`), sweep specs (`models[].dtype`) and configs: fp32 / float32
//    / f32, fp16 / float16 / f16 / half, bf16 / bfloat16. DtypeName is the
//    canonical name back ("float32", "float16", "bfloat16").
//  - CheckDevice: the one check of a device spelling (`--device`, a
//    worker's device): "cpu" or "cuda[:N]", and CUDA only where this
//    libtorch has it.
//  - CatchTorch: runs a function and turns a thrown c10::Error (or any
//    std::exception) into an absl::Status, since module boundaries return
//    Status (architecture decision 8, "errors are values"); the backtrace
//    libtorch appends is dropped. A CUDA out-of-memory error
//    (c10::OutOfMemoryError) becomes ResourceExhausted.
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

// InvalidArgument "<what> must be cpu or cuda[:N], got 'x'", or
// "<what> cuda:0: this build has no CUDA (libtorch CPU); use cpu".
absl::Status CheckDevice(const std::string& device,
                         const std::string& what = "device");

absl::Status CatchTorch(const std::function<absl::Status()>& fn);

}  // namespace qgrid::model

#endif  // QGRID_MODEL_TORCH_UTIL_H_
