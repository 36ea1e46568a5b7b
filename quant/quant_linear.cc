#include "quant/quant_linear.h"

#include <ATen/ATen.h>

#include <cmath>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "quant/packing.h"
#ifdef QGRID_WITH_CUDA
#include "quant/kernels/gptq_gemv/gptq_gemv.h"
#endif

namespace qgrid::quant {

at::Tensor FakeQuantActivation(const at::Tensor& x, const ActQuantSpec& s) {
  if (!s.enabled()) return x;
  const double qmax = std::ldexp(1.0, s.bits - 1) - 1;
  at::Tensor xf = x.to(at::kFloat);
  at::Tensor scale;
  if (s.static_scale > 0) {
    scale = at::full({1}, s.static_scale, xf.options());
  } else if (s.per_token) {
    scale = xf.abs().amax(-1, true).clamp_min(1e-5) / qmax;
  } else {
    scale = xf.abs().max().clamp_min(1e-5) / qmax;
  }
  return (at::clamp(at::round(xf / scale), -qmax, qmax) * scale)
      .to(x.scalar_type());
}

at::Tensor FakeQuantKV(const at::Tensor& x, int bits, int group_size) {
  if (bits >= 16) return x;
  const int64_t hd = x.size(-1);
  const int64_t g = group_size > 0 ? group_size : hd;
  at::Tensor xf = x.to(at::kFloat).reshape({-1, g});
  at::Tensor s, z;
  FindParams(xf, bits, /*sym=*/false, &s, &z);
  return FakeQuantize(xf, s.unsqueeze(1), z.unsqueeze(1), bits)
      .reshape(x.sizes())
      .to(x.scalar_type());
}

// ---------------------------------------------------------------- fake

FakeQuantLinear::FakeQuantLinear(QuantizedWeight qw, at::Tensor bias,
                                 at::ScalarType dtype, ActQuantSpec act)
    : qw_(std::move(qw)), bias_(std::move(bias)), act_(act) {
  weight_ = qw_.weight.to(dtype).contiguous();
  qw_.weight = at::Tensor();
  if (bias_.defined()) bias_ = bias_.to(dtype);
}

at::Tensor FakeQuantLinear::Forward(const at::Tensor& x) const {
  at::Tensor xin = FakeQuantActivation(x, act_);
  at::Tensor y = at::matmul(xin.to(weight_.scalar_type()), weight_.t());
  if (bias_.defined()) y = y + bias_;
  return y.to(x.scalar_type());
}

int64_t FakeQuantLinear::WeightBytes() const {
  int64_t b = weight_.numel() * weight_.element_size();
  if (bias_.defined()) b += bias_.numel() * bias_.element_size();
  return b;
}

// ---------------------------------------------------------------- packed

absl::StatusOr<std::shared_ptr<PackedLinear>> PackedLinear::Create(
    at::Tensor qweight, at::Tensor qzeros, at::Tensor scales, at::Tensor g_idx,
    int bits, at::Tensor bias, at::ScalarType dtype) {
  if (qweight.dim() != 2 || qzeros.dim() != 2 || scales.dim() != 2 ||
      g_idx.dim() != 1)
    return absl::InvalidArgumentError(
        "packed linear: qweight/qzeros/scales must be 2-D and g_idx 1-D");
  auto p = std::shared_ptr<PackedLinear>(new PackedLinear());
  p->bits_ = bits;
  p->in_ = qweight.size(0) * 32 / bits;
  p->out_ = qweight.size(1);
  if (g_idx.size(0) != p->in_ || scales.size(1) != p->out_ ||
      qzeros.size(0) != scales.size(0) || qzeros.size(1) * 32 != p->out_ * bits)
    return absl::InvalidArgumentError(absl::StrCat(
        "packed linear: inconsistent shapes: qweight [", qweight.size(0), ", ",
        qweight.size(1), "], qzeros [", qzeros.size(0), ", ", qzeros.size(1),
        "], scales [", scales.size(0), ", ", scales.size(1), "], g_idx [",
        g_idx.size(0), "] for ", bits, " bits"));
  at::Tensor gmax = g_idx.max();
  if (g_idx.min().item<int64_t>() < 0 || gmax.item<int64_t>() >= scales.size(0))
    return absl::InvalidArgumentError(
        "packed linear: g_idx refers to a group beyond scales");
  p->qweight_ = qweight.to(at::kInt).contiguous();
  p->qzeros_ = qzeros.to(at::kInt).contiguous();
  p->scales_ = scales.to(at::kHalf).contiguous();
  p->g_idx_ = g_idx.to(at::kInt).contiguous();
  p->dtype_ = dtype;
  if (bias.defined()) p->bias_ = bias.to(dtype);
  // Groups of consecutive inputs (no act-order) let kernels skip g_idx.
  const at::Tensor gi = p->g_idx_.to(at::kLong);
  const int64_t groups = scales.size(0);
  const int64_t gs = (p->in_ + groups - 1) / groups;
  if (at::equal(gi, at::arange(p->in_, gi.options()).div(gs, "floor")))
    p->group_size_ = gs;
  return p;
}

std::shared_ptr<PackedLinear> PackedLinear::To(const at::Device& device) const {
  auto p = std::shared_ptr<PackedLinear>(new PackedLinear(*this));
  p->qweight_ = qweight_.to(device);
  p->qzeros_ = qzeros_.to(device);
  p->scales_ = scales_.to(device);
  p->g_idx_ = g_idx_.to(device);
  if (bias_.defined()) p->bias_ = bias_.to(device);
  return p;
}

absl::StatusOr<std::shared_ptr<PackedLinear>> PackedLinear::FromQuantized(
    const QuantizedWeight& qw, at::Tensor bias, at::ScalarType dtype) {
  if (!qw.has_exact_codes())
    return absl::InvalidArgumentError(
        "packed linear: this quantization has no integer form");
  const int b = qw.bits;
  QG_ASSIGN_OR_RETURN(at::Tensor qweight, PackRows(qw.codes.t().cpu(), b));
  // GPTQ v1 stores zero - 1, masked to `bits` (a zero of 0 wraps; the GPTQ
  // ecosystem has the same limitation).
  const int64_t mask = (int64_t{1} << b) - 1;
  at::Tensor z = (qw.zeros.t().cpu().to(at::kLong) - 1).bitwise_and(mask);
  QG_ASSIGN_OR_RETURN(at::Tensor qzeros, PackCols(z.to(at::kInt), b));
  return Create(qweight, qzeros, qw.scales.t().cpu().to(at::kHalf),
                qw.g_idx.cpu(), b, bias, dtype);
}

at::Tensor PackedLinear::Codes() const {
  return UnpackRows(qweight_, bits_, in_).value().t().contiguous();
}

at::Tensor PackedLinear::Zeros() const {
  const int64_t mask = (int64_t{1} << bits_) - 1;
  at::Tensor z = UnpackCols(qzeros_, bits_, out_).value();
  // Undo the GPTQ v1 "zero - 1" modulo 2^bits: the exact inverse of the
  // export, so a zero point of 0 (stored as 2^bits - 1) survives.
  return ((z.to(at::kLong) + 1).bitwise_and(mask))
      .t()
      .contiguous()
      .to(at::kInt);
}

at::Tensor DequantizeGptqOnDevice(const at::Tensor& qweight,
                                  const at::Tensor& qzeros,
                                  const at::Tensor& scales,
                                  const at::Tensor& g_idx, int bits) {
  const int per = 32 / bits;
  const int64_t mask = (int64_t{1} << bits) - 1;
  at::Tensor shifts =
      at::arange(0, 32, bits, qweight.options().dtype(at::kInt));
  // Code i of a word sits at bits [i * bits, (i + 1) * bits); the arithmetic
  // shift of negative words is undone by the mask.
  at::Tensor codes = qweight.unsqueeze(1)
                         .__rshift__(shifts.view({1, per, 1}))
                         .bitwise_and(mask)
                         .reshape({-1, qweight.size(1)});  // [in, out]
  at::Tensor z = qzeros.unsqueeze(2)
                     .__rshift__(shifts.view({1, 1, per}))
                     .bitwise_and(mask)
                     .reshape({qzeros.size(0), -1});  // [groups, out]
  // GPTQ v1 stores zero - 1 modulo 2^bits (see Zeros()).
  z = (z + 1).bitwise_and(mask);
  at::Tensor gi = g_idx.to(at::kLong);
  at::Tensor w = (codes.to(at::kFloat) - z.index_select(0, gi).to(at::kFloat)) *
                 scales.index_select(0, gi).to(at::kFloat);
  return w.t().contiguous();
}

at::Tensor PackedLinear::DenseWeight() const {
  if (!qweight_.is_cpu() && 32 % bits_ == 0)
    return DequantizeGptqOnDevice(qweight_, qzeros_, scales_, g_idx_, bits_)
        .to(dtype_);
  // Unpacking runs on CPU (quant/packing.h); the weight goes to the
  // layer's device.
  at::Tensor w = DequantizeCodes(Codes(), scales_.t().cpu().to(at::kFloat),
                                 Zeros(), g_idx_.cpu());
  return w.to(qweight_.device(), dtype_);
}

at::Tensor PackedLinear::Forward(const at::Tensor& x) const {
#ifdef QGRID_WITH_CUDA
  if (x.is_cuda()) {
    namespace gemv = kernels::gptq_gemv;
    gemv::Weights w{qweight_, qzeros_, scales_, g_idx_, bits_, group_size_};
    if (qweight_.device() != x.device()) {
      for (at::Tensor* t : {&w.qweight, &w.qzeros, &w.scales, &w.g_idx})
        *t = t->to(x.device());
    }
    if (gemv::Supports(x, w)) return gemv::Run(x, w, bias_);
  }
#endif
  // Dequantize-on-the-fly reference path.
  at::Tensor w = DenseWeight().to(x.device());
  at::Tensor y = at::matmul(x.to(w.scalar_type()), w.t());
  if (bias_.defined()) y = y + bias_.to(y.device());
  return y.to(x.scalar_type());
}

int64_t PackedLinear::WeightBytes() const {
  int64_t b = qweight_.numel() * 4 + qzeros_.numel() * 4 + scales_.numel() * 2 +
              g_idx_.numel() * 4;
  if (bias_.defined()) b += bias_.numel() * bias_.element_size();
  return b;
}

// ---------------------------------------------------------------- int8

namespace {
at::Tensor RowAbsmaxInt8(const at::Tensor& x) {
  at::Tensor s = x.abs().amax(-1, true).clamp_min(1e-8) / 127.0;
  return at::clamp(at::round(x / s), -127, 127) * s;
}
}  // namespace

Int8OutlierLinear::Int8OutlierLinear(at::Tensor weight, at::Tensor bias,
                                     double threshold, at::ScalarType dtype)
    : threshold_(threshold) {
  weight_ = weight.to(at::kFloat).contiguous();
  weight_q_ = RowAbsmaxInt8(weight_).to(dtype);
  if (bias.defined()) bias_ = bias.to(dtype);
}

at::Tensor Int8OutlierLinear::Forward(const at::Tensor& x) const {
  at::Tensor xf = x.to(at::kFloat);
  at::Tensor x2 = xf.reshape({-1, xf.size(-1)});
  // Feature dims with any |x| > threshold stay in 16 bits.
  at::Tensor outlier = (x2.abs() > threshold_).any(0);  // [in]
  at::Tensor keep = outlier.logical_not().to(at::kFloat);
  at::Tensor xq = RowAbsmaxInt8(x2 * keep);
  at::Tensor y = at::matmul(xq, weight_q_.to(at::kFloat).t());
  if (outlier.any().item<bool>()) {
    at::Tensor idx = outlier.nonzero().squeeze(1);
    y = y +
        at::matmul(x2.index_select(1, idx), weight_.index_select(1, idx).t());
  }
  if (bias_.defined()) y = y + bias_.to(at::kFloat);
  std::vector<int64_t> shape(x.sizes().begin(), x.sizes().end());
  shape.back() = weight_.size(0);
  return y.reshape(shape).to(x.scalar_type());
}

int64_t Int8OutlierLinear::WeightBytes() const {
  // int8 codes + fp16 row scales.
  return weight_.numel() + weight_.size(0) * 2;
}

std::shared_ptr<Int8OutlierLinear> Int8OutlierLinear::To(
    const at::Device& device) const {
  std::shared_ptr<Int8OutlierLinear> r(new Int8OutlierLinear());
  r->weight_ = weight_.to(device);
  r->weight_q_ = weight_q_.to(device);
  if (bias_.defined()) r->bias_ = bias_.to(device);
  r->threshold_ = threshold_;
  return r;
}

absl::StatusOr<std::shared_ptr<model::Linear>> LinearToDevice(
    const std::shared_ptr<model::Linear>& l, const at::Device& device) {
  auto on = [&](const at::Tensor& t) { return t.defined() ? t.to(device) : t; };
  if (auto* d = dynamic_cast<const model::DenseLinear*>(l.get()))
    return std::shared_ptr<model::Linear>(std::make_shared<model::DenseLinear>(
        on(d->DenseWeight()), on(d->bias())));
  if (auto* f = dynamic_cast<const FakeQuantLinear*>(l.get())) {
    QuantizedWeight q = f->quantized();
    for (at::Tensor* t :
         {&q.codes, &q.scales, &q.zeros, &q.g_idx, &q.outlier_mask})
      *t = on(*t);
    // The dequantized weight is stored in the model's dtype; converting it
    // to float32 and back is exact.
    const at::Tensor w = f->DenseWeight();
    q.weight = w.to(device, at::kFloat);
    return std::shared_ptr<model::Linear>(std::make_shared<FakeQuantLinear>(
        std::move(q), on(f->bias()), w.scalar_type(), f->act()));
  }
  if (auto* i8 = dynamic_cast<const Int8OutlierLinear*>(l.get()))
    return std::shared_ptr<model::Linear>(i8->To(device));
  if (auto* p = dynamic_cast<const PackedLinear*>(l.get()))
    return std::shared_ptr<model::Linear>(p->To(device));
  return absl::UnimplementedError("cannot move a '" + l->kind() +
                                  "' layer between devices");
}

}  // namespace qgrid::quant
