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

// Regression (issue 13): WikiHow items have an empty ctx_b; qgrid's old
// template left "...ctx_a " with a trailing space before the continuation,
// where lm-eval preprocesses the whole joined query and strips it.
TEST(LmEvalPrompts, HellaswagWikiHowHasNoTrailingSpace) {
  Doc d = {{"activity_label", "Home and Garden"},
           {"ctx_a", "[header] How to grow basil [title] Pick a pot."},
           {"ctx_b", ""},
           {"endings", {"[step] Fill it with soil.  ", " Water it [substeps]"}},
           {"label", "1"}};
  ASSERT_TRUE(ProcessDocument("hellaswag", &d).ok());
  EXPECT_EQ(d["query"], "Home and Garden: How to grow basil. Pick a pot.");
  EXPECT_EQ(d["choices"][0], " Fill it with soil.");
  EXPECT_EQ(d["choices"][1], "Water it ");
  EXPECT_EQ(d["gold"], 1);
}

// Python's str.capitalize lowercases the rest of ctx_b, as lm-eval does.
TEST(LmEvalPrompts, HellaswagCapitalizesCtxBLikePython) {
  Doc d = {{"activity_label", "Removing ice from car"},
           {"ctx_a", "Then, the man writes over the snow."},
           {"ctx_b", "then, the man USES a brush"},
           {"endings", {"a", "b", "c", "d"}},
           {"label", 0}};
  ASSERT_TRUE(ProcessDocument("hellaswag", &d).ok());
  EXPECT_EQ(d["query"],
            "Removing ice from car: Then, the man writes over the snow. "
            "Then, the man uses a brush");
  Doc bad = {
      {"activity_label", "x"}, {"ctx_a", "a"}, {"ctx_b", "b"}, {"label", 0}};
  absl::Status s = ProcessDocument("hellaswag", &bad);
  EXPECT_THAT(std::string(s.message()), ::testing::HasSubstr("endings"));
}

}  // namespace
}  // namespace qgrid::eval
