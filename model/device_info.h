// What a device is, for a worker's registration (RegisterWorkerRequest:
// device name and memory_bytes) and for logs: its name and its total and
// free memory. "cpu" is {"cpu", 0, 0}: host memory is not what the
// scheduler sizes jobs by, and 0 means unknown on the wire. "cuda:N" asks
// the CUDA runtime (cudaGetDeviceProperties, cudaMemGetInfo) in builds with
// CUDA (QGRID_WITH_CUDA); elsewhere, and for a device this machine lacks,
// the error says why. The spelling is checked by CheckDevice
// (model/torch_util.h).
//
// Thread-safe: the calling thread's current CUDA device is restored.
#ifndef QGRID_MODEL_DEVICE_INFO_H_
#define QGRID_MODEL_DEVICE_INFO_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"

namespace qgrid::model {

struct DeviceInfo {
  std::string name;         // "cpu", or the GPU's, e.g. "NVIDIA H200"
  int64_t total_bytes = 0;  // device memory; 0 for cpu
  int64_t free_bytes = 0;   // free device memory now; 0 for cpu
};

// InvalidArgument for a bad spelling or a build without CUDA;
// FailedPrecondition when the CUDA runtime cannot reach device N. `what`
// names the flag or field in messages, e.g. "--device".
absl::StatusOr<DeviceInfo> DescribeDevice(const std::string& device,
                                          const std::string& what = "device");

}  // namespace qgrid::model

#endif  // QGRID_MODEL_DEVICE_INFO_H_
