#include "eval/request_dump.h"

#include <fstream>
#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "eval/scorer.h"

namespace qgrid::eval {
namespace {

using json = nlohmann::json;

// Records every request and answers with placeholders (log-likelihood 0,
// empty generations): the metrics computed on them are discarded.
class RecordingScorer : public Scorer {
 public:
  explicit RecordingScorer(std::string task) : task_(std::move(task)) {}

  absl::StatusOr<std::vector<LoglikelihoodResult>> Loglikelihood(
      const std::vector<LoglikelihoodRequest>& requests,
      const ProgressFn&) override {
    for (const auto& r : requests)
      Add("loglikelihood", json::array({r.context, r.continuation}));
    return std::vector<LoglikelihoodResult>(requests.size(), {0, false, 1});
  }
  absl::StatusOr<std::vector<RollingResult>> LoglikelihoodRolling(
      const std::vector<std::string>& texts, const ProgressFn&) override {
    for (const auto& t : texts) Add("loglikelihood_rolling", json::array({t}));
    return std::vector<RollingResult>(texts.size(), {0, 1});
  }
  absl::StatusOr<std::vector<std::string>> Generate(
      const std::vector<GenerationRequest>& requests,
      const ProgressFn&) override {
    for (const auto& r : requests)
      Add("generate_until",
          json::array({r.context, json{{"until", r.until},
                                       {"max_gen_toks", r.max_gen_toks}}}));
    return std::vector<std::string>(requests.size());
  }
  absl::StatusOr<std::vector<std::vector<double>>> NextTokenScores(
      const std::vector<std::string>& contexts,
      const std::vector<std::string>& candidates, const ProgressFn&) override {
    for (const auto& c : contexts)
      Add("next_token", json::array({c, candidates}));
    return std::vector<std::vector<double>>(
        contexts.size(), std::vector<double>(candidates.size(), 0.0));
  }

  const std::vector<json>& records() const { return records_; }

 private:
  void Add(const char* type, json args) {
    records_.push_back({{"task", task_},
                        {"idx", static_cast<int64_t>(records_.size())},
                        {"request_type", type},
                        {"arguments", std::move(args)}});
  }
  std::string task_;
  std::vector<json> records_;
};

}  // namespace

absl::Status DumpRequests(const std::vector<TaskConfig>& tasks,
                          const EvalOptions& opts, const std::string& path,
                          int64_t* written) {
  std::ofstream f(path, std::ios::trunc);
  if (!f) return absl::PermissionDeniedError("cannot write " + path);
  EvalOptions o = opts;
  o.progress = false;
  o.samples_out.clear();
  o.measure_speed = false;
  int64_t n = 0;
  for (const TaskConfig& t : tasks) {
    if (t.IsGptqPerplexity())
      return absl::InvalidArgumentError(absl::StrCat(
          "task '", t.task, "' (", t.source,
          "): GPTQ-style perplexity scores token windows of one tokenized "
          "stream; --dump-requests has no model to tokenize with"));
    RecordingScorer rec(t.task);
    auto r = EvaluateWithScorer(rec, t, o);
    if (!r.ok()) return r.status();
    for (const json& j : rec.records())
      f << j.dump(-1, ' ', false, json::error_handler_t::replace) << "\n";
    n += static_cast<int64_t>(rec.records().size());
  }
  f.flush();
  if (!f) return absl::DataLossError("error writing " + path);
  if (written) *written = n;
  return absl::OkStatus();
}

}  // namespace qgrid::eval
