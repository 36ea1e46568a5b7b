// Linked (as the object library qgrid_malloc_init) into every test and
// bench executable: the allocator settings of the qgrid binary
// (common/malloc_tuning.h), applied before main, so that test and bench
// figures match what users run. QGRID_SYSTEM_MALLOC=1 measures without them.
#include "common/malloc_tuning.h"

namespace {
const bool kMallocTuned = qgrid::TuneMallocForTensors();
}  // namespace
