#include "eval/evaluate.h"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <functional>
#include <map>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "common/progress.h"
#include "common/status_macros.h"
#include "eval/dataset.h"
#include "eval/metrics.h"
#include "eval/prompt.h"

namespace qgrid::eval {
namespace {

using json = nlohmann::json;

// Per-document outcome: metric name -> value, plus the sample record.
struct DocOutcome {
  std::map<std::string, double> metrics;
  json sample;
};

std::string PickFewshotSplit(const TaskConfig& c,
                             const std::string& eval_split) {
  for (const std::string* s :
       {&c.fewshot_split, &c.training_split, &c.validation_split})
    if (!s->empty() && HasSplit(c, *s)) return *s;
  return eval_split;
}

// Adapts scorer progress callbacks to a Progress bar.
ProgressFn ProgressAdapter(std::unique_ptr<Progress>* bar, bool enabled,
                           const std::string& label, const char* unit) {
  if (!enabled) return nullptr;
  return [bar, label, unit](int64_t done, int64_t total) {
    if (!*bar) *bar = std::make_unique<Progress>(label, total, unit, true);
    (*bar)->Add(done - (*bar)->done());
  };
}

// One task's documents and prompts, shared by the scoring functions below
// (one per output type). Each fills `out` with per-document metrics and
// sample records.
struct TaskRun {
  const TaskConfig& task;
  const std::vector<Document>& docs;
  const int64_t n;
  Scorer& scorer;
  // The few-shot prefix of document i.
  std::function<absl::StatusOr<std::string>(int64_t)> prefix_of;
  // A progress callback counting `unit` (nullptr when progress is off).
  std::function<ProgressFn(const char*)> progress;

