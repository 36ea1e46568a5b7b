#include "coordinator/sweep_spec.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <functional>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/hash.h"
#include "common/status_macros.h"
#include "quant/method_catalog.h"

namespace qgrid::coordinator {
namespace {

using json = nlohmann::json;

constexpr size_t kMaxString = 4096;
constexpr size_t kMaxName = 128;

enum class Type { kInt, kNumber, kBool, kString };

struct Param {
  Type type;
  double min = -1e300, max = 1e300;
  std::vector<std::string> choices;  // strings only, empty = any
};

// A method parameter as the parser checks it: the catalogue's type and the
// method's range (quant/method_catalog.h). A list value expands into one
// variant per element (e.g. bits: [4, 3, 2]).
Param MethodParamOf(const quant::MethodSpec& m, const quant::ParamSpec& p) {
  Param out;
  out.type = p.type == quant::ParamType::kInt      ? Type::kInt
             : p.type == quant::ParamType::kNumber ? Type::kNumber
             : p.type == quant::ParamType::kBool   ? Type::kBool
                                                   : Type::kString;
  out.min = quant::ParamMin(m, p);
  out.max = quant::ParamMax(m, p);
  out.choices = p.choices;
  return out;
}

const std::map<std::string, Param>& CalibrationKeys() {
  static const auto* m = new std::map<std::string, Param>{
      {"name", {Type::kString}},
      {"dataset", {Type::kString}},
      {"task", {Type::kString}},
      {"path", {Type::kString}},
      {"split", {Type::kString}},
      {"field", {Type::kString}},
      {"domain", {Type::kString}},
      {"samples", {Type::kInt, 1, 1 << 20}},
      {"seq_len", {Type::kInt, 1, 1 << 20}},
      {"seed", {Type::kInt, 0, 9e15}},
      {"packing", {Type::kBool}},
  };
  return *m;
}

const std::map<std::string, Param>& TestKeys() {
  static const auto* m = new std::map<std::string, Param>{
      {"name", {Type::kString}},
      {"task", {Type::kString}},
      {"dataset", {Type::kString}},
      {"path", {Type::kString}},
      {"split", {Type::kString}},
      {"domain", {Type::kString}},
      {"metric", {Type::kString}},
      {"limit", {Type::kInt, 1, 1e9}},
      {"seq_len", {Type::kInt, 1, 1 << 20}},
      {"batch_size", {Type::kInt, 1, 1 << 16}},
      // Synthetic jobs only: how long the job takes and a forced failure.
      {"duration_ms", {Type::kInt, 0, 3.6e6}},
      {"fail", {Type::kString}},
      {"fail_attempts", {Type::kInt, 0, 100}},
  };
  return *m;
}

const std::map<std::string, Param>& ModelKeys() {
  static const auto* m = new std::map<std::string, Param>{
      {"name", {Type::kString}},
      {"path", {Type::kString}},
      {"dtype", {Type::kString, 0, 0, {"float32", "float16", "bfloat16"}}},
  };
  return *m;
}

const std::vector<std::string>& FilterKeys() {
  static const auto* v = new std::vector<std::string>{
      "model", "method", "bits", "calibration", "test", "shots"};
  return *v;
}

class Parser {
 public:
  explicit Parser(std::string file) : file_(std::move(file)) {}

  absl::Status Err(const YAML::Node& n, const std::string& where,
                   const std::string& msg) const {
    YAML::Mark m = n.Mark();
    std::string pos =
        m.is_null() ? file_
                    : absl::StrCat(file_, ":", m.line + 1, ":", m.column + 1);
    return absl::InvalidArgumentError(
        absl::StrCat(pos, ": ", where.empty() ? "" : where + ": ", msg));
  }

