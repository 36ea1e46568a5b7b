// Tokenizer throughput on WikiText-2 test (1.29 MB): qgrid's C++
// tokenizer.json BPE (LLaMA-2, GPT-2, Mistral v0.3) next to the baseline,
// libsentencepiece on LLaMA-2's tokenizer.model (through the shim).
//
//   build/bench/bench_model_tokenizer [path/to/shared]
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <string>

#include "model/sentencepiece.h"
#include "model/tokenizer.h"

namespace {

double Seconds(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0)
      .count();
}

void Run(const char* label, const qgrid::model::Tokenizer& tok,
         const std::string& text) {
  auto t0 = std::chrono::steady_clock::now();
  std::vector<int> ids = tok.Encode(text);
  double enc = Seconds(t0);
  t0 = std::chrono::steady_clock::now();
  std::string back = tok.Decode(ids);
  double dec = Seconds(t0);
  std::printf(
      "%-34s %9zu tokens  encode %7.3f s (%6.2f MB/s)  decode %6.3f s"
      "  round-trip %s\n",
      label, ids.size(), enc, text.size() / enc / 1e6, dec,
      back == text ? "exact" : "differs");
}

}  // namespace

int main(int argc, char** argv) {
  std::string shared = argc > 1 ? argv[1] : QGRID_SOURCE_DIR "/../shared";
  std::ifstream in(shared + "/data/wikitext2/wiki.test.raw", std::ios::binary);
  if (!in) {
    std::fprintf(stderr, "needs %s/data/wikitext2/wiki.test.raw\n",
                 shared.c_str());
    return 1;
  }
  std::string text((std::istreambuf_iterator<char>(in)), {});
  std::printf("wiki.test.raw: %.2f MB\n", text.size() / 1e6);
  const std::string toks = shared + "/models/tokenizers/";
  for (const char* name : {"llama2", "gpt2", "mistral-7b-instruct-v0.3"}) {
    auto t0 = std::chrono::steady_clock::now();
    auto tok = qgrid::model::LoadTokenizer(toks + name);
    if (!tok.ok()) {
      std::fprintf(stderr, "%s: %s\n", name, tok.status().ToString().c_str());
      continue;
    }
    std::printf("load %-28s %.3f s\n", name, Seconds(t0));
    Run((std::string(name) + " tokenizer.json (qgrid)").c_str(), **tok, text);
  }
  auto spm = qgrid::model::LoadSentencePieceTokenizer(
      toks + "llama2/tokenizer.model", {});
  if (spm.ok()) {
    Run("llama2 tokenizer.model (baseline)", **spm, text);
  }
  return 0;
}
