// A one-line progress bar with rate and ETA, written to stderr.
//
// Long work (perplexity windows, calibration blocks, evaluation documents,
// training steps) reports through Progress so that the user sees it move.
// When stderr is not a terminal it prints a plain line at most every few
// seconds instead of redrawing. Not thread-safe: one owner updates it.
#ifndef QGRID_COMMON_PROGRESS_H_
#define QGRID_COMMON_PROGRESS_H_

#include <chrono>
#include <cstdint>
#include <string>

namespace qgrid {

class Progress {
 public:
  // `total` may be 0 when unknown; `unit` names what is counted ("windows").
  Progress(std::string label, int64_t total, std::string unit = "it",
           bool enabled = true);
  ~Progress();
  Progress(const Progress&) = delete;
  Progress& operator=(const Progress&) = delete;

  // Advances by `n` and redraws when due. `note` (e.g. "loss 3.21") is shown
  // at the end of the line.
  void Add(int64_t n = 1, const std::string& note = "");
  void SetNote(const std::string& note) { note_ = note; }
  // Draws the final state and a newline. Called by the destructor if needed.
  void Finish();

  int64_t done() const { return done_; }
  double ElapsedSeconds() const;

 private:
  void Draw(bool final);

  std::string label_, unit_, note_;
  int64_t total_, done_ = 0;
  bool enabled_, tty_, finished_ = false;
  std::chrono::steady_clock::time_point start_, last_draw_;
};

}  // namespace qgrid

#endif  // QGRID_COMMON_PROGRESS_H_
