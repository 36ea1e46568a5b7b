// The demo corpora: named text domains built from public-text Debian
// packages, for qgrid's built-in I.I.D vs OOD calibration study.
//
// BuildDemoData() reads each domain's source files (King James Bible from
// bible-kjv-text, English fortunes from fortunes/fortunes-min, GCIDE
// dictionary senses from dict-gcide, Chinese fortunes and poems from
// fortunes-zh), cleans every document (markup, verse references,
// attributions, terminal escapes; whitespace normalised; valid UTF-8),
// removes exact duplicates, shuffles with a fixed seed and splits into
// train / calib / test. For every split it writes `<split>.txt` (one
// document per line) and `<split>.jsonl` ({"text": ...}); it also writes a
// multiple-choice task in the MosaicML / lm-eval JSONL schema
// ({"query", "choices": [4], "gold"}) and `manifest.json` (sources with
// package versions, licences, counts, SHA-256 of every file).
//
// The same sources and seed give byte-identical output on every machine:
// the shuffle is our own Fisher-Yates over std::mt19937_64 (whose output
// the C++ standard fixes), not std::shuffle (whose algorithm it does not).
//
// The parsing helpers are exposed for tests. Thread-safety: all functions
// are pure or touch only the files they are given.
#ifndef QGRID_DEMO_CORPUS_H_
#define QGRID_DEMO_CORPUS_H_

#include <cstdint>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace qgrid::demo {

// ---- Cleaning helpers ------------------------------------------------------

// Drops bytes that are not part of a well-formed UTF-8 sequence.
std::string ToValidUtf8(std::string_view s);
// Collapses runs of whitespace (space, tab, CR, LF, FF, VT) into one space
// and trims both ends.
std::string NormalizeWhitespace(std::string_view s);
// Removes ANSI terminal escapes (ESC [ ... letter) and backspace
// overstrikes ("_\bX" -> "X"), as found in fortune files.
std::string StripTerminalMarkup(std::string_view s);

// ---- Source parsers (each returns cleaned documents) ------------------------

// A fortune file: entries separated by lines holding only "%". Attribution
// lines ("-- Mark Twain", "作者：杜甫") are dropped; poem titles lose their
// "题目:" prefix. With `cjk`, lines are joined without a space.
std::vector<std::string> ParseFortunes(std::string_view text, bool cjk);
// The KJV text as decompressed from bible.data ("Ge1:1 In the beginning");
// one document per verse, verse reference removed.
std::vector<std::string> ParseKjvVerses(std::string_view text);
// The GCIDE dictd text: one document per numbered sense,
// "Headword: definition", with pronunciation, etymology, source tags
// ([1913 Webster]), usage labels and citations (--Milton.) removed.
std::vector<std::string> ParseGcideSenses(std::string_view text);

// ---- File readers ----------------------------------------------------------

// (Whole files are read with common/file_util.h's ReadFileToString.)
// bible-kjv-text's /usr/lib/bible.data: a header ("EC02Compressed Data
// File"), the uncompressed window size and count, a table of window offsets,
// then each window as an independent compress(1)-style LZW stream (16-bit
// max codes, block mode; common/compressed_file.h LzwDecompress). Returns
// the whole text.
absl::StatusOr<std::string> ReadBibleData(const std::string& path);

// ---- Deterministic data handling -------------------------------------------

// Keeps the first occurrence of each document (exact match after the
// cleaning above); order preserved.
std::vector<std::string> Deduplicate(const std::vector<std::string>& docs);
// Uniform integer in [0, n) from `rng`, by rejection (portable, unlike
// std::uniform_int_distribution whose algorithm is unspecified).
uint64_t UniformBelow(std::mt19937_64& rng, uint64_t n);
// Fisher-Yates with UniformBelow.
template <typename T>
void DeterministicShuffle(std::vector<T>& v, std::mt19937_64& rng) {
  for (size_t i = v.size(); i > 1; --i) {
    size_t j = static_cast<size_t>(UniformBelow(rng, i));
    std::swap(v[i - 1], v[j]);
  }
}
// The per-domain seed: `seed` mixed with a hash of the domain name, so that
// adding a domain does not change the others' splits.
uint64_t DomainSeed(uint64_t seed, std::string_view domain);

