// `qgrid report` of a real small sweep rendered in headless Chromium
// (Debian's `chromium`): a coordinator and a worker process on 127.0.0.1
// run assets/qgrid-tiny x {fp16, RTN W3, GPTQ W3 on two calibration sets}
// x two perplexity tests, a multiple-choice test and a test whose data file
// is missing (its cells fail). The report must load without console
// errors, show every figure and table with a non-empty box, and a
// screenshot is written to <build>/report-render/screenshot.png.
// Skips with a message when chromium is not installed.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <regex>

#include "nlohmann/json.hpp"
#include "tests/integration/proc_util.h"
#include "tests/test_util.h"

namespace qgrid::testing {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

std::string FindChromium() {
  if (const char* e = std::getenv("QGRID_CHROMIUM"); e && *e) return e;
  for (const char* c : {"/usr/bin/chromium", "/usr/bin/chromium-browser"}) {
    if (access(c, X_OK) == 0) return c;
  }
  return "";
}

// Runs a shell command with a bound; returns its exit code, output in *out.
int Shell(const std::string& cmd, std::string* out) {
  FILE* p = popen((cmd + " 2>&1").c_str(), "r");
  if (!p) return -1;
  char buf[4096];
  size_t n;
  out->clear();
  while ((n = fread(buf, 1, sizeof(buf), p)) > 0) out->append(buf, n);
  int st = pclose(p);
  return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

// Appended to a copy of the page: measures what the page shows and
// records any error, into <pre id="qgrid-check"> that --dump-dom prints.
constexpr const char* kCheckScript = R"(<script>
(function () {
  var errors = [];
  window.addEventListener('error', function (e) {
    errors.push(String(e.message || (e.target && (e.target.src || e.target.href)) || 'error'));
  }, true);
  var oldError = console.error;
  console.error = function () { errors.push(Array.prototype.join.call(arguments, ' ')); oldError.apply(console, arguments); };
  function visible(el) { var r = el.getBoundingClientRect(); return r.width > 0 && r.height > 0; }
  var svgs = Array.prototype.slice.call(document.querySelectorAll('svg'));
  var tables = Array.prototype.slice.call(document.querySelectorAll('table'));
  var out = {
    svgs: svgs.length, visible_svgs: svgs.filter(visible).length,
    tables: tables.length, visible_tables: tables.filter(visible).length,
    errors: errors
  };
  var pre = document.createElement('pre');
  pre.id = 'qgrid-check';
  pre.textContent = 'QGRID-CHECK' + JSON.stringify(out) + 'END-CHECK';
  document.body.appendChild(pre);
})();
</script>)";

TEST(ReportRender, RealSweepReportLoadsInHeadlessChromiumWithEveryFigure) {
  const std::string chromium = FindChromium();
  if (chromium.empty()) {
    GTEST_SKIP() << "chromium not installed (apt-get install chromium, as "
                    "deploy/install-deps.sh does; or set QGRID_CHROMIUM)";
  }
  std::string dir = MakeTempDir("render");
  ASSERT_FALSE(dir.empty());
  const std::string src = SourceDir();
  // Data: the committed tiny corpora and the hand-made WSC273 fixture.
  fs::create_directories(dir + "/data/tiny");
  fs::create_directories(dir + "/tasks");
  fs::copy(src + "/tests/data/demo/tiny", dir + "/data/tiny",
           fs::copy_options::recursive);
  fs::copy(src + "/tests/eval/fixtures/wsc273", dir + "/data/wsc273",
           fs::copy_options::recursive);
  for (const char* d : {"poems", "scripture"}) {
    std::ofstream(dir + "/tasks/render_" + std::string(d) + "_ppl.yaml")
        << "task: render_" << d << "_ppl\n"
        << "data_files:\n  test: tiny/" << d << "/test.txt\n"
        << "format: text\noutput_type: perplexity\nperplexity_style: gptq\n"
        << "seqlen: 64\nmetrics: [perplexity]\n";
  }
  std::ofstream(dir + "/spec.yaml") << R"(name: report-render
models:
  - {name: qgrid-tiny, path: qgrid-tiny, dtype: float32}
methods:
  - {name: fp16}
  - {name: rtn, bits: 3, group_size: 64}
  - {name: gptq, bits: 3, group_size: 64}
calibration:
  - {name: poems, path: tiny/poems/train.txt, samples: 8, seq_len: 64, domain: poems}
  - {name: scripture, path: tiny/scripture/train.txt, samples: 8, seq_len: 64, domain: scripture}
tests:
  - {name: poems, task: render_poems_ppl, domain: poems}
  - {name: scripture, task: render_scripture_ppl, domain: scripture}
  - {name: wsc273, task: wsc273}
  - {name: missing, task: render_poems_ppl, path: no-such-file.txt}
shots: [0]
max_attempts: 1
)";
  // The task search path of every process started below.
  setenv("QGRID_TASKS_DIR", (dir + "/tasks:" + src + "/eval/tasks").c_str(), 1);
  std::vector<std::unique_ptr<Proc>> procs;
  procs.push_back(std::make_unique<Proc>(
      std::vector<std::string>{"coordinator", "--db", dir + "/q.db", "--listen",
                               "127.0.0.1:0", "--heartbeat-ms", "200",
                               "--retry-base-ms", "100"},
      dir, "coord"));
  std::string addr = WaitForAddress(*procs[0]);
  ASSERT_FALSE(addr.empty()) << procs[0]->err();
  procs.push_back(std::make_unique<Proc>(
      std::vector<std::string>{"worker", "--coordinator", addr, "--name", "wR",
                               "--model-root", src + "/assets", "--data-dir",
                               dir + "/data"},
      dir, "worker"));
  std::string out, err;
  ASSERT_EQ(
      RunQgrid({"submit", dir + "/spec.yaml", "--coordinator", addr, "--json"},
               dir, &out, &err),
      0)
      << out << err;
  const std::string id = json::parse(out)["sweep_id"];
  int rc = RunQgrid({"watch", id, "--json", "--coordinator", addr}, dir, &out,
                    &err, 300000);
  ASSERT_NE(rc, -1) << "timed out; worker log:\n" << procs[1]->err();
  json st = json::parse(out);
  // fp16 and rtn: 4 tests each; gptq: 2 calibration sets x 4. The
  // "missing" test fails in each of its 4 cells.
  EXPECT_EQ(st["total"], "16") << st.dump();
  EXPECT_EQ(st["done"], "12") << st.dump() << procs[1]->err();
  EXPECT_EQ(st["dead"], "4") << st.dump();

