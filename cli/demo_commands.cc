// `qgrid data build-demo`: the demo corpora from public-text Debian packages
// (eval/demo_corpus.h).
#include <cstdio>
#include <memory>
#include <string>

#include "cli/commands.h"
#include "eval/demo_corpus.h"

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
  eval::DemoBuildOptions opts;
  opts.out_dir = a.out;
  opts.seed = a.seed;
  opts.calib_fraction = a.calib_fraction;
  opts.test_fraction = a.test_fraction;
  opts.max_bytes_per_domain = a.max_bytes;
  opts.mc_test_items = a.mc_items;
  auto res = eval::BuildDemoData(opts);
  if (!res.ok()) {
    std::fprintf(stderr, "build-demo: %s\n",
                 std::string(res.status().message()).c_str());
    SetExitCode(1);
    return;
  }
  std::printf("%-11s %8s %8s %8s %8s %8s %10s %10s %6s\n", "domain", "raw",
              "unique", "train", "calib", "test", "train_B", "test_B", "mc");
  for (const auto& s : *res) {
    std::printf("%-11s %8zu %8zu %8zu %8zu %8zu %10llu %10llu %6zu\n",
                s.name.c_str(), s.raw_docs, s.unique_docs, s.train_docs,
                s.calib_docs, s.test_docs,
                static_cast<unsigned long long>(s.train_bytes),
                static_cast<unsigned long long>(s.test_bytes), s.mc_items);
  }
  std::printf("wrote %s/manifest.json\n", a.out.c_str());
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
}

}  // namespace qgrid::cli
