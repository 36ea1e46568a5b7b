#include "model/model_info.h"

#include <map>

#include "model/safetensors.h"
#include "model/tokenizer.h"

namespace qgrid::model {

using json = nlohmann::json;

absl::StatusOr<ModelFolderInfo> DescribeModelFolder(const std::string& dir,
                                                    const ModelConfig& c) {
  json j = {{"model", dir},
            {"model_type", c.model_type},
            {"architecture", c.architecture},
            {"layers", c.num_layers},
            {"hidden_size", c.hidden_size},
            {"intermediate_size", c.intermediate_size},
            {"heads", c.num_heads},
            {"kv_heads", c.num_kv_heads},
            {"head_dim", c.head_dim},
            {"vocab_size", c.vocab_size},
            {"max_position_embeddings", c.max_position_embeddings},
            {"rope_theta", c.rope_theta},
            {"rope_scaling", c.rope_scaling.type.empty() ? std::string("none")
                                                         : c.rope_scaling.type},
            {"tie_word_embeddings", c.tie_word_embeddings},
            {"qkv_bias", c.qkv_bias},
            {"fused_qkv", c.fused_qkv},
            {"norm_head", c.norm_head},
            {"torch_dtype", c.torch_dtype},
            {"parameters", c.ParameterCount()}};
  // The checkpoint's header only: nothing is loaded.
  auto ckpt = Checkpoint::Open(dir);
  if (ckpt.ok()) {
    std::map<std::string, int64_t> dtypes;
    int64_t elements = 0;
    for (const auto& name : (*ckpt)->TensorNames()) {
      const TensorView* t = (*ckpt)->Find(name);
      dtypes[DTypeName(t->dtype)] += 1;
      int64_t n = 1;
      for (int64_t d : t->shape) n *= d;
      elements += n;
    }
    j["checkpoint_dtypes"] = dtypes;  // dtype -> number of tensors
    j["checkpoint_tensors"] = (*ckpt)->TensorNames().size();
    j["checkpoint_elements"] = elements;
    j["checkpoint_bytes"] = (*ckpt)->total_bytes();
  } else {
    j["checkpoint_error"] = std::string(ckpt.status().message());
  }
  auto tok = LoadTokenizer(dir);
  if (tok.ok()) {
    j["tokenizer"] = (*tok)->kind();
    j["tokenizer_vocab"] = (*tok)->vocab_size();
    j["bos_id"] = (*tok)->bos_id();
    j["eos_id"] = (*tok)->eos_id();
  } else {
    j["tokenizer"] = "none";
    j["tokenizer_error"] = std::string(tok.status().message());
  }
  ModelFolderInfo info;
  info.summary = std::move(j);
  info.checkpoint = ckpt.status();
  return info;
}

}  // namespace qgrid::model
