#include "model/hf_tokenizer_bpe.h"

#include <algorithm>
#include <queue>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "model/hf_tokenizer_pipeline.h"
#include "model/unicode.h"

namespace qgrid::model::hf {

using nlohmann::json;

namespace {

// The model's type: its "type" field, or, for files written without one
// (tokenizers reads its models untagged), the type its fields imply, so
// that an unsupported model is refused by name rather than by a missing
// BPE field.
std::string ModelType(const json& m) {
  std::string t = JsonString(m, "type");
  if (!t.empty()) return t;
  auto v = m.find("vocab");
  if (v != m.end() && v->is_array()) return "Unigram";  // [[piece, score]]
  if (m.contains("max_input_chars_per_word")) return "WordPiece";
  if (v != m.end() && v->is_object() && !m.contains("merges")) {
    return "WordLevel";
  }
  return "BPE";
}

}  // namespace

absl::Status BpeModel::Parse(const json& m, const std::string& where) {
  const std::string type = ModelType(m);
  if (type != "BPE") {
    return Bad(where, absl::StrCat("unsupported model type '", type,
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

}  // namespace qgrid::model::hf
