// Weight quantizers: one interface, one class per method.
//
// A WeightQuantizer turns a dense weight W [out, in] (float32) into a
// QuantizedWeight: the dequantized ("fake-quant") weight and, for methods
// with an integer form, the codes, per-group scales/zeros and the group
// index of every input column. Methods that need second-order information
// (GPTQ, SpQR) take the layer's Hessian H = 2/n sum x x^T over calibration
// inputs (HessianAccumulator). Block-level transforms (AWQ/SmoothQuant scale
// folding) live in quant/transforms.h and run before these.
//
// The affine grid follows IST-DASLab/gptq quant.py (Quantizer.find_params):
// per row, the range [min(0, min x), max(0, max x)]; symmetric grids use
// max(|min|, max) and the fixed zero (2^bits)/2; q = clamp(round(x/s) + z,
// 0, 2^bits - 1); x' = s (q - z). compressed-tensors (llm-compressor's
// RTN) computes round(x/s + z) instead: with round-half-even the two differ
// by one code at exact ties x/s = k + 0.5 when z is odd; qgrid keeps GPTQ's
// order (tests/conformance/test_quantizers.py shows that is the only
// difference).
//
// Integer forms are "export-exact": scales are rounded to fp16 (the dtype
// every packed format stores) before the final dequantization, so a packed
// export reloaded gives bit-identical weights.
//
// Thread-safety: quantizers are immutable after construction; Quantize may
// be called concurrently.
#ifndef QGRID_QUANT_QUANTIZER_H_
#define QGRID_QUANT_QUANTIZER_H_

#include <ATen/core/Tensor.h>

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "quant/quant_config.h"

namespace qgrid::quant {

// Per-row affine grid over the last dim of x [rows, cols] (GPTQ semantics).
// scale, zero: float32 [rows]; zero holds integers.
void FindParams(const at::Tensor& x, int bits, bool sym, at::Tensor* scale,
                at::Tensor* zero);
// Integer codes clamp(round(x/scale) + zero, 0, 2^bits-1) as float32; scale
// and zero broadcast against x ([rows, 1] for per-row).
at::Tensor QuantizeCodes(const at::Tensor& x, const at::Tensor& scale,
                         const at::Tensor& zero, int bits);
// scale * (q - zero) without the intermediate codes.
at::Tensor FakeQuantize(const at::Tensor& x, const at::Tensor& scale,
                        const at::Tensor& zero, int bits);

struct QuantizedWeight {
  at::Tensor weight;  // dequantized [out, in] float32
  // Integer form; undefined for methods without one (fp8, llm_int8, spqr
  // outliers make the codes inexact: has_exact_codes() says when valid).
  at::Tensor codes;   // int32 [out, in], values in [0, 2^bits)
  at::Tensor scales;  // float32 [out, groups] (fp16-representable)
  at::Tensor zeros;   // int32 [out, groups]
  at::Tensor g_idx;   // int32 [in], group of each input column
  int bits = 16;
  int group_size = -1;  // the config's value (-1 per channel, 0 per tensor)
  bool sym = false;
  bool act_order = false;
  double bits_per_param = 16.0;
  double outlier_fraction = 0.0;  // SpQR: fraction of weights kept in fp16
  at::Tensor outlier_mask;        // SpQR: bool [out, in], true = kept exact
  bool has_exact_codes() const { return codes.defined(); }
};

// Dequantizes an integer form: weight[o, i] = scales[o, g] (codes[o, i] -
// zeros[o, g]) with g = g_idx[i].
at::Tensor DequantizeCodes(const at::Tensor& codes, const at::Tensor& scales,
                           const at::Tensor& zeros, const at::Tensor& g_idx);

class WeightQuantizer {
 public:
  virtual ~WeightQuantizer() = default;
  virtual std::string name() const = 0;
  // True when Quantize needs the Hessian.
  virtual bool needs_hessian() const { return false; }
  // w: [out, in] float32 (any device). hessian: [in, in] float32 or
  // undefined when !needs_hessian().
  virtual absl::StatusOr<QuantizedWeight> Quantize(
      const at::Tensor& w, const at::Tensor& hessian) const = 0;
};

// Round-to-nearest: per tensor (group_size 0), per channel (-1) or per
// group of `group_size` input columns.
class RtnQuantizer : public WeightQuantizer {
 public:
  RtnQuantizer(int bits, int group_size, bool sym)
      : bits_(bits), group_size_(group_size), sym_(sym) {}
  std::string name() const override { return "rtn"; }
  absl::StatusOr<QuantizedWeight> Quantize(
      const at::Tensor& w, const at::Tensor& hessian) const override;

