#include "model/torch_util.h"

#include <ATen/Context.h>
#include <c10/util/Exception.h>

#include <exception>

#include "absl/strings/str_cat.h"

namespace qgrid::model {

absl::Status CheckDevice(const std::string& device, const std::string& what) {
  const bool cuda = device == "cuda" || device.rfind("cuda:", 0) == 0;
  if (device != "cpu" && !cuda) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, " must be cpu or cuda[:N], got '", device, "'"));
  }
  if (cuda && !at::hasCUDA()) {
    return absl::InvalidArgumentError(absl::StrCat(
        what, " ", device, ": this build has no CUDA (libtorch CPU); use cpu"));
  }
  return absl::OkStatus();
}

absl::StatusOr<at::ScalarType> ParseDtype(const std::string& s,
                                          const std::string& what) {
  if (s == "fp32" || s == "float32" || s == "f32") return at::kFloat;
  if (s == "fp16" || s == "float16" || s == "f16" || s == "half")
    return at::kHalf;
  if (s == "bf16" || s == "bfloat16") return at::kBFloat16;
  return absl::InvalidArgumentError(absl::StrCat(
      what, ": unknown dtype \"", s, "\" (float32, float16, bfloat16)"));
}

const char* DtypeName(at::ScalarType t) {
  switch (t) {
    case at::kHalf:
      return "float16";
    case at::kBFloat16:
      return "bfloat16";
    case at::kFloat:
      return "float32";
    default:
      return c10::toString(t);
  }
}

absl::Status CatchTorch(const std::function<absl::Status()>& fn) {
  try {
    return fn();
  } catch (const c10::OutOfMemoryError& e) {
    // Device memory is a resource of this run, not a bug: callers retry
    // with less (worker/oom_retry.h) or report the batch size.
    return absl::ResourceExhaustedError(
        absl::StrCat("out of device memory: ", e.what_without_backtrace()));
  } catch (const c10::Error& e) {
    return absl::InternalError(
        absl::StrCat("libtorch: ", e.what_without_backtrace()));
  } catch (const std::exception& e) {
    return absl::InternalError(absl::StrCat("exception: ", e.what()));
  }
}

}  // namespace qgrid::model
