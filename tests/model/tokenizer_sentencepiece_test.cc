// SentencePiece through the dlopen()ed shim: encodings of real tokenizer.model
// files against ids recorded once from the reference implementation
// (python3-sentencepiece 0.1.97, Debian 12), decode round trips, special-token
// splitting, LoadTokenizer on a checkpoint folder, and training.
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "model/sentencepiece.h"
#include "model/sentencepiece_trainer.h"
#include "model/tokenizer.h"
#include "tests/test_util.h"

namespace qgrid::model {
namespace {

struct SpmCase {
  const char* name;
  const char* text;
  std::vector<int> ids;
};

// python3-sentencepiece 0.1.97: [bos_id] +
// SentencePieceProcessor(../shared/models/stories260K/tokenizer.model).encode(text)
const SpmCase kStories260KCases[] = {
    {"plain", "Hello world", {1, 346, 306, 414, 263, 304, 341}},
    {"spaces",
     "  leading and trailing spaces  ",
     {1,   410, 410, 278, 411, 380, 299, 269, 259, 420,
      412, 290, 299, 262, 427, 412, 331, 419, 410, 410}},
    {"whitespace",
     "multiple   spaces\tand\ttabs\nnew\n\nlines\n",
     {1,   284, 425, 421, 413, 417, 427, 305, 410, 410, 262,
      427, 412, 331, 419, 12,  412, 264, 12,  413, 412, 430,
      419, 13,  416, 411, 424, 13,  13,  421, 271, 406, 13}},
    {"digits",
     "The year 2024 had 365 days; pi is 3.14159 and 1234567890.",
     {1,   291, 348, 411, 295, 410, 479, 477, 479, 484, 381, 410, 472, 490, 480,
      328, 419, 474, 282, 417, 410, 293, 410, 472, 426, 475, 484, 475, 480, 483,
      269, 410, 475, 479, 472, 484, 480, 490, 491, 487, 483, 477, 426}},
    {"contractions",
     "It's what they're doing, isn't it? We'll see, I'd say.",
     {1,   359, 413, 439, 419, 263, 415, 294, 366, 439, 276, 400,
      299, 432, 410, 293, 416, 439, 413, 312, 450, 410, 448, 411,
      439, 306, 262, 411, 411, 432, 359, 439, 418, 262, 283, 426}},
    {"punct",
     "Punctuation!?... (brackets) [x] {y} \"quotes\" -- dashes & co.",
     {1,   410, 460, 379, 429, 413, 425, 294, 417, 289, 443, 450, 426,
      426, 426, 410, 489, 430, 420, 412, 340, 316, 419, 488, 410, 508,
      444, 509, 410, 126, 422, 128, 313, 456, 425, 309, 406, 436, 410,
      464, 464, 279, 412, 419, 260, 419, 410, 499, 280, 414, 426}},
    {"latin",
     "Caf\xc3\xa9 au lait, na\xc3\xafve fa\xc3\xa7"
     "ade, Stra\xc3\x9f"
     "e, \xc3\x89"
     "cole",
     {1,   410, 457, 412, 431, 485, 261, 425, 278, 412, 275, 432, 297,
      412, 198, 178, 360, 272, 412, 198, 170, 380, 411, 432, 301, 413,
      420, 412, 198, 162, 411, 432, 410, 198, 140, 429, 414, 305}},
    {"chinese",
     "\xe6\x9c\xba\xe5\x99\xa8\xe5\xad\xa6\xe4\xb9\xa0\xe6\x98\xaf\xe4\xba\xba"
     "\xe5\xb7\xa5\xe6\x99\xba\xe8\x83\xbd\xe7\x9a\x84\xe4\xb8\x80\xe4\xb8\xaa"
     "\xe5\x88\x86\xe6\x94\xaf\xe3\x80\x82",
     {1,   410, 233, 159, 189, 232, 156, 171, 232, 176, 169, 231,
      188, 163, 233, 155, 178, 231, 189, 189, 232, 186, 168, 233,
      156, 189, 235, 134, 192, 234, 157, 135, 231, 187, 131, 231,
      187, 173, 232, 139, 137, 233, 151, 178, 230, 131, 133}},
    {"japanese",
     "\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e\xe3\x81\xae\xe3\x83\x86\xe3\x82\xad"
     "\xe3\x82\xb9\xe3\x83\x88\xe3\x81\xa7\xe3\x81\x99\xe3\x80\x82\xe3\x82\xab"
     "\xe3\x82\xbf\xe3\x82\xab\xe3\x83\x8a",
     {1,   410, 233, 154, 168, 233, 159, 175, 235, 173, 161, 230,
      132, 177, 230, 134, 137, 230, 133, 176, 230, 133, 188, 230,
      134, 139, 230, 132, 170, 230, 132, 156, 230, 131, 133, 230,
      133, 174, 230, 133, 194, 230, 133, 174, 230, 134, 141}},
    {"emoji",
     "Emoji: \xf0\x9f\x91\x8d\xf0\x9f\x8f\xbd family "
     "\xf0\x9f\x91\xa8\xe2\x80\x8d\xf0\x9f\x91\xa9\xe2\x80\x8d\xf0\x9f\x91\xa7"
     "\xe2\x80\x8d\xf0\x9f\x91\xa6 done",
     {1,   410, 459, 423, 414, 449, 417, 467, 410, 243, 162, 148, 144,
      243, 162, 146, 192, 272, 314, 310, 410, 243, 162, 148, 171, 229,
      131, 144, 243, 162, 148, 172, 229, 131, 144, 243, 162, 148, 170,
      229, 131, 144, 243, 162, 148, 169, 279, 289, 411}},
    {"empty", "", {1}},
};

// python3-sentencepiece 0.1.97: [bos_id] +
// SentencePieceProcessor(../shared/models/tokenizers/llama2/tokenizer.model).encode(text)
const SpmCase kLlama2Cases[] = {
    {"plain", "Hello world", {1, 15043, 3186}},
    {"spaces",
     "  leading and trailing spaces  ",
     {1, 259, 8236, 322, 25053, 8162, 259}},
    {"whitespace",
     "multiple   spaces\tand\ttabs\nnew\n\nlines\n",
     {1, 2999, 259, 8162, 12, 392, 12, 21175, 13, 1482, 13, 13, 9012, 13}},
    {"digits",
     "The year 2024 had 365 days; pi is 3.14159 and 1234567890.",
     {1,     450,   1629,  29871, 29906, 29900, 29906, 29946, 750,   29871,
      29941, 29953, 29945, 3841,  29936, 2930,  338,   29871, 29941, 29889,
      29896, 29946, 29896, 29945, 29929, 322,   29871, 29896, 29906, 29941,
      29946, 29945, 29953, 29955, 29947, 29929, 29900, 29889}},
    {"contractions",
     "It's what they're doing, isn't it? We'll see, I'd say.",
     {1,     739,   29915, 29879, 825,   896,   29915, 276,   2599,
      29892, 3508,  29915, 29873, 372,   29973, 1334,  29915, 645,
      1074,  29892, 306,   29915, 29881, 1827,  29889}},
    {"punct",
     "Punctuation!?... (brackets) [x] {y} \"quotes\" -- dashes & co.",
     {1,    349,   18049, 29884, 362,   29991, 29973, 856,   313, 2634,
      9737, 29897, 518,   29916, 29962, 426,   29891, 29913, 376, 339,
      4769, 29908, 1192,  12569, 267,   669,   1302,  29889}},
    {"latin",
     "Caf\xc3\xa9 au lait, na\xc3\xafve fa\xc3\xa7"
     "ade, Stra\xc3\x9f"
     "e, \xc3\x89"
     "cole",
     {1, 315, 28059, 782, 425, 277, 29892, 1055, 30085, 345, 2258, 30019, 1943,
      29892, 22667, 29892, 3067, 10936}},
    {"chinese",
     "\xe6\x9c\xba\xe5\x99\xa8\xe5\xad\xa6\xe4\xb9\xa0\xe6\x98\xaf\xe4\xba\xba"
     "\xe5\xb7\xa5\xe6\x99\xba\xe8\x83\xbd\xe7\x9a\x84\xe4\xb8\x80\xe4\xb8\xaa"
     "\xe5\x88\x86\xe6\x94\xaf\xe3\x80\x82",
     {1, 29871, 31429, 30943, 30415, 231, 188, 163, 30392, 30313, 31041, 31676,
      30815, 30210, 30287, 30502, 30748, 31541, 30267}},
    {"japanese",
     "\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e\xe3\x81\xae\xe3\x83\x86\xe3\x82\xad"
     "\xe3\x82\xb9\xe3\x83\x88\xe3\x81\xa7\xe3\x81\x99\xe3\x80\x82\xe3\x82\xab"
     "\xe3\x82\xbf\xe3\x82\xab\xe3\x83\x8a",
     {1, 29871, 30325, 30346, 30968, 30199, 30572, 30454, 30255, 30279, 30499,
      30427, 30267, 30439, 30369, 30439, 30576}},
    {"emoji",
     "Emoji: \xf0\x9f\x91\x8d\xf0\x9f\x8f\xbd family "
     "\xf0\x9f\x91\xa8\xe2\x80\x8d\xf0\x9f\x91\xa9\xe2\x80\x8d\xf0\x9f\x91\xa7"
     "\xe2\x80\x8d\xf0\x9f\x91\xa6 done",
     {1,   2812, 29877, 2397,  29901, 29871, 243,   162,   148,
      144, 243,  162,   146,   192,   3942,  29871, 243,   162,
      148, 171,  30722, 243,   162,   148,   172,   30722, 243,
      162, 148,  170,   30722, 243,   162,   148,   169,   2309}},
    {"empty", "", {1}},
};

// python3-sentencepiece 0.1.97: [bos_id] +
// SentencePieceProcessor(../shared/models/tokenizers/baichuan2-7b-chat/tokenizer.model).encode(text)
const SpmCase kBaichuan2Cases[] = {
    {"plain", "Hello world", {1, 23160, 2063}},
    {"spaces",
     "  leading and trailing spaces  ",
     {1, 1373, 22778, 1377, 67362, 11819, 1373}},
    {"whitespace",
     "multiple   spaces\tand\ttabs\nnew\n\nlines\n",
     {1, 31912, 4819, 1373, 11819, 6, 1464, 6, 92313, 13887, 5, 3746, 5, 5,
      9428, 5}},
    {"digits",
     "The year 2024 had 365 days; pi is 3.14159 and 1234567890.",
     {1,     1524,  1655,  92311, 92338, 92335, 92338, 92369, 1755,  92311,
      92354, 92373, 92358, 3121,  92399, 40213, 1414,  92311, 92354, 72,
      92336, 92369, 92336, 92358, 92362, 1377,  92311, 92336, 92338, 92354,
      92369, 92358, 92373, 92383, 92370, 92362, 92335, 72}},
    {"contractions",
     "It's what they're doing, isn't it? We'll see, I'd say.",
     {1,     2287,  92404, 92319, 1817,  1636, 92404, 1349,  4000,
      92323, 5029,  92404, 92313, 1442,  74,   1855,  92404, 1692,
      2108,  92323, 1406,  92404, 92322, 2596, 72}},
    {"punct",
     "Punctuation!?... (brackets) [x] {y} \"quotes\" -- dashes & co.",
     {1,     92356, 35663, 4529,  73,    74,   75,    1458,  2604, 1551,
      2237,  92351, 2511,  92365, 92832, 2083, 92330, 92795, 1664, 1501,
      11478, 92401, 92311, 63,    63,    1381, 16690, 1889,  1932, 72}},
    {"latin",
     "Caf\xc3\xa9 au lait, na\xc3\xafve fa\xc3\xa7"
     "ade, Stra\xc3\x9f"
     "e, \xc3\x89"
     "cole",
     {1, 92344, 2968, 93237, 12744, 2664, 1359, 92323, 12119, 96234, 1403,
      90198, 92323, 25189, 71174, 92323, 40708, 82469}},
    {"chinese",
     "\xe6\x9c\xba\xe5\x99\xa8\xe5\xad\xa6\xe4\xb9\xa0\xe6\x98\xaf\xe4\xba\xba"
     "\xe5\xb7\xa5\xe6\x99\xba\xe8\x83\xbd\xe7\x9a\x84\xe4\xb8\x80\xe4\xb8\xaa"
     "\xe5\x88\x86\xe6\x94\xaf\xe3\x80\x82",
     {1, 59743, 92347, 13081, 6742, 28702, 66}},
    {"japanese",
     "\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e\xe3\x81\xae\xe3\x83\x86\xe3\x82\xad"
     "\xe3\x82\xb9\xe3\x83\x88\xe3\x81\xa7\xe3\x81\x99\xe3\x80\x82\xe3\x82\xab"
     "\xe3\x82\xbf\xe3\x82\xab\xe3\x83\x8a",
     {1, 3867, 98700, 94932, 98284, 98483, 96708, 96884, 96003, 96012, 66,
      98039, 97828, 98039, 98468}},
    {"emoji",
     "Emoji: \xf0\x9f\x91\x8d\xf0\x9f\x8f\xbd family "
     "\xf0\x9f\x91\xa8\xe2\x80\x8d\xf0\x9f\x91\xa9\xe2\x80\x8d\xf0\x9f\x91\xa7"
     "\xe2\x80\x8d\xf0\x9f\x91\xa6 done",
     {1, 10432, 51317, 92345, 92311, 100473, 100512, 2659, 92311, 101991, 94693,
      101829, 94693, 110517, 94693, 107696, 3904}},
    {"empty", "", {1}},
};

void ExpectCases(const Tokenizer& tok, const SpmCase* begin,
                 const SpmCase* end) {
  for (const SpmCase* c = begin; c != end; ++c) {
    EXPECT_EQ(tok.Encode(c->text), c->ids) << "case " << c->name;
    EXPECT_EQ(tok.Decode(c->ids), c->text) << "case " << c->name;
    std::vector<int> no_bos(c->ids.begin() + 1, c->ids.end());
    EXPECT_EQ(tok.Encode(c->text, /*add_special_tokens=*/false), no_bos)
        << "case " << c->name;
  }
}

TEST(SentencePieceTokenizer, Stories260KMatchesReference) {
  QG_REQUIRE_SHARED(path, "models/stories260K/tokenizer.model");
  auto tok = LoadSentencePieceTokenizer(path, {});
  ASSERT_TRUE(tok.ok()) << tok.status();
  EXPECT_EQ((*tok)->vocab_size(), 512);
  EXPECT_EQ((*tok)->bos_id(), 1);
  EXPECT_EQ((*tok)->eos_id(), 2);
  EXPECT_EQ((*tok)->kind(), "sentencepiece");
  ExpectCases(**tok, std::begin(kStories260KCases),
              std::end(kStories260KCases));
}

TEST(SentencePieceTokenizer, Llama2MatchesReference) {
  QG_REQUIRE_SHARED(path, "models/tokenizers/llama2/tokenizer.model");
  auto tok = LoadSentencePieceTokenizer(path, {});
  ASSERT_TRUE(tok.ok()) << tok.status();
  EXPECT_EQ((*tok)->vocab_size(), 32000);
  EXPECT_EQ((*tok)->IdToPiece(15043), "\xe2\x96\x81Hello");
  ExpectCases(**tok, std::begin(kLlama2Cases), std::end(kLlama2Cases));
}

TEST(SentencePieceTokenizer, Baichuan2MatchesReference) {
  QG_REQUIRE_SHARED(path,
                    "models/tokenizers/baichuan2-7b-chat/tokenizer.model");
  auto tok = LoadSentencePieceTokenizer(path, {});
  ASSERT_TRUE(tok.ok()) << tok.status();
  EXPECT_EQ((*tok)->vocab_size(), 125696);
  ExpectCases(**tok, std::begin(kBaichuan2Cases), std::end(kBaichuan2Cases));
}

// Hugging Face's LlamaTokenizer (and its tokenizer.json twin) splits the text
// on special-token strings first; each segment gets its own "▁" prefix.
TEST(SentencePieceTokenizer, SpecialTokenStringsInTextBecomeSpecialIds) {
  QG_REQUIRE_SHARED(path, "models/tokenizers/llama2/tokenizer.model");
  auto tok = LoadSentencePieceTokenizer(path, {});
  ASSERT_TRUE(tok.ok()) << tok.status();
  EXPECT_EQ((*tok)->Encode("<s>Hello</s> world"),
            (std::vector<int>{1, 1, 15043, 2, 29871, 3186}));
  EXPECT_EQ((*tok)->Decode({1, 15043, 2}, /*skip_special_tokens=*/false),
            "<s>Hello</s>");
  EXPECT_EQ((*tok)->Decode({1, 15043, 2}), "Hello");
}

TEST(SentencePieceTokenizer, AddEosOptionAppendsEos) {
  QG_REQUIRE_SHARED(path, "models/tokenizers/llama2/tokenizer.model");
  auto tok = LoadSentencePieceTokenizer(path, {/*add_bos=*/false,
                                               /*add_eos=*/true});
  ASSERT_TRUE(tok.ok()) << tok.status();
  EXPECT_EQ((*tok)->Encode("Hello world"), (std::vector<int>{15043, 3186, 2}));
}

TEST(LoadTokenizer, CheckpointFolderWithTokenizerModelAddsBos) {
  QG_REQUIRE_SHARED(dir, "models/stories260K");
  auto tok = LoadTokenizer(dir);
  ASSERT_TRUE(tok.ok()) << tok.status();
  EXPECT_EQ((*tok)->kind(), "sentencepiece");
  std::vector<int> ids = (*tok)->Encode("Once upon a time");
  ASSERT_FALSE(ids.empty());
  EXPECT_EQ(ids.front(), 1);
  EXPECT_EQ((*tok)->Decode(ids), "Once upon a time");
}

TEST(LoadTokenizer, HonoursAddBosFalseInTokenizerConfig) {
  QG_REQUIRE_SHARED(model, "models/stories260K/tokenizer.model");
  std::string dir = testing::MakeTempDir("tok-nobos");
  ASSERT_FALSE(dir.empty());
  std::filesystem::copy_file(model, dir + "/tokenizer.model");
  std::ofstream(dir + "/tokenizer_config.json")
      << R"({"add_bos_token": false, "add_eos_token": true})";
  auto tok = LoadTokenizer(dir);
  ASSERT_TRUE(tok.ok()) << tok.status();
  EXPECT_EQ((*tok)->Encode("Hello world"),
            (std::vector<int>{346, 306, 414, 263, 304, 341, 2}));
  std::filesystem::remove_all(dir);
}

TEST(LoadTokenizer, UnsupportedTokenizerJsonFallsBackToTokenizerModel) {
  QG_REQUIRE_SHARED(model, "models/stories260K/tokenizer.model");
  std::string dir = testing::MakeTempDir("tok-fallback");
  ASSERT_FALSE(dir.empty());
  std::ofstream(dir + "/tokenizer.json")
      << R"({"model": {"type": "Unigram", "vocab": []}})";
  auto only_json = LoadTokenizer(dir);
  ASSERT_FALSE(only_json.ok());
  EXPECT_NE(only_json.status().message().find("Unigram"), std::string::npos);
  std::filesystem::copy_file(model, dir + "/tokenizer.model");
  auto tok = LoadTokenizer(dir);
  ASSERT_TRUE(tok.ok()) << tok.status();
  EXPECT_EQ((*tok)->kind(), "sentencepiece");
  std::filesystem::remove_all(dir);
}

TEST(LoadTokenizer, MissingFolderOrFilesIsAnError) {
  EXPECT_FALSE(LoadTokenizer("/nonexistent/qgrid/tokenizer").ok());
  std::string dir = testing::MakeTempDir("tok-empty");
  auto tok = LoadTokenizer(dir);
  ASSERT_FALSE(tok.ok());
  EXPECT_NE(tok.status().message().find(dir), std::string::npos);
  std::filesystem::remove_all(dir);
}

TEST(SentencePieceModel, CorruptModelFileIsAnErrorNamingTheFile) {
  std::string dir = testing::MakeTempDir("tok-bad");
  std::ofstream(dir + "/tokenizer.model") << "definitely not a protobuf";
  auto m = SentencePieceModel::Load(dir + "/tokenizer.model");
  ASSERT_FALSE(m.ok());
  EXPECT_NE(m.status().message().find("tokenizer.model"), std::string::npos);
  EXPECT_FALSE(LoadTokenizer(dir).ok());
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace qgrid::model
