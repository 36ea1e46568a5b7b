#include "eval/template.h"

#include <cctype>
#include <cmath>
#include <regex>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "common/status_macros.h"

namespace qgrid::eval {
namespace {

using json = nlohmann::json;

// A tiny cursor-based parser over one expression.
class ExprParser {
 public:
  ExprParser(std::string_view s, const Doc& doc) : s_(s), doc_(doc) {}

  absl::StatusOr<json> Parse() {
    SkipWs();
    QG_ASSIGN_OR_RETURN(json v, ParsePath());
    SkipWs();
    while (Peek() == '|') {
      ++pos_;
      SkipWs();
      std::string name = Ident();
      if (name.empty()) return Error("filter name expected after '|'");
      std::vector<json> args;
      SkipWs();
      if (Peek() == '(') {
        ++pos_;
        SkipWs();
        while (Peek() != ')') {
          QG_ASSIGN_OR_RETURN(json a, ParseLiteral());
          args.push_back(std::move(a));
          SkipWs();
          if (Peek() == ',') {
            ++pos_;
            SkipWs();
          } else if (Peek() != ')') {
            return Error("',' or ')' expected in filter arguments");
          }
        }
        ++pos_;
      }
      QG_ASSIGN_OR_RETURN(v, ApplyFilter(name, args, v));
      SkipWs();
    }
    if (pos_ != s_.size()) return Error("unexpected text");
    return v;
  }

 private:
  char Peek() const { return pos_ < s_.size() ? s_[pos_] : '\0'; }
  void SkipWs() {
    while (pos_ < s_.size() &&
           std::isspace(static_cast<unsigned char>(s_[pos_])))
      ++pos_;
  }
  std::string Ident() {
    size_t b = pos_;
    while (pos_ < s_.size() &&
           (std::isalnum(static_cast<unsigned char>(s_[pos_])) ||
            s_[pos_] == '_' || s_[pos_] == '-' ||
            static_cast<unsigned char>(s_[pos_]) >= 0x80))
      ++pos_;
    return std::string(s_.substr(b, pos_ - b));
  }
  absl::Status Error(const std::string& what) const {
    return absl::InvalidArgumentError(absl::StrCat("template expression '",
                                                   std::string(s_), "': ", what,
                                                   " at column ", pos_ + 1));
  }

  absl::StatusOr<json> ParseLiteral() {
    char c = Peek();
    if (c == '"' || c == '\'') {
      ++pos_;
      std::string out;
      while (pos_ < s_.size() && s_[pos_] != c) {
        if (s_[pos_] == '\\' && pos_ + 1 < s_.size()) {
          // \n, \t and escaped quotes/backslashes; anything else keeps
          // its backslash (regex patterns such as '\[').
          char e = s_[++pos_];
          if (e == 'n')
            out += '\n';
          else if (e == 't')
            out += '\t';
          else if (e == '\\' || e == '"' || e == '\'')
            out += e;
          else
            out += std::string("\\") + e;
        } else {
          out += s_[pos_];
        }
        ++pos_;
      }
      if (pos_ >= s_.size()) return Error("unterminated string");
      ++pos_;
      return json(out);
    }
    size_t b = pos_;
    if (c == '-') ++pos_;
    while (std::isdigit(static_cast<unsigned char>(Peek()))) ++pos_;
    if (pos_ == b) return Error("literal expected");
    return json(std::stoll(std::string(s_.substr(b, pos_ - b))));
  }

  absl::StatusOr<json> Step(const json& cur, const json& key,
                            const std::string& path) {
    if (key.is_number_integer()) {
      int64_t i = key.get<int64_t>();
      if (!cur.is_array())
        return absl::InvalidArgumentError(
            absl::StrCat("field '", path, "' is not a list"));
      int64_t n = static_cast<int64_t>(cur.size());
      if (i < 0) i += n;
      if (i < 0 || i >= n)
        return absl::InvalidArgumentError(
            absl::StrCat("index ", key.get<int64_t>(), " out of range for '",
                         path, "' (size ", n, ")"));
      return cur[static_cast<size_t>(i)];
    }
    std::string k = key.is_string() ? key.get<std::string>() : key.dump();
    if (cur.is_array() && !k.empty() &&
        std::all_of(k.begin(), k.end(), ::isdigit))
      return Step(cur, json(std::stoll(k)), path);
    if (!cur.is_object() || !cur.contains(k))
      return absl::InvalidArgumentError(absl::StrCat(
          "field '", path.empty() ? k : path + "." + k, "' not in document"));
    return cur[k];
  }

  absl::StatusOr<json> ParsePath() {
    std::string name = Ident();
    if (name.empty()) return Error("field name expected");
    std::string path = name;
    QG_ASSIGN_OR_RETURN(json cur, Step(doc_, json(name), ""));
    for (;;) {
      if (Peek() == '.') {
        ++pos_;
        std::string k = Ident();
        if (k.empty()) return Error("field name or index expected after '.'");
        QG_ASSIGN_OR_RETURN(cur, Step(cur, json(k), path));
        path += "." + k;
      } else if (Peek() == '[') {
        ++pos_;
        SkipWs();
        json key;
        char c = Peek();
        if (c == '"' || c == '\'' || c == '-' ||
            std::isdigit(static_cast<unsigned char>(c))) {
          QG_ASSIGN_OR_RETURN(key, ParseLiteral());
        } else {
          // [field]: another top-level field's value as the index.
          std::string f = Ident();
          if (f.empty()) return Error("index expected inside []");
          QG_ASSIGN_OR_RETURN(key, Step(doc_, json(f), ""));
          if (key.is_string()) {
            std::string ks = key.get<std::string>();
            if (!ks.empty() && std::all_of(ks.begin(), ks.end(), ::isdigit))
              key = std::stoll(ks);
          }
        }
        SkipWs();
        if (Peek() != ']') return Error("']' expected");
        ++pos_;
        std::string shown = JsonToText(key);
        QG_ASSIGN_OR_RETURN(cur, Step(cur, key, path));
        path += "[" + shown + "]";
      } else {
        break;
      }
    }
    return cur;
  }

