// Metrics (eval/metrics.h): SQuAD normalization, means, stderr, perplexities,
// F1, MC2, ranks.
#include "eval/metrics.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>

namespace qgrid::eval {
namespace {

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

}  // namespace
}  // namespace qgrid::eval
