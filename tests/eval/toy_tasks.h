// Shared by the eval suites: the hand-made fixture data folder and the toy
// multiple-choice task over its mc.jsonl.
#ifndef QGRID_TESTS_EVAL_TOY_TASKS_H_
#define QGRID_TESTS_EVAL_TOY_TASKS_H_

#include <gtest/gtest.h>

#include <string>

#include "eval/task_config.h"
#include "tests/test_util.h"

namespace qgrid::eval::testing {

// tests/eval/data: small files in each dataset format.
inline std::string FixtureDir() {
  return ::qgrid::testing::SourceDir() + "/tests/eval/data";
}

// Multiple choice over FixtureDir()/mc.jsonl with a description.
inline TaskConfig McTask() {
  auto c = ParseTaskConfig(R"(
task: toy_mc
data_files: {test: mc.jsonl}
output_type: multiple_choice
description: "Answer the questions.\n\n"
doc_to_text: "{{query}}\nAnswer:"
doc_to_choice: "{{choices}}"
doc_to_target: "{{gold}}"
)",
                           "toy_mc.yaml");
  EXPECT_TRUE(c.ok()) << c.status();
  return *c;
}

}  // namespace qgrid::eval::testing

#endif  // QGRID_TESTS_EVAL_TOY_TASKS_H_
