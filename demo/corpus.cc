#include "demo/corpus.h"

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <unordered_set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "common/compressed_file.h"
#include "common/file_util.h"
#include "common/hash.h"
#include "common/status_macros.h"

namespace qgrid::demo {
namespace {

namespace fs = std::filesystem;
using ordered_json = nlohmann::ordered_json;

bool IsSpace(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' ||
         c == '\v';
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && IsSpace(s.front())) s.remove_prefix(1);
  while (!s.empty() && IsSpace(s.back())) s.remove_suffix(1);
  return s;
}

bool StartsWith(std::string_view s, std::string_view p) {
  return s.size() >= p.size() && s.substr(0, p.size()) == p;
}

std::vector<std::string_view> Lines(std::string_view text) {
  std::vector<std::string_view> out;
  size_t start = 0;
  while (start <= text.size()) {
    size_t nl = text.find('\n', start);
    if (nl == std::string_view::npos) nl = text.size();
    std::string_view l = text.substr(start, nl - start);
    if (!l.empty() && l.back() == '\r') l.remove_suffix(1);
    out.push_back(l);
    start = nl + 1;
  }
  return out;
}

// Final cleaning shared by every parser; "" when the document is too short
// to be worth keeping.
std::string FinishDocument(std::string_view raw, size_t min_bytes = 8,
                           size_t max_bytes = 4000) {
  std::string s = NormalizeWhitespace(ToValidUtf8(raw));
  if (s.size() < min_bytes || s.size() > max_bytes) return "";
  return s;
}

// Removes [...] groups, nesting included (GCIDE etymologies hold [=a]).
std::string RemoveBracketed(std::string_view s) {
  std::string out;
  int depth = 0;
  for (char c : s) {
    if (c == '[') {
      ++depth;
    } else if (c == ']' && depth > 0) {
      --depth;
    } else if (depth == 0) {
      out.push_back(c);
    }
  }
  return out;
}

// Byte offset of each UTF-8 code point start in `s`, plus s.size().
std::vector<size_t> CodePointStarts(std::string_view s) {
  std::vector<size_t> out;
  for (size_t i = 0; i < s.size(); ++i) {
    if ((static_cast<unsigned char>(s[i]) & 0xC0) != 0x80) out.push_back(i);
  }
  out.push_back(s.size());
  return out;
}

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out)
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

}  // namespace

// ---- Cleaning ---------------------------------------------------------------

std::string ToValidUtf8(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  size_t i = 0;
  while (i < s.size()) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    size_t len = 0;
    uint32_t min_cp = 0;
    if (c < 0x80) {
      len = 1;
    } else if ((c & 0xE0) == 0xC0) {
      len = 2, min_cp = 0x80;
    } else if ((c & 0xF0) == 0xE0) {
      len = 3, min_cp = 0x800;
    } else if ((c & 0xF8) == 0xF0) {
      len = 4, min_cp = 0x10000;
    }
    bool ok = len > 0 && i + len <= s.size();
    uint32_t cp = len == 1 ? c : (c & (0x7F >> len));
    for (size_t k = 1; ok && k < len; ++k) {
      unsigned char d = static_cast<unsigned char>(s[i + k]);
      if ((d & 0xC0) != 0x80) ok = false;
      cp = (cp << 6) | (d & 0x3F);
    }
    // Overlong forms, surrogates and values past U+10FFFF are invalid too.
    if (ok && len > 1 &&
        (cp < min_cp || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))) {
      ok = false;
    }
    if (ok) {
      out.append(s.substr(i, len));
      i += len;
    } else {
      ++i;  // drop one byte and resynchronise
    }
  }
  return out;
}

std::string NormalizeWhitespace(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  bool pending_space = false;
  for (char c : s) {
    if (IsSpace(c)) {
      pending_space = !out.empty();
      continue;
    }
    if (pending_space) out.push_back(' ');
    pending_space = false;
    out.push_back(c);
  }
  return out;
}

std::string StripTerminalMarkup(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (c == '\x1b' && i + 1 < s.size() && s[i + 1] == '[') {
      size_t j = i + 2;
      while (j < s.size() && !std::isalpha(static_cast<unsigned char>(s[j])))
        ++j;
      i = j;  // skips the final letter too
      continue;
    }
    if (c == '\b') {
      if (!out.empty()) out.pop_back();
      continue;
    }
    out.push_back(c);
  }
  return out;
}

