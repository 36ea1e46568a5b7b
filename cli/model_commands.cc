// `qgrid model info`, `qgrid tokenize`, `qgrid generate`, `qgrid ppl`:
// look at a Hugging Face model folder, tokenize, greedy-decode and measure
// GPTQ-style perplexity (eval/perplexity.h) with the model runtime alone.
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "cli/commands.h"
#include "common/file_util.h"
#include "common/status_macros.h"
#include "eval/perplexity.h"
#include "model/causal_lm.h"
#include "model/config.h"
#include "model/model_info.h"
#include "model/safetensors.h"
#include "model/tokenizer.h"
#include "model/torch_util.h"
#include "nlohmann/json.hpp"
#include "quant/export.h"

namespace qgrid::cli {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

constexpr char kModelHelp[] =
    "Hugging Face model folder (config.json, model.safetensors or "
    "model.safetensors.index.json + shards, tokenizer.json or "
    "tokenizer.model)";
constexpr char kDtypeHelp[] =
    "Compute dtype of the weights and activations: fp32 (default on CPU), "
    "bf16 or fp16";

absl::Status CheckModelDir(const std::string& dir, bool need_config) {
  std::error_code ec;
  if (dir.empty() || !fs::is_directory(dir, ec)) {
    return absl::NotFoundError(
        absl::StrCat("--model ", dir, ": no such directory"));
  }
  if (need_config && !fs::exists(fs::path(dir) / "config.json", ec)) {
    return absl::NotFoundError(
        absl::StrCat("--model ", dir,
                     ": no config.json (not a Hugging Face model folder?)"));
  }
  return absl::OkStatus();
}

// Reads the file (or its first `max_bytes` bytes when > 0).
absl::StatusOr<std::string> ReadText(const std::string& path,
                                     int64_t max_bytes = 0) {
  auto text = ReadFilePrefix(path, max_bytes > 0 ? max_bytes : 0);
  if (!text.ok()) {
    return absl::Status(text.status().code(),
                        absl::StrCat("--text-file ", text.status().message()));
  }
  return text;
}

absl::StatusOr<std::unique_ptr<model::CausalLM>> LoadModel(
    const std::string& dir, const std::string& dtype) {
  QG_RETURN_IF_ERROR(CheckModelDir(dir, /*need_config=*/true));
  model::LoadOptions opts;
  QG_ASSIGN_OR_RETURN(opts.dtype, model::ParseDtype(dtype, "--dtype"));
  // quant::LoadModel reads plain checkpoints and gptq/awq/fake exports.
  return quant::LoadModel(dir, opts);
}

// --- model info

struct InfoArgs {
  std::string model;
  bool json = false;
};

absl::Status RunInfo(const InfoArgs& a) {
  QG_RETURN_IF_ERROR(CheckModelDir(a.model, /*need_config=*/true));
  QG_ASSIGN_OR_RETURN(model::ModelConfig c,
                      model::ModelConfig::FromJsonFile(
                          (fs::path(a.model) / "config.json").string()));
  QG_ASSIGN_OR_RETURN(model::ModelFolderInfo info,
                      model::DescribeModelFolder(a.model, c));
  const json& j = info.summary;
  if (a.json) {
    std::printf("%s\n", j.dump(2).c_str());
    return absl::OkStatus();
  }
  for (auto it = j.begin(); it != j.end(); ++it) {
    std::string v = it->is_string() ? it->get<std::string>() : it->dump();
    std::printf("%-24s %s\n", it.key().c_str(), v.c_str());
  }
  return info.checkpoint;
}

// --- tokenize

struct TokenizeArgs {
  std::string model, text_file;
  bool json = false;
  bool no_special = false;
};

absl::Status RunTokenize(const TokenizeArgs& a) {
  QG_RETURN_IF_ERROR(CheckModelDir(a.model, /*need_config=*/false));
  QG_ASSIGN_OR_RETURN(std::string text, ReadText(a.text_file));
  QG_ASSIGN_OR_RETURN(auto tok, model::LoadTokenizer(a.model));
  std::vector<int> ids = tok->Encode(text, !a.no_special);
  if (a.json) {
    std::printf("%s\n", json({{"ids", ids}}).dump().c_str());
  } else {
    for (size_t i = 0; i < ids.size(); ++i)
      std::printf(i ? " %d" : "%d", ids[i]);
    std::printf("\n");
  }
  return absl::OkStatus();
}

// --- generate

struct GenerateArgs {
  std::string model, prompt, dtype = "fp32";
  int max_new_tokens = 32;
  bool ignore_eos = false;
};

absl::Status RunGenerate(const GenerateArgs& a) {
  if (a.max_new_tokens < 1) {
    return absl::InvalidArgumentError("--max-new-tokens must be >= 1");
  }
  QG_ASSIGN_OR_RETURN(auto lm, LoadModel(a.model, a.dtype));
  const model::Tokenizer* tok = lm->tokenizer();
  std::vector<int> prompt = tok->Encode(a.prompt);
  if (prompt.empty()) {
    return absl::InvalidArgumentError("--prompt encodes to no tokens");
  }
  QG_ASSIGN_OR_RETURN(std::vector<int> out,
                      model::GreedyGenerate(*lm, prompt, a.max_new_tokens,
                                            /*stop_at_eos=*/!a.ignore_eos));
  // Decode prompt and continuation together so SentencePiece spacing at
  // the seam comes out as in one text.
  std::vector<int> all = prompt;
  all.insert(all.end(), out.begin(), out.end());
  std::printf("%s\n", tok->Decode(all).c_str());
  return absl::OkStatus();
}

// --- ppl

struct PplArgs {
  std::string model, text_file, dtype = "fp32";
  int64_t seqlen = 0;
  int64_t batch_size = 1;
  int64_t max_bytes = 0;
  bool json = false;
};

absl::Status RunPpl(const PplArgs& a) {
  QG_ASSIGN_OR_RETURN(std::string text, ReadText(a.text_file, a.max_bytes));
  QG_ASSIGN_OR_RETURN(auto lm, LoadModel(a.model, a.dtype));
  // Tokenize the whole text once, special tokens as tokenizer(text) adds
  // them (GPTQ's recipe).
  std::vector<int> ids = lm->tokenizer()->Encode(text);
  eval::PerplexityOptions o;
  o.seqlen = a.seqlen;
  o.batch_size = a.batch_size;
  QG_ASSIGN_OR_RETURN(eval::PerplexityResult r, eval::Perplexity(*lm, ids, o));
  if (a.json) {
    std::printf("%s\n", r.ToJson().dump().c_str());
  } else {
    std::printf(
        "ppl %.4f  (mean NLL %.5f; %lld tokens, %lld windows of %lld)\n", r.ppl,
        r.mean_nll, static_cast<long long>(r.tokens),
        static_cast<long long>(r.windows), static_cast<long long>(r.seqlen));
  }
  return absl::OkStatus();
}

}  // namespace

