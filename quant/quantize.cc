#include "quant/quantize.h"

#include <ATen/ATen.h>
#include <sys/resource.h>

#include <chrono>
#include <cmath>
#include <fstream>
#include <limits>
#include <map>
#include <nlohmann/json.hpp>
#include <random>
#include <set>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/progress.h"
#include "common/status_macros.h"
#include "model/torch_util.h"
#include "quant/quant_linear.h"
#include "quant/quantizer.h"
#include "quant/transforms.h"

namespace qgrid::quant {
namespace {

using Clock = std::chrono::steady_clock;
double Since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

// Streaming moments for TensorStats over many batches. The outlier count
// uses each batch's own mean/std (one pass).
struct Moments {
  double n = 0, s1 = 0, s2 = 0, s3 = 0, s4 = 0, absmax = 0, outliers = 0;
  void Add(const at::Tensor& x) {
    at::Tensor xf = x.detach().to(at::kFloat).flatten();
    const int64_t nb = xf.numel();
    if (nb == 0) return;
    at::Tensor xd = xf.to(at::kDouble);
    s1 += xd.sum().item<double>();
    at::Tensor x2 = xd * xd;
    s2 += x2.sum().item<double>();
    s3 += (x2 * xd).sum().item<double>();
    s4 += (x2 * x2).sum().item<double>();
    absmax = std::max(absmax, xf.abs().max().item<double>());
    if (nb > 1) {
      at::Tensor m = xf.mean(), sd = xf.std();
      outliers += ((xf - m).abs() > sd * 6).sum().item<double>();
    }
    n += nb;
  }
  TensorStats Finish() const {
    TensorStats t;
    t.count = static_cast<int64_t>(n);
    if (n == 0) return t;
    const double m = s1 / n;
    const double var = std::max(s2 / n - m * m, 0.0);
    const double m4 =
        s4 / n - 4 * m * s3 / n + 6 * m * m * s2 / n - 3 * m * m * m * m;
    t.absmax = absmax;
    t.std = std::sqrt(var);
    t.kurtosis = var > 0 ? m4 / (var * var) : 0;
    t.outlier_fraction = outliers / n;
    return t;
  }
};

// The input group a linear belongs to: linears sharing an input share the
// Hessian and captured statistics. Returns the group key and whether this
// linear is the group's leader (the one that records).
std::pair<std::string, bool> InputGroup(const std::string& name) {
  const std::string role = LinearRole(name);
  if (role == "q" || role == "qkv") return {"q", true};
  if (role == "k" || role == "v") return {"q", false};
  if (role == "gate") return {"gate", true};
  if (role == "up") return {"gate", false};
  if (role == "o" || role == "down") return {role, true};
  return {name, true};
}

struct Capture {
  bool want_sample = false;
  int64_t sample_stride = 1;
  InputCapture in;
  std::unique_ptr<HessianAccumulator> hessian;
  Moments moments;
  std::vector<at::Tensor> samples;
  void Add(const at::Tensor& x, bool hess) {
    at::Tensor x2 = x.detach().reshape({-1, x.size(-1)}).to(at::kFloat);
    at::Tensor a = x2.abs();
    at::Tensor s = a.sum(0), m = a.amax(0);
    in.abs_sum = in.abs_sum.defined() ? in.abs_sum + s : s;
    in.abs_max = in.abs_max.defined() ? at::maximum(in.abs_max, m) : m;
    in.rows += x2.size(0);
    if (want_sample)
      samples.push_back(x2.slice(0, 0, x2.size(0), sample_stride).clone());
    if (hess) {
      if (!hessian) hessian = std::make_unique<HessianAccumulator>(x2.size(1));
      hessian->Add(x2);
      moments.Add(x2);
    }
  }
  void FinishSamples() {
    if (!samples.empty()) in.sample = at::cat(samples, 0);
    samples.clear();
  }
};

nlohmann::json StatsJson(const TensorStats& t) {
  return {{"absmax", t.absmax},
          {"std", t.std},
          {"kurtosis", t.kurtosis},
          {"outlier_fraction", t.outlier_fraction},
          {"count", t.count}};
}

absl::StatusOr<at::Tensor> SampleWindows(const std::vector<int>& ids, int n,
                                         int seqlen, uint64_t seed,
                                         const std::string& source) {
  if (n < 1 || seqlen < 1)
    return absl::InvalidArgumentError(
        "calibration: samples and seqlen must be >= 1");
  if (static_cast<int64_t>(ids.size()) < int64_t{seqlen} + 1)
    return absl::InvalidArgumentError(absl::StrCat(
        source, ": only ", ids.size(), " tokens; calibration windows of ",
        seqlen, " tokens need at least ", seqlen + 1));
  std::mt19937_64 rng(seed);
  const uint64_t span = ids.size() - seqlen;
  at::Tensor out = at::empty({n, seqlen}, at::kLong);
  int64_t* p = out.data_ptr<int64_t>();
  for (int i = 0; i < n; ++i) {
    const uint64_t start = rng() % span;
    for (int j = 0; j < seqlen; ++j)
      p[int64_t{i} * seqlen + j] = ids[start + j];
  }
  return out;
}

}  // namespace

absl::StatusOr<at::Tensor> SampleCalibrationFromString(
    const model::Tokenizer& tok, const std::string& text, int n, int seqlen,
    uint64_t seed) {
  return SampleWindows(tok.Encode(text, /*add_special_tokens=*/true), n, seqlen,
                       seed, "calibration text");
}

TensorStats ComputeStats(const at::Tensor& x) {
  Moments m;
  m.Add(x);
  return m.Finish();
}

int64_t PeakRssBytes() {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return static_cast<int64_t>(ru.ru_maxrss) * 1024;
}

std::string QuantReport::FormatLayerTable() const {
  std::string out =
      absl::StrFormat("%-44s %-12s %4s %6s %10s %8s\n", "layer", "method",
                      "bits", "group", "rel_mse", "sec");
  for (const auto& l : layers) {
    absl::StrAppendFormat(&out, "%-44s %-12s %4d %6d %10.3g %8.2f\n", l.name,
                          l.method, l.bits, l.group_size, l.rel_output_mse,
                          l.seconds);
  }
  return out;
}

std::string QuantReport::ToJson(int indent) const {
  nlohmann::json j;
  j["config"] = nlohmann::json::parse(config_json, nullptr, false);
  j["calib_samples"] = calib_samples;
  j["calib_seqlen"] = calib_seqlen;
  j["total_seconds"] = total_seconds;
  j["avg_bits_per_param"] = avg_bits_per_param;
  j["peak_rss_bytes"] = peak_rss_bytes;
  nlohmann::json ls = nlohmann::json::array();
  for (const LayerReport& l : layers) {
    nlohmann::json o;
    o["name"] = l.name;
    o["method"] = l.method;
    o["bits"] = l.bits;
    o["group_size"] = l.group_size;
    o["seconds"] = l.seconds;
    if (std::isfinite(l.rel_output_mse))
      o["rel_output_mse"] = l.rel_output_mse;
    else
      o["rel_output_mse"] = nullptr;
    o["bits_per_param"] = l.bits_per_param;
    o["outlier_fraction"] = l.outlier_fraction;
    o["params"] = l.params;
    o["weight_stats"] = StatsJson(l.weight_stats);
    o["input_stats"] = StatsJson(l.input_stats);
    ls.push_back(o);
  }
  j["layers"] = ls;
  nlohmann::json kv = nlohmann::json::array();
  for (size_t i = 0; i < key_stats.size(); ++i)
    kv.push_back({{"layer", i},
                  {"keys", StatsJson(key_stats[i])},
                  {"values", StatsJson(value_stats[i])}});
  j["kv_stats"] = kv;
  return j.dump(indent);
}

namespace {

bool IsAwq(const std::string& m) { return m == "awq" || m == "awq+gptq"; }
bool IsSmooth(const std::string& m) {
  return m == "smoothquant" || m == "smoothquant+gptq";
}

class Pipeline {
 public:
  Pipeline(model::CausalLM& lm, const QuantConfig& cfg, const at::Tensor& ids,
           const QuantizeOptions& opts)
      : lm_(lm), cfg_(cfg), ids_(ids), opts_(opts) {}