// ---- Parsers ----------------------------------------------------------------

std::vector<std::string> ParseFortunes(std::string_view text, bool cjk) {
  std::vector<std::string> docs;
  std::string cleaned = StripTerminalMarkup(text);
  std::string cur;
  bool paragraph_break = false;
  auto flush = [&]() {
    std::string d = FinishDocument(cur, cjk ? 6 : 8);
    if (!d.empty()) docs.push_back(std::move(d));
    cur.clear();
    paragraph_break = false;
  };
  for (std::string_view line : Lines(cleaned)) {
    if (line == "%") {
      flush();
      continue;
    }
    std::string_view t = Trim(line);
    if (t.empty()) {
      paragraph_break = !cur.empty();
      continue;
    }
    // Attributions: "-- Mark Twain", "—— 鲁迅", "作者：杜甫".
    if (StartsWith(t, "--") || StartsWith(t, "——") || StartsWith(t, "作者:") ||
        StartsWith(t, "作者：")) {
      continue;
    }
    if (StartsWith(t, "题目:")) t.remove_prefix(strlen("题目:"));
    if (StartsWith(t, "题目：")) t.remove_prefix(strlen("题目："));
    // Chinese lines wrap mid-sentence: join without a space, except across
    // a blank line (a paragraph break).
    if (!cur.empty() && (!cjk || paragraph_break)) cur.push_back(' ');
    cur.append(t);
    paragraph_break = false;
  }
  flush();
  return docs;
}

std::vector<std::string> ParseKjvVerses(std::string_view text) {
  std::vector<std::string> docs;
  for (std::string_view line : Lines(text)) {
    // "Ge1:1 In the beginning", "1Sa3:10 And the LORD came".
    size_t sp = line.find(' ');
    if (sp == std::string_view::npos) continue;
    std::string_view ref = line.substr(0, sp);
    size_t colon = ref.find(':');
    if (colon == std::string_view::npos || colon == 0 ||
        !std::isdigit(static_cast<unsigned char>(ref[colon - 1])) ||
        colon + 1 >= ref.size() ||
        !std::isdigit(static_cast<unsigned char>(ref[colon + 1]))) {
      continue;  // the title line and anything else that is not a verse
    }
    std::string d = FinishDocument(line.substr(sp + 1), 4);
    if (!d.empty()) docs.push_back(std::move(d));
  }
  return docs;
}

namespace {

// "   12. text" -> "text"; "" when the line does not open a numbered sense
// at the sense indentation (exactly three spaces).
std::string_view NumberedSense(std::string_view line) {
  if (!StartsWith(line, "   ") || line.size() < 6 || line[3] == ' ') return {};
  size_t i = 3;
  while (i < line.size() && std::isdigit(static_cast<unsigned char>(line[i])))
    ++i;
  if (i == 3 || i + 1 >= line.size() || line[i] != '.' || line[i + 1] != ' ')
    return {};
  return line.substr(i + 2);
}

std::string CleanGcideSense(const std::string& raw) {
  std::string s = RemoveBracketed(raw);
  // Citations come last ("--Milton.", "--Bp. Pearson."): cut there. A "--"
  // followed by a space is part of the definition ("; -- representing").
  for (size_t i = 0; i + 2 < s.size(); ++i) {
    if (s[i] == '-' && s[i + 1] == '-' &&
        std::isupper(static_cast<unsigned char>(s[i + 2]))) {
      s.resize(i);
      break;
    }
  }
  s.erase(std::remove_if(s.begin(), s.end(),
                         [](char c) { return c == '{' || c == '}'; }),
          s.end());
  s = NormalizeWhitespace(s);
  // '?' marks characters the conversion could not represent; '\' and '<'
  // are leftover pronunciation/markup.
  if (s.find_first_of("?\\<>[]") != std::string::npos) return "";
  if (s.size() < 10 || s.size() > 500 || s.find(' ') == std::string::npos)
    return "";
  return s;
}

std::string CleanGcideHeadword(std::string_view line) {
  size_t bs = line.find(" \\");
  if (bs == std::string_view::npos) return "";
  std::string_view w = Trim(line.substr(0, bs));
  if (w.size() < 2) return "";
  for (char c : w) {
    if (!(std::isalpha(static_cast<unsigned char>(c)) || c == ' ' || c == '-' ||
          c == '\''))
      return "";
  }
  return std::string(w);
}

}  // namespace

