#include "model/sentencepiece.h"

#include <dlfcn.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <mutex>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "model/spm_shim/spm_shim.h"

namespace qgrid::model {

// Function table resolved from the shim.
struct SpmShimApi {
  std::string path;
  decltype(&qg_spm_abi_version) abi_version;
  decltype(&qg_spm_load_file) load_file;
  decltype(&qg_spm_load_bytes) load_bytes;
  decltype(&qg_spm_free) free_handle;
  decltype(&qg_spm_free_buffer) free_buffer;
  decltype(&qg_spm_vocab_size) vocab_size;
  decltype(&qg_spm_bos_id) bos_id;
  decltype(&qg_spm_eos_id) eos_id;
  decltype(&qg_spm_unk_id) unk_id;
  decltype(&qg_spm_pad_id) pad_id;
  decltype(&qg_spm_is_control) is_control;
  decltype(&qg_spm_is_byte) is_byte;
  decltype(&qg_spm_is_unknown) is_unknown;
  decltype(&qg_spm_is_unused) is_unused;
  decltype(&qg_spm_id_to_piece) id_to_piece;
  decltype(&qg_spm_piece_to_id) piece_to_id;
  decltype(&qg_spm_encode_ids) encode_ids;
  decltype(&qg_spm_encode_pieces) encode_pieces;
  decltype(&qg_spm_decode) decode;
  decltype(&qg_spm_train) train;
};

// Defined in sentencepiece_trainer.cc's use; declared here for it.
absl::StatusOr<const SpmShimApi*> GetSpmShim();
absl::Status SpmShimTrain(const std::string& flags);

namespace {

constexpr char kShimName[] = "libqgrid_spm_shim.so";

std::vector<std::string> ShimCandidates() {
  std::vector<std::string> out;
  if (const char* env = std::getenv("QGRID_SPM_SHIM"); env && *env) {
    out.push_back(env);
  }
#ifdef QGRID_SPM_SHIM_PATH
  out.push_back(QGRID_SPM_SHIM_PATH);
#endif
  std::error_code ec;
  auto exe = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (!ec) {
    auto dir = exe.parent_path();
    out.push_back((dir / kShimName).string());
    out.push_back((dir / ".." / "lib" / kShimName).lexically_normal().string());
  }
  return out;
}

template <typename F>
bool Resolve(void* lib, const char* name, F* fn) {
  *fn = reinterpret_cast<F>(dlsym(lib, name));
  return *fn != nullptr;
}

absl::StatusOr<SpmShimApi*> OpenShim() {
  std::string tried;
  for (const std::string& path : ShimCandidates()) {
    if (!std::filesystem::exists(path)) {
      absl::StrAppend(&tried, tried.empty() ? "" : ", ", path, " (absent)");
      continue;
    }
    // RTLD_LOCAL keeps libsentencepiece's bundled protobuf out of the global
    // namespace; RTLD_DEEPBIND makes the shim and its dependencies prefer
    // their own symbols over libprotobuf's already in the process.
    void* lib = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL | RTLD_DEEPBIND);
    if (lib == nullptr) {
      const char* e = dlerror();
      absl::StrAppend(&tried, tried.empty() ? "" : ", ", path, " (",
                      e ? e : "dlopen failed", ")");
      continue;
    }
    auto api = std::make_unique<SpmShimApi>();
    api->path = path;
    bool ok = Resolve(lib, "qg_spm_abi_version", &api->abi_version) &&
              Resolve(lib, "qg_spm_load_file", &api->load_file) &&
              Resolve(lib, "qg_spm_load_bytes", &api->load_bytes) &&
              Resolve(lib, "qg_spm_free", &api->free_handle) &&
              Resolve(lib, "qg_spm_free_buffer", &api->free_buffer) &&
              Resolve(lib, "qg_spm_vocab_size", &api->vocab_size) &&
              Resolve(lib, "qg_spm_bos_id", &api->bos_id) &&
              Resolve(lib, "qg_spm_eos_id", &api->eos_id) &&
              Resolve(lib, "qg_spm_unk_id", &api->unk_id) &&
              Resolve(lib, "qg_spm_pad_id", &api->pad_id) &&
              Resolve(lib, "qg_spm_is_control", &api->is_control) &&
              Resolve(lib, "qg_spm_is_byte", &api->is_byte) &&
              Resolve(lib, "qg_spm_is_unknown", &api->is_unknown) &&
              Resolve(lib, "qg_spm_is_unused", &api->is_unused) &&
              Resolve(lib, "qg_spm_id_to_piece", &api->id_to_piece) &&
              Resolve(lib, "qg_spm_piece_to_id", &api->piece_to_id) &&
              Resolve(lib, "qg_spm_encode_ids", &api->encode_ids) &&
              Resolve(lib, "qg_spm_encode_pieces", &api->encode_pieces) &&
              Resolve(lib, "qg_spm_decode", &api->decode) &&
              Resolve(lib, "qg_spm_train", &api->train);
    if (!ok || api->abi_version() != QG_SPM_SHIM_ABI_VERSION) {
      dlclose(lib);
      absl::StrAppend(&tried, tried.empty() ? "" : ", ", path,
                      " (missing symbols or ABI version mismatch)");
      continue;
    }
    // The library stays mapped for the life of the process.
    return api.release();
  }
  return absl::NotFoundError(absl::StrCat(
      "SentencePiece shim ", kShimName,
      " not found or not loadable (set QGRID_SPM_SHIM to its path); tried: ",
      tried));
}

std::string TakeError(const SpmShimApi* api, char* err,
                      std::string_view fallback) {
  if (err == nullptr) return std::string(fallback);
  std::string s(err);
  api->free_buffer(err);
  return s;
}

enum : unsigned char { kControl = 1, kByte = 2, kUnknown = 4, kUnused = 8 };

}  // namespace

