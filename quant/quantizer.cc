#include "quant/quantizer.h"

#include <ATen/ATen.h>

#include <cmath>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "model/torch_util.h"

namespace qgrid::quant {
namespace {

// Scales are stored as fp16 by every packed format; rounding them here keeps
// the fake-quant weight identical to what a reloaded export computes. The
// smallest fp16 subnormal keeps a degenerate range from dividing by zero.
at::Tensor ToFp16Grid(const at::Tensor& scale) {
  return scale.to(at::kHalf).to(at::kFloat).clamp_min(std::ldexp(1.0, -24));
}

// FindParams with fp16-representable scales.
void GridParams(const at::Tensor& x, int bits, bool sym, at::Tensor* scale,
                at::Tensor* zero) {
  FindParams(x, bits, sym, scale, zero);
  *scale = ToFp16Grid(*scale);
}

double BitsPerParam(int bits, int group_size, int64_t in, int64_t out) {
  // fp16 scale + `bits`-bit zero per group (GPTQ/AWQ storage).
  if (group_size == 0) return bits + (16.0 + bits) / double(in * out);
  const int64_t g = group_size < 0 ? in : group_size;
  return bits + (16.0 + bits) / double(g);
}

}  // namespace

void FindParams(const at::Tensor& x, int bits, bool sym, at::Tensor* scale,
                at::Tensor* zero) {
  const double maxq = std::ldexp(1.0, bits) - 1;
  at::Tensor xf = x.to(at::kFloat);
  at::Tensor z = at::zeros({xf.size(0)}, xf.options());
  // The range always contains 0 (quant.py: minimum(x.min(1), 0)).
  at::Tensor xmin = at::minimum(xf.amin(1), z);
  at::Tensor xmax = at::maximum(xf.amax(1), z);
  if (sym) {
    xmax = at::maximum(xmin.abs(), xmax);
    xmin = at::where(xmin < 0, -xmax, xmin);
  }
  at::Tensor both0 = (xmin == 0).logical_and(xmax == 0);
  xmin = at::where(both0, at::full_like(xmin, -1), xmin);
  xmax = at::where(both0, at::full_like(xmax, 1), xmax);
  *scale = (xmax - xmin) / maxq;
  if (sym) {
    *zero = at::full_like(*scale, (maxq + 1) / 2);
  } else {
    *zero = at::round(-xmin / *scale);
  }
}

at::Tensor QuantizeCodes(const at::Tensor& x, const at::Tensor& scale,
                         const at::Tensor& zero, int bits) {
  const double maxq = std::ldexp(1.0, bits) - 1;
  return at::clamp(at::round(x / scale) + zero, 0, maxq);
}

at::Tensor FakeQuantize(const at::Tensor& x, const at::Tensor& scale,
                        const at::Tensor& zero, int bits) {
  return scale * (QuantizeCodes(x, scale, zero, bits) - zero);
}

at::Tensor DequantizeCodes(const at::Tensor& codes, const at::Tensor& scales,
                           const at::Tensor& zeros, const at::Tensor& g_idx) {
  at::Tensor gi = g_idx.to(at::kLong).to(codes.device());
  at::Tensor s = scales.index_select(1, gi);
  at::Tensor z = zeros.to(at::kFloat).index_select(1, gi);
  return s * (codes.to(at::kFloat) - z);
}

// ---------------------------------------------------------------- RTN

absl::StatusOr<QuantizedWeight> RtnQuantizer::Quantize(
    const at::Tensor& w, const at::Tensor&) const {
  QuantizedWeight r;
  absl::Status st = model::CatchTorch([&]() -> absl::Status {
    at::Tensor W = w.to(at::kFloat);
    const int64_t out = W.size(0), in = W.size(1);
    at::Tensor scale, zero;
    at::Tensor codes;
    if (group_size_ == 0) {
      GridParams(W.reshape({1, -1}), bits_, sym_, &scale, &zero);
      scale = scale.expand({out}).contiguous();
      zero = zero.expand({out}).contiguous();
    }
    if (group_size_ <= 0) {
      if (group_size_ < 0) GridParams(W, bits_, sym_, &scale, &zero);
      scale = scale.unsqueeze(1);
      zero = zero.unsqueeze(1);
      codes = QuantizeCodes(W, scale, zero, bits_);
      r.g_idx = at::zeros({in}, W.options().dtype(at::kInt));
    } else {
      if (in % group_size_ != 0)
        return absl::InvalidArgumentError(
            absl::StrCat("rtn: group size ", group_size_,
                         " does not divide input dim ", in));
      const int64_t G = in / group_size_;
      at::Tensor Wg = W.reshape({out, G, group_size_});
      GridParams(Wg.reshape({out * G, group_size_}), bits_, sym_, &scale,
                 &zero);
      scale = scale.reshape({out, G});
      zero = zero.reshape({out, G});
      codes = QuantizeCodes(Wg, scale.unsqueeze(2), zero.unsqueeze(2), bits_)
                  .reshape({out, in});
      r.g_idx = at::arange(in, W.options().dtype(at::kLong))
                    .floor_divide(group_size_)
                    .to(at::kInt);
    }
    r.codes = codes.to(at::kInt);
    r.scales = scale.contiguous();
    r.zeros = zero.to(at::kInt).contiguous();
    r.weight = DequantizeCodes(r.codes, r.scales, r.zeros, r.g_idx);
    r.bits = bits_;
    r.group_size = group_size_;
    r.sym = sym_;
    r.bits_per_param = BitsPerParam(bits_, group_size_, in, out);
    return absl::OkStatus();
  });
  if (!st.ok()) return st;
  return r;
}

// ---------------------------------------------------------------- GPTQ

namespace {

// Columns per sub-block of GPTQ's two-level lazy update (see the loop).
constexpr int64_t kGptqSubBlock = 16;

// Upper Cholesky factor of (H + damp I)^-1 after dead-column handling, as
// gptq.py: cholesky -> cholesky_inverse -> cholesky(upper). If H is not
// positive definite after the reference dampening (rare: degenerate
// calibration data) the dampening is raised tenfold, up to three times.
absl::StatusOr<at::Tensor> InverseCholeskyUpper(
    const at::Tensor& H, double percdamp,
    const at::Tensor& dead = at::Tensor()) {
  double mean_diag = -1;
  for (int attempt = 0; attempt < 4; ++attempt) {
    // gptq.py: H[dead, dead] = 1, then damp = percdamp * mean(diag(H)).
    at::Tensor Hd = H.clone();
    if (dead.defined()) Hd.diagonal().masked_fill_(dead, 1);
    if (mean_diag < 0) mean_diag = Hd.diagonal().mean().item<double>();
    Hd.diagonal().add_(percdamp * mean_diag * std::pow(10.0, attempt));
    auto [L, info] = at::linalg_cholesky_ex(Hd, /*upper=*/false);
    if (info.item<int>() != 0) continue;
    // The inverse goes into Hd's buffer and its upper factor into L's: on
    // a VM a fresh multi-megabyte buffer costs a page fault per 4 KiB,
    // comparable to the factorization itself (same LAPACK calls).
    at::cholesky_inverse_out(Hd, L, /*upper=*/false);
    at::Tensor info2 = at::empty_like(info);
    at::linalg_cholesky_ex_out(L, info2, Hd, /*upper=*/true,
                               /*check_errors=*/false);
    if (info2.item<int>() != 0) continue;
    return L;
  }
  return absl::FailedPreconditionError(
      "gptq: Hessian is not positive definite even after 1000x dampening "
      "(calibration inputs degenerate?)");
}

}  // namespace

void GptqColumnStepCpu(const GptqColumn& c) {
  // Elementwise as QuantizeCodes/FakeQuantize: round half to even
  // (nearbyint), clamp, s (q - z), error / U_jj; then row r's error goes to
  // the rest of the sub-block (rows of W are independent in GPTQ, so the
  // order over rows is free).
  const int64_t rows = c.W1.size(0), count = c.W1.size(1);
  const int64_t cols = c.W.size(1);
  const int64_t i = c.i, j2 = c.j2, col = c.col;
  const float maxq = static_cast<float>(std::ldexp(1.0, c.bits) - 1);
  const float* sp = c.scale.data_ptr<float>();
  const float* zp = c.zero.data_ptr<float>();
  float* w1 = c.W1.data_ptr<float>();
  float* e1 = c.Err1.data_ptr<float>();
  int32_t* qp = c.codes.data_ptr<int32_t>();
  float* wp = c.W.data_ptr<float>();
  const float* h = c.Hinv1.data_ptr<float>() + i * count;
  const float d = c.hdiag;
  for (int64_t r = 0; r < rows; ++r) {
    float* wr = w1 + r * count;
    const float wv = wr[i];
    float q = std::nearbyint(wv / sp[r]) + zp[r];
    q = std::min(std::max(q, 0.0f), maxq);
    const float dq = sp[r] * (q - zp[r]);
    qp[r * cols + col] = static_cast<int32_t>(q);
    wp[r * cols + col] = dq;
    const float e = (wv - dq) / d;
    e1[r * count + i] = e;
    for (int64_t k = i + 1; k < j2; ++k) wr[k] -= h[k] * e;
  }
}

void GptqColumnStepTensor(const GptqColumn& c) {
  at::Tensor wcol = c.W1.select(1, c.i);
  at::Tensor q = QuantizeCodes(wcol, c.scale, c.zero, c.bits);
  at::Tensor deq = c.scale * (q - c.zero);
  c.codes.select(1, c.col).copy_(q);
  c.W.select(1, c.col).copy_(deq);
  at::Tensor err = (wcol - deq) / c.hdiag;
  c.Err1.select(1, c.i).copy_(err);
  if (c.i + 1 < c.j2)
    c.W1.slice(1, c.i + 1, c.j2)
        .sub_(err.unsqueeze(1) *
              c.Hinv1.select(0, c.i).slice(0, c.i + 1, c.j2).unsqueeze(0));
}

absl::StatusOr<QuantizedWeight> GptqQuantizer::Quantize(
    const at::Tensor& w, const at::Tensor& hessian) const {
  QuantizedWeight r;
  absl::Status st = model::CatchTorch([&]() -> absl::Status {
    if (!hessian.defined())
      return absl::InvalidArgumentError("gptq: needs the layer's Hessian");
    const int bits = o_.bits;
    const int gs = o_.group_size;
    // W0 and H are only read (no copies of the inputs: see
    // InverseCholeskyUpper on the cost of fresh buffers).
    const at::Tensor W0 = w.to(at::kFloat);
    const int64_t rows = W0.size(0), cols = W0.size(1);
    if (hessian.size(0) != cols)
      return absl::InvalidArgumentError(absl::StrCat(
          "gptq: Hessian is ", hessian.size(0), "x", hessian.size(1),
          " but the weight has ", cols, " input columns"));
    if (gs > 0 && cols % gs != 0)
      return absl::InvalidArgumentError(absl::StrCat(
          "gptq: group size ", gs, " does not divide input dim ", cols));
    at::Tensor H = hessian.to(W0.device(), at::kFloat);

    // Per-channel / per-tensor params come from the whole weight, before
    // dead columns are zeroed (gptq.py computes them first).
    at::Tensor scale, zero;
    if (gs == 0) {
      GridParams(W0.reshape({1, -1}), bits, o_.sym, &scale, &zero);
      scale = scale.expand({rows}).contiguous();
      zero = zero.expand({rows}).contiguous();
    } else if (gs < 0) {
      GridParams(W0, bits, o_.sym, &scale, &zero);
    }

    // Dead columns (diag(H) = 0): weights zeroed, H_jj = 1.
    at::Tensor dead = H.diagonal() == 0;
    const bool any_dead = dead.any().item<bool>();

    std::vector<at::Tensor> static_scale, static_zero;
    if (gs > 0 && o_.static_groups) {
      for (int64_t g = 0; g < cols; g += gs) {
        at::Tensor Wg = W0.slice(1, g, g + gs);
        if (any_dead)
          Wg = Wg.masked_fill(dead.slice(0, g, g + gs).unsqueeze(0), 0);
        at::Tensor s, z;
        GridParams(Wg, bits, o_.sym, &s, &z);
        static_scale.push_back(s);
        static_zero.push_back(z);
      }
    }

    // W [rows, cols] is the only full-size working copy (gptq.py's layout):
    // once a column is done it holds the dequantized column, so W ends as
    // the result, with no transposes or extra passes.
    at::Tensor perm, W;
    if (o_.act_order) {
      perm = at::argsort(H.diagonal().masked_fill(dead, 1), /*dim=*/0,
                         /*descending=*/true);
      W = W0.index_select(1, perm).contiguous();
      H = H.index_select(0, perm).index_select(1, perm);
      dead = dead.index_select(0, perm);
    } else {
      W = at::empty({rows, cols}, W0.options());
      W.copy_(W0);
    }
    if (any_dead) W.masked_fill_(dead.unsqueeze(0), 0);
    QG_ASSIGN_OR_RETURN(at::Tensor Hinv,
                        InverseCholeskyUpper(H, o_.percdamp, dead));
    H = at::Tensor();
    at::Tensor hdiag = Hinv.diagonal().to(at::kCPU).contiguous();
    const float* hd = hdiag.data_ptr<float>();
    std::vector<int64_t> perm_v(cols);
    if (o_.act_order) {
      at::Tensor pc = perm.to(at::kCPU).contiguous();
      for (int64_t i = 0; i < cols; ++i) perm_v[i] = pc.data_ptr<int64_t>()[i];
    } else {
      for (int64_t i = 0; i < cols; ++i) perm_v[i] = i;
    }

    // Codes by permuted position; the dequantized value s (q - z) is the
    // one DequantizeCodes computes from the stored integer form.
    at::Tensor codes = at::empty({rows, cols}, W.options().dtype(at::kInt));
    std::vector<at::Tensor> group_scale, group_zero;  // dynamic groups
    std::vector<int32_t> group_of_pos(cols, 0);       // by permuted position
    if (gs <= 0) {
      group_scale.push_back(scale);
      group_zero.push_back(zero);
    }
    const bool cpu = W.is_cpu();
    const int64_t bs = o_.block_size;
    // W1/Err1 [rows, count] (contiguous) reuse one buffer each.
    at::Tensor W1_buf = at::empty({rows * std::min(bs, cols)}, W.options());
    at::Tensor Err1_buf = at::empty_like(W1_buf);
    for (int64_t i1 = 0; i1 < cols; i1 += bs) {
      const int64_t i2 = std::min(i1 + bs, cols), count = i2 - i1;
      at::Tensor W1 = W1_buf.slice(0, 0, rows * count).view({rows, count});
      W1.copy_(W.slice(1, i1, i2));
      at::Tensor Err1 = Err1_buf.slice(0, 0, rows * count).view({rows, count});
      at::Tensor Hinv1 = Hinv.slice(0, i1, i2).slice(1, i1, i2).contiguous();
      // Two-level lazy batching: inside the block, the error of a column
      // goes at once only to the rest of its sub-block of kGptqSubBlock
      // columns (a cache-resident loop); the rest of the block gets the
      // sub-block's errors as one matmul. Same updates as gptq.py's
      // per-column rank-1 loop, summed in another order (results differ
      // from it in the last float bits; still bit-deterministic). This
      // turns the memory-bound rank-1 traffic over the whole block into a
      // GEMM, which is what brings GPTQ close to the bare-matmul floor.
      for (int64_t j1 = 0; j1 < count; j1 += kGptqSubBlock) {
        const int64_t j2 = std::min(j1 + kGptqSubBlock, count);
        for (int64_t i = j1; i < j2; ++i) {
          const int64_t col = i1 + i;
          if (gs > 0) {
            if (!o_.static_groups) {
              if (col % gs == 0) {
                // As gptq.py: params from W (block-start state), not W1.
                GridParams(W.slice(1, col, std::min(col + gs, cols)), bits,
                           o_.sym, &scale, &zero);
                scale = scale.contiguous();
                zero = zero.contiguous();
                group_scale.push_back(scale);
                group_zero.push_back(zero);
              }
              group_of_pos[col] = static_cast<int32_t>(group_scale.size()) - 1;
            } else {
              const int64_t g = perm_v[col] / gs;
              scale = static_scale[g];
              zero = static_zero[g];
              group_of_pos[col] = static_cast<int32_t>(g);
            }
          }
          GptqColumn step{W1,   Err1, Hinv1, codes, W,       scale,
                          zero, i,    j2,    col,   hd[col], bits};
          if (cpu) {
            GptqColumnStepCpu(step);
          } else {
            GptqColumnStepTensor(step);
          }
        }
        if (j2 < count)
          W1.slice(1, j2).addmm_(Err1.slice(1, j1, j2),
                                 Hinv1.slice(0, j1, j2).slice(1, j2),
                                 /*beta=*/1, /*alpha=*/-1);
      }
      if (i2 < cols)
        W.slice(1, i2).addmm_(Err1, Hinv.slice(0, i1, i2).slice(1, i2),
                              /*beta=*/1, /*alpha=*/-1);
    }

    at::Tensor g_idx = at::empty({cols}, at::kInt);
    int32_t* gi = g_idx.data_ptr<int32_t>();
    if (gs > 0 && o_.static_groups) {
      for (int64_t i = 0; i < cols; ++i) gi[i] = static_cast<int32_t>(i / gs);
      group_scale = static_scale;
      group_zero = static_zero;
    } else {
      for (int64_t j = 0; j < cols; ++j) gi[perm_v[j]] = group_of_pos[j];
    }
    if (o_.act_order) {
      at::Tensor invperm = at::argsort(perm);
      codes = codes.index_select(1, invperm);
      W = W.index_select(1, invperm);
    }
    r.codes = codes;
    r.scales = at::stack(group_scale, 1).contiguous();
    r.zeros = at::stack(group_zero, 1).to(at::kInt).contiguous();
    r.g_idx = g_idx.to(W.device());
    r.weight = W;
    r.bits = bits;
    r.group_size = gs;
    r.sym = o_.sym;
    r.act_order = o_.act_order;
    r.bits_per_param = BitsPerParam(bits, gs, cols, rows);
    return absl::OkStatus();
  });
  if (!st.ok()) return st;
  return r;
}

// ---------------------------------------------------------------- SpQR

namespace {

// First-level stats of a group [rows, g] with SpQR's bilevel quantization:
// the per-row scales and zeros are quantized with `stat_bits` asymmetric RTN
// in chunks of 16 consecutive rows (beta_2 = 16 in the paper). Returns
// float scale/zero [rows] (zero may be fractional after this step).
void SpqrGroupParams(const at::Tensor& g, int bits, int stat_bits, bool sym,
                     at::Tensor* scale, at::Tensor* zero) {
  FindParams(g, bits, sym, scale, zero);
  const int64_t rows = scale->size(0);
  const int64_t qq = rows % 16 == 0 ? 16 : rows;
  auto quant_stat = [&](const at::Tensor& v) {
    at::Tensor vv = v.reshape({rows / qq, qq});
    at::Tensor s, z;
    FindParams(vv, stat_bits, /*sym=*/false, &s, &z);
    return FakeQuantize(vv, s.unsqueeze(1), z.unsqueeze(1), stat_bits)
        .reshape({rows});
  };
  *scale = quant_stat(*scale).clamp_min(1e-8);
  if (!sym) *zero = quant_stat(*zero);
}

// SpQR get_leave_one_out_error: for every weight of a group [rows, g],
// how much the group's Hessian-weighted squared error drops when the grid
// is fitted without that weight and the weight is kept exact (all g
// leave-one-out fits in one batched FindParams). d: [g] diag of the upper
// Cholesky factor of H^-1 over the group's columns.
at::Tensor LeaveOneOutReduction(const at::Tensor& G, const at::Tensor& d,
                                int bits, bool sym) {
  const int64_t rows = G.size(0), g = G.size(1);
  // loo[j] = every column index but j: [g, g-1].
  std::vector<int64_t> idx;
  idx.reserve(g * (g - 1));
  for (int64_t j = 0; j < g; ++j)
    for (int64_t k = 0; k < g; ++k)
      if (k != j) idx.push_back(k);
  at::Tensor loo = at::tensor(idx, at::kLong).to(G.device());
  at::Tensor Gl = G.index_select(1, loo).reshape({rows * g, g - 1});
  at::Tensor s, z;
  FindParams(Gl, bits, sym, &s, &z);
  at::Tensor dl = d.index_select(0, loo).reshape({g, g - 1});
  at::Tensor loo_err =
      ((FakeQuantize(Gl, s.unsqueeze(1), z.unsqueeze(1), bits) - Gl)
           .reshape({rows, g, g - 1}) /
       dl.unsqueeze(0))
          .square()
          .sum(-1);  // [rows, g]
  at::Tensor bs, bz;
  FindParams(G, bits, sym, &bs, &bz);
  at::Tensor base_err =
      ((FakeQuantize(G, bs.unsqueeze(1), bz.unsqueeze(1), bits) - G) / d)
          .square()
          .sum(1, true);
  return base_err - loo_err;
}

}  // namespace

absl::StatusOr<QuantizedWeight> SpqrQuantizer::Quantize(
    const at::Tensor& w, const at::Tensor& hessian) const {
  QuantizedWeight r;
  absl::Status st = model::CatchTorch([&]() -> absl::Status {
    if (!hessian.defined())
      return absl::InvalidArgumentError("spqr: needs the layer's Hessian");
    const int bits = o_.bits;
    const double maxq = std::ldexp(1.0, bits) - 1;
    at::Tensor W = w.to(at::kFloat).clone();
    const int64_t rows = W.size(0), cols = W.size(1);
    // -1 / 0: one group spanning the row.
    const int64_t gs = o_.group_size > 0 ? o_.group_size : cols;
    if (cols % gs != 0)
      return absl::InvalidArgumentError(absl::StrCat(
          "spqr: group size ", gs, " does not divide input dim ", cols));
    if (hessian.size(0) != cols)
      return absl::InvalidArgumentError(absl::StrCat(
          "spqr: Hessian is ", hessian.size(0), "x", hessian.size(1),
          " but the weight has ", cols, " input columns"));
    at::Tensor H = hessian.to(W.device(), at::kFloat).clone();
    at::Tensor dead = H.diagonal() == 0;
    H.diagonal().masked_fill_(dead, 1);
    W.masked_fill_(dead.unsqueeze(0), 0);
    // SpQR's permutation_order "act_order": columns by decreasing diag(H);
    // groups are then formed over the permuted columns (undone at the end).
    at::Tensor perm;
    if (o_.act_order) {
      perm = at::argsort(H.diagonal(), /*dim=*/0, /*descending=*/true);
      W = W.index_select(1, perm);
      H = H.index_select(0, perm).index_select(1, perm);
    }
    QG_ASSIGN_OR_RETURN(at::Tensor Hinv, InverseCholeskyUpper(H, o_.percdamp));
    H = at::Tensor();
    at::Tensor hdiag_t = Hinv.diagonal().contiguous();
    at::Tensor hdiag = hdiag_t.to(at::kCPU);
    const float* hd = hdiag.data_ptr<float>();
    // SpQR: unstructured_outlier_threshold = outlier_relative_threshold *
    // mean_j var(W[:, j]) / Hinv_cho_jj^2.
    const double outlier_scale =
        (W.var(0) / hdiag_t.square()).mean().item<double>();
    const double thr = o_.outlier_relative_threshold * outlier_scale;

    at::Tensor outliers = at::zeros({rows, cols}, W.options().dtype(at::kBool));
    at::Tensor scale, zero;
    const int64_t bs = std::max<int64_t>(o_.block_size / gs, 1) * gs;
    for (int64_t b1 = 0; b1 < cols; b1 += bs) {
      const int64_t b2 = std::min(b1 + bs, cols);
      at::Tensor Err = at::zeros({rows, b2 - b1}, W.options());
      for (int64_t col = b1; col < b2; ++col) {
        if (col % gs == 0) {
          // Likely outliers (their leave-one-out error reduction exceeds
          // the threshold) are replaced by the mean of the rest of their
          // row's group when fitting the group's grid.
          at::Tensor G = W.slice(1, col, col + gs);
          at::Tensor likely =
              (LeaveOneOutReduction(G, hdiag_t.slice(0, col, col + gs), bits,
                                    o_.sym) > thr)
                  .to(at::kFloat);
          at::Tensor keepm = 1 - likely;
          at::Tensor mean =
              (G * keepm).sum(1, true) / keepm.sum(1, true).clamp_min(1);
          SpqrGroupParams(G * keepm + mean * likely, bits, o_.stat_bits, o_.sym,
                          &scale, &zero);
        }
        at::Tensor wcol = W.select(1, col);
        at::Tensor q = at::clamp(at::round(wcol / scale + zero), 0, maxq);
        at::Tensor deq = scale * (q - zero);
        at::Tensor err = (wcol - deq) / hd[col];
        // A weight whose own scaled error exceeds the threshold is kept
        // exact (SpQR keeps it in fp16; fp32 here, as every other weight).
        at::Tensor is_out = err.square() > thr;
        deq = at::where(is_out, wcol, deq);
        err = (wcol - deq) / hd[col];
        outliers.select(1, col).copy_(is_out);
        W.select(1, col).copy_(deq);
        if (col + 1 < b2)
          W.slice(1, col + 1, b2)
              .addr_(err, Hinv.select(0, col).slice(0, col + 1, b2), 1, -1);
        Err.select(1, col - b1).copy_(err);
      }
      if (b2 < cols)
        W.slice(1, b2).addmm_(Err, Hinv.slice(0, b1, b2).slice(1, b2), 1, -1);
    }
    if (o_.act_order) {
      at::Tensor invperm = at::argsort(perm);
      W = W.index_select(1, invperm);
      outliers = outliers.index_select(1, invperm);
    }
    r.weight = W.contiguous();
    r.outlier_mask = outliers;
    r.bits = bits;
    r.group_size = o_.group_size;
    r.sym = o_.sym;
    r.act_order = o_.act_order;
    const int64_t n_out = outliers.sum().item<int64_t>();
    r.outlier_fraction = double(n_out) / double(rows * cols);
    r.bits_per_param = SpqrStoredBits(rows, cols, gs, bits, o_.stat_bits,
                                      o_.sym, o_.act_order, n_out) /
                       double(rows * cols);
    return absl::OkStatus();
  });
  if (!st.ok()) return st;
  return r;
}

double SpqrStoredBits(int64_t rows, int64_t cols, int64_t group_size, int bits,
                      int stat_bits, bool sym, bool act_order,
                      int64_t outliers) {
  const int64_t gs = group_size > 0 ? group_size : cols;
  const int64_t groups = rows * (cols / gs);  // first-level (row, group)
  // Second level: chunks of 16 rows per column group (the whole column of
  // rows when 16 does not divide them), as SpqrGroupParams.
  const int64_t qq = rows % 16 == 0 ? 16 : rows;
  const int64_t chunks = (rows / qq) * (cols / gs);
  const int nstats = sym ? 1 : 2;  // symmetric grids store no zero
  double b = double(rows) * double(cols) * bits;  // dense codes
  b += double(groups) * nstats * stat_bits;       // 1st-level stats
  b += double(chunks) * nstats * (16.0 + 16.0);   // fp16 scale+zero
  if (act_order) b += double(cols) * 32;          // int32 perm
  // Outliers in CSR: fp16 value + 16-bit column index each, plus 32-bit
  // row offsets (SpQR's sparse format; in_features < 65536).
  if (outliers > 0) b += double(outliers) * 32.0 + double(rows + 1) * 32.0;
  return b;
}

// ---------------------------------------------------------------- FP8

at::Tensor RoundToFp8(const at::Tensor& x, const std::string& format) {
  // E4M3 (OCP "fn": no inf, max 448, min normal 2^-6, 3 mantissa bits);
  // E5M2 (IEEE-like, max 57344, min normal 2^-14, 2 mantissa bits).
  const bool e4m3 = format == "e4m3";
  const int mant = e4m3 ? 3 : 2;
  const int min_exp = e4m3 ? -6 : -14;
  const double maxv = e4m3 ? 448.0 : 57344.0;
  at::Tensor xf = x.to(at::kFloat);
  at::Tensor a = xf.abs().clamp_max(maxv);
  // Exponent of each value (normal range), floored at the subnormal
  // exponent; the spacing there is 2^(e - mant).
  at::Tensor e = at::floor(at::log2(a.clamp_min(1e-30))).clamp_min(min_exp);
  at::Tensor step = at::pow(2.0, e - mant);
  // at::round is half-to-even, as the hardware rounding mode.
  at::Tensor q = (at::round(a / step) * step).clamp_max(maxv);
  return at::sign(xf) * q;
}

absl::StatusOr<QuantizedWeight> Fp8Quantizer::Quantize(
    const at::Tensor& w, const at::Tensor&) const {
  QuantizedWeight r;
  absl::Status st = model::CatchTorch([&]() -> absl::Status {
    at::Tensor W = w.to(at::kFloat);
    const double maxv = format_ == "e4m3" ? 448.0 : 57344.0;
    // Per-tensor scale as in vLLM/TensorRT fp8 weight quantization.
    double s = W.abs().max().item<double>() / maxv;
    if (s == 0) s = 1;
    r.weight = RoundToFp8(W / s, format_) * s;
    r.bits = 8;
    r.bits_per_param = 8.0;
    return absl::OkStatus();
  });
  if (!st.ok()) return st;
  return r;
}

// ---------------------------------------------------------------- factory

namespace {
// The fp16 baseline: the weight unchanged (activation/KV quant may still
// apply through the layer that wraps it).
class NoopQuantizer : public WeightQuantizer {
 public:
  std::string name() const override { return "fp16"; }
  absl::StatusOr<QuantizedWeight> Quantize(const at::Tensor& w,
                                           const at::Tensor&) const override {
    QuantizedWeight r;
    r.weight = w.to(at::kFloat);
    return r;
  }
};
}  // namespace

absl::StatusOr<std::unique_ptr<WeightQuantizer>> MakeWeightQuantizer(
    const LayerSpec& s, const QuantConfig& c) {
  const std::string& m = s.method;
  if (m == "fp16") return std::unique_ptr<WeightQuantizer>(new NoopQuantizer());
  if (m == "rtn" || m == "awq" || m == "smoothquant")
    return std::unique_ptr<WeightQuantizer>(
        new RtnQuantizer(s.w_bits, m == "smoothquant" ? -1 : s.group_size,
                         m == "smoothquant" ? true : s.sym));
  if (m == "gptq" || m == "awq+gptq" || m == "smoothquant+gptq") {
    GptqOptions o;
    o.bits = s.w_bits;
    o.group_size = s.group_size;
    o.sym = s.sym;
    o.act_order = c.act_order;
    o.static_groups = c.static_groups;
    o.percdamp = c.percdamp;
    o.block_size = c.block_size;
    return std::unique_ptr<WeightQuantizer>(new GptqQuantizer(o));
  }
  if (m == "spqr") {
    SpqrOptions o;
    o.bits = s.w_bits;
    o.group_size = s.group_size;  // Resolve() put spqr_group_size here
    o.stat_bits = c.spqr_stat_bits;
    o.outlier_relative_threshold = c.spqr_outlier_threshold;
    o.act_order = c.act_order;
    o.percdamp = c.percdamp;
    o.block_size = c.block_size;
    o.sym = s.sym;
    return std::unique_ptr<WeightQuantizer>(new SpqrQuantizer(o));
  }
  if (m == "fp8")
    return std::unique_ptr<WeightQuantizer>(new Fp8Quantizer(c.fp8_format));
  return absl::InvalidArgumentError("no weight quantizer for method '" + m +
                                    "'");
}

// ---------------------------------------------------------------- Hessian

HessianAccumulator::HessianAccumulator(int64_t in_features)
    : h_(at::zeros({in_features, in_features}, at::kFloat)) {}

void HessianAccumulator::Add(const at::Tensor& x) {
  at::Tensor x2 = x.reshape({-1, x.size(-1)}).to(at::kFloat);
  if (h_.device() != x2.device()) h_ = h_.to(x2.device());
  const int64_t nb = x2.size(0);
  if (nb == 0) return;
  // Running mean, as gptq.py add_batch: H *= n/(n+nb); H += 2/(n+nb) X^T X,
  // the rescaling done by the GEMM's beta (no separate pass over H).
  const double beta = double(n_) / double(n_ + nb);
  n_ += nb;
  h_.addmm_(x2.t(), x2, /*beta=*/beta, /*alpha=*/2.0 / double(n_));
}

double RelativeOutputError(const at::Tensor& w, const at::Tensor& wq,
                           const at::Tensor& H) {
  at::Tensor Wf = w.to(at::kFloat);
  at::Tensor D = wq.to(at::kFloat) - Wf;
  at::Tensor Hf = H.to(Wf.device(), at::kFloat);
  double num = (D.mm(Hf) * D).sum().item<double>();
  double den = (Wf.mm(Hf) * Wf).sum().item<double>();
  return den > 0 ? num / den : 0.0;
}

}  // namespace qgrid::quant
