#include "model/sentencepiece_trainer.h"

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace qgrid::model {

// In sentencepiece.cc, which owns the dlopen()ed shim.
absl::Status SpmShimTrain(const std::string& flags);

std::string SentencePieceTrainFlags(const SentencePieceTrainOptions& o) {
  std::string f = absl::StrCat(
      "--input=", absl::StrJoin(o.input_files, ","),
      " --model_prefix=", o.model_prefix, " --vocab_size=", o.vocab_size,
      " --model_type=", o.model_type,
      " --character_coverage=", o.character_coverage,
      " --byte_fallback=", o.byte_fallback ? "true" : "false",
      " --split_digits=", o.split_digits ? "true" : "false",
      " --unk_id=", o.unk_id, " --bos_id=", o.bos_id, " --eos_id=", o.eos_id,
      " --pad_id=", o.pad_id, " --num_threads=", o.num_threads,
      " --input_sentence_size=", o.input_sentence_size,
      " --shuffle_input_sentence=false",
      " --max_sentence_length=", o.max_sentence_length, " --minloglevel=2");
  if (!o.extra_flags.empty()) absl::StrAppend(&f, " ", o.extra_flags);
  return f;
}

absl::Status TrainSentencePiece(const SentencePieceTrainOptions& o) {
  if (o.input_files.empty()) {
    return absl::InvalidArgumentError("SentencePiece training: no input files");
  }
  for (const auto& p : o.input_files) {
    if (p.find_first_of(" ,\t\n") != std::string::npos) {
      return absl::InvalidArgumentError(absl::StrCat(
          "SentencePiece training: input path '", p,
          "' contains a space or comma, which SentencePiece's flags cannot "
          "express"));
    }
  }
  if (o.model_prefix.empty() ||
      o.model_prefix.find_first_of(" \t\n") != std::string::npos) {
    return absl::InvalidArgumentError(absl::StrCat(
        "SentencePiece training: bad model_prefix '", o.model_prefix, "'"));
  }
  if (o.vocab_size <= 0) {
    return absl::InvalidArgumentError(
        "SentencePiece training: vocab_size <= 0");
  }
  return TrainSentencePiece(SentencePieceTrainFlags(o));
}

absl::Status TrainSentencePiece(const std::string& flags) {
  return SpmShimTrain(flags);
}

}  // namespace qgrid::model
