#include "eval/task_config.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "common/file_util.h"
#include "common/install_paths.h"
#include "common/status_macros.h"
#include "eval/doc_processors.h"

#ifndef QGRID_TASKS_DIR
#define QGRID_TASKS_DIR "eval/tasks"
#endif

namespace qgrid::eval {
namespace {

namespace fs = std::filesystem;

absl::Status FieldError(const TaskConfig& c, const std::string& field,
                        const YAML::Node& node, const std::string& what) {
  std::string where = c.source;
  if (node.IsDefined() && node.Mark().line >= 0)
    where += absl::StrCat(":", node.Mark().line + 1);
  return absl::InvalidArgumentError(absl::StrCat(
      "task '", c.task, "' (", where, "): field '", field, "': ", what));
}

absl::StatusOr<std::vector<std::string>> StringList(const TaskConfig& c,
                                                    const std::string& field,
                                                    const YAML::Node& n) {
  std::vector<std::string> out;
  if (n.IsScalar()) {
    out.push_back(n.as<std::string>());
  } else if (n.IsSequence()) {
    for (const auto& e : n) {
      if (!e.IsScalar()) return FieldError(c, field, e, "expected strings");
      out.push_back(e.as<std::string>());
    }
  } else {
    return FieldError(c, field, n, "expected a string or a list of strings");
  }
  return out;
}

}  // namespace

const char* OutputTypeName(OutputType t) {
  switch (t) {
    case OutputType::kPerplexity:
      return "perplexity";
    case OutputType::kMultipleChoice:
      return "multiple_choice";
    case OutputType::kMcLetter:
      return "mc_letter";
    case OutputType::kClassification:
      return "classification";
    case OutputType::kGenerate:
      return "generate";
    case OutputType::kLoglikelihood:
      return "loglikelihood";
  }
  return "?";
}

absl::StatusOr<TaskConfig> ParseTaskConfig(const std::string& yaml,
                                           const std::string& source) {
  TaskConfig c;
  c.source = source;
  YAML::Node root;
  try {
    root = YAML::Load(yaml);
  } catch (const YAML::Exception& e) {
    return absl::InvalidArgumentError(
        absl::StrCat(source, ":", e.mark.line + 1, ": invalid YAML: ", e.msg));
  }
  if (!root.IsMap())
    return absl::InvalidArgumentError(source + ": a task YAML is a mapping");
  if (!root["task"] || !root["task"].IsScalar())
    return absl::InvalidArgumentError(source + ": missing field 'task'");
  c.task = root["task"].as<std::string>();

  static const std::set<std::string> kKnown = {"task",
                                               "description",
                                               "documentation",
                                               "data_files",
                                               "format",
                                               "line_fields",
                                               "line_delimiter",
                                               "json_records",
                                               "test_split",
                                               "validation_split",
                                               "training_split",
                                               "fewshot_split",
                                               "fewshot_sampler",
                                               "carve_size",
                                               "carve_seed",
                                               "carve_split",
                                               "output_type",
                                               "doc_to_text",
                                               "doc_to_choice",
                                               "doc_to_target",
                                               "doc_to_gold",
                                               "multiple_input",
                                               "target_delimiter",
                                               "fewshot_delimiter",
                                               "metrics",
                                               "num_fewshot",
                                               "fixed_fewshot",
                                               "zeroshot_description",
                                               "seed",
                                               "version",
                                               "classification_mode",
                                               "max_gen_toks",
                                               "until",
                                               "generation_kwargs",
                                               "perplexity_style",
                                               "seqlen",
                                               "subjects",
                                               "target_labels",
                                               "doc_to_labels",
                                               "process_docs",
                                               "doc_filter",
                                               "label_match",
                                               "label_aliases",
                                               "join_delimiter",
                                               "max_docs",
                                               "max_windows"};
  try {
    for (const auto& kv : root) {
      std::string key = kv.first.as<std::string>();
      if (!kKnown.count(key))
        return FieldError(
            c, key, kv.first,
            "unknown field (known: " + absl::StrJoin(kKnown, ", ") + ")");
    }
    auto str = [&](const char* key, std::string* out) {
      if (root[key]) *out = root[key].as<std::string>();
    };
    str("description", &c.description);
    str("zeroshot_description", &c.zeroshot_description);
    str("documentation", &c.documentation);
    str("format", &c.format);
    str("line_delimiter", &c.line_delimiter);
    str("json_records", &c.json_records);
    str("test_split", &c.test_split);
    str("validation_split", &c.validation_split);
    str("training_split", &c.training_split);
    str("fewshot_split", &c.fewshot_split);
    str("fewshot_sampler", &c.fewshot_sampler);
    str("carve_split", &c.carve_split);
    str("doc_to_text", &c.doc_to_text);
    str("doc_to_target", &c.doc_to_target);
    str("doc_to_gold", &c.doc_to_gold);
    str("target_delimiter", &c.target_delimiter);
    str("fewshot_delimiter", &c.fewshot_delimiter);
    str("classification_mode", &c.classification_mode);
    str("perplexity_style", &c.perplexity_style);
    str("doc_to_labels", &c.doc_to_labels);
    str("process_docs", &c.process_docs);
    str("label_match", &c.label_match);
    str("join_delimiter", &c.join_delimiter);
    if (root["max_docs"]) c.max_docs = root["max_docs"].as<int64_t>();
    if (root["max_windows"]) c.max_windows = root["max_windows"].as<int64_t>();
    if (root["target_labels"]) {
      QG_ASSIGN_OR_RETURN(c.target_labels, StringList(c, "target_labels",
                                                      root["target_labels"]));
    }
    if (const YAML::Node n = root["label_aliases"]) {
      if (!n.IsMap())
        return FieldError(c, "label_aliases", n, "expected {answer: label}");
      for (const auto& kv : n)
        c.label_aliases[kv.first.as<std::string>()] =
            kv.second.as<std::string>();
    }
    if (const YAML::Node n = root["doc_filter"]) {
      if (!n.IsMap() || !n["field"] ||
          (n["equals"] ? 1 : 0) + (n["starts_with"] ? 1 : 0) != 1)
        return FieldError(c, "doc_filter", n,
                          "expected {field: F, equals: V} or {field: F, "
                          "starts_with: V}");
      for (const auto& kv : n) {
        const std::string k = kv.first.as<std::string>();
        if (k != "field" && k != "equals" && k != "starts_with")
          return FieldError(c, "doc_filter." + k, kv.first,
                            "unknown field (known: equals, field, "
                            "starts_with)");
      }
      c.doc_filter.field = n["field"].as<std::string>();
      if (n["equals"]) c.doc_filter.equals = n["equals"].as<std::string>();
      if (n["starts_with"])
        c.doc_filter.starts_with = n["starts_with"].as<std::string>();
    }
    if (root["line_fields"]) {
      QG_ASSIGN_OR_RETURN(c.line_fields,
                          StringList(c, "line_fields", root["line_fields"]));
    }
    if (root["carve_size"]) c.carve_size = root["carve_size"].as<int>();
    if (root["carve_seed"]) c.carve_seed = root["carve_seed"].as<uint64_t>();
    if (root["num_fewshot"]) c.num_fewshot = root["num_fewshot"].as<int>();
    if (root["fixed_fewshot"])
      c.fixed_fewshot = root["fixed_fewshot"].as<int>();
    if (root["seed"]) c.seed = root["seed"].as<uint64_t>();
    if (root["version"]) c.version = root["version"].as<double>();
    if (root["seqlen"]) c.seqlen = root["seqlen"].as<int64_t>();
    if (root["multiple_input"])
      c.multiple_input = root["multiple_input"].as<bool>();
    if (root["max_gen_toks"]) c.max_gen_toks = root["max_gen_toks"].as<int>();
    if (root["until"]) {
      QG_ASSIGN_OR_RETURN(c.until, StringList(c, "until", root["until"]));
    }
    // lm-eval nests these under generation_kwargs.
    if (const YAML::Node g = root["generation_kwargs"]) {
      if (g["max_gen_toks"]) c.max_gen_toks = g["max_gen_toks"].as<int>();
      if (g["until"]) {
        QG_ASSIGN_OR_RETURN(
            c.until, StringList(c, "generation_kwargs.until", g["until"]));
      }
    }
    if (const YAML::Node n = root["doc_to_choice"]) {
      if (n.IsSequence()) {
        QG_ASSIGN_OR_RETURN(c.doc_to_choice_list,
                            StringList(c, "doc_to_choice", n));
      } else {
        c.doc_to_choice = n.as<std::string>();
      }
    }
    if (const YAML::Node n = root["metrics"]) {
      // Accept plain names or lm-eval's [{metric: acc}, ...].
      if (n.IsSequence()) {
        for (const auto& e : n) {
          if (e.IsMap() && e["metric"])
            c.metrics.push_back(e["metric"].as<std::string>());
          else if (e.IsScalar())
            c.metrics.push_back(e.as<std::string>());
          else
            return FieldError(c, "metrics", e, "expected names");
        }
      } else {
        return FieldError(c, "metrics", n, "expected a list");
      }
    }
    if (const YAML::Node n = root["data_files"]) {
      if (n.IsScalar()) {
        c.data_files[c.test_split].push_back(n.as<std::string>());
      } else if (n.IsMap()) {
        for (const auto& kv : n) {
          QG_ASSIGN_OR_RETURN(
              c.data_files[kv.first.as<std::string>()],
              StringList(c, "data_files." + kv.first.as<std::string>(),
                         kv.second));
        }
      } else {
        return FieldError(c, "data_files", n,
                          "expected a path or {split: path(s)}");
      }
    } else {
      return FieldError(c, "data_files", root, "missing");
    }
    if (const YAML::Node n = root["subjects"]) {
      if (!n.IsSequence())
        return FieldError(c, "subjects", n, "expected a list");
      for (const auto& e : n) {
        Subject s;
        if (e.IsScalar()) {
          s.id = s.name = e.as<std::string>();
        } else if (e.IsMap() && e["id"]) {
          s.id = e["id"].as<std::string>();
          s.name = e["name"] ? e["name"].as<std::string>() : s.id;
          if (e["category"]) s.category = e["category"].as<std::string>();
        } else {
          return FieldError(c, "subjects", e,
                            "expected an id or {id, name, category}");
        }
        c.subjects.push_back(std::move(s));
      }
    }
    std::string ot = "multiple_choice";
    str("output_type", &ot);
    if (ot == "perplexity" || ot == "loglikelihood_rolling") {
      c.output_type = OutputType::kPerplexity;
    } else if (ot == "multiple_choice") {
      c.output_type = OutputType::kMultipleChoice;
    } else if (ot == "mc_letter") {
      c.output_type = OutputType::kMcLetter;
    } else if (ot == "classification") {
      c.output_type = OutputType::kClassification;
    } else if (ot == "generate" || ot == "generate_until") {
      c.output_type = OutputType::kGenerate;
    } else if (ot == "loglikelihood") {
      c.output_type = OutputType::kLoglikelihood;
    } else {
      return FieldError(
          c, "output_type", root["output_type"],
          "'" + ot +
              "' is not one of perplexity, multiple_choice, "
              "mc_letter, classification, generate, loglikelihood");
    }
  } catch (const YAML::Exception& e) {
    return absl::InvalidArgumentError(absl::StrCat(
        "task '", c.task, "' (", source, ":", e.mark.line + 1, "): ", e.msg));
  }

  // Consistency checks, so that mistakes surface before any model runs.
  // An explicit empty doc_to_text ("") is allowed: CrowS-Pairs and BLiMP
  // score whole sentences after the prefix token.
  if (c.output_type != OutputType::kPerplexity && !root["doc_to_text"] &&
      !c.multiple_input)
    return FieldError(c, "doc_to_text", root, "missing");
  bool needs_choices = c.output_type == OutputType::kMultipleChoice ||
                       c.output_type == OutputType::kMcLetter ||
                       c.output_type == OutputType::kClassification;
  if (needs_choices && c.doc_to_choice.empty() && c.doc_to_choice_list.empty())
    return FieldError(c, "doc_to_choice", root,
                      std::string("missing (needed by output_type ") +
                          OutputTypeName(c.output_type) + ")");
  if (c.output_type != OutputType::kPerplexity && c.doc_to_target.empty())
    return FieldError(c, "doc_to_target", root, "missing");
  if (c.multiple_input && c.doc_to_gold.empty())
    return FieldError(c, "doc_to_gold", root,
                      "missing (needed with multiple_input)");
  if (c.classification_mode != "generate" &&
      c.classification_mode != "loglikelihood")
    return FieldError(c, "classification_mode", root["classification_mode"],
                      "expected generate or loglikelihood");
  if (c.fixed_fewshot < 0)
    return FieldError(c, "fixed_fewshot", root["fixed_fewshot"],
                      "expected a count >= 0");
  if (c.fixed_fewshot > 0 && c.num_fewshot > 0)
    return FieldError(c, "fixed_fewshot", root["fixed_fewshot"],
                      "fixed demonstrations (inside description) and "
                      "num_fewshot sampled ones cannot be combined");
  if (c.fewshot_sampler != "random" && c.fewshot_sampler != "first_n")
    return FieldError(c, "fewshot_sampler", root["fewshot_sampler"],
                      "expected random or first_n");
  if (c.label_match != "first_occurrence" &&
      c.label_match != "normalized_exact")
    return FieldError(c, "label_match", root["label_match"],
                      "expected first_occurrence or normalized_exact");
  if (!c.process_docs.empty()) {
    const auto& names = DocProcessorNames();
    if (std::find(names.begin(), names.end(), c.process_docs) == names.end())
      return FieldError(
          c, "process_docs", root["process_docs"],
          "unknown processor (known: " + absl::StrJoin(names, ", ") + ")");
  }
  if (c.perplexity_style != "rolling" && c.perplexity_style != "gptq")
    return FieldError(c, "perplexity_style", root["perplexity_style"],
                      "expected rolling or gptq");
  if (c.metrics.empty()) {
    switch (c.output_type) {
      case OutputType::kPerplexity:
        c.metrics =
            c.perplexity_style == "gptq"
                ? std::vector<std::string>{"perplexity"}
                : std::vector<std::string>{"word_perplexity", "byte_perplexity",
                                           "bits_per_byte"};
        break;
      case OutputType::kMultipleChoice:
        c.metrics = {"acc", "acc_norm"};
        break;
      case OutputType::kMcLetter:
      case OutputType::kClassification:
        c.metrics = {"acc"};
        break;
      case OutputType::kGenerate:
        c.metrics = {"exact_match", "f1"};
        break;
      case OutputType::kLoglikelihood:
        c.metrics = {"perplexity", "acc"};
        break;
    }
  }
  return c;
}

absl::StatusOr<TaskConfig> LoadTaskConfigFile(const std::string& path) {
  auto text = ReadFileToString(path);
  if (!text.ok()) {
    return absl::Status(text.status().code(),
                        absl::StrCat("task file ", text.status().message()));
  }
  return ParseTaskConfig(*text, path);
}

DataSearchPath BuiltinTasksSearchPath() {
  return ResolveDataSearchPath("QGRID_TASKS_DIR", "tasks", QGRID_TASKS_DIR);
}

std::vector<std::string> BuiltinTasksDirs() {
  return BuiltinTasksSearchPath().dirs;
}

absl::StatusOr<std::vector<TaskConfig>> ListBuiltinTasks() {
  std::vector<TaskConfig> out;
  DataSearchPath search = BuiltinTasksSearchPath();
  const char* hint = search.origin == "$QGRID_TASKS_DIR"
                         ? ""
                         : " (set QGRID_TASKS_DIR to the task folders)";
  if (search.dirs.empty())
    return absl::NotFoundError(absl::StrCat(
        "no built-in tasks directory; looked in: ", DescribeTried(search),
        hint));
  std::set<std::string> seen;
  for (const std::string& dir : search.dirs) {
    std::error_code ec;
    if (!fs::is_directory(dir, ec))
      return absl::NotFoundError(
          absl::StrCat("built-in tasks directory not found: ", dir,
                       "; looked in: ", DescribeTried(search), hint));
    std::vector<std::string> files;
    for (const auto& e : fs::directory_iterator(dir, ec))
      if (e.path().extension() == ".yaml") files.push_back(e.path().string());
    std::sort(files.begin(), files.end());
    for (const auto& f : files) {
      QG_ASSIGN_OR_RETURN(TaskConfig c, LoadTaskConfigFile(f));
      // A name in an earlier directory shadows the same name in later ones.
      if (!seen.insert(c.task).second) continue;
      out.push_back(std::move(c));
    }
  }
  std::sort(
      out.begin(), out.end(),
      [](const TaskConfig& a, const TaskConfig& b) { return a.task < b.task; });
  return out;
}

absl::StatusOr<TaskConfig> SelectSubjects(const TaskConfig& config,
                                          const std::string& subset) {
  std::string want = absl::AsciiStrToLower(subset);
  TaskConfig c = config;
  c.subjects.clear();
  std::set<std::string> categories;
  for (const auto& s : config.subjects) {
    std::string cat = absl::AsciiStrToLower(s.category);
    // "Social Science" and "social_sciences" both match.
    std::string cat_norm = cat;
    std::replace(cat_norm.begin(), cat_norm.end(), ' ', '_');
    categories.insert(s.category);
    if (absl::AsciiStrToLower(s.id) == want || cat == want ||
        cat_norm == want || cat_norm + "s" == want || cat + "s" == want)
      c.subjects.push_back(s);
  }
  if (c.subjects.empty())
    return absl::NotFoundError(absl::StrCat(
        "task '", config.task, "' has no subject or category '", subset,
        "' (categories: ", absl::StrJoin(categories, ", "), ")"));
  c.task = config.task + ":" + subset;
  return c;
}

bool IsTaskFileName(const std::string& name) {
  return (name.size() > 5 && absl::EndsWith(name, ".yaml")) ||
         (name.size() > 4 && absl::EndsWith(name, ".yml"));
}

absl::StatusOr<TaskConfig> ResolveTask(const std::string& name_or_path) {
  if (IsTaskFileName(name_or_path)) return LoadTaskConfigFile(name_or_path);
  std::string name = name_or_path, subset;
  if (size_t colon = name.find(':'); colon != std::string::npos) {
    subset = name.substr(colon + 1);
    name = name.substr(0, colon);
  }
  QG_ASSIGN_OR_RETURN(std::vector<TaskConfig> all, ListBuiltinTasks());
  for (auto& c : all) {
    if (c.task != name) continue;
    if (subset.empty()) return c;
    return SelectSubjects(c, subset);
  }
  std::vector<std::string> names;
  for (const auto& c : all) names.push_back(c.task);
  return absl::NotFoundError(absl::StrCat(
      "unknown task '", name, "'; built-in: ", absl::StrJoin(names, ", "),
      " (or pass a FILE.yaml)"));
}

std::string ResolveDataDir(const std::string& flag) {
  if (!flag.empty()) return flag;
  const char* env = std::getenv("QGRID_DATA_DIR");
  if (env && *env) return env;
  return "data";
}

}  // namespace qgrid::eval
