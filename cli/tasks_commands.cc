// `qgrid tasks`: the built-in evaluation tasks and their data layout. In the
// torch-free `qgrid` executable (it reads only the task registry).
#include <cstdio>
#include <iostream>
#include <memory>

#include "absl/strings/str_join.h"
#include "cli/commands.h"
#include "cli/exit_code.h"
#include "eval/task_config.h"
#include "nlohmann/json.hpp"

namespace qgrid::cli {
namespace {

int RunTasks(bool json) {
  auto all = eval::ListBuiltinTasks();
  if (!all.ok()) return ReportError("tasks", all.status());
  if (json) {
    nlohmann::json out = nlohmann::json::array();
    for (const auto& t : *all) {
      nlohmann::json files;
      for (const auto& [split, pats] : t.data_files) files[split] = pats;
      out.push_back({{"task", t.task},
                     {"output_type", eval::OutputTypeName(t.output_type)},
                     {"num_fewshot", t.num_fewshot},
                     {"fixed_fewshot", t.fixed_fewshot},
                     {"metrics", t.metrics},
                     {"data_files", files},
                     {"subjects", t.subjects.size()},
                     {"documentation", t.documentation}});
    }
    std::cout << out.dump(2) << "\n";
    return 0;
  }
  std::printf(
      "Built-in tasks (%s); data under --data-dir / QGRID_DATA_DIR "
      "(now: %s)\n\n",
      absl::StrJoin(eval::BuiltinTasksDirs(), ":").c_str(),
      eval::ResolveDataDir("").c_str());
  for (const auto& t : *all) {
    std::printf("%-18s %-16s %d-shot  ", t.task.c_str(),
                eval::OutputTypeName(t.output_type),
                t.num_fewshot + t.fixed_fewshot);
    bool first = true;
    for (const auto& [split, pats] : t.data_files)
      for (const auto& p : pats) {
        std::printf("%s%s: %s", first ? "" : ", ", split.c_str(), p.c_str());
        first = false;
      }
    if (!t.subjects.empty()) std::printf("  [%zu subjects]", t.subjects.size());
    std::printf("\n");
  }
  std::printf(
      "\nA task is also any FILE.yaml in the same format; "
      "`qgrid tasks --json` shows each task's documentation.\n");
  return 0;
}

}  // namespace

void RegisterTasksCommand(CLI::App& app) {
  auto tasks_json = std::make_shared<bool>(false);
  CLI::App* ts = app.add_subcommand(
      "tasks",
      "List the built-in evaluation tasks and where each expects "
      "its data files");
  ts->add_flag("--json", *tasks_json,
               "Print the list as JSON, with each task's documentation");
  ts->callback([tasks_json] { SetExitCode(RunTasks(*tasks_json)); });
}

}  // namespace qgrid::cli
