// qgrid report SWEEP --out DIR: the offline HTML report of one sweep
// (report/html_report.h), from what the coordinator returns over gRPC:
// the sweep's status and spec, every job with its result records, and the
// workers that produced them. Built into the torch-free `qgrid`.
#include <cstdio>
#include <memory>
#include <string>

#include "cli/commands.h"
#include "cli/exit_code.h"
#include "cli/service_common.h"
#include "common/hash.h"
#include "nlohmann/json.hpp"
#include "report/html_report.h"
#include "rpc/sweep_view.h"

namespace qgrid::cli {
namespace {

namespace pb = ::qgrid::v1;
using json = nlohmann::json;

report::ReportCell CellOf(const pb::JobResult& jr) {
  report::ReportCell c;
  const pb::Job& job = jr.job();
  c.row.job_id = job.id();
  c.row.state = jr.state();
  c.row.worker_id = jr.worker_id();
  c.row.attempt = job.attempt();
  json cfg = json::parse(job.config_json(), nullptr, false);
  if (cfg.is_object() && cfg.contains("labels")) c.row.labels = cfg["labels"];
  for (const auto& [k, v] : jr.result().metrics()) c.row.metrics[k] = v;
  c.error = jr.error();
  c.content_key = job.content_key();
  c.quant_key = job.quant_key();
  c.config_json = job.config_json();
  c.quant_report_json = jr.result().quant_report_json();
  c.efficiency_json = jr.result().efficiency_json();
  c.eval_json = jr.result().eval_json();
  c.finished_unix_ms = jr.finished_unix_ms();
  return c;
}

}  // namespace

void RegisterReportCommand(CLI::App& app) {
  auto* c = app.add_subcommand(
      "report",
      "Write a self-contained HTML report of a sweep: spec, result tables, "
      "figures (SVG), failed cells, provenance per cell");
  c->footer(
      "Writes DIR/index.html (inline CSS and SVG, no script, opens without "
      "network)\nand DIR/figures/*.svg (the same figures, standalone):\n"
      "  - the sweep spec as submitted and its job counts;\n"
      "  - one table per (model, method, bits, shots): test sets x "
      "calibration sets,\n    I.I.D cell marked with a dagger, best bold "
      "(as `qgrid results`);\n"
      "  - figures: a calibration x test heatmap per calibrated block (I.I.D "
      "outlined),\n    arXiv 2406.12928's Figure 2 (bars per task category, "
      "FP16 reference,\n    one panel per shot count), and 2402.16775's "
      "perplexity vs accuracy scatter\n    with Pearson and Spearman "
      "correlations;\n"
      "  - failed and missing cells with their last error;\n"
      "  - provenance per cell: seed, worker, device, time, quantized "
      "weights hash,\n    calibration source and size, test items; fields "
      "the records lack say\n    \"not recorded\".\n"
      "Colours are colour-blind safe (Okabe-Ito, viridis). A running sweep "
      "can be\nreported: its pending cells are listed as missing.\n"
      "Example: qgrid report 3f2a9c --out report/ && xdg-open "
      "report/index.html");
  auto cf = std::make_shared<ClientFlags>();
  struct Flags {
    std::string id, out;
  };
  auto f = std::make_shared<Flags>();
  c->add_option("sweep", f->id, "Sweep id")->required();
  c->add_option("--out", f->out,
                "Folder to write index.html and figures/ into (created)")
      ->required();
  AddClientFlags(c, cf.get());
  c->callback([cf, f] {
    auto client = Connect(*cf);
    if (!client.ok()) return (void)ReportError("", client.status());
    auto status = (*client)->GetStatus(f->id);
    if (!status.ok()) return (void)ReportError("", status.status());
    auto results =
        (*client)->GetResults(f->id, "", "markdown", /*with_items=*/true);
    if (!results.ok()) return (void)ReportError("", results.status());
    auto workers = (*client)->ListWorkers();
    if (!workers.ok()) return (void)ReportError("", workers.status());

    report::ReportInput in;
    in.sweep_id = status->sweep_id();
    in.sweep_name = status->name();
    in.state = status->state();
    in.created_unix_ms = status->created_unix_ms();
    in.spec_yaml = results->spec_yaml();
    in.counts = {
        {"total", status->total()},        {"done", status->done()},
        {"pending", status->pending()},    {"running", status->running()},
        {"failed", status->failed()},      {"dead", status->dead()},
        {"cancelled", status->cancelled()}};
    in.results_markdown = results->rendered();
    in.generator_version = QgridVersion();
    in.generated_unix_ms = rpc::NowUnixMs();
    for (const auto& w : workers->workers()) {
      in.workers[w.worker_id()] = {w.name(), w.device(), w.memory_bytes()};
    }
    int missing = 0;
    for (const auto& jr : results->results()) {
      in.cells.push_back(CellOf(jr));
      missing += jr.state() != "done";
    }
    absl::Status s = report::WriteReport(in, f->out);
    if (!s.ok()) return (void)ReportError("", s);
    if (cf->json) {
      std::printf("%s\n", json{{"index", f->out + "/index.html"},
                               {"cells", in.cells.size()},
                               {"missing", missing}}
                              .dump()
                              .c_str());
    } else {
      std::printf("wrote %s/index.html (%zu cells, %d without a result)\n",
                  f->out.c_str(), in.cells.size(), missing);
    }
  });
}

}  // namespace qgrid::cli
