#include "model/config.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "tests/test_util.h"

namespace qgrid::model {
namespace {

using ::testing::HasSubstr;

absl::StatusOr<ModelConfig> Parse(const std::string& json) {
  return ModelConfig::FromJsonString(json, "test/config.json");
}

std::string Err(const std::string& json) {
  auto c = Parse(json);
  return c.ok() ? "" : std::string(c.status().message());
}

// LLaMA-2-7B's config.json (fields as published).
constexpr char kLlama2[] = R"({
  "architectures": ["LlamaForCausalLM"], "bos_token_id": 1, "eos_token_id": 2,
  "hidden_act": "silu", "hidden_size": 4096, "initializer_range": 0.02,
  "intermediate_size": 11008, "max_position_embeddings": 4096,
  "model_type": "llama", "num_attention_heads": 32, "num_hidden_layers": 32,
  "num_key_value_heads": 32, "pretraining_tp": 1, "rms_norm_eps": 1e-05,
  "rope_scaling": null, "tie_word_embeddings": false, "torch_dtype": "float16",
  "use_cache": true, "vocab_size": 32000})";

TEST(ModelConfig, ParsesLlama2) {
  auto c = Parse(kLlama2);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->model_type, "llama");
  EXPECT_EQ(c->architecture, "LlamaForCausalLM");
  EXPECT_EQ(c->head_dim, 128);
  EXPECT_EQ(c->num_kv_heads, 32);
  EXPECT_EQ(c->max_position_embeddings, 4096);
  EXPECT_DOUBLE_EQ(c->rms_norm_eps, 1e-5);
  EXPECT_EQ(c->rope_scaling.type, "");
  EXPECT_FALSE(c->qkv_bias || c->fused_qkv || c->norm_head);
  EXPECT_EQ(c->torch_dtype, "float16");
  // The published figure: LLaMA-2-7B has 6,738,415,616 parameters.
  EXPECT_EQ(c->ParameterCount(), 6738415616);
}

TEST(ModelConfig, ParsesLlama3WithRopeScalingAndEosList) {
  auto c = Parse(R"({
    "architectures": ["LlamaForCausalLM"], "model_type": "llama",
    "hidden_size": 4096, "intermediate_size": 14336, "num_hidden_layers": 32,
    "num_attention_heads": 32, "num_key_value_heads": 8, "vocab_size": 128256,
    "max_position_embeddings": 131072, "rope_theta": 500000.0,
    "bos_token_id": 128000, "eos_token_id": [128001, 128008, 128009],
    "rope_scaling": {"factor": 8.0, "low_freq_factor": 1.0,
      "high_freq_factor": 4.0, "original_max_position_embeddings": 8192,
      "rope_type": "llama3"}, "tie_word_embeddings": false})");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->num_kv_heads, 8);
  EXPECT_DOUBLE_EQ(c->rope_theta, 500000.0);
  EXPECT_EQ(c->rope_scaling.type, "llama3");
  EXPECT_DOUBLE_EQ(c->rope_scaling.factor, 8.0);
  EXPECT_EQ(c->rope_scaling.original_max_position_embeddings, 8192);
  EXPECT_EQ(c->eos_token_id, 128001);
  // LLaMA-3.1-8B: 8,030,261,248 parameters.
  EXPECT_EQ(c->ParameterCount(), 8030261248);
}