std::vector<std::string> ParseGcideSenses(std::string_view text) {
  std::vector<std::string> docs;
  std::vector<std::string_view> lines = Lines(text);
  std::string headword;
  std::string sense;
  bool in_sense = false;
  auto flush = [&]() {
    if (in_sense && !headword.empty()) {
      std::string s = CleanGcideSense(sense);
      if (!s.empty()) {
        std::string d = FinishDocument(absl::StrCat(headword, ": ", s), 12);
        if (!d.empty()) docs.push_back(std::move(d));
      }
    }
    in_sense = false;
    sense.clear();
  };
  for (std::string_view line : lines) {
    if (Trim(line).empty()) {
      flush();
      continue;
    }
    if (!IsSpace(line[0])) {  // a new entry's header line
      flush();
      headword = CleanGcideHeadword(line);
      continue;
    }
    if (in_sense) {
      sense.push_back(' ');
      sense.append(Trim(line));
      continue;
    }
    std::string_view first = NumberedSense(line);
    if (!first.empty()) {
      in_sense = true;
      sense.assign(first);
    }
  }
  flush();
  return docs;
}

// ---- Readers ----------------------------------------------------------------

absl::StatusOr<std::string> ReadBibleData(const std::string& path) {
  QG_ASSIGN_OR_RETURN(std::string raw, ReadFileToString(path));
  auto be32 = [&](size_t off) -> uint32_t {
    const auto* p = reinterpret_cast<const unsigned char*>(raw.data() + off);
    return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) |
           (uint32_t{p[2]} << 8) | p[3];
  };
  // Layout (bible-kjv tsl.c, portable data file of 1993): magic text,
  // zero padding to 0x54, big-endian window size and window count, then
  // count+1 window offsets (the last is the file end).
  constexpr size_t kHeader = 0x54;
  if (raw.size() < kHeader + 8 || raw.compare(0, 4, "EC02") != 0)
    return absl::InvalidArgumentError(absl::StrCat(
        path, ": not a bible-kjv compressed data file (magic EC02)"));
  uint32_t wsize = be32(kHeader), wnum = be32(kHeader + 4);
  size_t table = kHeader + 8;
  if (wnum == 0 || wnum > 100000 || table + 4ull * (wnum + 1) > raw.size())
    return absl::DataLossError(
        absl::StrCat(path, ": bad window table (", wnum, " windows)"));
  // The compress(1) header (1F 9D, flags) precedes the first window.
  size_t first = be32(table);
  if (first < 3 || static_cast<unsigned char>(raw[first - 3]) != 0x1F ||
      static_cast<unsigned char>(raw[first - 2]) != 0x9D)
    return absl::DataLossError(
        absl::StrCat(path, ": missing compress header before window 0"));
  int flags = static_cast<unsigned char>(raw[first - 1]);
  int max_bits = flags & 0x1F;
  bool block = (flags & 0x80) != 0;
  std::string text;
  for (uint32_t w = 0; w < wnum; ++w) {
    uint32_t b = be32(table + 4 * w), e = be32(table + 4 * (w + 1));
    if (b > e || e > raw.size())
      return absl::DataLossError(
          absl::StrCat(path, ": window ", w, " out of range"));
    auto win =
        LzwDecompress(std::string_view(raw).substr(b, e - b), max_bits, block);
    if (!win.ok())
      return Annotate(win.status(), absl::StrCat(path, ": window ", w));
    if (win->size() > wsize)
      return absl::DataLossError(
          absl::StrCat(path, ": window ", w, " larger than ", wsize));
    text += *win;
  }
  return text;
}

// ---- Deterministic data handling -----------------------------------------

std::vector<std::string> Deduplicate(const std::vector<std::string>& docs) {
  std::unordered_set<std::string> seen;
  std::vector<std::string> out;
  for (const auto& d : docs) {
    if (seen.insert(d).second) out.push_back(d);
  }
  return out;
}

uint64_t UniformBelow(std::mt19937_64& rng, uint64_t n) {
  if (n <= 1) return 0;
  // Rejects the top partial block so every residue is equally likely.
  uint64_t limit = UINT64_MAX - (UINT64_MAX % n);
  uint64_t x;
  do {
    x = rng();
  } while (x >= limit);
  return x % n;
}

