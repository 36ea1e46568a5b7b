// `qgrid report`: one sweep as a self-contained HTML page (inline CSS and
// inline SVG figures, no script, no network), plus each figure as its own
// .svg file for papers:
//
//   DIR/index.html        the sweep spec, its counts, the result tables
//                         (I.I.D cell marked, best bold), the figures
//                         (figures.h), the failed and missing cells with
//                         their errors, and the provenance of every cell
//   DIR/figures/*.svg     the same figures, standalone
//
// Provenance is what the coordinator stores for a cell (job config, the
// worker's quant report, evaluation and efficiency JSON, the worker's
// registration); whatever a cell's records do not hold is written "not
// recorded", never guessed. Pure rendering (RenderReport) plus one function
// that writes the files (WriteReport). Thread-safe.
#ifndef QGRID_REPORT_HTML_REPORT_H_
#define QGRID_REPORT_HTML_REPORT_H_

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "coordinator/results_table.h"

namespace qgrid::report {

// One job of the sweep with what its records hold.
struct ReportCell {
  coordinator::ResultRow row;  // labels, state, worker, attempt, metrics
  std::string error;           // the last error (failed/dead jobs)
  std::string content_key, quant_key;
  std::string config_json;        // the job's canonical config
  std::string quant_report_json;  // worker: quantization report
  std::string efficiency_json;    // worker: timings, memory
  std::string eval_json;          // worker: lm-eval style results document
  int64_t finished_unix_ms = 0;   // when the result was stored; 0 = unknown
};

struct ReportWorker {
  std::string name, device;
  int64_t memory_bytes = 0;
};

struct ReportInput {
  std::string sweep_id, sweep_name, state;
  std::string spec_yaml;  // "" when the coordinator did not return it
  int64_t created_unix_ms = 0;
  std::map<std::string, int64_t> counts;  // pending, running, done, ...
  std::vector<ReportCell> cells;
  std::map<std::string, ReportWorker> workers;  // by worker id
  std::string generator_version;                // qgrid version writing it
  int64_t generated_unix_ms = 0;
  // `qgrid results`' markdown table (RenderResults), shown as text.
  std::string results_markdown;
};

struct RenderedReport {
  std::string index_html;
  // figures/<name>.svg -> document, the same SVGs as inline in the page.
  std::map<std::string, std::string> figures;
};

absl::StatusOr<RenderedReport> RenderReport(const ReportInput& in);

// Renders and writes DIR/index.html and DIR/figures/*.svg (creating DIR).
// Errors name the file that could not be written.
absl::Status WriteReport(const ReportInput& in, const std::string& dir);

}  // namespace qgrid::report

#endif  // QGRID_REPORT_HTML_REPORT_H_