// transformers 5 saves RoPE as "rope_parameters" (theta inside, no
// top-level rope_theta/rope_scaling) and the dtype as "dtype": reading only
// the old fields gave theta 10000 and no scaling, so every position's
// phases differed from transformers'.
TEST(ModelConfig, ReadsTransformers5RopeParameters) {
  auto c = Parse(R"({"model_type": "llama", "hidden_size": 64,
    "intermediate_size": 128, "num_hidden_layers": 2, "num_attention_heads": 4,
    "num_key_value_heads": 2, "vocab_size": 256, "dtype": "bfloat16",
    "rope_parameters": {"factor": 8.0, "high_freq_factor": 4.0,
      "low_freq_factor": 1.0, "original_max_position_embeddings": 64,
      "rope_theta": 500000.0, "rope_type": "llama3"}})");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_DOUBLE_EQ(c->rope_theta, 500000.0);
  EXPECT_EQ(c->rope_scaling.type, "llama3");
  EXPECT_DOUBLE_EQ(c->rope_scaling.factor, 8.0);
  EXPECT_EQ(c->rope_scaling.original_max_position_embeddings, 64);
  EXPECT_EQ(c->torch_dtype, "bfloat16");

  auto d = Parse(R"({"model_type": "qwen2", "hidden_size": 64,
    "intermediate_size": 128, "num_hidden_layers": 2, "num_attention_heads": 4,
    "vocab_size": 256, "rope_parameters": {"rope_theta": 1000000.0,
    "rope_type": "default"}})");
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_DOUBLE_EQ(d->rope_theta, 1000000.0);
  EXPECT_EQ(d->rope_scaling.type, "");

  auto l = Parse(R"({"model_type": "mistral", "hidden_size": 64,
    "intermediate_size": 128, "num_hidden_layers": 2, "num_attention_heads": 4,
    "vocab_size": 256, "rope_parameters": {"rope_theta": 10000.0,
    "rope_type": "linear", "factor": 2.0}})");
  ASSERT_TRUE(l.ok()) << l.status();
  EXPECT_EQ(l->rope_scaling.type, "linear");
  EXPECT_DOUBLE_EQ(l->rope_scaling.factor, 2.0);

  EXPECT_THAT(Err(R"({"model_type": "llama", "hidden_size": 64,
    "intermediate_size": 128, "num_hidden_layers": 2, "num_attention_heads": 4,
    "vocab_size": 256, "rope_parameters": {"rope_type": "yarn"}})"),
              HasSubstr("rope_parameters"));
}

// The error of a nested field names the file and the object (the reader
// once kept a reference to a temporary source string).
TEST(ModelConfig, NestedRopeErrorsNameTheSource) {
  EXPECT_THAT(Err(R"({"model_type": "llama", "hidden_size": 64,
    "intermediate_size": 128, "num_hidden_layers": 2, "num_attention_heads": 4,
    "vocab_size": 256, "rope_scaling": {"type": "linear", "factor": -1}})"),
              HasSubstr("test/config.json: rope_scaling: field \"factor\""));
}

TEST(ModelConfig, ParsesLinearRopeScaling) {
  auto c = Parse(R"({"model_type": "llama", "hidden_size": 64,
    "intermediate_size": 128, "num_hidden_layers": 2, "num_attention_heads": 4,
    "vocab_size": 100, "rope_scaling": {"type": "linear", "factor": 4.0}})");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->rope_scaling.type, "linear");
  EXPECT_DOUBLE_EQ(c->rope_scaling.factor, 4.0);
  EXPECT_EQ(c->num_kv_heads, 4);  // defaults to num_attention_heads
}

TEST(ModelConfig, ParsesMistralWithExplicitHeadDim) {
  auto c = Parse(R"({"architectures": ["MistralForCausalLM"],
    "model_type": "mistral", "hidden_size": 4096, "intermediate_size": 14336,
    "num_hidden_layers": 32, "num_attention_heads": 32,
    "num_key_value_heads": 8, "vocab_size": 32768, "head_dim": 128,
    "max_position_embeddings": 32768, "rope_theta": 1000000.0,
    "sliding_window": null, "rms_norm_eps": 1e-05})");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->model_type, "mistral");
  EXPECT_EQ(c->head_dim, 128);
  EXPECT_FALSE(c->qkv_bias);
  // Mistral-7B-v0.3: 7,248,023,552 parameters.
  EXPECT_EQ(c->ParameterCount(), 7248023552);
}

TEST(ModelConfig, Qwen2HasQkvBias) {
  auto c = Parse(R"({"architectures": ["Qwen2ForCausalLM"],
    "model_type": "qwen2", "hidden_size": 896, "intermediate_size": 4864,
    "num_hidden_layers": 24, "num_attention_heads": 14,
    "num_key_value_heads": 2, "vocab_size": 151936,
    "max_position_embeddings": 32768, "rope_theta": 1000000.0,
    "tie_word_embeddings": true, "bos_token_id": 151643,
    "eos_token_id": 151645, "rms_norm_eps": 1e-06})");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_TRUE(c->qkv_bias);
  EXPECT_TRUE(c->tie_word_embeddings);
  EXPECT_EQ(c->head_dim, 64);
  // Qwen2-0.5B: 494,032,768 parameters.
  EXPECT_EQ(c->ParameterCount(), 494032768);
}