uint64_t DomainSeed(uint64_t seed, std::string_view domain) {
  uint64_t h = 1469598103934665603ull;  // FNV-1a
  for (char c : domain) {
    h ^= static_cast<unsigned char>(c);
    h *= 1099511628211ull;
  }
  return seed ^ h;
}

DemoSplits SplitDocuments(std::vector<std::string> docs, uint64_t seed,
                          double calib_fraction, double test_fraction,
                          uint64_t max_bytes) {
  std::mt19937_64 rng(seed);
  DeterministicShuffle(docs, rng);
  if (max_bytes > 0) {
    uint64_t total = 0;
    size_t keep = 0;
    while (keep < docs.size() && total < max_bytes) {
      total += docs[keep].size() + 1;
      ++keep;
    }
    docs.resize(keep);
  }
  size_t n = docs.size();
  auto count = [&](double f) {
    size_t c = static_cast<size_t>(f * static_cast<double>(n) + 0.5);
    if (n >= 3 && f > 0 && c == 0) c = 1;
    return c;
  };
  size_t n_test = std::min(count(test_fraction), n);
  size_t n_calib = std::min(count(calib_fraction), n - n_test);
  DemoSplits s;
  s.test.assign(docs.begin(), docs.begin() + n_test);
  s.calib.assign(docs.begin() + n_test, docs.begin() + n_test + n_calib);
  s.train.assign(docs.begin() + n_test + n_calib, docs.end());
  return s;
}

// ---- Multiple choice --------------------------------------------------------

namespace {

// Splits `doc` into (context, ending); false when too short to make a fair
// question.
bool SplitEnding(const std::string& doc, bool cjk, std::string* ctx,
                 std::string* end) {
  if (cjk) {
    std::vector<size_t> cps = CodePointStarts(doc);
    size_t n = cps.size() - 1;
    if (n < 10) return false;
    static const char* kPunct[] = {"，", "。", "；", "：", "！", "？", "、"};
    size_t mid = cps[n / 2];
    size_t best = std::string::npos;
    for (size_t k = n / 4; k < n - n / 4; ++k) {
      for (const char* p : kPunct) {
        if (doc.compare(cps[k], strlen(p), p) == 0) {
          size_t cut = cps[k] + strlen(p);
          if (best == std::string::npos ||
              (cut > mid ? cut - mid : mid - cut) <
                  (best > mid ? best - mid : mid - best))
            best = cut;
        }
      }
    }
    if (best == std::string::npos) best = mid;
    *ctx = doc.substr(0, best);
    *end = doc.substr(best);
    return !Trim(*end).empty();
  }
  std::vector<std::string> words = absl::StrSplit(doc, ' ');  // NOLINT
  if (words.size() < 6) return false;
  size_t cut = words.size() / 2;
  *ctx = absl::StrJoin(words.begin(), words.begin() + cut, " ");
  *end = absl::StrJoin(words.begin() + cut, words.end(), " ");
  return true;
}

}  // namespace

std::vector<McItem> MakeMultipleChoice(const std::vector<std::string>& docs,
                                       McKind kind, bool cjk, uint64_t seed,
                                       int max_items) {
  // (context, answer, key): distractors must differ in key from the answer.
  struct Cand {
    std::string ctx, ans, key;
  };
  std::vector<Cand> cands;
  for (const auto& d : docs) {
    Cand c;
    if (kind == McKind::kDefinition) {
      size_t colon = d.find(": ");
      if (colon == std::string::npos) continue;
      c.ctx = d.substr(0, colon + 1);  // "Affect:"
      c.ans = d.substr(colon + 2);
      c.key = Lower(d.substr(0, colon));
    } else {
      if (!SplitEnding(d, cjk, &c.ctx, &c.ans)) continue;
      c.key = c.ans;
    }
    cands.push_back(std::move(c));
  }
  std::vector<McItem> items;
  if (cands.size() < 4) return items;
  std::mt19937_64 rng(seed);
  for (size_t i = 0;
       i < cands.size() && static_cast<int>(items.size()) < max_items; ++i) {
    std::vector<std::string> distractors;
    std::unordered_set<std::string> used_keys{cands[i].key};
    std::unordered_set<std::string> used_answers{cands[i].ans};
    for (int tries = 0; tries < 100 && distractors.size() < 3; ++tries) {
      const Cand& o = cands[UniformBelow(rng, cands.size())];
      if (used_keys.count(o.key) || used_answers.count(o.ans)) continue;
      used_keys.insert(o.key);
      used_answers.insert(o.ans);
      distractors.push_back(o.ans);
    }
    if (distractors.size() < 3) continue;
    McItem item;
    item.query = cands[i].ctx;
    item.gold = static_cast<int>(UniformBelow(rng, 4));
    for (int k = 0, d = 0; k < 4; ++k) {
      item.choices.push_back(k == item.gold ? cands[i].ans : distractors[d++]);
    }
    items.push_back(std::move(item));
  }
  return items;
}

