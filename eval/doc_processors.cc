#include "eval/doc_processors.h"

#include <regex>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "common/status_macros.h"

namespace qgrid::eval {
namespace {

using json = nlohmann::json;

absl::Status Missing(const std::string& field, const char* what) {
  return absl::InvalidArgumentError(
      absl::StrCat("field '", field, "': expected ", what));
}

absl::StatusOr<std::string> Str(const Doc& d, const std::string& field) {
  if (!d.contains(field) || !d[field].is_string())
    return Missing(field, "a string");
  return d[field].get<std::string>();
}

absl::StatusOr<int64_t> Int(const Doc& d, const std::string& field) {
  if (!d.contains(field)) return Missing(field, "an integer");
  const json& v = d[field];
  if (v.is_number_integer()) return v.get<int64_t>();
  if (v.is_string()) {
    int64_t out;
    if (absl::SimpleAtoi(v.get<std::string>(), &out)) return out;
  }
  return Missing(field, "an integer");
}

absl::StatusOr<double> Num(const Doc& d, const std::string& field) {
  if (!d.contains(field)) return Missing(field, "a number");
  const json& v = d[field];
  if (v.is_number()) return v.get<double>();
  double out;
  if (v.is_string() && absl::SimpleAtod(v.get<std::string>(), &out)) return out;
  return Missing(field, "a number");
}

// Byte offset of code point `cp` in UTF-8 `s` (Python indexes code points).
size_t ByteOffset(const std::string& s, int64_t cp) {
  size_t i = 0;
  for (int64_t n = 0; i < s.size() && n < cp; ++n) {
    ++i;
    while (i < s.size() && (static_cast<unsigned char>(s[i]) & 0xC0) == 0x80)
      ++i;
  }
  return i;
}

int64_t CodePoints(const std::string& s) {
  int64_t n = 0;
  for (unsigned char c : s) n += (c & 0xC0) != 0x80;
  return n;
}

absl::Status Wsc273(Doc* d) {
  QG_ASSIGN_OR_RETURN(std::string text, Str(*d, "text"));
  QG_ASSIGN_OR_RETURN(std::string pronoun, Str(*d, "pronoun"));
  QG_ASSIGN_OR_RETURN(int64_t loc, Int(*d, "pronoun_loc"));
  if (!d->contains("options") || !(*d)["options"].is_array() ||
      (*d)["options"].size() != 2)
    return Missing("options", "a list of 2 strings");
  // lm-eval replaces double spaces first and then indexes the new text
  // with the original pronoun_loc; we do the same.
  text = absl::StrReplaceAll(text, {{"  ", " "}});
  if (loc < 2 || loc > CodePoints(text))
    return Missing("pronoun_loc", "an index inside text");
  static const char* kUpper[] = {"A",    "An", "The", "She", "He",   "It",
                                 "They", "My", "His", "Her", "Their"};
  const std::string lower_pronoun = absl::AsciiStrToLower(pronoun);
  const bool possessive = lower_pronoun == "my" || lower_pronoun == "his" ||
                          lower_pronoun == "her" || lower_pronoun == "our" ||
                          lower_pronoun == "their";
  const bool start_of_sentence = text[ByteOffset(text, loc - 2)] == '.';
  const std::string prefix = text.substr(0, ByteOffset(text, loc));
  json choices = json::array();
  for (const auto& o : (*d)["options"]) {
    if (!o.is_string()) return Missing("options", "a list of 2 strings");
    std::string option = o.get<std::string>();
    if (possessive) option += "'s";
    std::vector<std::string> words =
        absl::StrSplit(option, ' ', absl::SkipEmpty());
    if (!words.empty() && !start_of_sentence) {
      for (const char* u : kUpper)
        if (words[0] == u) {
          // Python's str.replace: every occurrence.
          option = absl::StrReplaceAll(option,
                                       {{words[0], absl::AsciiStrToLower(u)}});
          break;
        }
    }
    choices.push_back(prefix + option);
  }
  (*d)["text"] = text;
  (*d)["choices"] = choices;
  (*d)["continuation"] =
      text.substr(ByteOffset(text, loc + CodePoints(pronoun)));
  return absl::OkStatus();
}

std::string MutualDetokenize(std::string t) {
  // The order of lm-eval's mutual/utils.py _detokenize.
  static const std::pair<const char*, const char*> kRules[] = {
      {" '", "'"},   {" \n", "\n"}, {"\n ", "\n"}, {" n't", "n't"},
      {"`` ", "\""}, {"''", "\""},  {" :", ":"},   {" ;", ";"},
      {" !", "!"},   {" ?", "?"},   {" ,", ","},   {" .", "."}};
  for (const auto& [from, to] : kRules)
    t = absl::StrReplaceAll(t, {{from, to}});
  return t;
}

absl::Status Mutual(Doc* d) {
  QG_ASSIGN_OR_RETURN(std::string article, Str(*d, "article"));
  if (!d->contains("options") || !(*d)["options"].is_array())
    return Missing("options", "a list of strings");
  (*d)["article"] = MutualDetokenize(article);
  for (auto& o : (*d)["options"]) {
    if (!o.is_string()) return Missing("options", "a list of strings");
    o = MutualDetokenize(o.get<std::string>());
  }
  return absl::OkStatus();
}

absl::Status Race(Doc* d) {
  QG_ASSIGN_OR_RETURN(std::string article, Str(*d, "article"));
  if (!d->contains("problems")) return Missing("problems", "a list");
  json problems = (*d)["problems"];
  if (problems.is_string()) {
    problems = json::parse(problems.get<std::string>(), nullptr, false);
    if (problems.is_discarded())
      return Missing("problems",
                     "a JSON list (a Python literal string must be "
                     "converted with json.dumps(ast.literal_eval(s)))");
  }
  if (!problems.is_array() || problems.empty())
    return Missing("problems", "a non-empty list");
  auto answer_index = [](const json& p) -> absl::StatusOr<int> {
    if (!p.is_object() || !p.contains("answer") || !p["answer"].is_string() ||
        !p.contains("options") || !p["options"].is_array() ||
        !p.contains("question") || !p["question"].is_string())
      return Missing("problems", "{answer, options[], question} entries");
    std::string a = p["answer"].get<std::string>();
    if (a.size() != 1 || a[0] < 'A' ||
        a[0] - 'A' >= static_cast<int>(p["options"].size()))
      return Missing("problems[].answer", "a letter A-D naming an option");
    return a[0] - 'A';
  };
  std::string text = "Article: " + article + "\n\n";
  for (size_t i = 0; i + 1 < problems.size(); ++i) {
    const json& p = problems[i];
    QG_ASSIGN_OR_RETURN(int a, answer_index(p));
    std::string q = p["question"].get<std::string>();
    std::string ans = p["options"][a].get<std::string>();
    // A cloze question ("... _ .") gets its blank filled in place.
    if (q.size() >= 6 && q.compare(q.size() - 6, 6, "  _  .") == 0)
      text += q.substr(0, q.size() - 5) + ans + "\n";
    else
      text += "Question: " + q + "\n" + "Answer: " + ans + "\n";
  }
  const json& last = problems.back();
  QG_ASSIGN_OR_RETURN(int gold, answer_index(last));
  text += last["question"].get<std::string>();
  json choices = json::array();
  for (size_t i = 0; i < 4 && i < last["options"].size(); ++i)
    choices.push_back(last["options"][i]);
  (*d)["text"] = text;
  (*d)["choices"] = choices;
  (*d)["gold"] = gold;
  return absl::OkStatus();
}

absl::Status MathQa(Doc* d) {
  QG_ASSIGN_OR_RETURN(std::string options, Str(*d, "options"));
  // lm-eval: re.findall(r"[abcd] \) .*?, |e \) .*?$", options), each
  // c[4:].rstrip(" ,").
  static const std::regex kChoice(R"([abcd] \) .*?, |e \) .*?$)");
  json choices = json::array();
  for (auto it = std::sregex_iterator(options.begin(), options.end(), kChoice);
       it != std::sregex_iterator(); ++it) {
    std::string c = it->str();
    c = c.size() > 4 ? c.substr(4) : "";
    while (!c.empty() && (c.back() == ' ' || c.back() == ',')) c.pop_back();
    choices.push_back(c);
  }
  if (choices.empty())
    return Missing("options", "'a ) ... , b ) ... , e ) ...'");
  (*d)["choices"] = choices;
  return absl::OkStatus();
}

// lm-eval hellaswag/utils.py `preprocess`: strip first, then clean the
// WikiHow markers; whatever the replacements leave at the ends stays.
std::string HellaswagPreprocess(const std::string& text) {
  static const std::regex kBracket("\\[.*?\\]");
  std::string t(absl::StripAsciiWhitespace(text));
  t = absl::StrReplaceAll(t, {{" [title]", ". "}});
  t = std::regex_replace(t, kBracket, "");
  return absl::StrReplaceAll(t, {{"  ", " "}});
}

// Python's str.capitalize on ASCII: first upper, the rest lower.
std::string PyCapitalize(const std::string& s) {
  std::string t = absl::AsciiStrToLower(s);
  if (!t.empty()) t[0] = absl::ascii_toupper(t[0]);
  return t;
}

absl::Status Hellaswag(Doc* d) {
  QG_ASSIGN_OR_RETURN(std::string label, Str(*d, "activity_label"));
  QG_ASSIGN_OR_RETURN(std::string ctx_a, Str(*d, "ctx_a"));
  QG_ASSIGN_OR_RETURN(std::string ctx_b, Str(*d, "ctx_b"));
  QG_ASSIGN_OR_RETURN(int64_t gold, Int(*d, "label"));
  if (!d->contains("endings") || !(*d)["endings"].is_array())
    return Missing("endings", "a list of strings");
  json choices = json::array();
  for (const json& e : (*d)["endings"]) {
    if (!e.is_string()) return Missing("endings", "a list of strings");
    choices.push_back(HellaswagPreprocess(e.get<std::string>()));
  }
  // The whole joined query is preprocessed (and so stripped): with the
  // empty ctx_b of WikiHow items no space is left before the continuation.
  (*d)["query"] =
      HellaswagPreprocess(label + ": " + ctx_a + " " + PyCapitalize(ctx_b));
  (*d)["choices"] = choices;
  (*d)["gold"] = gold;
  return absl::OkStatus();
}

absl::Status Toxigen(Doc* d) {
  QG_ASSIGN_OR_RETURN(double ai, Num(*d, "toxicity_ai"));
  QG_ASSIGN_OR_RETURN(double human, Num(*d, "toxicity_human"));
  (*d)["label"] = ai + human > 5.5 ? 1 : 0;
  return absl::OkStatus();
}

}  // namespace

const std::vector<std::string>& DocProcessorNames() {
  static const auto* kNames = new std::vector<std::string>{
      "hellaswag", "mathqa", "mutual", "race", "toxigen", "wsc273"};
  return *kNames;
}

absl::Status ProcessDocument(const std::string& name, Doc* doc) {
  if (!doc->is_object())
    return absl::InvalidArgumentError(
        "process_docs: document is not an object");
  if (name == "wsc273") return Wsc273(doc);
  if (name == "mutual") return Mutual(doc);
  if (name == "race") return Race(doc);
  if (name == "mathqa") return MathQa(doc);
  if (name == "toxigen") return Toxigen(doc);
  if (name == "hellaswag") return Hellaswag(doc);
  return absl::InvalidArgumentError(absl::StrCat(
      "process_docs: unknown processor '", name,
      "' (known: ", absl::StrJoin(DocProcessorNames(), ", "), ")"));
}

}  // namespace qgrid::eval
