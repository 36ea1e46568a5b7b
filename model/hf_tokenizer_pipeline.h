// Internal to model/hf_tokenizer*.cc: the tokenizer.json pipeline
// components (normalizers, pre-tokenizers, decoders) and shared helpers,
// with the semantics of Hugging Face's `tokenizers` library. See
// model/hf_tokenizer.h for the public API and what is supported.
//
// Thread-safety: components are immutable after parsing; Apply() is const.
#ifndef QGRID_MODEL_HF_TOKENIZER_PIPELINE_H_
#define QGRID_MODEL_HF_TOKENIZER_PIPELINE_H_

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"

namespace qgrid::model::hf {

// "▁" (U+2581), SentencePiece's word-boundary marker.
inline constexpr std::string_view kMetaspace = "\xe2\x96\x81";

// InvalidArgument "<where>: <what>".
absl::Status Bad(const std::string& where, const std::string& what);
std::string JsonString(const nlohmann::json& j, const char* key,
                       const std::string& dflt = "");
bool JsonBool(const nlohmann::json& j, const char* key, bool dflt);

// A piece of text being pre-tokenized. `at_start`: it begins at offset 0 of
// the original input (Metaspace prepend_scheme "first" needs it).
struct Piece {
  std::string text;
  bool at_start;
};

class Normalizer {
 public:
  virtual ~Normalizer() = default;
  virtual void Apply(std::string* s) const = 0;
};

class PreTokenizer {
 public:
  virtual ~PreTokenizer() = default;
  virtual void Apply(std::vector<Piece>* pieces) const = 0;
};

// Applies to a token list (tokenizers' decode_chain); the decoded text is the
// concatenation of the final list.
class Decoder {
 public:
  virtual ~Decoder() = default;
  virtual void Apply(std::vector<std::string>* tokens) const = 0;
};

// Parse one component of tokenizer.json; errors name `where` (the file) and
// the unsupported type.
absl::StatusOr<std::unique_ptr<Normalizer>> ParseNormalizer(
    const nlohmann::json& j, const std::string& where);
absl::StatusOr<std::unique_ptr<PreTokenizer>> ParsePreTokenizer(
    const nlohmann::json& j, const std::string& where);
absl::StatusOr<std::unique_ptr<Decoder>> ParseDecoder(const nlohmann::json& j,
                                                      const std::string& where);

}  // namespace qgrid::model::hf

#endif  // QGRID_MODEL_HF_TOKENIZER_PIPELINE_H_
