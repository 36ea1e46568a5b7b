#include "model/hf_tokenizer.h"

#include <algorithm>
#include <array>
#include <cstdint>
#include <fstream>
#include <iterator>
#include <optional>
#include <queue>
#include <sstream>
#include <unordered_map>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "common/status_macros.h"
#include "model/hf_tokenizer_split.h"
#include "model/unicode.h"
#include "nlohmann/json.hpp"

namespace qgrid::model {
namespace {

using hf::Range;
using nlohmann::json;

// "▁" (U+2581), SentencePiece's word-boundary marker.
constexpr std::string_view kMetaspace = "\xe2\x96\x81";

absl::Status Bad(const std::string& where, const std::string& what) {
  return absl::InvalidArgumentError(absl::StrCat(where, ": ", what));
}

std::string JsonString(const json& j, const char* key,
                       const std::string& dflt = "") {
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : dflt;
}

bool JsonBool(const json& j, const char* key, bool dflt) {
  auto it = j.find(key);
  return it != j.end() && it->is_boolean() ? it->get<bool>() : dflt;
}

void ReplaceAll(std::string* s, std::string_view from, std::string_view to) {
  if (from.empty()) return;
  std::string out;
  size_t pos = 0;
  for (size_t hit; (hit = s->find(from, pos)) != std::string::npos;
       pos = hit + from.size()) {
    out.append(*s, pos, hit - pos);
    out.append(to);
  }
  if (pos == 0) return;
  out.append(*s, pos, std::string::npos);
  *s = std::move(out);
}

// Rust's String::from_utf8_lossy: each maximal invalid subsequence becomes
// one U+FFFD.
std::string Utf8Lossy(std::string_view b) {
  std::string out;
  out.reserve(b.size());
  size_t i = 0;
  while (i < b.size()) {
    unicode::DecodedChar c = unicode::DecodeAt(b, i);
    if (c.cp < unicode::kInvalidBase) {
      out.append(b.substr(i, c.len));
      i += c.len;
      continue;
    }
    // Length of the maximal prefix of a valid sequence starting at i.
    const auto b0 = static_cast<unsigned char>(b[i]);
    size_t need = 0;
    unsigned char lo = 0x80, hi = 0xBF;
    if (b0 >= 0xC2 && b0 <= 0xDF)
      need = 1;
    else if (b0 >= 0xE0 && b0 <= 0xEF) {
      need = 2;
      if (b0 == 0xE0) lo = 0xA0;
      if (b0 == 0xED) hi = 0x9F;
    } else if (b0 >= 0xF0 && b0 <= 0xF4) {
      need = 3;
      if (b0 == 0xF0) lo = 0x90;
      if (b0 == 0xF4) hi = 0x8F;
    }
    size_t k = 1;
    for (; k <= need && i + k < b.size(); ++k) {
      const auto bk = static_cast<unsigned char>(b[i + k]);
      if (k == 1 ? (bk < lo || bk > hi) : (bk & 0xC0) != 0x80) break;
    }
    out.append("\xef\xbf\xbd");
    i += need == 0 ? 1 : k;
  }
  return out;
}

// GPT-2's reversible byte <-> printable-unicode map.
struct ByteLevelMap {
  std::array<std::string, 256> byte_to_char;
  std::unordered_map<char32_t, unsigned char> char_to_byte;
  ByteLevelMap() {
    int n = 0;
    for (int b = 0; b < 256; ++b) {
      bool printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) ||
                       (b >= 0xAE && b <= 0xFF);
      char32_t cp = printable ? b : 256 + n++;
      unicode::AppendUtf8(cp, &byte_to_char[b]);
      char_to_byte[cp] = static_cast<unsigned char>(b);
    }
  }
};

const ByteLevelMap& ByteLevel() {
  static const ByteLevelMap* m = new ByteLevelMap();
  return *m;
}

// A piece of text being pre-tokenized. `at_start`: it begins at offset 0 of
// the original input (Metaspace prepend_scheme "first" needs it).
struct Piece {
  std::string text;
  bool at_start;
};

// ---------------------------------------------------------------- normalizers

class Normalizer {
 public:
  virtual ~Normalizer() = default;
  virtual void Apply(std::string* s) const = 0;
};

class SequenceNormalizer : public Normalizer {
 public:
  explicit SequenceNormalizer(std::vector<std::unique_ptr<Normalizer>> v)
      : v_(std::move(v)) {}
  void Apply(std::string* s) const override {
    for (const auto& n : v_) n->Apply(s);
  }

 private:
  std::vector<std::unique_ptr<Normalizer>> v_;
};

class PrependNormalizer : public Normalizer {
 public:
  explicit PrependNormalizer(std::string p) : p_(std::move(p)) {}
  void Apply(std::string* s) const override {
    if (!s->empty()) s->insert(0, p_);  // tokenizers skips empty strings
  }

