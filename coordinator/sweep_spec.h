// Sweep specs: parsing and validation of the YAML a user submits, and the
// expansion of its axes into the grid of jobs
//
//   model x method(x its list-valued params) x calibration x test x shots
//   x seeds x repeats
//
// Validation happens before anything is stored; every error names the file,
// line and column (yaml-cpp marks), e.g.
//   sweep.yaml:7:5: methods[1]: unknown method 'gtpq' (known: fp16, rtn, ...)
//
// Method parameters are the catalogue's (quant/method_catalog.h): one name
// per knob; an alias (`damp`, `qq_bits`, ...) is accepted and the job's
// method config carries the name (`percdamp`, `spqr_stat_bits`, ...).
//
// Expansion rules (issue 6): methods that use no calibration data (fp16, rtn,
// llm_int8, fp8) collapse the calibration axis; identical cells are kept once;
// every job gets a content key = SHA-256 of its canonical config JSON and
// QgridVersion(), and a quant key = SHA-256 of (model, method config,
// calibration set and sampling seed, version) - the unit of reuse of a
// quantized model (architecture.md, decision 4). Pure functions; thread-safe.
#ifndef QGRID_COORDINATOR_SWEEP_SPEC_H_
#define QGRID_COORDINATOR_SWEEP_SPEC_H_

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"
#include "proto/qgrid.pb.h"

namespace qgrid::coordinator {

inline constexpr int64_t kDefaultMaxJobs = 10000;
inline constexpr size_t kMaxSpecBytes = 1 << 20;

// The method names qgrid knows (quant/method_catalog.h).
const std::vector<std::string>& KnownMethods();
// Whether the method calibrates on data (else the calibration axis
// collapses), as the catalogue says.
bool MethodUsesCalibration(const std::string& method);

struct NamedEntry {
  std::string name;
  nlohmann::json config;  // the entry's keys (validated), name included
  std::string domain;     // I.I.D label (calibration/test)
};

// One filter of include/exclude: a cell matches when every given key
// matches one of the listed values.
struct CellFilter {
  std::map<std::string, std::vector<std::string>> match;
};

inline constexpr int kTaskDefaultShots = -1;

struct SweepSpec {
  std::string file;  // for messages
  std::string name;
  std::string kind = "eval";  // eval | synthetic
  std::vector<NamedEntry> models;
  std::vector<nlohmann::json> methods;  // expanded variants
  std::vector<NamedEntry> calibration;
  std::vector<NamedEntry> tests;
  // Few-shot examples per prompt; kTaskDefaultShots (`default` or -1 in
  // YAML, the default) is each task's own setting, as the paper ran them
  // (BOSS's fixed demonstrations, MMLU/C-Eval 5, most others 0).
  std::vector<int> shots = {kTaskDefaultShots};
  std::vector<int64_t> seeds = {0};
  int repeats = 1;
  int priority = 0;
  int max_attempts = 3;
  std::vector<CellFilter> include, exclude;
  std::map<std::string, std::set<std::string>> pairs;  // test -> calibrations
  nlohmann::json resources = nlohmann::json::object();
  nlohmann::json synthetic = nlohmann::json::object();
};

// Parses and validates `yaml_text` (named `file` in messages).
absl::StatusOr<SweepSpec> ParseSweepSpec(const std::string& yaml_text,
                                         const std::string& file);

// One expanded cell.
struct GridJob {
  // {"job": {...what is computed...}, "labels": {...for tables...}}. Only
  // "job" is hashed into the content key, so renaming a calibration set does
  // not invalidate its results.
  nlohmann::json config;
  std::string content_key;
  std::string quant_key;
  int priority = 0;
  int max_attempts = 3;
};

struct GridSummary {
  std::map<std::string, int64_t> axis_counts;
  // The full Cartesian product of the axes (models x method variants x
  // calibration x tests x shots x seeds x repeats), before calibration
  // collapses for methods without it, `pairs`, include/exclude and merging
  // of identical cells; `jobs` is what is left after them.
  int64_t grid_cells = 0;
  int64_t jobs = 0;
  // Distinct quant keys of quantized cells (fp16 cells are not quantized).
  int64_t quantizations = 0;
  // Jobs that evaluate a model (all jobs of kind eval; 0 for synthetic).
  int64_t evaluations = 0;
  int64_t duplicates_merged = 0;
  nlohmann::json ToJson() const;
  // The wire form; `cached`: cells reused from earlier results.
  v1::SweepSummary ToProto(int64_t cached = 0) const;
};

struct ExpandedGrid {
  std::vector<GridJob> jobs;
  GridSummary summary;
};

// Expands the spec. Refuses (InvalidArgument) a grid of more than `max_jobs`
// distinct jobs.
absl::StatusOr<ExpandedGrid> ExpandGrid(const SweepSpec& spec,
                                        int64_t max_jobs = kDefaultMaxJobs);

// SHA-256 over the canonical JSON (sorted keys, no spaces) and the version.
std::string ContentKey(const nlohmann::json& job);

}  // namespace qgrid::coordinator

#endif  // QGRID_COORDINATOR_SWEEP_SPEC_H_
