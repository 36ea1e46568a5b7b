#include "quant/quant_config.h"

#include <gtest/gtest.h>

#include <fstream>

#include "tests/test_util.h"

namespace qgrid::quant {
namespace {

// The shape of ../shared/models/stories260K: hidden 64, intermediate 172.
model::ModelConfig Stories() {
  model::ModelConfig m;
  m.model_type = "llama";
  m.hidden_size = 64;
  m.intermediate_size = 172;
  m.num_layers = 5;
  m.num_heads = 8;
  m.num_kv_heads = 4;
  m.head_dim = 8;
  m.vocab_size = 512;
  return m;
}

TEST(QuantConfig, ParsesJsonAndAppliesMethodDefaults) {
  auto c = ParseQuantConfig(
      R"({"method":"gptq","bits":3,"group_size":32,"sym":true,
          "act_order":true,"kv_bits":4})",
      "test");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->method, "gptq");
  EXPECT_EQ(c->w_bits, 3);
  EXPECT_EQ(c->group_size, 32);
  EXPECT_TRUE(c->sym);
  EXPECT_TRUE(c->act_order);
  EXPECT_EQ(c->kv_bits, 4);
  auto sq = ParseQuantConfig(R"({"method":"smoothquant"})", "t");
  ASSERT_TRUE(sq.ok());
  EXPECT_EQ(sq->w_bits, 8);
  EXPECT_EQ(sq->a_bits, 8);
}

TEST(QuantConfig, ParsesYamlWithLayerRules) {
  auto c = ParseQuantConfig(
      "method: rtn\nbits: 3\ngroup_size: 16\nlayer_rules:\n"
      "  - match: 'layers\\.(0|4)\\.mlp\\.down_proj'\n    bits: 8\n"
      "  - match: 'self_attn\\.k_proj'\n    skip: true\n",
      "rules.yaml");
  ASSERT_TRUE(c.ok()) << c.status();
  ASSERT_EQ(c->layer_rules.size(), 2u);
  EXPECT_EQ(c->Resolve("model.layers.0.mlp.down_proj").w_bits, 8);
  EXPECT_EQ(c->Resolve("model.layers.2.mlp.down_proj").w_bits, 3);
  EXPECT_TRUE(c->Resolve("model.layers.2.self_attn.k_proj").skip);
  EXPECT_FALSE(c->Resolve("model.layers.2.self_attn.q_proj").skip);
}

TEST(QuantConfig, LmHeadSkippedUnlessARuleQuantizesIt) {
  QuantConfig c;
  EXPECT_TRUE(c.Resolve("lm_head").skip);
  c.layer_rules.push_back({"^lm_head$", false, std::nullopt, 8});
  EXPECT_FALSE(c.Resolve("lm_head").skip);
  EXPECT_EQ(c.Resolve("lm_head").w_bits, 8);
}

TEST(QuantConfig, RejectsUnknownFieldsAndBadValuesWithTheirName) {
  auto c = ParseQuantConfig(R"({"method":"gptq","bitz":4})", "cfg.json");
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.status().message().find("bitz"), std::string::npos);
  auto d = ParseQuantConfig(R"({"bits":"four"})", "cfg.json");
  ASSERT_FALSE(d.ok());
  EXPECT_NE(d.status().message().find("'bits'"), std::string::npos);
  auto e = ParseQuantConfig(
      R"({"layer_rules":[{"match":"([unclosed","bits":4}]})", "cfg.json");
  ASSERT_FALSE(e.ok());
  EXPECT_NE(e.status().message().find("invalid regex"), std::string::npos);
}

TEST(QuantConfig, ValidateRejectsBitsOutOfRangeAndUnknownMethod) {
  QuantConfig c;
  c.w_bits = 9;
  EXPECT_FALSE(Validate(c).ok());
  c.w_bits = 1;
  EXPECT_FALSE(Validate(c).ok());
  c.w_bits = 4;
  EXPECT_TRUE(Validate(c).ok());
  c.method = "bogus";
  auto s = Validate(c);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("known: fp16"), std::string::npos);
  c.method = "rtn";
  c.a_bits = 3;
  EXPECT_FALSE(Validate(c).ok());
  c.a_bits = 16;
  c.kv_bits = 1;
  EXPECT_FALSE(Validate(c).ok());
}

TEST(QuantConfig, GroupSizeMustDivideEveryQuantizedLayer) {
  model::ModelConfig m = Stories();
  QuantConfig c;
  c.group_size = 16;  // divides 64 but not 172 (down_proj's input)
  absl::Status s = Validate(c, &m);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("mlp.down_proj"), std::string::npos) << s;
  EXPECT_NE(s.message().find("172"), std::string::npos);
  c.layer_rules.push_back(
      {"mlp\\.down_proj", std::nullopt, std::nullopt, std::nullopt, -1});
  EXPECT_TRUE(Validate(c, &m).ok());
  c.layer_rules.clear();
  c.group_size = 4;  // 172 = 4 * 43
  EXPECT_TRUE(Validate(c, &m).ok());
}