  const std::string report = BinaryDir() + "/report-render";
  fs::remove_all(report);
  ASSERT_EQ(RunQgrid({"report", id, "--out", report, "--coordinator", addr},
                     dir, &out, &err),
            0)
      << out << err;
  EXPECT_NE(out.find("16 cells, 4 without a result"), std::string::npos) << out;
  procs.clear();
  const std::string html = Slurp(report + "/index.html");
  ASSERT_FALSE(html.empty());
  // What the page must show: the spec, 3 tables per method block + counts,
  // failed and provenance tables; figures: gptq's heatmap, Figure 2, one
  // perplexity-vs-accuracy scatter per perplexity test.
  EXPECT_NE(html.find("name: report-render"), std::string::npos);
  EXPECT_NE(html.find("no-such-file.txt"), std::string::npos);  // the error
  EXPECT_TRUE(fs::exists(report + "/figures/figure2_01.svg"));
  EXPECT_TRUE(fs::exists(report + "/figures/ppl_vs_acc_02.svg"));
  size_t svgs = 0, tables = 0;
  for (size_t at = html.find("<svg "); at != std::string::npos;
       at = html.find("<svg ", at + 1))
    ++svgs;
  for (size_t at = html.find("<table"); at != std::string::npos;
       at = html.find("<table", at + 1))
    ++tables;
  EXPECT_EQ(svgs, 4u);
  EXPECT_EQ(tables, 3u + 3u);

  const std::string flags =
      " --headless=new --no-sandbox --disable-gpu --disable-dev-shm-usage "
      "--no-first-run --disable-extensions --user-data-dir=" +
      dir + "/chromium-profile";
  // 1. The page as written: a screenshot, and no console message at all
  // (the page has no script, so any is an error such as a blocked load).
  const std::string shot = report + "/screenshot.png";
  std::string log;
  int crc = Shell("timeout 120 " + chromium + flags +
                      " --enable-logging=stderr --v=0 --window-size=1400,3000"
                      " --screenshot=" +
                      shot + " file://" + report + "/index.html",
                  &log);
  ASSERT_EQ(crc, 0) << log;
  EXPECT_EQ(log.find(":CONSOLE"), std::string::npos) << log;
  EXPECT_EQ(log.find("ERR_FILE_NOT_FOUND"), std::string::npos) << log;
  std::string png = Slurp(shot);
  ASSERT_GT(png.size(), 10000u) << "screenshot too small: " << png.size();
  EXPECT_EQ(png.substr(1, 3), "PNG");
  // IHDR width, big-endian at byte 16.
  const unsigned char* b = reinterpret_cast<const unsigned char*>(png.data());
  EXPECT_EQ((b[16] << 24) | (b[17] << 16) | (b[18] << 8) | b[19], 1400);

  // 2. A copy with a measuring script: every <svg> and <table> has a box.
  // (The script's own text names the markers too; the JSON starts with {.)
  std::string checked = html;
  checked.insert(checked.rfind("</body>"), kCheckScript);
  std::ofstream(report + "/check.html") << checked;
  crc = Shell("timeout 120 " + chromium + flags +
                  " --window-size=1400,3000 --dump-dom file://" + report +
                  "/check.html",
              &log);
  fs::remove(report + "/check.html");
  ASSERT_EQ(crc, 0) << log;
  std::smatch m;
  ASSERT_TRUE(
      std::regex_search(log, m, std::regex("QGRID-CHECK(\\{.*?\\})END-CHECK")))
      << log.substr(0, 2000);
  json c = json::parse(m[1].str());
  EXPECT_EQ(c["svgs"], svgs) << c.dump();
  EXPECT_EQ(c["visible_svgs"], svgs) << c.dump();
  EXPECT_EQ(c["tables"], tables) << c.dump();
  EXPECT_EQ(c["visible_tables"], tables) << c.dump();
  EXPECT_TRUE(c["errors"].empty()) << c.dump();
  fs::remove_all(dir);
}

}  // namespace
}  // namespace qgrid::testing
