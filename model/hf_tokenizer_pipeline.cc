#include "model/hf_tokenizer_pipeline.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <iterator>
#include <optional>
#include <unordered_map>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/status_macros.h"
#include "model/hf_tokenizer_split.h"
#include "model/unicode.h"

namespace qgrid::model::hf {

using nlohmann::json;

absl::Status Bad(const std::string& where, const std::string& what) {
  return absl::InvalidArgumentError(absl::StrCat(where, ": ", what));
}

std::string JsonString(const json& j, const char* key,
                       const std::string& dflt) {
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : dflt;
}

bool JsonBool(const json& j, const char* key, bool dflt) {
  auto it = j.find(key);
  return it != j.end() && it->is_boolean() ? it->get<bool>() : dflt;
}

namespace {

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

// ---------------------------------------------------------------- normalizers

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

// NFC, NFD, NFKC, NFKD with the tokenizers package's (older) Unicode
// normalization tables (unicode::TokenizersNormalize).
class UnicodeFormNormalizer : public Normalizer {
 public:
  UnicodeFormNormalizer(bool compat, bool compose)
      : compat_(compat), compose_(compose) {}
  void Apply(std::string* s) const override {
    *s = unicode::TokenizersNormalize(*s, compat_, compose_);
  }

 private:
  bool compat_, compose_;
};

}  // namespace

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
  if (type == "NFC" || type == "NFD" || type == "NFKC" || type == "NFKD") {
    return std::unique_ptr<Normalizer>(
        new UnicodeFormNormalizer(/*compat=*/type[2] == 'K',
                                  /*compose=*/type.back() == 'C'));
  }
  return Bad(where, absl::StrCat("unsupported normalizer type '", type,
                                 "' (supported: Sequence, Prepend, Replace, "
                                 "Strip, NFC, NFD, NFKC, NFKD)"));
}

