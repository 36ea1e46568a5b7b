// Dataset loaders: formats, subjects, carving (eval/dataset.h).
#include "eval/dataset.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>

#include "eval/task_config.h"
#include "tests/eval/toy_tasks.h"
#include "tests/test_util.h"

namespace qgrid::eval {
namespace {

using ::testing::HasSubstr;
using json = nlohmann::json;

using testing::FixtureDir;

TEST(Dataset, CsvQuotingMultilineAndHeaderlessIndexColumn) {
  auto rows = ParseDelimited(
      "a,b,c\n1,\"x, \"\"y\"\"\",\"two\nlines\"\n\n2,,z\n", ',', "t.csv");
  ASSERT_TRUE(rows.ok());
  ASSERT_EQ(rows->size(), 3u);
  EXPECT_EQ((*rows)[1][1], "x, \"y\"");
  EXPECT_EQ((*rows)[1][2], "two\nlines");
  EXPECT_EQ((*rows)[2][1], "");
  EXPECT_FALSE(ParseDelimited("a\n\"open", ',', "t.csv").ok());
}

TEST(Dataset, LoadsEveryFormatFromFixtures) {
  TaskConfig c;
  c.task = "t";
  auto squad = LoadFile(c, FixtureDir() + "/squad.json", "json");
  ASSERT_TRUE(squad.ok()) << squad.status();
  ASSERT_EQ(squad->size(), 3u);
  EXPECT_EQ((*squad)[0].fields["answers"]["text"][1], "in Paris");
  EXPECT_EQ((*squad)[2].fields["is_impossible"], true);
  EXPECT_TRUE((*squad)[2].fields["answers"]["text"].empty());

  auto advqa = LoadFile(c, FixtureDir() + "/advqa.json", "json");
  ASSERT_TRUE(advqa.ok()) << advqa.status();
  EXPECT_EQ(advqa->size(), 2u);  // JSON lines in a .json file

  c.line_fields = {"label", "sentence"};
  auto sst = LoadFile(c, FixtureDir() + "/sst2_handmade.txt", "lines");
  ASSERT_TRUE(sst.ok());
  ASSERT_EQ(sst->size(), 3u);
  EXPECT_EQ((*sst)[1].fields["label"], "0");
  EXPECT_EQ((*sst)[1].fields["sentence"], "a dull , tired film .");
  EXPECT_EQ((*sst)[1].line, 2);

  auto text = LoadFile(c, FixtureDir() + "/text.txt", "text");
  ASSERT_TRUE(text.ok());
  EXPECT_EQ(text->size(), 1u);
}

TEST(Dataset, SubjectsExpandAndMissingFilesNameTaskAndPath) {
  auto c = ResolveTask("ceval");
  ASSERT_TRUE(c.ok());
  c->subjects = {{"toy_math", "数学", "STEM"},
                 {"toy_history", "历史", "Humanities"}};
  auto docs = LoadSplit(*c, "val", FixtureDir());
  ASSERT_TRUE(docs.ok()) << docs.status();
  ASSERT_EQ(docs->size(), 3u);
  EXPECT_EQ((*docs)[0].fields["subject_name"], "数学");
  EXPECT_EQ((*docs)[2].fields["category"], "Humanities");
  auto dev = LoadSplit(*c, "dev", FixtureDir());
  ASSERT_TRUE(dev.ok());
  EXPECT_EQ((*dev)[1].fields["explanation"], "多行\n解释");

  auto missing = LoadSplit(*c, "val", "/nonexistent");
  ASSERT_FALSE(missing.ok());
  std::string m(missing.status().message());
  EXPECT_THAT(m, HasSubstr("task 'ceval'"));
  EXPECT_THAT(m, HasSubstr("/nonexistent/ceval/val/toy_math_val.csv"));
}

TEST(Dataset, CarvingIsSeededDisjointAndKeepsTheRestInOrder) {
  TaskConfig c;
  c.task = "carve";
  c.data_files["test"] = {FixtureDir() + "/mc.jsonl"};
  c.carve_size = 2;
  auto train = LoadSplit(c, "train", "");
  auto test = LoadSplit(c, "test", "");
  ASSERT_TRUE(train.ok() && test.ok());
  EXPECT_EQ(train->size(), 2u);
  EXPECT_EQ(test->size(), 3u);
  for (const auto& a : *train)
    for (const auto& b : *test) EXPECT_NE(a.line, b.line);
  for (size_t i = 1; i < test->size(); ++i)
    EXPECT_LT((*test)[i - 1].line, (*test)[i].line);
  EXPECT_EQ(CarveOrder(300, 42), CarveOrder(300, 42));
  EXPECT_NE(CarveOrder(300, 42), CarveOrder(300, 43));
  c.carve_size = 5;
  EXPECT_FALSE(LoadSplit(c, "test", "").ok());
}

}  // namespace
}  // namespace qgrid::eval