  absl::Status Run(QuantReport* rep) {
    const auto t0 = Clock::now();
    home_ = lm_.device();
    work_ = opts_.device.empty() ? home_ : at::Device(opts_.device);
    if (work_.is_cuda() && !at::hasCUDA())
      return absl::InvalidArgumentError("device " + opts_.device +
                                        ": this libtorch build has no CUDA");
    rep->config_json = cfg_.ToCanonicalJson();
    const bool have_calib = ids_.defined() && ids_.numel() > 0;
    if (!have_calib && cfg_.NeedsCalibration())
      return absl::InvalidArgumentError(
          "method " + cfg_.method +
          " needs calibration data (--calib-text or calibration ids)");
    if (have_calib && (ids_.dim() != 2 || ids_.scalar_type() != at::kLong))
      return absl::InvalidArgumentError(
          "calibration ids must be an int64 tensor [n, seqlen]");
    const int L = lm_.num_layers();
    rep->key_stats.assign(L, TensorStats());
    rep->value_stats.assign(L, TensorStats());
    std::vector<Moments> kmom(L), vmom(L);

    // KV fake-quant is installed first so that the hidden states fed to the
    // next block are those of the quantized model (keys after RoPE).
    const int kv_bits = cfg_.kv_bits, kv_g = cfg_.kv_group_size;
    const bool record = opts_.record_stats;
    lm_.SetKVTransform([&, kv_bits, kv_g, record](int layer, bool is_key,
                                                  const at::Tensor& x) {
      if (record && layer >= 0 && layer < L && recording_kv_)
        (is_key ? kmom : vmom)[layer].Add(x);
      return kv_bits < 16 ? FakeQuantKV(x, kv_bits, kv_g) : x;
    });

    std::vector<at::Tensor> hidden;
    std::vector<model::AttentionContext> ctx;
    if (have_calib) {
      rep->calib_samples = ids_.size(0);
      rep->calib_seqlen = ids_.size(1);
      const int64_t bs = std::max(1, opts_.batch_size);
      at::Tensor ids = ids_.to(lm_.device());
      for (int64_t b = 0; b < ids.size(0); b += bs) {
        at::Tensor chunk = ids.slice(0, b, std::min(b + bs, ids.size(0)));
        hidden.push_back(lm_.Embed(chunk).to(work_));
        model::AttentionContext c =
            lm_.MakeContext(at::Tensor(), chunk.size(0), chunk.size(1), 0);
        for (at::Tensor* t : {&c.positions, &c.mask, &c.cos, &c.sin})
          if (t->defined()) *t = t->to(work_);
        ctx.push_back(std::move(c));
      }
      total_tokens_ = ids.numel();
    }

    std::vector<model::LinearRef> refs = lm_.Linears();
    Progress progress("quantize", L, "blocks", opts_.show_progress);
    for (int i = 0; i < L; ++i) {
      const auto tb = Clock::now();
      std::vector<model::LinearRef> block;
      for (const auto& r : refs)
        if (r.layer == i) block.push_back(r);
      QG_RETURN_IF_ERROR(MoveBlock(i, work_));
      QG_RETURN_IF_ERROR(
          QuantizeBlock(i, block, have_calib, &hidden, ctx, rep));
      if (have_calib) {
        recording_kv_ = true;
        for (size_t b = 0; b < hidden.size(); ++b)
          hidden[b] = lm_.LayerForward(i, hidden[b], ctx[b]);
        recording_kv_ = false;
      }
      QG_RETURN_IF_ERROR(MoveBlock(i, home_));
      if (record) {
        rep->key_stats[i] = kmom[i].Finish();
        rep->value_stats[i] = vmom[i].Finish();
      }
      const double secs = Since(tb);
      progress.Add(1, absl::StrCat("block ", i, " ", secs, " s"));
      if (opts_.on_block) opts_.on_block(i, L, secs);
    }
    progress.Finish();
    // lm_head (skipped unless a rule asks for it): its input is the final
    // norm of the last hidden state.
    for (auto& r : refs) {
      if (r.layer != -1) continue;
      QG_RETURN_IF_ERROR(QuantizeHead(r, have_calib, hidden, rep));
    }
    lm_.SetLinearInputObserver(nullptr);
    if (kv_bits < 16) {
      lm_.SetKVTransform([kv_bits, kv_g](int, bool, const at::Tensor& x) {
        return FakeQuantKV(x, kv_bits, kv_g);
      });
    } else {
      lm_.SetKVTransform(nullptr);
    }
    double bits = 0, params = 0;
    for (const auto& l : rep->layers) {
      bits += l.bits_per_param * double(l.params);
      params += double(l.params);
    }
    rep->avg_bits_per_param = params > 0 ? bits / params : 16;
    rep->total_seconds = Since(t0);
    rep->peak_rss_bytes = PeakRssBytes();
    return absl::OkStatus();
  }

