#include "common/logging.h"

#include <glog/logging.h>

#include <mutex>

namespace qgrid {

void InitLogging(const char* argv0, bool verbose) {
  static std::once_flag once;
  std::call_once(once, [&] {
    FLAGS_logtostderr = true;
    FLAGS_minloglevel = 0;
    if (verbose) FLAGS_v = 1;
    google::InitGoogleLogging(argv0);
  });
}

}  // namespace qgrid
