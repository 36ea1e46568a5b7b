// Python's `random.Random` (CPython's Mersenne Twister MT19937, its integer
// seeding through init_by_array, getrandbits, _randbelow and sample), so
// that few-shot picks are the ones lm-evaluation-harness makes: its
// ContextSampler draws `Random(1234).sample(fewshot_docs, n)` for each
// evaluated document in order. Written from the published MT19937
// algorithm (Matsumoto & Nishimura 1998) and the documented behaviour of
// CPython's random module; checked against python3 in tests.
//
// Thread-safety: an instance is a mutable generator; one per thread.
#ifndef QGRID_EVAL_PY_RANDOM_H_
#define QGRID_EVAL_PY_RANDOM_H_

#include <array>
#include <cstdint>
#include <vector>

namespace qgrid::eval {

class PyRandom {
 public:
  // As random.Random(seed) for a non-negative integer seed.
  explicit PyRandom(uint64_t seed);

  // random.getrandbits(k) for 1 <= k <= 32.
  uint32_t GetRandBits(int k);
  // random._randbelow(n) for 1 <= n < 2^32: getrandbits(bit_length(n))
  // until the value is below n.
  uint32_t RandBelow(uint32_t n);
  // Indices of random.sample(range(n), k) (k <= n), in draw order: the
  // pool algorithm for small n, the rejection-set one otherwise, switched
  // at CPython's threshold.
  std::vector<int64_t> Sample(int64_t n, int64_t k);

 private:
  uint32_t Next32();
  void Twist();

  static constexpr int kN = 624;
  std::array<uint32_t, kN> mt_{};
  int index_ = kN;
};

}  // namespace qgrid::eval

#endif  // QGRID_EVAL_PY_RANDOM_H_