 private:
  // Runs the block over all calibration batches with an observer filling
  // `caps` (outputs discarded).
  void CapturePass(int i, const std::vector<model::LinearRef>& block,
                   const std::vector<at::Tensor>& hidden,
                   const std::vector<model::AttentionContext>& ctx,
                   std::map<std::string, Capture>* caps, bool samples,
                   bool hess) {
    std::set<std::string> names;
    for (const auto& r : block) names.insert(r.name);
    const int64_t stride = std::max<int64_t>(1, total_tokens_ / kMaxSampleRows);
    lm_.SetLinearInputObserver(
        [&, names, samples, hess, stride](const std::string& name,
                                          const at::Tensor& x) {
          if (!names.count(name)) return;
          auto [key, leader] = InputGroup(name);
          if (!leader) return;
          Capture& c = (*caps)[key];
          c.want_sample = samples;
          c.sample_stride = stride;
          c.Add(x, hess);
        });
    for (size_t b = 0; b < hidden.size(); ++b)
      (void)lm_.LayerForward(i, hidden[b], ctx[b]);
    lm_.SetLinearInputObserver(nullptr);
    for (auto& [k, c] : *caps) c.FinishSamples();
  }

  // Moves decoder block i (norms and linear slots) to `dev` when a work
  // device was asked for (also when it is the model's own device, which
  // runs the same code path).
  absl::Status MoveBlock(int i, const at::Device& dev) {
    if (opts_.device.empty()) return absl::OkStatus();
    model::DecoderLayer& L = lm_.layer(i);
    for (model::RMSNorm* n : {&L.input_layernorm, &L.post_attention_layernorm})
      n->weight = n->weight.to(dev);
    for (auto* slot : {&L.q_proj, &L.k_proj, &L.v_proj, &L.o_proj, &L.gate_proj,
                       &L.up_proj, &L.down_proj}) {
      QG_ASSIGN_OR_RETURN(*slot, LinearToDevice(*slot, dev));
    }
    return absl::OkStatus();
  }