 private:
  std::string p_;
};

class ReplaceNormalizer : public Normalizer {
 public:
  ReplaceNormalizer(std::string from, std::string to)
      : from_(std::move(from)), to_(std::move(to)) {}
  void Apply(std::string* s) const override { ReplaceAll(s, from_, to_); }

 private:
  std::string from_, to_;
};

class StripNormalizer : public Normalizer {
 public:
  StripNormalizer(bool left, bool right) : left_(left), right_(right) {}
  void Apply(std::string* s) const override {
    size_t b = 0, e = s->size();
    if (left_) {
      while (b < e) {
        auto c = unicode::DecodeAt(*s, b);
        if (!unicode::IsWhitespace(c.cp)) break;
        b += c.len;
      }
    }
    if (right_) {
      while (e > b) {
        size_t k = e - 1;
        while (k > b && (static_cast<unsigned char>((*s)[k]) & 0xC0) == 0x80)
          --k;
        if (!unicode::IsWhitespace(unicode::DecodeAt(*s, k).cp)) break;
        e = k;
      }
    }
    *s = s->substr(b, e - b);
  }

 private:
  bool left_, right_;
};

class NfcNormalizer : public Normalizer {
 public:
  void Apply(std::string* s) const override { *s = unicode::NormalizeNfc(*s); }
};

absl::StatusOr<std::unique_ptr<Normalizer>> ParseNormalizer(
    const json& j, const std::string& where) {
  if (!j.is_object()) return Bad(where, "normalizer is not an object");
  std::string type = JsonString(j, "type");
  if (type == "Sequence") {
    std::vector<std::unique_ptr<Normalizer>> v;
    auto it = j.find("normalizers");
    if (it == j.end() || !it->is_array()) {
      return Bad(where, "Sequence normalizer without a normalizers array");
    }
    for (const json& e : *it) {
      QG_ASSIGN_OR_RETURN(auto n, ParseNormalizer(e, where));
      v.push_back(std::move(n));
    }
    return std::unique_ptr<Normalizer>(new SequenceNormalizer(std::move(v)));
  }
  if (type == "Prepend") {
    return std::unique_ptr<Normalizer>(
        new PrependNormalizer(JsonString(j, "prepend")));
  }
  if (type == "Replace") {
    auto p = j.find("pattern");
    if (p == j.end() || !p->is_object() || !p->contains("String")) {
      return Bad(where,
                 "Replace normalizer: only {\"String\": ...} patterns "
                 "are supported");
    }
    return std::unique_ptr<Normalizer>(new ReplaceNormalizer(
        JsonString(*p, "String"), JsonString(j, "content")));
  }
  if (type == "Strip") {
    return std::unique_ptr<Normalizer>(new StripNormalizer(
        JsonBool(j, "strip_left", true), JsonBool(j, "strip_right", true)));
  }
  if (type == "NFC") return std::unique_ptr<Normalizer>(new NfcNormalizer());
  return Bad(where, absl::StrCat("unsupported normalizer type '", type,
                                 "' (supported: Sequence, Prepend, Replace, "
                                 "Strip, NFC)"));
}

// ------------------------------------------------------------ pre-tokenizers

class PreTokenizer {
 public:
  virtual ~PreTokenizer() = default;
  virtual void Apply(std::vector<Piece>* pieces) const = 0;
};

// Replaces each piece by the sub-pieces `split` returns for it.
template <typename F>
void SplitEach(std::vector<Piece>* pieces, F split) {
  std::vector<Piece> out;
  out.reserve(pieces->size());
  for (Piece& p : *pieces) {
    std::vector<Range> rs = split(p);
    for (const Range& r : rs) {
      out.push_back({p.text.substr(r.first, r.second - r.first),
                     p.at_start && r.first == 0});
    }
  }
  *pieces = std::move(out);
}

class SequencePreTokenizer : public PreTokenizer {
 public:
  explicit SequencePreTokenizer(std::vector<std::unique_ptr<PreTokenizer>> v)
      : v_(std::move(v)) {}
  void Apply(std::vector<Piece>* pieces) const override {
    for (const auto& p : v_) p->Apply(pieces);
  }

 private:
  std::vector<std::unique_ptr<PreTokenizer>> v_;
};

class ByteLevelPreTokenizer : public PreTokenizer {
 public:
  ByteLevelPreTokenizer(bool add_prefix_space, bool use_regex)
      : add_prefix_space_(add_prefix_space), use_regex_(use_regex) {}
  void Apply(std::vector<Piece>* pieces) const override {
    if (add_prefix_space_) {
      for (Piece& p : *pieces) {
        if (p.text.empty() || p.text[0] != ' ') p.text.insert(0, " ");
      }
    }
    if (use_regex_) {
      SplitEach(pieces, [](const Piece& p) {
        return hf::SplitByMatches(
            p.text.size(), hf::FindRegexMatches(hf::SplitRegex::kGpt2, p.text),
            hf::SplitBehavior::kIsolated, false);
      });
    }
    const ByteLevelMap& m = ByteLevel();
    for (Piece& p : *pieces) {
      std::string mapped;
      mapped.reserve(p.text.size() * 2);
      for (unsigned char b : p.text) mapped += m.byte_to_char[b];
      p.text = std::move(mapped);
    }
  }

