#include "eval/dataset.h"

#include <fnmatch.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "common/compressed_file.h"
#include "common/file_util.h"
#include "common/status_macros.h"
#include "eval/doc_processors.h"

namespace qgrid::eval {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

absl::StatusOr<std::string> ReadAll(const std::string& path) {
  // C4's validation shards ship gzipped (c4-validation.*.json.gz).
  if (absl::EndsWith(path, ".gz")) return ReadGzipFile(path);
  return ReadFileToString(path);
}

std::string Prefix(const TaskConfig& c, const std::string& path) {
  return absl::StrCat("task '", c.task, "': ", path);
}

// Expands a pattern with '*'/'?' in its last component (sorted).
std::vector<std::string> Glob(const std::string& pattern) {
  if (pattern.find_first_of("*?[") == std::string::npos) return {pattern};
  fs::path p(pattern);
  std::vector<std::string> out;
  std::error_code ec;
  fs::path dir = p.parent_path().empty() ? fs::path(".") : p.parent_path();
  std::string pat = p.filename().string();
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    std::string name = e.path().filename().string();
    if (fnmatch(pat.c_str(), name.c_str(), 0) == 0)
      out.push_back(e.path().string());
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::string FormatFor(const TaskConfig& c, const std::string& path) {
  if (!c.format.empty()) return c.format;
  fs::path p(path);
  if (p.extension() == ".gz") p = p.stem();
  std::string ext = p.extension().string();
  if (ext == ".jsonl") return "jsonl";
  if (ext == ".json") return "json";
  if (ext == ".csv") return "csv";
  if (ext == ".tsv") return "tsv";
  return "lines";
}

absl::StatusOr<std::vector<Document>> ParseJsonLines(const TaskConfig& c,
                                                     const std::string& path,
                                                     const std::string& text) {
  std::vector<Document> out;
  int64_t line_no = 0;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    ++line_no;
    if (absl::StripAsciiWhitespace(line).empty()) continue;
    json j = json::parse(line.begin(), line.end(), nullptr, false);
    if (j.is_discarded() || !j.is_object())
      return absl::InvalidArgumentError(
          absl::StrCat(Prefix(c, path), ":", line_no, ": not a JSON object"));
    out.push_back({std::move(j), path, line_no});
  }
  return out;
}

void FlattenSquad(const json& root, const std::string& path,
                  std::vector<Document>* out) {
  int64_t n = 0;
  for (const auto& article : root["data"]) {
    std::string title = article.value("title", "");
    for (const auto& para : article["paragraphs"]) {
      std::string context = para.value("context", "");
      for (const auto& qa : para["qas"]) {
        json d;
        d["id"] = qa.value("id", "");
        d["title"] = title;
        d["context"] = context;
        d["question"] = qa.value("question", "");
        json texts = json::array(), starts = json::array();
        if (qa.contains("answers"))
          for (const auto& a : qa["answers"]) {
            texts.push_back(a.value("text", ""));
            starts.push_back(a.value("answer_start", 0));
          }
        d["is_impossible"] = qa.value("is_impossible", false);
        d["answers"] = {{"text", texts}, {"answer_start", starts}};
        out->push_back({std::move(d), path, ++n});
      }
    }
  }
}

}  // namespace

std::string Document::Where() const { return absl::StrCat(file, ":", line); }

absl::StatusOr<std::vector<std::vector<std::string>>> ParseDelimited(
    const std::string& text, char delim, const std::string& source) {
  std::vector<std::vector<std::string>> rows;
  std::vector<std::string> row;
  std::string field;
  bool quoted = false, field_started = false;
  int64_t line = 1, quote_line = 0;
  size_t i = 0;
  // Skip a UTF-8 byte order mark.
  if (text.compare(0, 3, "\xEF\xBB\xBF") == 0) i = 3;
  auto end_row = [&] {
    row.push_back(std::move(field));
    field.clear();
    if (!(row.size() == 1 && row[0].empty())) rows.push_back(std::move(row));
    row.clear();
    field_started = false;
  };
  for (; i < text.size(); ++i) {
    char ch = text[i];
    if (quoted) {
      if (ch == '"') {
        if (i + 1 < text.size() && text[i + 1] == '"') {
          field += '"';
          ++i;
        } else {
          quoted = false;
        }
      } else {
        if (ch == '\n') ++line;
        field += ch;
      }
      continue;
    }
    if (ch == '"' && !field_started) {
      quoted = true;
      field_started = true;
      quote_line = line;
    } else if (ch == delim) {
      row.push_back(std::move(field));
      field.clear();
      field_started = false;
    } else if (ch == '\r') {
      continue;
    } else if (ch == '\n') {
      end_row();
      ++line;
    } else {
      field += ch;
      field_started = true;
    }
  }
  if (quoted)
    return absl::InvalidArgumentError(
        absl::StrCat(source, ":", quote_line, ": unterminated quoted field"));
  if (field_started || !row.empty()) end_row();
  return rows;
}