TEST(QuantConfig, ExportValidationRejectsThreeBitAwqAndUnpackableDims) {
  model::ModelConfig m = Stories();
  m.intermediate_size = 128;
  QuantConfig c;
  c.method = "awq";
  c.w_bits = 3;
  c.group_size = 32;
  auto s = ValidateExport(c, m, ExportFormat::kAwq);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("4-bit only"), std::string::npos);
  c.w_bits = 4;
  EXPECT_TRUE(ValidateExport(c, m, ExportFormat::kAwq).ok());
  m.intermediate_size = 172;  // 172 * 4 bits is not a whole number of words
  c.method = "gptq";
  c.group_size = 4;
  s = ValidateExport(c, m, ExportFormat::kGptq);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("int32 words"), std::string::npos);
  c.layer_rules.push_back({"mlp\\.", true});
  EXPECT_TRUE(ValidateExport(c, m, ExportFormat::kGptq).ok());
  c.method = "spqr";
  EXPECT_FALSE(ValidateExport(c, m, ExportFormat::kGptq).ok());
  EXPECT_TRUE(ValidateExport(c, m, ExportFormat::kFake).ok());
}

// compressed-tensors pads rows to whole words (172 dims pass), stores
// weight-only forms and W8A8 with dynamic per-token 8-bit activations only.
TEST(QuantConfig, CompressedTensorsExportValidation) {
  model::ModelConfig m = Stories();
  QuantConfig c;
  c.method = "gptq";
  c.w_bits = 4;
  c.group_size = 4;  // 172 = 4 * 43
  EXPECT_TRUE(ValidateExport(c, m, ExportFormat::kCompressedTensors).ok());
  EXPECT_EQ(*ParseExportFormat("compressed-tensors"),
            ExportFormat::kCompressedTensors);
  c.kv_bits = 8;
  EXPECT_FALSE(ValidateExport(c, m, ExportFormat::kCompressedTensors).ok());
  c.kv_bits = 16;
  c.a_bits = 8;  // W4A8: not a compressed-tensors int-quantized form
  auto s = ValidateExport(c, m, ExportFormat::kCompressedTensors);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("8-bit weights"), std::string::npos) << s;
  c.w_bits = 8;
  EXPECT_TRUE(ValidateExport(c, m, ExportFormat::kCompressedTensors).ok());
  c.a_granularity = "per_tensor";
  EXPECT_FALSE(ValidateExport(c, m, ExportFormat::kCompressedTensors).ok());
  c.a_granularity = "per_token";
  c.a_bits = 6;
  EXPECT_FALSE(ValidateExport(c, m, ExportFormat::kCompressedTensors).ok());
  c.a_bits = 16;
  c.group_size = 0;  // per-tensor integer scales
  EXPECT_FALSE(ValidateExport(c, m, ExportFormat::kCompressedTensors).ok());
  c.group_size = 4;
  c.method = "fp8";
  EXPECT_FALSE(ValidateExport(c, m, ExportFormat::kCompressedTensors).ok());
}

TEST(QuantConfig, CanonicalJsonIsIndependentOfInputOrder) {
  auto a = ParseQuantConfig(R"({"method":"gptq","bits":4,"sym":true})", "a");
  auto b = ParseQuantConfig(R"({"sym":true,"bits":4,"method":"gptq"})", "b");
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(a->ToCanonicalJson(), b->ToCanonicalJson());
  auto c = ParseQuantConfig(R"({"sym":true,"bits":3,"method":"gptq"})", "c");
  EXPECT_NE(a->ToCanonicalJson(), c->ToCanonicalJson());
  // Round trip: the canonical form parses back to the same config.
  auto d = ParseQuantConfig(a->ToCanonicalJson(), "canonical");
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_EQ(d->ToCanonicalJson(), a->ToCanonicalJson());
}

TEST(QuantConfig, LoadsLayerRulesFile) {
  std::string dir = testing::MakeTempDir("rules");
  std::string path = dir + "/rules.yaml";
  std::ofstream(path) << "rules:\n  - match: 'down_proj'\n    group_size: -1\n";
  auto r = LoadLayerRules(path);
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(r->size(), 1u);
  EXPECT_EQ(*(*r)[0].group_size, -1);
  EXPECT_FALSE(LoadLayerRules(dir + "/missing.yaml").ok());
}

}  // namespace
}  // namespace qgrid::quant