 private:
  bool add_prefix_space_, use_regex_;
};

class SplitPreTokenizer : public PreTokenizer {
 public:
  SplitPreTokenizer(std::optional<hf::SplitRegex> re, std::string literal,
                    hf::SplitBehavior behavior, bool invert)
      : re_(re),
        literal_(std::move(literal)),
        behavior_(behavior),
        invert_(invert) {}
  void Apply(std::vector<Piece>* pieces) const override {
    SplitEach(pieces, [this](const Piece& p) {
      std::vector<Range> m;
      if (re_) {
        m = hf::FindRegexMatches(*re_, p.text);
      } else if (!literal_.empty()) {
        for (size_t pos = 0;
             (pos = p.text.find(literal_, pos)) != std::string::npos;
             pos += literal_.size()) {
          m.emplace_back(pos, pos + literal_.size());
        }
      }
      return hf::SplitByMatches(p.text.size(), m, behavior_, invert_);
    });
  }

 private:
  std::optional<hf::SplitRegex> re_;
  std::string literal_;
  hf::SplitBehavior behavior_;
  bool invert_;
};

class DigitsPreTokenizer : public PreTokenizer {
 public:
  explicit DigitsPreTokenizer(bool individual) : individual_(individual) {}
  void Apply(std::vector<Piece>* pieces) const override {
    SplitEach(pieces, [this](const Piece& p) {
      std::vector<Range> m;
      for (size_t i = 0; i < p.text.size(); ++i) {
        if (p.text[i] >= '0' && p.text[i] <= '9') m.emplace_back(i, i + 1);
      }
      return hf::SplitByMatches(p.text.size(), m,
                                individual_ ? hf::SplitBehavior::kIsolated
                                            : hf::SplitBehavior::kContiguous,
                                false);
    });
  }

 private:
  bool individual_;
};

enum class PrependScheme { kAlways, kFirst, kNever };

class MetaspacePreTokenizer : public PreTokenizer {
 public:
  MetaspacePreTokenizer(std::string replacement, PrependScheme scheme,
                        bool split)
      : rep_(std::move(replacement)), scheme_(scheme), split_(split) {}
  void Apply(std::vector<Piece>* pieces) const override {
    for (Piece& p : *pieces) {
      ReplaceAll(&p.text, " ", rep_);
      bool starts = p.text.compare(0, rep_.size(), rep_) == 0;
      if (!p.text.empty() && !starts &&
          (scheme_ == PrependScheme::kAlways ||
           (scheme_ == PrependScheme::kFirst && p.at_start))) {
        p.text.insert(0, rep_);
      }
    }
    if (split_) {
      SplitEach(pieces, [this](const Piece& p) {
        std::vector<Range> m;
        for (size_t pos = 0;
             (pos = p.text.find(rep_, pos)) != std::string::npos;
             pos += rep_.size()) {
          m.emplace_back(pos, pos + rep_.size());
        }
        return hf::SplitByMatches(p.text.size(), m,
                                  hf::SplitBehavior::kMergedWithNext, false);
      });
    }
  }

