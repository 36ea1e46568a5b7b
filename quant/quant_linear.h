// Quantized linear layers that replace model::DenseLinear slots, plus the
// activation and KV-cache fake-quantizers.
//
// - FakeQuantLinear: the dequantized weight in the model dtype (accuracy
//   studies) with, when the method has one, its integer form kept for
//   export; optional activation fake-quant on its input.
// - PackedLinear: GPTQ-layout packed codes (qweight/qzeros/scales/g_idx).
//   On CUDA (QGRID_WITH_CUDA builds) Forward of fp16/bf16 decode batches
//   (at most 16 rows) runs the fused weight-only GEMV of
//   quant/kernels/gptq_gemv/; everything else (CPU, larger batches, 3 bits,
//   fp32 input) dequantizes the weight and runs a dense matmul.
// - Int8OutlierLinear: LLM.int8() mixed decomposition.
//
// Thread-safety: layers are immutable after construction; Forward is const
// and safe concurrently.
#ifndef QGRID_QUANT_QUANT_LINEAR_H_
#define QGRID_QUANT_QUANT_LINEAR_H_

#include <ATen/core/Tensor.h>

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "model/causal_lm.h"
#include "quant/quantizer.h"

namespace qgrid::quant {

// Symmetric activation fake-quant (SmoothQuant / W-A-KV studies): per token
// (absmax of each row) or per tensor; dynamic (scale from the current input)
// or static (scale fixed from calibration). bits 16 = off.
struct ActQuantSpec {
  int bits = 16;
  bool per_token = true;
  double static_scale = 0;  // > 0: static per-tensor scale
  bool enabled() const { return bits < 16; }
};
at::Tensor FakeQuantActivation(const at::Tensor& x, const ActQuantSpec& s);

// KV-cache fake-quant: asymmetric, per token, in groups of `group_size`
// along head_dim (0: whole head), applied to [B, heads, T, head_dim].
at::Tensor FakeQuantKV(const at::Tensor& x, int bits, int group_size);

class FakeQuantLinear : public model::Linear {
 public:
  // `qw.weight` [out, in] is stored in `dtype` (the model's).
  FakeQuantLinear(QuantizedWeight qw, at::Tensor bias, at::ScalarType dtype,
                  ActQuantSpec act = ActQuantSpec());
  at::Tensor Forward(const at::Tensor& x) const override;
  int64_t in_features() const override { return weight_.size(1); }
  int64_t out_features() const override { return weight_.size(0); }
  at::Tensor DenseWeight() const override { return weight_; }
  at::Tensor bias() const override { return bias_; }
  int64_t WeightBytes() const override;
  std::string kind() const override { return "fake-quant"; }
  const QuantizedWeight& quantized() const { return qw_; }
  const ActQuantSpec& act() const { return act_; }

 private:
  QuantizedWeight qw_;  // integer form (weight field released)
  at::Tensor weight_, bias_;
  ActQuantSpec act_;
};

// Activation fake-quant in front of any layer (used when a saved model is
// reloaded with its activation quantization).
class ActQuantLinear : public model::Linear {
 public:
  ActQuantLinear(std::shared_ptr<model::Linear> inner, ActQuantSpec act)
      : inner_(std::move(inner)), act_(act) {}
  at::Tensor Forward(const at::Tensor& x) const override {
    return inner_->Forward(FakeQuantActivation(x, act_));
  }
  int64_t in_features() const override { return inner_->in_features(); }
  int64_t out_features() const override { return inner_->out_features(); }
  at::Tensor DenseWeight() const override { return inner_->DenseWeight(); }
  at::Tensor bias() const override { return inner_->bias(); }
  int64_t WeightBytes() const override { return inner_->WeightBytes(); }
  std::string kind() const override { return inner_->kind() + "+act"; }
  const model::Linear& inner() const { return *inner_; }