absl::StatusOr<const SpmShimApi*> GetSpmShim() {
  static std::once_flag once;
  static absl::StatusOr<SpmShimApi*>* result = nullptr;
  std::call_once(once,
                 [] { result = new absl::StatusOr<SpmShimApi*>(OpenShim()); });
  if (!result->ok()) return result->status();
  return static_cast<const SpmShimApi*>(**result);
}

absl::Status SpmShimTrain(const std::string& flags) {
  QG_ASSIGN_OR_RETURN(const SpmShimApi* api, GetSpmShim());
  char* err = nullptr;
  if (api->train(flags.c_str(), &err) != 0) {
    return absl::InternalError(
        absl::StrCat("SentencePiece training failed: ",
                     TakeError(api, err, "unknown error")));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> SentencePieceShimPath() {
  QG_ASSIGN_OR_RETURN(const SpmShimApi* api, GetSpmShim());
  return api->path;
}

SentencePieceModel::SentencePieceModel(const SpmShimApi* api, qg_spm* handle)
    : api_(api), handle_(handle) {
  int n = api->vocab_size(handle);
  pieces_.resize(std::max(n, 0));
  flags_.assign(pieces_.size(), 0);
  for (int i = 0; i < n; ++i) {
    char* buf = nullptr;
    size_t len = 0;
    if (api->id_to_piece(handle, i, &buf, &len) == 0) {
      pieces_[i].assign(buf, len);
      api->free_buffer(buf);
    }
    unsigned char f = 0;
    if (api->is_control(handle, i)) f |= kControl;
    if (api->is_byte(handle, i)) f |= kByte;
    if (api->is_unknown(handle, i)) f |= kUnknown;
    if (api->is_unused(handle, i)) f |= kUnused;
    flags_[i] = f;
  }
  bos_id_ = api->bos_id(handle);
  eos_id_ = api->eos_id(handle);
  unk_id_ = api->unk_id(handle);
  pad_id_ = api->pad_id(handle);
}

SentencePieceModel::~SentencePieceModel() { api_->free_handle(handle_); }

absl::StatusOr<std::unique_ptr<SentencePieceModel>> SentencePieceModel::Load(
    const std::string& path) {
  QG_ASSIGN_OR_RETURN(const SpmShimApi* api, GetSpmShim());
  if (!std::filesystem::is_regular_file(path)) {
    return absl::NotFoundError(
        absl::StrCat(path, ": no such SentencePiece model file"));
  }
  char* err = nullptr;
  qg_spm* h = api->load_file(path.c_str(), &err);
  if (h == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": not a valid SentencePiece model: ",
                     TakeError(api, err, "load failed")));
  }
  return std::unique_ptr<SentencePieceModel>(new SentencePieceModel(api, h));
}

