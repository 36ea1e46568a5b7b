#include "model/hf_tokenizer.h"

#include <algorithm>
#include <array>
#include <cstdint>
#include <fstream>
#include <optional>
#include <sstream>
#include <unordered_map>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/file_util.h"
#include "common/status_macros.h"
#include "model/hf_tokenizer_bpe.h"
#include "model/hf_tokenizer_pipeline.h"
#include "model/hf_tokenizer_split.h"
#include "model/unicode.h"
#include "nlohmann/json.hpp"

namespace qgrid::model {
namespace {

using hf::Bad;
using hf::BpeModel;
using hf::Decoder;
using hf::JsonBool;
using hf::JsonString;
using hf::Normalizer;
using hf::Piece;
using hf::PreTokenizer;
using hf::Range;
using nlohmann::json;

// ------------------------------------------------------------- added tokens

struct AddedToken {
  std::string content;
  int id;
  bool special, lstrip, rstrip, single_word, normalized;
};

// Leftmost-longest matcher over a set of patterns.
class TokenMatcher {
 public:
  void Add(std::string pattern, int token_index) {
    if (pattern.empty()) return;
    auto& bucket = by_first_[static_cast<unsigned char>(pattern[0])];
    bucket.emplace_back(std::move(pattern), token_index);
    std::stable_sort(bucket.begin(), bucket.end(),
                     [](const auto& a, const auto& b) {
                       return a.first.size() > b.first.size();
                     });
    any_ = true;
  }
  bool empty() const { return !any_; }
  // Matches as (begin, end, token index), leftmost-longest, non-overlapping.
  std::vector<std::array<size_t, 3>> FindAll(std::string_view s) const {
    std::vector<std::array<size_t, 3>> out;
    if (!any_) return out;
    for (size_t i = 0; i < s.size();) {
      const auto& bucket = by_first_[static_cast<unsigned char>(s[i])];
      bool hit = false;
      for (const auto& [p, idx] : bucket) {
        if (s.compare(i, p.size(), p) == 0) {
          out.push_back({i, i + p.size(), static_cast<size_t>(idx)});
          i += p.size();
          hit = true;
          break;
        }
      }
      if (!hit) ++i;
    }
    return out;
  }

 private:
  std::array<std::vector<std::pair<std::string, int>>, 256> by_first_;
  bool any_ = false;
};

// Approximates Rust regex's Unicode \w (Alphabetic, marks, digits,
// connector punctuation), which tokenizers uses for single_word.
bool IsWordChar(char32_t c) {
  return unicode::IsLetter(c) || unicode::IsNumber(c) || unicode::IsMark(c) ||
         c == '_' || c == 0x203F || c == 0x2040 || c == 0x2054 || c == 0xFE33 ||
         c == 0xFE34 || (c >= 0xFE4D && c <= 0xFE4F) || c == 0xFF3F ||
         c == 0x200C || c == 0x200D;
}

// ------------------------------------------------------------- the tokenizer

class HfTokenizer : public Tokenizer {
 public:
  absl::Status Init(const json& j, const TokenizerConfig& cfg,
                    const std::string& where);

  std::vector<int> Encode(std::string_view text,
                          bool add_special_tokens) const override;
  std::string Decode(const std::vector<int>& ids,
                     bool skip_special_tokens) const override;
  int vocab_size() const override { return vocab_size_; }
  int bos_id() const override { return bos_id_; }
  int eos_id() const override { return eos_id_; }
  int pad_id() const override { return pad_id_; }
  std::string IdToPiece(int id) const override {
    const std::string* s = Token(id);
    return s ? *s : std::string();
  }
  std::string kind() const override { return kind_; }

 private:
  const std::string* Token(int id) const {
    auto it = added_by_id_.find(id);
    if (it != added_by_id_.end()) return &added_[it->second].content;
    return model_.IdToToken(id);
  }
  int TokenId(std::string_view s) const {
    for (const AddedToken& t : added_) {
      if (t.content == s) return t.id;
    }
    return model_.TokenToId(s);
  }
  // Splits `s` on the matcher's tokens; appends (token index or -1, range).
  void SplitOnAdded(std::string_view s, const TokenMatcher& m,
                    std::vector<std::pair<int, Range>>* out) const;
  void EncodeText(Piece piece, std::vector<int>* out) const;

