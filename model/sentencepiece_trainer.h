// Training SentencePiece models (through the dlopen()ed shim, see
// model/sentencepiece.h for why libsentencepiece is never linked directly).
//
// TrainSentencePiece writes <model_prefix>.model and <model_prefix>.vocab.
// With num_threads = 1 and no sentence sampling (the defaults below) the
// result is deterministic for a given input, which reproducible training
// relies on.
//
// Thread-safety: SentencePieceTrainer keeps no shared state between calls,
// but training is CPU- and memory-heavy; callers should not run many at once.
#ifndef QGRID_MODEL_SENTENCEPIECE_TRAINER_H_
#define QGRID_MODEL_SENTENCEPIECE_TRAINER_H_

#include <string>
#include <vector>

#include "absl/status/status.h"

namespace qgrid::model {

struct SentencePieceTrainOptions {
  // Plain-text files, one sentence per line. Paths must not contain spaces or
  // commas (SentencePiece's flag syntax).
  std::vector<std::string> input_files;
  // Output path without extension: writes <prefix>.model, <prefix>.vocab.
  std::string model_prefix;
  int vocab_size = 8000;
  std::string model_type = "bpe";  // bpe | unigram | char | word
  double character_coverage = 1.0;
  bool byte_fallback = true;
  bool split_digits = false;
  // LLaMA's convention: <unk>=0, <s>=1, </s>=2, no pad (-1).
  int unk_id = 0;
  int bos_id = 1;
  int eos_id = 2;
  int pad_id = -1;
  // 1 thread and reading every sentence (no sampling/shuffling) keep the
  // trained model deterministic.
  int num_threads = 1;
  long long input_sentence_size = 0;  // 0 = all sentences
  int max_sentence_length = 4192;
  // Appended verbatim ("--flag=value ..."), for anything not covered above.
  std::string extra_flags;
};

// The SentencePieceTrainer flags string the options map to.
std::string SentencePieceTrainFlags(const SentencePieceTrainOptions& options);

absl::Status TrainSentencePiece(const SentencePieceTrainOptions& options);
// Raw flags, as SentencePieceTrainer::Train takes them.
absl::Status TrainSentencePiece(const std::string& flags);

}  // namespace qgrid::model

#endif  // QGRID_MODEL_SENTENCEPIECE_TRAINER_H_
