// Results documents of several tasks, and their text table.
//
// MergeResults folds one task's results document (eval::Evaluate's, in
// lm-eval's layout: results, n-shot, n-samples, groups, config,
// efficiency) into a document of several tasks: results/n-shot/n-samples/
// groups by task, configs[task] = its config, the latest efficiency. The
// first document is taken as is. FormatResultsTable renders such a
// document as the lines `qgrid eval` prints: per task its metrics with
// "± stderr", n and shots; group accuracies; the efficiency line.
#ifndef QGRID_EVAL_RESULTS_TEXT_H_
#define QGRID_EVAL_RESULTS_TEXT_H_

#include <nlohmann/json.hpp>
#include <string>

namespace qgrid::eval {

void MergeResults(const nlohmann::json& one, const std::string& task,
                  nlohmann::json* all);

std::string FormatResultsTable(const nlohmann::json& results);

}  // namespace qgrid::eval

#endif  // QGRID_EVAL_RESULTS_TEXT_H_
