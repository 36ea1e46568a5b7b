// Start-up cost of the `qgrid` front end vs the libtorch-linked executable
// (issue "One room per concern", item 5).
//
// `qgrid` links no libtorch; `qgrid-torch` (the commands that load models)
// does, as every `qgrid` command did before the split. Measures, as median
// and max of N runs each:
//   - `qgrid --help` wall time; baseline: `qgrid-torch --help`, the same
//     help from the libtorch-linked binary (what `qgrid --help` cost before);
//   - `qgrid status` against a live local coordinator (an RPC round trip
//     included); baseline: `qgrid-torch --help` again, since every command
//     paid at least the libtorch load before;
//   - the resident memory (VmRSS) of an idle `qgrid coordinator` after
//     start-up; baseline: an idle libtorch-linked process (`qgrid-torch
//     worker` waiting for a coordinator that never answers).
// Targets: --help and status <= 50 ms, idle coordinator RSS <= 50 MB.
// Figures recorded in the issue before the split (2-core VM): `qgrid --help`
// 0.5-0.7 s and 170 MB RSS, `qgrid status` 0.86 s, idle coordinator
// 215-245 MB.
//
// Usage: bench_cli_startup [N]   (default 20 runs per figure)
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

extern char** environ;

namespace {

using Clock = std::chrono::steady_clock;

std::string Bin(const std::string& name) {
  return std::string(QGRID_BINARY_DIR) + "/cli/" + name;
}

// Spawns argv with stdout/stderr to `out_path` (or /dev/null); returns pid.
pid_t Spawn(const std::vector<std::string>& argv,
            const std::string& out_path = "/dev/null") {
  std::vector<char*> a;
  for (const auto& s : argv) a.push_back(const_cast<char*>(s.c_str()));
  a.push_back(nullptr);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 1, out_path.c_str(),
                                   O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_adddup2(&fa, 1, 2);
  pid_t pid = -1;
  if (posix_spawn(&pid, a[0], &fa, nullptr, a.data(), environ) != 0) pid = -1;
  posix_spawn_file_actions_destroy(&fa);
  return pid;
}

// Wall milliseconds of one run to completion; -1 on failure.
double TimeRun(const std::vector<std::string>& argv, int* exit_code) {
  auto t0 = Clock::now();
  pid_t pid = Spawn(argv);
  if (pid < 0) return -1;
  int st = 0;
  waitpid(pid, &st, 0);
  *exit_code = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  return std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
}

struct Figure {
  double median = 0, max = 0;
  int exit_code = 0;
};

Figure Measure(const std::vector<std::string>& argv, int n) {
  std::vector<double> v;
  Figure f;
  TimeRun(argv, &f.exit_code);  // warm the page cache
  for (int i = 0; i < n; ++i) v.push_back(TimeRun(argv, &f.exit_code));
  std::sort(v.begin(), v.end());
  f.median = v[v.size() / 2];
  f.max = v.back();
  return f;
}

// VmRSS of a process in MB (0 when unreadable).
double RssMb(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::atof(line.c_str() + 6) / 1024;
  }
  return 0;
}

// Waits for "listening on ADDR" in the log; "" after 20 s.
std::string WaitForAddress(const std::string& log) {
  for (int i = 0; i < 400; ++i) {
    std::ifstream in(log);
    std::string line;
    while (std::getline(in, line)) {
      // stdout's "qgrid coordinator listening on HOST:PORT" (the log line
      // before it names the requested address, port 0).
      const std::string tag = "qgrid coordinator listening on ";
      auto p = line.find(tag);
      if (p != std::string::npos) return line.substr(p + tag.size());
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return "";
}

void Stop(pid_t pid, int sig = SIGTERM) {
  kill(pid, sig);
  int st;
  waitpid(pid, &st, 0);
}

}  // namespace

int main(int argc, char** argv) {
  setvbuf(stdout, nullptr, _IOLBF, 0);
  int n = argc > 1 ? std::atoi(argv[1]) : 20;
  std::string dir = std::filesystem::temp_directory_path() /
                    ("qgrid-startup-" + std::to_string(getpid()));
  std::filesystem::create_directories(dir);
  std::printf("bench_cli_startup: %d runs per figure (median / max)\n", n);

  Figure help = Measure({Bin("qgrid"), "--help"}, n);
  Figure torch_help = Measure({Bin("qgrid-torch"), "--help"}, n);
  std::printf("qgrid --help         %7.1f / %7.1f ms  (target <= 50 ms)\n",
              help.median, help.max);
  std::printf(
      "qgrid-torch --help   %7.1f / %7.1f ms  (baseline: libtorch "
      "linked, as every command was)\n",
      torch_help.median, torch_help.max);

  std::string log = dir + "/coordinator.log";
  pid_t coord = Spawn({Bin("qgrid"), "coordinator", "--db", dir + "/q.db",
                       "--listen", "127.0.0.1:0"},
                      log);
  std::string addr = WaitForAddress(log);
  if (addr.empty()) {
    std::fprintf(stderr, "coordinator did not start; log %s\n", log.c_str());
    return 1;
  }
  std::this_thread::sleep_for(std::chrono::seconds(1));
  double coord_rss = RssMb(coord);
  Figure status = Measure({Bin("qgrid"), "status", "--coordinator", addr}, n);
  std::printf(
      "qgrid status         %7.1f / %7.1f ms  (target <= 50 ms; exit "
      "%d, live coordinator at %s)\n",
      status.median, status.max, status.exit_code, addr.c_str());
  std::printf("idle coordinator RSS %7.1f MB            (target <= 50 MB)\n",
              coord_rss);
  Stop(coord);

  // Baseline: an idle libtorch-linked process (a worker retrying a
  // coordinator that is not there).
  pid_t w = Spawn({Bin("qgrid-torch"), "worker", "--coordinator", "127.0.0.1:1",
                   "--name", "bench"});
  std::this_thread::sleep_for(std::chrono::seconds(3));
  std::printf(
      "idle qgrid-torch RSS %7.1f MB            (baseline: a "
      "libtorch-linked process)\n",
      RssMb(w));
  // SIGKILL: a worker still retrying its registration does not drain on
  // SIGTERM (it waits for a coordinator to finish its current job with).
  Stop(w, SIGKILL);
  std::filesystem::remove_all(dir);
  bool ok = help.median <= 50 && status.median <= 50 && coord_rss <= 50 &&
            status.exit_code == 0;
  std::printf("targets %s\n", ok ? "met" : "NOT met");
  return 0;
}
