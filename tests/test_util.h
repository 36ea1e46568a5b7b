// Helpers shared by the test suites.
#ifndef QGRID_TESTS_TEST_UTIL_H_
#define QGRID_TESTS_TEST_UTIL_H_

#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>

namespace qgrid::testing {

// The repository root (compile-time).
inline std::string SourceDir() { return QGRID_SOURCE_DIR; }
inline std::string BinaryDir() { return QGRID_BINARY_DIR; }
// The built `qgrid` executable.
inline std::string QgridBinary() { return BinaryDir() + "/cli/qgrid"; }

// Exit code and output of one `qgrid` run.
struct QgridResult {
  int code = -1;    // -1 when it could not start or did not exit normally
  std::string out;  // stdout, and stderr too when asked for
};

// Runs shell text `cmd`; stderr is merged into `out` when `with_stderr`,
// else discarded.
inline QgridResult RunShell(const std::string& cmd, bool with_stderr) {
  QgridResult r;
  const std::string full = cmd + (with_stderr ? " 2>&1" : " 2>/dev/null");
  FILE* p = popen(full.c_str(), "r");
  if (p == nullptr) return r;
  std::array<char, 4096> buf;
  size_t n;
  while ((n = fread(buf.data(), 1, buf.size(), p)) > 0)
    r.out.append(buf.data(), n);
  int st = pclose(p);
  r.code = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  return r;
}

// Runs `qgrid ARGS` through the shell (ARGS is shell text); stderr is merged
// into `out` when `with_stderr`, else discarded. `env` (shell text such as
// "A=1 B=2") is set for that one run.
inline QgridResult RunQgrid(const std::string& args, bool with_stderr = false,
                            const std::string& env = "") {
  return RunShell(
      (env.empty() ? "" : "env " + env + " ") + QgridBinary() + " " + args,
      with_stderr);
}

// ../shared beside the repository (or $QGRID_SHARED_DIR); "" when absent.
inline std::string SharedDir() {
  const char* env = std::getenv("QGRID_SHARED_DIR");
  std::string dir = env ? env : SourceDir() + "/../shared";
  return std::filesystem::is_directory(dir) ? dir : "";
}

// A path under ../shared, or "" when it (or ../shared) is absent.
inline std::string SharedPath(const std::string& rel) {
  std::string dir = SharedDir();
  if (dir.empty()) return "";
  std::string p = dir + "/" + rel;
  return std::filesystem::exists(p) ? p : "";
}

// A fresh empty temporary directory, removed at process exit is not
// guaranteed; tests clean up what they care about.
inline std::string MakeTempDir(const std::string& tag) {
  std::string tmpl =
      (std::filesystem::temp_directory_path() / ("qgrid-" + tag + "-XXXXXX"))
          .string();
  char* d = mkdtemp(tmpl.data());
  return d ? std::string(d) : std::string();
}

}  // namespace qgrid::testing

// Skips the test (with the reason) when ../shared/<rel> is missing.
#define QG_REQUIRE_SHARED(var, rel)                                    \
  std::string var = ::qgrid::testing::SharedPath(rel);                 \
  if (var.empty())                                                     \
  GTEST_SKIP() << "needs ../shared/" << (rel)                          \
               << " (real public data/models beside the repository); " \
                  "absent here"

#endif  // QGRID_TESTS_TEST_UTIL_H_