  // A scalar of the given type, as JSON.
  absl::StatusOr<json> Scalar(const YAML::Node& n, const std::string& where,
                              const Param& p) const {
    if (!n.IsScalar()) {
      return Err(n, where, "expected a scalar value");
    }
    const std::string& raw = n.Scalar();
    try {
      switch (p.type) {
        case Type::kInt: {
          double d = n.as<double>();
          int64_t v = n.as<int64_t>();
          if (d < p.min || d > p.max) {
            return Err(n, where,
                       absl::StrCat("value ", raw, " out of range [",
                                    static_cast<int64_t>(p.min), ", ",
                                    static_cast<int64_t>(p.max), "]"));
          }
          return json(v);
        }
        case Type::kNumber: {
          double v = n.as<double>();
          if (v < p.min || v > p.max) {
            return Err(n, where,
                       absl::StrCat("value ", raw, " out of range [", p.min,
                                    ", ", p.max, "]"));
          }
          return json(v);
        }
        case Type::kBool:
          return json(n.as<bool>());
        case Type::kString:
          if (raw.size() > kMaxString) {
            return Err(n, where, "string longer than 4096 characters");
          }
          if (!p.choices.empty() &&
              std::find(p.choices.begin(), p.choices.end(), raw) ==
                  p.choices.end()) {
            return Err(n, where,
                       absl::StrCat("'", raw, "' is not one of: ",
                                    absl::StrJoin(p.choices, ", ")));
          }
          return json(raw);
      }
    } catch (const YAML::Exception&) {
    }
    const char* want = p.type == Type::kInt      ? "an integer"
                       : p.type == Type::kNumber ? "a number"
                       : p.type == Type::kBool   ? "true or false"
                                                 : "a string";
    return Err(n, where, absl::StrCat("expected ", want, ", got '", raw, "'"));
  }

  // A mapping whose keys all appear in `keys`; returns its JSON.
  absl::StatusOr<json> Entry(const YAML::Node& n, const std::string& where,
                             const std::map<std::string, Param>& keys) const {
    if (!n.IsMap()) return Err(n, where, "expected a mapping");
    json out = json::object();
    for (const auto& kv : n) {
      std::string k = kv.first.Scalar();
      auto it = keys.find(k);
      if (it == keys.end()) {
        std::vector<std::string> names;
        for (const auto& [name, p] : keys) names.push_back(name);
        return Err(kv.first, where,
                   absl::StrCat("unknown key '", k, "' (allowed: ",
                                absl::StrJoin(names, ", "), ")"));
      }
      QG_ASSIGN_OR_RETURN(out[k],
                          Scalar(kv.second, where + "." + k, it->second));
    }
    return out;
  }

  absl::StatusOr<std::string> Name(const YAML::Node& entry, const json& j,
                                   const std::string& where) const {
    if (!j.contains("name")) return Err(entry, where, "missing 'name'");
    std::string name = j["name"].get<std::string>();
    if (name.empty() || name.size() > kMaxName) {
      return Err(entry["name"], where, "name must be 1-128 characters");
    }
    return name;
  }

  absl::StatusOr<std::vector<NamedEntry>> NamedList(
      const YAML::Node& n, const std::string& axis,
      const std::map<std::string, Param>& keys,
      const std::vector<std::string>& one_of) const {
    if (!n.IsSequence() || n.size() == 0) {
      return Err(n, axis, "expected a non-empty list");
    }
    std::vector<NamedEntry> out;
    std::set<std::string> names;
    for (size_t i = 0; i < n.size(); ++i) {
      std::string where = absl::StrCat(axis, "[", i, "]");
      QG_ASSIGN_OR_RETURN(json j, Entry(n[i], where, keys));
      QG_ASSIGN_OR_RETURN(std::string name, Name(n[i], j, where));
      if (!names.insert(name).second) {
        return Err(n[i], where, "duplicate name '" + name + "'");
      }
      if (!one_of.empty()) {
        bool any = false;
        for (const auto& k : one_of) any = any || j.contains(k);
        if (!any) {
          return Err(n[i], where,
                     "needs one of: " + absl::StrJoin(one_of, ", "));
        }
      }
      NamedEntry e;
      e.name = name;
      e.config = j;
      // The I.I.D label: explicit `domain`, else the dataset/task it reads.
      for (const char* k : {"domain", "dataset", "task", "name"}) {
        if (j.contains(k)) {
          e.domain = j[k].get<std::string>();
          break;
        }
      }
      out.push_back(std::move(e));
    }
    return out;
  }

