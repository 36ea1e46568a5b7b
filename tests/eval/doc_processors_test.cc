// Document processors (eval/doc_processors.h).
#include "eval/doc_processors.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <fstream>
#include <map>

#include "absl/strings/match.h"
#include "eval/evaluate.h"
#include "eval/metrics.h"
#include "eval/perplexity.h"
#include "eval/task_config.h"
#include "tests/eval/fake_scorer.h"
#include "tests/eval/tiny_model.h"
#include "tests/test_util.h"

namespace qgrid::eval {
namespace {

TEST(DocProcessors, BadDocumentsGiveErrorsNamingTheField) {
  Doc d = {{"text", "x"}};
  absl::Status s = ProcessDocument("wsc273", &d);
  EXPECT_FALSE(s.ok());
  EXPECT_THAT(std::string(s.message()), ::testing::HasSubstr("pronoun"));
  Doc r = {{"article", "a"}, {"problems", "[{'answer': 'A'}]"}};
  s = ProcessDocument("race", &r);
  EXPECT_THAT(std::string(s.message()), ::testing::HasSubstr("problems"));
  EXPECT_FALSE(ProcessDocument("nope", &d).ok());
  auto t = ParseTaskConfig(
      "task: x\ndata_files: a.jsonl\nprocess_docs: nope\ndoc_to_text: a\n"
      "doc_to_choice: [a]\ndoc_to_target: 0\n",
      "x.yaml");
  EXPECT_FALSE(t.ok());
}

}  // namespace
}  // namespace qgrid::eval
