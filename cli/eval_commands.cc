// `qgrid eval`.
#include <cstdio>
#include <iostream>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "cli/commands.h"
#include "cli/quant_flags.h"
#include "eval/calibration.h"
#include "eval/evaluate.h"
#include "eval/request_dump.h"
#include "eval/results_text.h"
#include "eval/task_config.h"
#include "model/causal_lm.h"
#include "model/torch_util.h"
#include "quant/export.h"
#include "quant/quant_config.h"
#include "quant/quantize.h"
#include "worker/quantize_cell.h"

namespace qgrid::cli {
namespace {

struct EvalFlags {
  std::string model_dir;
  std::vector<std::string> tasks;
  int shots = -1;
  int64_t limit = 0;
  std::string data_dir;
  int batch_size = 8;
  std::string device = "cpu";
  std::string dtype = "float32";
  bool json = false;
  std::string samples_out;
  int64_t seed = -1;
  bool no_reuse = false;
  bool add_bos = false;
  bool no_special_tokens = false;
  bool speed = false;
  int64_t max_length = 0;
  std::string dump_requests;
  // Quantize before evaluating (cli/quant_flags.h); calibration source.
  QuantFlags quant;
  CalibFlags calib;
};

// Quantizes `lm` as the flags say through the one quantize path
// (worker/quantize_cell.h); returns the "quantization" record of the
// results JSON. Exit-code-worthy failures come back as errors
// (InvalidArgument: the user's input).
absl::StatusOr<nlohmann::json> QuantizeForEval(
    const EvalFlags& f, const quant::QuantConfig& cfg,
    std::unique_ptr<model::CausalLM>& lm) {
  if (cfg.NeedsCalibration() && f.calib.source.empty())
    return absl::InvalidArgumentError(
        "method " + cfg.method +
        " needs calibration data: pass --calib TASK|FILE.yaml|TEXT_FILE");
  worker::CellRequest req;
  req.model_dir = f.model_dir;
  req.config = cfg;
  req.calibration = CalibrationSpecOf(f.calib, f.data_dir);
  req.quantize.show_progress = true;
  req.quantize.batch_size = f.batch_size;
  auto cell = worker::QuantizeLoaded(std::move(lm), req);
  if (!cell.ok()) return cell.status();
  lm = std::move(cell->lm);
  nlohmann::json rec = {
      {"config", nlohmann::json::parse(cfg.ToCanonicalJson())},
      {"avg_bits_per_param", cell->report.avg_bits_per_param},
      {"seconds", cell->report.total_seconds},
      {"weights_sha256", cell->weights_sha256}};
  if (!cell->calibration.is_null()) rec["calibration"] = cell->calibration;
  return rec;
}

// The flags' evaluation options (--dump-requests uses the prompt ones).
eval::EvalOptions EvalOptionsOf(const EvalFlags& f) {
  eval::EvalOptions o;
  o.shots = f.shots;
  o.limit = f.limit;
  o.batch_size = f.batch_size;
  if (f.seed >= 0) o.seed = static_cast<uint64_t>(f.seed);
  o.data_dir = f.data_dir;
  o.samples_out = f.samples_out;
  o.progress = true;
  o.reuse_context = !f.no_reuse;
  o.add_bos = f.add_bos;
  o.special_tokens = !f.no_special_tokens;
  o.measure_speed = f.speed;
  o.max_length = f.max_length;
  return o;
}

int RunEval(const EvalFlags& f, const CLI::App& cmd) {
  model::LoadOptions lo;
  lo.device = f.device;
  auto dtype = model::ParseDtype(f.dtype, "--dtype");
  if (!dtype.ok()) return ReportError("eval", dtype.status());
  if (auto s = model::CheckDevice(f.device, "--device"); !s.ok()) {
    return ReportError("eval", s);
  }
  lo.dtype = *dtype;
  // Resolve every task first so that a typo fails before the model loads.
  std::vector<eval::TaskConfig> tasks;
  for (const auto& t : f.tasks) {
    for (absl::string_view name : absl::StrSplit(t, ',', absl::SkipEmpty())) {
      auto c = eval::ResolveTask(std::string(name));
      if (!c.ok()) return ReportError("eval", AsBadInput(c.status()));
      tasks.push_back(*c);
    }
  }
  if (!f.dump_requests.empty()) {
    // No model: the requests do not depend on it (lm-eval builds them
    // before it loads one either).
    int64_t n = 0;
    absl::Status s =
        eval::DumpRequests(tasks, EvalOptionsOf(f), f.dump_requests, &n);
    if (!s.ok()) {
      return ReportError("eval",
                         absl::IsPermissionDenied(s) || absl::IsDataLoss(s)
                             ? s
                             : AsBadInput(s));
    }
    std::fprintf(stderr, "wrote %lld requests of %zu task(s) to %s\n",
                 static_cast<long long>(n), tasks.size(),
                 f.dump_requests.c_str());
    return 0;
  }
  if (f.model_dir.empty()) {
    return ReportError(
        "eval", absl::InvalidArgumentError("--model is required (except with "
                                           "--dump-requests)"));
  }
  // The quantization config is checked before the model loads too.
  std::optional<quant::QuantConfig> qcfg;
  if (AnyQuantFlagGiven(f.quant, cmd)) {
    auto c = BuildQuantConfig(f.quant, cmd);
    if (c.ok()) {
      if (auto s = quant::Validate(*c); !s.ok()) c = s;
    }
    if (!c.ok()) return ReportError("eval", AsBadInput(c.status()));
    qcfg = *c;
  } else if (!f.calib.source.empty()) {
    return ReportError("eval",
                       absl::InvalidArgumentError(
                           "--calib without --method or --quant-config: "
                           "nothing to calibrate"));
  }
  // Plain checkpoints and qgrid quantize exports (gptq/awq/fake) alike.
  auto lm = quant::LoadModel(f.model_dir, lo);
  if (!lm.ok()) return ReportError("eval", lm.status());
  nlohmann::json quant_record;
  if (qcfg) {
    absl::StatusOr<nlohmann::json> rec = absl::InternalError("not run");
    absl::Status s = model::CatchTorch([&]() -> absl::Status {
      rec = QuantizeForEval(f, *qcfg, *lm);
      return absl::OkStatus();
    });
    if (s.ok()) s = rec.status();
    // A calibration source that is absent is bad input too.
    if (!s.ok()) {
      return ReportError("eval", absl::IsNotFound(s) ? AsBadInput(s) : s);
    }
    quant_record = *rec;
  }
  eval::EvalOptions o = EvalOptionsOf(f);
  auto results = eval::EvaluateTasks(**lm, tasks, o);
  if (!results.ok()) return ReportError("eval", results.status());
  nlohmann::json& all = *results;
  if (!quant_record.is_null()) all["quantization"] = quant_record;
  if (f.json)
    std::cout << all.dump(2, ' ', false,
                          nlohmann::json::error_handler_t::replace)
              << "\n";
  else {
    if (qcfg)
      std::printf(
          "quantized in memory: %s w%d g%d%s, %.3f bits/param, %.1f s\n",
          qcfg->method.c_str(), qcfg->w_bits, qcfg->group_size,
          qcfg->sym ? " sym" : "",
          quant_record["avg_bits_per_param"].get<double>(),
          quant_record["seconds"].get<double>());
    std::string table = eval::FormatResultsTable(all);
    std::fwrite(table.data(), 1, table.size(), stdout);
  }
  return 0;
}

}  // namespace

void RegisterEvalCommands(CLI::App& app) {
  auto flags = std::make_shared<EvalFlags>();
  CLI::App* ev = app.add_subcommand(
      "eval",
      "Evaluate a model on tasks (lm-evaluation-harness semantics): "
      "multiple choice, C-Eval/CMMLU letters, classification, extractive QA, "
      "perplexity. Prints a table, or the results JSON with --json.\n"
      "With --method (or --quant-config) the model is quantized in memory "
      "first, e.g. qgrid eval --model M --task arc_easy --method gptq "
      "--bits 4 --calib wikitext2 --calib-samples 128");
  ev->add_option("--model", flags->model_dir,
                 "Hugging Face model directory (config.json, safetensors, "
                 "tokenizer); not needed with --dump-requests");
  ev->add_option("--task", flags->tasks,
                 "Built-in task name (see `qgrid tasks`), NAME:SUBSET for a "
                 "category or subject of grouped tasks (ceval:humanities), or "
                 "a FILE.yaml; repeat or comma-separate for several")
      ->required();
  ev->add_option(
      "--shots", flags->shots,
      "Few-shot examples per prompt (default: the task's). Tasks with "
      "fixed in-prompt demonstrations (BOSS) keep them for any "
      "K > 0 and use their zero-shot prompt for 0");
  ev->add_option("--limit", flags->limit,
                 "Evaluate only the first N documents (0 = all); for "
                 "GPTQ-style perplexity tasks the first N windows of "
                 "seqlen tokens");
  ev->add_option("--data-dir", flags->data_dir,
                 "Directory the task data files are relative to (default "
                 "$QGRID_DATA_DIR, else ./data)");
  ev->add_option("--batch-size", flags->batch_size,
                 "Contexts per forward batch (default 8)");
  ev->add_option("--device", flags->device, "cpu or cuda:N (default cpu)");
  ev->add_option("--dtype", flags->dtype,
                 "float32 (default), float16 or bfloat16");
  ev->add_flag("--json", flags->json, "Print the results JSON document");
  ev->add_option("--samples-out", flags->samples_out,
                 "Append per-sample records (prompt, choices, "
                 "log-likelihoods, prediction, gold) to this JSONL file");
  ev->add_option("--seed", flags->seed,
                 "Few-shot sampling seed (default: the task's, 1234)");
  ev->add_flag("--no-reuse", flags->no_reuse,
               "Score every (context + continuation) whole instead of "
               "reusing the context's KV cache (same results, slower)");
  ev->add_flag("--add-bos", flags->add_bos,
               "Make every context start with BOS, also where the "
               "tokenizer adds none (GPT-2)");
  ev->add_flag(
      "--no-special-tokens", flags->no_special_tokens,
      "Encode texts without the tokenizer's special tokens (no "
      "Llama BOS): lm-eval's add_bos_token=False, the default of "
      "older lm-eval releases. By default they are added, as lm-eval 0.4.13 "
      "does");
  ev->add_flag("--speed", flags->speed,
               "Also measure prefill and decode tokens/s");
  ev->add_option("--max-length", flags->max_length,
                 "Context window in tokens (default: the model's max "
                 "positions)");
  ev->add_option("--dump-requests", flags->dump_requests,
                 "Write the requests the tasks would score (context, "
                 "continuation, ...) to this JSONL file, one per line in "
                 "lm-eval's Instance terms, and exit without loading a "
                 "model (compare with lm-eval's build_all_requests)");
  flags->quant.config_flag = "--quant-config";
  AddQuantFlags(ev, &flags->quant);
  AddCalibFlags(ev, &flags->calib, /*extra_aliases=*/false);
  ev->callback([flags, ev] { SetExitCode(RunEval(*flags, *ev)); });
}

}  // namespace qgrid::cli
