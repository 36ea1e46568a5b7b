#include "common/progress.h"

#include <unistd.h>

#include <cstdio>

#include "absl/strings/str_format.h"

namespace qgrid {

namespace {
std::string FormatDuration(double s) {
  if (s < 0 || s > 1e7) return "?";
  int64_t t = static_cast<int64_t>(s + 0.5);
  if (t >= 3600) return absl::StrFormat("%dh%02dm", t / 3600, (t / 60) % 60);
  return absl::StrFormat("%d:%02d", t / 60, t % 60);
}
}  // namespace

Progress::Progress(std::string label, int64_t total, std::string unit,
                   bool enabled)
    : label_(std::move(label)),
      unit_(std::move(unit)),
      total_(total),
      enabled_(enabled),
      tty_(isatty(STDERR_FILENO) == 1),
      start_(std::chrono::steady_clock::now()),
      last_draw_(start_) {}

Progress::~Progress() {
  if (!finished_) Finish();
}

double Progress::ElapsedSeconds() const {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() -
                                       start_)
      .count();
}

void Progress::Add(int64_t n, const std::string& note) {
  done_ += n;
  if (!note.empty()) note_ = note;
  auto now = std::chrono::steady_clock::now();
  double since = std::chrono::duration<double>(now - last_draw_).count();
  // Reaching the total redraws only on a terminal; in a log the final line
  // comes from Finish(), so it is not printed twice.
  bool at_total = tty_ && total_ > 0 && done_ >= total_;
  if (since >= (tty_ ? 0.1 : 5.0) || at_total) {
    last_draw_ = now;
    Draw(false);
  }
}

void Progress::Finish() {
  if (finished_) return;
  finished_ = true;
  Draw(true);
}

void Progress::Draw(bool final) {
  if (!enabled_) return;
  double el = ElapsedSeconds();
  double rate = el > 0 ? done_ / el : 0;
  // Under half a second a rate is noise (a sweep whose cells were all
  // cached finishes in milliseconds: "21649337.7 jobs/s"); shown as "-".
  const std::string rate_text =
      el >= 0.5 ? absl::StrFormat("%.1f", rate) : std::string("-");
  std::string line;
  if (total_ > 0) {
    const int width = 24;
    int filled =
        static_cast<int>(width * std::min<double>(1.0, 1.0 * done_ / total_));
    std::string bar(filled, '#');
    bar += std::string(width - filled, '.');
    double eta = rate > 0 ? (total_ - done_) / rate : -1;
    line =
        absl::StrFormat("%s [%s] %d/%d %s  %s %s/s  %s %s", label_, bar, done_,
                        total_, unit_, rate_text, unit_, final ? "took" : "eta",
                        FormatDuration(final ? el : eta));
  } else {
    line = absl::StrFormat("%s %d %s  %s %s/s  %s", label_, done_, unit_,
                           rate_text, unit_, FormatDuration(el));
  }
  if (!note_.empty()) line += "  " + note_;
  if (tty_) {
    std::fprintf(stderr, "\r\033[K%s%s", line.c_str(), final ? "\n" : "");
  } else {
    std::fprintf(stderr, "%s\n", line.c_str());
  }
  std::fflush(stderr);
}

}  // namespace qgrid
