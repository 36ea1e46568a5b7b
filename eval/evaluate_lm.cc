// Evaluate() on a model: the CausalLM scorer plus efficiency figures. Kept
// apart from evaluate.cc so that code using only EvaluateWithScorer does
// not pull in the model runtime.
#include <chrono>
#include <cmath>

#include "common/status_macros.h"
#include "eval/dataset.h"
#include "eval/efficiency.h"
#include "eval/evaluate.h"
#include "eval/perplexity.h"
#include "eval/prompt.h"
#include "eval/results_text.h"
#include "model/causal_lm.h"

namespace qgrid::eval {
namespace {

// GPTQ-style perplexity (eval/perplexity.h): the documents (the first
// max_docs) joined with join_delimiter ("\n\n" as GPTQ joins WikiText-2's
// test lines; " " for its ptb-new / c4-new), tokenized once with the
// tokenizer's special tokens, cut to max_windows * seqlen tokens (c4-new's
// valenc[:, :256 * seqlen]), windows of the task's seqlen (capped at the
// model's context).
absl::StatusOr<nlohmann::json> EvaluateGptqPerplexity(const model::CausalLM& lm,
                                                      const TaskConfig& task,
                                                      const EvalOptions& opts) {
  if (lm.tokenizer() == nullptr)
    return absl::FailedPreconditionError("the model has no tokenizer");
  const std::string data_dir = ResolveDataDir(opts.data_dir);
  QG_ASSIGN_OR_RETURN(std::vector<Document> docs,
                      LoadSplit(task, task.test_split, data_dir));
  if (task.max_docs > 0 && static_cast<int64_t>(docs.size()) > task.max_docs)
    docs.resize(task.max_docs);
  std::string text;
  for (size_t i = 0; i < docs.size(); ++i) {
    std::string t;
    if (task.doc_to_text.empty()) {
      QG_ASSIGN_OR_RETURN(auto v,
                          ResolveTemplateValue("{{text}}", docs[i].fields));
      t = JsonToText(v);
    } else {
      QG_ASSIGN_OR_RETURN(t, DocToText(task, docs[i]));
    }
    if (i) text += task.join_delimiter;
    text += t;
  }
  std::vector<int> ids = lm.tokenizer()->Encode(text, true);
  const int64_t all_tokens = static_cast<int64_t>(ids.size());
  PerplexityOptions po;
  int64_t seqlen = opts.max_length > 0 ? opts.max_length : task.seqlen;
  po.seqlen = std::min<int64_t>(seqlen, lm.config().max_position_embeddings);
  // The task's own cap (e.g. GPTQ's c4-new: 256 windows), then --limit:
  // the first `limit` windows (the stream's start, as the full evaluation
  // would score it).
  if (task.max_windows > 0 &&
      static_cast<int64_t>(ids.size()) > task.max_windows * po.seqlen)
    ids.resize(task.max_windows * po.seqlen);
  if (opts.limit > 0 && po.seqlen > 0 &&
      static_cast<int64_t>(ids.size()) > opts.limit * po.seqlen) {
    ids.resize(opts.limit * po.seqlen);
  }
  po.batch_size = std::max(1, opts.batch_size / 4);
  po.show_progress = opts.progress;
  po.label = "ppl " + task.task;
  auto t0 = std::chrono::steady_clock::now();
  QG_ASSIGN_OR_RETURN(PerplexityResult r, Perplexity(lm, ids, po));
  double secs =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0)
          .count();
  nlohmann::json result;
  result["results"][task.task] = {
      {"name", task.task},           {"alias", task.task},
      {"perplexity,none", r.ppl},    {"perplexity_stderr,none", "N/A"},
      {"mean_nll,none", r.mean_nll}, {"sample_len", r.windows}};
  result["n-shot"][task.task] = 0;
  result["n-samples"][task.task] = {{"original", all_tokens},
                                    {"effective", r.predicted}};
  result["config"] = {
      {"task", task.task},           {"source", task.source},
      {"output_type", "perplexity"}, {"perplexity_style", "gptq"},
      {"seqlen", r.seqlen},          {"windows", r.windows},
      {"limit", opts.limit},         {"data_dir", data_dir},
      {"model", lm.source_dir()}};
  result["seeds"] = nlohmann::json::object();
  if (opts.item_scores) {
    // Per window: its NLL and its seqlen - 1 predicted tokens (evaluate.h).
    nlohmann::json nll = nlohmann::json::array();
    for (double v : r.window_nll) nll.push_back(std::round(v * 1e4) / 1e4);
    result["items"][task.task]["perplexity"] = {
        {"nll", nll}, {"den", r.seqlen - 1}, {"agg", "exp"}};
  }
  result["efficiency"] = {{"weight_bytes", lm.WeightBytes()},
                          {"peak_rss_bytes", PeakRssBytes()},
                          {"eval_seconds", secs}};
  return result;
}

}  // namespace

absl::StatusOr<nlohmann::json> Evaluate(const model::CausalLM& lm,
                                        const TaskConfig& task,
                                        const EvalOptions& opts) {
  if (task.IsGptqPerplexity()) return EvaluateGptqPerplexity(lm, task, opts);
  ScorerOptions so;
  so.batch_size = opts.batch_size;
  so.reuse_context = opts.reuse_context;
  so.max_length = opts.max_length;
  so.add_bos = opts.add_bos;
  so.special_tokens = opts.special_tokens;
  QG_ASSIGN_OR_RETURN(auto scorer, CausalLMScorer::Create(lm, so));
  auto t0 = std::chrono::steady_clock::now();
  QG_ASSIGN_OR_RETURN(nlohmann::json result,
                      EvaluateWithScorer(*scorer, task, opts));
  double secs =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0)
          .count();
  ScorerStats st = scorer->stats();
  nlohmann::json eff = {
      {"weight_bytes", lm.WeightBytes()},
      {"peak_rss_bytes", PeakRssBytes()},
      {"eval_seconds", secs},
      {"forward_tokens_per_s", secs > 0 ? st.forward_tokens / secs : 0.0}};
  if (opts.measure_speed) {
    QG_ASSIGN_OR_RETURN(Efficiency e, MeasureEfficiency(lm));
    eff["prefill_tokens_per_s"] = e.prefill_tokens_per_s;
    eff["decode_tokens_per_s"] = e.decode_tokens_per_s;
    eff["peak_rss_bytes"] = PeakRssBytes();
  }
  result["efficiency"] = eff;
  result["config"]["model"] = lm.source_dir();
  return result;
}

absl::StatusOr<nlohmann::json> EvaluateTasks(
    const model::CausalLM& lm, const std::vector<TaskConfig>& tasks,
    const EvalOptions& opts) {
  nlohmann::json all;
  for (const TaskConfig& t : tasks) {
    QG_ASSIGN_OR_RETURN(nlohmann::json one, Evaluate(lm, t, opts));
    MergeResults(one, t.task, &all);
  }
  // lm-eval's run "config" (its HFLM names; model "qgrid").
  nlohmann::json run = {
      {"model", "qgrid"},
      {"model_args", "pretrained=" + lm.source_dir()},
      {"model_dtype", std::string(c10::toString(lm.dtype()))},
      {"batch_size", opts.batch_size},
      {"device", lm.device().str()},
      {"limit", opts.limit > 0 ? nlohmann::json(opts.limit) : nlohmann::json()},
      {"fewshot_seed",
       opts.seed ? nlohmann::json(*opts.seed)
                 : nlohmann::json(tasks.empty() ? 1234 : tasks[0].seed)}};
  FinishResults(tasks, run, &all);
  return all;
}

}  // namespace qgrid::eval
