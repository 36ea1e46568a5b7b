#include "quant/transforms.h"

#include <ATen/ATen.h>

#include <cmath>
#include <limits>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "model/torch_util.h"
#include "quant/quantizer.h"

namespace qgrid::quant {
namespace {

struct Target {
  std::string name;
  model::DenseLinear* lin = nullptr;
  LayerSpec spec;
};

// Group-wise fake quant with a layer's spec (per channel when group <= 0).
at::Tensor GroupFakeQuant(const at::Tensor& w, const LayerSpec& s) {
  const int64_t out = w.size(0), in = w.size(1);
  const int64_t g = s.group_size > 0 ? s.group_size : in;
  at::Tensor wg = w.reshape({out * (in / g), g});
  at::Tensor sc, z;
  FindParams(wg, s.w_bits, s.sym, &sc, &z);
  return FakeQuantize(wg, sc.unsqueeze(1), z.unsqueeze(1), s.w_bits)
      .reshape({out, in});
}

absl::StatusOr<model::DenseLinear*> Dense(std::shared_ptr<model::Linear>& l,
                                          const std::string& name) {
  auto* d = dynamic_cast<model::DenseLinear*>(l.get());
  if (!d)
    return absl::FailedPreconditionError(
        name + ": scale folding needs a dense layer (already quantized?)");
  return d;
}

// Multiplies input columns of every target by s (float32 [in]).
void ScaleColumns(const std::vector<Target>& ts, const at::Tensor& s) {
  for (const Target& t : ts) {
    // Rebinding (not copy_) leaves tensors shared with the caller alone.
    at::Tensor& w = t.lin->weight();
    w = (w.to(at::kFloat) * s.to(w.device()).unsqueeze(0)).to(w.scalar_type());
  }
}

// Divides output rows (and bias) of `prev` by s.
void ScaleRows(model::DenseLinear* prev, const at::Tensor& s) {
  at::Tensor& w = prev->weight();
  w = (w.to(at::kFloat) / s.to(w.device()).unsqueeze(1)).to(w.scalar_type());
  at::Tensor& b = prev->mutable_bias();
  if (b.defined())
    b = (b.to(at::kFloat) / s.to(b.device())).to(b.scalar_type());
}

void ScaleNorm(model::RMSNorm& n, const at::Tensor& s) {
  n.weight = (n.weight.to(at::kFloat) / s.to(n.weight.device()))
                 .to(n.weight.scalar_type());
}

// llm-awq _search_module_scale: `loss` maps the candidate effective
// weights Q(W s)/s of the group (in `ts` order) to the module output error.
at::Tensor SearchScale(
    const std::vector<Target>& ts, const InputCapture& in, int grid,
    const std::function<double(const std::vector<at::Tensor>&)>& loss,
    AwqSearchLog* log) {
  at::Tensor x_mean = in.abs_mean().to(at::kFloat);
  std::vector<at::Tensor> W;
  for (const Target& t : ts) W.push_back(t.lin->weight().to(at::kFloat));
  x_mean = x_mean.to(W[0].device());
  double best = std::numeric_limits<double>::infinity();
  at::Tensor best_s = at::ones_like(x_mean);
  AwqSearchLog local;
  for (int r = 0; r < grid; ++r) {
    const double ratio = double(r) / grid;
    at::Tensor s = x_mean.pow(ratio).clamp_min(1e-4);
    s = s / (s.max() * s.min()).sqrt();
    std::vector<at::Tensor> eff;
    for (size_t k = 0; k < ts.size(); ++k)
      eff.push_back(GroupFakeQuant(W[k] * s.unsqueeze(0), ts[k].spec) /
                    s.unsqueeze(0));
    const double l = loss(eff);
    local.losses.push_back(l);
    if (l < best) {  // strict: ties keep the smaller ratio, as llm-awq
      best = l;
      best_s = s;
      local.best = r;
    }
  }
  if (log) *log = std::move(local);
  return best_s;
}

// Loss of linears fed by the same input, each judged on its own output
// (o_proj, down_proj; q/k/v without an attention loss).
std::function<double(const std::vector<at::Tensor>&)> OwnOutputLoss(
    const std::vector<Target>& ts, const at::Tensor& x) {
  std::vector<at::Tensor> org;
  for (const Target& t : ts)
    org.push_back(at::matmul(x, t.lin->weight().to(at::kFloat).t()));
  return [x, org](const std::vector<at::Tensor>& eff) {
    double se = 0;
    int64_t n = 0;
    for (size_t k = 0; k < eff.size(); ++k) {
      at::Tensor out = at::matmul(x, eff[k].t());
      se += (out - org[k]).pow(2).sum().item<double>();
      n += out.numel();
    }
    return se / double(std::max<int64_t>(n, 1));
  };
}

// llm-awq auto_clip: per (output row, group) max |w| shrink search on 512
// tokens. x: [N, in] inputs as the (scaled) layer sees them.
void ClipWeight(model::DenseLinear* lin, const LayerSpec& spec,
                const at::Tensor& x_all) {
  at::Tensor W = lin->weight().to(at::kFloat);
  const int64_t co = W.size(0), ci = W.size(1);
  const int64_t g = spec.group_size > 0 ? spec.group_size : ci;
  const int64_t G = ci / g;
  const int64_t stride = std::max<int64_t>(1, x_all.size(0) / 512);
  at::Tensor x = x_all.slice(0, 0, x_all.size(0), stride);
  const int64_t N = x.size(0);
  at::Tensor xg = x.reshape({N, G, g}).permute({1, 0, 2});  // [G, N, g]
  at::Tensor best_max_all = at::empty({co, G}, W.options());
  const int64_t oc_batch = 64;
  for (int64_t o1 = 0; o1 < co; o1 += oc_batch) {
    const int64_t o2 = std::min(o1 + oc_batch, co), b = o2 - o1;
    at::Tensor wb = W.slice(0, o1, o2).reshape({b, G, g});
    at::Tensor org = at::bmm(xg, wb.permute({1, 2, 0}));  // [G, N, b]
    at::Tensor org_max = wb.abs().amax(-1);               // [b, G]
    at::Tensor best_max = org_max.clone();
    at::Tensor min_err =
        at::full({b, G}, std::numeric_limits<float>::infinity(), W.options());
    for (int i_s = 0; i_s < 10; ++i_s) {  // max_shrink 0.5, grid 20
      at::Tensor mx = org_max * (1.0 - i_s / 20.0);
      at::Tensor cur =
          at::max(at::min(wb, mx.unsqueeze(-1)), -mx.unsqueeze(-1));
      at::Tensor cg = cur.reshape({b * G, g});
      at::Tensor sc, z;
      FindParams(cg, spec.w_bits, spec.sym, &sc, &z);
      at::Tensor q =
          FakeQuantize(cg, sc.unsqueeze(1), z.unsqueeze(1), spec.w_bits)
              .reshape({b, G, g});
      at::Tensor out = at::bmm(xg, q.permute({1, 2, 0}));  // [G, N, b]
      at::Tensor err = (out - org).pow(2).mean(1).t();     // [b, G]
      at::Tensor better = err < min_err;
      min_err = at::where(better, err, min_err);
      best_max = at::where(better, mx, best_max);
    }
    best_max_all.slice(0, o1, o2).copy_(best_max);
  }
  at::Tensor bm = best_max_all.repeat_interleave(g, 1);  // [co, ci]
  at::Tensor& w = lin->weight();
  w = at::max(at::min(W, bm), -bm).to(w.scalar_type());
}

}  // namespace

at::Tensor MlpForward(const at::Tensor& x, const at::Tensor& w_gate,
                      const at::Tensor& w_up, const at::Tensor& w_down) {
  at::Tensor xf = x.to(at::kFloat);
  at::Tensor h = at::silu(at::matmul(xf, w_gate.to(at::kFloat).t())) *
                 at::matmul(xf, w_up.to(at::kFloat).t());
  return at::matmul(h, w_down.to(at::kFloat).t());
}

at::Tensor InputCapture::abs_mean() const {
  return abs_sum / double(std::max<int64_t>(rows, 1));
}

std::string LinearRole(const std::string& name) {
  static const char* kRoles[][2] = {
      {"self_attn.q_proj", "q"}, {"self_attn.k_proj", "k"},
      {"self_attn.v_proj", "v"}, {"self_attn.o_proj", "o"},
      {"mlp.gate_proj", "gate"}, {"mlp.up_proj", "up"},
      {"mlp.down_proj", "down"}, {"self_attn.W_pack", "qkv"}};
  for (const auto& r : kRoles) {
    const std::string suf = r[0];
    if (name.size() >= suf.size() &&
        name.compare(name.size() - suf.size(), suf.size(), suf) == 0)
      return r[1];
  }
  return "";
}

absl::StatusOr<std::map<std::string, at::Tensor>> ApplyAwq(
    model::DecoderLayer& layer, const std::string& prefix,
    const std::map<std::string, InputCapture>& inputs, const QuantConfig& cfg,
    bool clip, const AttentionLoss& attention_loss,
    std::map<std::string, AwqSearchLog>* log) {
  std::map<std::string, at::Tensor> applied;
  absl::Status st = model::CatchTorch([&]() -> absl::Status {
    auto target = [&](std::shared_ptr<model::Linear>& l,
                      const std::string& rel) -> absl::StatusOr<Target> {
      Target t;
      t.name = prefix + rel;
      QG_ASSIGN_OR_RETURN(t.lin, Dense(l, t.name));
      t.spec = cfg.Resolve(t.name);
      return t;
    };
    auto input = [&](const std::string& role) -> const InputCapture* {
      auto it = inputs.find(role);
      return it == inputs.end() ? nullptr : &it->second;
    };
    QG_ASSIGN_OR_RETURN(Target q, target(layer.q_proj, "self_attn.q_proj"));
    QG_ASSIGN_OR_RETURN(Target k, target(layer.k_proj, "self_attn.k_proj"));
    QG_ASSIGN_OR_RETURN(Target v, target(layer.v_proj, "self_attn.v_proj"));
    QG_ASSIGN_OR_RETURN(Target o, target(layer.o_proj, "self_attn.o_proj"));
    QG_ASSIGN_OR_RETURN(Target gate, target(layer.gate_proj, "mlp.gate_proj"));
    QG_ASSIGN_OR_RETURN(Target up, target(layer.up_proj, "mlp.up_proj"));
    QG_ASSIGN_OR_RETURN(Target down, target(layer.down_proj, "mlp.down_proj"));
    const InputCapture* in_q = input("q");
    const InputCapture* in_o = input("o");
    const InputCapture* in_gate = input("gate");
    const InputCapture* in_down = input("down");
    if (!in_q || !in_o || !in_gate || !in_down)
      return absl::InternalError(prefix + ": AWQ: missing captured inputs");
    auto all_skip = [](const std::vector<Target>& ts) {
      for (const auto& t : ts)
        if (!t.spec.skip) return false;
      return true;
    };
    // Searches use the original inputs; folds are applied afterwards (each
    // fold is an exact reparametrization, so the order does not matter).
    std::vector<Target> qkv = {q, k, v}, gu = {gate, up};
    at::Tensor s_qkv, s_o, s_gu, s_down;
    auto log_of = [&](const char* key) -> AwqSearchLog* {
      return log ? &(*log)[key] : nullptr;
    };
    if (!all_skip(qkv)) {
      std::function<double(const std::vector<at::Tensor>&)> loss;
      if (attention_loss) {
        loss = [&](const std::vector<at::Tensor>& eff) {
          return attention_loss({{"q", eff[0]}, {"k", eff[1]}, {"v", eff[2]}});
        };
      } else {
        loss = OwnOutputLoss(qkv, in_q->sample);
      }
      s_qkv = SearchScale(qkv, *in_q, cfg.awq_grid, loss, log_of("qkv"));
    }
    const bool v_o_ok = v.lin->weight().size(0) == o.lin->weight().size(1) &&
                        v.lin->weight().size(1) == o.lin->weight().size(0);
    if (v_o_ok && !o.spec.skip)
      s_o = SearchScale({o}, *in_o, cfg.awq_grid,
                        OwnOutputLoss({o}, in_o->sample), log_of("o"));
    if (!all_skip(gu)) {
      // The MLP output (down_proj in full precision) on the sampled rows.
      const at::Tensor& x = in_gate->sample;
      at::Tensor wd = down.lin->weight().to(at::kFloat);
      at::Tensor org = MlpForward(x, gate.lin->weight().to(at::kFloat),
                                  up.lin->weight().to(at::kFloat), wd);
      auto loss = [&](const std::vector<at::Tensor>& eff) {
        return (MlpForward(x, eff[0], eff[1], wd) - org)
            .pow(2)
            .mean()
            .item<double>();
      };
      s_gu = SearchScale(gu, *in_gate, cfg.awq_grid, loss, log_of("gate_up"));
    }
    if (!down.spec.skip)
      s_down =
          SearchScale({down}, *in_down, cfg.awq_grid,
                      OwnOutputLoss({down}, in_down->sample), log_of("down"));
    if (s_qkv.defined()) {
      ScaleNorm(layer.input_layernorm, s_qkv);
      ScaleColumns(qkv, s_qkv);
      applied["qkv"] = s_qkv;
    }
    if (s_o.defined()) {
      ScaleRows(v.lin, s_o);
      ScaleColumns({o}, s_o);
      applied["o"] = s_o;
    }
    if (s_gu.defined()) {
      ScaleNorm(layer.post_attention_layernorm, s_gu);
      ScaleColumns(gu, s_gu);
      applied["gate_up"] = s_gu;
    }
    if (s_down.defined()) {
      ScaleRows(up.lin, s_down);
      ScaleColumns({down}, s_down);
      applied["down"] = s_down;
    }
    if (!clip) return absl::OkStatus();
    // Clipping sees the inputs as scaled (x / s), as llm-awq scales its
    // cached input features in apply_scale. q/k are not clipped (llm-awq:
    // their outputs go through the attention softmax).
    auto scaled = [](const InputCapture* c, const at::Tensor& s) {
      return s.defined() ? c->sample / s.unsqueeze(0) : c->sample;
    };
    if (!v.spec.skip) ClipWeight(v.lin, v.spec, scaled(in_q, s_qkv));
    if (!o.spec.skip) ClipWeight(o.lin, o.spec, scaled(in_o, s_o));
    if (!gate.spec.skip) ClipWeight(gate.lin, gate.spec, scaled(in_gate, s_gu));
    if (!up.spec.skip) ClipWeight(up.lin, up.spec, scaled(in_gate, s_gu));
    if (!down.spec.skip)
      ClipWeight(down.lin, down.spec, scaled(in_down, s_down));
    return absl::OkStatus();
  });
  if (!st.ok()) return st;
  return applied;
}

absl::StatusOr<std::map<std::string, at::Tensor>> ApplySmoothQuant(
    model::DecoderLayer& layer,
    const std::map<std::string, InputCapture>& inputs, double alpha) {
  std::map<std::string, at::Tensor> applied;
  absl::Status st = model::CatchTorch([&]() -> absl::Status {
    auto smooth = [&](model::RMSNorm& norm,
                      std::vector<std::shared_ptr<model::Linear>*> ls,
                      const std::string& role,
                      const std::string& key) -> absl::Status {
      auto it = inputs.find(role);
      if (it == inputs.end())
        return absl::InternalError("SmoothQuant: missing inputs of " + role);
      std::vector<Target> ts;
      at::Tensor wmax;
      for (auto* l : ls) {
        Target t;
        QG_ASSIGN_OR_RETURN(t.lin, Dense(*l, role));
        at::Tensor m = t.lin->weight().to(at::kFloat).abs().amax(0);
        wmax = wmax.defined() ? at::maximum(wmax, m) : m;
        ts.push_back(t);
      }
      at::Tensor amax = it->second.abs_max.to(wmax.device());
      // smooth.py: scales = act^a / w^(1-a), clamped at 1e-5.
      at::Tensor s = (amax.pow(alpha) / wmax.clamp_min(1e-5).pow(1 - alpha))
                         .clamp_min(1e-5);
      ScaleNorm(norm, s);
      ScaleColumns(ts, s);
      applied[key] = s;
      return absl::OkStatus();
    };
    QG_RETURN_IF_ERROR(smooth(layer.input_layernorm,
                              {&layer.q_proj, &layer.k_proj, &layer.v_proj},
                              "q", "qkv"));
    QG_RETURN_IF_ERROR(smooth(layer.post_attention_layernorm,
                              {&layer.gate_proj, &layer.up_proj}, "gate",
                              "gate_up"));
    return absl::OkStatus();
  });
  if (!st.ok()) return st;
  return applied;
}

}  // namespace qgrid::quant