  bool wants(const std::string& m) const {
    return std::find(task.metrics.begin(), task.metrics.end(), m) !=
           task.metrics.end();
  }
};

// Multiple choice, and classification scored by log-likelihood: one request
// per (document, choice); acc, acc_norm, ranks, CrowS-Pairs, MC2.
absl::Status ScoreChoices(const TaskRun& r, std::vector<DocOutcome>* out) {
  const TaskConfig& task = r.task;
  const std::vector<Document>& docs = r.docs;
  const int64_t n = r.n;
  std::vector<LoglikelihoodRequest> reqs;
  std::vector<std::vector<std::string>> choices(n);
  std::vector<int> gold(n);
  std::vector<size_t> first(n);
  std::vector<std::string> prompts(n);
  std::vector<std::vector<int>> mc_labels(n);
  for (int64_t i = 0; i < n; ++i) {
    QG_ASSIGN_OR_RETURN(std::string prefix, r.prefix_of(i));
    QG_ASSIGN_OR_RETURN(choices[i], DocToChoices(task, docs[i]));
    QG_ASSIGN_OR_RETURN(gold[i], GoldIndex(task, docs[i], choices[i]));
    if (!task.doc_to_labels.empty()) {
      auto v = ResolveTemplateValue(task.doc_to_labels, docs[i].fields);
      if (!v.ok())
        return Annotate(v.status(), "task '" + task.task + "': " +
                                        docs[i].Where() + ": doc_to_labels");
      if (!v->is_array() || v->size() != choices[i].size())
        return absl::InvalidArgumentError(
            absl::StrCat("task '", task.task, "': ", docs[i].Where(),
                         ": doc_to_labels must give one 0/1 label per choice (",
                         choices[i].size(), ")"));
      for (const auto& e : *v)
        mc_labels[i].push_back(e.is_number() ? e.get<int>() : 0);
    }
    first[i] = reqs.size();
    if (task.multiple_input) {
      auto cont = RenderTemplate(task.doc_to_target, docs[i].fields);
      if (!cont.ok())
        return Annotate(cont.status(),
                        "task '" + task.task + "': " + docs[i].Where());
      prompts[i] = prefix;
      for (const auto& ch : choices[i])
        reqs.push_back({prefix + ch, task.target_delimiter + *cont});
    } else {
      QG_ASSIGN_OR_RETURN(std::string text, DocToText(task, docs[i]));
      prompts[i] = prefix + text;
      for (const auto& ch : choices[i])
        reqs.push_back({prompts[i], task.target_delimiter + ch});
    }
  }
  QG_ASSIGN_OR_RETURN(auto res,
                      r.scorer.Loglikelihood(reqs, r.progress("requests")));
  for (int64_t i = 0; i < n; ++i) {
    std::vector<double> ll, norm;
    json greedy = json::array();
    for (size_t j = 0; j < choices[i].size(); ++j) {
      const auto& r = res[first[i] + j];
      ll.push_back(r.logprob);
      // acc_norm: lm-eval divides by the choice's length in characters.
      norm.push_back(r.logprob /
                     std::max<int64_t>(1, Utf8Length(choices[i][j])));
      greedy.push_back(r.is_greedy);
    }
    int pred = Argmax(ll), pred_norm = Argmax(norm);
    auto& o = (*out)[i];
    o.metrics["acc"] = pred == gold[i] ? 1.0 : 0.0;
    o.metrics["acc_norm"] = pred_norm == gold[i] ? 1.0 : 0.0;
    // For the corpus-level f1 (MC-TACO): choice index as the class.
    o.metrics["_gold"] = gold[i];
    o.metrics["_pred"] = pred;
    if (r.wants("r@1") || r.wants("r@2") || r.wants("mrr")) {
      RankMetrics rm = GoldRankMetrics(ll, gold[i]);
      o.metrics["r@1"] = rm.r1;
      o.metrics["r@2"] = rm.r2;
      o.metrics["mrr"] = rm.mrr;
    }
    if ((r.wants("likelihood_diff") || r.wants("pct_stereotype")) &&
        ll.size() == 2) {
      // CrowS-Pairs (lm-eval crows_pairs/utils.py): choice 0 is the
      // more stereotypical sentence.
      o.metrics["likelihood_diff"] = std::fabs(ll[0] - ll[1]);
      o.metrics["pct_stereotype"] = ll[0] > ll[1] ? 1.0 : 0.0;
    }
    if (!mc_labels[i].empty()) {
      // lm-eval's truthfulqa_mc2 reports the true-answer mass under
      // "acc" (truthfulqa/utils.py process_results_mc2); "mc2" stays
      // an alias for the same value.
      o.metrics["mc2"] = Mc2TrueMass(ll, mc_labels[i]);
      o.metrics["acc"] = o.metrics["mc2"];
    }
    o.sample = {{"prompt", prompts[i]}, {"choices", choices[i]},
                {"loglikelihoods", ll}, {"is_greedy", greedy},
                {"prediction", pred},   {"prediction_norm", pred_norm},
                {"gold", gold[i]}};
  }
  return absl::OkStatus();
}

// Free generation (extractive QA: exact match, F1, number match), and
// classification by generating the label.
absl::Status ScoreGenerations(const TaskRun& r, std::vector<DocOutcome>* out) {
  const TaskConfig& task = r.task;
  const std::vector<Document>& docs = r.docs;
  const int64_t n = r.n;
  std::vector<GenerationRequest> reqs(n);
  for (int64_t i = 0; i < n; ++i) {
    QG_ASSIGN_OR_RETURN(std::string prefix, r.prefix_of(i));
    QG_ASSIGN_OR_RETURN(std::string text, DocToText(task, docs[i]));
    reqs[i] = {prefix + text, task.until, task.max_gen_toks};
  }
  QG_ASSIGN_OR_RETURN(auto gens, r.scorer.Generate(reqs, r.progress("docs")));
  for (int64_t i = 0; i < n; ++i) {
    auto& o = (*out)[i];
    o.sample = {{"prompt", reqs[i].context}, {"generation", gens[i]}};
    if (task.output_type == OutputType::kGenerate) {
      QG_ASSIGN_OR_RETURN(auto golds, GoldAnswers(task, docs[i]));
      // SQuAD v2 lists no answers for unanswerable questions; the
      // official script then scores against the empty string.
      std::vector<std::string> nonempty;
      for (const auto& g : golds)
        if (!NormalizeSquadAnswer(g).empty()) nonempty.push_back(g);
      o.metrics["exact_match"] = SquadExactMatch(gens[i], nonempty);
      o.metrics["f1"] = SquadF1(gens[i], nonempty);
      o.metrics["number_match"] =
          golds.empty() ? 0.0 : NumberExactMatch(gens[i], golds[0]);
      o.sample["gold"] = golds;
    } else {
      QG_ASSIGN_OR_RETURN(auto choices, DocToChoices(task, docs[i]));
      QG_ASSIGN_OR_RETURN(int gold, GoldIndex(task, docs[i], choices));
      int pred =
          task.label_match == "normalized_exact"
              ? MatchNormalizedLabel(gens[i], choices, task.label_aliases)
              : ParseGeneratedLabel(gens[i], choices);
      o.metrics["acc"] = pred == gold ? 1.0 : 0.0;
      o.sample["choices"] = choices;
      o.sample["prediction"] = pred;
      o.sample["gold"] = gold;
    }
  }
  return absl::OkStatus();
}

// The log-likelihood of one gold target (LAMBADA style): acc = greedy.
absl::Status ScoreTargets(const TaskRun& r, std::vector<DocOutcome>* out) {
  const TaskConfig& task = r.task;
  const std::vector<Document>& docs = r.docs;
  const int64_t n = r.n;
  std::vector<LoglikelihoodRequest> reqs(n);
  for (int64_t i = 0; i < n; ++i) {
    QG_ASSIGN_OR_RETURN(std::string prefix, r.prefix_of(i));
    QG_ASSIGN_OR_RETURN(std::string text, DocToText(task, docs[i]));
    QG_ASSIGN_OR_RETURN(auto golds, GoldAnswers(task, docs[i]));
    reqs[i] = {prefix + text,
               task.target_delimiter + (golds.empty() ? "" : golds[0])};
  }
  QG_ASSIGN_OR_RETURN(auto res,
                      r.scorer.Loglikelihood(reqs, r.progress("requests")));
  for (int64_t i = 0; i < n; ++i) {
    (*out)[i].metrics["acc"] = res[i].is_greedy ? 1.0 : 0.0;
    (*out)[i].metrics["loglikelihood"] = res[i].logprob;
    (*out)[i].sample = {{"prompt", reqs[i].context},
                        {"target", reqs[i].continuation},
                        {"loglikelihood", res[i].logprob},
                        {"is_greedy", res[i].is_greedy}};
  }
  return absl::OkStatus();
}

// C-Eval/CMMLU style: the next-token scores of the choice letters.
absl::Status ScoreLetters(const TaskRun& r, std::vector<DocOutcome>* out) {
  const TaskConfig& task = r.task;
  const std::vector<Document>& docs = r.docs;
  const int64_t n = r.n;
  std::vector<std::string> contexts(n);
  std::vector<int> gold(n);
  std::vector<std::string> letters;
  for (int64_t i = 0; i < n; ++i) {
    QG_ASSIGN_OR_RETURN(std::string prefix, r.prefix_of(i));
    QG_ASSIGN_OR_RETURN(std::string text, DocToText(task, docs[i]));
    QG_ASSIGN_OR_RETURN(auto choices, DocToChoices(task, docs[i]));
    if (i == 0) letters = choices;
    if (choices != letters)
      return absl::InvalidArgumentError(absl::StrCat(
          "task '", task.task, "': ", docs[i].Where(),
          ": mc_letter needs the same choice letters for every document"));
    QG_ASSIGN_OR_RETURN(gold[i], GoldIndex(task, docs[i], choices));
    contexts[i] = prefix + text;
  }
  QG_ASSIGN_OR_RETURN(auto scores, r.scorer.NextTokenScores(
                                       contexts, letters, r.progress("docs")));
  for (int64_t i = 0; i < n; ++i) {
    int pred = Argmax(scores[i]);
    (*out)[i].metrics["acc"] = pred == gold[i] ? 1.0 : 0.0;
    (*out)[i].sample = {{"prompt", contexts[i]},
                        {"choices", letters},
                        {"scores", scores[i]},
                        {"prediction", pred},
                        {"gold", gold[i]}};
  }
  return absl::OkStatus();
}

// lm-eval's rolling perplexity (word/byte perplexity, bits per byte).
absl::Status ScoreRolling(const TaskRun& r, std::vector<DocOutcome>* out) {
  const TaskConfig& task = r.task;
  const std::vector<Document>& docs = r.docs;
  const int64_t n = r.n;
  if (task.perplexity_style != "rolling")
    return absl::UnimplementedError(
        "task '" + task.task +
        "': GPTQ-style perplexity needs a model (Evaluate(CausalLM))");
  std::vector<std::string> texts(n);
  for (int64_t i = 0; i < n; ++i) {
    if (task.doc_to_text.empty()) {
      auto v = ResolveTemplateValue("{{text}}", docs[i].fields);
      if (!v.ok()) return Annotate(v.status(), docs[i].Where());
      texts[i] = JsonToText(*v);
    } else {
      QG_ASSIGN_OR_RETURN(texts[i], DocToText(task, docs[i]));
    }
  }
  QG_ASSIGN_OR_RETURN(auto res,
                      r.scorer.LoglikelihoodRolling(texts, r.progress("docs")));
  for (int64_t i = 0; i < n; ++i) {
    (*out)[i].metrics["loglikelihood"] = res[i].logprob;
    (*out)[i].metrics["words"] = static_cast<double>(CountWords(texts[i]));
    (*out)[i].metrics["bytes"] = static_cast<double>(texts[i].size());
    (*out)[i].sample = {{"loglikelihood", res[i].logprob},
                        {"tokens", res[i].num_tokens}};
  }
  return absl::OkStatus();
}

// The task's metrics over the documents `idx` into `dst` ("m,none" and
// "m_stderr,none", lm-eval's keys).
void Aggregate(const TaskConfig& task, std::vector<DocOutcome>& out,
               const std::vector<int64_t>& idx, json* dst) {
  if (task.output_type == OutputType::kPerplexity) {
    RollingTotals t;
    for (int64_t i : idx) {
      t.loglikelihood += out[i].metrics["loglikelihood"];
      t.words += static_cast<int64_t>(out[i].metrics["words"]);
      t.bytes += static_cast<int64_t>(out[i].metrics["bytes"]);
    }
    for (const auto& m : task.metrics) {
      if (m == "word_perplexity") (*dst)[m + ",none"] = t.WordPerplexity();
      if (m == "byte_perplexity") (*dst)[m + ",none"] = t.BytePerplexity();
      if (m == "bits_per_byte") (*dst)[m + ",none"] = t.BitsPerByte();
      (*dst)[m + "_stderr,none"] = "N/A";
    }
    return;
  }
  for (const auto& m : task.metrics) {
    if (m == "perplexity" && task.output_type == OutputType::kLoglikelihood) {
      // lm-eval's perplexity aggregation: exp(-mean(ll)).
      std::vector<double> ll;
      for (int64_t i : idx) ll.push_back(out[i].metrics["loglikelihood"]);
      (*dst)["perplexity,none"] = std::exp(-Mean(ll));
      (*dst)["perplexity_stderr,none"] = "N/A";
      continue;
    }
    if (m == "f1" && (task.output_type == OutputType::kMultipleChoice ||
                      task.output_type == OutputType::kClassification)) {
      // lm-eval's f1 for multiple choice: sklearn f1_score over the
      // corpus, class 1 (MC-TACO's "yes") positive; no stderr.
      std::vector<int> golds, preds;
      for (int64_t i : idx) {
        auto g = out[i].metrics.find("_gold");
        auto p = out[i].metrics.find("_pred");
        if (g == out[i].metrics.end() || p == out[i].metrics.end()) continue;
        golds.push_back(static_cast<int>(g->second));
        preds.push_back(static_cast<int>(p->second));
      }
      if (golds.empty()) continue;
      (*dst)["f1,none"] = BinaryF1(golds, preds);
      (*dst)["f1_stderr,none"] = "N/A";
      continue;
    }
    std::vector<double> v;
    for (int64_t i : idx) {
      auto it = out[i].metrics.find(m);
      if (it != out[i].metrics.end()) v.push_back(it->second);
    }
    if (v.empty()) continue;
    (*dst)[m + ",none"] = Mean(v);
    (*dst)[m + "_stderr,none"] = MeanStderr(v);
  }
}

// Per-item scores of the task's metrics (EvalOptions::item_scores).
json ItemScores(const TaskConfig& task, const std::vector<DocOutcome>& out) {
  json items = json::object();
  // Rounded to `per` units (1e4: 1e-4): compact and far below any noise.
  auto round_to = [](double v, double per) {
    return std::round(v * per) / per;
  };
  if (task.output_type == OutputType::kPerplexity) {
    for (const auto& m : task.metrics) {
      const char* den = m == "word_perplexity" ? "words" : "bytes";
      if (m != "word_perplexity" && m != "byte_perplexity" &&
          m != "bits_per_byte")
        continue;
      json nll = json::array(), count = json::array();
      for (const auto& o : out) {
        nll.push_back(round_to(-o.metrics.at("loglikelihood"), 1e4));
        count.push_back(o.metrics.at(den));
      }
      items[m] = {{"nll", nll},
                  {"den", count},
                  {"agg", m == "bits_per_byte" ? "bits" : "exp"}};
    }
    return items;
  }
  for (const auto& m : task.metrics) {
    if (m == "perplexity" && task.output_type == OutputType::kLoglikelihood) {
      // exp(-mean ll): a ratio with one unit per document.
      json nll = json::array();
      for (const auto& o : out)
        nll.push_back(round_to(-o.metrics.at("loglikelihood"), 1e4));
      items[m] = {{"nll", nll}, {"den", 1}, {"agg", "exp"}};
      continue;
    }
    bool all = !out.empty(), binary = true;
    for (const auto& o : out) {
      auto it = o.metrics.find(m);
      if (it == o.metrics.end()) {
        all = false;
        break;
      }
      binary = binary && (it->second == 0 || it->second == 1);
    }
    // Corpus-level F1 of multiple choice has no per-item term.
    if (!all) continue;
    if (binary) {
      std::string bits;
      for (const auto& o : out) bits += o.metrics.at(m) != 0 ? '1' : '0';
      items[m] = bits;
    } else {
      json v = json::array();
      for (const auto& o : out) v.push_back(round_to(o.metrics.at(m), 1e6));
      items[m] = v;
    }
  }
  return items;
}

// Appends one JSON line per document to `samples_out` (--samples-out).
absl::Status WriteSamples(const std::string& samples_out,
                          const TaskConfig& task,
                          const std::vector<Document>& docs,
                          const std::vector<DocOutcome>& out) {
  const int64_t n = static_cast<int64_t>(out.size());
  std::ofstream f(samples_out, std::ios::app);
  if (!f)
    return absl::PermissionDeniedError("cannot write samples to " +
                                       samples_out);
  for (int64_t i = 0; i < n; ++i) {
    json rec = out[i].sample;
    rec["task"] = task.task;
    rec["doc_id"] = i;
    rec["where"] = docs[i].Where();
    rec["doc"] = docs[i].fields;
    json m = json::object();
    for (const auto& [name, v] : out[i].metrics)
      if (name[0] != '_') m[name] = v;
    rec["metrics"] = m;
    f << rec.dump(-1, ' ', false, json::error_handler_t::replace) << "\n";
  }
  return absl::OkStatus();
}

}  // namespace

int ParseGeneratedLabel(const std::string& answer,
                        const std::vector<std::string>& labels) {
  std::string a = absl::AsciiStrToLower(answer);
  int best = -1;
  size_t best_pos = std::string::npos, best_len = 0;
  for (size_t i = 0; i < labels.size(); ++i) {
    std::string l = absl::AsciiStrToLower(
        std::string(absl::StripAsciiWhitespace(labels[i])));
    if (l.empty()) continue;
    size_t pos = a.find(l);
    if (pos == std::string::npos) continue;
    if (best < 0 || pos < best_pos ||
        (pos == best_pos && l.size() > best_len)) {
      best = static_cast<int>(i);
      best_pos = pos;
      best_len = l.size();
    }
  }
  return best;
}

int MatchNormalizedLabel(const std::string& answer,
                         const std::vector<std::string>& labels,
                         const std::map<std::string, std::string>& aliases) {
  std::string a = NormalizeSquadAnswer(answer);
  if (auto it = aliases.find(a); it != aliases.end())
    a = NormalizeSquadAnswer(it->second);
  for (size_t i = 0; i < labels.size(); ++i)
    if (!a.empty() && a == NormalizeSquadAnswer(labels[i]))
      return static_cast<int>(i);
  return -1;
}

absl::StatusOr<json> EvaluateWithScorer(Scorer& scorer,
                                        const TaskConfig& task_in,
                                        const EvalOptions& opts) {
  // Fixed demonstrations (TaskConfig::fixed_fewshot) are part of the
  // description; an explicit zero shots swaps in the zero-shot one.
  const bool fixed = task_in.fixed_fewshot > 0 &&
                     task_in.output_type != OutputType::kPerplexity;
  TaskConfig zero_shot;
  if (fixed && opts.shots == 0) {
    if (task_in.zeroshot_description.empty())
      return absl::InvalidArgumentError(
          absl::StrCat("task '", task_in.task, "' (", task_in.source,
                       "): 0 shots asked, "
                       "but its ",
                       task_in.fixed_fewshot,
                       " demonstrations are fixed in "
                       "'description' and it has no 'zeroshot_description'"));
    zero_shot = task_in;
    zero_shot.description = task_in.zeroshot_description;
  }
  const TaskConfig& task = fixed && opts.shots == 0 ? zero_shot : task_in;
  const std::string data_dir = ResolveDataDir(opts.data_dir);
  std::string eval_split = task.test_split;
  if (!HasSplit(task, eval_split) && HasSplit(task, task.validation_split))
    eval_split = task.validation_split;
  QG_ASSIGN_OR_RETURN(std::vector<Document> all_docs,
                      LoadSplit(task, eval_split, data_dir));
  const int64_t original = static_cast<int64_t>(all_docs.size());
  std::vector<Document> docs;
  if (opts.limit > 0 && !task.subjects.empty()) {
    // Grouped tasks: the first `limit` documents of every subject, as
    // lm-eval applies --limit to each subtask.
    std::map<std::string, int64_t> taken;
    for (size_t i = 0; i < all_docs.size(); ++i)
      if (taken[all_docs[i].fields.value("subject", "")]++ < opts.limit)
        docs.push_back(all_docs[i]);
  } else {
    docs = all_docs;
    if (opts.limit > 0 && static_cast<int64_t>(docs.size()) > opts.limit)
      docs.resize(opts.limit);
  }
  if (docs.empty())
    return absl::InvalidArgumentError(absl::StrCat(
        "task '", task.task, "': split '", eval_split, "' has no documents"));
  // k: demonstrations sampled from a split; n_shot: all in the prompt.
  const int k = task.output_type == OutputType::kPerplexity || fixed
                    ? 0
                    : (opts.shots >= 0 ? opts.shots : task.num_fewshot);
  const int n_shot = fixed ? (opts.shots == 0 ? 0 : task.fixed_fewshot) : k;
  const uint64_t seed = opts.seed.value_or(task.seed);

  std::vector<Document> pool;
  bool same_split = true;
  std::string fewshot_split;
  if (k > 0) {
    fewshot_split = PickFewshotSplit(task, eval_split);
    same_split = fewshot_split == eval_split;
    if (same_split) {
      pool = all_docs;
    } else {
      QG_ASSIGN_OR_RETURN(pool, LoadSplit(task, fewshot_split, data_dir));
    }
  }

  const int64_t n = static_cast<int64_t>(docs.size());
  std::vector<DocOutcome> out(n);
  // Shots drawn document by document in order, as lm-eval draws them.
  std::vector<std::vector<int64_t>> shots(n);
  if (k > 0) {
    ShotSampler sampler(task, pool, same_split, k, seed);
    for (int64_t i = 0; i < n; ++i) shots[i] = sampler.Next(docs[i]);
  }
  std::unique_ptr<Progress> bar;
  const std::string label = "eval " + task.task;
  TaskRun run{
      task,
      docs,
      n,
      scorer,
      [&](int64_t i) { return FewshotPrefix(task, pool, docs[i], shots[i]); },
      [&](const char* unit) {
        return ProgressAdapter(&bar, opts.progress, label, unit);
      }};
  absl::Status scored;
  switch (task.output_type) {
    case OutputType::kMultipleChoice:
      scored = ScoreChoices(run, &out);
      break;
    case OutputType::kClassification:
      scored = task.classification_mode == "loglikelihood"
                   ? ScoreChoices(run, &out)
                   : ScoreGenerations(run, &out);
      break;
    case OutputType::kGenerate:
      scored = ScoreGenerations(run, &out);
      break;
    case OutputType::kLoglikelihood:
      scored = ScoreTargets(run, &out);
      break;
    case OutputType::kMcLetter:
      scored = ScoreLetters(run, &out);
      break;
    case OutputType::kPerplexity:
      scored = ScoreRolling(run, &out);
      break;
  }
  QG_RETURN_IF_ERROR(scored);
  if (bar) bar->Finish();

  // Aggregate.
  json task_res = {
      {"name", task.task}, {"alias", task.task}, {"sample_len", n}};
  auto aggregate = [&](const std::vector<int64_t>& idx, json* dst) {
    Aggregate(task, out, idx, dst);
  };
  std::vector<int64_t> all_idx(n);
  for (int64_t i = 0; i < n; ++i) all_idx[i] = i;
  aggregate(all_idx, &task_res);
  for (const auto& m : task.metrics)
    if (task.output_type != OutputType::kPerplexity &&
        !task_res.contains(m + ",none") && !out.empty() &&
        !out[0].metrics.count(m))
      return absl::InvalidArgumentError(absl::StrCat(
          "task '", task.task, "' (", task.source, "): field 'metrics': '", m,
          "' is not produced by output_type ",
          OutputTypeName(task.output_type)));

  json result;
  result["results"][task.task] = task_res;
  if (!task.subjects.empty()) {
    std::map<std::string, std::vector<int64_t>> by_subject;
    for (int64_t i = 0; i < n; ++i)
      by_subject[docs[i].fields.value("subject", "")].push_back(i);
    json groups = json::object();
    for (const auto& [subject, idx] : by_subject) {
      json g = {{"n", idx.size()}};
      aggregate(idx, &g);
      groups[subject] = g;
    }
    result["groups"] = groups;
  }
  result["n-shot"][task.task] = n_shot;
  result["n-samples"][task.task] = {{"original", original}, {"effective", n}};
  result["config"] = {{"task", task.task},
                      {"source", task.source},
                      {"output_type", OutputTypeName(task.output_type)},
                      {"split", eval_split},
                      {"fewshot_split", fewshot_split},
                      {"fewshot_sampler", task.fewshot_sampler},
                      {"fixed_fewshot", task.fixed_fewshot},
                      {"requested_shots", opts.shots},
                      {"target_delimiter", task.target_delimiter},
                      {"fewshot_delimiter", task.fewshot_delimiter},
                      {"metrics", task.metrics},
                      {"data_dir", data_dir},
                      {"limit", opts.limit},
                      {"batch_size", opts.batch_size},
                      {"reuse_context", opts.reuse_context},
                      {"add_bos", opts.add_bos},
                      {"special_tokens", opts.special_tokens}};
  if (opts.item_scores) result["items"][task.task] = ItemScores(task, out);
  result["seeds"] = {{"fewshot_seed", seed}};
  if (task.carve_size > 0) result["seeds"]["carve_seed"] = task.carve_seed;
  ScorerStats st = scorer.stats();
  result["scorer"] = {{"forward_tokens", st.forward_tokens},
                      {"scored_tokens", st.scored_tokens},
                      {"forward_calls", st.forward_calls},
                      {"generated_tokens", st.generated_tokens}};

  if (!opts.samples_out.empty()) {
    QG_RETURN_IF_ERROR(WriteSamples(opts.samples_out, task, docs, out));
  }
  return result;
}

}  // namespace qgrid::eval
