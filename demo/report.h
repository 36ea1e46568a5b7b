// The demo report (`qgrid data demo-report`): evidence that the demo model
// is a real language model and that the demo domains really differ.
//
// For a model folder (normally assets/qgrid-tiny) and a build-demo folder,
// BuildDemoReport() computes per domain:
//  - the model's held-out test perplexity (GPTQ-style windows, see
//    eval::Perplexity in eval/perplexity.h) next to an add-one smoothed unigram
//    baseline estimated on the same training text (all domains) with the same
//    tokenizer, scored on exactly the same tokens;
//  - a domain x domain table of unigram perplexities (unigram of the row
//    domain's train split on the column domain's test split): the diagonal is
//    lowest when the domains differ;
//  - vocabulary overlap: Jaccard similarity of the token types each domain's
//    training split uses;
//  - multiple-choice accuracy (acc and acc_norm, the lm-eval definitions)
//    on the domain's mc_test.jsonl, computed by eval::Evaluate with the
//    built-in demo_<domain>_mc task (skipped for domains without one);
//  - greedy continuations of the opening words of the first few test
//    documents, each judged by which domain's unigram model (same add-one
//    estimate as above, on that domain's train split) gives the generated
//    tokens the highest likelihood: an objective "reads like that domain";
//  - the same perplexities on text from outside every training domain
//    (by default the licence texts Debian ships in /usr/share/common-licenses,
//    present on every Debian system): a real language model is much better on
//    the domains it was trained on than on unseen text.
// Perplexities per token depend on how well the tokenizer fits a domain, so
// bits per UTF-8 byte (nll / ln 2 / bytes) is printed beside them as the
// tokenizer-independent comparison across domains.
//
// Thread-safety: BuildDemoReport() sets the process-wide ATen thread count
// (DemoReportOptions::threads) and otherwise shares no state; the
// formatters are pure.
#ifndef QGRID_DEMO_REPORT_H_
#define QGRID_DEMO_REPORT_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace qgrid::demo {

struct DemoReportOptions {
  std::string model_dir;
  std::string data_dir;
  std::vector<std::string> domains;  // empty: every <data>/<d>/test.txt
  int seq_len = 128;
  int64_t max_test_tokens = 60000;  // per domain, to bound the run time
  // Training documents per domain for the unigram baselines and the
  // vocabulary overlap (-1: all; tokenizing all of them dominates the run).
  int64_t max_train_docs = -1;
  int mc_items = 200;  // per domain; 0 skips multiple choice
  int continuation_tokens = 40;
  int continuation_prompts = 6;  // per domain: the first N test documents
  int threads = 2;
  // Plain-text files from outside the training domains, each split into
  // paragraphs (blank-line separated). Missing files are skipped.
  std::vector<std::string> unseen_files = {
      "/usr/share/common-licenses/GPL-3",
      "/usr/share/common-licenses/Apache-2.0",
      "/usr/share/common-licenses/MPL-2.0"};
};

struct DemoContinuation {
  std::string prompt, text;
  // The domain whose train-split unigram gives `text`'s generated tokens the
  // highest likelihood (empty when nothing was generated).
  std::string judged_domain;
};

struct DemoDomainReport {
  std::string name;
  int64_t test_tokens = 0;
  int64_t test_bytes = 0;  // UTF-8 bytes of the scored documents
  double model_ppl = 0, unigram_ppl = 0;
  double model_bpb = 0;  // bits per byte, see above
  int mc_items = 0;
  double mc_acc = 0, mc_acc_norm = 0;
  std::vector<DemoContinuation> continuations;
};

struct DemoReport {
  std::vector<DemoDomainReport> domains;
  // Text from outside the training domains (name "unseen"); no MC, no prompt.
  // Absent (test_tokens == 0) when none of the unseen files exists.
  DemoDomainReport unseen;
  // cross_unigram[i][j]: unigram of domain i's train on domain j's test.
  std::vector<std::vector<double>> cross_unigram;
  // overlap[i][j]: Jaccard similarity of the train token-type sets.
  std::vector<std::vector<double>> overlap;
  int vocab_size = 0;
  int64_t parameters = 0;
};

absl::StatusOr<DemoReport> BuildDemoReport(const DemoReportOptions& opts);

// Plain-text tables, as `qgrid data demo-report` prints them.
std::string FormatDemoReport(const DemoReport& r);
// The same as JSON.
std::string DemoReportJson(const DemoReport& r);

}  // namespace qgrid::demo

#endif  // QGRID_DEMO_REPORT_H_
