// Training SentencePiece models (model/sentencepiece_trainer.h).
#include "model/sentencepiece_trainer.h"

#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "model/sentencepiece.h"
#include "model/tokenizer.h"
#include "tests/test_util.h"

namespace qgrid::model {
namespace {

// Deterministic toy corpus: sentences from a small vocabulary.
std::string WriteCorpus(const std::string& dir) {
  static const char* kWords[] = {
      "the",  "little", "girl", "saw",  "a",      "big",  "red",
      "ball", "and",    "dog",  "ran",  "to",     "park", "happy",
      "sun",  "played", "with", "her",  "friend", "tree", "café",
      "über", "naïve",  "日本", "机器", "2024",   "42"};
  std::string path = dir + "/corpus.txt";
  std::ofstream out(path);
  unsigned state = 12345;
  for (int line = 0; line < 3000; ++line) {
    int n = 4 + line % 9;
    for (int w = 0; w < n; ++w) {
      state = state * 1103515245u + 12345u;
      out << (w ? " " : "") << kWords[(state >> 16) % std::size(kWords)];
    }
    out << ".\n";
  }
  return path;
}

std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

TEST(TrainSentencePiece, TrainsALoadableDeterministicBpeModel) {
  std::string dir = testing::MakeTempDir("spm-train");
  ASSERT_FALSE(dir.empty());
  SentencePieceTrainOptions opt;
  opt.input_files = {WriteCorpus(dir)};
  opt.model_prefix = dir + "/a";
  opt.vocab_size = 400;
  opt.model_type = "bpe";
  ASSERT_TRUE(TrainSentencePiece(opt).ok());
  opt.model_prefix = dir + "/b";
  ASSERT_TRUE(TrainSentencePiece(opt).ok());
  // The .model also records its own model_prefix; the vocabulary and scores
  // (.vocab) must be identical.
  EXPECT_EQ(ReadAll(dir + "/a.vocab"), ReadAll(dir + "/b.vocab"))
      << "same corpus and options must give the same model";
  EXPECT_GT(ReadAll(dir + "/a.vocab").size(), 1000u);

  auto tok = LoadSentencePieceTokenizer(dir + "/a.model", {});
  ASSERT_TRUE(tok.ok()) << tok.status();
  EXPECT_EQ((*tok)->vocab_size(), 400);
  EXPECT_EQ((*tok)->bos_id(), 1);
  EXPECT_EQ((*tok)->eos_id(), 2);
  const std::string text = "the little girl saw a big red ball";
  std::vector<int> ids = (*tok)->Encode(text);
  ASSERT_GE(ids.size(), 2u);
  EXPECT_EQ(ids[0], 1);
  // Frequent words are merged into whole pieces.
  EXPECT_LT(ids.size(), text.size() / 2);
  EXPECT_EQ((*tok)->Decode(ids), text);
  // Byte fallback: characters never seen still round-trip.
  const std::string unseen = "Ω≈ç√ 👍";
  EXPECT_EQ((*tok)->Decode((*tok)->Encode(unseen)), unseen);
  std::filesystem::remove_all(dir);
}

TEST(TrainSentencePiece, BadOptionsAreErrors) {
  SentencePieceTrainOptions opt;
  EXPECT_FALSE(TrainSentencePiece(opt).ok());  // no input
  opt.input_files = {"/nonexistent/corpus.txt"};
  opt.model_prefix = "/tmp/qgrid-never";
  auto st = TrainSentencePiece(opt);
  EXPECT_FALSE(st.ok());
  opt.input_files = {"/tmp/a file.txt"};
  EXPECT_FALSE(TrainSentencePiece(opt).ok());
}

}  // namespace
}  // namespace qgrid::model
