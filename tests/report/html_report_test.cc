// The HTML report: well-formed (XHTML-compatible) markup with every table
// and figure, the spec, failed cells with their errors, provenance with
// "not recorded" where the records hold nothing; written to a folder.
#include "report/html_report.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "tests/report/xml_check.h"

namespace qgrid::report {
namespace {

using ::testing::HasSubstr;
using testing::ParseXml;
using testing::Select;
using json = nlohmann::json;

ReportCell Cell(const std::string& method, int bits, const std::string& cal,
                const std::string& test, const std::string& metric, double v,
                const std::string& state = "done") {
  static int64_t id = 0;
  ReportCell c;
  c.row.job_id = ++id;
  c.row.labels = {
      {"model", "tiny"},    {"method", method}, {"bits", bits},
      {"calibration", cal}, {"test", test},     {"shots", 0},
      {"seed", 42},         {"repeat", 0},      {"iid", cal == test}};
  c.row.state = state;
  c.row.worker_id = "w-1";
  c.row.attempt = 1;
  c.content_key = "0123456789abcdef0123";
  c.config_json = json{{"job", {{"model", {{"path", "qgrid-tiny"}}}}}}.dump();
  if (state == "done") {
    c.row.metrics[metric] = v;
    c.finished_unix_ms = 1700000000000;
    c.eval_json = json{{"n-samples", {{test, {{"effective", 50}}}}},
                       {"seeds", {{"fewshot_seed", 1234}}}}
                      .dump();
    if (method != "fp16") {
      json q = {{"weights_sha256", "feedfacefeedface00"},
                {"cache", {{"source", "quantized"}}}};
      if (cal != "-") {
        q["calibration"] = {
            {"source", "quotes/calib.txt"}, {"samples", 32}, {"seq_len", 128}};
      }
      c.quant_report_json = q.dump();
    }
  } else {
    c.error = "load: model.safetensors <corrupt> & truncated";
  }
  return c;
}

ReportInput Input() {
  ReportInput in;
  in.sweep_id = "sw-1";
  in.sweep_name = "demo <small>";
  in.state = "finished";
  in.spec_yaml =
      "name: demo\nmethods:\n  - {name: gptq, bits: 3}  # a < b & c\n";
  in.counts = {{"done", 7}, {"dead", 1}, {"total", 8}};
  in.generator_version = "0.1.0";
  in.generated_unix_ms = 1700000001000;
  in.workers["w-1"] = {"local-0", "cpu", 0};
  in.results_markdown = "| test | wiki |\n";
  in.cells = {
      Cell("fp16", 16, "-", "wiki", "word_perplexity", 100),
      Cell("fp16", 16, "-", "arc_easy", "acc", 0.50),
      Cell("gptq", 3, "wiki", "wiki", "word_perplexity", 120),
      Cell("gptq", 3, "arc_easy", "wiki", "word_perplexity", 130),
      Cell("gptq", 3, "wiki", "arc_easy", "acc", 0.44),
      Cell("gptq", 3, "arc_easy", "arc_easy", "acc", 0, "dead"),
      Cell("rtn", 3, "-", "wiki", "word_perplexity", 150),
      Cell("rtn", 3, "-", "arc_easy", "acc", 0.30),
  };
  return in;
}

TEST(HtmlReport, IsWellFormedWithEveryTableFigureAndSection) {
  auto r = RenderReport(Input());
  ASSERT_TRUE(r.ok()) << r.status();
  const std::string& html = r->index_html;
  auto e = ParseXml(html);
  ASSERT_TRUE(e.ok()) << e.status();
  EXPECT_EQ((*e)[0].name, "html");
  // 3 result tables (fp16, gptq W3, rtn W3) + counts, failed, provenance.
  EXPECT_EQ(Select(*e, "table", "results").size(), 3u);
  EXPECT_EQ(Select(*e, "table", "failed").size(), 1u);
  EXPECT_EQ(Select(*e, "table", "prov").size(), 1u);
  // Figures: gptq's heatmap, Figure 2, perplexity vs accuracy; inline and
  // as files, each file a standalone SVG.
  EXPECT_EQ(Select(*e, "svg").size(), 3u);
  EXPECT_EQ(Select(*e, "figure").size(), 3u);
  ASSERT_EQ(r->figures.size(), 3u);
  for (const auto& [name, svg] : r->figures) {
    EXPECT_TRUE(ParseXml(svg).ok()) << name;
    EXPECT_NE(html.find(svg), std::string::npos) << name;
  }
  EXPECT_EQ(r->figures.count("figures/figure2_01.svg"), 1u);
  EXPECT_EQ(r->figures.count("figures/ppl_vs_acc_01.svg"), 1u);
  // Escaped user text: spec, sweep name, error.
  EXPECT_THAT(html, HasSubstr("# a &lt; b &amp; c"));
  EXPECT_THAT(html, HasSubstr("<h1>qgrid report: demo &lt;small&gt;</h1>"));
  EXPECT_THAT(html,
              HasSubstr("model.safetensors &lt;corrupt&gt; &amp; truncated"));
  EXPECT_THAT(html, HasSubstr("1 of 8 cells have no result"));
  // No network: nothing loaded from elsewhere.
  // (the only URL is the SVG namespace, which is a name, not a fetch)
  for (size_t at = html.find("http://"); at != std::string::npos;
       at = html.find("http://", at + 1)) {
    EXPECT_EQ(html.compare(at, 26, "http://www.w3.org/2000/svg"), 0)
        << html.substr(at, 40);
  }
  EXPECT_EQ(html.find("https://"), std::string::npos);
  EXPECT_EQ(html.find("<script"), std::string::npos);
  EXPECT_EQ(html.find("<link"), std::string::npos);
}

TEST(HtmlReport, TablesMarkIidAndBestAndMissingCells) {
  auto r = RenderReport(Input());
  ASSERT_TRUE(r.ok());
  const std::string& html = r->index_html;
  // gptq W3: wiki row, I.I.D 120 is best (lower) -> bold and dagger.
  EXPECT_THAT(html, HasSubstr("<td class=\"best iid\">120\u2020</td>"));
  EXPECT_THAT(html, HasSubstr("<td>130</td>"));
  // The dead I.I.D cell is listed as such, not as a value.
  EXPECT_THAT(html,
              HasSubstr("<td class=\"missing iid\">failed (dead)\u2020</td>"));
  EXPECT_THAT(html, HasSubstr("no calibration"));
}

TEST(HtmlReport, ProvenanceSaysNotRecordedForWhatIsAbsent) {
  auto r = RenderReport(Input());
  ASSERT_TRUE(r.ok());
  const std::string& html = r->index_html;
  size_t prov = html.find("<table class=\"prov\">");
  ASSERT_NE(prov, std::string::npos);
  std::string p = html.substr(prov);
  EXPECT_THAT(p, HasSubstr("w-1 (local-0)"));
  EXPECT_THAT(p, HasSubstr("<td>cpu</td>"));
  EXPECT_THAT(p, HasSubstr("2023-11-14 22:13:20 UTC"));
  EXPECT_THAT(p, HasSubstr("feedfacefeedface"));
  EXPECT_THAT(p, HasSubstr("quotes/calib.txt"));
  EXPECT_THAT(p, HasSubstr("32 \u00d7 128 tokens"));
  EXPECT_THAT(p, HasSubstr("<td>50</td>"));
  EXPECT_THAT(p, HasSubstr("<td>1234</td>"));
  EXPECT_THAT(p, HasSubstr("qgrid-tiny"));
  // Neither the worker's qgrid version nor the model files' hash nor the
  // calibration set's hash is in the records: said so.
  EXPECT_THAT(p, HasSubstr("not recorded"));
  // 8 cells: 8 rows + the header.
  auto e = ParseXml(html);
  ASSERT_TRUE(e.ok());
  int rows_in_prov = 0;
  bool in = false;
  for (const auto& el : *e) {
    if (el.name == "table") in = el.HasClass("prov");
    if (in && el.name == "tr") ++rows_in_prov;
  }
  EXPECT_EQ(rows_in_prov, 9);
}

TEST(HtmlReport, WritesIndexAndFigureFilesAndNamesWhatCannotBeWritten) {
  namespace fs = std::filesystem;
  fs::path dir = fs::temp_directory_path() /
                 ("qgrid-report-test-" + std::to_string(::getpid()));
  fs::remove_all(dir);
  ASSERT_TRUE(WriteReport(Input(), dir.string()).ok());
  EXPECT_TRUE(fs::exists(dir / "index.html"));
  EXPECT_TRUE(fs::exists(dir / "figures" / "figure2_01.svg"));
  std::ifstream f(dir / "index.html");
  std::stringstream ss;
  ss << f.rdbuf();
  EXPECT_TRUE(ParseXml(ss.str()).ok());
  fs::remove_all(dir);
  // A path under a regular file cannot be a folder.
  std::ofstream(fs::temp_directory_path() / "qgrid-report-file") << "x";
  absl::Status s = WriteReport(
      Input(),
      (fs::temp_directory_path() / "qgrid-report-file" / "r").string());
  EXPECT_FALSE(s.ok());
  EXPECT_THAT(std::string(s.message()), HasSubstr("qgrid-report-file"));
  fs::remove(fs::temp_directory_path() / "qgrid-report-file");
}

TEST(HtmlReport, ASweepWithoutResultsStillRendersAndSaysWhy) {
  ReportInput in;
  in.sweep_id = "empty";
  auto r = RenderReport(in);
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(ParseXml(r->index_html).ok());
  EXPECT_THAT(r->index_html, HasSubstr("No figure"));
  EXPECT_THAT(r->index_html, HasSubstr("not recorded"));  // the spec
}

}  // namespace
}  // namespace qgrid::report
