// Starting and stopping real `qgrid` processes for the integration tests.
// Every process started here is killed (by pid) when its Proc is destroyed,
// so a failing test leaves nothing behind. Traffic stays on 127.0.0.1.
#ifndef QGRID_TESTS_INTEGRATION_PROC_UTIL_H_
#define QGRID_TESTS_INTEGRATION_PROC_UTIL_H_

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <regex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "tests/test_util.h"

namespace qgrid::testing {

inline std::string Slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

class Proc {
 public:
  // Starts `qgrid args...` with stdout/stderr to files under `dir`.
  Proc(const std::vector<std::string>& args, const std::string& dir,
       const std::string& tag)
      : out_(dir + "/" + tag + ".out"), err_(dir + "/" + tag + ".err") {
    pid_ = fork();
    if (pid_ == 0) {
      int o = open(out_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      int e = open(err_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      dup2(o, 1);
      dup2(e, 2);
      std::vector<std::string> full = {QgridBinary()};
      full.insert(full.end(), args.begin(), args.end());
      std::vector<char*> argv;
      for (auto& a : full) argv.push_back(a.data());
      argv.push_back(nullptr);
      execv(argv[0], argv.data());
      _exit(127);
    }
  }
  ~Proc() { Kill(SIGKILL); }
  Proc(const Proc&) = delete;
  Proc& operator=(const Proc&) = delete;

  pid_t pid() const { return pid_; }
  void Kill(int sig) {
    if (pid_ > 0 && !exited_) {
      kill(pid_, sig);
      if (sig == SIGKILL) Wait(5000);
    }
  }
  // Exit code, or -1 on timeout (the process is then killed).
  int Wait(int timeout_ms) {
    if (exited_) return code_;
    auto end = std::chrono::steady_clock::now() +
               std::chrono::milliseconds(timeout_ms);
    while (true) {
      int st = 0;
      pid_t r = waitpid(pid_, &st, WNOHANG);
      if (r == pid_) {
        exited_ = true;
        code_ = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
        return code_;
      }
      if (std::chrono::steady_clock::now() > end) {
        kill(pid_, SIGKILL);
        waitpid(pid_, &st, 0);
        exited_ = true;
        code_ = -1;
        return -1;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  }
  std::string out() const { return Slurp(out_); }
  std::string err() const { return Slurp(err_); }

 private:
  std::string out_, err_;
  pid_t pid_ = -1;
  bool exited_ = false;
  int code_ = -1;
};

// Runs `qgrid args...` to completion (bounded); returns its exit code and
// fills stdout/stderr.
inline int RunQgrid(const std::vector<std::string>& args,
                    const std::string& dir, std::string* out,
                    std::string* err = nullptr, int timeout_ms = 30000) {
  static int n = 0;
  Proc p(args, dir, "cmd" + std::to_string(n++));
  int code = p.Wait(timeout_ms);
  if (out) *out = p.out();
  if (err) *err = p.err();
  return code;
}

// Waits (bounded) for "listening on HOST:PORT" in the coordinator's stdout.
inline std::string WaitForAddress(const Proc& p, int timeout_ms = 15000) {
  auto end =
      std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  std::regex re("listening on (127\\.0\\.0\\.1:[0-9]+)");
  while (std::chrono::steady_clock::now() < end) {
    std::smatch m;
    std::string o = p.out();
    if (std::regex_search(o, m, re)) return m[1];
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return "";
}

}  // namespace qgrid::testing

#endif  // QGRID_TESTS_INTEGRATION_PROC_UTIL_H_
