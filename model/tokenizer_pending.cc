// TEMPORARY: lets qgrid_model link until the tokenizer branch (h/tok) is
// merged; that branch defines the real LoadTokenizer. Delete this file in
// the commit that merges it.
#include "absl/status/status.h"
#include "model/tokenizer.h"

namespace qgrid::model {

absl::StatusOr<std::unique_ptr<Tokenizer>> LoadTokenizer(
    const std::string& dir) {
  return absl::UnimplementedError("tokenizer support not merged yet");
}

}  // namespace qgrid::model
