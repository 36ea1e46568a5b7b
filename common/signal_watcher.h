// SIGINT/SIGTERM handling outside signal context, for long-running commands
// (a coordinator, a worker, `qgrid run`).
//
// SignalWatcher installs a process-wide handler that writes the signal to a
// pipe and returns a thread that reads it and calls `on_signal(count)`
// (count from 1) on that thread, where it may lock and log. `on_signal`
// returns false to stop watching. StopWatcher ends and joins the thread.
// Call SignalWatcher before other threads start where possible; one
// watcher at a time per process.
#ifndef QGRID_COMMON_SIGNAL_WATCHER_H_
#define QGRID_COMMON_SIGNAL_WATCHER_H_

#include <functional>
#include <thread>

namespace qgrid {

std::thread SignalWatcher(std::function<bool(int)> on_signal);
void StopWatcher(std::thread& t);

}  // namespace qgrid

#endif  // QGRID_COMMON_SIGNAL_WATCHER_H_
