// Calibration sets from task data, for the quantizer (quant/ takes calib
// ids [n, seqlen]).
//
// A task's documents are formatted as few-shot examples are (doc_to_text +
// target_delimiter + answer, eval/prompt.h; the document text for
// perplexity tasks) and tokenized:
//   kPerExample  one example per row, BOS first (the tokenizer's special
//                tokens), truncated to seqlen and right-padded; the
//                attention mask marks real tokens.
//   kPacked      examples joined by the task's fewshot_delimiter into one
//                token stream, cut into n consecutive segments of seqlen
//                (all mask ones).
// Examples are the first n of the split, as the paper does (arXiv
// 2406.12928: the first 128 examples of the training split, or of the 300
// carved from a test-only dataset with seed 42 — set carve_size in the
// task and use its carve split). `shuffle` draws them with `seed` instead.
//
// RandomTextWindows is GPTQ's C4/WikiText calibration: n windows of seqlen
// tokens at random offsets (seed) of one tokenized text file.
//
// Thread-safety: pure functions.
#ifndef QGRID_EVAL_CALIBRATION_H_
#define QGRID_EVAL_CALIBRATION_H_

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "eval/task_config.h"

namespace qgrid::model {
class Tokenizer;
}

namespace qgrid::eval {

struct CalibrationOptions {
  enum class Mode { kPerExample, kPacked };
  std::string split;  // "" = training, else fewshot, validation, test split
  int64_t n = 128;
  int64_t seqlen = 512;
  Mode mode = Mode::kPerExample;
  bool shuffle = false;
  uint64_t seed = 42;
  std::string data_dir;  // "" = $QGRID_DATA_DIR, else "data"
};

struct CalibrationSet {
  at::Tensor ids;                  // [n, seqlen] int64
  at::Tensor attention_mask;       // [n, seqlen] int64, 1 = real token
  std::vector<std::string> texts;  // the formatted examples used
  std::string source;              // "task:split" or the text file
};

absl::StatusOr<CalibrationSet> BuildTaskCalibrationSet(
    const model::Tokenizer& tok, const TaskConfig& task,
    const CalibrationOptions& opts);

absl::StatusOr<CalibrationSet> RandomTextWindows(const model::Tokenizer& tok,
                                                 const std::string& path,
                                                 int64_t n, int64_t seqlen,
                                                 uint64_t seed);

// A calibration set as a sweep job, `qgrid quantize` or `qgrid eval` names
// it: a text file (random windows, GPTQ style) or a task (examples
// formatted with their answers, one per row or packed), with the number of
// sequences, their length and the seed in `opts`. Every front door builds
// its set through BuildCalibrationSet(tok, spec), so one cell calibrates
// the same way however it was started.
struct CalibrationSpec {
  std::string text_file;  // set: RandomTextWindows(opts.n, opts.seqlen, seed)
  std::string task;       // else a task: NAME, NAME:SUBSET or FILE.yaml
  CalibrationOptions opts;
};

// The spec for a source as a user names it (`--calib SRC`): an existing
// file that is not a .yaml/.yml is a text file, anything else a task.
CalibrationSpec CalibrationSpecFromSource(const std::string& source,
                                          const CalibrationOptions& opts);

// The one builder. Errors name the source.
absl::StatusOr<CalibrationSet> BuildCalibrationSet(const model::Tokenizer& tok,
                                                   const CalibrationSpec& spec);

}  // namespace qgrid::eval

#endif  // QGRID_EVAL_CALIBRATION_H_
