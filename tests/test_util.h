// Helpers shared by the test suites.
#ifndef QGRID_TESTS_TEST_UTIL_H_
#define QGRID_TESTS_TEST_UTIL_H_

#include <cstdlib>
#include <filesystem>
#include <string>

namespace qgrid::testing {

// The repository root (compile-time).
inline std::string SourceDir() { return QGRID_SOURCE_DIR; }
inline std::string BinaryDir() { return QGRID_BINARY_DIR; }
// The built `qgrid` executable.
inline std::string QgridBinary() { return BinaryDir() + "/cli/qgrid"; }

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
#define QG_REQUIRE_SHARED(var, rel)                                        \
  std::string var = ::qgrid::testing::SharedPath(rel);                     \
  if (var.empty())                                                         \
  GTEST_SKIP() << "needs ../shared/" << (rel)                              \
               << " (real public data/models beside the repository); "    \
                  "absent here"

#endif  // QGRID_TESTS_TEST_UTIL_H_
