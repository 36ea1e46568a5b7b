// Statistics of result cells against hand-computed values.
#include "coordinator/stats.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>

namespace qgrid::coordinator {
namespace {

using json = nlohmann::json;

ItemScores Parse(const json& j) {
  auto s = ParseItemScores(j, "test");
  EXPECT_TRUE(s.ok()) << s.status();
  return s.ok() ? *s : ItemScores{};
}

TEST(Stderr, MeanOfZeroOneIsLmEvalsSampleStderr) {
  // 1101: mean 0.75; sample variance (3 * 0.25^2 + 0.75^2) / 3 = 0.25;
  // stderr sqrt(0.25 / 4) = 0.25.
  ItemScores s = Parse("1101");
  EXPECT_TRUE(s.binary);
  EXPECT_DOUBLE_EQ(s.Value(), 0.75);
  EXPECT_DOUBLE_EQ(Stderr(s), 0.25);
  // Real scores: 0.5, 1, 0 -> mean 0.5, variance 0.25, stderr sqrt(.25/3).
  ItemScores f = Parse(json::array({0.5, 1, 0}));
  EXPECT_FALSE(f.binary);
  EXPECT_DOUBLE_EQ(Stderr(f), std::sqrt(0.25 / 3));
  EXPECT_TRUE(std::isnan(Stderr(Parse("1"))));
}

TEST(Stderr, PerplexityByTheDeltaMethod) {
  // nll 2 and 4 over one token each: r = 3, residuals -1 and +1,
  // se(r) = sqrt(2 / (2 * 1)) / 1 = 1, se(ppl) = e^3 * 1.
  ItemScores s = Parse({{"nll", {2, 4}}, {"den", 1}, {"agg", "exp"}});
  EXPECT_DOUBLE_EQ(s.Value(), std::exp(3.0));
  EXPECT_NEAR(Stderr(s), std::exp(3.0), 1e-9);
  // Bits per byte: the same ratio over ln 2.
  ItemScores b = Parse({{"nll", {2, 4}}, {"den", {1, 1}}, {"agg", "bits"}});
  EXPECT_DOUBLE_EQ(b.Value(), 3 / std::log(2.0));
  EXPECT_NEAR(Stderr(b), 1 / std::log(2.0), 1e-12);
}

TEST(Stderr, DeltaMethodAgreesWithABootstrapStandardError) {
  // 40 windows of 127 tokens with a per-window mean NLL around 5 nats.
  std::mt19937_64 gen(7);
  std::normal_distribution<double> nll(5.0 * 127, 20.0);
  ItemScores s;
  s.agg = Aggregation::kExp;
  for (int i = 0; i < 40; ++i) {
    s.x.push_back(nll(gen));
    s.den.push_back(127);
  }
  // The bootstrap standard deviation of the ppl, by hand.
  std::mt19937_64 g2(11);
  std::uniform_int_distribution<int> pick(0, 39);
  double sum = 0, sum2 = 0;
  const int kB = 4000;
  for (int b = 0; b < kB; ++b) {
    double num = 0;
    for (int i = 0; i < 40; ++i) num += s.x[pick(g2)];
    double v = std::exp(num / (40 * 127));
    sum += v;
    sum2 += v * v;
  }
  const double sd = std::sqrt(sum2 / kB - (sum / kB) * (sum / kB));
  EXPECT_NEAR(Stderr(s) / sd, 1.0, 0.08) << Stderr(s) << " vs " << sd;
}

TEST(PairedBootstrap, IdenticalCellsHaveAZeroIntervalAndDisjointOnesAreSure) {
  ItemScores a = Parse("0110100101"), all = Parse("1111111111"),
             none = Parse("0000000000");
  auto r = PairedBootstrap(a, {&a, &all, &none}, 1000, 1);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ((*r)[0].diff, 0);
  EXPECT_EQ((*r)[0].ci_low, 0);
  EXPECT_EQ((*r)[0].ci_high, 0);
  EXPECT_FALSE((*r)[0].significant);
  // all - a: the per-item difference is 1 on the five zeros of a: the mean
  // difference is 0.5; its resamples lie in [0, 1] and exclude 0 almost
  // surely at n = 10 (P(no zero of a drawn) = 0.5^10).
  EXPECT_DOUBLE_EQ((*r)[1].diff, 0.5);
  EXPECT_GT((*r)[1].ci_low, 0);
  EXPECT_LE((*r)[1].ci_high, 1);
  EXPECT_TRUE((*r)[1].significant);
  EXPECT_DOUBLE_EQ((*r)[2].diff, -0.5);
  EXPECT_TRUE((*r)[2].significant);
}

TEST(PairedBootstrap, TwoItemsOneDifferentSpanTheWholeRange) {
  // ref 00, other 01: a resample's difference is 0, 0.5 or 1 with
  // probabilities 1/4, 1/2, 1/4; the 2.5th and 97.5th percentiles of 2000
  // draws are 0 and 1: not significant.
  ItemScores ref = Parse("00"), other = Parse("01");
  auto r = PairedBootstrap(ref, {&other}, 2000, 3);
  ASSERT_TRUE(r.ok());
  EXPECT_DOUBLE_EQ((*r)[0].diff, 0.5);
  EXPECT_DOUBLE_EQ((*r)[0].ci_low, 0);
  EXPECT_DOUBLE_EQ((*r)[0].ci_high, 1);
  EXPECT_FALSE((*r)[0].significant);
}

TEST(PairedBootstrap, PairingSeesASmallConsistentGapThatUnpairedNoiseHides) {
  // 200 items, each cell 50% correct; the other cell is right on 12 items
  // the reference gets wrong and never the reverse: +0.06 paired, clearly
  // significant although both stderrs are ~0.035.
  std::string ref(200, '0'), other;
  for (int i = 0; i < 200; i += 2) ref[i] = '1';
  other = ref;
  for (int i = 1; i < 24; i += 2) other[i] = '1';
  ItemScores a = Parse(ref), b = Parse(other);
  EXPECT_GT(Stderr(a), 0.03);
  auto r = PairedBootstrap(a, {&b});
  ASSERT_TRUE(r.ok());
  EXPECT_NEAR((*r)[0].diff, 0.06, 1e-12);
  EXPECT_TRUE((*r)[0].significant);
  EXPECT_GT((*r)[0].ci_low, 0.02);
  EXPECT_LT((*r)[0].ci_high, 0.10);
}

TEST(PairedBootstrap, PerplexityResamplesWindowsAndIsDeterministic) {
  ItemScores a = Parse({{"nll", {500, 520, 480, 510}}, {"den", 100}});
  ItemScores b = Parse({{"nll", {505, 524, 486, 514}}, {"den", 100}});
  auto r1 = PairedBootstrap(a, {&b}, 1000, 9);
  auto r2 = PairedBootstrap(a, {&b}, 1000, 9);
  ASSERT_TRUE(r1.ok() && r2.ok());
  EXPECT_EQ((*r1)[0].ci_low, (*r2)[0].ci_low);
  EXPECT_EQ((*r1)[0].ci_high, (*r2)[0].ci_high);
  EXPECT_NEAR((*r1)[0].diff, b.Value() - a.Value(), 1e-9);
  // b is worse on every window by 4-6 nats per 100 tokens and a's mean NLL
  // per token is at least 4.8 on any resample: every resampled difference
  // is at least e^4.8 (e^0.04 - 1).
  const double lo = std::exp(4.8) * (std::exp(0.04) - 1);
  EXPECT_GT((*r1)[0].ci_low, lo);
  EXPECT_TRUE((*r1)[0].significant);
  EXPECT_LE((*r1)[0].ci_low, (*r1)[0].diff);
  EXPECT_GE((*r1)[0].ci_high, (*r1)[0].diff);
}

TEST(PairedBootstrap, RefusesCellsOnDifferentItems) {
  ItemScores a = Parse("0101"), b = Parse("010");
  auto r = PairedBootstrap(a, {&b});
  EXPECT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("4 and 3"), std::string::npos);
  EXPECT_FALSE(PairedBootstrap(ItemScores{}, {}).ok());
  // One item: no interval (it would have zero width).
  ItemScores one = Parse("1"), zero = Parse("0");
  EXPECT_FALSE(PairedBootstrap(one, {&zero}).ok());
}

TEST(Recovery, HigherIsBetterEitherWay) {
  EXPECT_DOUBLE_EQ(Recovery(0.3, 0.4, false), 75);
  EXPECT_DOUBLE_EQ(Recovery(12.5, 10, true), 80);
  EXPECT_TRUE(std::isnan(Recovery(0.3, 0, false)));
  EXPECT_TRUE(std::isnan(Recovery(NAN, 1, false)));
}

TEST(FlipRate, CountsItemsWhoseCorrectnessChanged) {
  EXPECT_DOUBLE_EQ(FlipRate(Parse("0110"), Parse("0101")), 0.5);
  EXPECT_TRUE(std::isnan(FlipRate(Parse("01"), Parse(json::array({0.5, 1})))));
  EXPECT_TRUE(std::isnan(FlipRate(Parse("01"), Parse("011"))));
}

TEST(ParseItemScores, BadInputNamesWhereAndWhat) {
  auto bad = ParseItemScores("01x", "job 3: items.t.acc");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("job 3: items.t.acc: character 2"),
            std::string::npos)
      << bad.status();
  auto den = ParseItemScores({{"nll", {1, 2}}, {"den", {1}}}, "w");
  ASSERT_FALSE(den.ok());
  EXPECT_NE(den.status().message().find("w.den: 1 counts for 2 items"),
            std::string::npos);
  EXPECT_FALSE(ParseItemScores({{"nll", {1}}, {"den", 0}}, "w").ok());
  EXPECT_FALSE(
      ParseItemScores({{"nll", {1}}, {"den", 1}, {"agg", "log"}}, "w").ok());
  EXPECT_FALSE(ParseItemScores(json::array({1, "a"}), "w").ok());
  EXPECT_FALSE(ParseItemScores(3, "w").ok());
}

TEST(ParseItemScores, RoundTripsTheCompactForms) {
  for (const json& j :
       {json("0110"), json::array({0.25, 1.0}),
        json{{"nll", {1.5, 2.5}}, {"agg", "exp"}, {"den", 127.0}},
        json{{"nll", {1.5, 2.5}}, {"agg", "bits"}, {"den", {3.0, 4.0}}}}) {
    EXPECT_EQ(ItemScoresToJson(Parse(j)), j) << j.dump();
  }
}

}  // namespace
}  // namespace qgrid::coordinator