namespace {

// ------------------------------------------------------------ pre-tokenizers

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
      // tokenizers splits on char::is_numeric: every \p{N} character (Nd,
      // Nl, No: "²", "½", "①", "٣", "Ⅳ"), not only ASCII digits.
      std::vector<Range> m;
      for (size_t i = 0; i < p.text.size();) {
        const unicode::DecodedChar c = unicode::DecodeAt(p.text, i);
        if (unicode::IsNumber(c.cp)) m.emplace_back(i, i + c.len);
        i += c.len;
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

// tokenizers' is_punc: char::is_ascii_punctuation (which includes ASCII
// symbols such as $+<=>^`|~) or the unicode_categories crate's
// is_punctuation, whose tables predate Unicode 9: of today's (Unicode 14)
// P* characters these are not punctuation there, and two characters that
// have left P since still are. Found by running tokenizers 0.23.3's
// Punctuation pre-tokenizer on every code point.
bool IsTokenizersPunctuation(char32_t cp) {
  if (cp < 0x80) return std::ispunct(static_cast<int>(cp)) != 0;
  if (cp == 0x166D || cp == 0x111C9) return true;
  static constexpr std::pair<char32_t, char32_t> kNewer[] = {
      {0x61D, 0x61D},     {0x9FD, 0x9FD},     {0xA76, 0xA76},
      {0xC77, 0xC77},     {0xC84, 0xC84},     {0x1B7D, 0x1B7E},
      {0x2E43, 0x2E4F},   {0x2E52, 0x2E5D},   {0x10EAD, 0x10EAD},
      {0x10F55, 0x10F59}, {0x10F86, 0x10F89}, {0x1144B, 0x1144F},
      {0x1145A, 0x1145B}, {0x1145D, 0x1145D}, {0x11660, 0x1166C},
      {0x116B9, 0x116B9}, {0x1183B, 0x1183B}, {0x11944, 0x11946},
      {0x119E2, 0x119E2}, {0x11A3F, 0x11A46}, {0x11A9A, 0x11A9C},
      {0x11A9E, 0x11AA2}, {0x11C41, 0x11C45}, {0x11C70, 0x11C71},
      {0x11EF7, 0x11EF8}, {0x11FFF, 0x11FFF}, {0x12FF1, 0x12FF2},
      {0x16E97, 0x16E9A}, {0x16FE2, 0x16FE2}, {0x1E95E, 0x1E95F}};
  for (const auto& [lo, hi] : kNewer) {
    if (cp >= lo && cp <= hi) return false;
  }
  return unicode::IsPunctuation(cp);
}

// tokenizers' Punctuation: splits on every IsTokenizersPunctuation
// character with the given behavior (default Isolated).
class PunctuationPreTokenizer : public PreTokenizer {
 public:
  explicit PunctuationPreTokenizer(hf::SplitBehavior behavior)
      : behavior_(behavior) {}
  void Apply(std::vector<Piece>* pieces) const override {
    SplitEach(pieces, [this](const Piece& p) {
      std::vector<Range> m;
      for (size_t i = 0; i < p.text.size();) {
        const unicode::DecodedChar c = unicode::DecodeAt(p.text, i);
        if (IsTokenizersPunctuation(c.cp)) m.emplace_back(i, i + c.len);
        i += c.len;
      }
      return hf::SplitByMatches(p.text.size(), m, behavior_, false);
    });
  }

 private:
  hf::SplitBehavior behavior_;
};

// \w of tokenizers' Whitespace regex (Oniguruma: Letter, Mark,
// Decimal_Number, Connector_Punctuation, Join_Control, other Alphabetic, at
// Oniguruma's Unicode version): \p{L}, \p{M}, \p{N}, Pc of qgrid's tables,
// less the numbers that are not decimal digits (No: "²", "½", "①") and
// plus the characters \w has beyond them (Join_Control, circled letters,
// letters newer than Unicode 14). The exceptions were found by running
// tokenizers 0.23.3's Whitespace pre-tokenizer on every code point.
bool IsOnigWordChar(char32_t cp) {
  if (cp < 0x80) return std::isalnum(static_cast<int>(cp)) != 0 || cp == '_';
  auto in = [cp](const auto& table) {
    for (const auto& [lo, hi] : table) {
      if (cp >= lo && cp <= hi) return true;
    }
    return false;
  };
  static constexpr std::pair<char32_t, char32_t> kWordExtra[] = {
      {0x897, 0x897},     {0xCF3, 0xCF3},     {0xECE, 0xECE},
      {0x1C89, 0x1C8A},   {0x200C, 0x200D},   {0x24B6, 0x24E9},
      {0xA7CB, 0xA7CD},   {0xA7DA, 0xA7DC},   {0x105C0, 0x105F3},
      {0x10D40, 0x10D65}, {0x10D69, 0x10D6D}, {0x10D6F, 0x10D85},
      {0x10EC2, 0x10EC4}, {0x10EFC, 0x10EFF}, {0x1123F, 0x11241},
      {0x11380, 0x11389}, {0x1138B, 0x1138B}, {0x1138E, 0x1138E},
      {0x11390, 0x113B5}, {0x113B7, 0x113C0}, {0x113C2, 0x113C2},
      {0x113C5, 0x113C5}, {0x113C7, 0x113CA}, {0x113CC, 0x113D3},
      {0x113E1, 0x113E2}, {0x116D0, 0x116E3}, {0x11BC0, 0x11BE0},
      {0x11BF0, 0x11BF9}, {0x11F00, 0x11F10}, {0x11F12, 0x11F3A},
      {0x11F3E, 0x11F42}, {0x11F50, 0x11F5A}, {0x1342F, 0x1342F},
      {0x13440, 0x13455}, {0x13460, 0x143FA}, {0x16100, 0x16139},
      {0x16D40, 0x16D6C}, {0x16D70, 0x16D79}, {0x18CFF, 0x18CFF},
      {0x1B132, 0x1B132}, {0x1B155, 0x1B155}, {0x1CCF0, 0x1CCF9},
      {0x1DF25, 0x1DF2A}, {0x1E030, 0x1E06D}, {0x1E08F, 0x1E08F},
      {0x1E4D0, 0x1E4F9}, {0x1E5D0, 0x1E5FA}, {0x1F130, 0x1F149},
      {0x1F150, 0x1F169}, {0x1F170, 0x1F189}, {0x2B739, 0x2B739},
      {0x2EBF0, 0x2EE5D}, {0x31350, 0x323AF}};
  static constexpr std::pair<char32_t, char32_t> kNotWord[] = {
      {0xB2, 0xB3},       {0xB9, 0xB9},       {0xBC, 0xBE},
      {0x9F4, 0x9F9},     {0xB72, 0xB77},     {0xBF0, 0xBF2},
      {0xC78, 0xC7E},     {0xD58, 0xD5E},     {0xD70, 0xD78},
      {0xF2A, 0xF33},     {0x1369, 0x137C},   {0x17F0, 0x17F9},
      {0x19DA, 0x19DA},   {0x2070, 0x2070},   {0x2074, 0x2079},
      {0x2080, 0x2089},   {0x2150, 0x215F},   {0x2189, 0x2189},
      {0x2460, 0x249B},   {0x24EA, 0x24FF},   {0x2776, 0x2793},
      {0x2CFD, 0x2CFD},   {0x3192, 0x3195},   {0x3220, 0x3229},
      {0x3248, 0x324F},   {0x3251, 0x325F},   {0x3280, 0x3289},
      {0x32B1, 0x32BF},   {0xA830, 0xA835},   {0x10107, 0x10133},
      {0x10175, 0x10178}, {0x1018A, 0x1018B}, {0x102E1, 0x102FB},
      {0x10320, 0x10323}, {0x10858, 0x1085F}, {0x10879, 0x1087F},
      {0x108A7, 0x108AF}, {0x108FB, 0x108FF}, {0x10916, 0x1091B},
      {0x109BC, 0x109BD}, {0x109C0, 0x109CF}, {0x109D2, 0x109FF},
      {0x10A40, 0x10A48}, {0x10A7D, 0x10A7E}, {0x10A9D, 0x10A9F},
      {0x10AEB, 0x10AEF}, {0x10B58, 0x10B5F}, {0x10B78, 0x10B7F},
      {0x10BA9, 0x10BAF}, {0x10CFA, 0x10CFF}, {0x10E60, 0x10E7E},
      {0x10F1D, 0x10F26}, {0x10F51, 0x10F54}, {0x10FC5, 0x10FCB},
      {0x11052, 0x11065}, {0x111E1, 0x111F4}, {0x1173A, 0x1173B},
      {0x118EA, 0x118F2}, {0x11C5A, 0x11C6C}, {0x11FC0, 0x11FD4},
      {0x16B5B, 0x16B61}, {0x16E80, 0x16E96}, {0x1D2E0, 0x1D2F3},
      {0x1D360, 0x1D378}, {0x1E8C7, 0x1E8CF}, {0x1EC71, 0x1ECAB},
      {0x1ECAD, 0x1ECAF}, {0x1ECB1, 0x1ECB4}, {0x1ED01, 0x1ED2D},
      {0x1ED2F, 0x1ED3D}, {0x1F100, 0x1F10C}};
  if (in(kWordExtra)) return true;
  if (in(kNotWord)) return false;
  const bool pc = cp == 0x203F || cp == 0x2040 || cp == 0x2054 ||
                  cp == 0xFE33 || cp == 0xFE34 ||
                  (cp >= 0xFE4D && cp <= 0xFE4F) || cp == 0xFF3F;
  return unicode::IsLetter(cp) || unicode::IsMark(cp) ||
         unicode::IsNumber(cp) || pc;
}

// tokenizers' Whitespace: the matches of \w+|[^\w\s]+ (runs of word
// characters, runs of other non-space characters); whitespace is dropped.
class WhitespacePreTokenizer : public PreTokenizer {
 public:
  void Apply(std::vector<Piece>* pieces) const override {
    SplitEach(pieces, [](const Piece& p) {
      // 0: whitespace, 1: word, 2: other. Separators are the whitespace
      // runs and the (empty) boundaries between word and other runs.
      std::vector<Range> m;
      int prev = 0;
      for (size_t i = 0; i < p.text.size();) {
        const unicode::DecodedChar c = unicode::DecodeAt(p.text, i);
        const int cls = unicode::IsWhitespace(c.cp) ? 0
                        : IsOnigWordChar(c.cp)      ? 1
                                                    : 2;
        if (cls == 0) {
          if (!m.empty() && m.back().second == i && prev == 0) {
            m.back().second = i + c.len;
          } else {
            m.emplace_back(i, i + c.len);
          }
        } else if (prev != 0 && prev != cls) {
          m.emplace_back(i, i);  // a word / other boundary
        }
        prev = cls;
        i += c.len;
      }
      return hf::SplitByMatches(p.text.size(), m, hf::SplitBehavior::kRemoved,
                                false);
    });
  }
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

}  // namespace

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
  if (type == "Whitespace") {
    return std::unique_ptr<PreTokenizer>(new WhitespacePreTokenizer());
  }
  if (type == "WhitespaceSplit") {
    return std::unique_ptr<PreTokenizer>(new WhitespaceSplitPreTokenizer());
  }
  static const std::pair<const char*, hf::SplitBehavior> kBehaviors[] = {
      {"Removed", hf::SplitBehavior::kRemoved},
      {"Isolated", hf::SplitBehavior::kIsolated},
      {"MergedWithPrevious", hf::SplitBehavior::kMergedWithPrevious},
      {"MergedWithNext", hf::SplitBehavior::kMergedWithNext},
      {"Contiguous", hf::SplitBehavior::kContiguous}};
  if (type == "Punctuation") {
    const std::string b = JsonString(j, "behavior", "Isolated");
    auto bit = std::find_if(std::begin(kBehaviors), std::end(kBehaviors),
                            [&](const auto& kv) { return b == kv.first; });
    if (bit == std::end(kBehaviors)) {
      return Bad(where,
                 absl::StrCat("Punctuation: unknown behavior '", b, "'"));
    }
    return std::unique_ptr<PreTokenizer>(
        new PunctuationPreTokenizer(bit->second));
  }
  if (type == "Split") {
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
  return Bad(
      where,
      absl::StrCat("unsupported pre_tokenizer type '", type,
                   "' (supported: Sequence, ByteLevel, Split, Digits, "
                   "Metaspace, Whitespace, WhitespaceSplit, Punctuation)"));
}

namespace {

// ------------------------------------------------------------------ decoders

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

}  // namespace

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

}  // namespace qgrid::model::hf
