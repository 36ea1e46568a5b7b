// Internal to model/hf_tokenizer*.cc: the BPE model of a tokenizer.json,
// after tokenizers' `BPE` (merges by rank, leftmost first on ties; byte
// fallback; unk with fuse_unk; ignore_merges; continuing_subword_prefix and
// end_of_word_suffix).
//
// Thread-safety: immutable after Parse(); Tokenize() is const.
#ifndef QGRID_MODEL_HF_TOKENIZER_BPE_H_
#define QGRID_MODEL_HF_TOKENIZER_BPE_H_

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "nlohmann/json.hpp"

namespace qgrid::model::hf {

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
  absl::Status Parse(const nlohmann::json& m, const std::string& where);

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

}  // namespace qgrid::model::hf

#endif  // QGRID_MODEL_HF_TOKENIZER_BPE_H_
