// SentencePiece models (`tokenizer.model`) and a Tokenizer over them.
//
// libsentencepiece is never linked into qgrid: it exports a bundled
// protobuf-lite that clashes with libprotobuf (libtorch, gRPC) at static
// initialisation. Everything here goes through libqgrid_spm_shim.so
// (model/spm_shim/), dlopen()ed once per process with
// RTLD_NOW | RTLD_LOCAL | RTLD_DEEPBIND. The shim is looked up at
// $QGRID_SPM_SHIM, then at its build location (compile time), then beside the
// running executable, then in ../lib relative to it.
//
// SentencePieceTokenizer follows Hugging Face's LlamaTokenizer (legacy
// mode, the behaviour of its tokenizer.json twin): the text is first split on
// special-token strings (control pieces such as "<s>", and the unknown piece),
// each remaining segment is encoded by SentencePiece (which adds its dummy
// "▁" prefix per segment), then BOS/EOS are added as configured.
//
// Thread-safety: a loaded model and tokenizer are immutable; const methods
// may be called concurrently. Loading the shim is thread-safe.
#ifndef QGRID_MODEL_SENTENCEPIECE_H_
#define QGRID_MODEL_SENTENCEPIECE_H_

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "model/tokenizer.h"

struct qg_spm;

namespace qgrid::model {

struct SpmShimApi;

// Path of the shim library that was (or would be) loaded, or why none loads.
absl::StatusOr<std::string> SentencePieceShimPath();

// A loaded SentencePiece ModelProto. Non-copyable; owns the shim handle.
class SentencePieceModel {
 public:
  static absl::StatusOr<std::unique_ptr<SentencePieceModel>> Load(
      const std::string& path);
  static absl::StatusOr<std::unique_ptr<SentencePieceModel>> LoadFromBytes(
      std::string_view serialized);
  ~SentencePieceModel();
  SentencePieceModel(const SentencePieceModel&) = delete;
  SentencePieceModel& operator=(const SentencePieceModel&) = delete;

  // Plain SentencePiece encoding: no BOS/EOS, no special-token splitting.
  absl::StatusOr<std::vector<int>> EncodeIds(std::string_view text) const;
  absl::StatusOr<std::vector<std::string>> EncodePieces(
      std::string_view text) const;
  absl::StatusOr<std::string> Decode(const std::vector<int>& ids) const;

  int vocab_size() const { return static_cast<int>(pieces_.size()); }
  int bos_id() const { return bos_id_; }
  int eos_id() const { return eos_id_; }
  int unk_id() const { return unk_id_; }
  int pad_id() const { return pad_id_; }
  bool IsControl(int id) const;
  bool IsByte(int id) const;
  bool IsUnknown(int id) const;
  bool IsUnused(int id) const;
  // "" when out of range.
  const std::string& IdToPiece(int id) const;
  // unk_id() when unknown.
  int PieceToId(std::string_view piece) const;

 private:
  SentencePieceModel(const SpmShimApi* api, qg_spm* handle);

  const SpmShimApi* api_;
  qg_spm* handle_;
  std::vector<std::string> pieces_;
  std::vector<unsigned char> flags_;  // kControl | kByte | ...
  int bos_id_ = -1, eos_id_ = -1, unk_id_ = -1, pad_id_ = -1;
};

struct SentencePieceTokenizerOptions {
  bool add_bos = true;  // LlamaTokenizer's default.
  bool add_eos = false;
};

// A Tokenizer over `tokenizer.model` at `path`; kind() "sentencepiece".
absl::StatusOr<std::unique_ptr<Tokenizer>> LoadSentencePieceTokenizer(
    const std::string& path, const SentencePieceTokenizerOptions& options);

}  // namespace qgrid::model

#endif  // QGRID_MODEL_SENTENCEPIECE_H_
