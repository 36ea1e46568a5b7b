#include "common/install_paths.h"

#include <unistd.h>

#include <climits>
#include <cstdlib>
#include <filesystem>
#include <system_error>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"

namespace qgrid {
namespace {

namespace fs = std::filesystem;

std::vector<std::string> SplitPath(std::string_view path) {
  std::vector<std::string> out;
  for (absl::string_view d : absl::StrSplit(
           absl::string_view(path.data(), path.size()), ':', absl::SkipEmpty()))
    out.emplace_back(d);
  return out;
}

// The candidate installed folder for `kind`, whether or not it exists.
std::string InstalledCandidate(std::string_view kind,
                               std::string_view exe_path) {
  std::string exe =
      exe_path.empty() ? SelfExecutablePath() : std::string(exe_path);
  if (exe.empty()) return "";
  fs::path p = fs::path(exe).parent_path() / ".." /
               std::string(kInstallShareDir) / std::string(kind);
  return p.lexically_normal().string();
}

}  // namespace

std::string SelfExecutablePath() {
  char buf[PATH_MAX] = {0};
  ssize_t n = readlink("/proc/self/exe", buf, sizeof(buf) - 1);
  return n > 0 ? std::string(buf, n) : std::string();
}

std::string InstalledDataDir(std::string_view kind, std::string_view exe_path) {
  std::string dir = InstalledCandidate(kind, exe_path);
  std::error_code ec;
  return !dir.empty() && fs::is_directory(dir, ec) ? dir : "";
}

DataSearchPath ResolveDataSearchPath(std::string_view env_name,
                                     std::string_view kind,
                                     std::string_view compiled_in,
                                     std::string_view exe_path) {
  DataSearchPath p;
  if (!env_name.empty()) {
    std::string name(env_name);
    const char* v = std::getenv(name.c_str());
    if (v && *v) {
      p.dirs = SplitPath(v);
      p.origin = "$" + name;
      p.tried.push_back(absl::StrCat("$", name, "=", v));
      return p;
    }
    p.tried.push_back(absl::StrCat("$", name, " (unset)"));
  }
  std::string cand = InstalledCandidate(kind, exe_path);
  std::error_code ec;
  if (!cand.empty() && fs::is_directory(cand, ec)) {
    p.dirs = {cand};
    p.origin = "installed tree";
    p.tried.push_back(cand + " (installed tree)");
    return p;
  }
  p.tried.push_back(cand.empty()
                        ? std::string("installed tree (executable unknown)")
                        : cand + " (installed tree, absent)");
  p.dirs = SplitPath(compiled_in);
  p.origin = "source tree";
  p.tried.push_back(std::string(compiled_in) + " (compiled-in source tree)");
  return p;
}

std::string DescribeTried(const DataSearchPath& p) {
  return absl::StrJoin(p.tried, "; ");
}

}  // namespace qgrid
