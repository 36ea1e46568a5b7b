// GPTQ on one linear layer (CPU) against its floor: the same Hessian
// accumulation, Cholesky factorizations and lazy block-update matmuls as
// bare ATen calls, without GPTQ's per-column work.
//
//   bench_quant_gptq [--shapes 4096x4096,11008x4096] [--tokens 65536]
//                    [--batch 4096] [--bits 4] [--group 128] [--threads N]
//                    [--repeat R]
//
// With --repeat R every phase is timed R times (ours and the floor
// interleaved) and the minimum is reported: on a shared, loaded machine
// the minimum is the least disturbed run of each.
//
// Defaults are the setting (7B shapes, 128 x 512 calibration
// tokens); they take minutes on a small CPU, so every size is a flag.
// Target: GPTQ total <= 1.25x the floor.
#include <ATen/ATen.h>
#include <ATen/Parallel.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "quant/quantizer.h"

namespace {

using Clock = std::chrono::steady_clock;
double Secs(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

struct Shape {
  int64_t out, in;
};

std::vector<Shape> ParseShapes(const std::string& s) {
  std::vector<Shape> r;
  size_t pos = 0;
  while (pos < s.size()) {
    size_t comma = s.find(',', pos);
    std::string one =
        s.substr(pos, comma == std::string::npos ? s.npos : comma - pos);
    size_t x = one.find('x');
    if (x != std::string::npos)
      r.push_back({std::atoll(one.substr(0, x).c_str()),
                   std::atoll(one.substr(x + 1).c_str())});
    if (comma == std::string::npos) break;
    pos = comma + 1;
  }
  return r;
}

}  // namespace

int main(int argc, char** argv) {
  std::string shapes = "4096x4096,11008x4096";
  int64_t tokens = 128 * 512, batch = 4096;
  int bits = 4, group = 128, threads = 0, repeat = 1;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string f = argv[i], v = argv[i + 1];
    if (f == "--shapes")
      shapes = v;
    else if (f == "--tokens")
      tokens = std::atoll(v.c_str());
    else if (f == "--batch")
      batch = std::atoll(v.c_str());
    else if (f == "--bits")
      bits = std::atoi(v.c_str());
    else if (f == "--group")
      group = std::atoi(v.c_str());
    else if (f == "--threads")
      threads = std::atoi(v.c_str());
    else if (f == "--repeat")
      repeat = std::max(1, std::atoi(v.c_str()));
    else {
      std::fprintf(stderr, "unknown flag %s\n", f.c_str());
      return 2;
    }
  }
  if (threads > 0) at::set_num_threads(threads);
  std::printf(
      "GPTQ CPU bench: %lld calibration tokens (batches of %lld), "
      "%d-bit, group %d, %d threads\n",
      static_cast<long long>(tokens), static_cast<long long>(batch), bits,
      group, at::get_num_threads());
  for (const Shape& s : ParseShapes(shapes)) {
    double best_hess = 1e30, best_gptq = 1e30, best_fhess = 1e30,
           best_fgptq = 1e30;
    for (int rep = 0; rep < repeat; ++rep) {
      at::manual_seed(0);
      at::Tensor w = at::randn({s.out, s.in});
      // Inputs with some channel structure so that H is well conditioned but
      // not diagonal.
      at::Tensor mix =
          at::randn({s.in, s.in}) / std::sqrt(double(s.in)) + at::eye(s.in);

      // ---- qgrid: HessianAccumulator + GptqQuantizer.
      auto t0 = Clock::now();
      qgrid::quant::HessianAccumulator acc(s.in);
      double gen = 0;
      for (int64_t b = 0; b < tokens; b += batch) {
        auto tg = Clock::now();
        at::Tensor x = at::randn({std::min(batch, tokens - b), s.in}).mm(mix);
        gen += Secs(tg);
        acc.Add(x);
      }
      const double t_hess = Secs(t0) - gen;
      qgrid::quant::GptqOptions o;
      o.bits = bits;
      o.group_size = group;
      auto t1 = Clock::now();
      auto q = qgrid::quant::GptqQuantizer(o).Quantize(w, acc.hessian());
      const double t_gptq = Secs(t1);
      if (!q.ok()) {
        std::fprintf(stderr, "gptq failed: %s\n",
                     std::string(q.status().message()).c_str());
        return 1;
      }

      // ---- floor: the same big operations as bare ATen calls.
      at::manual_seed(0);
      (void)at::randn({s.out, s.in});
      at::Tensor H = at::zeros({s.in, s.in});
      double gen2 = 0;
      auto t2 = Clock::now();
      for (int64_t b = 0; b < tokens; b += batch) {
        auto tg = Clock::now();
        at::Tensor x = at::randn({std::min(batch, tokens - b), s.in}).mm(mix);
        gen2 += Secs(tg);
        H.addmm_(x.t(), x, 1.0, 2.0 / double(tokens));
      }
      const double f_hess = Secs(t2) - gen2;
      auto t3 = Clock::now();
      at::Tensor Hd = H.clone();
      Hd.diagonal().add_(0.01 * Hd.diagonal().mean().item<double>());
      at::Tensor L = at::linalg_cholesky(Hd);
      at::Tensor Hinv = at::linalg_cholesky(at::cholesky_inverse(L), true);
      at::Tensor W = w.clone();
      for (int64_t i1 = 0; i1 < s.in; i1 += 128) {
        const int64_t i2 = std::min<int64_t>(i1 + 128, s.in);
        at::Tensor err = W.slice(1, i1, i2).clone();
        // Intra-block updates as one triangular matmul + the lazy update.
        W.slice(1, i1, i2).sub_(err.mm(Hinv.slice(0, i1, i2).slice(1, i1, i2)));
        if (i2 < s.in)
          W.slice(1, i2).addmm_(err, Hinv.slice(0, i1, i2).slice(1, i2), 1, -1);
      }
      const double f_gptq = Secs(t3);
      best_hess = std::min(best_hess, t_hess);
      best_gptq = std::min(best_gptq, t_gptq);
      best_fhess = std::min(best_fhess, f_hess);
      best_fgptq = std::min(best_fgptq, f_gptq);
    }
    const double t_hess = best_hess, t_gptq = best_gptq, f_hess = best_fhess,
                 f_gptq = best_fgptq;
    const double ours = t_hess + t_gptq, floor = f_hess + f_gptq;
    std::printf(
        "%lldx%lld: qgrid hessian %.2f s + gptq %.2f s = %.2f s | bare ATen "
        "hessian %.2f s + cholesky/updates %.2f s = %.2f s | ratio %.2fx "
        "(target <= 1.25x; min of %d)\n",
        static_cast<long long>(s.out), static_cast<long long>(s.in), t_hess,
        t_gptq, ours, f_hess, f_gptq, floor, ours / floor, repeat);
    std::fflush(stdout);
  }
  return 0;
}
