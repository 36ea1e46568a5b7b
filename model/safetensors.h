// safetensors checkpoints: memory-mapped reading and writing.
//
// Format (https://github.com/huggingface/safetensors): an 8-byte little-endian
// header length N, N bytes of JSON {name: {dtype, shape, data_offsets:[b,e]},
// "__metadata__": {str: str}}, then the byte buffer. Offsets are relative to
// the buffer start.
//
// A SafetensorsFile maps the file read-only and validates the whole header on
// Open: truncated files, a header length beyond the file, non-JSON headers,
// duplicate names, offsets out of range or overlapping, and dtype x shape not
// matching the byte range are rejected with an error naming the file and the
// tensor. Nothing is copied until a tensor is loaded, so loading a model holds
// one copy of the weights plus the page cache.
//
// Thread-safety: immutable after Open; safe for concurrent readers.
#ifndef QGRID_MODEL_SAFETENSORS_H_
#define QGRID_MODEL_SAFETENSORS_H_

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"

namespace qgrid::model {

enum class DType { kF64, kF32, kF16, kBF16, kI64, kI32, kI16, kI8, kU8, kBool };

absl::StatusOr<DType> ParseDType(std::string_view name);  // "F32", "BF16", ...
const char* DTypeName(DType d);
size_t DTypeSize(DType d);
absl::StatusOr<DType> DTypeFromScalarType(at::ScalarType t);
at::ScalarType ToScalarType(DType d);

// A tensor inside a mapped file. `data` stays valid while its file is open.
struct TensorView {
  std::string name;
  DType dtype;
  std::vector<int64_t> shape;
  const uint8_t* data = nullptr;
  size_t nbytes = 0;
  std::string file;  // the file it lives in, for error messages
};

class SafetensorsFile {
 public:
  static absl::StatusOr<std::unique_ptr<SafetensorsFile>> Open(
      const std::string& path);
  ~SafetensorsFile();
  SafetensorsFile(const SafetensorsFile&) = delete;
  SafetensorsFile& operator=(const SafetensorsFile&) = delete;

  const std::string& path() const { return path_; }
  // Names in file order.
  const std::vector<std::string>& names() const { return names_; }
  const TensorView* Find(std::string_view name) const;
  const std::map<std::string, std::string>& metadata() const {
    return metadata_;
  }
  size_t file_size() const { return size_; }

 private:
  SafetensorsFile() = default;
  std::string path_;
  void* map_ = nullptr;
  size_t size_ = 0;
  std::vector<std::string> names_;
  std::map<std::string, TensorView, std::less<>> tensors_;
  std::map<std::string, std::string> metadata_;
};

// A checkpoint: one model.safetensors, or shards listed by
// model.safetensors.index.json ({"weight_map": {tensor: file}}).
class Checkpoint {
 public:
  // `dir` holds model.safetensors or model.safetensors.index.json; a path to a
  // single .safetensors file is accepted too.
  static absl::StatusOr<std::unique_ptr<Checkpoint>> Open(
      const std::string& dir);

  std::vector<std::string> TensorNames() const;
  bool Has(std::string_view name) const;
  const TensorView* Find(std::string_view name) const;
  // Copies the tensor into a new CPU tensor of `dtype` (converting if the
  // stored dtype differs). The result owns its memory; the mapping is not
  // referenced after return.
  absl::StatusOr<at::Tensor> Load(std::string_view name,
                                  at::ScalarType dtype) const;
  // Loads in the stored dtype.
  absl::StatusOr<at::Tensor> Load(std::string_view name) const;
  uint64_t total_bytes() const;
  // Metadata of the first file.
  const std::map<std::string, std::string>& metadata() const;

 private:
  std::vector<std::unique_ptr<SafetensorsFile>> files_;
  std::map<std::string, const TensorView*, std::less<>> index_;
};

// Writes tensors (CPU or not; contiguous copies are made as needed) to `path`
// atomically (temp file + rename). Names must be unique.
absl::Status WriteSafetensors(
    const std::string& path,
    const std::vector<std::pair<std::string, at::Tensor>>& tensors,
    const std::map<std::string, std::string>& metadata = {});

}  // namespace qgrid::model

#endif  // QGRID_MODEL_SAFETENSORS_H_
