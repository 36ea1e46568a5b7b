// Where the built-in demo (`qgrid run` without a spec) finds its inputs.
//
// DemoDataDir() names the folder the demo corpora live in (built by
// `qgrid data build-demo`, demo/corpus.h); EnsureDemoData() builds them
// there on first use from the installed Debian text packages (a few
// seconds). DemoSweepSpecPath() is the built-in sweep spec, a YAML file
// committed under assets/ next to the demo model (assets/qgrid-tiny).
//
// Thread-safety: DemoDataDir() and DemoSweepSpecPath() only read the
// environment. EnsureDemoData() writes into `dir`; do not run two of them
// on the same folder at once.
#ifndef QGRID_DEMO_DATA_H_
#define QGRID_DEMO_DATA_H_

#include <string>
#include <vector>

#include "absl/status/status.h"

namespace qgrid::demo {

// $QGRID_DEMO_DATA, else $XDG_CACHE_HOME/qgrid/demo-data, else
// ~/.cache/qgrid/demo-data.
std::string DemoDataDir();

// Builds the demo data into `dir` unless `dir`/manifest.json exists
// (announcing it on stderr). The error names deploy/install-deps.sh when
// the source packages are missing.
absl::Status EnsureDemoData(const std::string& dir);

// $QGRID_DEMO_SPEC, else <assets>/demo-sweep.yaml, where <assets> is
// share/qgrid/assets of an installed qgrid, else the source tree's assets/
// (compiled in; common/install_paths.h).
std::string DemoSweepSpecPath();

// Readies the built-in demo run: an empty `model_roots` becomes <assets>
// (above; where assets/qgrid-tiny is), an empty
// `data_dirs` DemoDataDir(); checks that the model is there (the error says
// what to pass instead) and EnsureDemoData() on the first data dir.
absl::Status PrepareDemoRun(std::vector<std::string>* model_roots,
                            std::vector<std::string>* data_dirs);

}  // namespace qgrid::demo

#endif  // QGRID_DEMO_DATA_H_
