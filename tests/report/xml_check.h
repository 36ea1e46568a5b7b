// A small well-formedness check for the SVG and XHTML-compatible HTML qgrid
// writes (tests only): balanced tags, quoted attributes, only the five XML
// entities and numeric references after '&', no '<' in text or attribute
// values. Returns every element with its attributes and direct text so that
// tests can check values against geometry. Not a general XML parser (no
// CDATA, no processing instructions other than a leading <!DOCTYPE>).
#ifndef QGRID_TESTS_REPORT_XML_CHECK_H_
#define QGRID_TESTS_REPORT_XML_CHECK_H_

#include <cctype>
#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"

namespace qgrid::report::testing {

struct XmlElement {
  std::string name;
  std::map<std::string, std::string> attrs;  // values still escaped
  std::string text;                          // direct text, still escaped
  int depth = 0;
  double Num(const std::string& a) const {
    auto it = attrs.find(a);
    return it == attrs.end() ? -1e300 : std::stod(it->second);
  }
  bool HasClass(const std::string& c) const {
    auto it = attrs.find("class");
    if (it == attrs.end()) return false;
    std::string s = " " + it->second + " ";
    return s.find(" " + c + " ") != std::string::npos;
  }
};

inline absl::Status CheckEntities(const std::string& s, size_t at) {
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '<') {
      return absl::InvalidArgumentError(
          absl::StrCat("raw '<' near offset ", at + i));
    }
    if (s[i] != '&') continue;
    size_t semi = s.find(';', i);
    if (semi == std::string::npos || semi - i > 10) {
      return absl::InvalidArgumentError(
          absl::StrCat("bare '&' near offset ", at + i));
    }
    std::string ent = s.substr(i + 1, semi - i - 1);
    bool ok = ent == "amp" || ent == "lt" || ent == "gt" || ent == "quot" ||
              ent == "apos";
    if (!ok && ent.size() > 1 && ent[0] == '#') {
      ok = true;
      for (size_t k = 1; k < ent.size(); ++k) ok &= std::isdigit(ent[k]) != 0;
    }
    if (!ok) {
      return absl::InvalidArgumentError(
          absl::StrCat("unknown entity &", ent, "; near offset ", at + i));
    }
  }
  return absl::OkStatus();
}

inline absl::StatusOr<std::vector<XmlElement>> ParseXml(const std::string& s) {
  std::vector<XmlElement> out;
  std::vector<size_t> open;  // indices into out
  size_t i = 0;
  int roots = 0;
  while (i < s.size()) {
    if (s[i] != '<') {
      size_t j = s.find('<', i);
      if (j == std::string::npos) j = s.size();
      std::string text = s.substr(i, j - i);
      if (absl::Status st = CheckEntities(text, i); !st.ok()) return st;
      if (!open.empty()) {
        out[open.back()].text += text;
      } else if (text.find_first_not_of(" \n\t\r") != std::string::npos) {
        return absl::InvalidArgumentError(
            absl::StrCat("text outside the root near offset ", i));
      }
      i = j;
      continue;
    }
    if (s.compare(i, 4, "<!--") == 0) {
      size_t j = s.find("-->", i);
      if (j == std::string::npos)
        return absl::InvalidArgumentError("open comment");
      i = j + 3;
      continue;
    }
    if (s.compare(i, 2, "<!") == 0) {
      if (!out.empty()) return absl::InvalidArgumentError("late <!DOCTYPE");
      i = s.find('>', i) + 1;
      continue;
    }
    size_t end = s.find('>', i);
    if (end == std::string::npos) return absl::InvalidArgumentError("open tag");
    std::string tag = s.substr(i + 1, end - i - 1);
    if (tag.empty()) return absl::InvalidArgumentError("empty tag");
    if (tag[0] == '/') {
      std::string name = tag.substr(1);
      if (open.empty() || out[open.back()].name != name) {
        return absl::InvalidArgumentError(absl::StrCat(
            "</", name, "> closes ",
            open.empty() ? "nothing" : "<" + out[open.back()].name + ">",
            " at offset ", i));
      }
      open.pop_back();
      i = end + 1;
      continue;
    }
    bool self_close = tag.back() == '/';
    if (self_close) tag.pop_back();
    XmlElement e;
    size_t k = 0;
    while (k < tag.size() && !std::isspace(static_cast<unsigned char>(tag[k])))
      ++k;
    e.name = tag.substr(0, k);
    e.depth = static_cast<int>(open.size());
    while (k < tag.size()) {
      while (k < tag.size() && std::isspace(static_cast<unsigned char>(tag[k])))
        ++k;
      if (k >= tag.size()) break;
      size_t eq = tag.find('=', k);
      if (eq == std::string::npos || eq + 1 >= tag.size() ||
          tag[eq + 1] != '"') {
        return absl::InvalidArgumentError(
            absl::StrCat("attribute without a quoted value in <", e.name,
                         "> at offset ", i));
      }
      size_t close = tag.find('"', eq + 2);
      if (close == std::string::npos) {
        return absl::InvalidArgumentError("unterminated attribute value");
      }
      std::string name = tag.substr(k, eq - k);
      std::string value = tag.substr(eq + 2, close - eq - 2);
      if (absl::Status st = CheckEntities(value, i); !st.ok()) return st;
      if (!e.attrs.emplace(name, value).second) {
        return absl::InvalidArgumentError("duplicate attribute " + name);
      }
      k = close + 1;
    }
    if (open.empty() && ++roots > 1) {
      return absl::InvalidArgumentError("more than one root element");
    }
    out.push_back(e);
    if (!self_close) open.push_back(out.size() - 1);
    i = end + 1;
  }
  if (!open.empty()) {
    return absl::InvalidArgumentError("unclosed <" + out[open.back()].name +
                                      ">");
  }
  return out;
}

inline std::vector<XmlElement> Select(const std::vector<XmlElement>& all,
                                      const std::string& name,
                                      const std::string& cls = "") {
  std::vector<XmlElement> out;
  for (const auto& e : all) {
    if (e.name == name && (cls.empty() || e.HasClass(cls))) out.push_back(e);
  }
  return out;
}

}  // namespace qgrid::report::testing

#endif  // QGRID_TESTS_REPORT_XML_CHECK_H_
