// LruCache (worker/lru_cache.h).
#include "worker/lru_cache.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

namespace qgrid::worker {
namespace {

TEST(LruCache, EvictsTheLeastRecentlyUsed) {
  LruCache<int> c(2);
  c.Put("a", std::make_shared<int>(1));
  c.Put("b", std::make_shared<int>(2));
  ASSERT_NE(c.Get("a"), nullptr);  // a is now most recent
  c.Put("c", std::make_shared<int>(3));
  EXPECT_EQ(c.Get("b"), nullptr);
  EXPECT_EQ(*c.Get("a"), 1);
  EXPECT_EQ(c.Keys(), (std::vector<std::string>{"a", "c"}));
  // An evicted value still held by a user stays alive.
  auto held = c.Get("c");
  c.Put("d", std::make_shared<int>(4));
  c.Put("e", std::make_shared<int>(5));
  EXPECT_EQ(*held, 3);
}

}  // namespace
}  // namespace qgrid::worker
