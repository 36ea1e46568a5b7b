#include "common/file_util.h"

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <system_error>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace qgrid {
namespace {

absl::StatusOr<std::string> Read(const std::string& path, size_t max_bytes,
                                 bool truncate) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": is a directory, not a file"));
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return absl::NotFoundError(
        absl::StrCat(path, ": cannot open (", std::strerror(errno), ")"));
  }
  std::ostringstream ss;
  ss << in.rdbuf();
  std::string s = std::move(ss).str();
  if (max_bytes > 0 && s.size() > max_bytes) {
    if (truncate) {
      s.resize(max_bytes);
    } else {
      return absl::InvalidArgumentError(
          absl::StrCat(path, ": larger than ", max_bytes, " bytes"));
    }
  }
  return s;
}

}  // namespace

absl::StatusOr<std::string> ReadFileToString(const std::string& path,
                                             size_t max_bytes) {
  return Read(path, max_bytes, /*truncate=*/false);
}

absl::StatusOr<std::string> ReadFilePrefix(const std::string& path,
                                           size_t max_bytes) {
  return Read(path, max_bytes, /*truncate=*/true);
}

}  // namespace qgrid