// ---- Builder
// -----------------------------------------------------------------

std::vector<DemoDomainSpec> DefaultDemoDomains(const std::string& root) {
  std::vector<DemoDomainSpec> out;
  {
    DemoDomainSpec d;
    d.name = "scripture";
    d.description =
        "King James Bible (1611), one verse per document, references removed";
    d.license =
        "Public domain (KJV text, copyright expired); bible-kjv packaging "
        "GPL-2+";
    d.copyright_file = "/usr/share/doc/bible-kjv-text/copyright";
    d.files.push_back({"bible-kjv-text", root + "/usr/lib/bible.data",
                       SourceFormat::kBibleData});
    d.mc_kind = McKind::kEnding;
    out.push_back(d);
  }
  {
    DemoDomainSpec d;
    d.name = "quotes";
    d.description =
        "English fortune cookies: quotations, jokes, aphorisms (attributions "
        "removed; offensive and ASCII-art files excluded)";
    d.license = "BSD (fortune-mod); see the packages' copyright files";
    d.copyright_file = "/usr/share/doc/fortunes/copyright";
    // Files of fortunes and fortunes-min 1:1.99.1 except the ASCII-art ones
    // and translate-me (mixed languages).
    static const char* kFortunes[] = {
        "computers",     "cookie",     "debian",    "definitions", "disclaimer",
        "drugs",         "education",  "ethnic",    "food",        "goedel",
        "humorists",     "kids",       "knghtbrd",  "law",         "linux",
        "linuxcookie",   "love",       "magic",     "medicine",    "men-women",
        "miscellaneous", "news",       "paradoxum", "people",      "perl",
        "pets",          "platitudes", "politics",  "pratchett",   "science",
        "songs-poems",   "sports",     "startrek",  "tao",         "wisdom",
        "work",          "zippy"};
    static const char* kFortunesMin[] = {"fortunes", "literature", "riddles"};
    for (const char* f : kFortunesMin)
      d.files.push_back({"fortunes-min",
                         root + "/usr/share/games/fortunes/" + f,
                         SourceFormat::kFortune});
    for (const char* f : kFortunes)
      d.files.push_back({"fortunes", root + "/usr/share/games/fortunes/" + f,
                         SourceFormat::kFortune});
    d.mc_kind = McKind::kEnding;
    out.push_back(d);
  }
  {
    DemoDomainSpec d;
    d.name = "dictionary";
    d.description =
        "GCIDE (Webster 1913 + WordNet) numbered senses as 'Headword: "
        "definition'";
    d.license = "GPL-2+ (GCIDE)";
    d.copyright_file = "/usr/share/doc/dict-gcide/copyright";
    d.files.push_back({"dict-gcide", root + "/usr/share/dictd/gcide.dict.dz",
                       SourceFormat::kGcideDict});
    d.mc_kind = McKind::kDefinition;
    out.push_back(d);
  }
  {
    DemoDomainSpec d;
    d.name = "chinese";
    d.description =
        "Chinese fortunes, 300 Tang poems and 100 Song poems (authors "
        "removed)";
    d.license = "GPL-3+ (fortunes-zh)";
    d.copyright_file = "/usr/share/doc/fortunes-zh/copyright";
    for (const char* f : {"chinese", "tang300", "song100"})
      d.files.push_back({"fortunes-zh", root + "/usr/share/games/fortunes/" + f,
                         SourceFormat::kFortune});
    d.mc_kind = McKind::kEnding;
    d.cjk = true;
    out.push_back(d);
  }
  return out;
}