  // Expands one `methods` entry into its variants.
  absl::Status Method(const YAML::Node& n, const std::string& where,
                      std::vector<json>* out) const {
    if (n.IsScalar()) {
      // Shorthand: "- fp16".
      return MethodMap(n, where, n.Scalar(), {}, out);
    }
    if (!n.IsMap()) return Err(n, where, "expected a method mapping");
    if (!n["name"]) return Err(n, where, "missing 'name'");
    if (!n["name"].IsScalar()) return Err(n["name"], where, "expected a name");
    std::vector<std::pair<YAML::Node, YAML::Node>> params;
    for (const auto& kv : n) {
      if (kv.first.Scalar() == "name") continue;
      params.emplace_back(kv.first, kv.second);
    }
    return MethodMap(n["name"], where, n["name"].Scalar(), params, out);
  }

  absl::Status MethodMap(
      const YAML::Node& name_node, const std::string& where,
      const std::string& name,
      const std::vector<std::pair<YAML::Node, YAML::Node>>& params,
      std::vector<json>* out) const {
    const quant::MethodSpec* method = quant::FindMethod(name);
    if (method == nullptr) {
      return Err(name_node, where,
                 absl::StrCat("unknown method '", name, "' (known: ",
                              absl::StrJoin(KnownMethods(), ", "), ")"));
    }
    // Each parameter: a list of alternative values, under the catalogue's
    // name (an alias such as `damp` is accepted and normalized).
    std::vector<std::pair<std::string, std::vector<json>>> axes;
    bool has_bits = false;
    for (const auto& [k, v] : params) {
      const std::string& given = k.Scalar();
      const quant::ParamSpec* spec = quant::FindParam(given);
      const bool takes =
          spec != nullptr &&
          std::any_of(method->params.begin(), method->params.end(),
                      [&](const quant::MethodParam& mp) {
                        return mp.name == spec->name;
                      });
      if (!takes) {
        std::vector<std::string> names;
        for (const auto& mp : method->params) names.push_back(mp.name);
        std::sort(names.begin(), names.end());
        return Err(k, where,
                   absl::StrCat(
                       "method '", name, "' has no parameter '", given, "'",
                       names.empty()
                           ? std::string(" (it takes none)")
                           : " (allowed: " + absl::StrJoin(names, ", ") + ")"));
      }
      const std::string& key = spec->name;
      for (const auto& axis : axes) {
        if (axis.first == key) {
          return Err(k, where,
                     absl::StrCat("parameter '", key, "' given twice (as '",
                                  given, "')"));
        }
      }
      const Param param = MethodParamOf(*method, *spec);
      std::vector<json> values;
      std::string pwhere = where + "." + key;
      if (v.IsSequence()) {
        if (v.size() == 0) return Err(v, pwhere, "empty list");
        for (size_t i = 0; i < v.size(); ++i) {
          QG_ASSIGN_OR_RETURN(json x, Scalar(v[i], pwhere, param));
          values.push_back(x);
        }
      } else {
        QG_ASSIGN_OR_RETURN(json x, Scalar(v, pwhere, param));
        values.push_back(x);
      }
      if (key == "bits") has_bits = true;
      if (key == "group_size") {
        for (const auto& g : values) {
          if (g.get<int64_t>() == 0 || g.get<int64_t>() < -1) {
            return Err(v, pwhere, "group_size must be -1 (per channel) or > 0");
          }
        }
      }
      axes.emplace_back(key, values);
    }
    if (method->needs_bits && !has_bits) {
      return Err(name_node, where,
                 "method '" + name + "' needs 'bits' (e.g. bits: [4, 3])");
    }
    // Cartesian product of the parameter lists.
    std::vector<json> variants = {json{{"name", name}}};
    for (const auto& [key, values] : axes) {
      std::vector<json> next;
      for (const auto& base : variants) {
        for (const auto& v : values) {
          json x = base;
          x[key] = v;
          next.push_back(x);
        }
      }
      variants = std::move(next);
    }
    for (auto& v : variants) out->push_back(v);
    return absl::OkStatus();
  }