 private:
  std::string rep_;
  PrependScheme scheme_;
  bool split_;
};

class WhitespaceSplitPreTokenizer : public PreTokenizer {
 public:
  void Apply(std::vector<Piece>* pieces) const override {
    SplitEach(pieces, [](const Piece& p) {
      std::vector<Range> m;
      for (size_t i = 0; i < p.text.size();) {
        auto c = unicode::DecodeAt(p.text, i);
        if (unicode::IsWhitespace(c.cp)) m.emplace_back(i, i + c.len);
        i += c.len;
      }
      return hf::SplitByMatches(p.text.size(), m, hf::SplitBehavior::kRemoved,
                                false);
    });
  }
};

absl::StatusOr<PrependScheme> ParsePrependScheme(const json& j,
                                                 const std::string& where) {
  auto it = j.find("prepend_scheme");
  if (it != j.end() && it->is_string()) {
    std::string s = it->get<std::string>();
    if (s == "always") return PrependScheme::kAlways;
    if (s == "first") return PrependScheme::kFirst;
    if (s == "never") return PrependScheme::kNever;
    return Bad(where, absl::StrCat("unknown prepend_scheme '", s, "'"));
  }
  // Older files: add_prefix_space.
  return JsonBool(j, "add_prefix_space", true) ? PrependScheme::kAlways
                                               : PrependScheme::kNever;
}

absl::StatusOr<std::unique_ptr<PreTokenizer>> ParsePreTokenizer(
    const json& j, const std::string& where) {
  if (!j.is_object()) return Bad(where, "pre_tokenizer is not an object");
  std::string type = JsonString(j, "type");
  if (type == "Sequence") {
    std::vector<std::unique_ptr<PreTokenizer>> v;
    auto it = j.find("pretokenizers");
    if (it == j.end() || !it->is_array()) {
      return Bad(where, "Sequence pre_tokenizer without a pretokenizers array");
    }
    for (const json& e : *it) {
      QG_ASSIGN_OR_RETURN(auto p, ParsePreTokenizer(e, where));
      v.push_back(std::move(p));
    }
    return std::unique_ptr<PreTokenizer>(
        new SequencePreTokenizer(std::move(v)));
  }
  if (type == "ByteLevel") {
    return std::unique_ptr<PreTokenizer>(new ByteLevelPreTokenizer(
        JsonBool(j, "add_prefix_space", true), JsonBool(j, "use_regex", true)));
  }
  if (type == "Digits") {
    return std::unique_ptr<PreTokenizer>(
        new DigitsPreTokenizer(JsonBool(j, "individual_digits", false)));
  }
  if (type == "Metaspace") {
    QG_ASSIGN_OR_RETURN(PrependScheme scheme, ParsePrependScheme(j, where));
    return std::unique_ptr<PreTokenizer>(new MetaspacePreTokenizer(
        JsonString(j, "replacement", std::string(kMetaspace)), scheme,
        JsonBool(j, "split", true)));
  }
  if (type == "WhitespaceSplit") {
    return std::unique_ptr<PreTokenizer>(new WhitespaceSplitPreTokenizer());
  }
  if (type == "Split") {
    static const std::pair<const char*, hf::SplitBehavior> kBehaviors[] = {
        {"Removed", hf::SplitBehavior::kRemoved},
        {"Isolated", hf::SplitBehavior::kIsolated},
        {"MergedWithPrevious", hf::SplitBehavior::kMergedWithPrevious},
        {"MergedWithNext", hf::SplitBehavior::kMergedWithNext},
        {"Contiguous", hf::SplitBehavior::kContiguous}};
    std::string b = JsonString(j, "behavior");
    auto bit = std::find_if(std::begin(kBehaviors), std::end(kBehaviors),
                            [&](const auto& kv) { return b == kv.first; });
    if (bit == std::end(kBehaviors)) {
      return Bad(where, absl::StrCat("Split: unknown behavior '", b, "'"));
    }
    auto p = j.find("pattern");
    if (p == j.end() || !p->is_object()) {
      return Bad(where, "Split pre_tokenizer without a pattern");
    }
    std::optional<hf::SplitRegex> re;
    std::string literal;
    if (p->contains("Regex")) {
      std::string r = JsonString(*p, "Regex");
      re = hf::RecognizeSplitRegex(r);
      if (!re) {
        return Bad(where,
                   absl::StrCat("Split: unsupported regex '", r,
                                "' (supported: the GPT-2, LLaMA-3 and Qwen2 "
                                "pre-tokenizer regexes)"));
      }
    } else {
      literal = JsonString(*p, "String");
    }
    return std::unique_ptr<PreTokenizer>(new SplitPreTokenizer(
        re, literal, bit->second, JsonBool(j, "invert", false)));
  }
  return Bad(where,
             absl::StrCat("unsupported pre_tokenizer type '", type,
                          "' (supported: Sequence, ByteLevel, Split, Digits, "
                          "Metaspace, WhitespaceSplit)"));
}

// ------------------------------------------------------------------ decoders

class Decoder {
 public:
  virtual ~Decoder() = default;
  virtual void Apply(std::vector<std::string>* tokens) const = 0;
};

class SequenceDecoder : public Decoder {
 public:
  explicit SequenceDecoder(std::vector<std::unique_ptr<Decoder>> v)
      : v_(std::move(v)) {}
  void Apply(std::vector<std::string>* t) const override {
    for (const auto& d : v_) d->Apply(t);
  }

 private:
  std::vector<std::unique_ptr<Decoder>> v_;
};

class ByteLevelDecoder : public Decoder {
 public:
  void Apply(std::vector<std::string>* t) const override {
    const ByteLevelMap& m = ByteLevel();
    std::string bytes;
    for (const std::string& tok : *t) {
      std::string mine;
      bool all = true;
      for (size_t i = 0; i < tok.size();) {
        auto c = unicode::DecodeAt(tok, i);
        auto it = m.char_to_byte.find(c.cp);
        if (it == m.char_to_byte.end()) {
          all = false;
          break;
        }
        mine.push_back(static_cast<char>(it->second));
        i += c.len;
      }
      bytes += all ? mine : tok;
    }
    *t = {Utf8Lossy(bytes)};
  }
};

class ReplaceDecoder : public Decoder {
 public:
  ReplaceDecoder(std::string from, std::string to)
      : from_(std::move(from)), to_(std::move(to)) {}
  void Apply(std::vector<std::string>* t) const override {
    for (std::string& s : *t) ReplaceAll(&s, from_, to_);
  }

