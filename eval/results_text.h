// Results documents of several tasks, and their text table.
//
// MergeResults folds one task's results document (eval::Evaluate's, in
// lm-eval's layout: results, n-shot, n-samples, groups, config,
// efficiency) into a document of several tasks: results/n-shot/n-samples/
// groups by task, configs[task] = its config, the latest efficiency.
// FinishResults then completes it with the rest of the keys lm-eval's
// results file has (tests/conformance/test_results_schema.py compares them
// with a file lm-eval 0.4.13 writes): "configs" for every task, "versions"
// (qgrid's task version, the YAML's `version`, default 1), "higher_is_better"
// per metric, "group_subtasks" (a grouped task's subjects; plain tasks
// have no entry, as in lm-eval),
// "config" (the run: model, model_args, batch_size, device, limit,
// fewshot_seed, ...) and "date" (seconds since the epoch). The
// per-task config of a single Evaluate() stays under "config" until then.
// FormatResultsTable renders such a
// document as the lines `qgrid eval` prints: per task its metrics with
// "± stderr", n and shots; group accuracies; the efficiency line.
#ifndef QGRID_EVAL_RESULTS_TEXT_H_
#define QGRID_EVAL_RESULTS_TEXT_H_

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "eval/task_config.h"

namespace qgrid::eval {

void MergeResults(const nlohmann::json& one, const std::string& task,
                  nlohmann::json* all);

// `run` becomes "config"; `tasks` are the evaluated tasks, in order.
void FinishResults(const std::vector<TaskConfig>& tasks,
                   const nlohmann::json& run, nlohmann::json* all);

// lm-eval's higher_is_better of a metric: false for the perplexities,
// bits_per_byte and CrowS-Pairs' likelihood_diff and pct_stereotype (as
// lm-eval's task configs say), true otherwise.
bool HigherIsBetter(const std::string& metric);

std::string FormatResultsTable(const nlohmann::json& results);

}  // namespace qgrid::eval

#endif  // QGRID_EVAL_RESULTS_TEXT_H_
