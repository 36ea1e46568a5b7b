#include "common/signal_watcher.h"

#include <errno.h>
#include <signal.h>
#include <unistd.h>

namespace qgrid {
namespace {

int g_signal_pipe[2] = {-1, -1};

extern "C" void QgridOnSignal(int sig) {
  unsigned char b = static_cast<unsigned char>(sig);
  ssize_t n = write(g_signal_pipe[1], &b, 1);
  (void)n;
}

}  // namespace

std::thread SignalWatcher(std::function<bool(int)> on_signal) {
  if (g_signal_pipe[0] < 0 && pipe(g_signal_pipe) != 0) return std::thread();
  struct sigaction sa = {};
  sa.sa_handler = QgridOnSignal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
  return std::thread([on_signal] {
    for (int n = 1;;) {
      unsigned char b = 0;
      ssize_t r = read(g_signal_pipe[0], &b, 1);
      if (r < 0 && errno == EINTR) continue;
      if (r <= 0 || b == 0) return;  // 0: StopWatcher
      if (!on_signal(n++)) return;
    }
  });
}

void StopWatcher(std::thread& t) {
  if (!t.joinable()) return;
  unsigned char zero = 0;
  ssize_t n = write(g_signal_pipe[1], &zero, 1);
  (void)n;
  t.join();
}

}  // namespace qgrid
