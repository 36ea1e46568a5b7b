#include "model/config.h"

#include <fstream>
#include <sstream>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/file_util.h"
#include "nlohmann/json.hpp"

namespace qgrid::model {

using nlohmann::json;

namespace {

constexpr const char* kSupported = "llama, mistral, qwen2, baichuan";

// Field readers: a missing field keeps the default (or fails when
// required); a present field of the wrong type is an error naming it.
class Reader {
 public:
  Reader(const json& j, const std::string& source) : j_(j), source_(source) {}

  absl::Status Error(const std::string& field, const std::string& msg) const {
    return absl::InvalidArgumentError(
        absl::StrCat(source_, ": field \"", field, "\": ", msg));
  }

  bool Present(const char* f) const {
    auto it = j_.find(f);
    return it != j_.end() && !it->is_null();
  }

  absl::Status Int(const char* f, int64_t* out, bool required = false) const {
    auto it = j_.find(f);
    if (it == j_.end() || it->is_null()) {
      return required ? Error(f, "required but missing") : absl::OkStatus();
    }
    if (!it->is_number_integer()) return Error(f, "expected an integer");
    *out = it->get<int64_t>();
    return absl::OkStatus();
  }

  absl::Status Double(const char* f, double* out) const {
    auto it = j_.find(f);
    if (it == j_.end() || it->is_null()) return absl::OkStatus();
    if (!it->is_number()) return Error(f, "expected a number");
    *out = it->get<double>();
    return absl::OkStatus();
  }

  absl::Status Bool(const char* f, bool* out) const {
    auto it = j_.find(f);
    if (it == j_.end() || it->is_null()) return absl::OkStatus();
    if (!it->is_boolean()) return Error(f, "expected true or false");
    *out = it->get<bool>();
    return absl::OkStatus();
  }

  absl::Status String(const char* f, std::string* out,
                      bool required = false) const {
    auto it = j_.find(f);
    if (it == j_.end() || it->is_null()) {
      return required ? Error(f, "required but missing") : absl::OkStatus();
    }
    if (!it->is_string()) return Error(f, "expected a string");
    *out = it->get<std::string>();
    return absl::OkStatus();
  }

  // Token ids may be an integer or a list (LLaMA-3.1 lists several EOS ids;
  // the first is used).
  absl::Status TokenId(const char* f, int64_t* out) const {
    auto it = j_.find(f);
    if (it == j_.end() || it->is_null()) return absl::OkStatus();
    if (it->is_number_integer()) {
      *out = it->get<int64_t>();
      return absl::OkStatus();
    }
    if (it->is_array() && !it->empty() && (*it)[0].is_number_integer()) {
      *out = (*it)[0].get<int64_t>();
      return absl::OkStatus();
    }
    return Error(f, "expected an integer or a list of integers");
  }

