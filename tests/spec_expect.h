// The reproduction specs under specs/ and their machine-readable count
// line, shared by tests/coordinator/paper_specs_test.cc (the library's
// expansion) and tests/cli/small_specs_test.cc (what `qgrid submit
// --dry-run` prints):
//   # expect: grid_cells=N jobs=N quantizations=N evaluations=N
#ifndef QGRID_TESTS_SPEC_EXPECT_H_
#define QGRID_TESTS_SPEC_EXPECT_H_

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "tests/test_util.h"

namespace qgrid::testing {

namespace fs = std::filesystem;

inline std::string ReadAll(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Every sweep spec under specs/ (the carved task files under tasks/ are
// task configs, not sweeps), sorted.
inline std::vector<fs::path> SpecFiles() {
  std::vector<fs::path> out;
  for (const char* dir : {"specs/paper", "specs/small"}) {
    fs::path d = fs::path(SourceDir()) / dir;
    for (const auto& e : fs::directory_iterator(d)) {
      if (e.path().extension() == ".yaml") out.push_back(e.path());
    }
  }
  std::sort(out.begin(), out.end());
  return out;
}

// The `# expect:` line's counts; an error names the file and line.
inline absl::StatusOr<std::map<std::string, int64_t>> ExpectedCounts(
    const std::string& text, const std::string& file) {
  static const std::regex kLine(R"(^# expect:(( [a-z_]+=[0-9]+)+)\s*$)");
  static const std::regex kPair(R"(([a-z_]+)=([0-9]+))");
  std::map<std::string, int64_t> out;
  std::istringstream in(text);
  std::string line;
  int line_no = 0, found = 0;
  while (std::getline(in, line)) {
    ++line_no;
    if (line.rfind("# expect:", 0) != 0) continue;
    std::smatch m;
    if (!std::regex_match(line, m, kLine)) {
      return absl::InvalidArgumentError(
          file + ":" + std::to_string(line_no) +
          ": expected '# expect: grid_cells=N jobs=N quantizations=N "
          "evaluations=N'");
    }
    ++found;
    std::string pairs = m[1];
    for (std::sregex_iterator it(pairs.begin(), pairs.end(), kPair), end;
         it != end; ++it) {
      out[(*it)[1]] = std::stoll((*it)[2]);
    }
  }
  if (found != 1) {
    return absl::InvalidArgumentError(
        file + ": needs exactly one '# expect:' line, has " +
        std::to_string(found));
  }
  for (const char* k : {"grid_cells", "jobs", "quantizations", "evaluations"}) {
    if (!out.count(k)) {
      return absl::InvalidArgumentError(file + ": '# expect:' lacks " + k);
    }
  }
  return out;
}

}  // namespace qgrid::testing

#endif  // QGRID_TESTS_SPEC_EXPECT_H_
