#include "model/tokenizer.h"

#include <filesystem>
#include <fstream>
#include <sstream>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "model/sentencepiece.h"
#include "model/tokenizer_config.h"
#include "nlohmann/json.hpp"

namespace qgrid::model {

namespace fs = std::filesystem;

absl::StatusOr<TokenizerConfig> ReadTokenizerConfig(const std::string& dir) {
  TokenizerConfig cfg;
  fs::path p = fs::path(dir) / "tokenizer_config.json";
  if (!fs::exists(p)) return cfg;
  std::ifstream in(p);
  if (!in)
    return absl::NotFoundError(absl::StrCat(p.string(), ": cannot open"));
  std::stringstream ss;
  ss << in.rdbuf();
  nlohmann::json j = nlohmann::json::parse(ss.str(), nullptr, false);
  if (j.is_discarded() || !j.is_object()) {
    return absl::InvalidArgumentError(
        absl::StrCat(p.string(), ": not a JSON object"));
  }
  auto get_bool = [&](const char* key, std::optional<bool>* out) {
    auto it = j.find(key);
    if (it != j.end() && it->is_boolean()) *out = it->get<bool>();
  };
  get_bool("add_bos_token", &cfg.add_bos_token);
  get_bool("add_eos_token", &cfg.add_eos_token);
  get_bool("add_prefix_space", &cfg.add_prefix_space);
  get_bool("legacy", &cfg.legacy);
  auto it = j.find("tokenizer_class");
  if (it != j.end() && it->is_string())
    cfg.tokenizer_class = it->get<std::string>();
  return cfg;
}

absl::StatusOr<std::unique_ptr<Tokenizer>> LoadTokenizer(
    const std::string& dir) {
  if (!fs::is_directory(dir)) {
    return absl::NotFoundError(absl::StrCat(dir, ": not a directory"));
  }
  QG_ASSIGN_OR_RETURN(TokenizerConfig cfg, ReadTokenizerConfig(dir));
  fs::path spm = fs::path(dir) / "tokenizer.model";
  if (fs::exists(spm)) {
    SentencePieceTokenizerOptions opt;
    opt.add_bos = cfg.add_bos_token.value_or(true);
    opt.add_eos = cfg.add_eos_token.value_or(false);
    auto tok = LoadSentencePieceTokenizer(spm.string(), opt);
    if (!tok.ok()) return Annotate(tok.status(), dir);
    return tok;
  }
  if (fs::exists(fs::path(dir) / "tokenizer.json")) {
    return absl::UnimplementedError(absl::StrCat(
        dir, "/tokenizer.json: Hugging Face tokenizer.json not supported yet"));
  }
  return absl::NotFoundError(
      absl::StrCat(dir, ": no tokenizer.json or tokenizer.model found"));
}

}  // namespace qgrid::model
