#include "model/causal_lm.h"

#include <ATen/ATen.h>
#include <glog/logging.h>

#include <cmath>
#include <filesystem>
#include <limits>
#include <optional>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/malloc_tuning.h"
#include "common/status_macros.h"
#include "model/safetensors.h"
#include "model/torch_compat.h"

namespace qgrid::model {

namespace fs = std::filesystem;

// ---------------------------------------------------------------------------
// Building blocks

DenseLinear::DenseLinear(at::Tensor weight, at::Tensor bias)
    : weight_(std::move(weight)), bias_(std::move(bias)) {}

namespace {
// libtorch 1.13 has no CPU GEMM for float16: compute those products in
// float32 and round the result to float16 (what a GPU fp16 GEMM with fp32
// accumulation yields, up to summation order).
bool CpuHalf(const at::Tensor& x) {
  return x.scalar_type() == at::kHalf && x.device().is_cpu();
}
at::Tensor MatMul(const at::Tensor& a, const at::Tensor& b) {
  if (CpuHalf(a)) {
    return at::matmul(a.to(at::kFloat), b.to(at::kFloat)).to(at::kHalf);
  }
  return at::matmul(a, b);
}
}  // namespace

at::Tensor DenseLinear::Forward(const at::Tensor& x) const {
  if (CpuHalf(x)) {
    return at::linear(x.to(at::kFloat), weight_.to(at::kFloat),
                      bias_.defined() ? bias_.to(at::kFloat) : bias_)
        .to(at::kHalf);
  }
  return at::linear(x, weight_, bias_);
}
int64_t DenseLinear::in_features() const { return weight_.size(1); }
int64_t DenseLinear::out_features() const { return weight_.size(0); }
int64_t DenseLinear::WeightBytes() const {
  int64_t n = weight_.numel() * weight_.element_size();
  if (bias_.defined()) n += bias_.numel() * bias_.element_size();
  return n;
}

// LlamaRMSNorm: the statistics in float32, the product with the weight in
// the input dtype (weight * x_normalized.to(input_dtype)).
at::Tensor RMSNorm::Forward(const at::Tensor& x) const {
  at::Tensor h = x.to(at::kFloat);
  at::Tensor var = h.pow(2).mean(-1, /*keepdim=*/true);
  h = h * at::rsqrt(var + eps);
  return weight * h.to(x.scalar_type());
}

int64_t KVCache::length() const {
  if (keys.empty() || !keys[0].defined()) return 0;
  return keys[0].size(2);
}

void KVCache::Clear() {
  keys.clear();
  values.clear();
}

KVCache KVCache::RepeatInterleave(int64_t times) const {
  KVCache out;
  for (const auto& k : keys)
    out.keys.push_back(k.defined() ? k.repeat_interleave(times, 0) : k);
  for (const auto& v : values)
    out.values.push_back(v.defined() ? v.repeat_interleave(times, 0) : v);
  return out;
}

KVCache KVCache::Select(const at::Tensor& index) const {
  KVCache out;
  for (const auto& k : keys)
    out.keys.push_back(k.defined() ? k.index_select(0, index.to(k.device()))
                                   : k);
  for (const auto& v : values)
    out.values.push_back(v.defined() ? v.index_select(0, index.to(v.device()))
                                     : v);
  return out;
}

// ---------------------------------------------------------------------------
// Loading

// Where Init reads weights from: a checkpoint (Load) or a tensor map
// (FromTensors). Tensors come back in the model's dtype and device.
struct CausalLM::WeightSource {
  const Checkpoint* ckpt = nullptr;
  std::map<std::string, at::Tensor>* tensors = nullptr;
  std::string origin;  // for error messages
  at::ScalarType dtype = at::kFloat;
  at::Device device = at::kCPU;

