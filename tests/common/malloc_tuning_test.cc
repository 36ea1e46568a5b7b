#include "common/malloc_tuning.h"

#include <malloc.h>

#include <cstdlib>
#include <cstring>

#include "gtest/gtest.h"

namespace qgrid {
namespace {

#if defined(__GLIBC__)
// tests/malloc_init.cc applied the settings before main, as cli/main.cc does.
TEST(MallocTuningTest, LargeBlocksComeFromTheHeapNotFromMmap) {
  const size_t kBytes = size_t{96} << 20;  // above glibc's 32 MiB mmap cap
  const size_t mmapped_before = mallinfo2().hblkhd;
  void* p = std::malloc(kBytes);
  ASSERT_NE(p, nullptr);
  std::memset(p, 1, kBytes);
  EXPECT_EQ(mallinfo2().hblkhd, mmapped_before)
      << "a 96 MiB block was served by mmap: freeing it would unmap it and "
         "the next tensor of that size would page-fault again";
  std::free(p);
  // Freed memory stays in the process for the next large tensor.
  EXPECT_GE(mallinfo2().fordblks, kBytes);
}
#endif

TEST(MallocTuningTest, EnvironmentOptOutLeavesTheAllocatorAlone) {
  ASSERT_EQ(setenv("QGRID_SYSTEM_MALLOC", "1", 1), 0);
  EXPECT_FALSE(TuneMallocForTensors());
  ASSERT_EQ(setenv("QGRID_SYSTEM_MALLOC", "0", 1), 0);
#if defined(__GLIBC__)
  EXPECT_TRUE(TuneMallocForTensors());
#endif
  unsetenv("QGRID_SYSTEM_MALLOC");
}

}  // namespace
}  // namespace qgrid
