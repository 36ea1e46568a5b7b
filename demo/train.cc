#include "demo/train.h"

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>
#include <ATen/Parallel.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/progress.h"
#include "common/status_macros.h"
#include "model/config.h"
#include "model/safetensors.h"
#include "model/sentencepiece_trainer.h"
#include "model/torch_compat.h"

namespace qgrid::demo {

using model::CatchTorch;
using model::CausalLM;
using model::LoadOptions;
using model::LoadTokenizer;
using model::ModelConfig;
using model::SentencePieceTrainOptions;
using model::Tokenizer;
using model::TrainSentencePiece;
using model::WriteSafetensors;

namespace {

namespace fs = std::filesystem;
using ordered_json = nlohmann::ordered_json;

absl::Status WriteText(const fs::path& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
  out.close();
  if (!out)
    return absl::InternalError(absl::StrCat(path.string(), ": write failed"));
  return absl::OkStatus();
}

// Uniform integer in [0, n), by rejection so that it is portable (the
// algorithm of std::uniform_int_distribution is implementation-defined).
uint64_t UniformBelow(std::mt19937_64& rng, uint64_t n) {
  uint64_t limit = UINT64_MAX - (UINT64_MAX % n);
  uint64_t x;
  do {
    x = rng();
  } while (x >= limit);
  return x % n;
}

std::string ConfigJson(const TrainTinyOptions& o, int vocab_size, int bos,
                       int eos) {
  ordered_json c;
  c["architectures"] = {"LlamaForCausalLM"};
  c["model_type"] = "llama";
  c["hidden_size"] = o.hidden_size;
  c["intermediate_size"] = o.intermediate_size;
  c["num_hidden_layers"] = o.num_layers;
  c["num_attention_heads"] = o.num_heads;
  c["num_key_value_heads"] = o.num_kv_heads;
  c["head_dim"] = o.hidden_size / o.num_heads;
  c["hidden_act"] = "silu";
  c["max_position_embeddings"] = o.max_position_embeddings;
  c["rms_norm_eps"] = o.rms_norm_eps;
  c["rope_theta"] = o.rope_theta;
  c["rope_scaling"] = nullptr;
  c["attention_bias"] = false;
  c["mlp_bias"] = false;
  c["tie_word_embeddings"] = false;
  c["initializer_range"] = 0.02;
  c["vocab_size"] = vocab_size;
  c["bos_token_id"] = bos;
  c["eos_token_id"] = eos;
  c["use_cache"] = true;
  c["torch_dtype"] = o.save_dtype;
  return c.dump(2) + "\n";
}

std::string TokenizerConfigJson(int max_len) {
  ordered_json t;
  t["tokenizer_class"] = "LlamaTokenizer";
  t["add_bos_token"] = true;
  t["add_eos_token"] = false;
  t["bos_token"] = "<s>";
  t["eos_token"] = "</s>";
  t["unk_token"] = "<unk>";
  t["pad_token"] = nullptr;
  t["legacy"] = true;
  t["clean_up_tokenization_spaces"] = false;
  t["model_max_length"] = max_len;
  t["sp_model_kwargs"] = ordered_json::object();
  return t.dump(2) + "\n";
}

// The initial weights under Hugging Face names. N(0, 0.02) everywhere, with
// the residual projections (o_proj, down_proj) scaled by 1/sqrt(2 L) as in
// GPT-2 (Radford et al. 2019, section 2.3) so that the residual stream's
// variance does not grow with depth; RMSNorm gains start at one.
std::map<std::string, at::Tensor> InitialWeights(const TrainTinyOptions& o,
                                                 int64_t vocab,
                                                 at::Generator& gen) {
  const double std = 0.02;
  const double resid_std = std / std::sqrt(2.0 * o.num_layers);
  const int64_t h = o.hidden_size, head_dim = o.hidden_size / o.num_heads;
  const int64_t kv = o.num_kv_heads * head_dim, inter = o.intermediate_size;
  auto normal = [&](std::vector<int64_t> shape, double s) {
    return at::normal(0.0, s, shape, gen, at::TensorOptions(at::kFloat));
  };
  std::map<std::string, at::Tensor> w;
  // Same creation order on every run: the generator's draws depend on it.
  w["model.embed_tokens.weight"] = normal({vocab, h}, std);
  for (int i = 0; i < o.num_layers; ++i) {
    std::string p = absl::StrCat("model.layers.", i, ".");
    w[p + "self_attn.q_proj.weight"] = normal({h, h}, std);
    w[p + "self_attn.k_proj.weight"] = normal({kv, h}, std);
    w[p + "self_attn.v_proj.weight"] = normal({kv, h}, std);
    w[p + "self_attn.o_proj.weight"] = normal({h, h}, resid_std);
    w[p + "mlp.gate_proj.weight"] = normal({inter, h}, std);
    w[p + "mlp.up_proj.weight"] = normal({inter, h}, std);
    w[p + "mlp.down_proj.weight"] = normal({h, inter}, resid_std);
    w[p + "input_layernorm.weight"] = at::ones({h}, at::kFloat);
    w[p + "post_attention_layernorm.weight"] = at::ones({h}, at::kFloat);
  }
  w["model.norm.weight"] = at::ones({h}, at::kFloat);
  w["lm_head.weight"] = normal({vocab, h}, std);
  return w;
}

absl::Status ValidateOptions(const TrainTinyOptions& o) {
  if (o.data_dir.empty() || o.out_dir.empty())
    return absl::InvalidArgumentError(
        "train-tiny: --data and --out are required");
  if (o.hidden_size <= 0 || o.num_layers <= 0 || o.num_heads <= 0 ||
      o.num_kv_heads <= 0 || o.intermediate_size <= 0)
    return absl::InvalidArgumentError("train-tiny: sizes must be positive");
  if (o.hidden_size % o.num_heads != 0 || o.num_heads % o.num_kv_heads != 0)
    return absl::InvalidArgumentError(absl::StrCat(
        "train-tiny: hidden size ", o.hidden_size, " must divide into heads (",
        o.num_heads, ") and heads into kv heads (", o.num_kv_heads, ")"));
  if ((o.hidden_size / o.num_heads) % 2 != 0)
    return absl::InvalidArgumentError(
        "train-tiny: head_dim must be even (RoPE)");
  if (o.steps <= 0 || o.batch_size <= 0 || o.seq_len <= 1)
    return absl::InvalidArgumentError(
        "train-tiny: steps, batch size and seq_len must be positive");
  if (o.seq_len > o.max_position_embeddings)
    return absl::InvalidArgumentError(
        "train-tiny: seq_len exceeds max_position_embeddings");
  if (o.vocab_size < 300)
    return absl::InvalidArgumentError(
        "train-tiny: vocab size must be >= 300 (256 byte pieces + specials)");
  if (o.save_dtype != "bfloat16" && o.save_dtype != "float32")
    return absl::InvalidArgumentError(
        "train-tiny: save dtype must be bfloat16 or float32");
  if (o.threads <= 0)
    return absl::InvalidArgumentError("train-tiny: threads must be positive");
  return absl::OkStatus();
}

std::string JoinArgs(const std::vector<std::string>& v) {
  std::string s;
  for (const auto& x : v) absl::StrAppend(&s, s.empty() ? "" : ", ", x);
  return s;
}

}  // namespace

double CosineLearningRate(int step, int total, int warmup, double peak,
                          double min_ratio) {
  if (warmup > 0 && step < warmup)
    return peak * static_cast<double>(step + 1) / warmup;
  int decay_steps = std::max(1, total - warmup);
  double progress =
      std::min(1.0, static_cast<double>(step - warmup) / decay_steps);
  double min_lr = peak * min_ratio;
  return min_lr + 0.5 * (peak - min_lr) * (1.0 + std::cos(M_PI * progress));
}

absl::StatusOr<std::vector<int>> TokenizeLines(const model::Tokenizer& tok,
                                               const std::string& path,
                                               int64_t max_docs) {
  std::ifstream in(path);
  if (!in) return absl::NotFoundError(absl::StrCat(path, ": cannot open"));
  std::vector<int> out;
  std::string line;
  int64_t n = 0;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    if (max_docs >= 0 && n >= max_docs) break;
    std::vector<int> ids = tok.Encode(line, /*add_special_tokens=*/true);
    out.insert(out.end(), ids.begin(), ids.end());
    ++n;
  }
  return out;
}

