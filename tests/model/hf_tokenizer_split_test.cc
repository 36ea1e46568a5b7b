// Pre-tokenizer split regexes (model/hf_tokenizer_split.h).
#include "model/hf_tokenizer_split.h"

#include <cstdint>
#include <fstream>
#include <iterator>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "gtest/gtest.h"
#include "model/hf_tokenizer.h"
#include "model/sentencepiece.h"
#include "model/tokenizer.h"
#include "model/unicode.h"
#include "nlohmann/json.hpp"
#include "tests/test_util.h"

namespace qgrid::model {
namespace {

TEST(SplitRegex, Gpt2KeepsLastSpaceForTheNextWord) {
  std::string s = "a   b\n";
  auto m = hf::FindRegexMatches(hf::SplitRegex::kGpt2, s);
  std::vector<std::string> parts;
  for (auto [b, e] : m) parts.push_back(s.substr(b, e - b));
  EXPECT_EQ(parts, (std::vector<std::string>{"a", "  ", " b", "\n"}));
}

TEST(SplitRegex, Llama3GroupsDigitsByThreeAndNewlinesWithLeadingSpace) {
  std::string s = "x 12345  \n\ny";
  auto m = hf::FindRegexMatches(hf::SplitRegex::kLlama3, s);
  std::vector<std::string> parts;
  for (auto [b, e] : m) parts.push_back(s.substr(b, e - b));
  EXPECT_EQ(parts,
            (std::vector<std::string>{"x", " ", "123", "45", "  \n\n", "y"}));
}

}  // namespace
}  // namespace qgrid::model
