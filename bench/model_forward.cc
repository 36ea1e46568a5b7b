// Model runtime benchmark (CPU):
//  1. forward throughput of stories260K (../shared) in tokens/s;
//  2. one LLaMA-7B-shaped decoder layer (hidden 4096, intermediate 11008,
//     32 heads, random weights, batch 1 x 128 tokens);
// each printed next to the time of the same matmuls done directly with
// ATen (at::linear for the projections, at::matmul for QK^T and PV): the
// ratio is the runtime's overhead (norms, RoPE, masking, softmax, residuals,
// hooks) on top of the unavoidable GEMMs; target <= 1.15x for the 7B layer.
//  3. checkpoint load time and peak RSS against the file size, for a
//     synthetic fp32 checkpoint of ~340 MB written to /tmp (same-dtype load;
//     target peak RSS <= ~1.1x the file). The load runs in a fresh child
//     process so that nothing else counts toward its peak.
//
// Usage: bench_model_forward [--iters N | --load (part 3 only)]
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "model/causal_lm.h"
#include "model/safetensors.h"
#include "model/torch_compat.h"

namespace {

using qgrid::model::CausalLM;
using qgrid::model::LoadOptions;
using qgrid::model::ModelConfig;
namespace fs = std::filesystem;

double Now() {
  return std::chrono::duration<double>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// Median-free simple timing: warm up once, then the mean of `iters` runs.
template <typename F>
double TimeIt(int iters, F&& f) {
  f();
  double t0 = Now();
  for (int i = 0; i < iters; ++i) f();
  return (Now() - t0) / iters;
}

int64_t StatusKb(const char* key) {
  std::ifstream in("/proc/self/status");
  std::string line;
  const std::string k = std::string(key) + ":";
  while (std::getline(in, line)) {
    if (line.rfind(k, 0) == 0) return std::atoll(line.c_str() + k.size());
  }
  return -1;
}

ModelConfig LlamaConfig(int64_t hidden, int64_t inter, int64_t layers,
                        int64_t heads, int64_t kv_heads, int64_t vocab) {
  ModelConfig c;
  c.model_type = "llama";
  c.hidden_size = hidden;
  c.intermediate_size = inter;
  c.num_layers = layers;
  c.num_heads = heads;
  c.num_kv_heads = kv_heads;
  c.head_dim = hidden / heads;
  c.vocab_size = vocab;
  c.max_position_embeddings = 4096;
  c.rms_norm_eps = 1e-5;
  return c;
}

std::map<std::string, at::Tensor> RandomWeights(const ModelConfig& c) {
  const int64_t H = c.hidden_size, I = c.intermediate_size;
  const int64_t q = c.num_heads * c.head_dim, kv = c.num_kv_heads * c.head_dim;
  const double s = 1.0 / std::sqrt(static_cast<double>(H));
  std::map<std::string, at::Tensor> t;
  t["model.embed_tokens.weight"] = at::randn({c.vocab_size, H});
  for (int64_t l = 0; l < c.num_layers; ++l) {
    std::string p = "model.layers." + std::to_string(l) + ".";
    t[p + "input_layernorm.weight"] = at::ones({H});
    t[p + "post_attention_layernorm.weight"] = at::ones({H});
    t[p + "self_attn.q_proj.weight"] = at::randn({q, H}) * s;
    t[p + "self_attn.k_proj.weight"] = at::randn({kv, H}) * s;
    t[p + "self_attn.v_proj.weight"] = at::randn({kv, H}) * s;
    t[p + "self_attn.o_proj.weight"] = at::randn({H, q}) * s;
    t[p + "mlp.gate_proj.weight"] = at::randn({I, H}) * s;
    t[p + "mlp.up_proj.weight"] = at::randn({I, H}) * s;
    t[p + "mlp.down_proj.weight"] = at::randn({H, I}) * s;
  }
  t["model.norm.weight"] = at::ones({H});
  t["lm_head.weight"] = at::randn({c.vocab_size, H}) * s;
  return t;
}

// The GEMMs a forward of `lm` on [B, T] performs, done directly in ATen
// with the model's own weights.
double MatmulsOnly(CausalLM& lm, int64_t B, int64_t T, int iters) {
  const ModelConfig& c = lm.config();
  const int64_t nh = c.num_heads, nkv = c.num_kv_heads, hd = c.head_dim;
  at::Tensor x = at::randn({B, T, c.hidden_size});
  at::Tensor xi = at::randn({B, T, c.intermediate_size});
  at::Tensor xo = at::randn({B, T, nh * hd});
  at::Tensor q = at::randn({B, nkv, (nh / nkv) * T, hd});
  at::Tensor k = at::randn({B, nkv, hd, T});
  at::Tensor p = at::randn({B, nkv, (nh / nkv) * T, T});
  at::Tensor v = at::randn({B, nkv, T, hd});
  at::NoGradGuard ng;
  return TimeIt(iters, [&] {
    for (int i = 0; i < lm.num_layers(); ++i) {
      const auto& L = lm.layer(i);
      at::linear(x, L.q_proj->DenseWeight());
      at::linear(x, L.k_proj->DenseWeight());
      at::linear(x, L.v_proj->DenseWeight());
      at::matmul(q, k);
      at::matmul(p, v);
      at::linear(xo, L.o_proj->DenseWeight());
      at::linear(x, L.gate_proj->DenseWeight());
      at::linear(x, L.up_proj->DenseWeight());
      at::linear(xi, L.down_proj->DenseWeight());
    }
    at::linear(x, lm.lm_head()->DenseWeight());
  });
}

void Throughput(const char* what, CausalLM& lm, int64_t B, int64_t T,
                int iters) {
  at::Tensor ids = at::randint(0, lm.config().vocab_size, {B, T}, at::kLong);
  double fwd = TimeIt(iters, [&] { (void)lm.Forward(ids); });
  double mm = MatmulsOnly(lm, B, T, iters);
  std::printf(
      "%-34s batch %lld x %lld: forward %8.2f ms = %9.0f tokens/s | same "
      "matmuls in ATen %8.2f ms | ratio %.3fx\n",
      what, static_cast<long long>(B), static_cast<long long>(T), fwd * 1e3,
      B * T / fwd, mm * 1e3, fwd / mm);
}

// Child process: load the checkpoint and report time and memory.
int LoadOnly(const std::string& dir) {
  const int64_t rss0 = StatusKb("VmRSS");
  LoadOptions o;
  o.load_tokenizer = false;
  double t0 = Now();
  auto lm = CausalLM::Load(dir, o);
  double secs = Now() - t0;
  if (!lm.ok()) {
    std::fprintf(stderr, "load failed: %s\n",
                 std::string(lm.status().message()).c_str());
    return 1;
  }
  const int64_t hwm = StatusKb("VmHWM");
  std::printf("%.6f %lld %lld %lld\n", secs, static_cast<long long>(rss0),
              static_cast<long long>(hwm),
              static_cast<long long>((*lm)->WeightBytes()));
  return 0;
}

void LoadBench() {
  ModelConfig c = LlamaConfig(1024, 2816, 4, 16, 16, 16000);
  std::string dir = "/tmp/qgrid-bench-ckpt-" + std::to_string(getpid());
  fs::create_directories(dir);
  {
    auto w = RandomWeights(c);
    std::vector<std::pair<std::string, at::Tensor>> list(w.begin(), w.end());
    auto s = qgrid::model::WriteSafetensors(dir + "/model.safetensors", list);
    if (!s.ok()) {
      std::printf("load bench: %s\n", std::string(s.message()).c_str());
      return;
    }
  }
  std::ofstream(dir + "/config.json")
      << R"({"model_type": "llama", "hidden_size": 1024,
             "intermediate_size": 2816, "num_hidden_layers": 4,
             "num_attention_heads": 16, "vocab_size": 16000,
             "rms_norm_eps": 1e-5})";
  const auto file = fs::file_size(dir + "/model.safetensors");
  std::string cmd =
      "/proc/" + std::to_string(getpid()) + "/exe --load-only " + dir;
  FILE* p = popen(cmd.c_str(), "r");
  double secs = 0;
  long long rss0 = 0, hwm = 0, wbytes = 0;
  if (p == nullptr ||
      fscanf(p, "%lf %lld %lld %lld", &secs, &rss0, &hwm, &wbytes) != 4) {
    std::printf("load bench: child failed\n");
  } else {
    const double mb = 1 << 20;
    std::printf(
        "checkpoint load (fp32 -> fp32, %.0f MB file, warm page cache): "
        "%.3f s = %.0f MB/s | peak RSS %.0f MB over a %.0f MB baseline "
        "(%.0f MB total) = %.3fx the file (target <= 1.1x)\n",
        file / mb, secs, file / mb / secs, (hwm - rss0) / 1024.0, rss0 / 1024.0,
        hwm / 1024.0, (hwm - rss0) * 1024.0 / file);
  }
  if (p) pclose(p);
  fs::remove_all(dir);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc == 3 && std::string(argv[1]) == "--load-only") {
    return LoadOnly(argv[2]);
  }
  if (argc == 2 && std::string(argv[1]) == "--load") {
    LoadBench();
    return 0;
  }
  int iters = 3;
  if (argc == 3 && std::string(argv[1]) == "--iters")
    iters = std::atoi(argv[2]);
  std::printf("threads: %d (at::get_num_threads)\n", at::get_num_threads());
  at::manual_seed(0);

  // 1. stories260K
  std::string stories =
      std::string(QGRID_SOURCE_DIR) + "/../shared/models/stories260K";
  if (fs::exists(stories + "/config.json")) {
    LoadOptions o;
    o.load_tokenizer = false;
    auto lm = CausalLM::Load(stories, o);
    if (lm.ok()) {
      Throughput("stories260K (5 layers, fp32)", **lm, 8, 256, iters * 5);
      Throughput("stories260K (5 layers, fp32)", **lm, 1, 256, iters * 5);
    } else {
      std::printf("stories260K: %s\n",
                  std::string(lm.status().message()).c_str());
    }
  } else {
    std::printf("stories260K: skipped (../shared/models/stories260K absent)\n");
  }

  // 2. one LLaMA-7B-shaped decoder layer (tiny vocab so that the head is
  // negligible; it is timed in the baseline too).
  {
    ModelConfig c = LlamaConfig(4096, 11008, 1, 32, 32, 32);
    auto lm = CausalLM::FromTensors(c, RandomWeights(c));
    if (lm.ok()) {
      Throughput("LLaMA-7B decoder layer (fp32)", **lm, 1, 128, iters);
    } else {
      std::printf("7B layer: %s\n", std::string(lm.status().message()).c_str());
    }
  }

  // 3. load time and memory.
  LoadBench();
  return 0;
}