std::vector<double> UnigramLogProbs(const std::vector<int>& train,
                                    int vocab_size) {
  // Add-one (Laplace) smoothing: p(t) = (c_t + 1) / (N + V).
  std::vector<double> logp(vocab_size, 1.0);
  for (int t : train) {
    if (t >= 0 && t < vocab_size) logp[t] += 1;
  }
  const double denom = static_cast<double>(train.size()) + vocab_size;
  for (double& c : logp) c = std::log(c / denom);
  return logp;
}

eval::PerplexityResult UnigramPerplexity(const std::vector<int>& train,
                                         const std::vector<int>& test,
                                         int vocab_size, int seq_len) {
  const std::vector<double> logp = UnigramLogProbs(train, vocab_size);
  // Ids outside the vocabulary get the probability of an unseen token.
  const double unseen =
      std::log(1.0 / (static_cast<double>(train.size()) + vocab_size));
  eval::PerplexityResult r;
  r.seqlen = seq_len;
  r.tokens = static_cast<int64_t>(test.size());
  r.windows = seq_len > 0 ? r.tokens / seq_len : 0;
  double nll_sum = 0;
  for (int64_t w = 0; w < r.windows; ++w) {
    for (int64_t i = w * seq_len + 1; i < (w + 1) * seq_len; ++i) {
      int t = test[i];
      nll_sum -= (t >= 0 && t < vocab_size) ? logp[t] : unseen;
      ++r.predicted;
    }
  }
  r.mean_nll =
      r.predicted > 0 ? nll_sum / static_cast<double>(r.predicted) : NAN;
  r.ppl = std::exp(r.mean_nll);
  return r;
}

