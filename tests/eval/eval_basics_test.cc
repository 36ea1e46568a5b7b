// Templates, task YAML parsing, dataset loaders and metrics.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>

#include "eval/dataset.h"
#include "eval/metrics.h"
#include "eval/task_config.h"
#include "eval/template.h"
#include "tests/test_util.h"

namespace qgrid::eval {
namespace {

using ::testing::HasSubstr;
using json = nlohmann::json;

std::string FixtureDir() { return testing::SourceDir() + "/tests/eval/data"; }

TEST(Template, RendersNestedFieldsIndexingAndFilters) {
  json doc = {{"q", "Why?"},
              {"answers", {{"text", {"Paris", "in Paris"}}}},
              {"choices", {"a", "b", "c"}},
              {"gold", 2},
              {"label", "pos"}};
  EXPECT_EQ(*RenderTemplate("Q: {{q}}\nA:", doc), "Q: Why?\nA:");
  EXPECT_EQ(*RenderTemplate("{{answers.text.0}}|{{answers.text[1]}}", doc),
            "Paris|in Paris");
  EXPECT_EQ(
      *RenderTemplate("{{choices[gold]}} {{ choices | join(\", \") }}", doc),
      "c a, b, c");
  EXPECT_EQ(*RenderTemplate("{{label | upper}}{{choices|last}}", doc), "POSc");
  EXPECT_EQ(*RenderTemplate("{{ q | replace('?', '!') }}", doc), "Why!");
  EXPECT_EQ(*ResolveTemplateValue("{{choices}}", doc), doc["choices"]);
  EXPECT_EQ(*ResolveTemplateValue(" {{gold}} ", doc), json(2));
  EXPECT_EQ(*ResolveTemplateValue("gold", doc), json(2));  // bare field
}

TEST(Template, MissingFieldAndBadSyntaxAreErrorsNamingTheField) {
  json doc = {{"q", "x"}, {"list", {1, 2}}};
  auto s = RenderTemplate("{{answer}}", doc);
  ASSERT_FALSE(s.ok());
  EXPECT_THAT(std::string(s.status().message()), HasSubstr("'answer'"));
  EXPECT_THAT(std::string(RenderTemplate("{{list.5}}", doc).status().message()),
              HasSubstr("out of range"));
  EXPECT_FALSE(RenderTemplate("{{q", doc).ok());
  EXPECT_FALSE(RenderTemplate("{% if q %}x{% endif %}", doc).ok());
  EXPECT_FALSE(RenderTemplate("{{q | nosuchfilter}}", doc).ok());
}

TEST(TaskConfig, ParsesLmEvalStyleYamlWithDefaults) {
  auto c = ParseTaskConfig(R"(
task: toy
data_files: {test: a.jsonl, train: [b.jsonl, c.jsonl]}
output_type: multiple_choice
doc_to_text: "{{query}}"
doc_to_choice: "{{choices}}"
doc_to_target: "{{gold}}"
)",
                           "toy.yaml");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->task, "toy");
  EXPECT_EQ(c->target_delimiter, " ");
  EXPECT_EQ(c->fewshot_delimiter, "\n\n");
  EXPECT_EQ(c->metrics, (std::vector<std::string>{"acc", "acc_norm"}));
  EXPECT_EQ(c->data_files["train"].size(), 2u);
}

TEST(TaskConfig, ErrorsNameTaskFileFieldAndLine) {
  auto c = ParseTaskConfig(
      "task: toy\ndata_files: a.jsonl\noutput_type: multiple_choise\n"
      "doc_to_text: x\ndoc_to_choice: [a]\ndoc_to_target: '0'\n",
      "toy.yaml");
  ASSERT_FALSE(c.ok());
  std::string m(c.status().message());
  EXPECT_THAT(m, HasSubstr("task 'toy'"));
  EXPECT_THAT(m, HasSubstr("toy.yaml:3"));
  EXPECT_THAT(m, HasSubstr("output_type"));

  auto u = ParseTaskConfig("task: t\ndata_files: a\ndoc_to_txt: x\n", "t.yaml");
  ASSERT_FALSE(u.ok());
  EXPECT_THAT(std::string(u.status().message()), HasSubstr("doc_to_txt"));
  auto m2 = ParseTaskConfig(
      "task: t\ndata_files: a\ndoc_to_text: x\ndoc_to_target: y\n", "t.yaml");
  ASSERT_FALSE(m2.ok());
  EXPECT_THAT(std::string(m2.status().message()), HasSubstr("doc_to_choice"));
}

