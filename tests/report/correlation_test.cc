// Pearson and Spearman against values computed by hand (and matching
// scipy.stats.pearsonr / spearmanr), ties given average ranks.
#include "report/correlation.h"

#include <gtest/gtest.h>

#include <cmath>

namespace qgrid::report {
namespace {

TEST(AverageRanks, TiesShareTheMeanOfTheirRanks) {
  EXPECT_EQ(AverageRanks({10, 20, 20, 30}),
            (std::vector<double>{1, 2.5, 2.5, 4}));
  EXPECT_EQ(AverageRanks({3, 1, 3, 3, 2}),
            (std::vector<double>{4, 1, 4, 4, 2}));
  EXPECT_EQ(AverageRanks({5}), (std::vector<double>{1}));
}

TEST(PearsonCorrelation, MatchesHandComputedValue) {
  // mean x 3, mean y 4; sxy = 6, sxx = 10, syy = 6: r = 6 / sqrt(60).
  auto r = PearsonCorrelation({1, 2, 3, 4, 5}, {2, 4, 5, 4, 5});
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_NEAR(*r, 6 / std::sqrt(60.0), 1e-12);
  EXPECT_NEAR(*r, 0.7745966692, 1e-9);
  auto neg = PearsonCorrelation({1, 2, 3}, {3, 2, 1});
  ASSERT_TRUE(neg.ok());
  EXPECT_DOUBLE_EQ(*neg, -1.0);
}

TEST(SpearmanCorrelation, TiedValuesUseAverageRanks) {
  // y ranks with ties: {1, 2.5, 4.5, 2.5, 4.5}; against {1..5}:
  // sxy = 7, sxx = 10, syy = 9: rho = 7 / sqrt(90) (scipy: 0.7378647873726218).
  auto rho = SpearmanCorrelation({1, 2, 3, 4, 5}, {2, 4, 5, 4, 5});
  ASSERT_TRUE(rho.ok()) << rho.status();
  EXPECT_NEAR(*rho, 7 / std::sqrt(90.0), 1e-12);
  EXPECT_NEAR(*rho, 0.7378647873726218, 1e-12);
}

TEST(SpearmanCorrelation, IsOneForAnyMonotoneRelationWherePearsonIsNot) {
  std::vector<double> x = {1, 2, 3, 4}, y = {1, 8, 27, 64};
  EXPECT_DOUBLE_EQ(*SpearmanCorrelation(x, y), 1.0);
  EXPECT_LT(*PearsonCorrelation(x, y), 0.999);
  EXPECT_GT(*PearsonCorrelation(x, y), 0.9);
  // Perplexity falls as accuracy rises: rho -1.
  EXPECT_DOUBLE_EQ(*SpearmanCorrelation({150, 160, 200}, {0.4, 0.35, 0.3}),
                   -1.0);
}

TEST(Correlation, RefusesWhatIsUndefined) {
  EXPECT_FALSE(PearsonCorrelation({1, 2}, {1, 2}).ok());         // < 3 pairs
  EXPECT_FALSE(PearsonCorrelation({1, 2, 3}, {1, 2}).ok());      // sizes
  EXPECT_FALSE(PearsonCorrelation({1, 1, 1}, {1, 2, 3}).ok());   // constant
  EXPECT_FALSE(SpearmanCorrelation({1, 2, 3}, {4, 4, 4}).ok());  // constant
  EXPECT_FALSE(PearsonCorrelation({1, NAN, 3}, {1, 2, 3}).ok());
  auto s = SpearmanCorrelation({1, 2, 3}, {1, 2});
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.status().message().find("3 x values but 2"), std::string::npos)
      << s.status();
}

}  // namespace
}  // namespace qgrid::report
