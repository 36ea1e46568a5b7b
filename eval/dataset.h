// Dataset loaders: the documents of one split of a task.
//
// Formats (TaskConfig::format, else by extension):
//   jsonl  one JSON object per line (.jsonl; also .json files that hold one
//          object per line, such as BOSS's processed files)
//   json   a JSON array of objects, or the list under `json_records`
//   squad  the official SQuAD JSON (data[].paragraphs[].qas[]), flattened to
//          {id, title, context, question, answers{text[], answer_start[]},
//          is_impossible}
//   csv / tsv  a header row, RFC 4180 quoting (quoted fields may span lines)
//   text   the whole file is one document {"text": ...} (perplexity)
//   lines  one document per non-empty line: {"text": line}, or split into
//          `line_fields` at `line_delimiter` (SST-2's "LABEL sentence")
// Grouped tasks expand `{subject}` in the patterns and add the fields
// "subject", "subject_name" and "category" to each document. Errors name
// the task, the file and the line.
//
// Thread-safety: pure functions.
#ifndef QGRID_EVAL_DATASET_H_
#define QGRID_EVAL_DATASET_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "eval/task_config.h"
#include "eval/template.h"

namespace qgrid::eval {

struct Document {
  Doc fields;
  std::string file;           // where it came from, for error messages
  int64_t line = 0;           // 1-based line (record number for JSON arrays)
  std::string Where() const;  // "file:line"
};

// Loads one split ("test", "train", the carve split, ...). NotFound names
// the task, the split, the pattern and the data dir.
absl::StatusOr<std::vector<Document>> LoadSplit(const TaskConfig& config,
                                                const std::string& split,
                                                const std::string& data_dir);

// Parses one file in `format` (as above).
absl::StatusOr<std::vector<Document>> LoadFile(const TaskConfig& config,
                                               const std::string& path,
                                               const std::string& format);

// Whether the task can provide `split` (data files or carving).
bool HasSplit(const TaskConfig& config, const std::string& split);

// The paper's carving rule: a permutation of [0, n) from `seed`; the first
// `size` entries are the carved (calibration) docs in draw order, the rest
// stay in the test split. Deterministic across platforms (std::mt19937_64
// with a Fisher-Yates shuffle; it is not Python's random.sample).
std::vector<int64_t> CarveOrder(int64_t n, uint64_t seed);

// Splits a CSV/TSV text into rows (RFC 4180). Exposed for tests.
absl::StatusOr<std::vector<std::vector<std::string>>> ParseDelimited(
    const std::string& text, char delim, const std::string& source);

}  // namespace qgrid::eval

#endif  // QGRID_EVAL_DATASET_H_
