#include "demo/corpus.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>

#include "common/file_util.h"
#include "tests/test_util.h"

namespace qgrid::demo {
namespace {

namespace fs = std::filesystem;

std::string Fixture(const std::string& name) {
  return testing::SourceDir() + "/tests/data/demo/" + name;
}

std::string Slurp(const std::string& path) {
  auto s = qgrid::ReadFileToString(path);
  EXPECT_TRUE(s.ok()) << s.status();
  return s.ok() ? *s : "";
}

// "TOBEORNOT"-style compress(1) stream of two KJV-like lines, made with an
// independent LZW encoder (9-bit codes, LSB first, first free code 257);
// the same stream tests LzwDecompress in tests/common/compressed_file_test.cc.
const unsigned char kLzwSample[] = {
    0x47, 0xca, 0xc4, 0xd0, 0x11, 0x03, 0x44, 0x12, 0x37, 0x20, 0xe8, 0xa0,
    0x29, 0x03, 0x42, 0x4c, 0x99, 0x33, 0x69, 0xdc, 0xb8, 0x89, 0x78, 0x06,
    0xc4, 0x91, 0x37, 0x64, 0x40, 0x8c, 0x91, 0x53, 0x26, 0x0c, 0x9d, 0x32,
    0x19, 0x15, 0x32, 0x5c, 0x18, 0xc6, 0x4e, 0x19, 0x84, 0x61, 0xdc, 0x84,
    0x5c, 0x08, 0xa2, 0xa3, 0x1c, 0x85, 0x2e, 0x14, 0x04, 0x1c, 0x28, 0x03,
    0x44, 0x10, 0x95, 0x09, 0x59, 0xba, 0x54, 0x08, 0xe2, 0x4e, 0x98, 0x39,
    0x3d, 0xd3, 0x28, 0x7c, 0x53, 0x87, 0x0e, 0x08, 0x33, 0x6f, 0xe4, 0xb4,
    0x61, 0x01, 0x22, 0x65, 0x46, 0x3b, 0x6f, 0xd2, 0x90, 0xd9, 0xd1, 0x14,
    0xa7, 0xc8, 0x96, 0x61, 0x5e, 0xa2, 0xe9, 0xf9, 0x33, 0xe8, 0xd0, 0xa2,
    0x47, 0x93, 0xb6, 0x89, 0x09};
const char kLzwPlain[] =
    "Ge1:1 In the beginning God created the heaven and the earth.\n"
    "Ge1:2 And the earth was without form, and void; and the earth was "
    "without form.\n";

TEST(DemoCleaning, InvalidUtf8BytesAreDroppedValidOnesKept) {
  std::string s = "ok \xE4\xB8\xAD \xFF\xC3 end \xC0\xAF \xED\xA0\x80!";
  EXPECT_EQ(ToValidUtf8(s), "ok \xE4\xB8\xAD  end  !");
  EXPECT_EQ(ToValidUtf8("\xE4\xB8"), "");  // truncated sequence
}

TEST(DemoCleaning, WhitespaceIsCollapsedAndTrimmed) {
  EXPECT_EQ(NormalizeWhitespace("  a\t\tb \n\r c  "), "a b c");
  EXPECT_EQ(NormalizeWhitespace(" \n "), "");
}

TEST(DemoCleaning, TerminalEscapesAndOverstrikesAreRemoved) {
  EXPECT_EQ(StripTerminalMarkup("\x1b[32mgreen\x1b[m _\bx"), "green x");
}

TEST(DemoParsers, FortunesLoseAttributionsAndJoinLines) {
  std::vector<std::string> docs =
      ParseFortunes(Slurp(Fixture("quotes.fortune")), /*cjk=*/false);
  ASSERT_EQ(docs.size(), 5u) << "'Hi.' is too short to keep";
  EXPECT_EQ(docs[0],
            "A banker is a fellow who lends you his umbrella when the sun is "
            "shining and wants it back the minute it begins to rain.");
  EXPECT_EQ(docs[1],
            "A classic is something that everyone wants to have read and "
            "nobody wants to read.");
  EXPECT_EQ(docs[2], docs[0]) << "same text, different attribution";
  EXPECT_EQ(docs[3], "Bold words and underlined text survive cleaning.");
  EXPECT_EQ(docs[4],
            "Indented text with tabs and a second paragraph keeps going "
            "after the break.");
  for (const auto& d : docs) EXPECT_EQ(d.find("Twain"), std::string::npos);
}

TEST(DemoParsers, ChineseFortunesJoinWithoutSpacesAndDropAuthors) {
  std::vector<std::string> docs =
      ParseFortunes(Slurp(Fixture("zh.fortune")), /*cjk=*/true);
  ASSERT_EQ(docs.size(), 3u);
  EXPECT_EQ(docs[0],
            "《静夜思》床前明月光，疑是地上霜。举头望明月，低头思故乡。");
  EXPECT_EQ(docs[1],
            "《春晓》春眠不觉晓，处处闻啼鸟。夜来风雨声，花落知多少。");
  EXPECT_EQ(docs[2],
            "要有礼貌 在 Debian "
            "这种规模的项目中，很难避免遇到与你意见不和，或者难以合作的人。"
            "请接受这一事实，并保持礼貌。");
}

TEST(DemoParsers, KjvVersesLoseReferencesAndTitle) {
  std::string text =
      "Holy Bible, Authorized (King James) Version.  Textfile 930105.\n"
      "Ge1:1 In the beginning God created the heaven and the earth.\n"
      "1Sa3:10 And the LORD came, and stood.\n"
      "Re22:21 The grace of our Lord Jesus Christ be with you all. Amen.\n";
  std::vector<std::string> v = ParseKjvVerses(text);
  ASSERT_EQ(v.size(), 3u);
  EXPECT_EQ(v[0], "In the beginning God created the heaven and the earth.");
  EXPECT_EQ(v[1], "And the LORD came, and stood.");
  EXPECT_EQ(v[2].substr(0, 9), "The grace");
}

TEST(DemoParsers, GcideSensesAreCleanHeadwordDefinitionPairs) {
  std::vector<std::string> d =
      ParseGcideSenses(Slurp(Fixture("gcide_sample.txt")));
  std::vector<std::string> want = {
      "Affect: To act upon; to produce an effect or change upon.",
      "Affect: To influence or move, as the feelings or passions; to touch.",
      "Affect: To love; to regard with affection.",
      "Affect: To aim at; to aspire; to covet.",
      "Affectation: An attempt to assume or exhibit what is not natural or "
      "real; false display; artificial show. \"An affectation of "
      "contempt.\"",
      "Affectation: A striving after.",
      "Affectation: Fondness; affection.",
  };
  // "12" is not a word headword; Affatuate has no numbered sense.
  EXPECT_EQ(d, want);
}

TEST(DemoReaders, BibleDataContainerIsParsed) {
  // Header as bible-kjv writes it: magic, padding to 0x54, window size and
  // count (big endian), window offsets, compress(1) header, windows.
  std::string f = "EC02Compressed Data File";
  f.resize(0x54, '\0');
  auto be32 = [&](uint32_t v) {
    for (int s = 24; s >= 0; s -= 8) f.push_back(static_cast<char>(v >> s));
  };
  uint32_t start = 0x54 + 8 + 8 + 3;
  be32(65536);
  be32(1);
  be32(start);
  be32(start + sizeof(kLzwSample));
  f += "\x1f\x9d\x90";
  f.append(reinterpret_cast<const char*>(kLzwSample), sizeof(kLzwSample));
  std::string dir = testing::MakeTempDir("bible");
  std::string path = dir + "/bible.data";
  std::ofstream(path, std::ios::binary) << f;
  auto text = ReadBibleData(path);
  ASSERT_TRUE(text.ok()) << text.status();
  EXPECT_EQ(*text, kLzwPlain);
  std::ofstream(path, std::ios::binary) << "not a bible";
  EXPECT_FALSE(ReadBibleData(path).ok());
  fs::remove_all(dir);
}

TEST(DemoReaders, InstalledKjvHasAllVerses) {
  const std::string path = "/usr/lib/bible.data";
  if (!fs::exists(path)) GTEST_SKIP() << "bible-kjv-text not installed";
  auto text = ReadBibleData(path);
  ASSERT_TRUE(text.ok()) << text.status();
  std::vector<std::string> v = ParseKjvVerses(*text);
  EXPECT_EQ(v.size(), 31102u);  // verses in the KJV
  EXPECT_EQ(v.front(),
            "In the beginning God created the heaven and the earth.");
}

TEST(DemoSplitting, DeduplicateKeepsFirstOccurrenceInOrder) {
  EXPECT_EQ(Deduplicate({"b", "a", "b", "c", "a"}),
            (std::vector<std::string>{"b", "a", "c"}));
}

std::vector<std::string> Numbered(int n) {
  std::vector<std::string> v;
  for (int i = 0; i < n; ++i)
    v.push_back("document number " + std::to_string(i));
  return v;
}

TEST(DemoSplitting, SplitsHaveRequestedSizesAndPartitionTheDocuments) {
  DemoSplits s = SplitDocuments(Numbered(100), 7, 0.1, 0.2, 0);
  EXPECT_EQ(s.test.size(), 20u);
  EXPECT_EQ(s.calib.size(), 10u);
  EXPECT_EQ(s.train.size(), 70u);
  std::set<std::string> all(s.train.begin(), s.train.end());
  all.insert(s.calib.begin(), s.calib.end());
  all.insert(s.test.begin(), s.test.end());
  EXPECT_EQ(all.size(), 100u);
  std::vector<std::string> in = Numbered(100);
  EXPECT_NE(s.train, std::vector<std::string>(in.begin() + 30, in.end()))
      << "documents are shuffled";
}

TEST(DemoSplitting, ByteCapLimitsKeptDocuments) {
  // Each document is 18-19 bytes plus a newline.
  DemoSplits s = SplitDocuments(Numbered(100), 7, 0.1, 0.1, 200);
  size_t n = s.train.size() + s.calib.size() + s.test.size();
  EXPECT_GE(n, 10u);
  EXPECT_LE(n, 11u);
  EXPECT_EQ(s.test.size(), 1u);
}

TEST(DemoSplitting, SameSeedSameSplitOtherSeedDifferent) {
  DemoSplits a = SplitDocuments(Numbered(50), 42, 0.1, 0.1, 0);
  DemoSplits b = SplitDocuments(Numbered(50), 42, 0.1, 0.1, 0);
  DemoSplits c = SplitDocuments(Numbered(50), 43, 0.1, 0.1, 0);
  EXPECT_EQ(a.train, b.train);
  EXPECT_EQ(a.test, b.test);
  EXPECT_NE(a.train, c.train);
}

TEST(DemoMultipleChoice, EndingItemsHaveOneTrueEnding) {
  std::vector<std::string> docs;
  for (int i = 0; i < 12; ++i)
    docs.push_back("line " + std::to_string(i) + " has words that end in " +
                   std::string(1, static_cast<char>('a' + i)) + " finally");
  std::vector<McItem> items =
      MakeMultipleChoice(docs, McKind::kEnding, false, 1, 100);
  ASSERT_EQ(items.size(), docs.size());
  for (size_t i = 0; i < items.size(); ++i) {
    const McItem& it = items[i];
    ASSERT_EQ(it.choices.size(), 4u);
    ASSERT_GE(it.gold, 0);
    ASSERT_LT(it.gold, 4);
    EXPECT_EQ(it.query + " " + it.choices[it.gold], docs[i]);
    std::set<std::string> uniq(it.choices.begin(), it.choices.end());
    EXPECT_EQ(uniq.size(), 4u);
  }
  std::set<int> golds;
  for (const auto& it : items) golds.insert(it.gold);
  EXPECT_GT(golds.size(), 1u) << "gold position varies";
}

TEST(DemoMultipleChoice, DefinitionDistractorsComeFromOtherHeadwords) {
  std::vector<std::string> docs = {
      "Affect: To act upon.",    "Affect: To love.",
      "Bank: A mound of earth.", "Cat: A small domestic feline.",
      "Dog: A domestic canine.", "Eel: A long snakelike fish."};
  std::vector<McItem> items =
      MakeMultipleChoice(docs, McKind::kDefinition, false, 3, 100);
  ASSERT_FALSE(items.empty());
  for (const auto& it : items) {
    if (it.query == "Affect:") {
      int affect_defs = 0;
      for (const auto& c : it.choices)
        affect_defs += (c == "To act upon." || c == "To love.");
      EXPECT_EQ(affect_defs, 1);
    }
  }
}

TEST(DemoMultipleChoice, ChineseEndingsCutAtPunctuation) {
  std::vector<std::string> docs = {
      "床前明月光，疑是地上霜。举头望明月，低头思故乡。",
      "春眠不觉晓，处处闻啼鸟。夜来风雨声，花落知多少。",
      "白日依山尽，黄河入海流。欲穷千里目，更上一层楼。",
      "千山鸟飞绝，万径人踪灭。孤舟蓑笠翁，独钓寒江雪。",
      "红豆生南国，春来发几枝。愿君多采撷，此物最相思。"};
  std::vector<McItem> items =
      MakeMultipleChoice(docs, McKind::kEnding, true, 5, 10);
  ASSERT_EQ(items.size(), docs.size());
  EXPECT_EQ(items[0].query, "床前明月光，疑是地上霜。");
  EXPECT_EQ(items[0].choices[items[0].gold], "举头望明月，低头思故乡。");
}

std::vector<DemoDomainSpec> FixtureDomains() {
  DemoDomainSpec q;
  q.name = "quotes";
  q.license = "test";
  q.files = {{"fixture", Fixture("quotes.fortune"), SourceFormat::kFortune}};
  DemoDomainSpec d;
  d.name = "dictionary";
  d.license = "test";
  d.files = {
      {"fixture", Fixture("gcide_sample.dict.dz"), SourceFormat::kGcideDict}};
  d.mc_kind = McKind::kDefinition;
  DemoDomainSpec z;
  z.name = "chinese";
  z.license = "test";
  z.cjk = true;
  z.files = {{"fixture", Fixture("zh.fortune"), SourceFormat::kFortune}};
  return {q, d, z};
}

std::map<std::string, std::string> ReadTree(const std::string& dir) {
  std::map<std::string, std::string> out;
  for (const auto& e : fs::recursive_directory_iterator(dir)) {
    if (e.is_regular_file())
      out[fs::relative(e.path(), dir).string()] = Slurp(e.path().string());
  }
  return out;
}

TEST(DemoBuild, SameSeedGivesIdenticalBytesAndManifestMatchesFiles) {
  std::string a = testing::MakeTempDir("demo-a");
  std::string b = testing::MakeTempDir("demo-b");
  std::string c = testing::MakeTempDir("demo-c");
  DemoBuildOptions opts;
  opts.domains = FixtureDomains();
  opts.calib_fraction = 0.2;
  opts.test_fraction = 0.2;
  opts.out_dir = a;
  auto ra = BuildDemoData(opts);
  ASSERT_TRUE(ra.ok()) << ra.status();
  opts.out_dir = b;
  ASSERT_TRUE(BuildDemoData(opts).ok());
  opts.out_dir = c;
  opts.seed = 7;
  ASSERT_TRUE(BuildDemoData(opts).ok());

  auto ta = ReadTree(a), tb = ReadTree(b), tc = ReadTree(c);
  EXPECT_EQ(ta, tb);
  EXPECT_NE(ta["dictionary/train.txt"], tc["dictionary/train.txt"]);
  for (const char* f :
       {"quotes/train.txt", "quotes/calib.jsonl", "quotes/test.txt",
        "quotes/mc_test.jsonl", "chinese/train.jsonl", "dictionary/test.jsonl",
        "manifest.json"})
    EXPECT_TRUE(ta.count(f)) << f;

  // quotes: 5 parsed, 1 duplicate -> 4 unique: 1 test, 1 calib, 2 train.
  const DemoDomainSummary& q = (*ra)[0];
  EXPECT_EQ(q.raw_docs, 5u);
  EXPECT_EQ(q.unique_docs, 4u);
  EXPECT_EQ(q.test_docs, 1u);
  EXPECT_EQ(q.calib_docs, 1u);
  EXPECT_EQ(q.train_docs, 2u);

  auto m = nlohmann::json::parse(ta["manifest.json"]);
  ASSERT_EQ(m["domains"].size(), 3u);
  for (const auto& d : m["domains"]) {
    std::string name = d["name"];
    for (const char* split : {"train", "calib", "test"}) {
      const auto& s = d["splits"][split];
      std::string txt = ta[name + "/" + split + ".txt"];
      EXPECT_EQ(s["text"]["bytes"].get<size_t>(), txt.size());
      EXPECT_EQ(static_cast<size_t>(std::count(txt.begin(), txt.end(), '\n')),
                s["documents"].get<size_t>());
      // JSONL holds the same documents.
      std::istringstream jl(ta[name + "/" + split + ".jsonl"]);
      std::istringstream tl(txt);
      std::string jline, tline;
      while (std::getline(tl, tline)) {
        ASSERT_TRUE(std::getline(jl, jline));
        EXPECT_EQ(nlohmann::json::parse(jline)["text"], tline);
      }
    }
  }
  // No document is in two splits.
  std::set<std::string> seen;
  for (const char* split : {"train", "calib", "test"}) {
    std::istringstream tl(ta[std::string("dictionary/") + split + ".txt"]);
    std::string line;
    while (std::getline(tl, line)) EXPECT_TRUE(seen.insert(line).second);
  }
  for (const auto& d : {a, b, c}) fs::remove_all(d);
}

TEST(DemoBuild, MissingSourceIsAnErrorNamingTheFile) {
  std::string out = testing::MakeTempDir("demo-missing");
  DemoBuildOptions opts;
  opts.out_dir = out;
  DemoDomainSpec s;
  s.name = "ghost";
  s.files = {{"nopkg", "/nonexistent/fortune", SourceFormat::kFortune}};
  opts.domains = {s};
  auto r = BuildDemoData(opts);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("/nonexistent/fortune"),
            std::string::npos);
  EXPECT_NE(r.status().message().find("ghost"), std::string::npos);
  fs::remove_all(out);
}

}  // namespace
}  // namespace qgrid::demo
