#include "demo/data.h"

#include <unistd.h>

#include <cstdlib>
#include <iostream>

#include "common/install_paths.h"
#include "demo/corpus.h"

#ifndef QGRID_SOURCE_DIR
#define QGRID_SOURCE_DIR "."
#endif

namespace qgrid::demo {
namespace {

// assets/ of an installed qgrid (<exe dir>/../share/qgrid/assets), else the
// source tree's (common/install_paths.h).
std::string AssetsDir() {
  return ResolveDataSearchPath("", "assets", QGRID_SOURCE_DIR "/assets")
      .dirs.front();
}

}  // namespace

std::string DemoDataDir() {
  if (const char* e = std::getenv("QGRID_DEMO_DATA"); e && *e) return e;
  if (const char* x = std::getenv("XDG_CACHE_HOME"); x && *x)
    return std::string(x) + "/qgrid/demo-data";
  const char* home = std::getenv("HOME");
  return std::string(home && *home ? home : "/tmp") + "/.cache/qgrid/demo-data";
}

absl::Status EnsureDemoData(const std::string& dir) {
  if (access((dir + "/manifest.json").c_str(), R_OK) == 0) {
    return absl::OkStatus();
  }
  std::cerr << "building the demo data from Debian's text packages into " << dir
            << " (qgrid data build-demo)...\n";
  DemoBuildOptions o;
  o.out_dir = dir;
  auto built = BuildDemoData(o);
  if (!built.ok()) {
    return absl::Status(
        built.status().code(),
        std::string(built.status().message()) +
            " (install the packages with deploy/install-deps.sh)");
  }
  return absl::OkStatus();
}

std::string DemoSweepSpecPath() {
  if (const char* e = std::getenv("QGRID_DEMO_SPEC"); e && *e) return e;
  return AssetsDir() + "/demo-sweep.yaml";
}

absl::Status PrepareDemoRun(std::vector<std::string>* model_roots,
                            std::vector<std::string>* data_dirs) {
  if (model_roots->empty()) {
    *model_roots = {AssetsDir()};
  }
  if (data_dirs->empty()) *data_dirs = {DemoDataDir()};
  std::string probe = (*model_roots)[0] + "/qgrid-tiny/config.json";
  if (access(probe.c_str(), R_OK) != 0) {
    return absl::InvalidArgumentError(
        "the built-in demo needs the model " + probe +
        " (committed in the repository under assets/; or pass --model-root, "
        "or give a SPEC.yaml)");
  }
  return EnsureDemoData((*data_dirs)[0]);
}

}  // namespace qgrid::demo
