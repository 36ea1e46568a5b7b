// Where the running qgrid is installed, and so where its built-in files
// (task YAMLs, the tiny model, the demo sweep) are.
//
// `cmake --install BUILD --prefix P` lays out
//   P/bin/qgrid, P/bin/qgrid-torch
//   P/share/qgrid/tasks/*.yaml    every built-in task folder, flattened
//   P/share/qgrid/assets/         qgrid-tiny/, demo-sweep.yaml
// so an executable finds its files at <its dir>/../share/qgrid/<kind>
// (/proc/self/exe, symlinks resolved). A binary run from the build tree has
// no such folder and uses the source-tree path compiled into it.
//
// The search order for one kind of file (ResolveDataSearchPath): the
// environment override when set and non-empty, else the installed folder
// when it exists, else the compiled-in path. Every place considered is
// recorded so that a "not found" error can list them. Torch-free.
#ifndef QGRID_COMMON_INSTALL_PATHS_H_
#define QGRID_COMMON_INSTALL_PATHS_H_

#include <string>
#include <string_view>
#include <vector>

namespace qgrid {

// The layout under the prefix; the install rules (CMakeLists.txt) match.
inline constexpr std::string_view kInstallShareDir = "share/qgrid";

// The running executable's absolute path (/proc/self/exe); "" if unknown.
std::string SelfExecutablePath();

// <directory of exe_path>/../share/qgrid/<kind>, lexically normalised, when
// that is a directory; else "". An empty exe_path means the running
// executable (SelfExecutablePath()).
std::string InstalledDataDir(std::string_view kind,
                             std::string_view exe_path = "");

// A search path for one kind of built-in file and how it was chosen.
struct DataSearchPath {
  std::vector<std::string> dirs;   // in search order
  std::string origin;              // which source `dirs` came from
  std::vector<std::string> tried;  // every place considered, with why
                                   // it was (not) used, in order
};

// `env_name`'s value split at ':' when it is set and non-empty (an empty
// env_name means no override); else InstalledDataDir(kind, exe_path) when
// it exists; else `compiled_in` split at ':'.
DataSearchPath ResolveDataSearchPath(std::string_view env_name,
                                     std::string_view kind,
                                     std::string_view compiled_in,
                                     std::string_view exe_path = "");

// "A; B; C" of `p.tried`, for error messages.
std::string DescribeTried(const DataSearchPath& p);

}  // namespace qgrid

#endif  // QGRID_COMMON_INSTALL_PATHS_H_