void RegisterModelCommands(CLI::App& app) {
  // qgrid model info
  auto* model = app.add_subcommand("model", "Inspect a Hugging Face model");
  model->require_subcommand(1);
  auto info = std::make_shared<InfoArgs>();
  auto* info_cmd = model->add_subcommand(
      "info",
      "Architecture, sizes, parameter count, checkpoint dtypes and bytes, "
      "tokenizer kind (reads headers only; loads no weights)");
  info_cmd->add_option("--model", info->model, kModelHelp)->required();
  info_cmd->add_flag("--json", info->json, "Print one JSON object");
  info_cmd->callback([info] {
    absl::Status s = RunInfo(*info);
    ReportError("model info", s);
  });

  // qgrid tokenize
  auto tk = std::make_shared<TokenizeArgs>();
  auto* tk_cmd = app.add_subcommand(
      "tokenize",
      "Token ids of a text file, special tokens added as Hugging Face's "
      "tokenizer(text) adds them");
  tk_cmd
      ->add_option("--model", tk->model,
                   "Folder with tokenizer.json or tokenizer.model (+ "
                   "tokenizer_config.json); weights are not needed")
      ->required();
  tk_cmd->add_option("--text-file", tk->text_file, "UTF-8 text to encode")
      ->required();
  tk_cmd->add_flag("--json", tk->json, "Print {\"ids\": [...]}");
  tk_cmd->add_flag("--no-special-tokens", tk->no_special,
                   "Do not add BOS/EOS (add_special_tokens=False)");
  tk_cmd->callback([tk] {
    absl::Status s = RunTokenize(*tk);
    ReportError("tokenize", s);
  });

  // qgrid generate
  auto gen = std::make_shared<GenerateArgs>();
  auto* gen_cmd = app.add_subcommand(
      "generate", "Greedy continuation of a prompt (KV-cached decoding)");
  gen_cmd->add_option("--model", gen->model, kModelHelp)->required();
  gen_cmd
      ->add_option("--prompt", gen->prompt,
                   "Prompt text (BOS is added as the tokenizer does)")
      ->required();
  gen_cmd->add_option("--max-new-tokens", gen->max_new_tokens,
                      "Number of tokens to generate (default 32)");
  gen_cmd->add_option("--dtype", gen->dtype, kDtypeHelp);
  gen_cmd->add_flag("--ignore-eos", gen->ignore_eos,
                    "Keep generating after the end-of-sequence token");
  gen_cmd->callback([gen] {
    absl::Status s = RunGenerate(*gen);
    ReportError("generate", s);
  });

  // qgrid ppl
  auto ppl = std::make_shared<PplArgs>();
  auto* ppl_cmd = app.add_subcommand(
      "ppl",
      "GPTQ-style perplexity: tokenize the whole file once, score\n"
      "non-overlapping windows of --seqlen tokens (remainder dropped),\n"
      "ppl = exp(mean NLL of every predicted token)");
  ppl_cmd->add_option("--model", ppl->model, kModelHelp)->required();
  ppl_cmd
      ->add_option("--text-file", ppl->text_file,
                   "Test text, e.g. WikiText-2's wiki.test.raw")
      ->required();
  ppl_cmd->add_option("--seqlen", ppl->seqlen,
                      "Window length in tokens (default: the model's "
                      "max_position_embeddings, capped at 2048)");
  ppl_cmd->add_option("--batch-size", ppl->batch_size,
                      "Windows per forward pass (default 1; memory grows "
                      "with batch x seqlen x vocab)");
  ppl_cmd->add_option("--max-bytes", ppl->max_bytes,
                      "Use only the first N bytes of the file (default: all)");
  ppl_cmd->add_option("--dtype", ppl->dtype, kDtypeHelp);
  ppl_cmd->add_flag("--json", ppl->json,
                    "Print {\"ppl\", \"mean_nll\", \"tokens\", \"windows\", "
                    "\"seqlen\", \"predicted_tokens\"}");
  ppl_cmd->callback([ppl] {
    absl::Status s = RunPpl(*ppl);
    ReportError("ppl", s);
  });
}

}  // namespace qgrid::cli