  absl::StatusOr<json> ApplyFilter(const std::string& name,
                                   const std::vector<json>& args,
                                   const json& v) {
    auto text = [&] { return JsonToText(v); };
    if (name == "upper") return json(absl::AsciiStrToUpper(text()));
    if (name == "lower") return json(absl::AsciiStrToLower(text()));
    if (name == "trim" || name == "strip")
      return json(std::string(absl::StripAsciiWhitespace(text())));
    if (name == "string") return json(text());
    if (name == "capitalize") {
      // Python's str.capitalize (ASCII): first upper, the rest lower.
      std::string t = absl::AsciiStrToLower(text());
      if (!t.empty()) t[0] = absl::ascii_toupper(t[0]);
      return json(t);
    }
    if (name == "split") {
      std::string sep = args.empty() ? " " : JsonToText(args[0]);
      json parts = json::array();
      std::string t = text();
      size_t b = 0;
      for (size_t e; (e = t.find(sep, b)) != std::string::npos;
           b = e + sep.size())
        parts.push_back(t.substr(b, e - b));
      parts.push_back(t.substr(b));
      return parts;
    }
    if (name == "drop_last") {
      if (!v.is_array() || v.empty()) return Error("drop_last of a non-list");
      json out = v;
      out.erase(out.end() - 1);
      return out;
    }
    if (name == "regex_replace") {
      if (args.size() != 2) return Error("regex_replace takes two arguments");
      try {
        std::regex re(JsonToText(args[0]));
        return json(std::regex_replace(text(), re, JsonToText(args[1])));
      } catch (const std::regex_error& e) {
        return Error(std::string("bad regex: ") + e.what());
      }
    }
    if (name == "length")
      return json(static_cast<int64_t>(
          v.is_array() || v.is_object() ? v.size() : text().size()));
    if (name == "first" || name == "last") {
      if (!v.is_array() || v.empty()) return Error(name + " of a non-list");
      return name == "first" ? v.front() : v.back();
    }
    if (name == "join") {
      if (!v.is_array()) return Error("join of a non-list");
      std::string sep = args.empty() ? "" : JsonToText(args[0]);
      std::string out;
      for (size_t i = 0; i < v.size(); ++i) {
        if (i) out += sep;
        out += JsonToText(v[i]);
      }
      return json(out);
    }
    if (name == "replace") {
      if (args.size() != 2) return Error("replace takes two arguments");
      return json(absl::StrReplaceAll(
          text(), {{JsonToText(args[0]), JsonToText(args[1])}}));
    }
    return Error("unknown filter '" + name + "'");
  }

  std::string_view s_;
  const Doc& doc_;
  size_t pos_ = 0;
};

}  // namespace

std::string JsonToText(const json& v) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_number_integer()) return std::to_string(v.get<int64_t>());
  if (v.is_number_float()) {
    double d = v.get<double>();
    if (std::floor(d) == d && std::fabs(d) < 1e15)
      return std::to_string(static_cast<int64_t>(d));
    return v.dump();
  }
  if (v.is_boolean()) return v.get<bool>() ? "True" : "False";
  if (v.is_null()) return "None";
  return v.dump();
}

absl::StatusOr<std::string> RenderTemplate(const std::string& tpl,
                                           const Doc& doc) {
  std::string out;
  size_t pos = 0;
  for (;;) {
    size_t open = tpl.find("{{", pos);
    size_t block = tpl.find("{%", pos);
    if (block != std::string::npos &&
        (open == std::string::npos || block < open))
      return absl::InvalidArgumentError(
          "template: '{% ... %}' blocks are not supported (use fields, "
          "indexing and filters): " +
          tpl);
    if (open == std::string::npos) {
      out.append(tpl, pos, std::string::npos);
      return out;
    }
    out.append(tpl, pos, open - pos);
    size_t close = tpl.find("}}", open + 2);
    if (close == std::string::npos)
      return absl::InvalidArgumentError("template: unclosed '{{' in: " + tpl);
    ExprParser p(std::string_view(tpl).substr(open + 2, close - open - 2), doc);
    QG_ASSIGN_OR_RETURN(json v, p.Parse());
    out += JsonToText(v);
    pos = close + 2;
  }
}

absl::StatusOr<json> ResolveTemplateValue(const std::string& tpl,
                                          const Doc& doc) {
  std::string t(absl::StripAsciiWhitespace(tpl));
  if (t.size() >= 4 && t.substr(0, 2) == "{{" &&
      t.substr(t.size() - 2) == "}}" && t.find("{{", 2) == std::string::npos) {
    std::string inner = t.substr(2, t.size() - 4);
    ExprParser p(inner, doc);
    return p.Parse();
  }
  if (tpl.find("{{") == std::string::npos && doc.is_object() &&
      doc.contains(tpl))
    return doc[tpl];
  QG_ASSIGN_OR_RETURN(std::string s, RenderTemplate(tpl, doc));
  return json(s);
}

}  // namespace qgrid::eval
