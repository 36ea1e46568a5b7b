// The evaluation loop (eval/evaluate.h) on a fake scorer whose
// log-likelihoods the test chooses.
#include "eval/evaluate.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <set>

#include "eval/dataset.h"
#include "eval/prompt.h"
#include "eval/task_config.h"
#include "tests/eval/fake_scorer.h"
#include "tests/eval/toy_tasks.h"
#include "tests/test_util.h"

namespace qgrid::eval {
namespace {

using json = nlohmann::json;
using testing::FakeScorer;
using ::testing::HasSubstr;

using testing::FixtureDir;
using testing::McTask;

EvalOptions Opts() {
  EvalOptions o;
  o.data_dir = FixtureDir();
  return o;
}

TEST(Evaluate, AccAndAccNormDisagreeWhenLengthsDiffer) {
  TaskConfig c = McTask();
  FakeScorer f;
  // Doc 0: "blue" (4 chars, gold) ll -4.0 -> -1.0/char; "green" (5) -4.5 ->
  // -0.9/char; "red" -9. acc picks blue (right), acc_norm green (wrong).
  f.ll = [](const std::string& ctx, const std::string& cont) {
    if (cont == " blue") return -4.0;
    if (cont == " green") return -4.5;
    return -9.0;
  };
  EvalOptions o = Opts();
  o.limit = 1;
  auto r = EvaluateWithScorer(f, c, o);
  ASSERT_TRUE(r.ok()) << r.status();
  const json& res = (*r)["results"]["toy_mc"];
  EXPECT_EQ(res["acc,none"], 1.0);
  EXPECT_EQ(res["acc_norm,none"], 0.0);
  ASSERT_EQ(f.ll_requests.size(), 3u);
  EXPECT_EQ(
      f.ll_requests[0].context,
      "Answer the questions.\n\nQuestion: What color is the sky?\nAnswer:");
  EXPECT_EQ(f.ll_requests[1].continuation, " green");
  EXPECT_EQ((*r)["n-samples"]["toy_mc"]["original"], 5);
  EXPECT_EQ((*r)["n-samples"]["toy_mc"]["effective"], 1);
}

TEST(Evaluate, AccuracyAndStderrOverDocuments) {
  TaskConfig c = McTask();
  FakeScorer f;  // ll = -len(continuation): shortest choice wins.
  auto r = EvaluateWithScorer(f, c, Opts());
  ASSERT_TRUE(r.ok()) << r.status();
  // ll = -(1 + len): acc picks the shortest choice (red, two, car, milk,
  // air: all wrong); ll/len = -1 - 1/len picks the longest (green, four,
  // apple, honey, water: right but the first) -> acc 0, acc_norm 4/5.
  const json& res = (*r)["results"]["toy_mc"];
  EXPECT_EQ(res["acc,none"], 0.0);
  EXPECT_NEAR(res["acc_norm,none"].get<double>(), 0.8, 1e-12);
  // sample std of {0,1,1,1,1} = sqrt(0.2); / sqrt(5) = 0.2.
  EXPECT_NEAR(res["acc_norm_stderr,none"].get<double>(), 0.2, 1e-12);
  EXPECT_EQ((*r)["n-shot"]["toy_mc"], 0);
}

TEST(Evaluate, FewshotSeedIsReproducibleAndRecorded) {
  TaskConfig c = McTask();
  EvalOptions o = Opts();
  o.shots = 2;
  o.seed = 99;
  FakeScorer a, b;
  ASSERT_TRUE(EvaluateWithScorer(a, c, o).ok());
  auto r = EvaluateWithScorer(b, c, o);
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(a.ll_requests.size(), b.ll_requests.size());
  for (size_t i = 0; i < a.ll_requests.size(); ++i)
    EXPECT_EQ(a.ll_requests[i].context, b.ll_requests[i].context);
  EXPECT_EQ((*r)["seeds"]["fewshot_seed"], 99);
  EXPECT_EQ((*r)["n-shot"]["toy_mc"], 2);
}

TEST(Evaluate, WinograndeScoresTheSharedContinuationAfterEachOption) {
  auto c = ResolveTask("winogrande");
  ASSERT_TRUE(c.ok());
  c->data_files["test"] = {"wino.jsonl"};
  FakeScorer f;
  f.ll = [](const std::string& ctx, const std::string& cont) {
    return ctx.back() == 'a' ? -1.0 : -2.0;  // "...because Anna" wins
  };
  auto r = EvaluateWithScorer(f, *c, Opts());
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(f.ll_requests.size(), 4u);
  EXPECT_EQ(f.ll_requests[0].context, "Anna gave Beth a gift because Anna");
  EXPECT_EQ(f.ll_requests[1].context, "Anna gave Beth a gift because Beth");
  EXPECT_EQ(f.ll_requests[0].continuation, " was kind.");
  // Doc 1's options both end in a non-'a' letter: tie -> option 0 = gold.
  EXPECT_EQ((*r)["results"]["winogrande"]["acc,none"], 1.0);
}

TEST(Evaluate, CevalPromptMatchesTheOfficialTemplateAndScoresLetters) {
  auto c = ResolveTask("ceval");
  ASSERT_TRUE(c.ok());
  c->subjects = {{"toy_math", "数学", "STEM"},
                 {"toy_history", "历史", "Humanities"}};
  FakeScorer f;
  f.next = [](const std::string& ctx, const std::vector<std::string>& c) {
    return std::vector<double>{-3, -1, -2, -4};  // always "B"
  };
  auto r = EvaluateWithScorer(f, *c, Opts());
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(f.next_contexts.size(), 3u);
  // The official evaluator (hkust-nlp/ceval evaluators/llama.py): header,
  // then each dev example "q\nA. a\nB. b\nC. c\nD. d\n答案：X\n\n", then the
  // question with "\n答案：".
  EXPECT_EQ(f.next_contexts[0],
            "以下是中国关于数学考试的单项选择题，请选出其中的正确答案。\n\n"
            "1+1=____\nA. 1\nB. 2\nC. 3\nD. 4\n答案：B\n\n"
            "水的化学式是____\nA. H2O\nB. CO2\nC. NaCl\nD. O2\n答案：A\n\n"
            "2+2=____\nA. 3\nB. 4\nC. 5\nD. 6\n答案：");
  // Shots come from the document's own subject.
  EXPECT_THAT(f.next_contexts[2], HasSubstr("中国的首都是"));
  EXPECT_THAT(f.next_contexts[2], ::testing::Not(HasSubstr("1+1")));
  // Golds B, A, A; prediction always B.
  EXPECT_NEAR((*r)["results"]["ceval"]["acc,none"].get<double>(), 1.0 / 3,
              1e-12);
  EXPECT_EQ((*r)["groups"]["toy_math"]["acc,none"], 0.5);
  EXPECT_EQ((*r)["groups"]["toy_history"]["acc,none"], 0.0);

  // --limit applies per subject for grouped tasks (as lm-eval per subtask).
  EvalOptions lim = Opts();
  lim.limit = 1;
  FakeScorer g;
  auto l = EvaluateWithScorer(g, *c, lim);
  ASSERT_TRUE(l.ok()) << l.status();
  EXPECT_EQ(g.next_contexts.size(), 2u);
  EXPECT_EQ((*l)["groups"]["toy_history"]["n"], 1);
}

TEST(Evaluate, GenerateScoresSquadEmAndF1) {
  auto c = ResolveTask("squad2");
  ASSERT_TRUE(c.ok());
  c->data_files["test"] = {"squad.json"};
  FakeScorer f;
  f.gen = [](const std::string& ctx) -> std::string {
    if (ctx.find("Where") != std::string::npos) return " the Paris";
    if (ctx.find("When") != std::string::npos) return " in 1889";
    return "";  // unanswerable: the empty answer is right
  };
  auto r = EvaluateWithScorer(f, *c, Opts());
  ASSERT_TRUE(r.ok()) << r.status();
  const json& res = (*r)["results"]["squad2"];
  EXPECT_NEAR(res["exact_match,none"].get<double>(), 2.0 / 3, 1e-12);
  EXPECT_NEAR(res["f1,none"].get<double>(), (1 + 2.0 / 3 + 1) / 3, 1e-12);
  EXPECT_EQ(f.gen_requests[0].until, std::vector<std::string>{"\n"});
}

TEST(Evaluate, ClassificationByGenerationMapsTextToLabels) {
  auto c = ResolveTask("sst2");
  ASSERT_TRUE(c.ok());
  c->data_files["test"] = {"sst2_handmade.txt"};
  c->classification_mode = "generate";
  FakeScorer f;
  f.gen = [](const std::string& ctx) -> std::string {
    if (ctx.find("great") != std::string::npos) return " Positive.";
    if (ctx.find("dull") != std::string::npos) return " I think it is negative";
    return " no idea";  // unparseable counts wrong
  };
  auto r = EvaluateWithScorer(f, *c, Opts());
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_NEAR((*r)["results"]["sst2"]["acc,none"].get<double>(), 2.0 / 3,
              1e-12);
  EXPECT_EQ(
      ParseGeneratedLabel("Negative, not positive", {"negative", "positive"}),
      0);
  EXPECT_EQ(ParseGeneratedLabel("neutral", {"negative", "positive"}), -1);
}

TEST(Evaluate, RollingPerplexityAggregatesWordsAndBytes) {
  auto c = ResolveTask("wikitext2");
  ASSERT_TRUE(c.ok());
  c->data_files["test"] = {"text.txt"};
  FakeScorer f;  // ll = -bytes
  auto r = EvaluateWithScorer(f, *c, Opts());
  ASSERT_TRUE(r.ok()) << r.status();
  std::string text =
      "The quick brown fox jumps over the lazy dog.\nIt was a sunny day.\n";
  double ll = -static_cast<double>(text.size());
  const json& res = (*r)["results"]["wikitext2"];
  EXPECT_NEAR(res["word_perplexity,none"].get<double>(), std::exp(-ll / 15),
              1e-9);
  EXPECT_NEAR(res["byte_perplexity,none"].get<double>(), std::exp(1.0), 1e-9);
  EXPECT_NEAR(res["bits_per_byte,none"].get<double>(), 1 / std::log(2.0), 1e-9);
}

TEST(Evaluate, ItemScoresAreOptInAndReproduceTheAggregates) {
  TaskConfig c = McTask();
  FakeScorer f;
  auto plain = EvaluateWithScorer(f, c, Opts());
  ASSERT_TRUE(plain.ok());
  EXPECT_FALSE(plain->contains("items"));  // lm-eval's layout by default
  EvalOptions o = Opts();
  o.item_scores = true;
  FakeScorer g;
  auto r = EvaluateWithScorer(g, c, o);
  ASSERT_TRUE(r.ok()) << r.status();
  // As in AccuracyAndStderrOverDocuments: acc wrong everywhere, acc_norm
  // wrong on the first document only; one 0/1 character per document.
  EXPECT_EQ((*r)["items"]["toy_mc"]["acc"], "00000");
  EXPECT_EQ((*r)["items"]["toy_mc"]["acc_norm"], "01111");

  auto w = ResolveTask("wikitext2");
  ASSERT_TRUE(w.ok());
  w->data_files["test"] = {"text.txt"};
  FakeScorer h;  // ll = -bytes
  auto p = EvaluateWithScorer(h, *w, o);
  ASSERT_TRUE(p.ok()) << p.status();
  const json& items = (*p)["items"]["wikitext2"];
  const json& res = (*p)["results"]["wikitext2"];
  // Per document: NLL (nats) and words / bytes; the ratio reproduces the
  // corpus figure.
  for (const char* m :
       {"word_perplexity", "byte_perplexity", "bits_per_byte"}) {
    ASSERT_TRUE(items.contains(m)) << items.dump();
    double nll = 0, den = 0;
    for (size_t i = 0; i < items[m]["nll"].size(); ++i) {
      nll += items[m]["nll"][i].get<double>();
      den += items[m]["den"][i].get<double>();
    }
    const double want = res[std::string(m) + ",none"].get<double>();
    const double got = std::string(m) == "bits_per_byte"
                           ? nll / den / std::log(2.0)
                           : std::exp(nll / den);
    EXPECT_NEAR(got, want, 1e-9 * want) << m;
  }
  EXPECT_EQ(items["bits_per_byte"]["agg"], "bits");
  EXPECT_EQ(items["word_perplexity"]["agg"], "exp");
}

TEST(Evaluate, WritesPerSampleRecords) {
  TaskConfig c = McTask();
  EvalOptions o = Opts();
  std::string dir = ::qgrid::testing::MakeTempDir("samples");
  o.samples_out = dir + "/s.jsonl";
  o.limit = 2;
  FakeScorer f;
  ASSERT_TRUE(EvaluateWithScorer(f, c, o).ok());
  std::ifstream in(o.samples_out);
  std::string line;
  int n = 0;
  while (std::getline(in, line)) {
    json j = json::parse(line);
    EXPECT_TRUE(j.contains("prompt"));
    EXPECT_EQ(j["choices"].size(), 3u);
    EXPECT_EQ(j["loglikelihoods"].size(), 3u);
    EXPECT_TRUE(j.contains("prediction") && j.contains("gold"));
    ++n;
  }
  EXPECT_EQ(n, 2);
}

TEST(Evaluate, BadDocumentsAndMissingDataGiveErrorsNotCrashes) {
  TaskConfig c = McTask();
  c.doc_to_target = "{{answer}}";
  FakeScorer f;
  auto r = EvaluateWithScorer(f, c, Opts());
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(std::string(r.status().message()), HasSubstr("mc.jsonl:1"));
  EXPECT_THAT(std::string(r.status().message()), HasSubstr("'answer'"));
  EvalOptions o = Opts();
  o.data_dir = "/nonexistent";
  auto m = EvaluateWithScorer(f, McTask(), o);
  ASSERT_FALSE(m.ok());
  EXPECT_THAT(std::string(m.status().message()), HasSubstr("toy_mc"));
}

}  // namespace
}  // namespace qgrid::eval