std::string DpkgVersion(const std::string& status_path,
                        const std::string& package) {
  if (status_path.empty()) return "";
  std::ifstream in(status_path);
  std::string line;
  bool in_pkg = false;
  while (std::getline(in, line)) {
    if (StartsWith(line, "Package: ")) {
      in_pkg = line.substr(9) == package;
    } else if (in_pkg && StartsWith(line, "Version: ")) {
      return line.substr(9);
    }
  }
  return "";
}

namespace {

absl::StatusOr<std::vector<std::string>> ReadSource(const DemoSourceFile& f,
                                                    bool cjk) {
  switch (f.format) {
    case SourceFormat::kBibleData: {
      QG_ASSIGN_OR_RETURN(std::string text, ReadBibleData(f.path));
      return ParseKjvVerses(text);
    }
    case SourceFormat::kGcideDict: {
      QG_ASSIGN_OR_RETURN(std::string text, ReadGzipFile(f.path));
      return ParseGcideSenses(text);
    }
    case SourceFormat::kFortune: {
      QG_ASSIGN_OR_RETURN(std::string text, ReadFileToString(f.path));
      return ParseFortunes(text, cjk);
    }
  }
  return absl::InternalError("unknown source format");
}

// Writes `content` and records its size and digest in `entry`.
absl::Status WriteRecorded(const fs::path& path, const std::string& content,
                           ordered_json* entry) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << content;
  out.close();
  if (!out)
    return absl::InternalError(absl::StrCat(path.string(), ": write failed"));
  (*entry)["file"] = path.filename().string();
  (*entry)["bytes"] = content.size();
  (*entry)["sha256"] = Sha256Hex(content);
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::vector<DemoDomainSummary>> BuildDemoData(
    const DemoBuildOptions& opts) {
  if (opts.out_dir.empty())
    return absl::InvalidArgumentError("build-demo: --out is required");
  if (opts.calib_fraction < 0 || opts.test_fraction < 0 ||
      opts.calib_fraction + opts.test_fraction >= 1.0)
    return absl::InvalidArgumentError(
        "build-demo: calib and test fractions must be >= 0 and sum below 1");
  std::vector<DemoDomainSpec> domains =
      opts.domains.empty() ? DefaultDemoDomains() : opts.domains;
  std::error_code ec;
  fs::create_directories(opts.out_dir, ec);
  if (ec)
    return absl::InternalError(
        absl::StrCat(opts.out_dir, ": cannot create: ", ec.message()));

  ordered_json manifest;
  manifest["format"] = "qgrid-demo-data";
  manifest["version"] = 1;
  manifest["seed"] = opts.seed;
  manifest["calib_fraction"] = opts.calib_fraction;
  manifest["test_fraction"] = opts.test_fraction;
  manifest["max_bytes_per_domain"] = opts.max_bytes_per_domain;
  manifest["document_format"] =
      "<split>.txt: one cleaned document per line; <split>.jsonl: "
      "{\"text\": document}";
  manifest["mc_format"] =
      "mc_<split>.jsonl: {\"query\", \"choices\": [4 strings], \"gold\": "
      "index} (MosaicML / lm-eval multiple choice)";
  manifest["domains"] = ordered_json::array();
  std::vector<DemoDomainSummary> summaries;

  for (const DemoDomainSpec& spec : domains) {
    DemoDomainSummary sum;
    sum.name = spec.name;
    ordered_json dj;
    dj["name"] = spec.name;
    dj["description"] = spec.description;
    dj["license"] = spec.license;
    dj["copyright_file"] = spec.copyright_file;
    dj["sources"] = ordered_json::array();
    std::vector<std::string> raw;
    for (const DemoSourceFile& f : spec.files) {
      auto docs = ReadSource(f, spec.cjk);
      if (!docs.ok())
        return Annotate(
            docs.status(),
            absl::StrCat("domain ", spec.name, " (package ", f.package, ")"));
      ordered_json sj;
      sj["package"] = f.package;
      sj["version"] = DpkgVersion(opts.dpkg_status, f.package);
      sj["file"] = f.path;
      sj["documents"] = docs->size();
      dj["sources"].push_back(sj);
      raw.insert(raw.end(), docs->begin(), docs->end());
    }
    sum.raw_docs = raw.size();
    std::vector<std::string> unique = Deduplicate(raw);
    sum.unique_docs = unique.size();
    dj["documents_raw"] = sum.raw_docs;
    dj["documents_unique"] = sum.unique_docs;
    uint64_t dseed = DomainSeed(opts.seed, spec.name);
    DemoSplits splits =
        SplitDocuments(std::move(unique), dseed, opts.calib_fraction,
                       opts.test_fraction, opts.max_bytes_per_domain);

    fs::path dir = fs::path(opts.out_dir) / spec.name;
    fs::create_directories(dir, ec);
    if (ec)
      return absl::InternalError(
          absl::StrCat(dir.string(), ": cannot create: ", ec.message()));
    dj["splits"] = ordered_json::object();
    const std::pair<const char*, const std::vector<std::string>*> parts[] = {
        {"train", &splits.train},
        {"calib", &splits.calib},
        {"test", &splits.test}};
    for (const auto& [split, docs] : parts) {
      std::string txt, jsonl;
      for (const auto& d : *docs) {
        txt += d;
        txt += '\n';
        jsonl += ordered_json{{"text", d}}.dump();
        jsonl += '\n';
      }
      ordered_json sj;
      sj["documents"] = docs->size();
      ordered_json tj, jj;
      QG_RETURN_IF_ERROR(
          WriteRecorded(dir / (std::string(split) + ".txt"), txt, &tj));
      QG_RETURN_IF_ERROR(
          WriteRecorded(dir / (std::string(split) + ".jsonl"), jsonl, &jj));
      sj["text"] = tj;
      sj["jsonl"] = jj;
      dj["splits"][split] = sj;
      uint64_t bytes = txt.size();
      if (std::string(split) == "train") {
        sum.train_docs = docs->size(), sum.train_bytes = bytes;
      } else if (std::string(split) == "calib") {
        sum.calib_docs = docs->size(), sum.calib_bytes = bytes;
      } else {
        sum.test_docs = docs->size(), sum.test_bytes = bytes;
      }
    }

    // Multiple choice: test items from the test split, a few-shot pool from
    // the training split; distractors always come from the same split.
    dj["multiple_choice"] = ordered_json::object();
    dj["multiple_choice"]["kind"] =
        spec.mc_kind == McKind::kDefinition
            ? "definition: which definition belongs to the headword"
            : "ending: which ending completes the text";
    const std::tuple<const char*, const std::vector<std::string>*, int>
        mc_parts[] = {{"test", &splits.test, opts.mc_test_items},
                      {"train", &splits.train, opts.mc_train_items}};
    for (const auto& [split, docs, n] : mc_parts) {
      std::vector<McItem> items = MakeMultipleChoice(
          *docs, spec.mc_kind, spec.cjk,
          DomainSeed(opts.seed, spec.name + "/mc/" + split), n);
      std::string jsonl;
      for (const auto& it : items) {
        ordered_json j;
        j["query"] = it.query;
        j["choices"] = it.choices;
        j["gold"] = it.gold;
        jsonl += j.dump();
        jsonl += '\n';
      }
      ordered_json mj;
      QG_RETURN_IF_ERROR(WriteRecorded(
          dir / ("mc_" + std::string(split) + ".jsonl"), jsonl, &mj));
      mj["items"] = items.size();
      dj["multiple_choice"][split] = mj;
      if (std::string(split) == "test") sum.mc_items = items.size();
    }
    manifest["domains"].push_back(dj);
    summaries.push_back(sum);
  }
  std::ofstream mf(fs::path(opts.out_dir) / "manifest.json", std::ios::trunc);
  mf << manifest.dump(2) << '\n';
  mf.close();
  if (!mf)
    return absl::InternalError(
        absl::StrCat(opts.out_dir, "/manifest.json: write failed"));
  return summaries;
}

std::string FormatDemoSummary(const std::vector<DemoDomainSummary>& domains) {
  std::string out = absl::StrFormat("%-11s %8s %8s %8s %8s %8s %10s %10s %6s\n",
                                    "domain", "raw", "unique", "train", "calib",
                                    "test", "train_B", "test_B", "mc");
  for (const auto& s : domains) {
    absl::StrAppendFormat(&out, "%-11s %8d %8d %8d %8d %8d %10d %10d %6d\n",
                          s.name, s.raw_docs, s.unique_docs, s.train_docs,
                          s.calib_docs, s.test_docs, s.train_bytes,
                          s.test_bytes, s.mc_items);
  }
  return out;
}

}  // namespace qgrid::demo