  absl::StatusOr<CellFilter> Filter(const YAML::Node& n,
                                    const std::string& where) const {
    if (!n.IsMap()) return Err(n, where, "expected a mapping of axis: value");
    CellFilter f;
    for (const auto& kv : n) {
      std::string k = kv.first.Scalar();
      if (std::find(FilterKeys().begin(), FilterKeys().end(), k) ==
          FilterKeys().end()) {
        return Err(kv.first, where,
                   absl::StrCat("unknown axis '", k, "' (allowed: ",
                                absl::StrJoin(FilterKeys(), ", "), ")"));
      }
      std::vector<std::string>& vals = f.match[k];
      if (kv.second.IsSequence()) {
        for (const auto& v : kv.second) {
          if (!v.IsScalar()) return Err(v, where + "." + k, "expected a value");
          vals.push_back(v.Scalar());
        }
      } else if (kv.second.IsScalar()) {
        vals.push_back(kv.second.Scalar());
      } else {
        return Err(kv.second, where + "." + k, "expected a value or a list");
      }
    }
    return f;
  }

  absl::StatusOr<SweepSpec> Parse(const std::string& text) const {
    if (text.size() > kMaxSpecBytes) {
      return absl::InvalidArgumentError(
          absl::StrCat(file_, ": spec is ", text.size(),
                       " bytes, more than the limit of ", kMaxSpecBytes));
    }
    YAML::Node root;
    try {
      root = YAML::Load(text);
    } catch (const YAML::ParserException& e) {
      return absl::InvalidArgumentError(absl::StrCat(
          file_, ":", e.mark.line + 1, ":", e.mark.column + 1, ": ", e.msg));
    }
    if (!root.IsMap()) {
      return absl::InvalidArgumentError(
          file_ +
          ":1:1: a sweep spec is a mapping (name, models, methods, ...)");
    }
    SweepSpec spec;
    spec.file = file_;
    static const std::set<std::string> kTop = {
        "name",        "description",  "kind",    "models",  "methods",
        "calibration", "tests",        "shots",   "seeds",   "repeats",
        "priority",    "max_attempts", "include", "exclude", "pairs",
        "resources",   "synthetic"};
    for (const auto& kv : root) {
      if (!kTop.count(kv.first.Scalar())) {
        return Err(
            kv.first, "",
            absl::StrCat("unknown key '", kv.first.Scalar(),
                         "' (allowed: ", absl::StrJoin(kTop, ", "), ")"));
      }
    }
    try {
      return ParseBody(root, spec);
    } catch (const YAML::Exception& e) {
      return absl::InvalidArgumentError(absl::StrCat(
          file_, ":", e.mark.line + 1, ":", e.mark.column + 1, ": ", e.msg));
    }
  }