  bool Has(const std::string& name) const {
    return ckpt ? ckpt->Has(name) : tensors->count(name) > 0;
  }
  absl::StatusOr<at::Tensor> Get(const std::string& name) {
    at::Tensor t;
    if (ckpt) {
      QG_ASSIGN_OR_RETURN(t, ckpt->Load(name, dtype));
    } else {
      auto it = tensors->find(name);
      if (it == tensors->end()) {
        return absl::NotFoundError(
            absl::StrCat(origin, ": tensor \"", name, "\" is missing"));
      }
      // detach(): our own leaf, so requires_grad on it leaves the caller's
      // tensor alone. The entry is dropped so its memory can go.
      t = it->second.detach().to(dtype);
      tensors->erase(it);
    }
    if (t.device() != device) t = t.to(device);
    return t;
  }
};

namespace {

absl::Status CheckShape(const std::string& origin, const std::string& name,
                        const at::Tensor& t, std::vector<int64_t> want) {
  if (t.sizes().vec() != want) {
    return absl::InvalidArgumentError(absl::StrCat(
        origin, ": tensor \"", name, "\" has shape [",
        absl::StrJoin(t.sizes().vec(), ", "), "], config.json implies [",
        absl::StrJoin(want, ", "), "]"));
  }
  return absl::OkStatus();
}

// RoPE inverse frequencies, float32, as transformers' rope init functions
// compute them: 1 / theta^(2i/d); "linear" divides by the factor; "llama3"
// keeps high frequencies, divides low ones by the factor and interpolates
// in between (transformers _compute_llama3_parameters).
at::Tensor RopeInvFreq(const ModelConfig& c) {
  const int64_t d = c.head_dim;
  at::Tensor exps =
      at::arange(0, d, 2, at::kLong).to(at::kFloat) / static_cast<float>(d);
  at::Tensor inv = 1.0 / at::pow(c.rope_theta, exps);
  const RopeScaling& rs = c.rope_scaling;
  if (rs.type == "linear") {
    inv = inv / rs.factor;
  } else if (rs.type == "llama3") {
    const double old_len =
        static_cast<double>(rs.original_max_position_embeddings);
    const double low_wavelen = old_len / rs.low_freq_factor;
    const double high_wavelen = old_len / rs.high_freq_factor;
    at::Tensor wavelen = 2 * M_PI / inv;
    at::Tensor scaled = at::where(wavelen > low_wavelen, inv / rs.factor, inv);
    at::Tensor smooth = (old_len / wavelen - rs.low_freq_factor) /
                        (rs.high_freq_factor - rs.low_freq_factor);
    at::Tensor smoothed = (1 - smooth) * scaled / rs.factor + smooth * scaled;
    at::Tensor medium =
        at::logical_not(wavelen < high_wavelen)
            .logical_and(at::logical_not(wavelen > low_wavelen));
    inv = at::where(medium, smoothed, scaled);
  }
  return inv.to(at::kFloat);
}

at::Tensor RotateHalf(const at::Tensor& x) {
  const int64_t h = x.size(-1) / 2;
  return at::cat({-x.narrow(-1, h, h), x.narrow(-1, 0, h)}, -1);
}

}  // namespace

absl::Status CausalLM::Init(WeightSource& src) {
  // Every forward allocates and frees activations of several MB; with
  // glibc's defaults each is page-faulted in again (common/malloc_tuning.h).
  // The qgrid binary, tests and benches tune the allocator at start; this
  // covers programs that only embed the library (once per process).
  static const bool malloc_tuned = TuneMallocForTensors();
  (void)malloc_tuned;
  const ModelConfig& c = config_;
  const int64_t H = c.hidden_size, I = c.intermediate_size, V = c.vocab_size;
  const int64_t q_out = c.num_heads * c.head_dim;
  const int64_t kv_out = c.num_kv_heads * c.head_dim;

  auto get = [&](const std::string& name,
                 std::vector<int64_t> shape) -> absl::StatusOr<at::Tensor> {
    QG_ASSIGN_OR_RETURN(at::Tensor t, src.Get(name));
    QG_RETURN_IF_ERROR(CheckShape(src.origin, name, t, shape));
    return t;
  };
  // A linear from the factory (packed/quantized forms) or "<name>.weight"
  // (+ "<name>.bias" when stored).
  auto linear = [&](const std::string& name, int64_t out, int64_t in,
                    bool need_bias) -> absl::StatusOr<std::shared_ptr<Linear>> {
    if (opts_.linear_factory && src.ckpt) {
      QG_ASSIGN_OR_RETURN(auto l,
                          opts_.linear_factory(name, *src.ckpt, c, opts_));
      if (l) return l;
    }
    QG_ASSIGN_OR_RETURN(at::Tensor w, get(name + ".weight", {out, in}));
    at::Tensor b;
    if (need_bias || src.Has(name + ".bias")) {
      QG_ASSIGN_OR_RETURN(b, get(name + ".bias", {out}));
    }
    return std::shared_ptr<Linear>(std::make_shared<DenseLinear>(w, b));
  };
  auto norm = [&](const std::string& name) -> absl::StatusOr<RMSNorm> {
    RMSNorm n;
    QG_ASSIGN_OR_RETURN(n.weight, get(name, {H}));
    n.eps = c.rms_norm_eps;
    return n;
  };

  QG_ASSIGN_OR_RETURN(embed_, get("model.embed_tokens.weight", {V, H}));
  layers_.resize(c.num_layers);
  layer_prefixes_.resize(c.num_layers);
  for (int64_t i = 0; i < c.num_layers; ++i) {
    DecoderLayer& L = layers_[i];
    const std::string p = absl::StrCat("model.layers.", i, ".");
    layer_prefixes_[i] = p;
    QG_ASSIGN_OR_RETURN(L.input_layernorm, norm(p + "input_layernorm.weight"));
    QG_ASSIGN_OR_RETURN(L.post_attention_layernorm,
                        norm(p + "post_attention_layernorm.weight"));
    const std::string wpack = p + "self_attn.W_pack.weight";
    if (c.fused_qkv && src.Has(wpack)) {
      // Baichuan: W_pack = [q; k; v] stacked along the output dim. Split it
      // once at load so every later module sees LLaMA's q/k/v slots.
      QG_ASSIGN_OR_RETURN(at::Tensor w, get(wpack, {q_out + 2 * kv_out, H}));
      L.q_proj = std::make_shared<DenseLinear>(w.narrow(0, 0, q_out).clone());
      L.k_proj =
          std::make_shared<DenseLinear>(w.narrow(0, q_out, kv_out).clone());
      L.v_proj = std::make_shared<DenseLinear>(
          w.narrow(0, q_out + kv_out, kv_out).clone());
    } else {
      QG_ASSIGN_OR_RETURN(L.q_proj,
                          linear(p + "self_attn.q_proj", q_out, H, c.qkv_bias));
      QG_ASSIGN_OR_RETURN(
          L.k_proj, linear(p + "self_attn.k_proj", kv_out, H, c.qkv_bias));
      QG_ASSIGN_OR_RETURN(
          L.v_proj, linear(p + "self_attn.v_proj", kv_out, H, c.qkv_bias));
    }
    QG_ASSIGN_OR_RETURN(L.o_proj, linear(p + "self_attn.o_proj", H, q_out,
                                         /*need_bias=*/false));
    QG_ASSIGN_OR_RETURN(L.gate_proj, linear(p + "mlp.gate_proj", I, H, false));
    QG_ASSIGN_OR_RETURN(L.up_proj, linear(p + "mlp.up_proj", I, H, false));
    QG_ASSIGN_OR_RETURN(L.down_proj, linear(p + "mlp.down_proj", H, I, false));
  }
  QG_ASSIGN_OR_RETURN(norm_, norm("model.norm.weight"));

  if (c.tie_word_embeddings) {
    lm_head_ = std::make_shared<DenseLinear>(embed_);
  } else if (opts_.linear_factory && src.ckpt) {
    QG_ASSIGN_OR_RETURN(lm_head_, linear("lm_head", V, H, false));
  } else if (src.Has("lm_head.weight")) {
    QG_ASSIGN_OR_RETURN(lm_head_, linear("lm_head", V, H, false));
  } else {
    // Hugging Face would initialize a missing head randomly; tying is the
    // only useful reading of such a checkpoint.
    LOG(WARNING) << src.origin
                 << ": no lm_head.weight; using the tied embeddings";
    lm_head_ = std::make_shared<DenseLinear>(embed_);
  }
  if (c.norm_head) {
    // Baichuan2 NormHead: logits use the L2-normalized rows of the head
    // weight (F.normalize, eps 1e-12). Normalizing once at load is what
    // its eval-mode forward does.
    auto* dense = dynamic_cast<DenseLinear*>(lm_head_.get());
    if (dense != nullptr) {
      at::Tensor w = dense->weight().to(at::kFloat);
      w = w / w.norm(2, {1}, /*keepdim=*/true).clamp_min(1e-12);
      lm_head_ = std::make_shared<DenseLinear>(w.to(opts_.dtype));
    }
  }
  inv_freq_ = RopeInvFreq(c).to(src.device);

  if (opts_.trainable) {
    for (at::Tensor& t : Parameters()) t.requires_grad_(true);
  }
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<CausalLM>> CausalLM::Load(
    const std::string& dir, const LoadOptions& opts) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) {
    return absl::NotFoundError(absl::StrCat(dir, ": no such model directory"));
  }
  const std::string cfg_path = (fs::path(dir) / "config.json").string();
  if (!fs::exists(cfg_path, ec)) {
    return absl::NotFoundError(absl::StrCat(
        dir, ": no config.json (not a Hugging Face model folder?)"));
  }
  QG_ASSIGN_OR_RETURN(ModelConfig config, ModelConfig::FromJsonFile(cfg_path));
  QG_ASSIGN_OR_RETURN(auto ckpt, Checkpoint::Open(dir));
  std::unique_ptr<CausalLM> lm(new CausalLM());
  lm->config_ = std::move(config);
  lm->opts_ = opts;
  lm->source_dir_ = dir;
  absl::Status s = CatchTorch([&]() -> absl::Status {
    WeightSource src;
    src.ckpt = ckpt.get();
    src.origin = dir;
    src.dtype = opts.dtype;
    src.device = at::Device(opts.device);
    return lm->Init(src);
  });
  if (!s.ok()) return s;
  if (opts.load_tokenizer) {
    auto tok = LoadTokenizer(dir);
    if (!tok.ok()) return Annotate(tok.status(), dir + ": tokenizer");
    lm->tokenizer_ = std::move(tok).value();
  }
  return lm;
}

