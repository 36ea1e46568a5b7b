// Hugging Face `tokenizer.json` tokenizers with a BPE model, implemented in
// C++ after the semantics of the `tokenizers` library:
//
//   added tokens: the text is split on added tokens first (leftmost-longest;
//     non-normalized ones on the raw text, normalized ones on the normalized
//     text, with their content normalized too), honouring lstrip / rstrip /
//     single_word;
//   normalizers: Sequence, Prepend, Replace (string pattern), Strip, NFC,
//     NFD, NFKC, NFKD;
//   pre-tokenizers: Sequence, ByteLevel (GPT-2 regex + byte-to-unicode map),
//     Split (GPT-2 / LLaMA-3 / Qwen2 regexes, or a literal string), Digits,
//     Metaspace (prepend_scheme first/always/never, split), Whitespace,
//     WhitespaceSplit, Punctuation;
//   model: BPE (other types, given or implied when "type" is absent, are
//     refused by name) with merges as "a b" strings or ["a", "b"] pairs, byte
//     fallback to <0xXX>, unk (fuse_unk), ignore_merges,
//     continuing_subword_prefix, end_of_word_suffix;
//   post-processors: TemplateProcessing, ByteLevel, RobertaProcessing,
//     BertProcessing, Sequence; for LlamaTokenizer-class tokenizers the
//     template is rebuilt from tokenizer_config.json's add_bos_token /
//     add_eos_token as transformers' LlamaTokenizerFast does, and so are
//     the normalizer (none), pre-tokenizer (Metaspace, prepend_scheme
//     first, always with legacy: true, never with add_prefix_space: false;
//     no split) and decoder, as transformers 5's LlamaTokenizer (and
//     CodeLlamaTokenizer) rebuild them from the file's vocab and merges; for
//     GPT2Tokenizer-class ones a top-level ByteLevel pre-tokenizer takes
//     add_prefix_space from it as GPT2TokenizerFast does;
//   decoders: Sequence, ByteLevel, Metaspace, Replace, ByteFallback, Fuse,
//     Strip.
// Anything else in the file is rejected at load time with an error naming
// the file and the unsupported component.
//
// Decode() is the `tokenizers` decode (without transformers'
// clean_up_tokenization_spaces): byte-level tokenizers round-trip exactly;
// SentencePiece-style ones strip the one "▁" they prepend, so text that
// starts with a space comes back with one space fewer, as in Hugging Face.
//
// Thread-safety: a loaded tokenizer is immutable; const methods may be called
// concurrently.
#ifndef QGRID_MODEL_HF_TOKENIZER_H_
#define QGRID_MODEL_HF_TOKENIZER_H_

#include <memory>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "model/tokenizer.h"
#include "model/tokenizer_config.h"

namespace qgrid::model {

// Loads `path` (a tokenizer.json) with the folder's tokenizer_config.json
// settings in `config`.
absl::StatusOr<std::unique_ptr<Tokenizer>> LoadHfTokenizer(
    const std::string& path, const TokenizerConfig& config);

// The same from the JSON text; `source` names it in errors.
absl::StatusOr<std::unique_ptr<Tokenizer>> ParseHfTokenizer(
    std::string_view json, const TokenizerConfig& config,
    const std::string& source);

}  // namespace qgrid::model

#endif  // QGRID_MODEL_HF_TOKENIZER_H_
