// `qgrid data build-demo | demo-report` and `qgrid train-tiny`: flag parsing
// over the demo module (demo/corpus.h, demo/report.h, demo/train.h).
#include <cstdio>
#include <memory>
#include <string>

#include "cli/commands.h"
#include "demo/corpus.h"
#include "demo/report.h"
#include "demo/train.h"

namespace qgrid::cli {
namespace {

struct BuildDemoArgs {
  std::string out;
  uint64_t seed = 42;
  double calib_fraction = 0.1;
  double test_fraction = 0.1;
  uint64_t max_bytes = 1500000;
  int mc_items = 500;
};

void RunBuildDemo(const BuildDemoArgs& a) {
  demo::DemoBuildOptions opts;
  opts.out_dir = a.out;
  opts.seed = a.seed;
  opts.calib_fraction = a.calib_fraction;
  opts.test_fraction = a.test_fraction;
  opts.max_bytes_per_domain = a.max_bytes;
  opts.mc_test_items = a.mc_items;
  auto res = demo::BuildDemoData(opts);
  if (!res.ok()) {
    ReportError("data build-demo", res.status());
    return;
  }
  std::string table = demo::FormatDemoSummary(*res);
  std::fwrite(table.data(), 1, table.size(), stdout);
  std::printf("wrote %s/manifest.json\n", a.out.c_str());
}

std::string CommandLine(const std::vector<std::string>& args) {
  std::string s = "qgrid train-tiny";
  for (const auto& a : args) s += " " + a;
  return s;
}

void RunTrainTiny(demo::TrainTinyOptions o) {
  auto res = demo::TrainTinyLlama(o);
  if (!res.ok()) {
    ReportError("train-tiny", res.status());
    return;
  }
  std::printf(
      "trained %lld parameters on %lld tokens: loss %.4f -> %.4f, %.0f "
      "tokens/s, %.1f s\nwrote %s\n",
      static_cast<long long>(res->parameters),
      static_cast<long long>(res->train_tokens), res->losses.front(),
      res->losses.back(), res->tokens_per_second, res->seconds,
      o.out_dir.c_str());
}

struct DemoReportArgs {
  demo::DemoReportOptions opts;
  bool json = false;
};

void RunDemoReport(const DemoReportArgs& a) {
  auto rep = demo::BuildDemoReport(a.opts);
  if (!rep.ok()) {
    ReportError("data demo-report", rep.status());
    return;
  }
  std::string out =
      a.json ? demo::DemoReportJson(*rep) + "\n" : demo::FormatDemoReport(*rep);
  std::fwrite(out.data(), 1, out.size(), stdout);
}

}  // namespace

void RegisterDemoCommands(CLI::App& app) {
  CLI::App* data =
      app.add_subcommand("data", "Build and inspect the built-in demo data");
  data->require_subcommand(1);

  auto bargs = std::make_shared<BuildDemoArgs>();
  CLI::App* build = data->add_subcommand(
      "build-demo",
      "Build the demo domains (scripture, quotes, dictionary, chinese) from\n"
      "the public-text Debian packages bible-kjv-text, fortunes,\n"
      "fortunes-min, dict-gcide and fortunes-zh: cleaned, deduplicated,\n"
      "shuffled with a fixed seed and split into train/calib/test text and\n"
      "JSONL files, a multiple-choice task per domain and manifest.json.");
  build->add_option("--out", bargs->out, "Output directory")->required();
  build
      ->add_option("--seed", bargs->seed,
                   "Shuffle/split seed; the same seed gives identical bytes")
      ->default_val(42);
  build
      ->add_option("--calib-fraction", bargs->calib_fraction,
                   "Fraction of each domain's documents for calibration")
      ->default_val(0.1);
  build
      ->add_option("--test-fraction", bargs->test_fraction,
                   "Fraction of each domain's documents for the test split")
      ->default_val(0.1);
  build
      ->add_option("--max-bytes", bargs->max_bytes,
                   "Cap on each domain's kept text in bytes (0: no cap)")
      ->default_val(1500000);
  build
      ->add_option("--mc-items", bargs->mc_items,
                   "Multiple-choice items per domain from the test split")
      ->default_val(500);
  build->callback([bargs]() { RunBuildDemo(*bargs); });

  auto rargs = std::make_shared<DemoReportArgs>();
  CLI::App* report = data->add_subcommand(
      "demo-report",
      "Evidence for the demo model and data: per-domain test perplexity of\n"
      "the model vs an add-one unigram baseline (same training text and\n"
      "tokenizer), a domain x domain unigram perplexity table, vocabulary\n"
      "overlap, multiple-choice accuracy, greedy continuations per\n"
      "domain, and the same perplexities on text from outside every\n"
      "training domain (--unseen; default: Debian's licence texts).");
  report
      ->add_option("--model", rargs->opts.model_dir,
                   "Model folder (e.g. assets/qgrid-tiny)")
      ->required();
  report
      ->add_option("--data", rargs->opts.data_dir,
                   "A `data build-demo` output folder")
      ->required();
  report
      ->add_option("--seq-len", rargs->opts.seq_len,
                   "Perplexity window length in tokens")
      ->default_val(128);
  report
      ->add_option("--max-test-tokens", rargs->opts.max_test_tokens,
                   "Cap on test tokens per domain (0: all)")
      ->default_val(60000);
  report
      ->add_option("--mc-items", rargs->opts.mc_items,
                   "Multiple-choice items per domain (0: skip)")
      ->default_val(200);
  report
      ->add_option("--unseen", rargs->opts.unseen_files,
                   "Plain-text files from outside the training domains "
                   "(split into paragraphs; missing files are skipped)")
      ->default_str("/usr/share/common-licenses/{GPL-3,Apache-2.0,MPL-2.0}");
  report
      ->add_option("--continuations", rargs->opts.continuation_prompts,
                   "Greedy continuations per domain (opening words of the "
                   "first N test documents), each judged by the domain "
                   "unigrams")
      ->capture_default_str();
  report
      ->add_option("--continuation-tokens", rargs->opts.continuation_tokens,
                   "Tokens generated per continuation")
      ->capture_default_str();
  report->add_option("--threads", rargs->opts.threads, "ATen threads")
      ->default_val(2);
  report->add_flag("--json", rargs->json, "Print JSON instead of tables");
  report->callback([rargs]() { RunDemoReport(*rargs); });

  auto targs = std::make_shared<demo::TrainTinyOptions>();
  CLI::App* train = app.add_subcommand(
      "train-tiny",
      "Train the tiny default model on `data build-demo` output: a\n"
      "SentencePiece BPE tokenizer (byte fallback), then a small LLaMA\n"
      "(RMSNorm, RoPE, SwiGLU, GQA) with AdamW, warmup + cosine schedule and\n"
      "gradient clipping; writes a Hugging Face folder (config.json,\n"
      "model.safetensors, tokenizer.model, tokenizer_config.json, ...) plus\n"
      "train_log.json and README.md. Same seed and threads on the same\n"
      "machine reproduce the loss curve exactly.");
  demo::TrainTinyOptions& t = *targs;
  train->add_option("--data", t.data_dir, "A `data build-demo` output folder")
      ->required();
  train->add_option("--out", t.out_dir, "Output model folder")->required();
  train->add_option("--domains", t.domains,
                    "Domains to train on (default: all in --data)");
  train->add_option("--seed", t.seed, "Seed for init and batch sampling")
      ->default_val(t.seed);
  train->add_option("--steps", t.steps, "Optimizer steps")
      ->default_val(t.steps);
  train->add_option("--batch-size", t.batch_size, "Sequences per step")
      ->default_val(t.batch_size);
  train->add_option("--seq-len", t.seq_len, "Tokens per training sequence")
      ->default_val(t.seq_len);
  train->add_option("--vocab-size", t.vocab_size, "SentencePiece pieces")
      ->default_val(t.vocab_size);
  train
      ->add_option("--character-coverage", t.character_coverage,
                   "Share of characters the tokenizer covers without bytes")
      ->default_val(t.character_coverage);
  train->add_option("--hidden", t.hidden_size, "Hidden size")
      ->default_val(t.hidden_size);
  train->add_option("--layers", t.num_layers, "Decoder layers")
      ->default_val(t.num_layers);
  train->add_option("--heads", t.num_heads, "Attention heads")
      ->default_val(t.num_heads);
  train
      ->add_option("--kv-heads", t.num_kv_heads,
                   "Key/value heads (GQA when fewer than --heads)")
      ->default_val(t.num_kv_heads);
  train->add_option("--intermediate", t.intermediate_size, "SwiGLU width")
      ->default_val(t.intermediate_size);
  train->add_option("--lr", t.learning_rate, "Peak learning rate")
      ->default_val(t.learning_rate);
  train
      ->add_option("--min-lr-ratio", t.min_lr_ratio,
                   "Cosine floor as a fraction of the peak")
      ->default_val(t.min_lr_ratio);
  train->add_option("--warmup", t.warmup_steps, "Linear warmup steps")
      ->default_val(t.warmup_steps);
  train
      ->add_option("--weight-decay", t.weight_decay,
                   "AdamW decoupled weight decay (matrices only)")
      ->default_val(t.weight_decay);
  train->add_option("--grad-clip", t.grad_clip, "Global gradient-norm clip")
      ->default_val(t.grad_clip);
  train
      ->add_option("--threads", t.threads,
                   "ATen threads (pinned: results depend on it)")
      ->default_val(t.threads);
  train->add_option("--save-dtype", t.save_dtype, "bfloat16 or float32")
      ->default_val(t.save_dtype);
  train->add_flag(
      "--no-progress", [targs](int64_t) { targs->progress = false; },
      "Hide the progress bar");
  train->callback([targs, train]() {
    demo::TrainTinyOptions o = *targs;
    std::vector<std::string> args;
    for (const CLI::Option* opt : train->get_options()) {
      if (opt->count() == 0 || opt->get_name() == "--help") continue;
      std::string name = opt->get_name();
      if (opt->get_type_size() == 0) {
        args.push_back(name);
        continue;
      }
      for (const auto& r : opt->results()) args.push_back(name + " " + r);
    }
    o.command_line = CommandLine(args);
    RunTrainTiny(o);
  });
}

}  // namespace qgrid::cli
