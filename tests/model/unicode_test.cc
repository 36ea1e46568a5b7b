// Unicode categories and normalization (model/unicode.h).
#include "model/unicode.h"

#include <cstdint>
#include <fstream>
#include <iterator>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "gtest/gtest.h"
#include "model/hf_tokenizer.h"
#include "model/hf_tokenizer_split.h"
#include "model/sentencepiece.h"
#include "model/tokenizer.h"
#include "nlohmann/json.hpp"
#include "tests/test_util.h"

namespace qgrid::model {
namespace {

TEST(Unicode, CategoriesAndInvalidUtf8) {
  EXPECT_TRUE(unicode::IsLetter(U'\u00e9'));
  EXPECT_TRUE(unicode::IsLetter(U'\u673a'));       // CJK
  EXPECT_FALSE(unicode::IsLetter(U'\U0001F44D'));  // emoji
  EXPECT_TRUE(unicode::IsNumber(U'\u0663'));       // Arabic-Indic three
  EXPECT_TRUE(unicode::IsNumber(U'\u00bd'));       // ½ (No)
  EXPECT_TRUE(unicode::IsMark(U'\u0301'));
  EXPECT_TRUE(unicode::IsWhitespace(U'\u3000'));
  EXPECT_FALSE(unicode::IsWhitespace(U'\u200b'));  // ZWSP is not White_Space
  auto c = unicode::DecodeAt("\xe6\x9c", 0);       // truncated
  EXPECT_EQ(c.len, 1);
  EXPECT_GE(c.cp, unicode::kInvalidBase);
}

// Expected outputs from Python's unicodedata.normalize("NFC", ...).
TEST(Unicode, NfcMatchesPythonUnicodedata) {
  const std::pair<const char*, const char*> kCases[] = {
      {"e\xcc\x81", "\xc3\xa9"},
      {"Cafe\xcc\x81 na\xc4\xb1\xcc\x88ve", "Caf\xc3\xa9 na\xc4\xb1\xcc\x88ve"},
      {"\xe1\x84\x80\xe1\x85\xa1\xe1\x86\xa8\xe1\x84\x80\xe1\x85\xa1",
       "\xea\xb0\x81\xea\xb0\x80"},
      {"A\xcc\x8a \xe2\x84\xab \xe2\x84\xa6", "\xc3\x85 \xc3\x85 \xce\xa9"},
      {"a\xcc\xa3\xcc\x82 a\xcc\x82\xcc\xa3", "\xe1\xba\xad \xe1\xba\xad"},
      {"q\xcc\x87\xcc\xa3", "q\xcc\xa3\xcc\x87"},
      {"\xe0\xa5\x98 \xe1\xb8\x8b\xcc\xa3",
       "\xe0\xa4\x95\xe0\xa4\xbc \xe1\xb8\x8d\xcc\x87"},
      {"x\xcc\x80\xcc\x81\xcc\x82", "x\xcc\x80\xcc\x81\xcc\x82"},
      {"\xc3\xa9\xcc\x81", "\xc3\xa9\xcc\x81"},
      {"\xf0\x9d\x85\x9e \xe0\xbd\xb3",
       "\xf0\x9d\x85\x97\xf0\x9d\x85\xa5 \xe0\xbd\xb1\xe0\xbd\xb2"},
      {"\xef\xac\x81 \xe2\x91\xa0 \xc2\xb2",
       "\xef\xac\x81 \xe2\x91\xa0 \xc2\xb2"},
      {"plain ascii", "plain ascii"},
      {"\xea\xb0\x80\xe1\x86\xa8", "\xea\xb0\x81"},
  };
  for (const auto& [in, want] : kCases) {
    EXPECT_EQ(unicode::NormalizeNfc(in), want) << in;
  }
}

}  // namespace
// NFD / NFKC / NFKD (tokenizer.json normalizers qgrid refused before): the
// Unicode 14 forms as Python's unicodedata computes them, and the forms of
// the tokenizers package 0.23.3, whose older tables neither decompose
// U+10798 (Unicode 14) nor compose U+11938 (Unicode 13) nor give U+1ABF a
// combining class.
TEST(Unicode, OtherFormsAndTokenizersTables) {
  using unicode::TokenizersNormalize;
  const std::string k = "\uFB01\u00B2\u00BD\uFF21";  // ﬁ ² ½ Ａ
  EXPECT_EQ(unicode::NormalizeNfkc(k), "fi21\u20442A");
  EXPECT_EQ(unicode::NormalizeNfkd(k), "fi21\u20442A");
  EXPECT_EQ(unicode::NormalizeNfd(k), k);
  EXPECT_EQ(unicode::NormalizeNfd("\u00E9"), "e\u0301");
  EXPECT_EQ(unicode::NormalizeNfkc("\u00E9"), "\u00E9");
  EXPECT_EQ(unicode::NormalizeNfd("\uAC01\u3131"), "\u1100\u1161\u11A8\u3131");
  EXPECT_EQ(unicode::NormalizeNfkc("\uAC01\u3131"), "\uAC01\u1100");
  EXPECT_EQ(unicode::NormalizeNfkc("\U00010798"), "\u0284");
  EXPECT_EQ(unicode::NormalizeNfc("\U00011935\U00011930"), "\U00011938");
  EXPECT_EQ(unicode::NormalizeNfd("a\u0301\u1ABF"), "a\u1ABF\u0301");

  EXPECT_EQ(TokenizersNormalize(k, true, true), "fi21\u20442A");
  EXPECT_EQ(TokenizersNormalize("\U00010798", true, true), "\U00010798");
  EXPECT_EQ(TokenizersNormalize("\U00011935\U00011930", false, true),
            "\U00011935\U00011930");
  EXPECT_EQ(TokenizersNormalize("a\u0301\u1ABF", false, false),
            "a\u0301\u1ABF");
  EXPECT_EQ(TokenizersNormalize("\uAC01\u3131", true, false),
            "\u1100\u1161\u11A8\u1100");
}

}  // namespace qgrid::model
