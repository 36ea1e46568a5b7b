#include "eval/calibration.h"

#include <ATen/ATen.h>

#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "common/file_util.h"
#include "common/status_macros.h"
#include "eval/dataset.h"
#include "eval/prompt.h"
#include "model/tokenizer.h"

namespace qgrid::eval {
namespace {

at::Tensor ToTensor(const std::vector<std::vector<int64_t>>& rows,
                    int64_t width) {
  at::Tensor t =
      at::zeros({static_cast<int64_t>(rows.size()), width}, at::kLong);
  auto a = t.accessor<int64_t, 2>();
  for (size_t r = 0; r < rows.size(); ++r)
    for (size_t c = 0; c < rows[r].size(); ++c) a[r][c] = rows[r][c];
  return t;
}

std::string PickSplit(const TaskConfig& t, const std::string& want) {
  if (!want.empty()) return want;
  for (const std::string* s : {&t.training_split, &t.fewshot_split,
                               &t.validation_split, &t.test_split})
    if (!s->empty() && HasSplit(t, *s)) return *s;
  return t.test_split;
}

}  // namespace

absl::StatusOr<CalibrationSet> BuildTaskCalibrationSet(
    const model::Tokenizer& tok, const TaskConfig& task,
    const CalibrationOptions& opts) {
  if (opts.n <= 0 || opts.seqlen <= 0)
    return absl::InvalidArgumentError("calibration n and seqlen must be > 0");
  const std::string split = PickSplit(task, opts.split);
  QG_ASSIGN_OR_RETURN(std::vector<Document> docs,
                      LoadSplit(task, split, ResolveDataDir(opts.data_dir)));
  if (docs.empty())
    return absl::InvalidArgumentError(absl::StrCat(
        "task '", task.task, "': split '", split, "' has no documents"));
  std::vector<int64_t> order(docs.size());
  for (size_t i = 0; i < docs.size(); ++i) order[i] = i;
  if (opts.shuffle) {
    std::mt19937_64 rng(opts.seed);
    for (int64_t i = static_cast<int64_t>(order.size()) - 1; i > 0; --i)
      std::swap(order[i], order[rng() % static_cast<uint64_t>(i + 1)]);
  }
  auto format = [&](const Document& d) -> absl::StatusOr<std::string> {
    if (task.output_type == OutputType::kPerplexity) {
      if (task.doc_to_text.empty()) {
        QG_ASSIGN_OR_RETURN(auto v, ResolveTemplateValue("{{text}}", d.fields));
        return JsonToText(v);
      }
      return DocToText(task, d);
    }
    return FormatShot(task, d);
  };

  CalibrationSet out;
  out.source = task.task + ":" + split;
  std::vector<std::vector<int64_t>> rows, masks;
  if (opts.mode == CalibrationOptions::Mode::kPerExample) {
    if (static_cast<int64_t>(docs.size()) < opts.n)
      return absl::InvalidArgumentError(absl::StrCat(
          "task '", task.task, "': split '", split, "' has ", docs.size(),
          " documents, fewer than the ", opts.n, " calibration samples asked"));
    int64_t pad = tok.pad_id() >= 0 ? tok.pad_id()
                                    : (tok.eos_id() >= 0 ? tok.eos_id() : 0);
    for (int64_t i = 0; i < opts.n; ++i) {
      QG_ASSIGN_OR_RETURN(std::string text, format(docs[order[i]]));
      std::vector<int> ids = tok.Encode(text, true);
      std::vector<int64_t> row(opts.seqlen, pad), mask(opts.seqlen, 0);
      for (int64_t t = 0;
           t < opts.seqlen && t < static_cast<int64_t>(ids.size()); ++t) {
        row[t] = ids[t];
        mask[t] = 1;
      }
      rows.push_back(std::move(row));
      masks.push_back(std::move(mask));
      out.texts.push_back(std::move(text));
    }
  } else {
    std::vector<int64_t> stream;
    const int64_t need = opts.n * opts.seqlen;
    if (tok.bos_id() >= 0) stream.push_back(tok.bos_id());
    for (size_t i = 0;
         i < order.size() && static_cast<int64_t>(stream.size()) < need; ++i) {
      QG_ASSIGN_OR_RETURN(std::string text, format(docs[order[i]]));
      if (!out.texts.empty()) text = task.fewshot_delimiter + text;
      for (int id : tok.Encode(text, false)) stream.push_back(id);
      out.texts.push_back(std::move(text));
    }
    if (static_cast<int64_t>(stream.size()) < need)
      return absl::InvalidArgumentError(absl::StrCat(
          "task '", task.task, "': split '", split, "' gives ", stream.size(),
          " tokens, fewer than ", opts.n, " x ", opts.seqlen));
    for (int64_t i = 0; i < opts.n; ++i) {
      rows.emplace_back(stream.begin() + i * opts.seqlen,
                        stream.begin() + (i + 1) * opts.seqlen);
      masks.emplace_back(opts.seqlen, 1);
    }
  }
  out.ids = ToTensor(rows, opts.seqlen);
  out.attention_mask = ToTensor(masks, opts.seqlen);
  return out;
}

absl::StatusOr<CalibrationSet> RandomTextWindows(const model::Tokenizer& tok,
                                                 const std::string& path,
                                                 int64_t n, int64_t seqlen,
                                                 uint64_t seed) {
  auto text = ReadFileToString(path);
  if (!text.ok()) {
    return absl::Status(
        text.status().code(),
        absl::StrCat("calibration text ", text.status().message()));
  }
  std::vector<int> ids = tok.Encode(*text, true);
  const int64_t total = static_cast<int64_t>(ids.size());
  if (total <= seqlen)
    return absl::InvalidArgumentError(absl::StrCat(
        path, ": ", total, " tokens, not more than seqlen ", seqlen));
  std::mt19937_64 rng(seed);
  std::vector<std::vector<int64_t>> rows;
  for (int64_t i = 0; i < n; ++i) {
    int64_t start =
        static_cast<int64_t>(rng() % static_cast<uint64_t>(total - seqlen));
    rows.emplace_back(ids.begin() + start, ids.begin() + start + seqlen);
  }
  CalibrationSet out;
  out.ids = ToTensor(rows, seqlen);
  out.attention_mask = at::ones({n, seqlen}, at::kLong);
  out.source = path;
  return out;
}

CalibrationSpec CalibrationSpecFromSource(const std::string& source,
                                          const CalibrationOptions& opts) {
  CalibrationSpec spec;
  spec.opts = opts;
  std::error_code ec;
  if (!IsTaskFileName(source) && std::filesystem::is_regular_file(source, ec)) {
    spec.text_file = source;
  } else {
    spec.task = source;
  }
  return spec;
}

absl::StatusOr<CalibrationSet> BuildCalibrationSet(
    const model::Tokenizer& tok, const CalibrationSpec& spec) {
  const CalibrationOptions& opts = spec.opts;
  if (!spec.text_file.empty())
    return RandomTextWindows(tok, spec.text_file, opts.n, opts.seqlen,
                             opts.seed);
  if (spec.task.empty())
    return absl::InvalidArgumentError("empty calibration source");
  auto task = ResolveTask(spec.task);
  if (!task.ok())
    return Annotate(task.status(), "calibration source '" + spec.task +
                                       "' is neither a text file nor a task");
  auto set = BuildTaskCalibrationSet(tok, *task, opts);
  if (!set.ok())
    return Annotate(set.status(), "calibration task '" + spec.task + "'");
  return set;
}

}  // namespace qgrid::eval
