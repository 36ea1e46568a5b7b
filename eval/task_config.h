// Evaluation tasks as YAML files, in the style of lm-evaluation-harness.
//
// A task names its data files (relative to the data directory, globs and a
// `{subject}` placeholder allowed), their format, the splits, the prompt
// templates (eval/template.h), the output type and metrics:
//
//   task: arc_easy
//   data_files: {test: arc_easy/arc_easy.jsonl}
//   format: jsonl                  # jsonl|json|squad|csv|tsv|text|lines
//   test_split: test
//   fewshot_split: test            # shots never include the scored doc
//   output_type: multiple_choice   # perplexity|multiple_choice|mc_letter|
//                                  # classification|generate|loglikelihood
//   doc_to_text: "{{query}}\nAnswer:"
//   doc_to_choice: "{{choices}}"
//   doc_to_target: "{{gold}}"
//   metrics: [acc, acc_norm]
//   num_fewshot: 0
//
// Built-in tasks live in eval/tasks/*.yaml (the directory is compiled in;
// $QGRID_TASKS_DIR overrides it). A user passes their own FILE.yaml instead
// of a name. Data is found under --data-dir, else $QGRID_DATA_DIR.
// `ceval:humanities` / `ceval:law` select a subset of a task's subjects by
// category or subject name.
//
// Thread-safety: TaskConfig is a plain value; the loaders are pure.
#ifndef QGRID_EVAL_TASK_CONFIG_H_
#define QGRID_EVAL_TASK_CONFIG_H_

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace qgrid::eval {

enum class OutputType {
  kPerplexity,
  kMultipleChoice,
  kMcLetter,
  kClassification,
  kGenerate,
  // One (context, target) request per document: acc = the target is the
  // greedy continuation, perplexity = exp(-mean ll) (LAMBADA).
  kLoglikelihood
};
const char* OutputTypeName(OutputType t);

// One subject of a grouped task (C-Eval, CMMLU, MMLU, BOSS).
struct Subject {
  std::string id;        // file stem, e.g. "computer_network"
  std::string name;      // shown in prompts, e.g. "计算机网络"
  std::string category;  // e.g. "STEM", "Humanities"
};

struct TaskConfig {
  std::string task;           // name
  std::string source;         // the YAML file it came from (error messages)
  std::string description;    // template, prepended once before the shots
  std::string documentation;  // where the data comes from, expected layout

  // split name -> file patterns (relative to the data dir unless absolute).
  std::map<std::string, std::vector<std::string>> data_files;
  std::string format;  // "" = by extension
  // `lines` format: a line splits into these fields at the first
  // fields.size()-1 occurrences of line_delimiter ("LABEL sentence").
  std::vector<std::string> line_fields;
  std::string line_delimiter = " ";
  // `json` format: the list of documents under this dotted key ("" = root).
  std::string json_records;

  std::string test_split = "test";
  std::string validation_split;
  std::string training_split;
  std::string fewshot_split;  // "" = training, else validation, else test
  std::string fewshot_sampler = "random";  // random | first_n
  // The paper's carving rule (arXiv 2406.12928 Sec. 3) for test-only data:
  // `carve_size` docs drawn from the test split with `carve_seed` become the
  // split named `carve_split` and are removed from the test split.
  int carve_size = 0;
  uint64_t carve_seed = 42;
  std::string carve_split = "train";

  OutputType output_type = OutputType::kMultipleChoice;
  std::string doc_to_text;
  // Either a YAML list of templates or one template resolving to a list.
  std::vector<std::string> doc_to_choice_list;
  std::string doc_to_choice;
  std::string doc_to_target;
  // multiple_choice with `multiple_input: true` (WinoGrande's partial
  // evaluation): the choices are contexts, doc_to_target is the shared
  // continuation and doc_to_gold the index of the right context.
  bool multiple_input = false;
  std::string doc_to_gold;
  std::string target_delimiter = " ";
  std::string fewshot_delimiter = "\n\n";
  std::vector<std::string> metrics;
  int num_fewshot = 0;
  uint64_t seed = 1234;  // few-shot sampling (lm-eval's default seed)

  // classification: "generate" (the paper's way: greedy answer mapped to a
  // label word, unparseable = wrong) or "loglikelihood" (argmax over labels).
  std::string classification_mode = "loglikelihood";
  // generate / classification(generate).
  int max_gen_toks = 32;
  std::vector<std::string> until = {"\n\n"};

  // perplexity: "rolling" (lm-eval word/byte perplexity, bits per byte) or
  // "gptq" (non-overlapping windows of `seqlen`, eval/perplexity.h).
  std::string perplexity_style = "rolling";
  int64_t seqlen = 2048;

  // Grouped tasks: `{subject}` in data_files expands to each subject id.
  std::vector<Subject> subjects;
};

// Parses YAML text; `source` names it in errors.
absl::StatusOr<TaskConfig> ParseTaskConfig(const std::string& yaml,
                                           const std::string& source);
absl::StatusOr<TaskConfig> LoadTaskConfigFile(const std::string& path);

// The built-in tasks directory ($QGRID_TASKS_DIR or the compiled-in path).
std::string BuiltinTasksDir();
// Every built-in task, sorted by name.
absl::StatusOr<std::vector<TaskConfig>> ListBuiltinTasks();
// NAME (built-in), NAME:SUBSET (subjects by category or id, case-insensitive)
// or a path to a .yaml file.
absl::StatusOr<TaskConfig> ResolveTask(const std::string& name_or_path);
// Keeps only the subjects whose category or id equals `subset`.
absl::StatusOr<TaskConfig> SelectSubjects(const TaskConfig& config,
                                          const std::string& subset);

// --data-dir if non-empty, else $QGRID_DATA_DIR, else "data".
std::string ResolveDataDir(const std::string& flag);

}  // namespace qgrid::eval

#endif  // QGRID_EVAL_TASK_CONFIG_H_
