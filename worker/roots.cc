#include "worker/roots.h"

#include <filesystem>

#include "absl/strings/str_join.h"

namespace qgrid::worker {
namespace fs = std::filesystem;

namespace {
bool Under(const fs::path& p, const fs::path& root) {
  auto pi = p.begin(), ri = root.begin();
  for (; ri != root.end(); ++ri, ++pi) {
    if (ri->empty()) continue;  // trailing slash
    if (pi == p.end() || *pi != *ri) return false;
  }
  return true;
}
}  // namespace

absl::StatusOr<std::string> ResolveUnderRoots(
    const std::string& path, const std::vector<std::string>& roots,
    const std::string& what) {
  if (roots.empty()) {
    return absl::PermissionDeniedError(
        what + " '" + path + "': this worker was given no root to read from");
  }
  std::error_code ec;
  std::vector<fs::path> canon_roots;
  for (const auto& r : roots) {
    fs::path c = fs::weakly_canonical(fs::absolute(r, ec), ec);
    if (!ec) canon_roots.push_back(c);
  }
  std::vector<fs::path> candidates;
  fs::path p(path);
  if (p.is_absolute()) {
    candidates.push_back(p);
  } else {
    for (const auto& r : canon_roots) candidates.push_back(r / p);
  }
  bool outside = false;
  for (const auto& c : candidates) {
    fs::path canon = fs::weakly_canonical(c, ec);
    if (ec) continue;
    bool ok = false;
    for (const auto& r : canon_roots) ok = ok || Under(canon, r);
    if (!ok) {
      outside = true;
      continue;
    }
    if (fs::exists(canon, ec)) return canon.string();
  }
  if (outside) {
    return absl::PermissionDeniedError(what + " '" + path +
                                       "' is outside the allowed roots (" +
                                       absl::StrJoin(roots, ", ") + ")");
  }
  return absl::NotFoundError(what + " '" + path + "' not found under " +
                             absl::StrJoin(roots, ", "));
}

}  // namespace qgrid::worker
