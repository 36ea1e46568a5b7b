#include "common/compressed_file.h"

#include <zlib.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <vector>

#include "absl/strings/str_cat.h"

namespace qgrid {

absl::StatusOr<std::string> ReadGzipFile(const std::string& path) {
  gzFile f = gzopen(path.c_str(), "rb");
  if (f == nullptr)
    return absl::NotFoundError(absl::StrCat(path, ": cannot open"));
  std::string out;
  std::vector<char> buf(1 << 16);
  while (true) {
    int n = gzread(f, buf.data(), static_cast<unsigned>(buf.size()));
    if (n < 0) {
      int err = 0;
      std::string msg = gzerror(f, &err);
      gzclose(f);
      return absl::DataLossError(
          absl::StrCat(path, ": gzip decompression failed: ", msg));
    }
    if (n == 0) break;
    out.append(buf.data(), n);
  }
  gzclose(f);
  return out;
}

absl::StatusOr<std::string> LzwDecompress(std::string_view data, int max_bits,
                                          bool block_mode) {
  // compress(1) semantics (Welch 1984, as in the BSD compress utility that
  // the Bible Retrieval System embeds): codes start at 9 bits, are packed
  // LSB first in groups of n_bits bytes (eight codes); when the code width
  // grows or the table is cleared (code 256), the rest of the current group
  // is skipped.
  if (max_bits < 9 || max_bits > 16)
    return absl::InvalidArgumentError(
        absl::StrCat("LZW: unsupported max bits ", max_bits));
  const int kClear = 256;
  const int max_max_code = 1 << max_bits;
  std::vector<uint16_t> prefix(max_max_code, 0);
  std::vector<uint8_t> suffix(max_max_code, 0);
  for (int c = 0; c < 256; ++c) suffix[c] = static_cast<uint8_t>(c);
  int n_bits = 9;
  int max_code = (1 << n_bits) - 1;
  int free_ent = block_mode ? 257 : 256;
  bool clear_flag = false;
  size_t pos = 0;
  uint8_t group[16];
  int group_bits = 0, bit_off = 0;

  auto get_code = [&]() -> int {
    if (clear_flag || bit_off >= group_bits || free_ent > max_code) {
      if (free_ent > max_code) {
        ++n_bits;
        max_code = n_bits == max_bits ? max_max_code : (1 << n_bits) - 1;
      }
      if (clear_flag) {
        n_bits = 9;
        max_code = (1 << n_bits) - 1;
        clear_flag = false;
      }
      size_t size = std::min<size_t>(n_bits, data.size() - pos);
      if (size == 0) return -1;
      std::memcpy(group, data.data() + pos, size);
      pos += size;
      bit_off = 0;
      // Whole codes only: a partial trailing code is padding.
      group_bits = static_cast<int>(size * 8) - (n_bits - 1);
      if (group_bits <= 0) return -1;
    }
    int code = 0;
    for (int i = 0; i < n_bits; ++i) {
      int bit = bit_off + i;
      code |= ((group[bit >> 3] >> (bit & 7)) & 1) << i;
    }
    bit_off += n_bits;
    return code;
  };

  std::string out;
  int old_code = get_code();
  if (old_code < 0) return out;
  if (old_code > 255)
    return absl::DataLossError("LZW: first code is not a literal");
  int fin_char = old_code;
  out.push_back(static_cast<char>(fin_char));
  std::string stack;
  while (true) {
    int code = get_code();
    if (code < 0) break;
    if (code == kClear && block_mode) {
      clear_flag = true;
      free_ent = 256;
      code = get_code();
      if (code < 0) break;
    }
    int in_code = code;
    stack.clear();
    if (code >= free_ent) {
      if (code > free_ent)
        return absl::DataLossError(absl::StrCat("LZW: code ", code,
                                                " beyond table size ", free_ent,
                                                " at byte ", pos));
      stack.push_back(static_cast<char>(fin_char));  // the KwKwK case
      code = old_code;
    }
    while (code >= 256) {
      stack.push_back(static_cast<char>(suffix[code]));
      code = prefix[code];
    }
    fin_char = suffix[code];
    stack.push_back(static_cast<char>(fin_char));
    out.append(stack.rbegin(), stack.rend());
    if (free_ent < max_max_code) {
      prefix[free_ent] = static_cast<uint16_t>(old_code);
      suffix[free_ent] = static_cast<uint8_t>(fin_char);
      ++free_ent;
    }
    old_code = in_code;
  }
  return out;
}

}  // namespace qgrid
