// Bit packing of integer codes into int32 words, as GPTQ/AutoGPTQ and AWQ
// checkpoints store them.
//
// GPTQ layout: codes are written LSB-first as one continuous bit stream along
// the packed dimension, 32/bits codes per word for 2/4/8 bits; for 3 bits 32
// codes fill 3 words and codes 10 and 21 straddle word boundaries (exactly
// as gptq quant.py QuantLinear.pack). dim * bits must be a multiple of 32.
//
// AWQ GEMM layout (4-bit only): 8 codes per word along the output dim, with
// nibble i holding column order[i] of each group of 8, order = {0, 2, 4, 6,
// 1, 3, 5, 7} (llm-awq / AutoAWQ pack order).
//
// compressed-tensors pack-quantized layout (PackedQuantizationCompressor,
// pack_to_int32): one dense LSB-first bit stream per row along dim 1, any
// width 1..8 bits, the row padded with zero codes to whole words
// (ceil(m * bits / 32) words; codes may straddle words). Codes are the
// unsigned form (compressed-tensors' signed int8 value plus 2^(bits-1)).
//
// All functions are pure; inputs are CPU int32 tensors (codes in
// [0, 2^bits)); results are CPU int32.
#ifndef QGRID_QUANT_PACKING_H_
#define QGRID_QUANT_PACKING_H_

#include <ATen/core/Tensor.h>

#include "absl/status/statusor.h"

namespace qgrid::quant {

// codes [n, m] -> [n * bits / 32, m]: packs along dim 0 (GPTQ qweight).
absl::StatusOr<at::Tensor> PackRows(const at::Tensor& codes, int bits);
// packed [n * bits / 32, m] -> codes [n, m].
absl::StatusOr<at::Tensor> UnpackRows(const at::Tensor& packed, int bits,
                                      int64_t n);
// codes [n, m] -> [n, m * bits / 32]: packs along dim 1 (GPTQ qzeros).
absl::StatusOr<at::Tensor> PackCols(const at::Tensor& codes, int bits);
absl::StatusOr<at::Tensor> UnpackCols(const at::Tensor& packed, int bits,
                                      int64_t m);
// AWQ GEMM: codes [n, m] (4-bit) -> [n, m / 8] with the interleaved order.
absl::StatusOr<at::Tensor> PackAwqCols(const at::Tensor& codes);
absl::StatusOr<at::Tensor> UnpackAwqCols(const at::Tensor& packed, int64_t m);

// compressed-tensors: codes [n, m] -> [n, ceil(m * bits / 32)] (dim 1).
absl::StatusOr<at::Tensor> PackStreamCols(const at::Tensor& codes, int bits);
absl::StatusOr<at::Tensor> UnpackStreamCols(const at::Tensor& packed, int bits,
                                            int64_t m);

}  // namespace qgrid::quant

#endif  // QGRID_QUANT_PACKING_H_
