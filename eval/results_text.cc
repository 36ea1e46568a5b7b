#include "eval/results_text.h"

#include <chrono>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace qgrid::eval {

void MergeResults(const nlohmann::json& one, const std::string& task,
                  nlohmann::json* all) {
  if (all->is_null()) {
    *all = one;
    (*all)["configs"][task] = one["config"];
    return;
  }
  for (const char* k : {"results", "n-shot", "n-samples"}) {
    (*all)[k].update(one[k]);
  }
  if (one.contains("groups")) (*all)["groups"].update(one["groups"]);
  (*all)["configs"][task] = one["config"];
  (*all)["efficiency"] = one["efficiency"];
}

bool HigherIsBetter(const std::string& metric) {
  static const char* kLower[] = {"perplexity",      "word_perplexity",
                                 "byte_perplexity", "bits_per_byte",
                                 "likelihood_diff", "pct_stereotype"};
  for (const char* m : kLower)
    if (metric == m) return false;
  return true;
}

void FinishResults(const std::vector<TaskConfig>& tasks,
                   const nlohmann::json& run, nlohmann::json* all) {
  nlohmann::json& a = *all;
  for (const TaskConfig& t : tasks) {
    a["versions"][t.task] = t.version;
    nlohmann::json hib = nlohmann::json::object();
    if (a["results"].contains(t.task)) {
      for (const auto& [key, v] : a["results"][t.task].items()) {
        const std::string m = key.substr(0, key.find(','));
        // Metrics are "name,filter"; name, alias, sample_len are not.
        if (key.find(',') == std::string::npos ||
            m.find("_stderr") != std::string::npos || !v.is_number())
          continue;
        hib[m] = HigherIsBetter(m);
      }
    }
    a["higher_is_better"][t.task] = hib;
    // lm-eval lists subtasks of groups only ({} for plain tasks).
    if (!a.contains("group_subtasks"))
      a["group_subtasks"] = nlohmann::json::object();
    if (!t.subjects.empty()) {
      nlohmann::json subtasks = nlohmann::json::array();
      for (const auto& s : t.subjects) subtasks.push_back(s.id);
      a["group_subtasks"][t.task] = subtasks;
    }
  }
  a["config"] = run;
  a["date"] = std::chrono::duration<double>(
                  std::chrono::system_clock::now().time_since_epoch())
                  .count();
}

std::string FormatResultsTable(const nlohmann::json& result) {
  std::string out;
  for (const auto& [task, metrics] : result["results"].items()) {
    absl::StrAppendFormat(&out, "%-24s", task);
    bool first = true;
    for (const auto& [key, value] : metrics.items()) {
      if (key.find(',') == std::string::npos ||
          key.find("_stderr") != std::string::npos || !value.is_number()) {
        continue;
      }
      std::string name = key.substr(0, key.find(','));
      std::string stderr_key = name + "_stderr,none";
      absl::StrAppendFormat(&out, "%s%s %.4f", first ? "" : "  ", name,
                            value.get<double>());
      if (metrics.contains(stderr_key) && metrics[stderr_key].is_number()) {
        absl::StrAppendFormat(&out, " ± %.4f",
                              metrics[stderr_key].get<double>());
      }
      first = false;
    }
    absl::StrAppendFormat(&out, "  (n=%d, %d-shot)\n",
                          result["n-samples"][task]["effective"].get<int64_t>(),
                          result["n-shot"][task].get<int>());
  }
  if (result.contains("groups")) {
    for (const auto& [g, m] : result["groups"].items()) {
      if (!m.contains("acc,none")) continue;
      absl::StrAppendFormat(&out, "  %-30s acc %.4f (n=%d)\n", g,
                            m["acc,none"].get<double>(), m["n"].get<int64_t>());
    }
  }
  if (result.contains("efficiency")) {
    const auto& e = result["efficiency"];
    absl::StrAppendFormat(&out, "weights %.2f MiB, peak RSS %.1f MiB, %.1f s",
                          e["weight_bytes"].get<double>() / (1 << 20),
                          e["peak_rss_bytes"].get<double>() / (1 << 20),
                          e["eval_seconds"].get<double>());
    if (e.contains("prefill_tokens_per_s")) {
      absl::StrAppendFormat(&out, ", prefill %.0f tok/s, decode %.1f tok/s",
                            e["prefill_tokens_per_s"].get<double>(),
                            e["decode_tokens_per_s"].get<double>());
    }
    out += "\n";
  }
  return out;
}

}  // namespace qgrid::eval