  // llm-awq scores the q/k/v scales by the self-attention module's output:
  // o_proj (full precision) applied to o_proj's input, captured while the
  // block runs over every calibration batch with candidate q/k/v weights.
  // The reference output is the block as it is now (AWQ folds are exact).
  AttentionLoss MakeAttentionLoss(
      int i, const std::vector<model::LinearRef>& block,
      const std::vector<at::Tensor>& hidden,
      const std::vector<model::AttentionContext>& ctx) {
    model::DecoderLayer& L = lm_.layer(i);
    std::string o_name;
    for (const auto& r : block)
      if (LinearRole(r.name) == "o") o_name = r.name;
    if (o_name.empty()) return nullptr;
    at::Tensor wo = L.o_proj->DenseWeight().to(at::kFloat);
    auto run = [this, i, &hidden, &ctx, o_name, wo]() {
      std::vector<at::Tensor> outs;
      lm_.SetLinearInputObserver(
          [&](const std::string& name, const at::Tensor& x) {
            if (name == o_name)
              outs.push_back(at::matmul(x.to(at::kFloat), wo.t()));
          });
      for (size_t b = 0; b < hidden.size(); ++b)
        (void)lm_.LayerForward(i, hidden[b], ctx[b]);
      lm_.SetLinearInputObserver(nullptr);
      return outs;
    };
    auto ref = std::make_shared<std::vector<at::Tensor>>(run());
    return [&L, run,
            ref](const std::map<std::string, at::Tensor>& weights) -> double {
      std::map<std::string, std::shared_ptr<model::Linear>*> slots = {
          {"q", &L.q_proj}, {"k", &L.k_proj}, {"v", &L.v_proj}};
      std::map<std::string, std::shared_ptr<model::Linear>> saved;
      for (const auto& [role, w] : weights) {
        auto* slot = slots.at(role);
        saved[role] = *slot;
        *slot = std::make_shared<model::DenseLinear>(
            w.to((*slot)->DenseWeight().scalar_type()), (*slot)->bias());
      }
      std::vector<at::Tensor> outs = run();
      for (auto& [role, l] : saved) *slots.at(role) = l;
      double se = 0;
      int64_t n = 0;
      for (size_t b = 0; b < outs.size() && b < ref->size(); ++b) {
        se += (outs[b] - (*ref)[b]).pow(2).sum().item<double>();
        n += outs[b].numel();
      }
      return se / double(std::max<int64_t>(n, 1));
    };
  }