TEST(ModelConfig, Baichuan2SetsFusedQkvAndNormHead) {
  // Baichuan2-7B's config.json: model_type "baichuan", no GQA fields.
  constexpr char kBaichuan2[] = R"({
    "architectures": ["BaichuanForCausalLM"], "auto_map": {},
    "bos_token_id": 1, "eos_token_id": 2, "hidden_act": "silu",
    "hidden_size": 4096, "initializer_range": 0.02,
    "intermediate_size": 11008, "max_position_embeddings": 4096,
    "model_max_length": 4096, "model_type": "baichuan",
    "num_attention_heads": 32, "num_hidden_layers": 32, "pad_token_id": 0,
    "rms_norm_eps": 1e-06, "tie_word_embeddings": false,
    "torch_dtype": "bfloat16", "vocab_size": 125696})";
  auto c = Parse(kBaichuan2);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_TRUE(c->fused_qkv);
  EXPECT_TRUE(c->norm_head);
  EXPECT_EQ(c->pad_token_id, 0);
  // Baichuan-1 7B: fused W_pack, plain head.
  auto b1 = Parse(R"({"architectures": ["BaiChuanForCausalLM"],
    "model_type": "baichuan", "hidden_size": 4096, "intermediate_size": 11008,
    "num_hidden_layers": 32, "num_attention_heads": 32, "vocab_size": 64000})");
  ASSERT_TRUE(b1.ok());
  EXPECT_TRUE(b1->fused_qkv);
  EXPECT_FALSE(b1->norm_head);
  // 13B models use ALiBi.
  EXPECT_THAT(Err(R"({"model_type": "baichuan", "hidden_size": 5120,
    "intermediate_size": 13696, "num_hidden_layers": 40,
    "num_attention_heads": 40, "vocab_size": 125696})"),
              HasSubstr("ALiBi"));
}

TEST(ModelConfig, UnknownModelTypeListsSupported) {
  std::string e = Err(R"({"model_type": "gpt2", "hidden_size": 8})");
  EXPECT_THAT(e, HasSubstr("test/config.json"));
  EXPECT_THAT(e, HasSubstr("gpt2"));
  EXPECT_THAT(e, HasSubstr("llama, mistral, qwen2, baichuan"));
}

TEST(ModelConfig, ErrorsNameFileAndField) {
  const std::string base =
      R"("model_type": "llama", "intermediate_size": 8, "num_hidden_layers": 1,
         "num_attention_heads": 2, "vocab_size": 10)";
  EXPECT_THAT(Err("{" + base + "}"), HasSubstr("\"hidden_size\": required"));
  EXPECT_THAT(Err("{" + base + R"(, "hidden_size": "big"})"),
              HasSubstr("\"hidden_size\": expected an integer"));
  EXPECT_THAT(Err("{" + base + R"(, "hidden_size": 7})"),
              HasSubstr("does not divide hidden_size"));
  EXPECT_THAT(
      Err("{" + base + R"(, "hidden_size": 8, "num_key_value_heads": 3})"),
      HasSubstr("num_key_value_heads"));
  EXPECT_THAT(Err("{" + base + R"(, "hidden_size": 8, "hidden_act": "gelu"})"),
              HasSubstr("hidden_act"));
  EXPECT_THAT(
      Err("{" + base +
          R"(, "hidden_size": 8, "rope_scaling": {"type": "yarn", "factor": 2}})"),
      HasSubstr("yarn"));
  EXPECT_THAT(Err("{" + base + R"(, "hidden_size": 8, "rope_theta": "x"})"),
              HasSubstr("\"rope_theta\""));
  EXPECT_THAT(Err("{not json"), HasSubstr("test/config.json: not valid JSON"));
  EXPECT_THAT(Err("[]"), HasSubstr("expected a JSON object"));
  EXPECT_THAT(Err("{}"), HasSubstr("\"model_type\""));
  auto missing = ModelConfig::FromJsonFile("/nonexistent/config.json");
  EXPECT_THAT(std::string(missing.status().message()),
              HasSubstr("/nonexistent/config.json"));
}

TEST(ModelConfig, ReadsStories260K) {
  QG_REQUIRE_SHARED(path, "models/stories260K/config.json");
  auto c = ModelConfig::FromJsonFile(path);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->hidden_size, 64);
  EXPECT_EQ(c->intermediate_size, 172);
  EXPECT_EQ(c->num_layers, 5);
  EXPECT_EQ(c->num_heads, 8);
  EXPECT_EQ(c->num_kv_heads, 4);
  EXPECT_EQ(c->head_dim, 8);
  EXPECT_EQ(c->vocab_size, 512);
  EXPECT_EQ(c->max_position_embeddings, 512);
  EXPECT_TRUE(c->tie_word_embeddings);
  EXPECT_EQ(c->bos_token_id, 1);
  EXPECT_EQ(c->eos_token_id, 2);
  EXPECT_FALSE(c->raw_json.empty());
}

}  // namespace
}  // namespace qgrid::model