absl::StatusOr<TrainTinyResult> TrainTinyLlama(const TrainTinyOptions& opts) {
  QG_RETURN_IF_ERROR(ValidateOptions(opts));
  std::error_code ec;
  fs::create_directories(opts.out_dir, ec);
  if (ec)
    return absl::InternalError(
        absl::StrCat(opts.out_dir, ": cannot create: ", ec.message()));

  // Domains and their training files.
  std::vector<std::string> domains = opts.domains;
  if (domains.empty()) {
    if (!fs::is_directory(opts.data_dir))
      return absl::NotFoundError(
          absl::StrCat(opts.data_dir,
                       ": not a directory (run `qgrid data "
                       "build-demo --out DIR` first)"));
    for (const auto& e : fs::directory_iterator(opts.data_dir)) {
      if (fs::exists(e.path() / "train.txt"))
        domains.push_back(e.path().filename().string());
    }
    std::sort(domains.begin(), domains.end());
  }
  if (domains.empty())
    return absl::NotFoundError(
        absl::StrCat(opts.data_dir, ": no <domain>/train.txt found"));
  std::vector<std::string> train_files;
  for (const auto& d : domains) {
    std::string f = (fs::path(opts.data_dir) / d / "train.txt").string();
    if (!fs::exists(f))
      return absl::NotFoundError(absl::StrCat(f, ": missing"));
    train_files.push_back(f);
  }

  at::set_num_threads(opts.threads);
  auto t_start = std::chrono::steady_clock::now();

  // 1. Tokenizer: BPE with byte fallback, LLaMA's special ids, identity
  // normalisation so that text round-trips (NFKC would turn full-width
  // Chinese punctuation into ASCII).
  SentencePieceTrainOptions sp;
  sp.input_files = train_files;
  sp.model_prefix = (fs::path(opts.out_dir) / "tokenizer").string();
  sp.vocab_size = opts.vocab_size;
  sp.model_type = "bpe";
  sp.character_coverage = opts.character_coverage;
  sp.byte_fallback = true;
  sp.split_digits = true;
  sp.extra_flags =
      "--normalization_rule_name=identity --remove_extra_whitespaces=false "
      "--add_dummy_prefix=true --seed_sentencepiece_size=1000000";
  if (opts.progress)
    std::fprintf(stderr, "training tokenizer on %s\n",
                 JoinArgs(domains).c_str());
  QG_RETURN_IF_ERROR(Annotate(TrainSentencePiece(sp), "tokenizer training"));
  fs::remove(fs::path(opts.out_dir) / "tokenizer.vocab", ec);
  QG_RETURN_IF_ERROR(
      WriteText(fs::path(opts.out_dir) / "tokenizer_config.json",
                TokenizerConfigJson(opts.max_position_embeddings)));
  QG_RETURN_IF_ERROR(
      WriteText(fs::path(opts.out_dir) / "special_tokens_map.json",
                "{\n  \"bos_token\": \"<s>\",\n  \"eos_token\": \"</s>\",\n  "
                "\"unk_token\": \"<unk>\"\n}\n"));
  QG_ASSIGN_OR_RETURN(std::unique_ptr<Tokenizer> tok,
                      LoadTokenizer(opts.out_dir));
  const int vocab = tok->vocab_size();

  // 2. The training stream.
  std::vector<int> stream;
  for (const auto& f : train_files) {
    QG_ASSIGN_OR_RETURN(std::vector<int> ids, TokenizeLines(*tok, f));
    stream.insert(stream.end(), ids.begin(), ids.end());
  }
  if (stream.size() < static_cast<size_t>(opts.seq_len + 2))
    return absl::InvalidArgumentError(absl::StrCat(
        "train-tiny: only ", stream.size(), " training tokens, fewer than one ",
        opts.seq_len, "-token window"));

  // 3. The model.
  std::string config_json =
      ConfigJson(opts, vocab, tok->bos_id(), tok->eos_id());
  QG_RETURN_IF_ERROR(
      WriteText(fs::path(opts.out_dir) / "config.json", config_json));
  QG_ASSIGN_OR_RETURN(ModelConfig config,
                      ModelConfig::FromJsonString(config_json, "config.json"));
  at::Generator gen = at::detail::createCPUGenerator(opts.seed);
  std::map<std::string, at::Tensor> weights;
  QG_RETURN_IF_ERROR(CatchTorch([&]() -> absl::Status {
    weights = InitialWeights(opts, vocab, gen);
    return absl::OkStatus();
  }));
  LoadOptions lo;
  lo.trainable = true;
  lo.load_tokenizer = false;
  QG_ASSIGN_OR_RETURN(std::unique_ptr<CausalLM> lm,
                      CausalLM::FromTensors(config, std::move(weights), lo));
  std::vector<at::Tensor> params = lm->Parameters();
  TrainTinyResult result;
  result.train_tokens = static_cast<int64_t>(stream.size());
  for (const auto& p : params) result.parameters += p.numel();
  if (params.empty())
    return absl::InternalError("train-tiny: the model exposes no parameters");

  // 4. Training.
  std::vector<double> lrs;
  std::mt19937_64 rng(opts.seed);
  const int64_t span = opts.seq_len + 1;
  const uint64_t starts = stream.size() - span + 1;
  int64_t tokens_done = 0;
  double train_seconds = 0;
  QG_RETURN_IF_ERROR(CatchTorch([&]() -> absl::Status {
    std::vector<at::Tensor> m, v;
    for (const auto& p : params) {
      m.push_back(at::zeros_like(p));
      v.push_back(at::zeros_like(p));
    }
    Progress bar("train", opts.steps, "steps", opts.progress);
    std::vector<int64_t> batch(static_cast<size_t>(opts.batch_size) * span);
    auto t0 = std::chrono::steady_clock::now();
    for (int step = 0; step < opts.steps; ++step) {
      for (int b = 0; b < opts.batch_size; ++b) {
        uint64_t s = UniformBelow(rng, starts);
        std::copy(stream.begin() + s, stream.begin() + s + span,
                  batch.begin() + static_cast<size_t>(b) * span);
      }
      at::Tensor ids =
          at::tensor(batch, at::kLong).view({opts.batch_size, span});
      at::Tensor input = ids.slice(1, 0, opts.seq_len);
      at::Tensor target = ids.slice(1, 1, span).reshape({-1});
      QG_ASSIGN_OR_RETURN(at::Tensor logits, lm->Forward(input));
      at::Tensor loss =
          at::cross_entropy_loss(logits.reshape({-1, logits.size(-1)}), target);
      for (auto& p : params) p.mutable_grad() = at::Tensor();
      loss.backward();

      double lr = CosineLearningRate(step, opts.steps, opts.warmup_steps,
                                     opts.learning_rate, opts.min_lr_ratio);
      {
        at::NoGradGuard no_grad;
        // Global-norm clipping (Pascanu et al. 2013).
        double sq = 0;
        for (const auto& p : params) {
          if (p.grad().defined()) sq += p.grad().pow(2).sum().item<double>();
        }
        double norm = std::sqrt(sq);
        double clip = (opts.grad_clip > 0 && norm > opts.grad_clip)
                          ? opts.grad_clip / (norm + 1e-6)
                          : 1.0;
        // AdamW (Loshchilov & Hutter 2019): decoupled decay on matrices.
        const double bc1 = 1.0 - std::pow(opts.beta1, step + 1);
        const double bc2 = 1.0 - std::pow(opts.beta2, step + 1);
        for (size_t i = 0; i < params.size(); ++i) {
          at::Tensor& p = params[i];
          if (!p.grad().defined()) continue;
          at::Tensor g = p.grad() * clip;
          m[i].mul_(opts.beta1).add_(g, 1.0 - opts.beta1);
          v[i].mul_(opts.beta2).addcmul_(g, g, 1.0 - opts.beta2);
          if (p.dim() >= 2 && opts.weight_decay > 0)
            p.mul_(1.0 - lr * opts.weight_decay);
          at::Tensor denom = (v[i] / bc2).sqrt_().add_(opts.adam_eps);
          p.addcdiv_(m[i], denom, -lr / bc1);
        }
      }
      double l = loss.item<double>();
      if (!std::isfinite(l))
        return absl::InternalError(
            absl::StrCat("train-tiny: loss became ", l, " at step ", step));
      result.losses.push_back(l);
      lrs.push_back(lr);
      tokens_done += static_cast<int64_t>(opts.batch_size) * opts.seq_len;
      double el =
          std::chrono::duration<double>(std::chrono::steady_clock::now() - t0)
              .count();
      bar.Add(1, absl::StrFormat("loss %.3f  %.0f tok/s", l,
                                 el > 0 ? tokens_done / el : 0.0));
    }
    bar.Finish();
    train_seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0)
            .count();
    return absl::OkStatus();
  }));
  result.tokens_per_second =
      train_seconds > 0 ? tokens_done / train_seconds : 0.0;

  // 5. The Hugging Face folder.
  std::vector<std::pair<std::string, at::Tensor>> tensors;
  QG_RETURN_IF_ERROR(CatchTorch([&]() -> absl::Status {
    at::ScalarType st =
        opts.save_dtype == "bfloat16" ? at::kBFloat16 : at::kFloat;
    for (auto& [name, t] : lm->StateDict())
      tensors.emplace_back(name, t.detach().to(st).contiguous());
    return absl::OkStatus();
  }));
  // transformers refuses safetensors without format=pt metadata.
  QG_RETURN_IF_ERROR(
      WriteSafetensors((fs::path(opts.out_dir) / "model.safetensors").string(),
                       tensors, {{"format", "pt"}}));
  QG_RETURN_IF_ERROR(
      WriteText(fs::path(opts.out_dir) / "generation_config.json",
                absl::StrCat("{\n  \"bos_token_id\": ", tok->bos_id(),
                             ",\n  \"eos_token_id\": ", tok->eos_id(),
                             ",\n  \"do_sample\": false\n}\n")));
  result.seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t_start)
          .count();

  ordered_json log;
  log["seed"] = opts.seed;
  log["threads"] = opts.threads;
  log["domains"] = domains;
  log["parameters"] = result.parameters;
  log["train_tokens"] = result.train_tokens;
  log["steps"] = opts.steps;
  log["batch_size"] = opts.batch_size;
  log["seq_len"] = opts.seq_len;
  log["learning_rate"] = opts.learning_rate;
  log["min_lr_ratio"] = opts.min_lr_ratio;
  log["warmup_steps"] = opts.warmup_steps;
  log["weight_decay"] = opts.weight_decay;
  log["betas"] = {opts.beta1, opts.beta2};
  log["grad_clip"] = opts.grad_clip;
  log["tokens_per_second"] = result.tokens_per_second;
  log["seconds"] = result.seconds;
  log["loss"] = result.losses;
  log["lr"] = lrs;
  QG_RETURN_IF_ERROR(
      WriteText(fs::path(opts.out_dir) / "train_log.json", log.dump(1) + "\n"));

  std::ostringstream readme;
  readme << "# qgrid-tiny\n\n"
         << "A small LLaMA-architecture language model trained by qgrid "
            "itself (`qgrid train-tiny`) on its demo corpora, built from "
            "public-text Debian packages by `qgrid data build-demo`.\n\n"
         << "- Domains: " << JoinArgs(domains) << "\n"
         << "- Parameters: " << result.parameters << " (hidden "
         << opts.hidden_size << ", " << opts.num_layers << " layers, "
         << opts.num_heads << " heads, " << opts.num_kv_heads
         << " KV heads, SwiGLU " << opts.intermediate_size
         << ", RMSNorm, RoPE theta " << opts.rope_theta << ")\n"
         << "- Tokenizer: SentencePiece BPE, " << vocab
         << " pieces, byte fallback, identity normalisation\n"
         << "- Training: " << opts.steps << " steps x " << opts.batch_size
         << " x " << opts.seq_len << " tokens, AdamW (lr " << opts.learning_rate
         << ", betas " << opts.beta1 << "/" << opts.beta2 << ", weight decay "
         << opts.weight_decay << "), warmup " << opts.warmup_steps
         << " then cosine to " << opts.min_lr_ratio << "x, clip "
         << opts.grad_clip << "\n"
         << "- Seed " << opts.seed << ", ATen threads " << opts.threads
         << " (the loss curve is reproducible for the same seed and thread "
            "count on the same machine)\n"
         << "- Stored as " << opts.save_dtype << "; final loss "
         << (result.losses.empty() ? NAN : result.losses.back()) << "; "
         << static_cast<int64_t>(result.tokens_per_second)
         << " tokens/s during training\n\n"
         << "## Regenerate\n\n```\n"
         << "qgrid data build-demo --out DATA --seed 42\n"
         << (opts.command_line.empty()
                 ? "qgrid train-tiny --data DATA --out OUT"
                 : opts.command_line)
         << "\n```\n\n"
         << "Files: config.json, model.safetensors, tokenizer.model, "
            "tokenizer_config.json, special_tokens_map.json, "
            "generation_config.json (Hugging Face layout), train_log.json "
            "(loss per step).\n";
  QG_RETURN_IF_ERROR(
      WriteText(fs::path(opts.out_dir) / "README.md", readme.str()));
  return result;
}

}  // namespace qgrid::demo
