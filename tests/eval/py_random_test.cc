// PyRandom against values printed by CPython 3 (`python3 -c "import random;
// r = random.Random(1234); print(r.getrandbits(32), ...)"`).
#include "eval/py_random.h"

#include <gtest/gtest.h>

namespace qgrid::eval {
namespace {

TEST(PyRandom, GetRandBitsMatchesCPythonForSeveralSeeds) {
  PyRandom a(1234);
  EXPECT_EQ(a.GetRandBits(32), 4150886329U);
  EXPECT_EQ(a.GetRandBits(32), 3342196574U);
  EXPECT_EQ(a.GetRandBits(32), 1892932127U);
  PyRandom zero(0);
  EXPECT_EQ(zero.GetRandBits(32), 3626764237U);
  EXPECT_EQ(zero.GetRandBits(32), 1654615998U);
  PyRandom wide((uint64_t{1} << 40) + 5);  // two key words
  EXPECT_EQ(wide.GetRandBits(32), 2166296868U);
  EXPECT_EQ(wide.GetRandBits(32), 2220160828U);
}

TEST(PyRandom, SampleMatchesCPythonPoolAndSetAlgorithms) {
  // Pool algorithm (n <= 21): Random(1234).sample(range(10), 3) twice.
  PyRandom a(1234);
  EXPECT_EQ(a.Sample(10, 3), (std::vector<int64_t>{7, 1, 0}));
  EXPECT_EQ(a.Sample(10, 3), (std::vector<int64_t>{1, 0, 9}));
  // Set algorithm (n = 1000 > 85 for k = 6): lm-eval's 5-shot draw.
  PyRandom b(1234);
  EXPECT_EQ(b.Sample(1000, 6),
            (std::vector<int64_t>{989, 796, 451, 119, 7, 92}));
  EXPECT_EQ(b.Sample(1000, 6),
            (std::vector<int64_t>{932, 965, 961, 826, 596, 35}));
  PyRandom c(7);  // set algorithm at k = 5: n = 50 > 21
  EXPECT_EQ(c.Sample(50, 5), (std::vector<int64_t>{20, 9, 25, 41, 3}));
}

}  // namespace
}  // namespace qgrid::eval