absl::StatusOr<std::vector<Document>> LoadFile(const TaskConfig& c,
                                               const std::string& path,
                                               const std::string& format) {
  auto text_or = ReadAll(path);
  if (!text_or.ok())
    return absl::NotFoundError(
        absl::StrCat(Prefix(c, path), ": data file not found"));
  const std::string& text = *text_or;
  std::vector<Document> out;
  if (format == "jsonl") return ParseJsonLines(c, path, text);
  if (format == "json" || format == "squad") {
    json root = json::parse(text, nullptr, false);
    if (root.is_discarded()) {
      // BOSS and others ship "JSON" files that hold one object per line.
      if (format == "json") return ParseJsonLines(c, path, text);
      return absl::InvalidArgumentError(Prefix(c, path) + ": invalid JSON");
    }
    if (format == "squad" ||
        (root.is_object() && root.contains("data") && root["data"].is_array() &&
         !root["data"].empty() && root["data"][0].contains("paragraphs"))) {
      if (!root.is_object() || !root.contains("data"))
        return absl::InvalidArgumentError(Prefix(c, path) +
                                          ": not SQuAD JSON (no 'data' list)");
      FlattenSquad(root, path, &out);
      return out;
    }
    json records = root;
    if (!c.json_records.empty()) {
      for (absl::string_view k : absl::StrSplit(c.json_records, '.')) {
        std::string key(k);
        if (!records.is_object() || !records.contains(key))
          return absl::InvalidArgumentError(absl::StrCat(
              Prefix(c, path), ": json_records key '", key, "' not found"));
        records = records[key];
      }
    }
    if (records.is_object()) return ParseJsonLines(c, path, text);
    if (!records.is_array())
      return absl::InvalidArgumentError(Prefix(c, path) +
                                        ": expected a JSON array of documents");
    int64_t n = 0;
    for (auto& r : records) {
      ++n;
      if (!r.is_object())
        return absl::InvalidArgumentError(
            absl::StrCat(Prefix(c, path), ": record ", n, " is not an object"));
      out.push_back({r, path, n});
    }
    return out;
  }
  if (format == "csv" || format == "tsv") {
    QG_ASSIGN_OR_RETURN(
        auto rows,
        ParseDelimited(text, format == "csv" ? ',' : '\t', Prefix(c, path)));
    if (rows.empty()) return out;
    const auto& header = rows[0];
    for (size_t r = 1; r < rows.size(); ++r) {
      if (rows[r].size() != header.size())
        return absl::InvalidArgumentError(absl::StrCat(
            Prefix(c, path), ": row ", r + 1, " has ", rows[r].size(),
            " fields, the header has ", header.size()));
      json d = json::object();
      for (size_t k = 0; k < header.size(); ++k) {
        // CMMLU's header starts with an empty column name (the index).
        std::string key = header[k].empty() ? "index" : header[k];
        d[key] = rows[r][k];
      }
      out.push_back({std::move(d), path, static_cast<int64_t>(r + 1)});
    }
    return out;
  }
  if (format == "text") {
    out.push_back({json{{"text", text}}, path, 1});
    return out;
  }
  if (format == "rows") {
    // Hugging Face's raw-text datasets (wikitext's builder): every line is
    // a row with its "\n"; a blank (whitespace-only) line is an empty row.
    int64_t line_no = 0;
    size_t pos = 0;
    while (pos < text.size()) {
      size_t nl = text.find('\n', pos);
      size_t end = nl == std::string::npos ? text.size() : nl + 1;
      std::string row = text.substr(pos, end - pos);
      // Python's text mode reads "\r\n" as "\n".
      if (absl::EndsWith(row, "\r\n")) row.erase(row.size() - 2, 1);
      if (absl::StripAsciiWhitespace(row).empty()) row.clear();
      out.push_back({json{{"text", row}}, path, ++line_no});
      pos = end;
    }
    return out;
  }
  if (format == "lines") {
    int64_t line_no = 0;
    for (absl::string_view line : absl::StrSplit(text, '\n')) {
      ++line_no;
      std::string l(line);
      if (!l.empty() && l.back() == '\r') l.pop_back();
      if (absl::StripAsciiWhitespace(l).empty()) continue;
      json d;
      if (c.line_fields.empty()) {
        d["text"] = l;
      } else {
        size_t pos = 0;
        for (size_t f = 0; f < c.line_fields.size(); ++f) {
          if (f + 1 == c.line_fields.size()) {
            d[c.line_fields[f]] = l.substr(pos);
            break;
          }
          size_t next = l.find(c.line_delimiter, pos);
          if (next == std::string::npos)
            return absl::InvalidArgumentError(
                absl::StrCat(Prefix(c, path), ":", line_no, ": expected ",
                             c.line_fields.size(), " fields separated by '",
                             c.line_delimiter, "'"));
          d[c.line_fields[f]] = l.substr(pos, next - pos);
          pos = next + c.line_delimiter.size();
        }
      }
      out.push_back({std::move(d), path, line_no});
    }
    return out;
  }
  return absl::InvalidArgumentError(absl::StrCat(
      "task '", c.task, "' (", c.source, "): field 'format': '", format,
      "' is not one of jsonl, json, squad, csv, tsv, text, lines"));
}

