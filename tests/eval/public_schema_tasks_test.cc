// The built-in task configs for datasets that are not in ../shared, run on
// small hand-made files in each dataset's public schema
// (tests/eval/data/<the task's data_files>).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>

#include "eval/evaluate.h"
#include "eval/metrics.h"
#include "eval/task_config.h"
#include "tests/eval/fake_scorer.h"
#include "tests/test_util.h"

namespace qgrid::eval {
namespace {

using json = nlohmann::json;
using testing::FakeScorer;

absl::StatusOr<json> RunTask(const std::string& name, FakeScorer& f,
                             int shots = -1) {
  auto task = ResolveTask(name);
  if (!task.ok()) return task.status();
  EvalOptions o;
  o.data_dir = ::qgrid::testing::SourceDir() + "/tests/eval/data";
  o.shots = shots;
  return EvaluateWithScorer(f, *task, o);
}

TEST(PublicSchemaTasks, HellaswagCleansWikiHowMarkersLikeLmEval) {
  FakeScorer f;
  auto r = RunTask("hellaswag", f);
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(f.ll_requests.size(), 8u);
  EXPECT_EQ(
      f.ll_requests[0].context,
      "Washing a car: A woman stands next to a blue car with a bucket. She");
  EXPECT_EQ(f.ll_requests[3].continuation,
            " dips a sponge in the bucket and scrubs the door.");
  EXPECT_EQ(f.ll_requests[4].context,
            "Home and Garden: How to clean a grill. Heat the grill. Then");
  EXPECT_EQ(f.ll_requests[4].continuation, " scrub it with a brush.");
}

// Regression (issue 13, tests/conformance/test_requests.py): the gauntlet's
// PIQA query ends in "\n", and "{{query}}\nAnswer:" put a blank line before
// "Answer:" where lm-eval writes "Question: {{goal}}\nAnswer:".
TEST(PublicSchemaTasks, GauntletPiqaHasNoBlankLineBeforeAnswer) {
  FakeScorer f;
  ASSERT_TRUE(RunTask("piqa", f).ok());
  ASSERT_EQ(f.ll_requests.size(), 4u);
  EXPECT_EQ(f.ll_requests[0].context,
            "Question: How do I keep bread fresh for a few days?\nAnswer:");
  EXPECT_EQ(f.ll_requests[1].continuation,
            " Keep it in the oven while it is on.");
  // Few-shot: every shot drops the newline too.
  FakeScorer g;
  ASSERT_TRUE(RunTask("piqa", g, 1).ok());
  EXPECT_EQ(g.ll_requests[0].context,
            "Question: To loosen a tight jar lid,\nAnswer: run the lid under "
            "hot water.\n\nQuestion: How do I keep bread fresh for a few "
            "days?\nAnswer:");
}

// Regression (issue 13): the gauntlet's BoolQ query starts "Passage: ";
// lm-eval's prompt is "{{passage}}\nQuestion: {{question}}?\nAnswer:".
TEST(PublicSchemaTasks, GauntletBoolqHasNoPassageLabel) {
  FakeScorer f;
  ASSERT_TRUE(RunTask("boolq", f).ok());
  ASSERT_EQ(f.ll_requests.size(), 4u);
  EXPECT_EQ(f.ll_requests[0].context,
            "Tea is a drink made by pouring hot water over dried leaves.\n"
            "Question: is tea made from leaves?\nAnswer:");
  EXPECT_EQ(f.ll_requests[1].continuation, " yes");
}

TEST(PublicSchemaTasks, NliTasksUseLmEvalPromptsAndLabelOrder) {
  FakeScorer f;
  f.ll = [](const std::string& ctx, const std::string& cont) {
    return cont == " False" ? -1.0 : -2.0;
  };
  auto r = RunTask("mnli", f);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(f.ll_requests[0].context,
            "The cat sat on the mat.\nQuestion: A cat is sitting. True, False "
            "or Neither?\nAnswer:");
  EXPECT_EQ(f.ll_requests[1].continuation, " Neither");
  // "False" (index 2) is right for doc 1 only.
  EXPECT_EQ((*r)["results"]["mnli"]["acc,none"], 0.5);
  FakeScorer g;
  ASSERT_TRUE(RunTask("rte", g).ok());
  EXPECT_EQ(g.ll_requests[0].context,
            "Paris is the capital of France.\nQuestion: France has a capital. "
            "True or False?\nAnswer:");
  FakeScorer h;
  ASSERT_TRUE(RunTask("anli_r1", h).ok());
  EXPECT_EQ(h.ll_requests.size(), 3u);
}

TEST(PublicSchemaTasks, MnliMismatchedAndAnliRoundsReadTheirOwnFiles) {
  // Same prompts as mnli / anli_r1, each on its own split file (hand-made
  // files with 3, 2 and 1 documents).
  FakeScorer m;
  m.ll = [](const std::string&, const std::string& cont) {
    return cont == " Neither" ? -1.0 : -2.0;
  };
  auto r = RunTask("mnli_mismatch", m);
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(m.ll_requests.size(), 9u);
  EXPECT_EQ(m.ll_requests[0].context,
            "The letter arrived two days late.\nQuestion: The letter was "
            "delayed. True, False or Neither?\nAnswer:");
  // "Neither" (index 1) is right for the third document only.
  EXPECT_NEAR((*r)["results"]["mnli_mismatch"]["acc,none"].get<double>(),
              1.0 / 3, 1e-12);
  for (const auto& [name, docs] :
       {std::pair<std::string, size_t>{"anli_r2", 2}, {"anli_r3", 1}}) {
    FakeScorer a;
    auto ra = RunTask(name, a);
    ASSERT_TRUE(ra.ok()) << name << ": " << ra.status();
    EXPECT_EQ(a.ll_requests.size(), 3 * docs) << name;
    EXPECT_THAT(a.ll_requests[0].context,
                ::testing::EndsWith("True, False, or Neither?\nAnswer:"));
  }
}

TEST(PublicSchemaTasks, SciqPutsTheCorrectAnswerFourth) {
  FakeScorer f;
  f.ll = [](const std::string&, const std::string& cont) {
    return cont == " carbon dioxide" ? 0.0 : -5.0;
  };
  auto r = RunTask("sciq", f);
  ASSERT_TRUE(r.ok()) << r.status();
  // Regression (issue 13, test_requests.py): lm-eval writes
  // support.lstrip(), so the support's trailing space stays; qgrid trimmed
  // both ends.
  EXPECT_EQ(f.ll_requests[0].context,
            "Plants take in carbon dioxide. \nQuestion: What gas do plants "
            "absorb?\nAnswer:");
  EXPECT_EQ((*r)["results"]["sciq"]["acc,none"], 1.0);
}

TEST(PublicSchemaTasks, MmluShotsComeFromTheSameSubjectsDevSplit) {
  FakeScorer f;
  auto r = RunTask("mmlu", f, 1);
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(f.ll_requests.size(), 4u);
  EXPECT_EQ(f.ll_requests[0].context,
            "The following are multiple choice questions (with answers) about "
            "astronomy.\n\n"
            "Which planet is red?\nA. Mars\nB. Venus\nC. Earth\nD. "
            "Jupiter\nAnswer: A\n\n"
            "What is the closest star to Earth?\nA. Sirius\nB. The Sun\nC. "
            "Vega\nD. Polaris\nAnswer:");
  EXPECT_EQ(f.ll_requests[1].continuation, " B");
}

TEST(PublicSchemaTasks, Gsm8kComparesFinalNumbers) {
  FakeScorer f;
  f.gen = [](const std::string& ctx) -> std::string {
    if (ctx.find("Tom has") != std::string::npos)
      return " 3 + 4 = 7. The answer is 7.";
    return " 1200 - 100 = 1100";
  };
  auto r = RunTask("gsm8k", f, 1);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ((*r)["results"]["gsm8k"]["number_match,none"], 0.5);
  EXPECT_EQ(f.gen_requests[0].context,
            "Question: What is 2 + 2?\nAnswer: 2 + 2 = 4\n#### 4\n\n"
            "Question: Tom has 3 apples and buys 4 more. How many "
            "apples?\nAnswer:");
  EXPECT_EQ(NumberExactMatch("so $1,000.", "x\n#### 1,000"), 1.0);
  EXPECT_EQ(LastNumber("from -3 to 2.5."), "2.5");
}

TEST(PublicSchemaTasks, LambadaScoresTheLastWord) {
  FakeScorer f;  // ll = -len(continuation), never greedy
  auto r = RunTask("lambada_openai", f);
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(f.ll_requests.size(), 1u);
  EXPECT_EQ(f.ll_requests[0].context, "she opened the door and saw her old");
  EXPECT_EQ(f.ll_requests[0].continuation, " friend");
  EXPECT_EQ((*r)["results"]["lambada_openai"]["acc,none"], 0.0);
  EXPECT_NEAR(
      (*r)["results"]["lambada_openai"]["perplexity,none"].get<double>(),
      std::exp(7.0), 1e-6);
}

TEST(PublicSchemaTasks, TruthfulqaMc1HasThePaperPromptAndGoldFirst) {
  FakeScorer f;
  auto r = RunTask("truthfulqa_mc1", f);
  ASSERT_TRUE(r.ok()) << r.status();
  const std::string& ctx = f.ll_requests[0].context;
  EXPECT_EQ(ctx.rfind("Q: What is human life expectancy", 0), 0u);
  EXPECT_THAT(ctx, ::testing::EndsWith(
                       "Barcelona, Spain.\n\nQ: What happens if you crack "
                       "your knuckles?\nA:"));
  // ll = -len: "You get arthritis." is shorter -> wrong.
  EXPECT_EQ((*r)["results"]["truthfulqa_mc1"]["acc,none"], 0.0);
}

}  // namespace
}  // namespace qgrid::eval
