// `qgrid model info`, `qgrid model logits`, `qgrid tokenize`, `qgrid
// generate`, `qgrid ppl`: look at a Hugging Face model folder, print the
// logits of token batches, tokenize, greedy-decode and measure GPTQ-style
// perplexity (eval/perplexity.h) with the model runtime alone.
#include <ATen/ATen.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
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
    const std::string& dir, const std::string& dtype,
    bool load_tokenizer = true) {
  QG_RETURN_IF_ERROR(CheckModelDir(dir, /*need_config=*/true));
  model::LoadOptions opts;
  opts.load_tokenizer = load_tokenizer;
  QG_ASSIGN_OR_RETURN(opts.dtype, model::ParseDtype(dtype, "--dtype"));
  // quant::LoadModel reads plain checkpoints and gptq/awq/fake exports.
  return quant::LoadModel(dir, opts);
}

// --- token batches (--tokens-file)

// A batch of token ids and its attention mask, [B, T] int64 each.
struct TokenBatch {
  at::Tensor ids, mask;
};

// Reads --tokens-file: either a list of id lists (rows of different
// lengths are padded with `pad_id`, on the left with `left_pad`, else on
// the right; the mask marks the padding), or an object {"input_ids":
// [[...]], "attention_mask": [[...]]} as a Hugging Face tokenizer returns
// for a padded batch (attention_mask optional: all ones).
absl::StatusOr<TokenBatch> ReadTokenBatch(const std::string& path,
                                          bool left_pad, int64_t pad_id) {
  QG_ASSIGN_OR_RETURN(std::string text, ReadFileToString(path));
  const std::string what = absl::StrCat("--tokens-file ", path);
  json j = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) {
    return absl::InvalidArgumentError(absl::StrCat(what, ": not valid JSON"));
  }
  auto rows_of = [&](const json& a, const char* field)
      -> absl::StatusOr<std::vector<std::vector<int64_t>>> {
    std::vector<std::vector<int64_t>> rows;
    if (!a.is_array() || a.empty()) {
      return absl::InvalidArgumentError(absl::StrCat(
          what, ": ", field, " must be a non-empty list of lists"));
    }
    for (const json& r : a) {
      if (!r.is_array() || r.empty()) {
        return absl::InvalidArgumentError(absl::StrCat(
            what, ": every row of ", field, " must be a non-empty list"));
      }
      std::vector<int64_t> row;
      for (const json& v : r) {
        if (!v.is_number_integer()) {
          return absl::InvalidArgumentError(
              absl::StrCat(what, ": ", field, " holds a non-integer"));
        }
        row.push_back(v.get<int64_t>());
      }
      rows.push_back(std::move(row));
    }
    return rows;
  };
  std::vector<std::vector<int64_t>> ids, mask;
  if (j.is_object()) {
    if (!j.contains("input_ids")) {
      return absl::InvalidArgumentError(
          absl::StrCat(what, ": an object needs \"input_ids\""));
    }
    QG_ASSIGN_OR_RETURN(ids, rows_of(j["input_ids"], "input_ids"));
    if (j.contains("attention_mask")) {
      QG_ASSIGN_OR_RETURN(mask, rows_of(j["attention_mask"], "attention_mask"));
      if (mask.size() != ids.size()) {
        return absl::InvalidArgumentError(
            absl::StrCat(what, ": attention_mask has ", mask.size(),
                         " rows, input_ids ", ids.size()));
      }
    }
    for (size_t r = 0; r < ids.size(); ++r) {
      if (ids[r].size() != ids[0].size() ||
          (!mask.empty() && mask[r].size() != ids[r].size())) {
        return absl::InvalidArgumentError(absl::StrCat(
            what,
            ": input_ids (and attention_mask) rows must have one "
            "length; give a list of lists to have qgrid pad them"));
      }
    }
  } else {
    QG_ASSIGN_OR_RETURN(ids, rows_of(j, "the list"));
    size_t len = 0;
    for (const auto& r : ids) len = std::max(len, r.size());
    for (auto& r : ids) {
      const size_t pad = len - r.size();
      std::vector<int64_t> m(r.size(), 1);
      if (left_pad) {
        r.insert(r.begin(), pad, pad_id);
        m.insert(m.begin(), pad, 0);
      } else {
        r.insert(r.end(), pad, pad_id);
        m.insert(m.end(), pad, 0);
      }
      mask.push_back(std::move(m));
    }
  }
  const int64_t B = static_cast<int64_t>(ids.size());
  const int64_t T = static_cast<int64_t>(ids[0].size());
  TokenBatch b;
  b.ids = at::empty({B, T}, at::kLong);
  b.mask = at::ones({B, T}, at::kLong);
  for (int64_t r = 0; r < B; ++r) {
    std::memcpy(b.ids[r].data_ptr<int64_t>(), ids[r].data(),
                T * sizeof(int64_t));
    if (!mask.empty()) {
      std::memcpy(b.mask[r].data_ptr<int64_t>(), mask[r].data(),
                  T * sizeof(int64_t));
    }
  }
  return b;
}