 private:
  std::string from_, to_;
};

// "<0xAB>" -> 0xAB, or -1.
int ByteToken(std::string_view s) {
  if (s.size() != 6 || s.substr(0, 3) != "<0x" || s[5] != '>') return -1;
  int v = 0;
  for (char c : s.substr(3, 2)) {
    v *= 16;
    if (c >= '0' && c <= '9')
      v += c - '0';
    else if (c >= 'A' && c <= 'F')
      v += c - 'A' + 10;
    else if (c >= 'a' && c <= 'f')
      v += c - 'a' + 10;
    else
      return -1;
  }
  return v;
}

class ByteFallbackDecoder : public Decoder {
 public:
  void Apply(std::vector<std::string>* t) const override {
    std::vector<std::string> out;
    std::string pending;
    size_t n_pending = 0;
    auto flush = [&] {
      if (n_pending == 0) return;
      std::string valid = Utf8Lossy(pending);
      if (valid == pending) {
        out.push_back(pending);
      } else {
        for (size_t i = 0; i < n_pending; ++i) out.push_back("\xef\xbf\xbd");
      }
      pending.clear();
      n_pending = 0;
    };
    for (std::string& s : *t) {
      int b = ByteToken(s);
      if (b >= 0) {
        pending.push_back(static_cast<char>(b));
        ++n_pending;
      } else {
        flush();
        out.push_back(std::move(s));
      }
    }
    flush();
    *t = std::move(out);
  }
};

class FuseDecoder : public Decoder {
 public:
  void Apply(std::vector<std::string>* t) const override {
    *t = {absl::StrJoin(*t, "")};
  }
};

class StripDecoder : public Decoder {
 public:
  StripDecoder(std::string content, int start, int stop)
      : content_(std::move(content)), start_(start), stop_(stop) {}
  void Apply(std::vector<std::string>* t) const override {
    if (content_.empty()) return;
    for (std::string& s : *t) {
      size_t b = 0, e = s.size();
      for (int k = 0; k < start_ && e - b >= content_.size() &&
                      s.compare(b, content_.size(), content_) == 0;
           ++k) {
        b += content_.size();
      }
      for (int k = 0;
           k < stop_ && e - b >= content_.size() &&
           s.compare(e - content_.size(), content_.size(), content_) == 0;
           ++k) {
        e -= content_.size();
      }
      s = s.substr(b, e - b);
    }
  }

 private:
  std::string content_;
  int start_, stop_;
};

class MetaspaceDecoder : public Decoder {
 public:
  MetaspaceDecoder(std::string rep, PrependScheme scheme)
      : rep_(std::move(rep)), scheme_(scheme) {}
  // As tokenizers: every replacement char becomes a space, except in the
  // first token, where they are all dropped (unless prepend_scheme "never").
  void Apply(std::vector<std::string>* t) const override {
    for (size_t i = 0; i < t->size(); ++i) {
      ReplaceAll(&(*t)[i], rep_,
                 i == 0 && scheme_ != PrependScheme::kNever ? "" : " ");
    }
  }

 private:
  std::string rep_;
  PrependScheme scheme_;
};

absl::StatusOr<std::unique_ptr<Decoder>> ParseDecoder(
    const json& j, const std::string& where) {
  if (!j.is_object()) return Bad(where, "decoder is not an object");
  std::string type = JsonString(j, "type");
  if (type == "Sequence") {
    std::vector<std::unique_ptr<Decoder>> v;
    auto it = j.find("decoders");
    if (it == j.end() || !it->is_array()) {
      return Bad(where, "Sequence decoder without a decoders array");
    }
    for (const json& e : *it) {
      QG_ASSIGN_OR_RETURN(auto d, ParseDecoder(e, where));
      v.push_back(std::move(d));
    }
    return std::unique_ptr<Decoder>(new SequenceDecoder(std::move(v)));
  }
  if (type == "ByteLevel") {
    return std::unique_ptr<Decoder>(new ByteLevelDecoder());
  }
  if (type == "Replace") {
    auto p = j.find("pattern");
    if (p == j.end() || !p->is_object() || !p->contains("String")) {
      return Bad(where,
                 "Replace decoder: only {\"String\": ...} patterns "
                 "are supported");
    }
    return std::unique_ptr<Decoder>(
        new ReplaceDecoder(JsonString(*p, "String"), JsonString(j, "content")));
  }
  if (type == "ByteFallback") {
    return std::unique_ptr<Decoder>(new ByteFallbackDecoder());
  }
  if (type == "Fuse") return std::unique_ptr<Decoder>(new FuseDecoder());
  if (type == "Strip") {
    auto num = [&](const char* k) {
      auto it = j.find(k);
      return it != j.end() && it->is_number_integer() ? it->get<int>() : 0;
    };
    return std::unique_ptr<Decoder>(new StripDecoder(
        JsonString(j, "content", " "), num("start"), num("stop")));
  }
  if (type == "Metaspace") {
    QG_ASSIGN_OR_RETURN(PrependScheme scheme, ParsePrependScheme(j, where));
    return std::unique_ptr<Decoder>(new MetaspaceDecoder(
        JsonString(j, "replacement", std::string(kMetaspace)), scheme));
  }
  return Bad(where, absl::StrCat("unsupported decoder type '", type,
                                 "' (supported: Sequence, ByteLevel, "
                                 "Metaspace, Replace, ByteFallback, Fuse, "
                                 "Strip)"));
}

// ----------------------------------------------------------------- BPE model

// Open-addressing map from a (left id, right id) pair to (rank, merged id):
// the innermost lookup of BPE, several times per input character.
class MergeTable {
 public:
  void Build(const std::vector<std::pair<uint64_t, std::pair<int, int>>>& kv) {
    size_t cap = 16;
    while (cap < kv.size() * 2) cap <<= 1;
    mask_ = cap - 1;
    slots_.assign(cap, Slot{kEmpty, -1, -1});
    for (const auto& [k, v] : kv) {
      size_t i = Hash(k) & mask_;
      while (slots_[i].key != kEmpty && slots_[i].key != k) i = (i + 1) & mask_;
      slots_[i] = Slot{k, v.first, v.second};
    }
  }
  // {rank, merged id}, or rank -1 when the pair does not merge.
  std::pair<int, int> Find(uint64_t k) const {
    if (slots_.empty()) return {-1, -1};
    for (size_t i = Hash(k) & mask_;; i = (i + 1) & mask_) {
      const Slot& s = slots_[i];
      if (s.key == k) return {s.rank, s.id};
      if (s.key == kEmpty) return {-1, -1};
    }
  }

