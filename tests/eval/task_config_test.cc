// Task YAML parsing and the built-in task registry (eval/task_config.h).
#include "eval/task_config.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>

#include "tests/test_util.h"

namespace qgrid::eval {
namespace {

using ::testing::HasSubstr;

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

}  // namespace
}  // namespace qgrid::eval
