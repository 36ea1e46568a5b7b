// Trains the demo SentencePiece tokenizer (the settings train-tiny uses) on
// a build-demo folder and prints, per domain, bytes per token on the test
// split next to the byte-level baseline (1 byte per token, what the
// tokenizer's byte fallback alone would give), and the training time.
//
//   bench_demo_tokenizer DATA_DIR [VOCAB_SIZE] [COVERAGE]
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "model/sentencepiece_trainer.h"
#include "model/tokenizer.h"
#include "tests/test_util.h"

namespace fs = std::filesystem;

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s DATA_DIR [VOCAB_SIZE] [COVERAGE]\n",
                 argv[0]);
    return 2;
  }
  std::string data = argv[1];
  int vocab = argc > 2 ? std::stoi(argv[2]) : 4096;
  double coverage = argc > 3 ? std::stod(argv[3]) : 0.995;
  std::vector<std::string> domains, inputs;
  for (const auto& e : fs::directory_iterator(data))
    if (fs::exists(e.path() / "train.txt")) {
      domains.push_back(e.path().filename().string());
    }
  std::sort(domains.begin(), domains.end());
  for (const auto& d : domains) inputs.push_back(data + "/" + d + "/train.txt");
  std::string out = qgrid::testing::MakeTempDir("bench-tok");
  qgrid::model::SentencePieceTrainOptions sp;
  sp.input_files = inputs;
  sp.model_prefix = out + "/tokenizer";
  sp.vocab_size = vocab;
  sp.character_coverage = coverage;
  sp.split_digits = true;
  sp.extra_flags =
      "--normalization_rule_name=identity --remove_extra_whitespaces=false "
      "--add_dummy_prefix=true --seed_sentencepiece_size=1000000";
  auto t0 = std::chrono::steady_clock::now();
  auto st = qgrid::model::TrainSentencePiece(sp);
  double secs =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0)
          .count();
  if (!st.ok()) {
    std::fprintf(stderr, "%s\n", std::string(st.message()).c_str());
    return 1;
  }
  std::printf("tokenizer: vocab %d, coverage %.4f, trained in %.1f s\n", vocab,
              coverage, secs);
  auto tok = qgrid::model::LoadTokenizer(out);
  if (!tok.ok()) {
    std::fprintf(stderr, "%s\n", std::string(tok.status().message()).c_str());
    return 1;
  }
  std::printf("%-11s %10s %10s %12s %14s\n", "domain", "bytes", "tokens",
              "bytes/token", "byte-level b/t");
  for (const auto& d : domains) {
    std::ifstream in(data + "/" + d + "/test.txt");
    std::string line;
    size_t bytes = 0, tokens = 0;
    while (std::getline(in, line)) {
      bytes += line.size();
      tokens += (*tok)->Encode(line, false).size();
    }
    std::printf("%-11s %10zu %10zu %12.2f %14.2f\n", d.c_str(), bytes, tokens,
                tokens ? static_cast<double>(bytes) / tokens : 0.0, 1.0);
  }
  fs::remove_all(out);
  return 0;
}
