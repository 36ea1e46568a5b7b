#include "model/tokenizer.h"

#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "common/file_util.h"
#include "common/status_macros.h"
#include "glog/logging.h"
#include "model/hf_tokenizer.h"
#include "model/sentencepiece.h"
#include "model/tokenizer_config.h"
#include "nlohmann/json.hpp"

namespace qgrid::model {

namespace fs = std::filesystem;

namespace {

// Parses <dir>/<name> as a JSON object; a null json when the file is absent.
absl::StatusOr<nlohmann::json> ReadJsonObject(const fs::path& p) {
  if (!fs::exists(p)) return nlohmann::json();
  auto text = ReadFileToString(p.string());
  if (!text.ok()) return text.status();
  nlohmann::json j = nlohmann::json::parse(*text, nullptr, false);
  if (j.is_discarded() || !j.is_object()) {
    return absl::InvalidArgumentError(
        absl::StrCat(p.string(), ": not a JSON object"));
  }
  return j;
}

// A special token given as "text" or {"content": "text", ...}.
std::optional<std::string> TokenString(const nlohmann::json& j,
                                       const char* key) {
  auto it = j.find(key);
  if (it == j.end()) return std::nullopt;
  if (it->is_string()) return it->get<std::string>();
  if (it->is_object()) {
    auto c = it->find("content");
    if (c != it->end() && c->is_string()) return c->get<std::string>();
  }
  return std::nullopt;
}

}  // namespace

absl::StatusOr<TokenizerConfig> ReadTokenizerConfig(const std::string& dir) {
  TokenizerConfig cfg;
  QG_ASSIGN_OR_RETURN(nlohmann::json j,
                      ReadJsonObject(fs::path(dir) / "tokenizer_config.json"));
  QG_ASSIGN_OR_RETURN(
      nlohmann::json m,
      ReadJsonObject(fs::path(dir) / "special_tokens_map.json"));
  if (j.is_object()) {
    auto get_bool = [&](const char* key, std::optional<bool>* out) {
      auto it = j.find(key);
      if (it != j.end() && it->is_boolean()) *out = it->get<bool>();
    };
    get_bool("add_bos_token", &cfg.add_bos_token);
    get_bool("add_eos_token", &cfg.add_eos_token);
    get_bool("add_prefix_space", &cfg.add_prefix_space);
    get_bool("legacy", &cfg.legacy);
    auto it = j.find("tokenizer_class");
    if (it != j.end() && it->is_string()) {
      cfg.tokenizer_class = it->get<std::string>();
    }
  }
  for (const auto& [key, field] : {std::pair{"bos_token", &cfg.bos_token},
                                   std::pair{"eos_token", &cfg.eos_token},
                                   std::pair{"pad_token", &cfg.pad_token},
                                   std::pair{"unk_token", &cfg.unk_token}}) {
    if (j.is_object()) *field = TokenString(j, key);
    if (!field->has_value() && m.is_object()) *field = TokenString(m, key);
  }
  return cfg;
}

absl::StatusOr<std::unique_ptr<Tokenizer>> LoadTokenizer(
    const std::string& dir) {
  if (!fs::is_directory(dir)) {
    return absl::NotFoundError(absl::StrCat(dir, ": not a directory"));
  }
  QG_ASSIGN_OR_RETURN(TokenizerConfig cfg, ReadTokenizerConfig(dir));
  // Hugging Face's AutoTokenizer prefers the fast tokenizer (tokenizer.json).
  fs::path hf = fs::path(dir) / "tokenizer.json";
  fs::path spm = fs::path(dir) / "tokenizer.model";
  if (fs::exists(hf)) {
    auto tok = LoadHfTokenizer(hf.string(), cfg);
    if (tok.ok() || !fs::exists(spm)) return tok;
    // A tokenizer.json qgrid cannot run (e.g. a Unigram model) next to the
    // SentencePiece model it was converted from: the latter encodes the same.
    LOG(WARNING) << tok.status() << "; using " << spm.string() << " instead";
  }
  if (fs::exists(spm)) {
    SentencePieceTokenizerOptions opt;
    opt.add_bos = cfg.add_bos_token.value_or(true);
    opt.add_eos = cfg.add_eos_token.value_or(false);
    auto tok = LoadSentencePieceTokenizer(spm.string(), opt);
    if (!tok.ok()) return Annotate(tok.status(), dir);
    return tok;
  }
  return absl::NotFoundError(
      absl::StrCat(dir, ": no tokenizer.json or tokenizer.model found"));
}

}  // namespace qgrid::model