  std::unique_ptr<Normalizer> normalizer_;
  std::unique_ptr<PreTokenizer> pre_tokenizer_;
  std::unique_ptr<Decoder> decoder_;
  BpeModel model_;
  std::vector<AddedToken> added_;
  std::unordered_map<int, size_t> added_by_id_;
  TokenMatcher raw_matcher_, normalized_matcher_;
  std::vector<int> prefix_, suffix_;  // post-processor, single sequence
  int vocab_size_ = 0;
  int bos_id_ = -1, eos_id_ = -1, pad_id_ = -1;
  std::string kind_;
};

void HfTokenizer::SplitOnAdded(std::string_view s, const TokenMatcher& m,
                               std::vector<std::pair<int, Range>>* out) const {
  size_t start_offset = 0;
  for (const auto& [mb, me, idx] : m.FindAll(s)) {
    const AddedToken& t = added_[idx];
    size_t b = mb, e = me;
    if (t.single_word) {
      bool left_ok = true, right_ok = true;
      if (b > 0) {
        size_t k = b - 1;
        while (k > 0 && (static_cast<unsigned char>(s[k]) & 0xC0) == 0x80) --k;
        left_ok = !IsWordChar(unicode::DecodeAt(s, k).cp);
      }
      if (e < s.size()) right_ok = !IsWordChar(unicode::DecodeAt(s, e).cp);
      if (!left_ok || !right_ok) continue;
    }
    if (b < start_offset) continue;  // overlapped by a previous rstrip
    if (t.lstrip) {
      size_t k = b;
      while (k > start_offset) {
        size_t p = k - 1;
        while (p > start_offset &&
               (static_cast<unsigned char>(s[p]) & 0xC0) == 0x80) {
          --p;
        }
        if (!unicode::IsWhitespace(unicode::DecodeAt(s, p).cp)) break;
        k = p;
      }
      b = k;
    }
    if (t.rstrip) {
      while (e < s.size()) {
        auto c = unicode::DecodeAt(s, e);
        if (!unicode::IsWhitespace(c.cp)) break;
        e += c.len;
      }
    }
    if (start_offset < b) out->push_back({-1, {start_offset, b}});
    out->push_back({static_cast<int>(idx), {b, e}});
    start_offset = e;
  }
  if (start_offset < s.size()) out->push_back({-1, {start_offset, s.size()}});
}

void HfTokenizer::EncodeText(Piece piece, std::vector<int>* out) const {
  std::vector<Piece> pieces;
  pieces.push_back(std::move(piece));
  if (pre_tokenizer_) pre_tokenizer_->Apply(&pieces);
  for (const Piece& p : pieces) model_.Tokenize(p.text, out);
}

std::vector<int> HfTokenizer::Encode(std::string_view text,
                                     bool add_special_tokens) const {
  std::vector<int> out;
  if (add_special_tokens) out = prefix_;
  std::vector<std::pair<int, Range>> raw;
  SplitOnAdded(text, raw_matcher_, &raw);
  for (const auto& [idx, r] : raw) {
    if (idx >= 0) {
      out.push_back(added_[idx].id);
      continue;
    }
    std::string norm(text.substr(r.first, r.second - r.first));
    if (normalizer_) normalizer_->Apply(&norm);
    std::vector<std::pair<int, Range>> sub;
    SplitOnAdded(norm, normalized_matcher_, &sub);
    for (const auto& [sidx, sr] : sub) {
      if (sidx >= 0) {
        out.push_back(added_[sidx].id);
        continue;
      }
      EncodeText({norm.substr(sr.first, sr.second - sr.first),
                  r.first == 0 && sr.first == 0},
                 &out);
    }
  }
  if (add_special_tokens) out.insert(out.end(), suffix_.begin(), suffix_.end());
  return out;
}

std::string HfTokenizer::Decode(const std::vector<int>& ids,
                                bool skip_special_tokens) const {
  std::vector<std::string> toks;
  toks.reserve(ids.size());
  for (int id : ids) {
    auto it = added_by_id_.find(id);
    if (it != added_by_id_.end() && skip_special_tokens &&
        added_[it->second].special) {
      continue;
    }
    const std::string* s = Token(id);
    if (s != nullptr) toks.push_back(*s);
  }
  if (decoder_) decoder_->Apply(&toks);
  return absl::StrJoin(toks, "");
}

// Ids of a post-processor for a single sequence: prefix + A + suffix.
absl::Status ParsePostProcessor(const json& j, const std::string& where,
                                std::vector<int>* prefix,
                                std::vector<int>* suffix) {
  if (j.is_null()) return absl::OkStatus();
  if (!j.is_object()) return Bad(where, "post_processor is not an object");
  std::string type = JsonString(j, "type");
  if (type == "ByteLevel") return absl::OkStatus();
  if (type == "Sequence") {
    auto it = j.find("processors");
    if (it == j.end() || !it->is_array()) {
      return Bad(where, "Sequence post_processor without processors");
    }
    for (const json& e : *it) {
      QG_RETURN_IF_ERROR(ParsePostProcessor(e, where, prefix, suffix));
    }
    return absl::OkStatus();
  }
  if (type == "RobertaProcessing" || type == "BertProcessing") {
    auto id_of = [&](const char* k) -> int {
      auto it = j.find(k);
      if (it == j.end() || !it->is_array() || it->size() != 2 ||
          !(*it)[1].is_number_integer()) {
        return -1;
      }
      return (*it)[1].get<int>();
    };
    int cls = id_of("cls"), sep = id_of("sep");
    if (cls < 0 || sep < 0) {
      return Bad(where, absl::StrCat(type, ": cls/sep must be [token, id]"));
    }
    prefix->push_back(cls);
    suffix->push_back(sep);
    return absl::OkStatus();
  }
  if (type == "TemplateProcessing") {
    auto single = j.find("single");
    auto specials = j.find("special_tokens");
    if (single == j.end() || !single->is_array()) {
      return Bad(where, "TemplateProcessing without a single template");
    }
    bool seen_a = false;
    for (const json& item : *single) {
      if (item.contains("Sequence")) {
        seen_a = true;
        continue;
      }
      auto st = item.find("SpecialToken");
      if (st == item.end()) {
        return Bad(where, "TemplateProcessing: unknown template item");
      }
      std::string name = JsonString(*st, "id");
      if (specials == j.end() || !specials->contains(name) ||
          !(*specials)[name].contains("ids")) {
        return Bad(where, absl::StrCat("TemplateProcessing: special token '",
                                       name, "' has no ids"));
      }
      for (const json& id : (*specials)[name]["ids"]) {
        if (!id.is_number_integer()) {
          return Bad(where, "TemplateProcessing: non-integer id");
        }
        (seen_a ? suffix : prefix)->push_back(id.get<int>());
      }
    }
    return absl::OkStatus();
  }
  return Bad(where, absl::StrCat("unsupported post_processor type '", type,
                                 "' (supported: TemplateProcessing, "
                                 "ByteLevel, RobertaProcessing, "
                                 "BertProcessing, Sequence)"));
}

bool ContainsType(const json& j, const char* type) {
  if (j.is_object()) {
    if (JsonString(j, "type") == type) return true;
    for (const auto& [k, v] : j.items()) {
      if (ContainsType(v, type)) return true;
    }
  } else if (j.is_array()) {
    for (const json& e : j) {
      if (ContainsType(e, type)) return true;
    }
  }
  return false;
}

absl::Status HfTokenizer::Init(const json& j, const TokenizerConfig& cfg,
                               const std::string& where) {
  if (!j.is_object()) return Bad(where, "not a JSON object");
  auto model = j.find("model");
  if (model == j.end() || !model->is_object()) {
    return Bad(where, "no \"model\" object");
  }
  QG_RETURN_IF_ERROR(model_.Parse(*model, where));
  json normalizer = j.value("normalizer", json());
  json pre_tokenizer = j.value("pre_tokenizer", json());
  json decoder = j.value("decoder", json());
  const std::string& cls = cfg.tokenizer_class;
  const bool llama = cls == "LlamaTokenizer" || cls == "LlamaTokenizerFast";
  const bool code_llama =
      cls == "CodeLlamaTokenizer" || cls == "CodeLlamaTokenizerFast";
  if (llama || code_llama) {
    // transformers 5's LlamaTokenizer / CodeLlamaTokenizer take only the
    // vocab, merges and post-processor from tokenizer.json and rebuild the
    // rest: no normalizer (the file's legacy Prepend("▁") + Replace(" ",
    // "▁") goes), a Metaspace pre-tokenizer without splitting, prepending
    // "▁" to the first piece ("first"; "always" for Llama with legacy: true;
    // "never" with add_prefix_space: false). So " Hello" is "▁Hello", not
    // "▁▁Hello", and text after a special token gets no "▁".
    const bool prefix = cfg.add_prefix_space.value_or(true);
    const char* scheme = !prefix                                 ? "never"
                         : (llama && cfg.legacy.value_or(false)) ? "always"
                                                                 : "first";
    normalizer = json();
    pre_tokenizer = {{"type", "Metaspace"},
                     {"replacement", std::string(hf::kMetaspace)},
                     {"prepend_scheme", scheme},
                     {"split", false}};
    json seq =
        json::array({{{"type", "Replace"},
                      {"pattern", {{"String", std::string(hf::kMetaspace)}}},
                      {"content", " "}},
                     {{"type", "ByteFallback"}},
                     {{"type", "Fuse"}}});
    if (prefix || code_llama) {
      seq.push_back(
          {{"type", "Strip"}, {"content", " "}, {"start", 1}, {"stop", 0}});
    }
    decoder = {{"type", "Sequence"}, {"decoders", seq}};
  }
  if (!normalizer.is_null()) {
    QG_ASSIGN_OR_RETURN(normalizer_, hf::ParseNormalizer(normalizer, where));
  }
  if (!pre_tokenizer.is_null()) {
    json pre = pre_tokenizer;
    // transformers' GPT2TokenizerFast sets a top-level ByteLevel
    // pre-tokenizer's add_prefix_space from tokenizer_config.json (default
    // false).
    const std::string& c = cfg.tokenizer_class;
    if ((c == "GPT2Tokenizer" || c == "GPT2TokenizerFast") && pre.is_object() &&
        JsonString(pre, "type") == "ByteLevel") {
      pre["add_prefix_space"] = cfg.add_prefix_space.value_or(false);
    }
    QG_ASSIGN_OR_RETURN(pre_tokenizer_, hf::ParsePreTokenizer(pre, where));
  }
  if (!decoder.is_null()) {
    QG_ASSIGN_OR_RETURN(decoder_, hf::ParseDecoder(decoder, where));
  }
  if (auto it = j.find("post_processor"); it != j.end()) {
    QG_RETURN_IF_ERROR(ParsePostProcessor(*it, where, &prefix_, &suffix_));
  }
  vocab_size_ = model_.size();
  if (auto it = j.find("added_tokens"); it != j.end() && it->is_array()) {
    for (const json& t : *it) {
      if (!t.is_object() || !t.contains("id") || !t["id"].is_number_integer()) {
        return Bad(where, "added_tokens entry without an integer id");
      }
      if (t["id"].get<int64_t>() < 0 || t["id"].get<int64_t>() >= (1 << 24)) {
        return Bad(where, "added_tokens entry with an id out of range");
      }
      AddedToken a{
          JsonString(t, "content"),       t["id"].get<int>(),
          JsonBool(t, "special", false),  JsonBool(t, "lstrip", false),
          JsonBool(t, "rstrip", false),   JsonBool(t, "single_word", false),
          JsonBool(t, "normalized", true)};
      if (a.content.empty()) continue;
      added_by_id_[a.id] = added_.size();
      vocab_size_ = std::max(vocab_size_, a.id + 1);
      added_.push_back(std::move(a));
    }
  }
  for (size_t i = 0; i < added_.size(); ++i) {
    const AddedToken& t = added_[i];
    if (t.normalized) {
      // tokenizers matches normalized tokens against the normalized text,
      // so their content is normalized as well.
      std::string p = t.content;
      if (normalizer_) normalizer_->Apply(&p);
      normalized_matcher_.Add(p, static_cast<int>(i));
    } else {
      raw_matcher_.Add(t.content, static_cast<int>(i));
    }
  }
  auto id_of = [&](const std::optional<std::string>& s) {
    return s ? TokenId(*s) : -1;
  };
  bos_id_ = id_of(cfg.bos_token);
  eos_id_ = id_of(cfg.eos_token);
  pad_id_ = id_of(cfg.pad_token);
  // transformers' LlamaTokenizerFast rebuilds the template from
  // add_bos_token (default true) / add_eos_token (default false).
  if (cls == "LlamaTokenizer" || cls == "LlamaTokenizerFast" ||
      cls == "CodeLlamaTokenizer" || cls == "CodeLlamaTokenizerFast") {
    if (bos_id_ < 0) bos_id_ = TokenId("<s>");
    if (eos_id_ < 0) eos_id_ = TokenId("</s>");
    prefix_.clear();
    suffix_.clear();
    if (cfg.add_bos_token.value_or(true)) {
      if (bos_id_ < 0) return Bad(where, "add_bos_token set but no BOS token");
      prefix_.push_back(bos_id_);
    }
    if (cfg.add_eos_token.value_or(false)) {
      if (eos_id_ < 0) return Bad(where, "add_eos_token set but no EOS token");
      suffix_.push_back(eos_id_);
    }
  }
  if (ContainsType(j, "ByteLevel")) {
    kind_ = "hf-bpe-byte-level";
  } else if (ContainsType(j, "Metaspace") || ContainsType(j, "ByteFallback")) {
    kind_ = "hf-bpe-metaspace";
  } else {
    kind_ = "hf-bpe";
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::unique_ptr<Tokenizer>> ParseHfTokenizer(
    std::string_view text, const TokenizerConfig& config,
    const std::string& source) {
  json j = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return Bad(source, "not valid JSON");
  auto tok = std::make_unique<HfTokenizer>();
  try {
    QG_RETURN_IF_ERROR(tok->Init(j, config, source));
  } catch (const std::exception& e) {  // a JSON type the checks missed
    return Bad(source, absl::StrCat("malformed tokenizer.json: ", e.what()));
  }
  return std::unique_ptr<Tokenizer>(std::move(tok));
}

absl::StatusOr<std::unique_ptr<Tokenizer>> LoadHfTokenizer(
    const std::string& path, const TokenizerConfig& config) {
  QG_ASSIGN_OR_RETURN(std::string text, ReadFileToString(path));
  return ParseHfTokenizer(text, config, path);
}

}  // namespace qgrid::model
