#include "eval/prompt.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/status_macros.h"

namespace qgrid::eval {
namespace {

using json = nlohmann::json;

absl::Status At(const TaskConfig& c, const Document& d,
                const std::string& field, const absl::Status& s) {
  return absl::Status(s.code(), absl::StrCat("task '", c.task, "': ", d.Where(),
                                             ": ", field, ": ", s.message()));
}

bool IsInteger(const std::string& s) {
  if (s.empty()) return false;
  size_t i = s[0] == '-' ? 1 : 0;
  return i < s.size() && std::all_of(s.begin() + i, s.end(), ::isdigit);
}

}  // namespace

absl::StatusOr<std::string> DocToText(const TaskConfig& c, const Document& d) {
  auto v = ResolveTemplateValue(c.doc_to_text, d.fields);
  if (!v.ok()) return At(c, d, "doc_to_text", v.status());
  return JsonToText(*v);
}

absl::StatusOr<std::vector<std::string>> DocToChoices(const TaskConfig& c,
                                                      const Document& d) {
  std::vector<std::string> out;
  if (!c.doc_to_choice_list.empty()) {
    for (const auto& t : c.doc_to_choice_list) {
      auto s = RenderTemplate(t, d.fields);
      if (!s.ok()) return At(c, d, "doc_to_choice", s.status());
      out.push_back(*s);
    }
    return out;
  }
  auto v = ResolveTemplateValue(c.doc_to_choice, d.fields);
  if (!v.ok()) return At(c, d, "doc_to_choice", v.status());
  if (!v->is_array())
    return At(c, d, "doc_to_choice",
              absl::InvalidArgumentError("did not resolve to a list"));
  for (const auto& e : *v) out.push_back(JsonToText(e));
  if (out.empty())
    return At(c, d, "doc_to_choice", absl::InvalidArgumentError("no choices"));
  return out;
}

absl::StatusOr<int> GoldIndex(const TaskConfig& c, const Document& d,
                              const std::vector<std::string>& choices) {
  const std::string& field = c.multiple_input ? "doc_to_gold" : "doc_to_target";
  const std::string& tpl = c.multiple_input ? c.doc_to_gold : c.doc_to_target;
  auto v = ResolveTemplateValue(tpl, d.fields);
  if (!v.ok()) return At(c, d, field, v.status());
  int64_t idx = -1;
  if (!c.target_labels.empty()) {
    std::string s = JsonToText(*v);
    auto it = std::find(c.target_labels.begin(), c.target_labels.end(), s);
    if (it == c.target_labels.end())
      return At(c, d, field,
                absl::InvalidArgumentError(
                    "'" + s + "' is not one of target_labels [" +
                    absl::StrJoin(c.target_labels, ", ") + "]"));
    idx = it - c.target_labels.begin();
  } else if (v->is_number_integer()) {
    idx = v->get<int64_t>();
  } else if (v->is_number()) {
    idx = static_cast<int64_t>(v->get<double>());
  } else {
    std::string s = JsonToText(*v);
    auto it = std::find(choices.begin(), choices.end(), s);
    if (it != choices.end())
      idx = it - choices.begin();
    else if (IsInteger(s))
      idx = std::stoll(s);
    else
      return At(c, d, field,
                absl::InvalidArgumentError("'" + s +
                                           "' is neither an index nor one of "
                                           "the choices"));
  }
  if (idx < 0 || idx >= static_cast<int64_t>(choices.size()))
    return At(c, d, field,
              absl::InvalidArgumentError(
                  absl::StrCat("gold index ", idx, " out of range (",
                               choices.size(), " choices)")));
  return static_cast<int>(idx);
}

absl::StatusOr<std::vector<std::string>> GoldAnswers(const TaskConfig& c,
                                                     const Document& d) {
  auto v = ResolveTemplateValue(c.doc_to_target, d.fields);
  if (!v.ok()) return At(c, d, "doc_to_target", v.status());
  std::vector<std::string> out;
  if (v->is_array()) {
    for (const auto& e : *v) out.push_back(JsonToText(e));
  } else {
    out.push_back(JsonToText(*v));
  }
  return out;
}

absl::StatusOr<std::string> FormatShot(const TaskConfig& c, const Document& d) {
  std::string target;
  if (c.output_type == OutputType::kGenerate ||
      c.output_type == OutputType::kLoglikelihood ||
      c.output_type == OutputType::kPerplexity) {
    QG_ASSIGN_OR_RETURN(auto golds, GoldAnswers(c, d));
    target = golds.empty() ? "" : golds[0];
  } else if (c.multiple_input) {
    // WinoGrande: the right context option, then the shared continuation.
    QG_ASSIGN_OR_RETURN(auto choices, DocToChoices(c, d));
    QG_ASSIGN_OR_RETURN(int gold, GoldIndex(c, d, choices));
    auto cont = RenderTemplate(c.doc_to_target, d.fields);
    if (!cont.ok()) return At(c, d, "doc_to_target", cont.status());
    return choices[gold] + c.target_delimiter + *cont;
  } else {
    QG_ASSIGN_OR_RETURN(auto choices, DocToChoices(c, d));
    QG_ASSIGN_OR_RETURN(int gold, GoldIndex(c, d, choices));
    target = choices[gold];
  }
  QG_ASSIGN_OR_RETURN(std::string text, DocToText(c, d));
  return text + c.target_delimiter + target;
}

ShotSampler::ShotSampler(const TaskConfig& c, const std::vector<Document>& pool,
                         bool same_split, int k, uint64_t seed)
    : c_(c), pool_(pool), same_split_(same_split), k_(k), seed_(seed) {}

std::vector<int64_t> ShotSampler::Next(const Document& doc) {
  if (k_ <= 0) return {};
  // Grouped tasks draw from the document's own subject.
  const bool grouped = doc.fields.contains("subject");
  const std::string key = grouped ? doc.fields["subject"].dump() : "";
  auto it = candidates_.find(key);
  if (it == candidates_.end()) {
    std::vector<int64_t> cand;
    for (int64_t i = 0; i < static_cast<int64_t>(pool_.size()); ++i) {
      if (grouped && (!pool_[i].fields.contains("subject") ||
                      pool_[i].fields["subject"] != doc.fields["subject"]))
        continue;
      cand.push_back(i);
    }
    it = candidates_.emplace(key, std::move(cand)).first;
  }
  const std::vector<int64_t>& cand = it->second;
  auto is_doc = [&](int64_t i) { return pool_[i].fields == doc.fields; };
  std::vector<int64_t> out;
  if (c_.fewshot_sampler == "first_n") {
    for (int64_t i : cand) {
      if (static_cast<int>(out.size()) == k_) break;
      if (!is_doc(i)) out.push_back(i);
    }
    return out;
  }
  PyRandom& rng = rngs_.try_emplace(key, seed_).first->second;
  const int64_t n = static_cast<int64_t>(cand.size());
  std::vector<int64_t> drawn =
      rng.Sample(n, std::min<int64_t>(n, same_split_ ? k_ + 1 : k_));
  for (int64_t j : drawn) {
    if (static_cast<int>(out.size()) == k_) break;
    if (!is_doc(cand[j])) out.push_back(cand[j]);
  }
  // Another split holding the document itself: replace it (see above).
  if (!same_split_ && static_cast<int>(out.size()) < k_) {
    int64_t eligible = 0;
    for (int64_t i : cand) eligible += !is_doc(i);
    while (static_cast<int64_t>(out.size()) < std::min<int64_t>(k_, eligible)) {
      const int64_t j = cand[rng.RandBelow(static_cast<uint32_t>(n))];
      if (!is_doc(j) && std::find(out.begin(), out.end(), j) == out.end())
        out.push_back(j);
    }
  }
  return out;
}

absl::StatusOr<std::string> FewshotPrefix(const TaskConfig& c,
                                          const std::vector<Document>& pool,
                                          const Document& doc,
                                          const std::vector<int64_t>& shots) {
  std::string out;
  if (!c.description.empty()) {
    auto d = RenderTemplate(c.description, doc.fields);
    if (!d.ok()) return At(c, doc, "description", d.status());
    out = *d;
  }
  for (int64_t i : shots) {
    QG_ASSIGN_OR_RETURN(std::string shot, FormatShot(c, pool[i]));
    out += shot + c.fewshot_delimiter;
  }
  return out;
}

}  // namespace qgrid::eval