absl::StatusOr<std::unique_ptr<SentencePieceModel>>
SentencePieceModel::LoadFromBytes(std::string_view serialized) {
  QG_ASSIGN_OR_RETURN(const SpmShimApi* api, GetSpmShim());
  char* err = nullptr;
  qg_spm* h = api->load_bytes(serialized.data(), serialized.size(), &err);
  if (h == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat("not a valid serialized SentencePiece model: ",
                     TakeError(api, err, "load failed")));
  }
  return std::unique_ptr<SentencePieceModel>(new SentencePieceModel(api, h));
}

absl::StatusOr<std::vector<int>> SentencePieceModel::EncodeIds(
    std::string_view text) const {
  int* ids = nullptr;
  size_t n = 0;
  char* err = nullptr;
  if (api_->encode_ids(handle_, text.data(), text.size(), &ids, &n, &err) !=
      0) {
    return absl::InternalError(absl::StrCat("SentencePiece encode failed: ",
                                            TakeError(api_, err, "unknown")));
  }
  std::vector<int> out(ids, ids + n);
  api_->free_buffer(ids);
  return out;
}

absl::StatusOr<std::vector<std::string>> SentencePieceModel::EncodePieces(
    std::string_view text) const {
  char* buf = nullptr;
  size_t* lens = nullptr;
  size_t n = 0;
  char* err = nullptr;
  if (api_->encode_pieces(handle_, text.data(), text.size(), &buf, &lens, &n,
                          &err) != 0) {
    return absl::InternalError(absl::StrCat("SentencePiece encode failed: ",
                                            TakeError(api_, err, "unknown")));
  }
  std::vector<std::string> out;
  out.reserve(n);
  size_t pos = 0;
  for (size_t i = 0; i < n; ++i) {
    out.emplace_back(buf + pos, lens[i]);
    pos += lens[i];
  }
  api_->free_buffer(buf);
  api_->free_buffer(lens);
  return out;
}

absl::StatusOr<std::string> SentencePieceModel::Decode(
    const std::vector<int>& ids) const {
  for (int id : ids) {
    if (id < 0 || id >= vocab_size()) {
      return absl::OutOfRangeError(absl::StrCat(
          "token id ", id, " out of range [0, ", vocab_size(), ")"));
    }
  }
  char* out = nullptr;
  size_t len = 0;
  char* err = nullptr;
  if (api_->decode(handle_, ids.data(), ids.size(), &out, &len, &err) != 0) {
    return absl::InternalError(absl::StrCat("SentencePiece decode failed: ",
                                            TakeError(api_, err, "unknown")));
  }
  std::string s(out, len);
  api_->free_buffer(out);
  return s;
}

bool SentencePieceModel::IsControl(int id) const {
  return id >= 0 && id < vocab_size() && (flags_[id] & kControl);
}
bool SentencePieceModel::IsByte(int id) const {
  return id >= 0 && id < vocab_size() && (flags_[id] & kByte);
}
bool SentencePieceModel::IsUnknown(int id) const {
  return id >= 0 && id < vocab_size() && (flags_[id] & kUnknown);
}
bool SentencePieceModel::IsUnused(int id) const {
  return id >= 0 && id < vocab_size() && (flags_[id] & kUnused);
}