absl::StatusOr<std::unique_ptr<CausalLM>> CausalLM::FromTensors(
    const ModelConfig& config, std::map<std::string, at::Tensor> tensors,
    const LoadOptions& opts) {
  std::unique_ptr<CausalLM> lm(new CausalLM());
  lm->config_ = config;
  lm->opts_ = opts;
  absl::Status s = CatchTorch([&]() -> absl::Status {
    WeightSource src;
    src.tensors = &tensors;
    src.origin = "FromTensors";
    src.dtype = opts.dtype;
    src.device = at::Device(opts.device);
    return lm->Init(src);
  });
  if (!s.ok()) return s;
  return lm;
}

CausalLM::~CausalLM() = default;

at::Device CausalLM::device() const {
  return embed_.defined() ? embed_.device() : at::Device(at::kCPU);
}

// ---------------------------------------------------------------------------
// Forward

at::Tensor CausalLM::CallLinear(const std::string& name, const Linear& l,
                                const at::Tensor& x) const {
  if (observer_) observer_(name, x);
  return l.Forward(x);
}

at::Tensor CausalLM::Embed(const at::Tensor& ids) const {
  return at::embedding(embed_, ids.to(device()));
}

AttentionContext CausalLM::MakeContext(const at::Tensor& attention_mask,
                                       int64_t batch, int64_t seq_len,
                                       int64_t past_length) const {
  const at::Device dev = device();
  const int64_t B = batch, T = seq_len, past = past_length, S = past + T;
  const auto lopt = at::TensorOptions().dtype(at::kLong).device(dev);
  AttentionContext ctx;
  ctx.past_length = past;
  // Query i sits at absolute index past+i and may see keys j <= past+i.
  at::Tensor causal = at::arange(0, S, lopt)
                          .unsqueeze(0)
                          .le(at::arange(past, S, lopt).unsqueeze(1));
  at::Tensor allowed;
  if (!attention_mask.defined()) {
    ctx.positions = at::arange(past, S, lopt).unsqueeze(0).expand({B, T});
    allowed = causal.view({1, 1, T, S});
  } else {
    at::Tensor m = attention_mask.to(dev).to(at::kLong);
    // As transformers' generate: position_ids = cumsum(mask) - 1, with
    // padding positions set to 1 (they are masked out anyway).
    ctx.positions =
        (m.cumsum(1) - 1).masked_fill(m.eq(0), 1).narrow(1, past, T);
    allowed = causal.view({1, 1, T, S}).logical_and(m.ne(0).view({B, 1, 1, S}));
  }
  ctx.mask = at::zeros({B, 1, T, S}, at::TensorOptions().device(dev))
                 .masked_fill(allowed.logical_not(),
                              std::numeric_limits<float>::lowest());
  // RoPE tables in float32, as transformers' LlamaRotaryEmbedding computes
  // freqs = positions x inv_freq and emb = cat(freqs, freqs).
  at::Tensor freqs =
      ctx.positions.to(at::kFloat).unsqueeze(-1) * inv_freq_.view({1, 1, -1});
  at::Tensor emb = at::cat({freqs, freqs}, -1);
  ctx.cos = emb.cos();
  ctx.sin = emb.sin();
  return ctx;
}