  absl::Status QuantizeBlock(int i, const std::vector<model::LinearRef>& block,
                             bool have_calib, std::vector<at::Tensor>* hidden,
                             const std::vector<model::AttentionContext>& ctx,
                             QuantReport* rep) {
    bool awq = false, smooth = false;
    for (const auto& r : block) {
      LayerSpec s = cfg_.Resolve(r.name);
      if (s.skip) continue;
      awq |= IsAwq(s.method);
      smooth |= IsSmooth(s.method);
    }
    const std::string prefix = absl::StrCat("model.layers.", i, ".");
    if ((awq || smooth) && have_calib) {
      std::map<std::string, Capture> pre;
      CapturePass(i, block, *hidden, ctx, &pre, /*samples=*/awq,
                  /*hess=*/false);
      std::map<std::string, InputCapture> inputs;
      for (auto& [k, c] : pre) inputs[k] = c.in;
      if (awq) {
        // awq+gptq also clips: llm-awq's recipe (and AutoAWQ's) is scale
        // search + clipping, then the weight quantizer, here GPTQ.
        QG_RETURN_IF_ERROR(ApplyAwq(lm_.layer(i), prefix, inputs, cfg_,
                                    cfg_.awq_clip,
                                    MakeAttentionLoss(i, block, *hidden, ctx))
                               .status());
      } else {
        QG_RETURN_IF_ERROR(
            ApplySmoothQuant(lm_.layer(i), inputs, cfg_.alpha).status());
      }
    }
    // One stage (the whole block), or GPTQ's true-sequential stages: q/k/v,
    // o, gate/up, down (then anything else), each captured after the stages
    // before it are quantized.
    std::vector<std::vector<model::LinearRef>> stages;
    if (cfg_.true_sequential && have_calib) {
      const std::vector<std::set<std::string>> order = {
          {"q", "k", "v", "qkv"}, {"o"}, {"gate", "up"}, {"down"}};
      stages.assign(order.size() + 1, {});
      for (const auto& r : block) {
        size_t s = 0;
        while (s < order.size() && !order[s].count(LinearRole(r.name))) ++s;
        stages[s].push_back(r);
      }
    } else {
      stages.push_back(block);
    }
    for (const auto& stage : stages) {
      if (stage.empty()) continue;
      std::map<std::string, Capture> caps;
      if (have_calib)
        CapturePass(i, stage, *hidden, ctx, &caps, /*samples=*/false,
                    /*hess=*/true);
      for (const auto& r : stage) {
        auto [key, leader] = InputGroup(r.name);
        Capture* c = caps.count(key) ? &caps[key] : nullptr;
        QG_RETURN_IF_ERROR(QuantizeLinear(r, c, rep));
      }
    }
    return absl::OkStatus();
  }

  absl::Status QuantizeHead(model::LinearRef& r, bool have_calib,
                            const std::vector<at::Tensor>& hidden,
                            QuantReport* rep) {
    LayerSpec s = cfg_.Resolve(r.name);
    Capture cap;
    Capture* c = nullptr;
    if (!s.skip && have_calib) {
      lm_.SetLinearInputObserver(
          [&](const std::string& name, const at::Tensor& x) {
            if (name == r.name) cap.Add(x, true);
          });
      for (const auto& h : hidden) (void)lm_.Head(h.to(home_));
      lm_.SetLinearInputObserver(nullptr);
      c = &cap;
    }
    return QuantizeLinear(r, c, rep);
  }

