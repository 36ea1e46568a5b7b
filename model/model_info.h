// What `qgrid model info` shows of a Hugging Face model folder without
// loading weights: the config's architecture and sizes, the checkpoint's
// tensor count, dtypes, elements and bytes (from the safetensors headers
// only) and the tokenizer's kind and special ids. Thread-safe: reads files.
#ifndef QGRID_MODEL_MODEL_INFO_H_
#define QGRID_MODEL_MODEL_INFO_H_

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "model/config.h"
#include "nlohmann/json.hpp"

namespace qgrid::model {

struct ModelFolderInfo {
  // Flat key -> value summary (printable as a two-column table or JSON);
  // "checkpoint_error" / "tokenizer_error" say what could not be read.
  nlohmann::json summary;
  // Whether the checkpoint's headers could be read.
  absl::Status checkpoint;
};

// `config` is `dir`/config.json, already parsed.
absl::StatusOr<ModelFolderInfo> DescribeModelFolder(const std::string& dir,
                                                    const ModelConfig& config);

}  // namespace qgrid::model

#endif  // QGRID_MODEL_MODEL_INFO_H_