std::vector<std::vector<int64_t>> Rows(const at::Tensor& t) {
  at::Tensor c = t.to(at::kLong).contiguous();
  std::vector<std::vector<int64_t>> out(c.size(0));
  for (int64_t r = 0; r < c.size(0); ++r) {
    const int64_t* p = c[r].data_ptr<int64_t>();
    out[r].assign(p, p + c.size(1));
  }
  return out;
}

// Writes a float32 tensor as a NumPy .npy file (version 1.0, C order).
absl::Status WriteNpy(const std::string& path, const at::Tensor& t) {
  at::Tensor c = t.to(at::kFloat).contiguous().cpu();
  std::string shape = absl::StrJoin(c.sizes().vec(), ", ");
  if (c.dim() == 1) shape += ",";
  std::string header = absl::StrCat(
      "{'descr': '<f4', 'fortran_order': False, 'shape': (", shape, "), }");
  // Magic (6) + version (2) + length (2) + header + '\n', padded to 64.
  const size_t total = ((10 + header.size() + 1 + 63) / 64) * 64;
  header.append(total - 10 - header.size() - 1, ' ');
  header.push_back('\n');
  std::ofstream f(path, std::ios::binary);
  if (!f) {
    return absl::NotFoundError(absl::StrCat(path, ": cannot write"));
  }
  const uint16_t len = static_cast<uint16_t>(header.size());
  f.write("\x93NUMPY\x01\x00", 8);
  const char len_le[2] = {static_cast<char>(len & 0xff),
                          static_cast<char>(len >> 8)};
  f.write(len_le, 2);
  f.write(header.data(), static_cast<std::streamsize>(header.size()));
  f.write(static_cast<const char*>(c.data_ptr()),
          static_cast<std::streamsize>(c.numel() * sizeof(float)));
  if (!f) return absl::InternalError(absl::StrCat(path, ": write failed"));
  return absl::OkStatus();
}

// EOS ids and the pad id greedy decoding uses, as transformers' generate
// reads them: generation_config.json first (eos_token_id may be a list),
// then config.json; the pad id falls back to the first EOS id, then 0.
struct StopIds {
  std::vector<int64_t> eos;
  int64_t pad = 0;
};

absl::StatusOr<StopIds> ReadStopIds(const std::string& dir,
                                    const model::ModelConfig& c) {
  StopIds s;
  int64_t pad = c.pad_token_id;
  if (c.eos_token_id >= 0) s.eos = {c.eos_token_id};
  const fs::path gen = fs::path(dir) / "generation_config.json";
  std::error_code ec;
  if (fs::exists(gen, ec)) {
    QG_ASSIGN_OR_RETURN(std::string text, ReadFileToString(gen.string()));
    json j = json::parse(text, nullptr, /*allow_exceptions=*/false);
    if (!j.is_object()) {
      return absl::InvalidArgumentError(
          absl::StrCat(gen.string(), ": not a JSON object"));
    }
    if (j.contains("eos_token_id")) {
      const json& e = j["eos_token_id"];
      s.eos.clear();
      if (e.is_number_integer()) s.eos.push_back(e.get<int64_t>());
      if (e.is_array()) {
        for (const json& v : e) {
          if (v.is_number_integer()) s.eos.push_back(v.get<int64_t>());
        }
      }
    }
    if (j.contains("pad_token_id")) {
      pad = j["pad_token_id"].is_number_integer()
                ? j["pad_token_id"].get<int64_t>()
                : -1;
    }
  }
  s.pad = pad >= 0 ? pad : (s.eos.empty() ? 0 : s.eos[0]);
  return s;
}

// --- model logits

struct LogitsArgs {
  std::string model, tokens_file, out, dtype = "fp32";
  bool left_pad = false;
};

absl::Status RunLogits(const LogitsArgs& a) {
  QG_ASSIGN_OR_RETURN(auto lm,
                      LoadModel(a.model, a.dtype, /*load_tokenizer=*/false));
  const int64_t pad = std::max<int64_t>(lm->config().pad_token_id, 0);
  QG_ASSIGN_OR_RETURN(TokenBatch b,
                      ReadTokenBatch(a.tokens_file, a.left_pad, pad));
  QG_ASSIGN_OR_RETURN(at::Tensor logits, lm->Forward(b.ids, b.mask));
  json j = {{"shape", logits.sizes().vec()},
            {"dtype", model::DtypeName(lm->dtype())},
            {"input_ids", Rows(b.ids)},
            {"attention_mask", Rows(b.mask)}};
  if (!a.out.empty()) {
    QG_RETURN_IF_ERROR(WriteNpy(a.out, logits));
    j["out"] = a.out;
  } else {
    at::Tensor c = logits.contiguous();
    const float* p = c.data_ptr<float>();
    j["logits"] = std::vector<float>(p, p + c.numel());
  }
  std::printf("%s\n", j.dump().c_str());
  return absl::OkStatus();
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
  std::string model, text_file, texts_file;
  bool json = false;
  bool no_special = false;
};

