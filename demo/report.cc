#include "demo/report.h"

#include <ATen/ATen.h>
#include <ATen/Parallel.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/status_macros.h"
#include "demo/train.h"
#include "eval/evaluate.h"
#include "eval/perplexity.h"
#include "eval/task_config.h"
#include "model/causal_lm.h"

namespace qgrid::demo {
namespace {

using eval::EvalOptions;
using eval::Evaluate;
using eval::ResolveTask;
using eval::TaskConfig;

namespace fs = std::filesystem;

std::vector<std::string> ReadLines(const std::string& path, int max_lines) {
  std::vector<std::string> out;
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line) &&
         (max_lines < 0 || static_cast<int>(out.size()) < max_lines)) {
    if (!line.empty()) out.push_back(line);
  }
  return out;
}

bool HasCjk(const std::string& s) {
  // Any three-byte UTF-8 sequence in the CJK Unified Ideographs block.
  for (size_t i = 0; i + 2 < s.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    if (c >= 0xE4 && c <= 0xE9) return true;
  }
  return false;
}

// Paragraphs (blank-line separated) of a plain-text file, whitespace runs
// collapsed, so that a licence file becomes documents like the demo splits.
std::vector<std::string> ReadParagraphs(const std::string& path) {
  std::vector<std::string> out;
  std::ifstream in(path);
  std::string line, cur;
  auto flush = [&] {
    if (!cur.empty()) out.push_back(cur);
    cur.clear();
  };
  while (std::getline(in, line)) {
    std::istringstream words(line);
    std::string w;
    bool any = false;
    while (words >> w) {
      if (!cur.empty()) cur += ' ';
      cur += w;
      any = true;
    }
    if (!any) flush();
  }
  flush();
  return out;
}

// A token stream of documents (BOS each, as training saw them) with the
// UTF-8 bytes it covers, cut at `max_tokens` (bytes pro-rated at the cut).
struct DocStream {
  std::vector<int> ids;
  double bytes = 0;
};

DocStream TokenizeDocs(const model::Tokenizer& tok,
                       const std::vector<std::string>& docs,
                       int64_t max_tokens) {
  DocStream s;
  for (const std::string& d : docs) {
    std::vector<int> ids = tok.Encode(d, /*add_special_tokens=*/true);
    size_t keep = ids.size();
    if (max_tokens > 0)
      keep = std::min<size_t>(keep, max_tokens - s.ids.size());
    s.ids.insert(s.ids.end(), ids.begin(), ids.begin() + keep);
    s.bytes +=
        static_cast<double>(d.size()) * keep / std::max<size_t>(1, ids.size());
    if (max_tokens > 0 && static_cast<int64_t>(s.ids.size()) >= max_tokens)
      break;
  }
  return s;
}

// The opening words of a document: six words, or eight characters of
// CJK text (which has no spaces), as a greedy-continuation prompt.
std::string OpeningWords(const std::string& doc) {
  if (HasCjk(doc)) {
    size_t i = 0;
    for (int chars = 0; i < doc.size() && chars < 8; ++chars) {
      unsigned char c = static_cast<unsigned char>(doc[i]);
      i += c < 0x80 ? 1 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4;
    }
    return doc.substr(0, std::min(i, doc.size()));
  }
  std::istringstream in(doc);
  std::string w, out;
  for (int n = 0; n < 6 && in >> w; ++n) out += (out.empty() ? "" : " ") + w;
  return out;
}

// The domain whose unigram gives `ids` the highest log-likelihood.
std::string JudgeDomain(const std::vector<int>& ids,
                        const std::vector<std::vector<double>>& logp,
                        const std::vector<std::string>& domains) {
  if (ids.empty()) return "";
  size_t best = 0;
  double best_ll = -INFINITY;
  for (size_t j = 0; j < logp.size(); ++j) {
    double ll = 0;
    for (int t : ids)
      if (t >= 0 && t < static_cast<int>(logp[j].size())) ll += logp[j][t];
    if (ll > best_ll) best_ll = ll, best = j;
  }
  return domains[best];
}

