// Hugging Face config.json for the decoder-only LLaMA family.
//
// Supported `model_type`s: llama (LLaMA 1/2/3: GQA, rope_theta, rope_scaling
// "linear" and "llama3"), mistral, qwen2 (bias on q/k/v), baichuan
// (Baichuan2: fused W_pack, NormHead lm_head). Anything else is rejected with
// a message listing these.
#ifndef QGRID_MODEL_CONFIG_H_
#define QGRID_MODEL_CONFIG_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace qgrid::model {

struct RopeScaling {
  std::string type;  // "" (none), "linear", "llama3"
  double factor = 1.0;
  // llama3 only.
  double low_freq_factor = 1.0;
  double high_freq_factor = 4.0;
  int64_t original_max_position_embeddings = 8192;
};

struct ModelConfig {
  std::string model_type;    // "llama", "mistral", "qwen2", "baichuan"
  std::string architecture;  // architectures[0], e.g. "LlamaForCausalLM"
  int64_t hidden_size = 0;
  int64_t intermediate_size = 0;
  int64_t num_layers = 0;
  int64_t num_heads = 0;
  int64_t num_kv_heads = 0;
  int64_t head_dim = 0;  // hidden_size / num_heads unless given
  int64_t vocab_size = 0;
  int64_t max_position_embeddings = 2048;
  double rms_norm_eps = 1e-6;
  double rope_theta = 10000.0;
  RopeScaling rope_scaling;
  bool tie_word_embeddings = false;
  bool qkv_bias = false;     // qwen2
  bool fused_qkv = false;    // baichuan W_pack
  bool norm_head = false;    // baichuan2 NormHead
  std::string hidden_act = "silu";
  std::string torch_dtype = "float32";
  int64_t bos_token_id = -1;
  int64_t eos_token_id = -1;
  int64_t pad_token_id = -1;
  // The whole file, for fields other modules need (e.g. quantization_config).
  std::string raw_json;

  static absl::StatusOr<ModelConfig> FromJsonFile(const std::string& path);
  // `source` names the origin in error messages.
  static absl::StatusOr<ModelConfig> FromJsonString(const std::string& json,
                                                    const std::string& source);
  // Number of parameters implied by the config (embeddings counted once
  // when tied).
  int64_t ParameterCount() const;
};

}  // namespace qgrid::model

#endif  // QGRID_MODEL_CONFIG_H_