at::Tensor CausalLM::LayerForward(int i, const at::Tensor& hidden,
                                  const AttentionContext& ctx,
                                  KVCache* cache) const {
  const DecoderLayer& L = layers_[i];
  const std::string& p = layer_prefixes_[i];
  const int64_t B = hidden.size(0), T = hidden.size(1);
  const int64_t nh = config_.num_heads, nkv = config_.num_kv_heads,
                hd = config_.head_dim;

  at::Tensor h = L.input_layernorm.Forward(hidden);
  at::Tensor q = CallLinear(p + "self_attn.q_proj", *L.q_proj, h)
                     .view({B, T, nh, hd})
                     .transpose(1, 2);
  at::Tensor k = CallLinear(p + "self_attn.k_proj", *L.k_proj, h)
                     .view({B, T, nkv, hd})
                     .transpose(1, 2);
  at::Tensor v = CallLinear(p + "self_attn.v_proj", *L.v_proj, h)
                     .view({B, T, nkv, hd})
                     .transpose(1, 2);

  at::Tensor cos = ctx.cos, sin = ctx.sin;
  if (!cos.defined()) {
    at::Tensor freqs =
        ctx.positions.to(at::kFloat).unsqueeze(-1) * inv_freq_.view({1, 1, -1});
    at::Tensor emb = at::cat({freqs, freqs}, -1);
    cos = emb.cos();
    sin = emb.sin();
  }
  // apply_rotary_pos_emb: tables cast to the activations' dtype.
  cos = cos.to(q.scalar_type()).unsqueeze(1);
  sin = sin.to(q.scalar_type()).unsqueeze(1);
  q = q * cos + RotateHalf(q) * sin;
  k = k * cos + RotateHalf(k) * sin;
  if (kv_transform_) {
    k = kv_transform_(i, /*is_key=*/true, k);
    v = kv_transform_(i, /*is_key=*/false, v);
  }
  if (cache != nullptr) {
    if (static_cast<int>(cache->keys.size()) < num_layers()) {
      cache->keys.resize(num_layers());
      cache->values.resize(num_layers());
    }
    if (cache->keys[i].defined()) {
      k = at::cat({cache->keys[i], k}, 2);
      v = at::cat({cache->values[i], v}, 2);
    }
    cache->keys[i] = k;
    cache->values[i] = v;
  }
  const int64_t S = k.size(2);
  TORCH_CHECK(ctx.mask.size(-1) == S, "attention mask covers ",
              ctx.mask.size(-1), " positions but layer ", i, " attends to ", S);

  // Grouped-query attention: query heads g*rep .. g*rep+rep-1 share kv
  // head g (transformers' repeat_kv). Folding those heads into the query
  // length gives the same dot products without copying k/v rep times.
  const int64_t rep = nh / nkv;
  const double scale = 1.0 / std::sqrt(static_cast<double>(hd));
  // Queries [t0, t0+n) against keys [0, s): [B, nh, n, hd].
  auto attend = [&](int64_t t0, int64_t n, int64_t s) {
    at::Tensor qc = q.narrow(2, t0, n).reshape({B, nkv, rep * n, hd});
    // In-place scaling and masking: the [B, heads, n, s] score tensor is
    // the largest activation, and fresh allocations of it dominate CPU
    // time.
    at::Tensor scores = MatMul(qc, k.narrow(2, 0, s).transpose(2, 3));
    scores.mul_(scale);
    // Softmax in float32 (eager attention's softmax(dtype=float32)).
    scores = scores.view({B, nh, n, s}).to(at::kFloat);
    scores.add_(ctx.mask.narrow(2, t0, n).narrow(3, 0, s));
    at::Tensor probs = at::softmax(scores, -1).to(q.scalar_type());
    return MatMul(probs.view({B, nkv, rep * n, s}), v.narrow(2, 0, s))
        .view({B, nh, n, hd});
  };
  at::Tensor attn;
  const int64_t row_bytes = B * nh * S * static_cast<int64_t>(sizeof(float));
  const int64_t budget = opts_.attention_score_budget_bytes;
  if (budget <= 0 || opts_.trainable || T == 1 || row_bytes * T <= budget) {
    attn = attend(0, T, S);
  } else {
    // Query chunks whose score tensor fits the budget (LoadOptions::
    // attention_score_budget_bytes); each sees the keys the causal mask
    // lets its last query see. Softmax rows are independent, so this is
    // the unchunked result up to summation order.
    const int64_t chunk = std::max<int64_t>(1, budget / row_bytes);
    attn = at::empty({B, nh, T, hd}, q.options());
    for (int64_t t0 = 0; t0 < T; t0 += chunk) {
      const int64_t n = std::min(chunk, T - t0);
      int64_t s = std::min(S, ctx.past_length + t0 + n);
      // A row the mask lets see no key at all (left padding) is a uniform
      // average over every key in the unchunked softmax; keep all S keys
      // for such chunks so that even those (unused) rows do not change.
      if (s < S && at::amax(ctx.mask.narrow(2, t0, n).narrow(3, 0, s), -1)
                       .eq(std::numeric_limits<float>::lowest())
                       .any()
                       .item<bool>())
        s = S;
      attn.narrow(2, t0, n).copy_(attend(t0, n, s));
    }
  }
  attn = attn.transpose(1, 2).reshape({B, T, nh * hd});

  at::Tensor out = hidden + CallLinear(p + "self_attn.o_proj", *L.o_proj, attn);
  h = L.post_attention_layernorm.Forward(out);
  at::Tensor gate = CallLinear(p + "mlp.gate_proj", *L.gate_proj, h);
  at::Tensor up = CallLinear(p + "mlp.up_proj", *L.up_proj, h);
  // (CPU has no float16 SiLU kernel in libtorch 1.13.)
  at::Tensor act = CpuHalf(gate) ? at::silu(gate.to(at::kFloat)).to(at::kHalf)
                                 : at::silu(gate);
  return out + CallLinear(p + "mlp.down_proj", *L.down_proj, act * up);
}

