// Evaluation tasks as YAML files, in the style of lm-evaluation-harness.
//
// A task names its data files (relative to the data directory, globs and a
// `{subject}` placeholder allowed), their format, the splits, the prompt
// templates (eval/template.h), the output type and metrics:
//
//   task: arc_easy
//   data_files: {test: arc_easy/arc_easy.jsonl}
//   format: jsonl                  # jsonl|json|squad|csv|tsv|text|lines|rows
//   test_split: test
//   fewshot_split: test            # shots never include the scored doc
//   output_type: multiple_choice   # perplexity|multiple_choice|mc_letter|
//                                  # classification|generate|loglikelihood
//   doc_to_text: "{{query}}\nAnswer:"
//   doc_to_choice: "{{choices}}"
//   doc_to_target: "{{gold}}"
//   metrics: [acc, acc_norm]
//   num_fewshot: 0
//   fixed_fewshot: 3               # demonstrations inside `description`
//
// Built-in tasks are the *.yaml files of a search path of directories
// (compiled in: eval/tasks and every other module's tasks folder, set in the
// root CMakeLists.txt; $QGRID_TASKS_DIR, colon-separated, overrides it). A
// user passes their own FILE.yaml instead of a name. Data is found under
// --data-dir, else $QGRID_DATA_DIR. `ceval:humanities` / `ceval:law` select a
// subset of a task's subjects by category or subject name.
//
// Thread-safety: TaskConfig is a plain value; the loaders are pure.
#ifndef QGRID_EVAL_TASK_CONFIG_H_
#define QGRID_EVAL_TASK_CONFIG_H_

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/install_paths.h"

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
  // When set, the gold index is the position of the rendered doc_to_target
  // in this list (lm-eval's "{{['A', 'B', 'C', 'D'].index(answer)}}").
  std::vector<std::string> target_labels;
  // multiple_choice: a template giving one 0/1 label per choice; acc is
  // then the mc2 true-answer mass (TruthfulQA MC2:
  // "{{mc2_targets.labels}}"), eval/evaluate.h.
  std::string doc_to_labels;
  // A built-in document preprocessor (eval/doc_processors.h).
  std::string process_docs;
  // Keeps only the documents whose `field` (a template path, after
  // process_docs) equals `equals` or starts with `starts_with`, in every
  // split: lm-eval's per-subset filters, e.g. crows_pairs_english_gender
  // (crows_pairs/utils.py filter_dataset: bias_type.startswith("gender")).
  //   doc_filter: {field: bias_type, starts_with: gender}
  struct DocFilter {
    std::string field;  // "" = no filter
    std::string equals;
    std::string starts_with;
  };
  DocFilter doc_filter;
  std::string target_delimiter = " ";
  std::string fewshot_delimiter = "\n\n";
  std::vector<std::string> metrics;
  int num_fewshot = 0;
  uint64_t seed = 1234;  // few-shot sampling (lm-eval's default seed)
  // The task definition's version ("versions" in the results, as lm-eval's
  // metadata.version): raise it when a change moves the task's numbers.
  double version = 1.0;
  // Demonstrations written into `description` itself instead of sampled
  // from a split (BOSS: the fixed examples of MI-optimize's
  // get_fewshot_boss, 3 for SA/NLI, 2 for TD, 1 for EQA). The results'
  // n-shot reports this number. As MI-optimize treats its num_shot as a
  // flag, an explicit zero shots (--shots 0, a sweep's shots: [0]) selects
  // `zeroshot_description` (get_zeroshot_boss) and reports 0; any other
  // shot count keeps the fixed demonstrations. Exclusive with num_fewshot.
  int fixed_fewshot = 0;
  std::string zeroshot_description;

  // classification: "generate" (the paper's way: greedy answer mapped to a
  // label word, unparseable = wrong) or "loglikelihood" (argmax over labels).
  std::string classification_mode = "loglikelihood";
  // generate / classification(generate).
  int max_gen_toks = 32;
  std::vector<std::string> until = {"\n\n"};
  // classification(generate): how an answer maps to a label.
  //   first_occurrence  the label whose text occurs first in the answer
  //   normalized_exact  the answer, SQuAD-normalized (metrics.h) and then
  //                     mapped through label_aliases, equals the label
  //                     (BOSS's compute_metric; MI-optimize's aliases map
  //                     truncated answers such as "ent" -> "entailment")
  std::string label_match = "first_occurrence";
  std::map<std::string, std::string> label_aliases;

  // perplexity: "rolling" (lm-eval word/byte perplexity, bits per byte) or
  // "gptq" (non-overlapping windows of `seqlen`, eval/perplexity.h).
  std::string perplexity_style = "rolling";
  // A perplexity task scored GPTQ's way (token windows of one stream).
  bool IsGptqPerplexity() const {
    return output_type == OutputType::kPerplexity && perplexity_style == "gptq";
  }
  int64_t seqlen = 2048;
  // perplexity gptq: how documents are joined before tokenizing ("\n\n"
  // for WikiText-2, " " for GPTQ's ptb-new and c4-new), the first max_docs
  // documents only (c4-new: 1100) and at most max_windows windows (c4-new:
  // 256); 0 = all.
  std::string join_delimiter = "\n\n";
  int64_t max_docs = 0;
  int64_t max_windows = 0;

  // Grouped tasks: `{subject}` in data_files expands to each subject id.
  std::vector<Subject> subjects;
};

// Parses YAML text; `source` names it in errors.
absl::StatusOr<TaskConfig> ParseTaskConfig(const std::string& yaml,
                                           const std::string& source);
absl::StatusOr<TaskConfig> LoadTaskConfigFile(const std::string& path);

// Where the built-in tasks are (common/install_paths.h): $QGRID_TASKS_DIR
// split at ':' when set, else <exe dir>/../share/qgrid/tasks of an
// installed qgrid, else the compiled-in source-tree folders (eval/tasks,
// demo/tasks); with every place considered, for errors.
DataSearchPath BuiltinTasksSearchPath();
// Its directories, in search order.
std::vector<std::string> BuiltinTasksDirs();
// Every built-in task of every directory, sorted by name; a task name in an
// earlier directory shadows the same name in later ones. Fails when a
// directory is missing (the error lists every place looked in).
absl::StatusOr<std::vector<TaskConfig>> ListBuiltinTasks();
// Whether `name` names a task file (ends in .yaml or .yml) rather than a
// built-in task: the one such check for the CLI, the worker and calibration.
bool IsTaskFileName(const std::string& name);
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