  absl::StatusOr<SweepSpec> ParseBody(const YAML::Node& root,
                                      SweepSpec spec) const {
    Param str{Type::kString};
    if (root["name"]) {
      QG_ASSIGN_OR_RETURN(json n, Scalar(root["name"], "name", str));
      spec.name = n.get<std::string>();
      if (spec.name.size() > kMaxName) {
        return Err(root["name"], "name", "longer than 128 characters");
      }
    }
    if (root["kind"]) {
      QG_ASSIGN_OR_RETURN(
          json k, Scalar(root["kind"], "kind",
                         Param{Type::kString, 0, 0, {"eval", "synthetic"}}));
      spec.kind = k.get<std::string>();
    }
    for (const char* axis : {"models", "methods", "tests"}) {
      if (!root[axis]) {
        return Err(root, "", absl::StrCat("missing '", axis, "'"));
      }
    }
    QG_ASSIGN_OR_RETURN(spec.models,
                        NamedList(root["models"], "models", ModelKeys(), {}));
    if (spec.kind == "eval") {
      for (size_t i = 0; i < spec.models.size(); ++i) {
        if (!spec.models[i].config.contains("path")) {
          return Err(root["models"][i], absl::StrCat("models[", i, "]"),
                     "missing 'path'");
        }
      }
    }
    const YAML::Node& methods = root["methods"];
    if (!methods.IsSequence() || methods.size() == 0) {
      return Err(methods, "methods", "expected a non-empty list");
    }
    for (size_t i = 0; i < methods.size(); ++i) {
      QG_RETURN_IF_ERROR(
          Method(methods[i], absl::StrCat("methods[", i, "]"), &spec.methods));
    }
    bool any_calibrated = false;
    for (const auto& m : spec.methods) {
      any_calibrated |= MethodUsesCalibration(m["name"].get<std::string>());
    }
    if (root["calibration"]) {
      QG_ASSIGN_OR_RETURN(
          spec.calibration,
          NamedList(root["calibration"], "calibration", CalibrationKeys(),
                    {"dataset", "task", "path"}));
    } else if (any_calibrated) {
      return Err(root, "",
                 "a method that calibrates (gptq, awq, ...) needs a "
                 "'calibration' list");
    }
    QG_ASSIGN_OR_RETURN(
        spec.tests,
        NamedList(root["tests"], "tests", TestKeys(),
                  spec.kind == "eval" ? std::vector<std::string>{"task"}
                                      : std::vector<std::string>{}));
    if (spec.kind == "eval") {
      for (size_t i = 0; i < spec.tests.size(); ++i) {
        for (const char* k : {"duration_ms", "fail", "fail_attempts"}) {
          if (spec.tests[i].config.contains(k)) {
            return Err(root["tests"][i][k], absl::StrCat("tests[", i, "]"),
                       absl::StrCat("'", k, "' is for kind: synthetic only"));
          }
        }
      }
    }
    auto int_list = [&](const char* key, double lo, double hi,
                        auto* out) -> absl::Status {
      const YAML::Node& n = root[key];
      if (!n) return absl::OkStatus();
      out->clear();
      Param p{Type::kInt, lo, hi};
      // shots: `default` (or -1) is each task's own few-shot default.
      const bool is_shots = std::string(key) == "shots";
      auto is_default = [&](const YAML::Node& x) {
        return is_shots && x.IsScalar() &&
               (x.Scalar() == "default" || x.Scalar() == "-1");
      };
      if (n.IsScalar() && is_default(n)) {
        out->push_back(kTaskDefaultShots);
        return absl::OkStatus();
      }
      if (n.IsScalar()) {
        QG_ASSIGN_OR_RETURN(json v, Scalar(n, key, p));
        out->push_back(v.get<int64_t>());
        return absl::OkStatus();
      }
      if (!n.IsSequence() || n.size() == 0) {
        return Err(n, key, "expected an integer or a non-empty list");
      }
      for (const auto& x : n) {
        json v = kTaskDefaultShots;
        if (!is_default(x)) {
          QG_ASSIGN_OR_RETURN(v, Scalar(x, key, p));
        }
        if (std::find(out->begin(), out->end(), v.get<int64_t>()) !=
            out->end()) {
          return Err(x, key, "duplicate value " + x.Scalar());
        }
        out->push_back(v.get<int64_t>());
      }
      return absl::OkStatus();
    };
    QG_RETURN_IF_ERROR(int_list("shots", 0, 64, &spec.shots));
    QG_RETURN_IF_ERROR(int_list("seeds", 0, 9e15, &spec.seeds));
    auto one_int = [&](const char* key, double lo, double hi,
                       int* out) -> absl::Status {
      if (!root[key]) return absl::OkStatus();
      QG_ASSIGN_OR_RETURN(json v,
                          Scalar(root[key], key, Param{Type::kInt, lo, hi}));
      *out = static_cast<int>(v.get<int64_t>());
      return absl::OkStatus();
    };
    QG_RETURN_IF_ERROR(one_int("repeats", 1, 1000000, &spec.repeats));
    QG_RETURN_IF_ERROR(one_int("priority", -1000000, 1000000, &spec.priority));
    QG_RETURN_IF_ERROR(one_int("max_attempts", 1, 100, &spec.max_attempts));

    // Filters must name things that exist, or they silently match nothing.
    auto check_names = [&](const YAML::Node& n, const std::string& where,
                           const CellFilter& f) -> absl::Status {
      auto known = [&](const std::string& axis) {
        std::set<std::string> s;
        if (axis == "model")
          for (const auto& m : spec.models) s.insert(m.name);
        if (axis == "calibration")
          for (const auto& c : spec.calibration) s.insert(c.name);
        if (axis == "test")
          for (const auto& t : spec.tests) s.insert(t.name);
        if (axis == "method")
          for (const auto& m : spec.methods)
            s.insert(m["name"].get<std::string>());
        return s;
      };
      for (const auto& [axis, vals] : f.match) {
        auto s = known(axis);
        if (s.empty()) continue;  // bits/shots: values, not names
        for (const auto& v : vals) {
          if (!s.count(v)) {
            return Err(
                n[axis], where,
                absl::StrCat("no ", axis, " named '", v, "' in this spec"));
          }
        }
      }
      return absl::OkStatus();
    };
    for (const char* key : {"include", "exclude"}) {
      const YAML::Node& n = root[key];
      if (!n) continue;
      if (!n.IsSequence()) return Err(n, key, "expected a list of filters");
      for (size_t i = 0; i < n.size(); ++i) {
        std::string where = absl::StrCat(key, "[", i, "]");
        QG_ASSIGN_OR_RETURN(CellFilter f, Filter(n[i], where));
        QG_RETURN_IF_ERROR(check_names(n[i], where, f));
        (std::string(key) == "include" ? spec.include : spec.exclude)
            .push_back(f);
      }
    }
    if (const YAML::Node& n = root["pairs"]) {
      if (!n.IsMap()) {
        return Err(n, "pairs", "expected a mapping test: [calibration sets]");
      }
      for (const auto& kv : n) {
        std::string test = kv.first.Scalar();
        bool found = false;
        for (const auto& t : spec.tests) found = found || t.name == test;
        if (!found)
          return Err(kv.first, "pairs", "no test named '" + test + "'");
        std::vector<std::string> cals;
        if (kv.second.IsScalar()) {
          cals.push_back(kv.second.Scalar());
        } else if (kv.second.IsSequence()) {
          for (const auto& c : kv.second) cals.push_back(c.Scalar());
        } else {
          return Err(kv.second, "pairs." + test, "expected a list of names");
        }
        for (const auto& c : cals) {
          bool ok = false;
          for (const auto& e : spec.calibration) ok = ok || e.name == c;
          if (!ok) {
            return Err(kv.second, "pairs." + test,
                       "no calibration set named '" + c + "'");
          }
          spec.pairs[test].insert(c);
        }
      }
    }
    if (const YAML::Node& n = root["resources"]) {
      QG_ASSIGN_OR_RETURN(
          spec.resources,
          Entry(n, "resources",
                {{"gpu_memory_gb", {Type::kNumber, 0, 1e6}},
                 {"device", {Type::kString, 0, 0, {"cpu", "cuda"}}}}));
    }
    if (const YAML::Node& n = root["synthetic"]) {
      if (spec.kind != "synthetic") {
        return Err(n, "synthetic", "only for kind: synthetic");
      }
      QG_ASSIGN_OR_RETURN(spec.synthetic,
                          Entry(n, "synthetic",
                                {{"duration_ms", {Type::kInt, 0, 3.6e6}},
                                 {"quantize_ms", {Type::kInt, 0, 3.6e6}}}));
    }
    return spec;
  }