  absl::Status QuantizeLinear(const model::LinearRef& r, Capture* c,
                              QuantReport* rep) {
    const auto t0 = Clock::now();
    LayerSpec s = cfg_.Resolve(r.name);
    std::shared_ptr<model::Linear>& slot = *r.slot;
    LayerReport lr;
    lr.name = r.name;
    at::Tensor W = slot->DenseWeight().to(at::kFloat);
    lr.params = W.numel();
    if (opts_.record_stats) lr.weight_stats = ComputeStats(W);
    if (c) lr.input_stats = c->moments.Finish();
    at::Tensor H;
    if (c && c->hessian) H = c->hessian->hessian();
    if (s.skip) {
      lr.method = "skip";
      lr.bits = 16;
      lr.bits_per_param = 16;
      lr.rel_output_mse = 0;
      rep->layers.push_back(lr);
      return absl::OkStatus();
    }
    lr.method = s.method;
    lr.bits = s.w_bits;
    lr.group_size = s.group_size;
    ActQuantSpec act;
    act.bits = cfg_.a_bits;
    act.per_token = cfg_.a_granularity == "per_token";
    if (act.enabled() && cfg_.a_static) {
      if (!c)
        return absl::InvalidArgumentError(
            r.name + ": static activation scales need calibration data");
      const double qmax = std::ldexp(1.0, act.bits - 1) - 1;
      act.static_scale =
          std::max(c->in.abs_max.max().item<double>(), 1e-5) / qmax;
    }
    const at::ScalarType dtype = lm_.dtype();
    at::Tensor wq;
    if (s.method == "llm_int8") {
      auto lin = std::make_shared<Int8OutlierLinear>(
          W, slot->bias(), cfg_.llm_int8_threshold, dtype);
      wq = lin->DenseWeight().to(at::kFloat);
      lr.bits_per_param = 8 + 16.0 / double(W.size(1));
      slot = lin;
    } else {
      QG_ASSIGN_OR_RETURN(auto q, MakeWeightQuantizer(s, cfg_));
      if (q->needs_hessian() && !H.defined())
        return absl::InvalidArgumentError(r.name + ": " + s.method +
                                          " needs calibration inputs");
      absl::StatusOr<QuantizedWeight> qw = q->Quantize(W, H);
      if (!qw.ok()) return Annotate(qw.status(), r.name);
      wq = qw->weight;
      lr.bits_per_param = s.method == "fp16" ? 16 : qw->bits_per_param;
      lr.outlier_fraction = qw->outlier_fraction;
      if (s.method == "fp16") lr.bits = 16;
      slot = std::make_shared<FakeQuantLinear>(std::move(*qw), slot->bias(),
                                               dtype, act);
    }
    lr.rel_output_mse = H.defined() ? RelativeOutputError(W, wq, H)
                                    : std::numeric_limits<double>::quiet_NaN();
    lr.seconds = Since(t0);
    rep->layers.push_back(lr);
    return absl::OkStatus();
  }

  static constexpr int64_t kMaxSampleRows = 4096;
  model::CausalLM& lm_;
  const QuantConfig& cfg_;
  at::Tensor ids_;
  const QuantizeOptions& opts_;
  int64_t total_tokens_ = 0;
  bool recording_kv_ = false;
  // Where the model lives and where blocks are quantized.
  at::Device home_ = at::kCPU, work_ = at::kCPU;
};

}  // namespace

absl::StatusOr<QuantReport> QuantizeModel(model::CausalLM& lm,
                                          const QuantConfig& cfg,
                                          const at::Tensor& calib_ids,
                                          const QuantizeOptions& opts) {
  QG_RETURN_IF_ERROR(Validate(cfg, &lm.config()));
  QuantReport rep;
  Pipeline p(lm, cfg, calib_ids, opts);
  absl::Status st = model::CatchTorch([&] { return p.Run(&rep); });
  if (!st.ok()) {
    lm.SetLinearInputObserver(nullptr);
    lm.SetKVTransform(nullptr);
    return st;
  }
  return rep;
}

}  // namespace qgrid::quant