const std::string& SentencePieceModel::IdToPiece(int id) const {
  static const std::string* const kEmpty = new std::string();
  if (id < 0 || id >= vocab_size()) return *kEmpty;
  return pieces_[id];
}

int SentencePieceModel::PieceToId(std::string_view piece) const {
  return api_->piece_to_id(handle_, piece.data(), piece.size());
}

namespace {

class SentencePieceTokenizer : public Tokenizer {
 public:
  SentencePieceTokenizer(std::unique_ptr<SentencePieceModel> model,
                         const SentencePieceTokenizerOptions& options)
      : model_(std::move(model)), options_(options) {
    for (int i = 0; i < model_->vocab_size(); ++i) {
      if ((model_->IsControl(i) || model_->IsUnknown(i)) &&
          !model_->IdToPiece(i).empty()) {
        specials_.emplace_back(model_->IdToPiece(i), i);
      }
    }
    // Longest match first, as Hugging Face's added-token trie does.
    std::sort(specials_.begin(), specials_.end(),
              [](const auto& a, const auto& b) {
                return a.first.size() > b.first.size();
              });
  }

  std::vector<int> Encode(std::string_view text,
                          bool add_special_tokens) const override {
    std::vector<int> out;
    if (add_special_tokens && options_.add_bos && model_->bos_id() >= 0) {
      out.push_back(model_->bos_id());
    }
    size_t seg_start = 0, pos = 0;
    auto flush = [&](size_t end) {
      if (end > seg_start) {
        auto ids = model_->EncodeIds(text.substr(seg_start, end - seg_start));
        if (ids.ok()) out.insert(out.end(), ids->begin(), ids->end());
      }
    };
    while (pos < text.size()) {
      int matched = -1;
      size_t mlen = 0;
      {
        for (const auto& [piece, id] : specials_) {
          if (text.compare(pos, piece.size(), piece) == 0) {
            matched = id;
            mlen = piece.size();
            break;
          }
        }
      }
      if (matched < 0) {
        ++pos;
        continue;
      }
      flush(pos);
      out.push_back(matched);
      pos += mlen;
      seg_start = pos;
    }
    flush(text.size());
    if (add_special_tokens && options_.add_eos && model_->eos_id() >= 0) {
      out.push_back(model_->eos_id());
    }
    return out;
  }

  std::string Decode(const std::vector<int>& ids,
                     bool skip_special_tokens) const override {
    std::string out;
    std::vector<int> run;
    auto flush = [&] {
      if (run.empty()) return;
      auto s = model_->Decode(run);
      if (s.ok()) out += *s;
      run.clear();
    };
    for (int id : ids) {
      if (id < 0 || id >= model_->vocab_size()) continue;
      if (model_->IsControl(id)) {
        flush();
        if (!skip_special_tokens) out += model_->IdToPiece(id);
        continue;
      }
      run.push_back(id);
    }
    flush();
    return out;
  }

  int vocab_size() const override { return model_->vocab_size(); }
  int bos_id() const override { return model_->bos_id(); }
  int eos_id() const override { return model_->eos_id(); }
  int pad_id() const override { return model_->pad_id(); }
  std::string IdToPiece(int id) const override { return model_->IdToPiece(id); }
  std::string kind() const override { return "sentencepiece"; }

 private:
  std::unique_ptr<SentencePieceModel> model_;
  SentencePieceTokenizerOptions options_;
  std::vector<std::pair<std::string, int>> specials_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<Tokenizer>> LoadSentencePieceTokenizer(
    const std::string& path, const SentencePieceTokenizerOptions& options) {
  QG_ASSIGN_OR_RETURN(auto model, SentencePieceModel::Load(path));
  return std::unique_ptr<Tokenizer>(
      new SentencePieceTokenizer(std::move(model), options));
}

}  // namespace qgrid::model