 private:
  std::string file_;
};

bool Matches(const CellFilter& f, const std::map<std::string, std::string>& c) {
  for (const auto& [axis, vals] : f.match) {
    auto it = c.find(axis);
    if (it == c.end()) return false;
    if (std::find(vals.begin(), vals.end(), it->second) == vals.end()) {
      return false;
    }
  }
  return true;
}

}  // namespace

const std::vector<std::string>& KnownMethods() { return quant::MethodNames(); }

bool MethodUsesCalibration(const std::string& m) {
  return quant::MethodUsesCalibration(m);
}

absl::StatusOr<SweepSpec> ParseSweepSpec(const std::string& yaml_text,
                                         const std::string& file) {
  return Parser(file.empty() ? "<spec>" : file).Parse(yaml_text);
}

std::string ContentKey(const nlohmann::json& job) {
  // nlohmann::json keeps object keys sorted, so dump() is canonical.
  return Sha256Hex(job.dump() + "\n" + QgridVersion());
}

v1::SweepSummary GridSummary::ToProto(int64_t cached) const {
  v1::SweepSummary out;
  for (const auto& [k, v] : axis_counts) (*out.mutable_axis_counts())[k] = v;
  out.set_grid_cells(grid_cells);
  out.set_jobs(jobs);
  out.set_quantizations(quantizations);
  out.set_evaluations(evaluations);
  out.set_duplicates_merged(duplicates_merged);
  out.set_cached(cached);
  return out;
}

json GridSummary::ToJson() const {
  return json{{"axis_counts", axis_counts},
              {"grid_cells", grid_cells},
              {"jobs", jobs},
              {"quantizations", quantizations},
              {"evaluations", evaluations},
              {"duplicates_merged", duplicates_merged}};
}

absl::StatusOr<ExpandedGrid> ExpandGrid(const SweepSpec& spec,
                                        int64_t max_jobs) {
  ExpandedGrid out;
  GridSummary& sum = out.summary;
  sum.axis_counts["models"] = spec.models.size();
  sum.axis_counts["methods"] = spec.methods.size();
  sum.axis_counts["calibration"] = spec.calibration.size();
  sum.axis_counts["tests"] = spec.tests.size();
  sum.axis_counts["shots"] = spec.shots.size();
  sum.axis_counts["seeds"] = spec.seeds.size();
  sum.axis_counts["repeats"] = spec.repeats;
  // An upper bound before building anything: refuse absurd grids cheaply.
  double bound = 1;
  for (const auto& [axis, n] : sum.axis_counts)
    bound *= std::max<int64_t>(n, 1);
  if (bound > 100.0 * static_cast<double>(max_jobs) + 1e6) {
    return absl::InvalidArgumentError(absl::StrCat(
        spec.file, ": the grid has up to ", static_cast<int64_t>(bound),
        " cells, more than --max-jobs ", max_jobs,
        "; narrow the axes or raise --max-jobs"));
  }
  sum.grid_cells = static_cast<int64_t>(bound);  // an absent axis counts 1
  std::set<std::string> content_keys, quant_keys;
  NamedEntry no_calibration;
  no_calibration.name = "-";
  for (const auto& model : spec.models) {
    for (const auto& method : spec.methods) {
      std::string mname = method["name"].get<std::string>();
      bool calibrated =
          MethodUsesCalibration(mname) && !spec.calibration.empty();
      std::vector<const NamedEntry*> cals;
      if (calibrated) {
        for (const auto& c : spec.calibration) cals.push_back(&c);
      } else {
        cals.push_back(&no_calibration);  // the collapsed axis
      }
      for (const NamedEntry* cal : cals) {
        for (const auto& test : spec.tests) {
          if (calibrated && spec.pairs.count(test.name) &&
              !spec.pairs.at(test.name).count(cal->name)) {
            continue;
          }
          for (int shots : spec.shots) {
            for (int64_t seed : spec.seeds) {
              for (int rep = 0; rep < spec.repeats; ++rep) {
                std::map<std::string, std::string> cell = {
                    {"model", model.name},
                    {"method", mname},
                    {"bits", method.contains("bits")
                                 ? std::to_string(method["bits"].get<int64_t>())
                                 : "16"},
                    {"calibration", cal->name},
                    {"test", test.name},
                    {"shots", std::to_string(shots)}};
                if (!spec.include.empty() &&
                    std::none_of(
                        spec.include.begin(), spec.include.end(),
                        [&](const auto& f) { return Matches(f, cell); })) {
                  continue;
                }
                if (std::any_of(
                        spec.exclude.begin(), spec.exclude.end(),
                        [&](const auto& f) { return Matches(f, cell); })) {
                  continue;
                }
                json model_j = {
                    {"name", model.name},
                    {"path", model.config.value("path", "")},
                    {"dtype", model.config.value("dtype", "float32")}};
                json cal_j = calibrated ? cal->config : json(nullptr);
                if (calibrated) cal_j.erase("name");  // a label, not content
                if (calibrated) cal_j.erase("domain");
                json test_j = test.config;
                test_j.erase("name");
                test_j.erase("domain");
                json job = {{"kind", spec.kind}, {"model", model_j},
                            {"method", method},  {"calibration", cal_j},
                            {"test", test_j},    {"shots", shots},
                            {"seed", seed},      {"repeat", rep}};
                if (spec.kind == "synthetic") job["synthetic"] = spec.synthetic;
                // The quant key: what the quantized model depends on. The
                // sweep seed drives calibration sampling, so it counts only
                // for calibrated methods.
                json qk = {
                    {"model", model_j},     {"method", method},
                    {"calibration", cal_j}, {"seed", calibrated ? seed : 0},
                    {"repeat", rep},        {"kind", spec.kind}};
                GridJob g;
                g.content_key = ContentKey(job);
                if (!content_keys.insert(g.content_key).second) {
                  ++sum.duplicates_merged;
                  continue;
                }
                g.quant_key = ContentKey(qk);
                if (mname != "fp16") quant_keys.insert(g.quant_key);
                bool iid = calibrated && cal->domain == test.domain;
                g.config = {{"job", job},
                            {"labels",
                             {{"model", model.name},
                              {"method", mname},
                              {"bits", method.contains("bits")
                                           ? method["bits"].get<int64_t>()
                                           : 16},
                              {"calibration", cal->name},
                              {"calibration_domain", cal->domain},
                              {"test", test.name},
                              {"test_domain", test.domain},
                              {"shots", shots},
                              {"seed", seed},
                              {"repeat", rep},
                              {"iid", iid}}}};
                g.priority = spec.priority;
                g.max_attempts = spec.max_attempts;
                out.jobs.push_back(std::move(g));
                if (static_cast<int64_t>(out.jobs.size()) > max_jobs) {
                  return absl::InvalidArgumentError(absl::StrCat(
                      spec.file, ": the grid has more than ", max_jobs,
                      " jobs (--max-jobs); narrow the axes or raise "
                      "--max-jobs"));
                }
              }
            }
          }
        }
      }
    }
  }
  sum.jobs = out.jobs.size();
  sum.quantizations = quant_keys.size();
  sum.evaluations = spec.kind == "eval" ? sum.jobs : 0;
  return out;
}

}  // namespace qgrid::coordinator
