#include "model/device_info.h"

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "model/torch_util.h"

#ifdef QGRID_WITH_CUDA
#include <cuda_runtime_api.h>
#endif

namespace qgrid::model {

absl::StatusOr<DeviceInfo> DescribeDevice(const std::string& device,
                                          const std::string& what) {
  QG_RETURN_IF_ERROR(CheckDevice(device, what));
  if (device == "cpu") return DeviceInfo{"cpu", 0, 0};
  int index = 0;
  if (device.size() > 5 && !absl::SimpleAtoi(device.substr(5), &index)) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, " ", device, ": bad device index"));
  }
#ifdef QGRID_WITH_CUDA
  auto fail = [&](const char* call, cudaError_t e) {
    return absl::FailedPreconditionError(absl::StrCat(
        what, " ", device, ": ", call, ": ", cudaGetErrorString(e)));
  };
  int previous = 0;
  if (cudaError_t e = cudaGetDevice(&previous); e != cudaSuccess) {
    return fail("cudaGetDevice", e);
  }
  cudaDeviceProp prop;
  if (cudaError_t e = cudaGetDeviceProperties(&prop, index); e != cudaSuccess) {
    return fail("cudaGetDeviceProperties", e);
  }
  size_t free_b = 0, total_b = 0;
  cudaError_t e = cudaSetDevice(index);
  if (e == cudaSuccess) e = cudaMemGetInfo(&free_b, &total_b);
  cudaSetDevice(previous);
  if (e != cudaSuccess) return fail("cudaMemGetInfo", e);
  return DeviceInfo{prop.name, static_cast<int64_t>(total_b),
                    static_cast<int64_t>(free_b)};
#else
  // CheckDevice refused CUDA already in a build without it.
  return absl::InvalidArgumentError(
      absl::StrCat(what, " ", device, ": this build has no CUDA"));
#endif
}

}  // namespace qgrid::model