TEST(TaskConfig, EveryBuiltinTaskParsesAndDocumentsItsData) {
  auto all = ListBuiltinTasks();
  ASSERT_TRUE(all.ok()) << all.status();
  EXPECT_GE(all->size(), 12u);
  for (const auto& t : *all) {
    EXPECT_FALSE(t.documentation.empty()) << t.task;
    EXPECT_FALSE(t.data_files.empty()) << t.task;
  }
  auto ceval = ResolveTask("ceval");
  ASSERT_TRUE(ceval.ok()) << ceval.status();
  EXPECT_EQ(ceval->subjects.size(), 52u);
  auto hum = ResolveTask("ceval:humanities");
  ASSERT_TRUE(hum.ok()) << hum.status();
  EXPECT_EQ(hum->subjects.size(), 11u);
  EXPECT_EQ(ResolveTask("ceval:social_science")->subjects.size(), 10u);
  EXPECT_EQ(ResolveTask("ceval:law")->subjects.size(), 1u);
  EXPECT_EQ(ResolveTask("cmmlu")->subjects.size(), 67u);
  EXPECT_FALSE(ResolveTask("ceval:nonsense").ok());
  auto unknown = ResolveTask("no_such_task");
  ASSERT_FALSE(unknown.ok());
  EXPECT_THAT(std::string(unknown.status().message()), HasSubstr("arc_easy"));
}

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

TEST(Metrics, SquadNormalizationKnownCases) {
  EXPECT_EQ(NormalizeSquadAnswer("The  Eiffel Tower!"), "eiffel tower");
  EXPECT_EQ(NormalizeSquadAnswer("an apple, a pear"), "apple pear");
  EXPECT_EQ(NormalizeSquadAnswer("  1,889. "), "1889");
  EXPECT_EQ(SquadExactMatch("the Paris", {"Paris", "in Paris"}), 1);
  EXPECT_EQ(SquadExactMatch("Paris France", {"Paris"}), 0);
  // pred {paris, france}, gold {paris}: P=1/2, R=1 -> F1=2/3.
  EXPECT_NEAR(SquadF1("Paris France", {"Paris"}), 2.0 / 3, 1e-12);
  // Max over golds.
  EXPECT_NEAR(SquadF1("in Paris", {"Paris", "in Paris"}), 1.0, 1e-12);
  EXPECT_EQ(SquadF1("Rome", {"Paris"}), 0);
  // Unanswerable: only the empty prediction scores.
  EXPECT_EQ(SquadExactMatch("", {}), 1);
  EXPECT_EQ(SquadF1("something", {}), 0);
}

TEST(Metrics, MeanStderrAndPerplexities) {
  std::vector<double> v = {1, 0, 1, 1};
  EXPECT_DOUBLE_EQ(Mean(v), 0.75);
  // sample std = 0.5, / sqrt(4) = 0.25.
  EXPECT_NEAR(MeanStderr(v), 0.25, 1e-12);
  EXPECT_EQ(Argmax({1, 3, 3}), 1);
  EXPECT_EQ(Utf8Length("答案A"), 3);
  EXPECT_EQ(CountWords("a b  c\nd"), 4);
  EXPECT_EQ(CountWords(" a "), 3);  // Python: ['', 'a', '']
  RollingTotals t{-10.0, 5, 20};
  EXPECT_NEAR(t.WordPerplexity(), std::exp(2.0), 1e-9);
  EXPECT_NEAR(t.BytePerplexity(), std::exp(0.5), 1e-9);
  EXPECT_NEAR(t.BitsPerByte(), 0.5 / std::log(2.0), 1e-9);
}

}  // namespace
}  // namespace qgrid::eval
