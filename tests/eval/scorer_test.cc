// CausalLMScorer on a tiny random model: log-likelihoods equal the ones
// computed by hand from the logits, whatever the batching and reuse.
#include "eval/scorer.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>

#include "eval/calibration.h"
#include "eval/efficiency.h"
#include "eval/evaluate.h"
#include "eval/task_config.h"
#include "model/tokenizer.h"
#include "tests/eval/tiny_model.h"
#include "tests/test_util.h"

namespace qgrid::eval {
namespace {

using json = nlohmann::json;
using testing::HandLoglikelihood;
using testing::TinyModel;

std::vector<int> Bytes(const std::string& s) {
  std::vector<int> out;
  for (unsigned char c : s) out.push_back(3 + c);
  return out;
}

// Multiple-choice style requests with a shared few-shot prefix, contexts of
// different lengths and continuations of 1..9 tokens.
std::vector<LoglikelihoodRequest> McRequests() {
  const std::string shots =
      "Question: What is two plus two?\nAnswer: four\n\n"
      "Question: What color is grass?\nAnswer: green\n\n";
  std::vector<std::string> qs = {"Why?", "What is the capital of France?",
                                 "Which animal barks loudly at night?"};
  std::vector<std::vector<std::string>> choices = {
      {"a", "because", "no idea at all"},
      {"Paris", "Rome", "Berlin", "Madrid"},
      {"dog", "cat"}};
  std::vector<LoglikelihoodRequest> out;
  for (size_t i = 0; i < qs.size(); ++i)
    for (const auto& c : choices[i])
      out.push_back({shots + "Question: " + qs[i] + "\nAnswer:", " " + c});
  out.push_back({"", "Once upon"});  // empty context: the prefix token
  return out;
}

TEST(CausalLMScorer, EncodePairMovesContextWhitespaceToTheContinuation) {
  auto lm = TinyModel();
  ASSERT_NE(lm, nullptr);
  ScorerOptions plain;
  plain.special_tokens = false;
  auto s = CausalLMScorer::Create(*lm, plain);
  ASSERT_TRUE(s.ok());
  auto [ctx, cont] = (*s)->EncodePair("Answer: ", "B");
  EXPECT_EQ(ctx, Bytes("Answer:"));
  EXPECT_EQ(cont, Bytes(" B"));
  auto [ctx2, cont2] = (*s)->EncodePair("", "hi");
  EXPECT_EQ(ctx2, std::vector<int>{1});  // BOS as lm-eval's prefix token
  EXPECT_EQ(cont2, Bytes("hi"));
}

// Regression (issue 13, tests/conformance/test_scores.py): lm-eval 0.4.13's
// HFLM encodes with the tokenizer's own special tokens when add_bos_token
// is unset, so a Llama-style tokenizer puts BOS before every context;
// qgrid encoded without them and its log-likelihoods on stories260K were
// up to 4.9 nats away.
TEST(CausalLMScorer, DefaultEncodingAddsTheTokenizersBosLikeLmEval0413) {
  auto lm = TinyModel();
  ASSERT_NE(lm, nullptr);
  auto s = CausalLMScorer::Create(*lm);
  ASSERT_TRUE(s.ok());
  std::vector<int> bos_answer = {1};
  for (int id : Bytes("Answer:")) bos_answer.push_back(id);
  auto [ctx, cont] = (*s)->EncodePair("Answer: ", "B");
  EXPECT_EQ(ctx, bos_answer);
  EXPECT_EQ(cont, Bytes(" B"));
  EXPECT_EQ((*s)->EncodeText("Answer:"), bos_answer);
  // --add-bos on top adds no second BOS.
  ScorerOptions add;
  add.add_bos = true;
  auto a = CausalLMScorer::Create(*lm, add);
  EXPECT_EQ((*a)->EncodeText("Answer:"), bos_answer);
  // --add-bos without special tokens: BOS alone.
  add.special_tokens = false;
  auto b = CausalLMScorer::Create(*lm, add);
  EXPECT_EQ((*b)->EncodeText("Answer:"), bos_answer);
}

TEST(CausalLMScorer, LoglikelihoodEqualsHandComputationFromLogits) {
  auto lm = TinyModel();
  ASSERT_NE(lm, nullptr);
  auto reqs = McRequests();
  for (bool reuse : {true, false}) {
    ScorerOptions o;
    o.reuse_context = reuse;
    o.batch_size = 3;
    auto s = CausalLMScorer::Create(*lm, o);
    ASSERT_TRUE(s.ok());
    auto res = (*s)->Loglikelihood(reqs);
    ASSERT_TRUE(res.ok()) << res.status();
    for (size_t i = 0; i < reqs.size(); ++i) {
      auto [ctx, cont] =
          (*s)->EncodePair(reqs[i].context, reqs[i].continuation);
      std::vector<int> all = ctx;
      all.insert(all.end(), cont.begin(), cont.end());
      bool greedy;
      double hand = HandLoglikelihood(*lm, all, ctx.size(), &greedy);
      EXPECT_NEAR((*res)[i].logprob, hand, 1e-4) << "request " << i;
      EXPECT_EQ((*res)[i].is_greedy, greedy) << "request " << i;
      EXPECT_EQ((*res)[i].num_tokens, static_cast<int64_t>(cont.size()));
    }
  }
}

TEST(CausalLMScorer, BatchedUnbatchedReuseAndNoReuseAgree) {
  auto lm = TinyModel(3);
  ASSERT_NE(lm, nullptr);
  auto reqs = McRequests();
  std::vector<std::vector<LoglikelihoodResult>> runs;
  std::vector<ScorerStats> stats;
  for (auto [reuse, bs] : std::vector<std::pair<bool, int>>{
           {false, 1}, {false, 5}, {true, 1}, {true, 2}, {true, 16}}) {
    ScorerOptions o;
    o.reuse_context = reuse;
    o.batch_size = bs;
    o.min_shared_prefix = 4;
    auto s = CausalLMScorer::Create(*lm, o);
    auto res = (*s)->Loglikelihood(reqs);
    ASSERT_TRUE(res.ok()) << res.status();
    runs.push_back(*res);
    stats.push_back((*s)->stats());
  }
  for (size_t r = 1; r < runs.size(); ++r)
    for (size_t i = 0; i < reqs.size(); ++i)
      EXPECT_NEAR(runs[r][i].logprob, runs[0][i].logprob, 1e-4)
          << "run " << r << " request " << i;
  // Reuse runs each context once and the shared shots once per batch: far
  // fewer tokens through the model (the empty-context request left out, it
  // shares no prefix).
  reqs.pop_back();
  int64_t tokens[2];
  for (bool reuse : {false, true}) {
    ScorerOptions o;
    o.reuse_context = reuse;
    o.batch_size = 16;
    auto s = CausalLMScorer::Create(*lm, o);
    ASSERT_TRUE((*s)->Loglikelihood(reqs).ok());
    tokens[reuse] = (*s)->stats().forward_tokens;
  }
  EXPECT_LT(tokens[1] * 3, tokens[0]);
}

// Contexts longer than the window: lm-eval truncates every (context +
// continuation) on its own, so choices of different lengths keep different
// amounts of context. The reuse path must score the same tokens.
TEST(CausalLMScorer, ReuseTruncatesLikeNoReuseWhenTheContextOverflows) {
  auto lm = TinyModel(4);
  ASSERT_NE(lm, nullptr);
  const std::string ctx = "Question: which of these can fly over the hill?";
  std::vector<LoglikelihoodRequest> reqs;
  for (const char* c : {" a", " a bird", " a big red kite", " no"})
    reqs.push_back({ctx, c});
  reqs.push_back({"Short one?", " yes"});  // fits the window
  std::vector<std::vector<LoglikelihoodResult>> runs;
  for (auto [reuse, bs] :
       std::vector<std::pair<bool, int>>{{false, 1}, {true, 1}, {true, 8}}) {
    ScorerOptions o;
    o.reuse_context = reuse;
    o.batch_size = bs;
    o.max_length = 24;
    auto s = CausalLMScorer::Create(*lm, o);
    auto res = (*s)->Loglikelihood(reqs);
    ASSERT_TRUE(res.ok()) << res.status();
    runs.push_back(*res);
  }
  for (size_t r = 1; r < runs.size(); ++r)
    for (size_t i = 0; i < reqs.size(); ++i)
      EXPECT_NEAR(runs[r][i].logprob, runs[0][i].logprob, 1e-4)
          << "run " << r << " request " << i;
}

TEST(CausalLMScorer, NextTokenScoresAreTheLastPositionLogProbs) {
  auto lm = TinyModel();
  ASSERT_NE(lm, nullptr);
  std::vector<std::string> ctxs = {"shared header 123\nQ1\n答案：",
                                   "shared header 123\nQ2 longer\n答案：",
                                   "other"};
  for (bool reuse : {true, false}) {
    ScorerOptions o;
    o.reuse_context = reuse;
    o.min_shared_prefix = 4;
    o.special_tokens = false;  // hand-computed on the bare bytes
    auto s = CausalLMScorer::Create(*lm, o);
    auto res = (*s)->NextTokenScores(ctxs, {"A", "B", "C", "D"});
    ASSERT_TRUE(res.ok()) << res.status();
    for (size_t i = 0; i < ctxs.size(); ++i) {
      std::vector<int64_t> ids;
      for (int id : Bytes(ctxs[i])) ids.push_back(id);
      at::Tensor lp = at::log_softmax(
          *lm->Forward(at::tensor(ids, at::kLong).view({1, -1})), -1)[0];
      for (int l = 0; l < 4; ++l)
        EXPECT_NEAR((*res)[i][l],
                    lp[ids.size() - 1][3 + 'A' + l].item<double>(), 1e-4);
    }
  }
}

TEST(CausalLMScorer, RollingLoglikelihoodCoversEveryTokenInWindows) {
  auto lm = TinyModel();
  ASSERT_NE(lm, nullptr);
  std::string text = "The quick brown fox jumps over the lazy dog again.";
  ScorerOptions plain;
  plain.special_tokens = false;
  auto whole = CausalLMScorer::Create(*lm, plain);
  auto one = (*whole)->LoglikelihoodRolling({text});
  ASSERT_TRUE(one.ok());
  std::vector<int> all = {1};
  for (int id : Bytes(text)) all.push_back(id);
  EXPECT_NEAR((*one)[0].logprob, HandLoglikelihood(*lm, all, 1), 1e-4);
  EXPECT_EQ((*one)[0].num_tokens, static_cast<int64_t>(text.size()));
  // With the tokenizer's BOS (the default, lm-eval 0.4.13's tok_encode) the
  // first window also predicts that BOS from the prefix token.
  auto with_bos = CausalLMScorer::Create(*lm);
  auto two = (*with_bos)->LoglikelihoodRolling({text});
  std::vector<int> bos_all = {1, 1};
  for (int id : Bytes(text)) bos_all.push_back(id);
  EXPECT_EQ((*two)[0].num_tokens, static_cast<int64_t>(text.size()) + 1);
  EXPECT_NEAR((*two)[0].logprob, HandLoglikelihood(*lm, bos_all, 1), 1e-4);
  // Windows of 16: every token scored once, from up to 16 tokens of context.
  ScorerOptions o;
  o.special_tokens = false;
  o.max_length = 16;
  auto win = CausalLMScorer::Create(*lm, o);
  auto w = (*win)->LoglikelihoodRolling({text});
  ASSERT_TRUE(w.ok());
  double hand = HandLoglikelihood(*lm, {all.begin(), all.begin() + 17}, 1);
  auto toks = Bytes(text);
  for (size_t p = 16; p < toks.size(); p += 16) {
    size_t end = std::min(toks.size(), p + 16);
    size_t b = end - 1 >= 16 ? end - 1 - 16 : 0;
    std::vector<int> seq(toks.begin() + b, toks.begin() + end);
    hand += HandLoglikelihood(*lm, seq, seq.size() - (end - p));
  }
  EXPECT_NEAR((*w)[0].logprob, hand, 1e-4);
}

TEST(CausalLMScorer, GenerateIsGreedyAndStopsAtStopSequences) {
  auto lm = TinyModel();
  ASSERT_NE(lm, nullptr);
  ScorerOptions plain;
  plain.special_tokens = false;  // the reference decodes the bare bytes
  auto s = CausalLMScorer::Create(*lm, plain);
  auto prompt = Bytes("Hello");
  auto ref = model::GreedyGenerate(*lm, prompt, 12, true);
  ASSERT_TRUE(ref.ok());
  std::string ref_text = testing::ByteTokenizer().Decode(*ref);
  auto g = (*s)->Generate({{"Hello", {}, 12}});
  ASSERT_TRUE(g.ok()) << g.status();
  EXPECT_EQ((*g)[0], ref_text);
  if (ref_text.size() > 3) {
    std::string stop = ref_text.substr(2, 1);
    auto cut = (*s)->Generate({{"Hello", {stop}, 12}});
    EXPECT_EQ((*cut)[0], ref_text.substr(0, ref_text.find(stop)));
  }
}

TEST(EvaluateOnModel, MultipleChoiceAccuracyMatchesHandScoredChoices) {
  auto lm = TinyModel(5);
  ASSERT_NE(lm, nullptr);
  auto task = ParseTaskConfig(R"(
task: toy_mc
data_files: {test: mc.jsonl}
output_type: multiple_choice
doc_to_text: "{{query}}\nAnswer:"
doc_to_choice: "{{choices}}"
doc_to_target: "{{gold}}"
)",
                              "toy.yaml");
  ASSERT_TRUE(task.ok());
  EvalOptions o;
  o.data_dir = ::qgrid::testing::SourceDir() + "/tests/eval/data";
  auto r = Evaluate(*lm, *task, o);
  ASSERT_TRUE(r.ok()) << r.status();
  // By hand: each choice's ll from a plain forward, argmax vs gold.
  std::vector<std::pair<std::string, std::vector<std::string>>> docs = {
      {"Question: What color is the sky?", {"blue", "green", "red"}},
      {"Question: How many legs has a cat?", {"two", "four", "six"}},
      {"Question: Which is a fruit?", {"apple", "stone", "car"}},
      {"Question: What do bees make?", {"milk", "honey", "wool"}},
      {"Question: Ice is frozen what?", {"water", "sand", "air"}}};
  std::vector<int> gold = {0, 1, 0, 1, 0};
  double acc = 0, acc_norm = 0;
  for (size_t d = 0; d < docs.size(); ++d) {
    std::vector<double> ll, norm;
    for (const auto& c : docs[d].second) {
      auto ctx = Bytes(docs[d].first + "\nAnswer:");
      auto all = ctx;
      for (int id : Bytes(" " + c)) all.push_back(id);
      ll.push_back(HandLoglikelihood(*lm, all, ctx.size()));
      norm.push_back(ll.back() / c.size());
    }
    acc += (std::max_element(ll.begin(), ll.end()) - ll.begin()) == gold[d];
    acc_norm +=
        (std::max_element(norm.begin(), norm.end()) - norm.begin()) == gold[d];
  }
  EXPECT_NEAR((*r)["results"]["toy_mc"]["acc,none"].get<double>(), acc / 5,
              1e-12);
  EXPECT_NEAR((*r)["results"]["toy_mc"]["acc_norm,none"].get<double>(),
              acc_norm / 5, 1e-12);
  EXPECT_EQ((*r)["efficiency"]["weight_bytes"], lm->WeightBytes());
  EXPECT_GT((*r)["efficiency"]["peak_rss_bytes"].get<int64_t>(), 0);
}

}  // namespace
}  // namespace qgrid::eval