at::Tensor CausalLM::Head(const at::Tensor& hidden) const {
  return CallLinear("lm_head", *lm_head_, norm_.Forward(hidden)).to(at::kFloat);
}

absl::StatusOr<at::Tensor> CausalLM::Forward(const at::Tensor& ids,
                                             const at::Tensor& attention_mask,
                                             KVCache* cache) const {
  at::Tensor logits;
  absl::Status s = CatchTorch([&]() -> absl::Status {
    if (!ids.defined() || ids.dim() != 2) {
      return absl::InvalidArgumentError("Forward: ids must be [batch, seq]");
    }
    if (at::isFloatingType(ids.scalar_type())) {
      return absl::InvalidArgumentError("Forward: ids must be integers");
    }
    const int64_t B = ids.size(0), T = ids.size(1);
    if (B == 0 || T == 0) {
      return absl::InvalidArgumentError("Forward: empty batch or sequence");
    }
    at::Tensor x = ids.to(at::kLong);
    const int64_t lo = x.min().item<int64_t>(), hi = x.max().item<int64_t>();
    if (lo < 0 || hi >= config_.vocab_size) {
      return absl::InvalidArgumentError(absl::StrCat(
          "Forward: token id ", lo < 0 ? lo : hi,
          " outside the vocabulary [0, ", config_.vocab_size, ")"));
    }
    const int64_t past = cache ? cache->length() : 0;
    if (cache && past > 0 && cache->keys[0].size(0) != B) {
      return absl::InvalidArgumentError(
          absl::StrCat("Forward: batch ", B, " does not match the cache's ",
                       cache->keys[0].size(0)));
    }
    if (attention_mask.defined() &&
        (attention_mask.dim() != 2 || attention_mask.size(0) != B ||
         attention_mask.size(1) != past + T)) {
      return absl::InvalidArgumentError(
          absl::StrCat("Forward: attention_mask must be [", B, ", ", past + T,
                       "] (batch, cached + new positions), got [",
                       absl::StrJoin(attention_mask.sizes().vec(), ", "), "]"));
    }
    std::optional<at::NoGradGuard> no_grad;
    if (!opts_.trainable) no_grad.emplace();
    AttentionContext ctx = MakeContext(attention_mask, B, T, past);
    at::Tensor h = Embed(x);
    for (int i = 0; i < num_layers(); ++i) h = LayerForward(i, h, ctx, cache);
    logits = Head(h);
    return absl::OkStatus();
  });
  if (!s.ok()) return s;
  return logits;
}

