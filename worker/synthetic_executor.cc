#include "worker/synthetic_executor.h"

#include <chrono>
#include <thread>

#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"

namespace qgrid::worker {
namespace {

using json = nlohmann::json;

// Sleeps `ms` in slices, reporting progress and honouring cancellation.
bool SleepWithControl(int64_t ms, const std::string& phase, JobControl* ctl) {
  auto start = std::chrono::steady_clock::now();
  auto end = start + std::chrono::milliseconds(ms);
  while (true) {
    if (ctl->Cancelled()) return false;
    auto now = std::chrono::steady_clock::now();
    if (now >= end) break;
    double pct = ms > 0 ? 100.0 * (now - start) / (end - start) : 100;
    ctl->SetProgress(phase, pct);
    std::this_thread::sleep_for(std::min<std::chrono::steady_clock::duration>(
        end - now, std::chrono::milliseconds(20)));
  }
  return true;
}

}  // namespace

std::unique_ptr<JobExecutor> MakeSyntheticExecutor(size_t cache_capacity) {
  return std::make_unique<SyntheticExecutor>(cache_capacity);
}

std::map<std::string, double> SyntheticExecutor::MetricsFor(
    const std::string& content_key) {
  uint64_t h = std::stoull(content_key.substr(0, 12), nullptr, 16);
  return {{"ppl", 5.0 + (h % 10000) / 1000.0},
          {"acc", ((h >> 16) % 1000) / 1000.0}};
}

absl::StatusOr<JobOutcome> SyntheticExecutor::Run(const qgrid::v1::Job& job,
                                                  JobControl* ctl) {
  if (job.kind() != "synthetic") {
    return absl::UnimplementedError("the synthetic executor cannot run a '" +
                                    job.kind() + "' job");
  }
  json test = json::parse(job.test_json(), nullptr, false);
  if (!test.is_object()) test = json::object();
  json syn = test.value("synthetic", json::object());
  int64_t quantize_ms = syn.value("quantize_ms", int64_t{0});
  int64_t duration_ms =
      test.value("duration_ms", syn.value("duration_ms", int64_t{0}));
  if (!held_.Get(job.quant_key())) {
    if (!SleepWithControl(quantize_ms, "quantize", ctl)) {
      return absl::CancelledError("cancelled while quantizing");
    }
    held_.Put(job.quant_key(), std::make_shared<bool>(true));
  }
  if (!SleepWithControl(duration_ms, "eval", ctl)) {
    return absl::CancelledError("cancelled while evaluating");
  }
  if (test.contains("fail")) {
    return absl::InternalError(test["fail"].get<std::string>());
  }
  int64_t fail_attempts = test.value("fail_attempts", int64_t{0});
  if (job.attempt() <= fail_attempts) {
    return absl::InternalError(
        absl::StrCat("synthetic failure on attempt ", job.attempt()));
  }
  JobOutcome out;
  out.metrics = MetricsFor(job.content_key());
  out.quant_report_json =
      json{{"synthetic", true}, {"quant_key", job.quant_key()}}.dump();
  out.efficiency_json = json{{"duration_ms", duration_ms}}.dump();
  return out;
}

}  // namespace qgrid::worker
