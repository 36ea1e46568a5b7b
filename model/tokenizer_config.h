// What qgrid reads from a Hugging Face `tokenizer_config.json`.
//
// Only the fields that change token ids are kept. An absent file yields an
// all-unset config; callers apply the tokenizer class's defaults.
//
// Thread-safety: plain data.
#ifndef QGRID_MODEL_TOKENIZER_CONFIG_H_
#define QGRID_MODEL_TOKENIZER_CONFIG_H_

#include <optional>
#include <string>

#include "absl/status/statusor.h"

namespace qgrid::model {

struct TokenizerConfig {
  std::optional<bool> add_bos_token;
  std::optional<bool> add_eos_token;
  std::optional<bool> add_prefix_space;
  std::optional<bool> legacy;
  std::string tokenizer_class;
  // Special-token strings (a plain string or an AddedToken's "content");
  // special_tokens_map.json fills the ones tokenizer_config.json lacks.
  std::optional<std::string> bos_token;
  std::optional<std::string> eos_token;
  std::optional<std::string> pad_token;
  std::optional<std::string> unk_token;
};

// Reads <dir>/tokenizer_config.json and <dir>/special_tokens_map.json; an
// error names the file when it exists
// but is not a JSON object.
absl::StatusOr<TokenizerConfig> ReadTokenizerConfig(const std::string& dir);

}  // namespace qgrid::model

#endif  // QGRID_MODEL_TOKENIZER_CONFIG_H_