 private:
  static constexpr uint64_t kEmpty = ~uint64_t{0};
  struct Slot {
    uint64_t key;
    int rank, id;
  };
  static size_t Hash(uint64_t k) {
    k ^= k >> 33;
    k *= 0xff51afd7ed558ccdULL;
    k ^= k >> 33;
    return static_cast<size_t>(k);
  }
  std::vector<Slot> slots_;
  size_t mask_ = 0;
};

class BpeModel {
 public:
  absl::Status Parse(const json& m, const std::string& where);

  // Appends the ids of `word` (one pre-tokenized piece) to `out`.
  void Tokenize(std::string_view word, std::vector<int>* out) const;

  int TokenToId(std::string_view tok) const {
    auto it = vocab_.find(std::string(tok));
    return it == vocab_.end() ? -1 : it->second;
  }
  const std::string* IdToToken(int id) const {
    if (id < 0 || id >= static_cast<int>(id_to_token_.size()) || !has_id_[id]) {
      return nullptr;
    }
    return &id_to_token_[id];
  }
  int size() const { return static_cast<int>(id_to_token_.size()); }

 private:
  struct Symbol {
    int id;
    int prev, next;
    bool alive;
  };
  void TokenizeChunk(std::string_view word, std::vector<int>* out) const;
  static uint64_t Key(int a, int b) {
    return (static_cast<uint64_t>(static_cast<uint32_t>(a)) << 32) |
           static_cast<uint32_t>(b);
  }