 private:
  int bits_, group_size_;
  bool sym_;
};

// GPTQ (Frantar et al., ICLR 2023), as IST-DASLab/gptq fasterquant():
// dead columns (diag(H) = 0) zeroed, H += percdamp * mean(diag H) * I, the
// upper Cholesky factor of H^-1, columns quantized one at a time with the
// error propagated inside a block of `block_size` columns and lazily to the
// rest, optional act-order (columns by decreasing diag(H)) and static
// groups (group params computed once before reordering). Inside a block the
// error goes column by column only to the rest of a 16-column sub-block and
// as one matmul to the rest of the block (two-level lazy batching: the same
// updates in another summation order, so the weights differ from a
// column-by-column loop in the last float bits; same inputs give
// bit-identical results).
struct GptqOptions {
  int bits = 4;
  int group_size = 128;
  bool sym = false;
  bool act_order = false;
  bool static_groups = false;
  double percdamp = 0.01;
  int block_size = 128;
};
// One GPTQ column step inside a lazy-update sub-block: quantize column `i`
// of the block W1 [rows, count] with the group's scale/zero [rows], store
// its codes and dequantized values at column `col` of codes/W [rows, cols],
// its error / hdiag (U_jj) in Err1's column i, and push that error to
// W1's columns (i, j2) through row i of Hinv1 [count, count]. All tensors
// float32 (codes int32), contiguous; handles share storage with the
// caller's, which is updated in place.
struct GptqColumn {
  at::Tensor W1, Err1, Hinv1, codes, W, scale, zero;
  int64_t i = 0, j2 = 0, col = 0;
  float hdiag = 1;
  int bits = 4;
};
// The CPU loop GptqQuantizer runs (raw pointers, one pass over the rows).
void GptqColumnStepCpu(const GptqColumn& c);
// The tensor formulation (any device); the CPU loop's reference: the same
// values (tests/quant compare them on random input).
void GptqColumnStepTensor(const GptqColumn& c);

class GptqQuantizer : public WeightQuantizer {
 public:
  explicit GptqQuantizer(GptqOptions o) : o_(o) {}
  std::string name() const override { return "gptq"; }
  bool needs_hessian() const override { return true; }
  absl::StatusOr<QuantizedWeight> Quantize(
      const at::Tensor& w, const at::Tensor& hessian) const override;

 private:
  GptqOptions o_;
};

// SpQR (Dettmers et al. 2023; Vahe1994/SpQR spqr_engine.py): GPTQ with
// small groups (e.g. 16 input columns) whose per-row scales and zeros are
// themselves quantized to `stat_bits` (bilevel; second level: chunks of 16
// output rows, asymmetric RTN, fp16 second-level stats), optional
// act-order permutation, and unstructured outliers kept exact: with
// thr = outlier_relative_threshold * mean_j var(W[:, j]) / U_jj^2 (U the
// upper Cholesky factor of H^-1), weights whose leave-one-out error
// reduction exceeds thr are left out when fitting their group's grid, and
// a weight whose scaled rounding error ((w - q) / U_jj)^2 exceeds thr is
// kept exact. bits_per_param is SpqrStoredBits / (rows * cols).
struct SpqrOptions {
  int bits = 3;
  int group_size = 16;
  int stat_bits = 3;
  double outlier_relative_threshold = 0.2;
  double percdamp = 0.01;
  int block_size = 128;
  bool sym = false;
  bool act_order = false;
};
class SpqrQuantizer : public WeightQuantizer {
 public:
  explicit SpqrQuantizer(SpqrOptions o) : o_(o) {}
  std::string name() const override { return "spqr"; }
  bool needs_hessian() const override { return true; }
  absl::StatusOr<QuantizedWeight> Quantize(
      const at::Tensor& w, const at::Tensor& hessian) const override;

 private:
  SpqrOptions o_;
};

// FP8 weight fake-quant: per-tensor scale absmax / max_finite(format), then
// round to the nearest representable E4M3 (max 448) / E5M2 (max 57344)
// value with saturation, then rescale.
class Fp8Quantizer : public WeightQuantizer {
 public:
  explicit Fp8Quantizer(std::string format) : format_(std::move(format)) {}
  std::string name() const override { return "fp8"; }
  absl::StatusOr<QuantizedWeight> Quantize(
      const at::Tensor& w, const at::Tensor& hessian) const override;

 private:
  std::string format_;
};
// Rounds x to the nearest value of the FP8 format (IEEE-like, round half to
// even on the mantissa, subnormals included), saturating at the largest
// finite value. x float32, any shape.
at::Tensor RoundToFp8(const at::Tensor& x, const std::string& format);

// Bits SpQR stores for a [rows, cols] weight: `bits`-bit codes for every
// weight, first-level stats (scale, and zero unless sym) at `stat_bits`
// per (row, group), fp16 second-level scale+zero per 16-row chunk of each
// group's stats, an int32 permutation with act-order, and the outliers in
// CSR (16-bit value + 16-bit column index each, 32-bit row offsets).
double SpqrStoredBits(int64_t rows, int64_t cols, int64_t group_size, int bits,
                      int stat_bits, bool sym, bool act_order,
                      int64_t outliers);

// Builds the quantizer of a resolved layer spec (rtn, gptq, spqr, fp8;
// awq/smoothquant map to their final weight quantizer: rtn or gptq).
absl::StatusOr<std::unique_ptr<WeightQuantizer>> MakeWeightQuantizer(
    const LayerSpec& spec, const QuantConfig& cfg);

// Accumulates H = 2/n sum_i x_i x_i^T in float32 over batches of inputs
// [..., in] (n = number of rows seen; GPTQ's add_batch up to the constant,
// which the relative dampening makes irrelevant).
class HessianAccumulator {
 public:
  explicit HessianAccumulator(int64_t in_features);
  void Add(const at::Tensor& x);
  at::Tensor hessian() const { return h_; }
  int64_t rows() const { return n_; }

 private:
  at::Tensor h_;
  int64_t n_ = 0;
};

// Relative output error of replacing w by wq on inputs summarized by H:
// tr((wq-w) H (wq-w)^T) / tr(w H w^T) = ||X wq^T - X w^T||^2 / ||X w^T||^2.
double RelativeOutputError(const at::Tensor& w, const at::Tensor& wq,
                           const at::Tensor& hessian);

}  // namespace qgrid::quant

#endif  // QGRID_QUANT_QUANTIZER_H_
