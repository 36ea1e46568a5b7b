#include "eval/py_random.h"

#include <cmath>
#include <unordered_set>

namespace qgrid::eval {
namespace {
constexpr int kM = 397;
constexpr uint32_t kMatrixA = 0x9908b0dfU;
constexpr uint32_t kUpper = 0x80000000U;
constexpr uint32_t kLower = 0x7fffffffU;
}  // namespace

PyRandom::PyRandom(uint64_t seed) {
  // CPython: the absolute value of the int as 32-bit words, least
  // significant first, without high zero words (0 gives one zero word).
  std::vector<uint32_t> key;
  for (uint64_t s = seed; s != 0; s >>= 32)
    key.push_back(static_cast<uint32_t>(s & 0xffffffffU));
  if (key.empty()) key.push_back(0);

  // init_genrand(19650218)
  mt_[0] = 19650218U;
  for (int i = 1; i < kN; ++i)
    mt_[i] = 1812433253U * (mt_[i - 1] ^ (mt_[i - 1] >> 30)) +
             static_cast<uint32_t>(i);
  // init_by_array(key)
  int i = 1;
  size_t j = 0;
  for (int k = std::max<int>(kN, static_cast<int>(key.size())); k > 0; --k) {
    mt_[i] = (mt_[i] ^ ((mt_[i - 1] ^ (mt_[i - 1] >> 30)) * 1664525U)) +
             key[j] + static_cast<uint32_t>(j);
    ++i;
    ++j;
    if (i >= kN) {
      mt_[0] = mt_[kN - 1];
      i = 1;
    }
    if (j >= key.size()) j = 0;
  }
  for (int k = kN - 1; k > 0; --k) {
    mt_[i] = (mt_[i] ^ ((mt_[i - 1] ^ (mt_[i - 1] >> 30)) * 1566083941U)) -
             static_cast<uint32_t>(i);
    ++i;
    if (i >= kN) {
      mt_[0] = mt_[kN - 1];
      i = 1;
    }
  }
  mt_[0] = 0x80000000U;
  index_ = kN;
}

void PyRandom::Twist() {
  for (int k = 0; k < kN; ++k) {
    const uint32_t y = (mt_[k] & kUpper) | (mt_[(k + 1) % kN] & kLower);
    mt_[k] = mt_[(k + kM) % kN] ^ (y >> 1) ^ ((y & 1U) ? kMatrixA : 0U);
  }
  index_ = 0;
}

uint32_t PyRandom::Next32() {
  if (index_ >= kN) Twist();
  uint32_t y = mt_[index_++];
  y ^= y >> 11;
  y ^= (y << 7) & 0x9d2c5680U;
  y ^= (y << 15) & 0xefc60000U;
  y ^= y >> 18;
  return y;
}

uint32_t PyRandom::GetRandBits(int k) { return Next32() >> (32 - k); }

uint32_t PyRandom::RandBelow(uint32_t n) {
  int bits = 0;
  for (uint32_t v = n; v != 0; v >>= 1) ++bits;
  uint32_t r = GetRandBits(bits);
  while (r >= n) r = GetRandBits(bits);
  return r;
}

std::vector<int64_t> PyRandom::Sample(int64_t n, int64_t k) {
  std::vector<int64_t> out;
  if (k <= 0 || n <= 0) return out;
  if (k > n) k = n;
  out.reserve(k);
  // CPython: a list-copy pool when n is at most the size a set of k picks
  // would take (21 + 4^ceil(log4(3k)) for k > 5), else a rejection set.
  int64_t setsize = 21;
  if (k > 5)
    setsize += static_cast<int64_t>(std::pow(
        4.0, std::ceil(std::log(static_cast<double>(k) * 3) / std::log(4.0))));
  if (n <= setsize) {
    std::vector<int64_t> pool(n);
    for (int64_t i = 0; i < n; ++i) pool[i] = i;
    for (int64_t i = 0; i < k; ++i) {
      const int64_t j = RandBelow(static_cast<uint32_t>(n - i));
      out.push_back(pool[j]);
      pool[j] = pool[n - i - 1];
    }
  } else {
    std::unordered_set<int64_t> selected;
    for (int64_t i = 0; i < k; ++i) {
      int64_t j = RandBelow(static_cast<uint32_t>(n));
      while (selected.count(j)) j = RandBelow(static_cast<uint32_t>(n));
      selected.insert(j);
      out.push_back(j);
    }
  }
  return out;
}

}  // namespace qgrid::eval