  std::unordered_map<std::string, int> vocab_;
  std::vector<std::string> id_to_token_;
  std::vector<bool> has_id_;
  MergeTable merges_;
  // Single-code-point tokens, the initial symbols (when there is no
  // continuing_subword_prefix / end_of_word_suffix).
  std::unordered_map<char32_t, int> char_ids_;
  std::array<int, 256> byte_ids_;
  int unk_id_ = -1;
  bool byte_fallback_ = false;
  bool fuse_unk_ = false;
  bool ignore_merges_ = false;
  std::string prefix_, suffix_;
  // True when no token contains "▁" after a character other than "▁": then
  // no merge can span the boundary before a word-initial "▁", and a long
  // piece (LLaMA-2 / Mistral tokenizer.json have no pre-tokenizer, so the
  // whole input is one piece) can be merged word by word with the same
  // result and without a heap over the whole text.
  bool split_at_metaspace_ = false;
};

absl::Status BpeModel::Parse(const json& m, const std::string& where) {
  if (JsonString(m, "type", "BPE") != "BPE") {
    return Bad(where,
               absl::StrCat("unsupported model type '", JsonString(m, "type"),
                            "' (supported: BPE)"));
  }
  auto v = m.find("vocab");
  if (v == m.end() || !v->is_object()) {
    return Bad(where, "model.vocab is missing or not an object");
  }
  int max_id = -1;
  for (auto it = v->begin(); it != v->end(); ++it) {
    if (!it.value().is_number_integer() || it.value().get<int>() < 0) {
      return Bad(where, absl::StrCat("model.vocab[\"", it.key(),
                                     "\"] is not a non-negative integer"));
    }
    int id = it.value().get<int>();
    vocab_[it.key()] = id;
    max_id = std::max(max_id, id);
  }
  // Ids index dense tables; refuse absurd ones instead of allocating them.
  constexpr int kMaxId = 1 << 24;
  if (max_id >= kMaxId) {
    return Bad(where, absl::StrCat("model.vocab has id ", max_id,
                                   " (ids must be < ", kMaxId, ")"));
  }
  id_to_token_.assign(max_id + 1, "");
  has_id_.assign(max_id + 1, false);
  for (const auto& [tok, id] : vocab_) {
    id_to_token_[id] = tok;
    has_id_[id] = true;
  }
  std::string unk = JsonString(m, "unk_token");
  if (!unk.empty()) unk_id_ = TokenToId(unk);
  byte_fallback_ = JsonBool(m, "byte_fallback", false);
  fuse_unk_ = JsonBool(m, "fuse_unk", false);
  ignore_merges_ = JsonBool(m, "ignore_merges", false);
  prefix_ = JsonString(m, "continuing_subword_prefix");
  suffix_ = JsonString(m, "end_of_word_suffix");
  if (m.contains("dropout") && m["dropout"].is_number() &&
      m["dropout"].get<double>() > 0) {
    return Bad(where, "BPE dropout is not supported (non-deterministic)");
  }
  for (int b = 0; b < 256; ++b) {
    byte_ids_[b] = TokenToId(absl::StrFormat("<0x%02X>", b));
  }
  auto ms = m.find("merges");
  if (ms == m.end() || !ms->is_array()) {
    return Bad(where, "model.merges is missing or not an array");
  }
  int rank = 0;
  std::vector<std::pair<uint64_t, std::pair<int, int>>> merges;
  merges.reserve(ms->size());
  for (const json& e : *ms) {
    std::string a, b;
    if (e.is_string()) {
      const std::string& s = e.get_ref<const std::string&>();
      size_t sp = s.find(' ');
      if (sp == std::string::npos || s.find(' ', sp + 1) != std::string::npos) {
        return Bad(where, absl::StrCat("model.merges[", rank, "] \"", s,
                                       "\" is not \"a b\""));
      }
      a = s.substr(0, sp);
      b = s.substr(sp + 1);
    } else if (e.is_array() && e.size() == 2 && e[0].is_string() &&
               e[1].is_string()) {
      a = e[0].get<std::string>();
      b = e[1].get<std::string>();
    } else {
      return Bad(where,
                 absl::StrCat("model.merges[", rank,
                              "] is neither \"a b\" nor [\"a\", \"b\"]"));
    }
    int ia = TokenToId(a), ib = TokenToId(b);
    std::string merged = a + (b.compare(0, prefix_.size(), prefix_) == 0
                                  ? b.substr(prefix_.size())
                                  : b);
    int im = TokenToId(merged);
    if (ia < 0 || ib < 0 || im < 0) {
      return Bad(where,
                 absl::StrCat("model.merges[", rank, "] (\"", a, "\", \"", b,
                              "\") refers to a token not in the vocab"));
    }
    merges.emplace_back(Key(ia, ib), std::make_pair(rank, im));
    ++rank;
  }
  // A repeated pair keeps its last rank, as tokenizers' HashMap collect.
  merges_.Build(merges);
  split_at_metaspace_ = prefix_.empty() && suffix_.empty() &&
                        vocab_.count(std::string(kMetaspace)) > 0;
  for (const auto& [tok, id] : vocab_) {
    if (!split_at_metaspace_) break;
    for (size_t p = tok.find(kMetaspace, 1); p != std::string::npos;
         p = tok.find(kMetaspace, p + 1)) {
      if (p < kMetaspace.size() ||
          tok.compare(p - kMetaspace.size(), kMetaspace.size(), kMetaspace) !=
              0) {
        split_at_metaspace_ = false;
        break;
      }
    }
  }
  for (const auto& [tok, id] : vocab_) {
    unicode::DecodedChar c = unicode::DecodeAt(tok, 0);
    if (static_cast<size_t>(c.len) == tok.size() &&
        c.cp < unicode::kInvalidBase) {
      char_ids_[c.cp] = id;
    }
  }
  return absl::OkStatus();
}

void BpeModel::Tokenize(std::string_view word, std::vector<int>* out) const {
  if (word.empty()) return;
  if (ignore_merges_) {
    int id = TokenToId(word);
    if (id >= 0) {
      out->push_back(id);
      return;
    }
  }
  constexpr size_t kChunkAbove = 256;
  if (!split_at_metaspace_ || word.size() <= kChunkAbove) {
    TokenizeChunk(word, out);
    return;
  }
  // Cut before every "▁" that follows a character other than "▁".
  size_t start = 0;
  for (size_t p = word.find(kMetaspace, 1); p != std::string_view::npos;
       p = word.find(kMetaspace, p + kMetaspace.size())) {
    if (word.compare(p - kMetaspace.size(), kMetaspace.size(), kMetaspace) ==
        0) {
      continue;
    }
    TokenizeChunk(word.substr(start, p - start), out);
    start = p;
  }
  TokenizeChunk(word.substr(start), out);
}

void BpeModel::TokenizeChunk(std::string_view word,
                             std::vector<int>* out) const {
  if (word.empty()) return;
  // Initial symbols: one per character (with prefix/suffix), byte fallback
  // or unk for characters outside the vocab.
  std::vector<Symbol> sym;
  sym.reserve(word.size());
  bool prev_unk = false;
  std::string key;
  for (size_t i = 0; i < word.size();) {
    unicode::DecodedChar dc = unicode::DecodeAt(word, i);
    const int len = dc.len;
    int id = -1;
    if (prefix_.empty() && suffix_.empty()) {
      auto it = char_ids_.find(dc.cp);
      if (it != char_ids_.end()) id = it->second;
    } else {
      key.clear();
      if (i > 0) key = prefix_;
      key.append(word.substr(i, len));
      if (i + len == word.size()) key += suffix_;
      id = TokenToId(key);
    }
    if (id >= 0) {
      sym.push_back({id, -1, -1, true});
      prev_unk = false;
    } else {
      bool done = false;
      if (byte_fallback_) {
        bool all = true;
        for (int k = 0; k < len; ++k) {
          all = all && byte_ids_[static_cast<unsigned char>(word[i + k])] >= 0;
        }
        if (all) {
          for (int k = 0; k < len; ++k) {
            sym.push_back({byte_ids_[static_cast<unsigned char>(word[i + k])],
                           -1, -1, true});
          }
          done = true;
          prev_unk = false;
        }
      }
      if (!done && unk_id_ >= 0) {
        if (!(fuse_unk_ && prev_unk)) sym.push_back({unk_id_, -1, -1, true});
        prev_unk = true;
      }
      // No unk token: the character is dropped (tokenizers errors here).
    }
    i += len;
  }
  const int n = static_cast<int>(sym.size());
  for (int i = 0; i < n; ++i) {
    sym[i].prev = i - 1;
    sym[i].next = i + 1 < n ? i + 1 : -1;
  }
  // Lowest rank first, then leftmost, as tokenizers' BPE::merge_all.
  struct Cand {
    int rank, pos, new_id;
    bool operator<(const Cand& o) const {
      return rank != o.rank ? rank > o.rank : pos > o.pos;
    }
  };
  std::vector<Cand> heap_storage;
  heap_storage.reserve(n);
  std::priority_queue<Cand> q(std::less<Cand>(), std::move(heap_storage));
  auto push = [&](int pos) {
    int nx = sym[pos].next;
    if (nx < 0) return;
    auto [rank, new_id] = merges_.Find(Key(sym[pos].id, sym[nx].id));
    if (rank >= 0) q.push({rank, pos, new_id});
  };
  for (int i = 0; i + 1 < n; ++i) push(i);
  while (!q.empty()) {
    Cand c = q.top();
    q.pop();
    Symbol& s = sym[c.pos];
    if (!s.alive || s.next < 0) continue;
    if (merges_.Find(Key(s.id, sym[s.next].id)).second != c.new_id) continue;
    Symbol& r = sym[s.next];
    r.alive = false;
    s.id = c.new_id;
    s.next = r.next;
    if (r.next >= 0) sym[r.next].prev = c.pos;
    if (s.prev >= 0) push(s.prev);
    push(c.pos);
  }
  for (int i = n > 0 ? 0 : -1; i >= 0; i = sym[i].next)
    out->push_back(sym[i].id);
}

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
  if (auto it = j.find("normalizer"); it != j.end() && !it->is_null()) {
    QG_ASSIGN_OR_RETURN(normalizer_, ParseNormalizer(*it, where));
  }
  if (auto it = j.find("pre_tokenizer"); it != j.end() && !it->is_null()) {
    json pre = *it;
    // transformers' GPT2TokenizerFast sets a top-level ByteLevel
    // pre-tokenizer's add_prefix_space from tokenizer_config.json (default
    // false).
    const std::string& c = cfg.tokenizer_class;
    if ((c == "GPT2Tokenizer" || c == "GPT2TokenizerFast") && pre.is_object() &&
        JsonString(pre, "type") == "ByteLevel") {
      pre["add_prefix_space"] = cfg.add_prefix_space.value_or(false);
    }
    QG_ASSIGN_OR_RETURN(pre_tokenizer_, ParsePreTokenizer(pre, where));
  }
  if (auto it = j.find("decoder"); it != j.end() && !it->is_null()) {
    QG_ASSIGN_OR_RETURN(decoder_, ParseDecoder(*it, where));
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
  const std::string& cls = cfg.tokenizer_class;
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
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat(path, ": cannot open"));
  std::stringstream ss;
  ss << in.rdbuf();
  return ParseHfTokenizer(ss.str(), config, path);
}

}  // namespace qgrid::model
