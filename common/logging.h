// Logging setup shared by every qgrid executable (glog to stderr).
#ifndef QGRID_COMMON_LOGGING_H_
#define QGRID_COMMON_LOGGING_H_

namespace qgrid {

// Initialises glog once: logs go to stderr, INFO and above unless
// `verbose` (then VLOG(1) too). Safe to call more than once.
void InitLogging(const char* argv0, bool verbose = false);

}  // namespace qgrid

#endif  // QGRID_COMMON_LOGGING_H_