// ---------------------------------------------------------------------------
// Introspection

std::vector<LinearRef> CausalLM::Linears() {
  std::vector<LinearRef> out;
  for (int i = 0; i < num_layers(); ++i) {
    DecoderLayer& L = layers_[i];
    const std::string& p = layer_prefixes_[i];
    out.push_back({p + "self_attn.q_proj", i, &L.q_proj});
    out.push_back({p + "self_attn.k_proj", i, &L.k_proj});
    out.push_back({p + "self_attn.v_proj", i, &L.v_proj});
    out.push_back({p + "self_attn.o_proj", i, &L.o_proj});
    out.push_back({p + "mlp.gate_proj", i, &L.gate_proj});
    out.push_back({p + "mlp.up_proj", i, &L.up_proj});
    out.push_back({p + "mlp.down_proj", i, &L.down_proj});
  }
  out.push_back({"lm_head", -1, &lm_head_});
  return out;
}

namespace {
// True when the head is still the embedding matrix itself (tied).
bool HeadIsEmbedding(const Linear& head, const at::Tensor& embed) {
  auto* d = dynamic_cast<const DenseLinear*>(&head);
  return d != nullptr && d->DenseWeight().is_same(embed);
}
}  // namespace

std::vector<std::pair<std::string, at::Tensor>> CausalLM::StateDict() const {
  std::vector<std::pair<std::string, at::Tensor>> out;
  auto add_linear = [&out](const std::string& name, const Linear& l) {
    out.emplace_back(name + ".weight", l.DenseWeight());
    if (l.bias().defined()) out.emplace_back(name + ".bias", l.bias());
  };
  out.emplace_back("model.embed_tokens.weight", embed_);
  for (int i = 0; i < num_layers(); ++i) {
    const DecoderLayer& L = layers_[i];
    const std::string& p = layer_prefixes_[i];
    out.emplace_back(p + "input_layernorm.weight", L.input_layernorm.weight);
    add_linear(p + "self_attn.q_proj", *L.q_proj);
    add_linear(p + "self_attn.k_proj", *L.k_proj);
    add_linear(p + "self_attn.v_proj", *L.v_proj);
    add_linear(p + "self_attn.o_proj", *L.o_proj);
    out.emplace_back(p + "post_attention_layernorm.weight",
                     L.post_attention_layernorm.weight);
    add_linear(p + "mlp.gate_proj", *L.gate_proj);
    add_linear(p + "mlp.up_proj", *L.up_proj);
    add_linear(p + "mlp.down_proj", *L.down_proj);
  }
  out.emplace_back("model.norm.weight", norm_.weight);
  if (!HeadIsEmbedding(*lm_head_, embed_)) add_linear("lm_head", *lm_head_);
  return out;
}

