#include "coordinator/spec_tasks.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "eval/task_config.h"

namespace qgrid::coordinator {
namespace {

size_t EditDistance(const std::string& a, const std::string& b) {
  std::vector<size_t> prev(b.size() + 1), cur(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) prev[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    cur[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1,
                         prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1)});
    }
    std::swap(prev, cur);
  }
  return prev[b.size()];
}

absl::Status Err(const std::string& file, const YAML::Node& n,
                 const std::string& where, const std::string& msg) {
  YAML::Mark m = n.Mark();
  std::string pos =
      m.is_null() ? file
                  : absl::StrCat(file, ":", m.line + 1, ":", m.column + 1);
  return absl::InvalidArgumentError(absl::StrCat(pos, ": ", where, ": ", msg));
}

// Checks one task name at node `n`.
absl::Status CheckTask(const std::string& file, const YAML::Node& n,
                       const std::string& where,
                       const std::vector<std::string>& known) {
  if (!n.IsScalar()) return absl::OkStatus();  // the structural check says so
  const std::string name = n.Scalar();
  if (eval::IsTaskFileName(name))
    return absl::OkStatus();  // under a worker's data root
  std::string base = name.substr(0, name.find(':'));
  if (std::find(known.begin(), known.end(), base) == known.end()) {
    std::string hint;
    size_t best = 3;  // only close misspellings
    for (const auto& k : known) {
      size_t d = EditDistance(base, k);
      if (d < best) {
        best = d;
        hint = absl::StrCat(" (did you mean '", k, "'?)");
      }
    }
    return Err(file, n, where,
               absl::StrCat("unknown task '", base, "'", hint,
                            "; known tasks: ", absl::StrJoin(known, ", "),
                            "; or name a task FILE.yaml under the workers' "
                            "--data-dir (`qgrid tasks` lists the built-in "
                            "ones)"));
  }
  // NAME:SUBSET: the subset must exist too.
  auto t = eval::ResolveTask(name);
  if (!t.ok()) return Err(file, n, where, std::string(t.status().message()));
  return absl::OkStatus();
}

}  // namespace

absl::Status ValidateSpecTasks(const std::string& yaml_text,
                               const std::string& file) {
  YAML::Node root;
  try {
    root = YAML::Load(yaml_text);
  } catch (const YAML::Exception& e) {
    return absl::InvalidArgumentError(absl::StrCat(
        file, ":", e.mark.line + 1, ":", e.mark.column + 1, ": ", e.msg));
  }
  if (!root.IsMap()) return absl::OkStatus();
  if (root["kind"] && root["kind"].IsScalar() &&
      root["kind"].Scalar() == "synthetic") {
    return absl::OkStatus();
  }
  auto all = eval::ListBuiltinTasks();
  if (!all.ok()) return all.status();
  std::vector<std::string> known;
  for (const auto& t : *all) known.push_back(t.task);

  const YAML::Node tests = root["tests"];
  if (tests && tests.IsSequence()) {
    for (size_t i = 0; i < tests.size(); ++i) {
      if (!tests[i].IsMap() || !tests[i]["task"]) continue;
      absl::Status s = CheckTask(file, tests[i]["task"],
                                 absl::StrCat("tests[", i, "].task"), known);
      if (!s.ok()) return s;
    }
  }
  const YAML::Node cal = root["calibration"];
  if (cal && cal.IsSequence()) {
    for (size_t i = 0; i < cal.size(); ++i) {
      const YAML::Node c = cal[i];
      if (!c.IsMap()) continue;
      // What the worker resolves as a task (worker/real_executor.cc): `task`,
      // else `dataset` when there is no `path`.
      const char* key = c["task"]                    ? "task"
                        : !c["path"] && c["dataset"] ? "dataset"
                                                     : nullptr;
      if (!key) continue;
      absl::Status s = CheckTask(
          file, c[key], absl::StrCat("calibration[", i, "].", key), known);
      if (!s.ok()) return s;
    }
  }
  return absl::OkStatus();
}

}  // namespace qgrid::coordinator