 private:
  const json& j_;
  std::string source_;  // a copy: callers pass temporaries (StrCat)
};

#define QG_CFG_RETURN_IF_ERROR(expr) \
  do {                               \
    absl::Status s_ = (expr);        \
    if (!s_.ok()) return s_;         \
  } while (0)

}  // namespace

absl::StatusOr<ModelConfig> ModelConfig::FromJsonFile(const std::string& path) {
  auto text = ReadFileToString(path);
  if (!text.ok()) return text.status();
  return FromJsonString(*text, path);
}

absl::StatusOr<ModelConfig> ModelConfig::FromJsonString(
    const std::string& text, const std::string& source) {
  json j = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) {
    return absl::InvalidArgumentError(absl::StrCat(source, ": not valid JSON"));
  }
  if (!j.is_object()) {
    return absl::InvalidArgumentError(
        absl::StrCat(source, ": expected a JSON object"));
  }
  Reader r(j, source);
  ModelConfig c;
  c.raw_json = text;
  QG_CFG_RETURN_IF_ERROR(r.String("model_type", &c.model_type, true));
  if (c.model_type != "llama" && c.model_type != "mistral" &&
      c.model_type != "qwen2" && c.model_type != "baichuan") {
    return r.Error("model_type",
                   absl::StrCat("unsupported model_type \"", c.model_type,
                                "\" (supported: ", kSupported, ")"));
  }
  if (r.Present("architectures")) {
    const json& a = j["architectures"];
    if (!a.is_array() || (!a.empty() && !a[0].is_string())) {
      return r.Error("architectures", "expected a list of strings");
    }
    if (!a.empty()) c.architecture = a[0].get<std::string>();
  }
  QG_CFG_RETURN_IF_ERROR(r.Int("hidden_size", &c.hidden_size, true));
  QG_CFG_RETURN_IF_ERROR(
      r.Int("intermediate_size", &c.intermediate_size, true));
  QG_CFG_RETURN_IF_ERROR(r.Int("num_hidden_layers", &c.num_layers, true));
  QG_CFG_RETURN_IF_ERROR(r.Int("num_attention_heads", &c.num_heads, true));
  QG_CFG_RETURN_IF_ERROR(r.Int("vocab_size", &c.vocab_size, true));
  c.num_kv_heads = c.num_heads;
  QG_CFG_RETURN_IF_ERROR(r.Int("num_key_value_heads", &c.num_kv_heads));
  QG_CFG_RETURN_IF_ERROR(
      r.Int("max_position_embeddings", &c.max_position_embeddings));
  QG_CFG_RETURN_IF_ERROR(r.Double("rms_norm_eps", &c.rms_norm_eps));
  QG_CFG_RETURN_IF_ERROR(r.Double("rope_theta", &c.rope_theta));
  QG_CFG_RETURN_IF_ERROR(r.Bool("tie_word_embeddings", &c.tie_word_embeddings));
  QG_CFG_RETURN_IF_ERROR(r.String("hidden_act", &c.hidden_act));
  QG_CFG_RETURN_IF_ERROR(r.String("torch_dtype", &c.torch_dtype));
  // transformers 5 writes "dtype" instead of "torch_dtype".
  QG_CFG_RETURN_IF_ERROR(r.String("dtype", &c.torch_dtype));
  QG_CFG_RETURN_IF_ERROR(r.TokenId("bos_token_id", &c.bos_token_id));
  QG_CFG_RETURN_IF_ERROR(r.TokenId("eos_token_id", &c.eos_token_id));
  QG_CFG_RETURN_IF_ERROR(r.TokenId("pad_token_id", &c.pad_token_id));

  for (auto [name, v] :
       {std::pair<const char*, int64_t>{"hidden_size", c.hidden_size},
        {"intermediate_size", c.intermediate_size},
        {"num_hidden_layers", c.num_layers},
        {"num_attention_heads", c.num_heads},
        {"num_key_value_heads", c.num_kv_heads},
        {"vocab_size", c.vocab_size},
        {"max_position_embeddings", c.max_position_embeddings}}) {
    if (v <= 0) return r.Error(name, absl::StrCat("must be > 0, got ", v));
  }
  if (c.num_heads % c.num_kv_heads != 0) {
    return r.Error(
        "num_key_value_heads",
        absl::StrCat(c.num_kv_heads, " does not divide num_attention_heads ",
                     c.num_heads));
  }
  // head_dim: Mistral/newer configs may give it (or null); otherwise
  // hidden_size / num_heads, which must then divide exactly.
  if (r.Present("head_dim")) {
    QG_CFG_RETURN_IF_ERROR(r.Int("head_dim", &c.head_dim));
    if (c.head_dim <= 0) return r.Error("head_dim", "must be > 0");
  } else {
    if (c.hidden_size % c.num_heads != 0) {
      return r.Error("num_attention_heads",
                     absl::StrCat(c.num_heads, " does not divide hidden_size ",
                                  c.hidden_size));
    }
    c.head_dim = c.hidden_size / c.num_heads;
  }
  if (c.head_dim % 2 != 0) {
    return r.Error("head_dim", "rotary embeddings need an even head_dim");
  }
  if (c.hidden_act != "silu" && c.hidden_act != "swish") {
    return r.Error(
        "hidden_act",
        absl::StrCat("\"", c.hidden_act,
                     "\" is not supported (LLaMA family uses silu)"));
  }
  if (c.rms_norm_eps <= 0) return r.Error("rms_norm_eps", "must be > 0");
  if (c.rope_theta <= 0) return r.Error("rope_theta", "must be > 0");

