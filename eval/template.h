// Prompt templates: the `{{ expression }}` subset of Jinja2 that
// lm-evaluation-harness task YAMLs use in doc_to_text / doc_to_choice /
// doc_to_target.
//
// A document is a JSON object (one dataset row). An expression is a path
// into it followed by optional filters:
//
//   {{question}}  {{answers.text.0}}  {{choices[1]}}  {{choices[gold]}}
//   {{question | trim}}  {{choices | join(", ")}}  {{label | upper}}
//
// Path steps: `.name`, `.N` (list index), `[N]`, `["name"]` and `[field]`
// (the value of another top-level field used as index or key). Filters:
// upper, lower, capitalize, trim, join(sep), split(sep), replace(a, b),
// regex_replace(pattern, repl) (ECMAScript), first, last, drop_last,
// length, string.
// `{% ... %}` blocks are not supported and are rejected with a message.
// Values render as Python's str() would for strings and integers
// (strings verbatim, numbers without trailing ".0" when integral, lists as
// JSON).
//
// Thread-safety: pure functions.
#ifndef QGRID_EVAL_TEMPLATE_H_
#define QGRID_EVAL_TEMPLATE_H_

#include <nlohmann/json.hpp>
#include <string>

#include "absl/status/statusor.h"

namespace qgrid::eval {

using Doc = nlohmann::json;

// Renders `tpl` against `doc`. A missing field is an InvalidArgument error
// naming the expression ("field 'answer' not in document").
absl::StatusOr<std::string> RenderTemplate(const std::string& tpl,
                                           const Doc& doc);

// When `tpl` is exactly one `{{ expression }}` (surrounding whitespace
// allowed), returns the expression's JSON value (so "{{choices}}" yields a
// list and "{{gold}}" an integer); otherwise the rendered string. A bare
// field name (no braces) that is a top-level key of `doc` yields that field,
// as lm-evaluation-harness does.
absl::StatusOr<nlohmann::json> ResolveTemplateValue(const std::string& tpl,
                                                    const Doc& doc);

// Python str() of a JSON value (strings without quotes).
std::string JsonToText(const nlohmann::json& v);

}  // namespace qgrid::eval

#endif  // QGRID_EVAL_TEMPLATE_H_