std::vector<at::Tensor> CausalLM::Parameters() const {
  std::vector<at::Tensor> out;
  auto add_linear = [&out](const std::shared_ptr<Linear>& l) {
    auto* d = dynamic_cast<DenseLinear*>(l.get());
    if (d == nullptr) return;  // packed layers have no trainable weight
    out.push_back(d->weight());
    if (d->bias().defined()) out.push_back(d->bias());
  };
  out.push_back(embed_);
  for (const DecoderLayer& L : layers_) {
    out.push_back(L.input_layernorm.weight);
    add_linear(L.q_proj);
    add_linear(L.k_proj);
    add_linear(L.v_proj);
    add_linear(L.o_proj);
    out.push_back(L.post_attention_layernorm.weight);
    add_linear(L.gate_proj);
    add_linear(L.up_proj);
    add_linear(L.down_proj);
  }
  out.push_back(norm_.weight);
  if (!HeadIsEmbedding(*lm_head_, embed_)) add_linear(lm_head_);
  return out;
}

int64_t CausalLM::WeightBytes() const {
  auto bytes = [](const at::Tensor& t) {
    return t.defined() ? t.numel() * t.element_size() : 0;
  };
  int64_t n = bytes(embed_) + bytes(norm_.weight);
  for (const DecoderLayer& L : layers_) {
    n += bytes(L.input_layernorm.weight) +
         bytes(L.post_attention_layernorm.weight);
    for (const auto* l : {&L.q_proj, &L.k_proj, &L.v_proj, &L.o_proj,
                          &L.gate_proj, &L.up_proj, &L.down_proj}) {
      n += (*l)->WeightBytes();
    }
  }
  if (!HeadIsEmbedding(*lm_head_, embed_)) n += lm_head_->WeightBytes();
  return n;
}