  // transformers >= 5 writes RoPE as "rope_parameters" (rope_theta, and
  // rope_type with its scaling fields, inside), no longer rope_theta and
  // rope_scaling at the top level; it is read the same way, its rope_theta
  // taking precedence.
  const char* rope_field = nullptr;
  if (r.Present("rope_parameters")) {
    rope_field = "rope_parameters";
  } else if (r.Present("rope_scaling")) {
    rope_field = "rope_scaling";
  }
  if (rope_field != nullptr) {
    const json& rs = j[rope_field];
    if (!rs.is_object()) return r.Error(rope_field, "expected an object");
    Reader rr(rs, absl::StrCat(source, ": ", rope_field));
    QG_CFG_RETURN_IF_ERROR(rr.Double("rope_theta", &c.rope_theta));
    if (c.rope_theta <= 0) return rr.Error("rope_theta", "must be > 0");
    // transformers >= 4.43 writes "rope_type"; older files "type".
    std::string type;
    QG_CFG_RETURN_IF_ERROR(rr.String("type", &type));
    QG_CFG_RETURN_IF_ERROR(rr.String("rope_type", &type));
    if (type == "default") type = "";
    if (!type.empty() && type != "linear" && type != "llama3") {
      return r.Error(rope_field,
                     absl::StrCat("type \"", type,
                                  "\" is not supported (supported: linear, "
                                  "llama3)"));
    }
    c.rope_scaling.type = type;
    QG_CFG_RETURN_IF_ERROR(rr.Double("factor", &c.rope_scaling.factor));
    if (!type.empty() && c.rope_scaling.factor <= 0) {
      return rr.Error("factor", "must be > 0");
    }
    if (type == "llama3") {
      QG_CFG_RETURN_IF_ERROR(
          rr.Double("low_freq_factor", &c.rope_scaling.low_freq_factor));
      QG_CFG_RETURN_IF_ERROR(
          rr.Double("high_freq_factor", &c.rope_scaling.high_freq_factor));
      QG_CFG_RETURN_IF_ERROR(
          rr.Int("original_max_position_embeddings",
                 &c.rope_scaling.original_max_position_embeddings));
      if (c.rope_scaling.high_freq_factor <= c.rope_scaling.low_freq_factor) {
        return rr.Error("high_freq_factor", "must exceed low_freq_factor");
      }
      if (c.rope_scaling.original_max_position_embeddings <= 0) {
        return rr.Error("original_max_position_embeddings", "must be > 0");
      }
    }
  }

  // Mistral/Qwen2 sliding-window attention is not implemented: it only
  // differs from full causal attention beyond `sliding_window` tokens
  // (4096 for Mistral-7B-v0.1, off by default for Qwen2), longer than the
  // 2048-token windows qgrid evaluates with.
  if (c.model_type == "qwen2") {
    // Qwen2Attention: q/k/v projections carry a bias, o_proj does not.
    c.qkv_bias = true;
  } else if (c.model_type == "llama") {
    // Some LLaMA-architecture checkpoints set attention_bias (bias on all
    // four projections); the loader reads any ".bias" present.
    QG_CFG_RETURN_IF_ERROR(r.Bool("attention_bias", &c.qkv_bias));
  } else if (c.model_type == "baichuan") {
    // Baichuan-7B / Baichuan2-7B use RoPE with q/k/v fused into W_pack.
    // The 13B models use ALiBi instead of RoPE, which this runtime does not
    // implement (they have hidden_size 5120).
    if (c.hidden_size == 5120 && c.num_layers == 40) {
      return r.Error("hidden_size",
                     "Baichuan 13B models (ALiBi attention) are not "
                     "supported; Baichuan(2)-7B is");
    }
    c.fused_qkv = true;
    // Baichuan2 normalizes lm_head rows (NormHead). Its config says
    // model_type "baichuan" like Baichuan-1, so tell them apart by the
    // architecture name or by Baichuan2's 125,696-token vocabulary.
    c.norm_head = absl::StrContains(c.architecture, "Baichuan2") ||
                  absl::StrContains(c.architecture, "NormHead") ||
                  c.vocab_size == 125696;
  }
  return c;
}

int64_t ModelConfig::ParameterCount() const {
  const int64_t h = hidden_size;
  const int64_t q = num_heads * head_dim;
  const int64_t kv = num_kv_heads * head_dim;
  int64_t per_layer = h * q + 2 * h * kv + q * h   // attention
                      + 3 * h * intermediate_size  // MLP
                      + 2 * h;                     // two RMSNorms
  if (qkv_bias) per_layer += q + 2 * kv;
  int64_t total = vocab_size * h + num_layers * per_layer + h;
  if (!tie_word_embeddings) total += vocab_size * h;
  return total;
}

}  // namespace qgrid::model