// Model and unigram perplexity of `stream`, and the model's bits per byte.
absl::Status ScoreStream(const model::CausalLM& lm, const DocStream& stream,
                         const std::vector<int>& unigram_train, int vocab,
                         int seq_len, DemoDomainReport* dr) {
  // GPTQ-style windows, 8 per forward call, as the numbers were first made.
  eval::PerplexityOptions po;
  po.seqlen = seq_len;
  po.batch_size = 8;
  po.show_progress = false;
  QG_ASSIGN_OR_RETURN(eval::PerplexityResult mp,
                      eval::Perplexity(lm, stream.ids, po));
  eval::PerplexityResult up =
      UnigramPerplexity(unigram_train, stream.ids, vocab, seq_len);
  dr->test_tokens = mp.predicted;
  dr->model_ppl = mp.ppl;
  dr->unigram_ppl = up.ppl;
  // The bytes behind the predicted tokens, pro-rated over the stream.
  double bytes =
      stream.bytes * mp.predicted / std::max<size_t>(1, stream.ids.size());
  dr->test_bytes = static_cast<int64_t>(bytes);
  const double nll_sum = mp.mean_nll * static_cast<double>(mp.predicted);
  dr->model_bpb = bytes > 0 ? nll_sum / std::log(2.0) / bytes : 0;
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<DemoReport> BuildDemoReport(const DemoReportOptions& opts) {
  at::set_num_threads(opts.threads);
  model::LoadOptions lo;
  QG_ASSIGN_OR_RETURN(std::unique_ptr<model::CausalLM> lm,
                      model::CausalLM::Load(opts.model_dir, lo));
  const model::Tokenizer* tok = lm->tokenizer();
  if (tok == nullptr)
    return absl::NotFoundError(
        absl::StrCat(opts.model_dir, ": the model has no tokenizer"));
  DemoReport rep;
  rep.vocab_size = tok->vocab_size();
  rep.parameters = lm->config().ParameterCount();

  std::vector<std::string> domains = opts.domains;
  if (domains.empty()) {
    if (!fs::is_directory(opts.data_dir))
      return absl::NotFoundError(
          absl::StrCat(opts.data_dir, ": not a directory"));
    for (const auto& e : fs::directory_iterator(opts.data_dir))
      if (fs::exists(e.path() / "test.txt"))
        domains.push_back(e.path().filename().string());
    std::sort(domains.begin(), domains.end());
  }
  if (domains.empty())
    return absl::NotFoundError(
        absl::StrCat(opts.data_dir, ": no <domain>/test.txt"));

  // Token streams.
  std::vector<std::vector<int>> train(domains.size()), test(domains.size());
  std::vector<DocStream> test_streams(domains.size());
  std::vector<std::vector<std::string>> first_docs(domains.size());
  std::vector<int> all_train;
  for (size_t i = 0; i < domains.size(); ++i) {
    fs::path d = fs::path(opts.data_dir) / domains[i];
    QG_ASSIGN_OR_RETURN(
        train[i],
        TokenizeLines(*tok, (d / "train.txt").string(), opts.max_train_docs));
    if (!fs::exists(d / "test.txt"))
      return absl::NotFoundError(
          absl::StrCat((d / "test.txt").string(), ": missing"));
    std::vector<std::string> docs = ReadLines((d / "test.txt").string(), -1);
    for (size_t k = 0;
         k < docs.size() && k < static_cast<size_t>(opts.continuation_prompts);
         ++k)
      first_docs[i].push_back(docs[k]);
    test_streams[i] = TokenizeDocs(*tok, docs, opts.max_test_tokens);
    test[i] = test_streams[i].ids;
    all_train.insert(all_train.end(), train[i].begin(), train[i].end());
  }

  // Per-domain add-one unigram log-probabilities, to judge continuations.
  std::vector<std::vector<double>> unigram_logp(domains.size());
  for (size_t i = 0; i < domains.size(); ++i)
    unigram_logp[i] = UnigramLogProbs(train[i], rep.vocab_size);

  for (size_t i = 0; i < domains.size(); ++i) {
    DemoDomainReport dr;
    dr.name = domains[i];
    QG_RETURN_IF_ERROR(ScoreStream(*lm, test_streams[i], all_train,
                                   rep.vocab_size, opts.seq_len, &dr));

    // Multiple choice through the evaluation engine with the built-in
    // demo_<domain>_mc task (lm-eval acc/acc_norm, the same numbers a sweep
    // reports), on the first `mc_items` test items.
    if (opts.mc_items > 0 &&
        fs::exists(fs::path(opts.data_dir) / domains[i] / "mc_test.jsonl")) {
      absl::StatusOr<TaskConfig> task =
          ResolveTask(absl::StrCat("demo_", domains[i], "_mc"));
      if (task.ok()) {
        EvalOptions eo;
        eo.limit = opts.mc_items;
        eo.data_dir = opts.data_dir;
        QG_ASSIGN_OR_RETURN(nlohmann::json res, Evaluate(*lm, *task, eo));
        const nlohmann::json& r = res["results"][task->task];
        dr.mc_items = res["n-samples"][task->task].value("effective", 0);
        dr.mc_acc = r.value("acc,none", 0.0);
        dr.mc_acc_norm = r.value("acc_norm,none", 0.0);
      }
    }
    if (opts.continuation_tokens > 0) {
      for (const std::string& doc : first_docs[i]) {
        DemoContinuation c;
        c.prompt = OpeningWords(doc);
        if (c.prompt.empty()) continue;
        QG_ASSIGN_OR_RETURN(
            std::vector<int> gen,
            model::GreedyGenerate(*lm, tok->Encode(c.prompt, true),
                                  opts.continuation_tokens, true));
        // train-tiny packs documents as <s> doc <s> doc ... (no </s>), so
        // the model ends a document by predicting <s>: the continuation is
        // the rest of the document it started.
        for (size_t k = 0; k < gen.size(); ++k)
          if (gen[k] == tok->bos_id() || gen[k] == tok->eos_id()) {
            gen.resize(k);
            break;
          }
        c.text = tok->Decode(gen, true);
        c.judged_domain = JudgeDomain(gen, unigram_logp, domains);
        dr.continuations.push_back(std::move(c));
      }
    }
    rep.domains.push_back(dr);
  }

  // Text from outside every training domain.
  std::vector<std::string> unseen_docs;
  for (const std::string& f : opts.unseen_files) {
    if (!fs::exists(f)) continue;
    std::vector<std::string> p = ReadParagraphs(f);
    unseen_docs.insert(unseen_docs.end(), p.begin(), p.end());
  }
  DocStream unseen = TokenizeDocs(*tok, unseen_docs, opts.max_test_tokens);
  rep.unseen.name = "unseen";
  if (unseen.ids.size() > static_cast<size_t>(opts.seq_len))
    QG_RETURN_IF_ERROR(ScoreStream(*lm, unseen, all_train, rep.vocab_size,
                                   opts.seq_len, &rep.unseen));

  // Cross-domain unigram table and vocabulary overlap.
  std::vector<std::set<int>> types(domains.size());
  for (size_t i = 0; i < domains.size(); ++i)
    types[i].insert(train[i].begin(), train[i].end());
  rep.cross_unigram.assign(domains.size(),
                           std::vector<double>(domains.size(), 0));
  rep.overlap.assign(domains.size(), std::vector<double>(domains.size(), 0));
  for (size_t i = 0; i < domains.size(); ++i) {
    for (size_t j = 0; j < domains.size(); ++j) {
      rep.cross_unigram[i][j] =
          UnigramPerplexity(train[i], test[j], rep.vocab_size, opts.seq_len)
              .ppl;
      size_t inter = 0;
      for (int t : types[i]) inter += types[j].count(t);
      size_t uni = types[i].size() + types[j].size() - inter;
      rep.overlap[i][j] = uni ? static_cast<double>(inter) / uni : 0.0;
    }
  }
  return rep;
}

std::string FormatDemoReport(const DemoReport& r) {
  std::string s = absl::StrFormat(
      "model: %d parameters, vocabulary %d\n\n"
      "Held-out test perplexity (model vs add-one unigram on the same "
      "training text and tokenizer; bits/byte is the model's, comparable "
      "across domains)\n%-11s %8s %10s %12s %8s %9s %7s %9s\n",
      r.parameters, r.vocab_size, "domain", "tokens", "model", "unigram",
      "ratio", "bits/byte", "mc_acc", "acc_norm");
  for (const auto& d : r.domains) {
    absl::StrAppendFormat(
        &s, "%-11s %8d %10.2f %12.2f %8.1fx %9.3f %7.3f %9.3f\n", d.name,
        d.test_tokens, d.model_ppl, d.unigram_ppl, d.unigram_ppl / d.model_ppl,
        d.model_bpb, d.mc_acc, d.mc_acc_norm);
  }
  if (r.unseen.test_tokens > 0) {
    absl::StrAppendFormat(&s, "%-11s %8d %10.2f %12.2f %8.1fx %9.3f %7s %9s\n",
                          "unseen*", r.unseen.test_tokens, r.unseen.model_ppl,
                          r.unseen.unigram_ppl,
                          r.unseen.unigram_ppl / r.unseen.model_ppl,
                          r.unseen.model_bpb, "-", "-");
    absl::StrAppend(&s,
                    "* not a training domain: licence texts from "
                    "/usr/share/common-licenses\n");
  }
  absl::StrAppend(&s,
                  "\nUnigram perplexity: row = training domain, column = "
                  "test domain\n");
  absl::StrAppendFormat(&s, "%-11s", "");
  for (const auto& d : r.domains) absl::StrAppendFormat(&s, " %11s", d.name);
  s += "\n";
  for (size_t i = 0; i < r.domains.size(); ++i) {
    absl::StrAppendFormat(&s, "%-11s", r.domains[i].name);
    for (double v : r.cross_unigram[i]) absl::StrAppendFormat(&s, " %11.1f", v);
    s += "\n";
  }
  absl::StrAppend(&s,
                  "\nVocabulary overlap (Jaccard of token types used in "
                  "train splits)\n");
  absl::StrAppendFormat(&s, "%-11s", "");
  for (const auto& d : r.domains) absl::StrAppendFormat(&s, " %11s", d.name);
  s += "\n";
  for (size_t i = 0; i < r.domains.size(); ++i) {
    absl::StrAppendFormat(&s, "%-11s", r.domains[i].name);
    for (double v : r.overlap[i]) absl::StrAppendFormat(&s, " %11.3f", v);
    s += "\n";
  }
  int own = 0, total = 0;
  for (const auto& d : r.domains)
    for (const auto& c : d.continuations) {
      total += !c.judged_domain.empty();
      own += c.judged_domain == d.name;
    }
  absl::StrAppendFormat(
      &s,
      "\nGreedy continuations of the first test documents' opening words "
      "(judged: the domain whose unigram gives the generated tokens the "
      "highest likelihood; own domain in %d of %d)\n",
      own, total);
  for (const auto& d : r.domains) {
    for (const auto& c : d.continuations)
      absl::StrAppendFormat(&s, "[%s -> judged %s] %s ⟶ %s\n", d.name,
                            c.judged_domain, c.prompt, c.text);
  }
  return s;
}

std::string DemoReportJson(const DemoReport& r) {
  nlohmann::ordered_json j;
  j["parameters"] = r.parameters;
  j["vocab_size"] = r.vocab_size;
  j["domains"] = nlohmann::ordered_json::array();
  std::vector<std::string> names;
  for (const auto& d : r.domains) {
    names.push_back(d.name);
    nlohmann::ordered_json dj;
    dj["name"] = d.name;
    dj["test_tokens"] = d.test_tokens;
    dj["model_ppl"] = d.model_ppl;
    dj["unigram_ppl"] = d.unigram_ppl;
    dj["test_bytes"] = d.test_bytes;
    dj["model_bits_per_byte"] = d.model_bpb;
    dj["mc_items"] = d.mc_items;
    dj["mc_acc"] = d.mc_acc;
    dj["mc_acc_norm"] = d.mc_acc_norm;
    dj["continuations"] = nlohmann::ordered_json::array();
    for (const auto& c : d.continuations)
      dj["continuations"].push_back({{"prompt", c.prompt},
                                     {"text", c.text},
                                     {"judged_domain", c.judged_domain}});
    j["domains"].push_back(dj);
  }
  if (r.unseen.test_tokens > 0) {
    j["unseen"] = {{"test_tokens", r.unseen.test_tokens},
                   {"test_bytes", r.unseen.test_bytes},
                   {"model_ppl", r.unseen.model_ppl},
                   {"unigram_ppl", r.unseen.unigram_ppl},
                   {"model_bits_per_byte", r.unseen.model_bpb}};
  }
  j["domain_names"] = names;
  j["cross_unigram_ppl"] = r.cross_unigram;
  j["vocab_overlap_jaccard"] = r.overlap;
  return j.dump(2, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace qgrid::demo