struct DemoSplits {
  std::vector<std::string> train, calib, test;
};
// Shuffles `docs` with `seed`, keeps documents in shuffled order until
// `max_bytes` (0: no cap) is reached, then takes the test split first,
// the calibration split next and leaves the rest for training. Fractions
// are of the kept documents (at least one document each when there are
// three or more).
DemoSplits SplitDocuments(std::vector<std::string> docs, uint64_t seed,
                          double calib_fraction, double test_fraction,
                          uint64_t max_bytes);

// ---- Multiple choice ----------------------------------------------------

struct McItem {
  std::string query;
  std::vector<std::string> choices;  // always 4
  int gold = 0;
};

enum class McKind {
  // "Headword:" -> which of 4 definitions (3 from other headwords) is its.
  kDefinition,
  // The first half of a document -> which of 4 endings (3 taken from
  // other documents of the same split) completes it.
  kEnding,
};

// Builds up to `max_items` items from `docs` (a split). With `cjk`, endings
// are cut at a Chinese punctuation mark near the middle and joined without
// a space; otherwise at the middle word boundary.
std::vector<McItem> MakeMultipleChoice(const std::vector<std::string>& docs,
                                       McKind kind, bool cjk, uint64_t seed,
                                       int max_items);

// ---- The builder -----------------------------------------------------------

enum class SourceFormat { kFortune, kBibleData, kGcideDict };

struct DemoSourceFile {
  std::string package;  // Debian package that ships it
  std::string path;
  SourceFormat format = SourceFormat::kFortune;
};

struct DemoDomainSpec {
  std::string name;         // "scripture"
  std::string description;  // one line for the manifest
  std::string license;      // short licence statement
  std::string copyright_file;
  std::vector<DemoSourceFile> files;
  McKind mc_kind = McKind::kEnding;
  bool cjk = false;
};

// The four default domains from the installed packages: scripture, quotes,
// dictionary, chinese. `root` prefixes every system path (tests).
std::vector<DemoDomainSpec> DefaultDemoDomains(const std::string& root = "");

struct DemoBuildOptions {
  std::string out_dir;
  uint64_t seed = 42;
  double calib_fraction = 0.1;
  double test_fraction = 0.1;
  // Per-domain cap on the kept text, so that training stays quick.
  uint64_t max_bytes_per_domain = 1500000;
  int mc_test_items = 500;
  int mc_train_items = 200;
  // Empty: DefaultDemoDomains().
  std::vector<DemoDomainSpec> domains;
  // Where to look up package versions ("" for none).
  std::string dpkg_status = "/var/lib/dpkg/status";
};

struct DemoDomainSummary {
  std::string name;
  size_t raw_docs = 0, unique_docs = 0;
  size_t train_docs = 0, calib_docs = 0, test_docs = 0;
  uint64_t train_bytes = 0, calib_bytes = 0, test_bytes = 0;
  size_t mc_items = 0;
};

// Builds every domain into `<out_dir>/<domain>/` and writes
// `<out_dir>/manifest.json`. Fails naming the file when a source is
// missing or unreadable.
absl::StatusOr<std::vector<DemoDomainSummary>> BuildDemoData(
    const DemoBuildOptions& opts);

// A header line and one line per domain: document counts per split, train
// and test bytes, multiple-choice items.
std::string FormatDemoSummary(const std::vector<DemoDomainSummary>& domains);

// The version of `package` in a dpkg status file, "" when not listed.
std::string DpkgVersion(const std::string& status_path,
                        const std::string& package);

}  // namespace qgrid::demo

#endif  // QGRID_DEMO_CORPUS_H_