bool HasSplit(const TaskConfig& c, const std::string& split) {
  if (split.empty()) return false;
  if (c.carve_size > 0 && split == c.carve_split) return true;
  return c.data_files.count(split) > 0;
}

std::vector<int64_t> CarveOrder(int64_t n, uint64_t seed) {
  std::vector<int64_t> idx(n);
  for (int64_t i = 0; i < n; ++i) idx[i] = i;
  std::mt19937_64 rng(seed);
  for (int64_t i = n - 1; i > 0; --i) {
    int64_t j = static_cast<int64_t>(rng() % static_cast<uint64_t>(i + 1));
    std::swap(idx[i], idx[j]);
  }
  return idx;
}

namespace {

// TaskConfig::doc_filter on one document; a missing field is an error.
absl::StatusOr<bool> PassesFilter(const TaskConfig& c, const Document& d) {
  const TaskConfig::DocFilter& f = c.doc_filter;
  auto v = ResolveTemplateValue("{{" + f.field + "}}", d.fields);
  if (!v.ok())
    return Annotate(v.status(), Prefix(c, d.Where()) + ": doc_filter field '" +
                                    f.field + "'");
  const std::string text = JsonToText(*v);
  return f.starts_with.empty() ? text == f.equals
                               : absl::StartsWith(text, f.starts_with);
}

}  // namespace

absl::StatusOr<std::vector<Document>> LoadSplit(const TaskConfig& c,
                                                const std::string& split,
                                                const std::string& data_dir) {
  bool carving =
      c.carve_size > 0 && (split == c.carve_split || split == c.test_split);
  std::string file_split = carving ? c.test_split : split;
  auto it = c.data_files.find(file_split);
  if (it == c.data_files.end())
    return absl::NotFoundError(absl::StrCat("task '", c.task, "' (", c.source,
                                            "): no data_files for split '",
                                            file_split, "'"));
  std::vector<Document> docs;
  std::vector<Subject> subjects = c.subjects;
  if (subjects.empty()) subjects.push_back(Subject{});
  for (const auto& subject : subjects) {
    for (const std::string& pattern : it->second) {
      if (pattern.find("{subject}") != std::string::npos && subject.id.empty())
        return absl::InvalidArgumentError(
            absl::StrCat("task '", c.task,
                         "': data_files use {subject} but the task "
                         "lists no subjects"));
      std::string p = absl::StrReplaceAll(pattern, {{"{subject}", subject.id}});
      if (!fs::path(p).is_absolute()) p = (fs::path(data_dir) / p).string();
      std::vector<std::string> files = Glob(p);
      if (files.empty() || (files.size() == 1 && !fs::exists(files[0])))
        return absl::NotFoundError(
            absl::StrCat("task '", c.task, "': split '", file_split,
                         "': data file '", p, "' not found (data dir '",
                         data_dir, "'; set --data-dir or QGRID_DATA_DIR)"));
      for (const auto& f : files) {
        QG_ASSIGN_OR_RETURN(auto part, LoadFile(c, f, FormatFor(c, f)));
        for (auto& d : part) {
          if (!c.process_docs.empty()) {
            absl::Status st = ProcessDocument(c.process_docs, &d.fields);
            if (!st.ok()) return Annotate(st, Prefix(c, d.Where()));
          }
          if (!c.doc_filter.field.empty()) {
            QG_ASSIGN_OR_RETURN(bool keep, PassesFilter(c, d));
            if (!keep) continue;
          }
          if (!subject.id.empty()) {
            d.fields["subject"] = subject.id;
            d.fields["subject_name"] = subject.name;
            d.fields["category"] = subject.category;
          }
          docs.push_back(std::move(d));
        }
      }
    }
  }
  if (!carving) return docs;
  int64_t n = static_cast<int64_t>(docs.size());
  if (c.carve_size >= n)
    return absl::InvalidArgumentError(
        absl::StrCat("task '", c.task, "': carve_size ", c.carve_size,
                     " leaves no test documents (the test split has ", n, ")"));
  std::vector<int64_t> order = CarveOrder(n, c.carve_seed);
  std::vector<Document> out;
  if (split == c.carve_split) {
    for (int64_t i = 0; i < c.carve_size; ++i) out.push_back(docs[order[i]]);
  } else {
    std::vector<bool> carved(n, false);
    for (int64_t i = 0; i < c.carve_size; ++i) carved[order[i]] = true;
    for (int64_t i = 0; i < n; ++i)
      if (!carved[i]) out.push_back(docs[i]);
  }
  return out;
}

}  // namespace qgrid::eval
