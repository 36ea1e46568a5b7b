#include "quant/packing.h"

#include <ATen/ATen.h>

#include <cstdint>

#include "absl/strings/str_cat.h"

namespace qgrid::quant {
namespace {

absl::Status CheckBits(int bits) {
  if (bits == 2 || bits == 3 || bits == 4 || bits == 8) return absl::OkStatus();
  return absl::InvalidArgumentError(
      absl::StrCat("packing: bits must be 2, 3, 4 or 8, got ", bits));
}

// Packs each column of c [n, m] (row-major) as an LSB-first bit stream.
at::Tensor PackDim0(const at::Tensor& c, int bits) {
  const int64_t n = c.size(0), m = c.size(1);
  const int64_t words = n * bits / 32;
  at::Tensor cc = c.to(at::kInt).contiguous();
  at::Tensor out = at::zeros({words, m}, at::kInt);
  const int32_t* src = cc.data_ptr<int32_t>();
  uint32_t* dst = reinterpret_cast<uint32_t*>(out.data_ptr<int32_t>());
  const uint32_t mask = (1u << bits) - 1;
  for (int64_t i = 0; i < n; ++i) {
    const int64_t bit = i * bits;
    const int64_t w = bit / 32, off = bit % 32;
    for (int64_t j = 0; j < m; ++j) {
      const uint32_t v = static_cast<uint32_t>(src[i * m + j]) & mask;
      dst[w * m + j] |= v << off;
      if (off + bits > 32) dst[(w + 1) * m + j] |= v >> (32 - off);
    }
  }
  return out;
}

at::Tensor UnpackDim0(const at::Tensor& p, int bits, int64_t n) {
  const int64_t m = p.size(1);
  at::Tensor pc = p.to(at::kInt).contiguous();
  const uint32_t* src =
      reinterpret_cast<const uint32_t*>(pc.data_ptr<int32_t>());
  at::Tensor out = at::empty({n, m}, at::kInt);
  int32_t* dst = out.data_ptr<int32_t>();
  const uint32_t mask = (1u << bits) - 1;
  for (int64_t i = 0; i < n; ++i) {
    const int64_t bit = i * bits;
    const int64_t w = bit / 32, off = bit % 32;
    for (int64_t j = 0; j < m; ++j) {
      uint32_t v = src[w * m + j] >> off;
      if (off + bits > 32) v |= src[(w + 1) * m + j] << (32 - off);
      dst[i * m + j] = static_cast<int32_t>(v & mask);
    }
  }
  return out;
}

constexpr int kAwqOrder[8] = {0, 2, 4, 6, 1, 3, 5, 7};

}  // namespace

absl::StatusOr<at::Tensor> PackRows(const at::Tensor& codes, int bits) {
  if (auto s = CheckBits(bits); !s.ok()) return s;
  if (codes.dim() != 2 || (codes.size(0) * bits) % 32 != 0)
    return absl::InvalidArgumentError(absl::StrCat(
        "packing: ", codes.dim() == 2 ? codes.size(0) : -1, " rows x ", bits,
        " bits does not fill whole int32 words"));
  return PackDim0(codes.cpu(), bits);
}

absl::StatusOr<at::Tensor> UnpackRows(const at::Tensor& packed, int bits,
                                      int64_t n) {
  if (auto s = CheckBits(bits); !s.ok()) return s;
  if (packed.dim() != 2 || n * bits != packed.size(0) * 32)
    return absl::InvalidArgumentError(
        absl::StrCat("unpacking: packed tensor has ", packed.size(0),
                     " words per column, expected ", n * bits / 32));
  return UnpackDim0(packed.cpu(), bits, n);
}

absl::StatusOr<at::Tensor> PackCols(const at::Tensor& codes, int bits) {
  auto r = PackRows(codes.t(), bits);
  if (!r.ok()) return r.status();
  return r->t().contiguous();
}

absl::StatusOr<at::Tensor> UnpackCols(const at::Tensor& packed, int bits,
                                      int64_t m) {
  auto r = UnpackRows(packed.t(), bits, m);
  if (!r.ok()) return r.status();
  return r->t().contiguous();
}

absl::StatusOr<at::Tensor> PackAwqCols(const at::Tensor& codes) {
  if (codes.dim() != 2 || codes.size(1) % 8 != 0)
    return absl::InvalidArgumentError(
        "awq packing: the output dim must be a multiple of 8");
  const int64_t n = codes.size(0), m = codes.size(1);
  at::Tensor c = codes.cpu().to(at::kInt).contiguous();
  at::Tensor out = at::zeros({n, m / 8}, at::kInt);
  const int32_t* src = c.data_ptr<int32_t>();
  uint32_t* dst = reinterpret_cast<uint32_t*>(out.data_ptr<int32_t>());
  for (int64_t i = 0; i < n; ++i)
    for (int64_t w = 0; w < m / 8; ++w) {
      uint32_t v = 0;
      for (int k = 0; k < 8; ++k)
        v |= (static_cast<uint32_t>(src[i * m + w * 8 + kAwqOrder[k]]) & 15u)
             << (4 * k);
      dst[i * (m / 8) + w] = v;
    }
  return out;
}

absl::StatusOr<at::Tensor> UnpackAwqCols(const at::Tensor& packed, int64_t m) {
  if (packed.dim() != 2 || packed.size(1) * 8 != m)
    return absl::InvalidArgumentError(
        absl::StrCat("awq unpacking: expected ", m / 8, " words per row, got ",
                     packed.dim() == 2 ? packed.size(1) : -1));
  const int64_t n = packed.size(0);
  at::Tensor p = packed.cpu().to(at::kInt).contiguous();
  const uint32_t* src =
      reinterpret_cast<const uint32_t*>(p.data_ptr<int32_t>());
  at::Tensor out = at::empty({n, m}, at::kInt);
  int32_t* dst = out.data_ptr<int32_t>();
  for (int64_t i = 0; i < n; ++i)
    for (int64_t w = 0; w < m / 8; ++w) {
      const uint32_t v = src[i * (m / 8) + w];
      for (int k = 0; k < 8; ++k)
        dst[i * m + w * 8 + kAwqOrder[k]] =
            static_cast<int32_t>((v >> (4 * k)) & 15u);
    }
  return out;
}

absl::StatusOr<at::Tensor> PackStreamCols(const at::Tensor& codes, int bits) {
  if (bits < 1 || bits > 8 || codes.dim() != 2)
    return absl::InvalidArgumentError(absl::StrCat(
        "compressed-tensors packing: need 2-D codes and 1..8 bits, got ",
        bits));
  const int64_t n = codes.size(0), m = codes.size(1);
  const int64_t words = (m * bits + 31) / 32;
  at::Tensor c = codes.cpu().to(at::kInt).contiguous();
  at::Tensor out = at::zeros({n, words}, at::kInt);
  const int32_t* src = c.data_ptr<int32_t>();
  uint32_t* dst = reinterpret_cast<uint32_t*>(out.data_ptr<int32_t>());
  const uint32_t mask = (1u << bits) - 1;
  for (int64_t i = 0; i < n; ++i) {
    uint32_t* row = dst + i * words;
    for (int64_t j = 0; j < m; ++j) {
      const uint32_t v = static_cast<uint32_t>(src[i * m + j]) & mask;
      const int64_t bit = j * bits, w = bit / 32, off = bit % 32;
      row[w] |= v << off;
      if (off + bits > 32) row[w + 1] |= v >> (32 - off);
    }
  }
  return out;
}

absl::StatusOr<at::Tensor> UnpackStreamCols(const at::Tensor& packed, int bits,
                                            int64_t m) {
  if (bits < 1 || bits > 8 || packed.dim() != 2 ||
      packed.size(1) != (m * bits + 31) / 32)
    return absl::InvalidArgumentError(absl::StrCat(
        "compressed-tensors unpacking: expected ", (m * bits + 31) / 32,
        " words per row for ", m, " codes of ", bits, " bits, got ",
        packed.dim() == 2 ? packed.size(1) : -1));
  const int64_t n = packed.size(0), words = packed.size(1);
  at::Tensor p = packed.cpu().to(at::kInt).contiguous();
  const uint32_t* src =
      reinterpret_cast<const uint32_t*>(p.data_ptr<int32_t>());
  at::Tensor out = at::empty({n, m}, at::kInt);
  int32_t* dst = out.data_ptr<int32_t>();
  const uint32_t mask = (1u << bits) - 1;
  for (int64_t i = 0; i < n; ++i) {
    const uint32_t* row = src + i * words;
    for (int64_t j = 0; j < m; ++j) {
      const int64_t bit = j * bits, w = bit / 32, off = bit % 32;
      uint32_t v = row[w] >> off;
      if (off + bits > 32) v |= row[w + 1] << (32 - off);
      dst[i * m + j] = static_cast<int32_t>(v & mask);
    }
  }
  return out;
}

}  // namespace qgrid::quant
