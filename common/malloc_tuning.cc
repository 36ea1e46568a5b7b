#include "common/malloc_tuning.h"

#include <climits>
#include <cstdlib>
#include <cstring>

#if defined(__GLIBC__)
#include <malloc.h>
#endif

namespace qgrid {

bool TuneMallocForTensors() {
  const char* opt_out = std::getenv("QGRID_SYSTEM_MALLOC");
  if (opt_out != nullptr && opt_out[0] != '\0' &&
      std::strcmp(opt_out, "0") != 0) {
    return false;
  }
#if defined(__GLIBC__)
  // No chunk is served by its own mmap: large blocks come from the heap
  // (the main arena grows with brk; other arenas fall back to it).
  if (mallopt(M_MMAP_MAX, 0) != 1) return false;
  // Give the top of the heap back only when more than 2 GiB (mallopt's
  // int maximum) is free there...
  if (mallopt(M_TRIM_THRESHOLD, INT_MAX) != 1) return false;
  // ...and grow it in 64 MiB steps rather than one brk per large tensor.
  if (mallopt(M_TOP_PAD, 64 << 20) != 1) return false;
  return true;
#else
  return false;
#endif
}

}  // namespace qgrid