 private:
  std::shared_ptr<model::Linear> inner_;
  ActQuantSpec act_;
};

class PackedLinear : public model::Linear {
 public:
  // GPTQ layout: qweight int32 [in*bits/32, out], qzeros int32
  // [groups, out*bits/32] holding zero-1 (GPTQ v1 convention), scales fp16
  // [groups, out], g_idx int32 [in].
  static absl::StatusOr<std::shared_ptr<PackedLinear>> Create(
      at::Tensor qweight, at::Tensor qzeros, at::Tensor scales,
      at::Tensor g_idx, int bits, at::Tensor bias, at::ScalarType dtype);
  // From an integer form (any method with exact codes).
  static absl::StatusOr<std::shared_ptr<PackedLinear>> FromQuantized(
      const QuantizedWeight& qw, at::Tensor bias, at::ScalarType dtype);

  at::Tensor Forward(const at::Tensor& x) const override;
  int64_t in_features() const override { return in_; }
  int64_t out_features() const override { return out_; }
  at::Tensor DenseWeight() const override;  // [out, in] in dtype
  at::Tensor bias() const override { return bias_; }
  int64_t WeightBytes() const override;
  std::string kind() const override { return "packed"; }
  // A copy with every tensor on `device` (a layer kept on CPU while x is on
  // CUDA copies its packed tensors there on every Forward).
  std::shared_ptr<PackedLinear> To(const at::Device& device) const;

  const at::Tensor& qweight() const { return qweight_; }
  const at::Tensor& qzeros() const { return qzeros_; }
  const at::Tensor& scales() const { return scales_; }
  const at::Tensor& g_idx() const { return g_idx_; }
  int bits() const { return bits_; }
  // g_idx[k] == k / group_size() for every k; 0 with act-order.
  int64_t group_size() const { return group_size_; }
  // Unpacked codes [out, in] and zeros [out, groups] (true zero points).
  at::Tensor Codes() const;
  at::Tensor Zeros() const;

 private:
  PackedLinear() = default;
  at::Tensor qweight_, qzeros_, scales_, g_idx_, bias_;
  int bits_ = 4;
  int64_t in_ = 0, out_ = 0, group_size_ = 0;
  at::ScalarType dtype_ = at::kFloat;
};

// The dense weight [out, in] (float32) of a GPTQ-layout layer (shapes as in
// PackedLinear::Create) computed with tensor ops on the tensors' own device,
// for 2, 4 and 8 bits (whole codes per word). PackedLinear::DenseWeight
// uses it off CPU, so that a layer on CUDA dequantizes there.
at::Tensor DequantizeGptqOnDevice(const at::Tensor& qweight,
                                  const at::Tensor& qzeros,
                                  const at::Tensor& scales,
                                  const at::Tensor& g_idx, int bits);

// LLM.int8() (Dettmers et al. 2022): input feature dims whose |x| exceeds
// `threshold` anywhere in the batch run in 16-bit with the original weight
// columns; the rest as int8 x int8 with per-token (rows of x) and per-output
// channel (rows of W) absmax scales (vector-wise quantization).
class Int8OutlierLinear : public model::Linear {
 public:
  Int8OutlierLinear(at::Tensor weight, at::Tensor bias, double threshold,
                    at::ScalarType dtype);
  at::Tensor Forward(const at::Tensor& x) const override;
  int64_t in_features() const override { return weight_.size(1); }
  int64_t out_features() const override { return weight_.size(0); }
  at::Tensor DenseWeight() const override { return weight_q_; }
  at::Tensor bias() const override { return bias_; }
  int64_t WeightBytes() const override;
  std::string kind() const override { return "llm_int8"; }
  // A copy with every tensor on `device`.
  std::shared_ptr<Int8OutlierLinear> To(const at::Device& device) const;

 private:
  Int8OutlierLinear() = default;
  at::Tensor weight_, weight_q_, bias_;
  double threshold_;
};

// The same layer with its tensors on `device` (dense, fake-quant, packed
// and llm_int8 layers: the kinds the quantization pipeline produces). Used to
// move one block at a time to the quantization device. Errors for other
// kinds.
absl::StatusOr<std::shared_ptr<model::Linear>> LinearToDevice(
    const std::shared_ptr<model::Linear>& l, const at::Device& device);

}  // namespace qgrid::quant

#endif  // QGRID_QUANT_QUANT_LINEAR_H_