// ---------------------------------------------------------------------------
// Generation

absl::StatusOr<std::vector<int>> GreedyGenerate(const CausalLM& lm,
                                                const std::vector<int>& prompt,
                                                int max_new_tokens,
                                                bool stop_at_eos) {
  if (prompt.empty()) {
    return absl::InvalidArgumentError("GreedyGenerate: empty prompt");
  }
  int64_t eos = lm.config().eos_token_id;
  if (lm.tokenizer() != nullptr && lm.tokenizer()->eos_id() >= 0) {
    eos = lm.tokenizer()->eos_id();
  }
  std::vector<int> out;
  KVCache cache;
  std::vector<int64_t> ids(prompt.begin(), prompt.end());
  at::Tensor step = at::tensor(ids, at::kLong).view({1, -1});
  for (int n = 0; n < max_new_tokens; ++n) {
    QG_ASSIGN_OR_RETURN(at::Tensor logits,
                        lm.Forward(step, at::Tensor(), &cache));
    const int next = static_cast<int>(
        logits.select(1, logits.size(1) - 1).argmax(-1).item<int64_t>());
    out.push_back(next);
    if (stop_at_eos && next == eos) break;
    step = at::full({1, 1}, next, at::kLong);
  }
  return out;
}

absl::StatusOr<at::Tensor> GreedyGenerateBatch(
    const CausalLM& lm, const at::Tensor& ids, const at::Tensor& attention_mask,
    int max_new_tokens, const std::vector<int64_t>& eos_ids, int64_t pad_id) {
  if (!ids.defined() || ids.dim() != 2 || ids.size(1) == 0) {
    return absl::InvalidArgumentError(
        "GreedyGenerateBatch: ids must be a non-empty [batch, seq]");
  }
  if (max_new_tokens < 1) {
    return absl::InvalidArgumentError(
        "GreedyGenerateBatch: max_new_tokens must be >= 1");
  }
  at::Tensor out;
  absl::Status s = CatchTorch([&]() -> absl::Status {
    const int64_t B = ids.size(0);
    at::Tensor mask = attention_mask.defined()
                          ? attention_mask.to(at::kLong).cpu()
                          : at::ones(ids.sizes(), at::kLong);
    at::Tensor eos = at::tensor(eos_ids, at::kLong);
    at::Tensor done = at::zeros({B}, at::kBool);
    at::Tensor step = ids.to(at::kLong);
    std::vector<at::Tensor> steps;
    KVCache cache;
    for (int n = 0; n < max_new_tokens; ++n) {
      QG_ASSIGN_OR_RETURN(at::Tensor logits, lm.Forward(step, mask, &cache));
      at::Tensor next =
          logits.select(1, logits.size(1) - 1).argmax(-1).cpu().to(at::kLong);
      if (!eos_ids.empty()) {
        // transformers: next = next * unfinished + pad * (1 - unfinished),
        // then a row is finished once its (new) token is an EOS id.
        next = at::where(done, at::full_like(next, pad_id), next);
        done = done.logical_or(at::isin(next, eos));
      }
      steps.push_back(next);
      if (done.all().item<bool>()) break;
      mask = at::cat({mask, at::ones({B, 1}, at::kLong)}, 1);
      step = next.view({B, 1});
    }
    out = at::stack(steps, 1);
    return absl::OkStatus();
  });
  if (!s.ok()) return s;
  return out;
}

}  // namespace qgrid::model