absl::Status RunTokenize(const TokenizeArgs& a) {
  QG_RETURN_IF_ERROR(CheckModelDir(a.model, /*need_config=*/false));
  if (a.text_file.empty() == a.texts_file.empty()) {
    return absl::InvalidArgumentError(
        "give exactly one of --text-file and --texts-file");
  }
  if (!a.texts_file.empty()) {
    // One JSON string per line in, one {"ids": [...]} per line out.
    QG_ASSIGN_OR_RETURN(std::string all, ReadFileToString(a.texts_file));
    QG_ASSIGN_OR_RETURN(auto tok, model::LoadTokenizer(a.model));
    std::istringstream in(all);
    std::string line;
    for (int n = 1; std::getline(in, line); ++n) {
      if (line.empty()) continue;
      json j = json::parse(line, nullptr, /*allow_exceptions=*/false);
      if (!j.is_string()) {
        return absl::InvalidArgumentError(absl::StrCat(
            "--texts-file ", a.texts_file, ":", n, ": not a JSON string"));
      }
      std::vector<int> ids = tok->Encode(j.get<std::string>(), !a.no_special);
      std::printf("%s\n", json({{"ids", ids}}).dump().c_str());
    }
    return absl::OkStatus();
  }
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
  std::string model, prompt, tokens_file, dtype = "fp32";
  int max_new_tokens = 32;
  bool ignore_eos = false;
  bool right_pad = false;
};

// --tokens-file: a batch of id rows, left-padded (as generate needs), decoded
// greedily together; prints {"new_ids": [[...]], ...}.
absl::Status RunGenerateTokens(const GenerateArgs& a) {
  QG_ASSIGN_OR_RETURN(auto lm,
                      LoadModel(a.model, a.dtype, /*load_tokenizer=*/false));
  QG_ASSIGN_OR_RETURN(StopIds stop, ReadStopIds(a.model, lm->config()));
  if (a.ignore_eos) stop.eos.clear();
  QG_ASSIGN_OR_RETURN(TokenBatch b,
                      ReadTokenBatch(a.tokens_file, !a.right_pad, stop.pad));
  QG_ASSIGN_OR_RETURN(at::Tensor out, model::GreedyGenerateBatch(
                                          *lm, b.ids, b.mask, a.max_new_tokens,
                                          stop.eos, stop.pad));
  json j = {{"new_ids", Rows(out)},
            {"input_ids", Rows(b.ids)},
            {"attention_mask", Rows(b.mask)},
            {"eos_token_ids", stop.eos},
            {"pad_token_id", stop.pad}};
  std::printf("%s\n", j.dump().c_str());
  return absl::OkStatus();
}

absl::Status RunGenerate(const GenerateArgs& a) {
  if (a.max_new_tokens < 1) {
    return absl::InvalidArgumentError("--max-new-tokens must be >= 1");
  }
  if (a.prompt.empty() == a.tokens_file.empty()) {
    return absl::InvalidArgumentError(
        "give exactly one of --prompt and --tokens-file");
  }
  if (!a.tokens_file.empty()) return RunGenerateTokens(a);
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

  // qgrid model logits
  auto lg = std::make_shared<LogitsArgs>();
  auto* lg_cmd = model->add_subcommand(
      "logits",
      "Float32 logits [batch, seq, vocab] of a batch of token ids (one "
      "forward pass; positions from the attention mask, so left-padded rows "
      "get their unpadded logits)");
  lg_cmd->add_option("--model", lg->model, kModelHelp)->required();
  lg_cmd
      ->add_option("--tokens-file", lg->tokens_file,
                   "JSON: a list of id lists (padded by qgrid), or "
                   "{\"input_ids\": [[...]], \"attention_mask\": [[...]]}")
      ->required();
  lg_cmd->add_flag("--left-pad", lg->left_pad,
                   "Pad a list of id lists on the left (default: right)");
  lg_cmd->add_option("--out", lg->out,
                     "Write the logits to this .npy file (default: in the "
                     "printed JSON as a flat \"logits\" list)");
  lg_cmd->add_option("--dtype", lg->dtype, kDtypeHelp);
  lg_cmd->callback([lg] {
    absl::Status s = RunLogits(*lg);
    ReportError("model logits", s);
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
  tk_cmd->add_option("--text-file", tk->text_file, "UTF-8 text to encode");
  tk_cmd->add_option("--texts-file", tk->texts_file,
                     "Instead of --text-file: JSON Lines, one JSON string per "
                     "line, each encoded alone; prints one {\"ids\": [...]} "
                     "line per text");
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
  gen_cmd->add_option("--prompt", gen->prompt,
                      "Prompt text (BOS is added as the tokenizer does)");
  gen_cmd->add_option(
      "--tokens-file", gen->tokens_file,
      "Instead of --prompt: JSON list of id lists (or {\"input_ids\", "
      "\"attention_mask\"}) decoded as one left-padded batch, as "
      "transformers' generate(do_sample=False); prints {\"new_ids\": "
      "[[...]]}; EOS/pad ids from generation_config.json, else config.json");
  gen_cmd->add_flag("--right-pad", gen->right_pad,
                    "Pad --tokens-file rows on the right (default: left)");
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
