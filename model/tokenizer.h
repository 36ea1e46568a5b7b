// Tokenizers: SentencePiece `tokenizer.model` and Hugging Face
// `tokenizer.json` (BPE, byte-level or SentencePiece-style with byte
// fallback), with special tokens and BOS/EOS behaviour from
// `tokenizer_config.json` / the post-processor.
//
// Encode(text) must equal Hugging Face's `tokenizer(text)["input_ids"]`
// token for token (add_special_tokens=true adds what HF adds, e.g. BOS).
//
// Thread-safety: const methods are safe to call concurrently.
#ifndef QGRID_MODEL_TOKENIZER_H_
#define QGRID_MODEL_TOKENIZER_H_

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace qgrid::model {

class Tokenizer {
 public:
  virtual ~Tokenizer() = default;

  virtual std::vector<int> Encode(std::string_view text,
                                  bool add_special_tokens = true) const = 0;
  virtual std::string Decode(const std::vector<int>& ids,
                             bool skip_special_tokens = true) const = 0;
  virtual int vocab_size() const = 0;
  // -1 when the tokenizer has none.
  virtual int bos_id() const = 0;
  virtual int eos_id() const = 0;
  virtual int pad_id() const { return -1; }
  virtual std::string IdToPiece(int id) const = 0;
  // "sentencepiece", "hf-bpe-byte-level", "hf-bpe-metaspace", ...
  virtual std::string kind() const = 0;
};

// Loads the tokenizer in `dir`. Prefers tokenizer.json over tokenizer.model,
// as Hugging Face's AutoTokenizer does; reads tokenizer_config.json and
// special_tokens_map.json when present. A tokenizer.json with components
// qgrid does not implement falls back to tokenizer.model when that exists
// (with a warning); otherwise the error names the file and the component.
//
// Implementations: model/hf_tokenizer.h (tokenizer.json BPE),
// model/sentencepiece.h (tokenizer.model, through a dlopen()ed shim);
// training SentencePiece models: model/sentencepiece_trainer.h.
absl::StatusOr<std::unique_ptr<Tokenizer>> LoadTokenizer(
    const std::string& dir);

}  // namespace qgrid::model

#endif  // QGRID_MODEL_TOKENIZER_H_
