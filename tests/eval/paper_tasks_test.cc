// The task configs added for the paper's remaining datasets (arXiv
// 2406.12928 S1/S2, BOSS SA/NLI/TD; PTB and C4 from 2402.16775 /
// 2402.18158), run on the HAND-MADE fixtures in tests/eval/fixtures (a few
// rows each in the dataset's public schema, see the README there): the
// formatted prompt, choices and gold as lm-evaluation-harness / MI-optimize
// build them, and each metric on forced log-likelihoods (FakeScorer) and on
// a tiny real model.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <fstream>

#include "absl/strings/match.h"
#include "eval/doc_processors.h"
#include "eval/evaluate.h"
#include "eval/metrics.h"
#include "eval/perplexity.h"
#include "eval/task_config.h"
#include "tests/eval/fake_scorer.h"
#include "tests/eval/tiny_model.h"
#include "tests/test_util.h"

namespace qgrid::eval {
namespace {

using json = nlohmann::json;
using ::testing::ElementsAre;
using ::testing::EndsWith;
using testing::FakeScorer;
using ::testing::StartsWith;

std::string Fixtures() {
  return ::qgrid::testing::SourceDir() + "/tests/eval/fixtures";
}

absl::StatusOr<json> RunTask(const std::string& name, Scorer& f,
                             const std::string& samples_out = "") {
  auto task = ResolveTask(name);
  if (!task.ok()) return task.status();
  EvalOptions o;
  o.data_dir = Fixtures();
  o.samples_out = samples_out;
  return EvaluateWithScorer(f, *task, o);
}

double Metric(const json& r, const std::string& task, const std::string& m) {
  return r["results"][task][m + ",none"].get<double>();
}

// ll = -1 for the continuation `good`, -2 otherwise.
std::function<double(const std::string&, const std::string&)> Prefer(
    const std::string& good) {
  return [good](const std::string&, const std::string& cont) {
    return cont == good ? -1.0 : -2.0;
  };
}

TEST(Mc2, IsTheNormalisedProbabilityMassOfTheTrueAnswers) {
  EXPECT_NEAR(
      Mc2TrueMass({std::log(0.2), std::log(0.3), std::log(0.5)}, {1, 1, 0}),
      0.5, 1e-12);
  // Shift invariant and safe where exp(ll) underflows.
  EXPECT_NEAR(Mc2TrueMass({-2000, -2000}, {0, 1}), 0.5, 1e-12);
  EXPECT_EQ(Mc2TrueMass({-1, -2}, {0, 0}), 0.0);
}

TEST(RankMetrics, MutualRecallAtOneAndTwoAndReciprocalRank) {
  RankMetrics m = GoldRankMetrics({-1, -3, -2, -4}, 2);  // gold 2nd best
  EXPECT_EQ(m.r1, 0.0);
  EXPECT_EQ(m.r2, 1.0);
  EXPECT_EQ(m.mrr, 0.5);
  m = GoldRankMetrics({-5, -1, -2}, 1);
  EXPECT_EQ(m.r1, 1.0);
  EXPECT_EQ(m.r2, 1.0);
  EXPECT_EQ(m.mrr, 1.0);
  EXPECT_EQ(GoldRankMetrics({-1, -2, -3, -4}, 3).mrr, 0.25);
}

TEST(BinaryF1, MatchesSklearnOnSmallCases) {
  EXPECT_DOUBLE_EQ(BinaryF1({1, 0, 1}, {1, 1, 0}), 0.5);
  EXPECT_DOUBLE_EQ(BinaryF1({1, 1}, {1, 1}), 1.0);
  EXPECT_DOUBLE_EQ(BinaryF1({0, 0}, {0, 0}), 0.0);  // sklearn: 0 (warning)
}

TEST(PaperTasks, TruthfulqaMc2ScoresEveryMc2ChoiceAfterTheQaPrompt) {
  FakeScorer f;  // ll = -len(continuation)
  auto r = RunTask("truthfulqa_mc2", f);
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(f.ll_requests.size(), 3u);
  EXPECT_THAT(f.ll_requests[0].context,
              EndsWith("Barcelona, Spain.\n\nQ: What colour is the sky on a "
                       "clear day?\nA:"));
  EXPECT_EQ(f.ll_requests[1].continuation, " It is blue.");
  const double e6 = std::exp(-6.0), e12 = std::exp(-12.0), e7 = std::exp(-7.0);
  EXPECT_NEAR(Metric(*r, "truthfulqa_mc2", "mc2"), (e6 + e12) / (e6 + e12 + e7),
              1e-12);
}

TEST(PaperTasks, Wsc273ScoresTheRestOfTheSentenceAfterEachOption) {
  FakeScorer f;
  f.ll = [](const std::string& ctx, const std::string&) {
    return absl::EndsWith(ctx, "the dog") ? -1.0 : -2.0;
  };
  auto r = RunTask("wsc273", f);
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(f.ll_requests.size(), 4u);
  // "The dog" is lowercased off sentence start; the rest keeps its space.
  EXPECT_EQ(f.ll_requests[0].context, "The dog chased the cat because the dog");
  EXPECT_EQ(f.ll_requests[1].context, "The dog chased the cat because the cat");
  EXPECT_EQ(f.ll_requests[0].continuation, "  was hungry.");
  // Possessive pronoun: the options get "'s".
  EXPECT_EQ(f.ll_requests[3].context, "Anna thanked Mary because Mary's");
  EXPECT_EQ(f.ll_requests[3].continuation, "  gift was lovely.");
  EXPECT_EQ(Metric(*r, "wsc273", "acc"), 0.5);  // doc 2: tie -> option 0
}

TEST(PaperTasks, GlueWnliAndQnliUseLmEvalPromptsAndLabelWords) {
  FakeScorer f;
  f.ll = Prefer(" True");
  auto r = RunTask("wnli", f);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(f.ll_requests[0].context,
            "The key was in the drawer, so Tom found it.\nQuestion: Tom found "
            "the key. True or False?\nAnswer:");
  EXPECT_EQ(f.ll_requests[0].continuation, " False");
  EXPECT_EQ(Metric(*r, "wnli", "acc"), 0.5);  // label 1 (True), then 0
  FakeScorer g;
  g.ll = Prefer(" yes");
  auto q = RunTask("qnli", g);
  ASSERT_TRUE(q.ok()) << q.status();
  EXPECT_EQ(g.ll_requests[0].context,
            "Where do penguins live?\nMost penguins live in the Southern "
            "Hemisphere.\nQuestion: Does this response answer the "
            "question?\nAnswer:");
  EXPECT_EQ(Metric(*q, "qnli", "acc"), 1.0);  // 0 = entailment = "yes"
}

TEST(PaperTasks, SwagAndMathqaChoicesAndGold) {
  FakeScorer f;
  f.ll = Prefer(" pours water into a cup.");
  auto r = RunTask("swag", f);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(f.ll_requests[0].context, "A woman picks up a kettle. She");
  EXPECT_EQ(f.ll_requests[2].continuation, " eats the kettle, slowly.");
  EXPECT_EQ(Metric(*r, "swag", "acc"), 1.0);
  FakeScorer g;
  g.ll = Prefer(" 2");
  auto m = RunTask("mathqa", g);
  ASSERT_TRUE(m.ok()) << m.status();
  ASSERT_EQ(g.ll_requests.size(), 5u);
  EXPECT_EQ(g.ll_requests[0].context,
            "Question: a shop sells 3 pens for 6 dollars . what is the price "
            "of one pen ?\nAnswer:");
  std::vector<std::string> conts;
  for (const auto& q : g.ll_requests) conts.push_back(q.continuation);
  EXPECT_THAT(conts, ElementsAre(" 1", " 2", " 3.5", " data inadequate", " 4"));
  EXPECT_EQ(Metric(*m, "mathqa", "acc"), 1.0);  // correct "b"
}

TEST(PaperTasks, MutualDetokenizesAndRanksTheGoldResponse) {
  FakeScorer f;
  f.ll = [](const std::string&, const std::string& cont) {
    if (cont == " m: it's raining, isn't it?") return -1.0;
    if (cont == " m: yes, i'll have some coffee, thanks.") return -2.0;
    return -3.0;
  };
  auto r = RunTask("mutual", f);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(f.ll_requests[0].context,
            "f: would you like something to drink? m: coffee, please. f: "
            "with milk?");
  EXPECT_EQ(f.ll_requests[0].continuation, " m: i don't like tea.");
  EXPECT_EQ(Metric(*r, "mutual", "r@1"), 0.0);
  EXPECT_EQ(Metric(*r, "mutual", "r@2"), 1.0);
  EXPECT_EQ(Metric(*r, "mutual", "mrr"), 0.5);
}

TEST(PaperTasks, CrowsPairsLikelihoodDiffAndPctStereotype) {
  FakeScorer f;  // ll = -len: the shorter sentence is more likely
  auto r = RunTask("crows_pairs_english", f);
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(f.ll_requests.size(), 4u);
  EXPECT_EQ(f.ll_requests[0].context, "");
  EXPECT_EQ(f.ll_requests[0].continuation,
            "The tall man could reach the shelf.");
  EXPECT_EQ(f.ll_requests[1].continuation,
            "The short man could reach the shelf.");
  // |35 - 36| and |31 - 33|; sent_more is shorter both times.
  EXPECT_DOUBLE_EQ(Metric(*r, "crows_pairs_english", "likelihood_diff"), 1.5);
  EXPECT_DOUBLE_EQ(Metric(*r, "crows_pairs_english", "pct_stereotype"), 1.0);
}

TEST(PaperTasks, ToxigenLabelsFromSummedToxicityScores) {
  FakeScorer f;
  f.ll = Prefer(" Yes");
  auto r = RunTask("toxigen", f);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(f.ll_requests[0].context,
            "Is the following statement hateful? Respond with either Yes or "
            "No. Statement: 'gardeners are lovely people'");
  // 1.0 + 1.2 <= 5.5 -> No; 3.0 + 3.0 > 5.5 -> Yes.
  EXPECT_EQ(Metric(*r, "toxigen", "acc"), 0.5);
}

TEST(PaperTasks, PubmedqaJoinsContextsAndQa4mreTrimsTheDocument) {
  FakeScorer f;
  f.ll = Prefer(" maybe");
  auto r = RunTask("pubmedqa", f);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(f.ll_requests[0].context,
            "Abstract: Twenty adults drank tea.\nSleep was measured.\n"
            "Question: Does tea improve sleep?\nAnswer:");
  EXPECT_EQ(Metric(*r, "pubmedqa", "acc"), 1.0);
  FakeScorer g;
  g.ll = Prefer(" every spring");
  auto q = RunTask("qa4mre_2011", g);
  ASSERT_TRUE(q.ok()) << q.status();
  EXPECT_EQ(g.ll_requests[0].context,
            "The river floods every spring.\nQuestion: When does the river "
            "flood?\nAnswer:");
  EXPECT_EQ(g.ll_requests.size(), 5u);
  EXPECT_EQ(Metric(*q, "qa4mre_2011", "acc"), 1.0);  // correct_answer_id "2"
}

TEST(PaperTasks, McTacoAccAndCorpusF1) {
  FakeScorer f;
  // "yes" for the two baking answers, "no" for the swim.
  f.ll = [](const std::string& ctx, const std::string& cont) {
    bool yes = ctx.find("baking") != std::string::npos;
    return (cont == " yes") == yes ? -1.0 : -2.0;
  };
  auto r = RunTask("mc_taco", f);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(f.ll_requests[0].context,
            "He baked bread in the morning.\nQuestion: How long did the "
            "baking take?\nAnswer: 2 hours\nPlausible:");
  // gold yes,no,yes; pred yes,yes,no: tp 1, fp 1, fn 1.
  EXPECT_NEAR(Metric(*r, "mc_taco", "acc"), 1.0 / 3, 1e-12);
  EXPECT_DOUBLE_EQ(Metric(*r, "mc_taco", "f1"), 0.5);
}

TEST(PaperTasks, RaceAnswersEarlierQuestionsAndScoresTheLast) {
  FakeScorer f;
  f.ll = Prefer(" by bike");
  auto r = RunTask("race", f);
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(f.ll_requests.size(), 4u);
  EXPECT_EQ(f.ll_requests[0].context,
            "Article: Sam has a red bike. He rides it to school every "
            "day.\n\nSam's bike is red\nHow does Sam go to school?");
  EXPECT_EQ(Metric(*r, "race", "acc"), 1.0);
}

TEST(PaperTasks, BlimpParadigmsAreSubjectsScoredWhole) {
  FakeScorer f;
  f.ll = Prefer("Mary saw herself.");
  auto r = RunTask("blimp:anaphor_gender_agreement", f);
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(f.ll_requests.size(), 2u);
  EXPECT_EQ(f.ll_requests[0].context, "");
  EXPECT_EQ(f.ll_requests[1].continuation, "Mary saw himself.");
  EXPECT_EQ(Metric(*r, "blimp:anaphor_gender_agreement", "acc"), 1.0);
  EXPECT_TRUE((*r)["groups"].contains("anaphor_gender_agreement"));
  auto all = ResolveTask("blimp");
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(all->subjects.size(), 67u);
}

TEST(PaperTasks, BossClassificationUsesThePaperPromptAndLabelWords) {
  FakeScorer f;
  f.gen = [](const std::string& ctx) -> std::string {
    if (absl::EndsWith(ctx, "funny film . // Prediction:")) return " Positive";
    if (absl::EndsWith(ctx, "too long . // Prediction:")) return " negative.";
    return " good";  // unparseable: wrong
  };
  auto r = RunTask("boss_sst5", f);
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(f.gen_requests.size(), 3u);
  EXPECT_THAT(f.gen_requests[0].context,
              StartsWith("### Instruction ###\nSolve the sentiment analysis "
                         "task. Options for sentiment: negative, positive, "
                         "neutral.\n### Format ###\nText: {Text} // "
                         "Prediction: {Prediction}\n### Example ###\n"));
  EXPECT_THAT(f.gen_requests[0].context,
              EndsWith("// Prediction: neutral\n### Input ###\nText: A warm , "
                       "funny film . // Prediction:"));
  EXPECT_EQ(f.gen_requests[0].max_gen_toks, 2);
  EXPECT_NEAR(Metric(*r, "boss_sst5", "acc"), 2.0 / 3, 1e-12);

  FakeScorer g;  // NLI: one token; "ent" is read as entailment
  g.gen = [](const std::string& ctx) -> std::string {
    return ctx.find("Someone") != std::string::npos ? " ent" : " contra";
  };
  auto n = RunTask("boss_mnli", g);
  ASSERT_TRUE(n.ok()) << n.status();
  EXPECT_THAT(g.gen_requests[0].context,
              EndsWith("### Input ###\nPremise: A man is cooking . // "
                       "Hypothesis: Someone is cooking . // prediction:"));
  EXPECT_EQ(Metric(*n, "boss_mnli", "acc"), 0.5);

  FakeScorer t;
  t.gen = [](const std::string& ctx) -> std::string {
    return ctx.find("thrown out") != std::string::npos ? " to" : " ben";
  };
  auto x = RunTask("boss_toxigen", t);
  ASSERT_TRUE(x.ok()) << x.status();
  EXPECT_EQ(Metric(*x, "boss_toxigen", "acc"), 1.0);
  EXPECT_EQ(t.gen_requests[0].max_gen_toks, 1);
}

TEST(PaperTasks, PtbAndC4RollingReadTheirFiles) {
  FakeScorer f;
  auto r = RunTask("ptb", f);
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(f.rolling_texts.size(), 1u);
  EXPECT_EQ(f.rolling_texts[0],
            " the cat sat on the mat \n the <unk> ran N miles \n");
  FakeScorer g;  // the gzipped JSON lines shard
  auto c = RunTask("c4", g);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_THAT(g.rolling_texts,
              ElementsAre("First hand-made web page.", "Second page, short.",
                          "Third page is not used."));
  EXPECT_GT(Metric(*c, "c4", "word_perplexity"), 1.0);
}

TEST(PaperTasks, GptqStylePtbAndC4JoinAsGptqLoadersDo) {
  auto lm = testing::TinyModel();
  ASSERT_NE(lm, nullptr);
  EvalOptions o;
  o.data_dir = Fixtures();
  o.max_length = 8;  // windows of 8 tokens (bytes) on the tiny model
  PerplexityOptions po;
  po.seqlen = 8;
  po.show_progress = false;
  for (const auto& [name, text] :
       std::vector<std::pair<std::string, std::string>>{
           {"ptb_gptq", "the cat sat on the mat the <unk> ran N miles"},
           {"c4_gptq",
            "First hand-made web page. Second page, short. Third "
            "page is not used."}}) {
    auto task = ResolveTask(name);
    ASSERT_TRUE(task.ok()) << task.status();
    auto r = Evaluate(*lm, *task, o);
    ASSERT_TRUE(r.ok()) << r.status();
    auto want = Perplexity(*lm, lm->tokenizer()->Encode(text, true), po);
    ASSERT_TRUE(want.ok());
    EXPECT_NEAR(Metric(*r, name, "perplexity"), want->ppl, 1e-6 * want->ppl)
        << name;
  }
  // c4-new keeps the first max_docs documents and max_windows windows.
  auto c4 = ResolveTask("c4_gptq");
  ASSERT_TRUE(c4.ok());
  c4->max_docs = 1;
  c4->max_windows = 2;
  auto r = Evaluate(*lm, *c4, o);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ((*r)["config"]["windows"], 2);
  auto want = Perplexity(
      *lm, lm->tokenizer()->Encode("First hand-made web page.", true), po);
  ASSERT_TRUE(want.ok());
  EXPECT_EQ(want->windows, 3);  // 26 tokens: without the cap, 3 windows
}

// The metrics on a real (tiny random) model: recomputed from the
// log-likelihoods the scorer returned, as recorded per sample.
TEST(PaperTasks, NewMetricsOnATinyModelFollowFromItsLogLikelihoods) {
  auto lm = testing::TinyModel();
  ASSERT_NE(lm, nullptr);
  auto scorer = CausalLMScorer::Create(*lm);
  ASSERT_TRUE(scorer.ok());
  const std::string dir = ::qgrid::testing::MakeTempDir("paper-tasks");
  ASSERT_FALSE(dir.empty());
  const std::string samples = dir + "/samples.jsonl";
  for (const char* t : {"truthfulqa_mc2", "crows_pairs_english", "mutual"}) {
    auto r = RunTask(t, **scorer, samples);
    ASSERT_TRUE(r.ok()) << t << ": " << r.status();
  }
  std::ifstream in(samples);
  std::string line;
  double mc2 = -1, diff_sum = 0, stereo_sum = 0;
  int pairs = 0;
  while (std::getline(in, line)) {
    json s = json::parse(line);
    std::vector<double> ll = s["loglikelihoods"];
    if (s["task"] == "truthfulqa_mc2") {
      mc2 = Mc2TrueMass(ll, {1, 1, 0});
      EXPECT_NEAR(s["metrics"]["mc2"].get<double>(), mc2, 1e-12);
    } else if (s["task"] == "crows_pairs_english") {
      diff_sum += std::fabs(ll[0] - ll[1]);
      stereo_sum += ll[0] > ll[1];
      ++pairs;
    } else {
      RankMetrics m = GoldRankMetrics(ll, 2);
      EXPECT_EQ(s["metrics"]["mrr"].get<double>(), m.mrr);
    }
  }
  EXPECT_GT(mc2, 0.0);
  EXPECT_LT(mc2, 1.0);
  ASSERT_EQ(pairs, 2);
  auto r = RunTask("crows_pairs_english", **scorer);
  ASSERT_TRUE(r.ok());
  EXPECT_NEAR(Metric(*r, "crows_pairs_english", "likelihood_diff"),
              diff_sum / 2, 1e-9);
  EXPECT_NEAR(Metric(*r, "crows_pairs_english", "pct_stereotype"),
              stereo_sum / 2, 1e-12);
  std::remove(samples.c_str());
}

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
