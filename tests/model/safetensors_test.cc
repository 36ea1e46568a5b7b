#include "model/safetensors.h"

#include <ATen/ATen.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "tests/test_util.h"

namespace qgrid::model {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

// Writes a raw safetensors file: 8-byte length, `header`, `data`.
std::string WriteRaw(const std::string& dir, const std::string& name,
                     const std::string& header, const std::string& data,
                     int64_t claimed_len = -1) {
  std::string path = dir + "/" + name;
  std::ofstream out(path, std::ios::binary);
  uint64_t n = claimed_len >= 0 ? claimed_len : header.size();
  for (int i = 0; i < 8; ++i) out.put(static_cast<char>(n >> (8 * i)));
  out << header << data;
  return path;
}

class SafetensorsTest : public ::testing::Test {
 protected:
  void SetUp() override { dir_ = testing::MakeTempDir("st"); }
  void TearDown() override { fs::remove_all(dir_); }
  std::string dir_;
};

std::string Message(const absl::Status& s) { return std::string(s.message()); }

TEST_F(SafetensorsTest, RoundTripsEveryDtype) {
  std::vector<std::pair<std::string, at::Tensor>> tensors;
  for (at::ScalarType t :
       {at::kDouble, at::kFloat, at::kHalf, at::kBFloat16, at::kLong, at::kInt,
        at::kShort, at::kChar, at::kByte, at::kBool}) {
    at::Tensor x = at::randn({3, 5}, at::kDouble).mul(20);
    if (t == at::kBool) x = x.gt(0);
    tensors.emplace_back(std::string("t_") + c10::toString(t), x.to(t));
  }
  // Non-contiguous and empty tensors are written too.
  tensors.emplace_back("transposed", at::randn({4, 6}).t());
  tensors.emplace_back("empty", at::zeros({0, 3}));
  std::string path = dir_ + "/model.safetensors";
  ASSERT_TRUE(WriteSafetensors(path, tensors, {{"format", "pt"}}).ok());

  auto f = SafetensorsFile::Open(path);
  ASSERT_TRUE(f.ok()) << f.status();
  EXPECT_EQ((*f)->metadata().at("format"), "pt");
  EXPECT_EQ((*f)->names().size(), tensors.size());
  // The reference writer pads the header so the data is 8-byte aligned.
  std::ifstream in(path, std::ios::binary);
  uint64_t n = 0;
  in.read(reinterpret_cast<char*>(&n), 8);
  EXPECT_EQ(n % 8, 0u);

  auto ckpt = Checkpoint::Open(dir_);
  ASSERT_TRUE(ckpt.ok()) << ckpt.status();
  for (const auto& [name, want] : tensors) {
    auto got = (*ckpt)->Load(name);
    ASSERT_TRUE(got.ok()) << got.status();
    EXPECT_EQ(got->scalar_type(), want.scalar_type()) << name;
    EXPECT_TRUE(at::equal(*got, want)) << name;
  }
}

TEST_F(SafetensorsTest, LoadConvertsDtypes) {
  at::Tensor x = at::randn({7, 9});
  std::string path = dir_ + "/model.safetensors";
  ASSERT_TRUE(
      WriteSafetensors(
          path, {{"h", x.to(at::kHalf)}, {"b", x.to(at::kBFloat16)}, {"f", x}})
          .ok());
  auto ckpt = Checkpoint::Open(path);  // a file path works too
  ASSERT_TRUE(ckpt.ok()) << ckpt.status();
  auto h = (*ckpt)->Load("h", at::kFloat);
  auto b = (*ckpt)->Load("b", at::kFloat);
  auto f16 = (*ckpt)->Load("f", at::kHalf);
  ASSERT_TRUE(h.ok() && b.ok() && f16.ok());
  EXPECT_EQ(h->scalar_type(), at::kFloat);
  EXPECT_TRUE(at::equal(*h, x.to(at::kHalf).to(at::kFloat)));
  EXPECT_TRUE(at::equal(*b, x.to(at::kBFloat16).to(at::kFloat)));
  EXPECT_TRUE(at::equal(*f16, x.to(at::kHalf)));
  EXPECT_EQ((*ckpt)->Find("f")->dtype, DType::kF32);
  auto missing = (*ckpt)->Load("nope");
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(Message(missing.status()), HasSubstr("nope"));
}

TEST_F(SafetensorsTest, LoadedTensorOwnsItsMemory) {
  std::string path = dir_ + "/model.safetensors";
  at::Tensor x = at::arange(100, at::kFloat);
  ASSERT_TRUE(WriteSafetensors(path, {{"x", x}}).ok());
  at::Tensor got;
  {
    auto ckpt = Checkpoint::Open(dir_);
    ASSERT_TRUE(ckpt.ok());
    got = *(*ckpt)->Load("x");
  }  // unmapped here
  EXPECT_TRUE(at::equal(got, x));
}

TEST_F(SafetensorsTest, ReadsShardedCheckpoints) {
  at::Tensor a = at::randn({2, 3}), b = at::randn({4}), c = at::randn({1});
  ASSERT_TRUE(WriteSafetensors(dir_ + "/model-00001-of-00002.safetensors",
                               {{"a", a}, {"b", b}})
                  .ok());
  ASSERT_TRUE(
      WriteSafetensors(dir_ + "/model-00002-of-00002.safetensors", {{"c", c}})
          .ok());
  std::ofstream(dir_ + "/model.safetensors.index.json")
      << R"({"metadata": {"total_size": 40}, "weight_map": {
             "a": "model-00001-of-00002.safetensors",
             "b": "model-00001-of-00002.safetensors",
             "c": "model-00002-of-00002.safetensors"}})";
  auto ckpt = Checkpoint::Open(dir_);
  ASSERT_TRUE(ckpt.ok()) << ckpt.status();
  EXPECT_THAT((*ckpt)->TensorNames(), ::testing::ElementsAre("a", "b", "c"));
  EXPECT_TRUE(at::equal(*(*ckpt)->Load("a"), a));
  EXPECT_TRUE(at::equal(*(*ckpt)->Load("c"), c));
  EXPECT_GT((*ckpt)->total_bytes(), 0u);
}

TEST_F(SafetensorsTest, RejectsIndexPointingAtWrongShard) {
  ASSERT_TRUE(
      WriteSafetensors(dir_ + "/s1.safetensors", {{"a", at::ones({2})}}).ok());
  std::ofstream(dir_ + "/model.safetensors.index.json")
      << R"({"weight_map": {"a": "s1.safetensors", "zz": "s1.safetensors"}})";
  auto ckpt = Checkpoint::Open(dir_);
  ASSERT_FALSE(ckpt.ok());
  EXPECT_THAT(Message(ckpt.status()), HasSubstr("zz"));
  EXPECT_THAT(Message(ckpt.status()), HasSubstr("s1.safetensors"));
}

TEST_F(SafetensorsTest, RejectsShardPathsOutsideTheDirectory) {
  std::ofstream(dir_ + "/model.safetensors.index.json")
      << R"({"weight_map": {"a": "../../etc/passwd"}})";
  auto ckpt = Checkpoint::Open(dir_);
  ASSERT_FALSE(ckpt.ok());
  EXPECT_THAT(Message(ckpt.status()), HasSubstr("invalid shard"));
}

TEST_F(SafetensorsTest, RejectsTensorStoredInTwoShards) {
  ASSERT_TRUE(
      WriteSafetensors(dir_ + "/s1.safetensors", {{"a", at::ones({2})}}).ok());
  ASSERT_TRUE(
      WriteSafetensors(dir_ + "/s2.safetensors", {{"a", at::ones({2})}}).ok());
  std::ofstream(dir_ + "/model.safetensors.index.json")
      << R"({"weight_map": {"a": "s1.safetensors", "b": "s2.safetensors"}})";
  auto ckpt = Checkpoint::Open(dir_);
  ASSERT_FALSE(ckpt.ok());
}

TEST_F(SafetensorsTest, MissingCheckpointIsNotFound) {
  auto ckpt = Checkpoint::Open(dir_);
  ASSERT_FALSE(ckpt.ok());
  EXPECT_EQ(ckpt.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(Message(ckpt.status()), HasSubstr("model.safetensors"));
}

// --- corruption: each case must be rejected with the file (and, where
// there is one, the tensor) named.

struct Corruption {
  const char* what;
  std::string header;
  std::string data;
  int64_t claimed_len;
  const char* expect;  // substring of the error
};

TEST_F(SafetensorsTest, RejectsEveryKindOfCorruption) {
  const std::string ok_entry =
      R"("w": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]})";
  const std::string eight(8, '\0');
  std::vector<Corruption> cases = {
      {"header length beyond file", "{" + ok_entry + "}", eight, 1 << 20,
       "beyond the file"},
      {"non-JSON header", "{not json at all", eight, -1, "not a JSON object"},
      {"JSON but not an object", "[1, 2, 3]", eight, -1, "not a JSON object"},
      {"duplicate names",
       "{" + ok_entry +
           R"(, "w": {"dtype": "F32", "shape": [2], "data_offsets": [8, 16]}})",
       std::string(16, '\0'), -1, "\"w\" appears twice"},
      {"offsets beyond the buffer",
       R"({"w": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]}})",
       eight, -1, "out of range"},
      {"begin after end",
       R"({"w": {"dtype": "F32", "shape": [0], "data_offsets": [8, 0]}})",
       eight, -1, "begin <= end"},
      {"overlapping tensors",
       R"({"w": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},
           "v": {"dtype": "F32", "shape": [1], "data_offsets": [4, 8]}})",
       eight, -1, "overlap"},
      {"dtype x shape != byte range",
       R"({"w": {"dtype": "F32", "shape": [3], "data_offsets": [0, 8]}})",
       eight, -1, "needs 12 bytes"},
      {"unknown dtype",
       R"({"w": {"dtype": "F8_E9M0", "shape": [8], "data_offsets": [0, 8]}})",
       eight, -1, "unknown dtype"},
      {"negative shape",
       R"({"w": {"dtype": "U8", "shape": [-8], "data_offsets": [0, 8]}})",
       eight, -1, "negative"},
      {"huge shape",
       R"({"w": {"dtype": "F32", "shape": [4294967296, 4294967296, 8], "data_offsets": [0, 8]}})",
       eight, -1, "too large"},
      {"missing offsets", R"({"w": {"dtype": "F32", "shape": [2]}})", eight, -1,
       "data_offsets"},
      {"metadata not strings", R"({"__metadata__": {"a": 1}})", "", -1,
       "__metadata__"},
  };
  for (const auto& c : cases) {
    std::string path =
        WriteRaw(dir_, "bad.safetensors", c.header, c.data, c.claimed_len);
    auto f = SafetensorsFile::Open(path);
    ASSERT_FALSE(f.ok()) << c.what;
    EXPECT_THAT(Message(f.status()), HasSubstr(path)) << c.what;
    EXPECT_THAT(Message(f.status()), HasSubstr(c.expect)) << c.what;
    const std::string what = c.what;
    if (what != "header length beyond file" && what != "non-JSON header" &&
        what != "JSON but not an object" && what != "metadata not strings") {
      EXPECT_THAT(Message(f.status()),
                  ::testing::ContainsRegex("tensor \"[wv]\""))
          << c.what;
    }
  }
}

TEST_F(SafetensorsTest, RejectsTruncatedFiles) {
  std::string path = dir_ + "/model.safetensors";
  ASSERT_TRUE(WriteSafetensors(path, {{"weight", at::randn({16, 16})}}).ok());
  const auto size = fs::file_size(path);
  // Cut inside the length, inside the header, and inside the data.
  for (uintmax_t cut : {uintmax_t{3}, uintmax_t{20}, size - 100}) {
    fs::resize_file(path, cut);
    auto f = SafetensorsFile::Open(path);
    ASSERT_FALSE(f.ok()) << "cut at " << cut;
    EXPECT_THAT(Message(f.status()), HasSubstr(path));
    if (cut == size - 100) {
      EXPECT_THAT(Message(f.status()), HasSubstr("\"weight\""));
      EXPECT_THAT(Message(f.status()), HasSubstr("out of range"));
    }
    ASSERT_TRUE(WriteSafetensors(path, {{"weight", at::randn({16, 16})}}).ok());
  }
}

TEST_F(SafetensorsTest, WriteRejectsDuplicateNamesAndLeavesNoFile) {
  std::string path = dir_ + "/dup.safetensors";
  auto s = WriteSafetensors(path, {{"a", at::ones({1})}, {"a", at::ones({1})}});
  EXPECT_FALSE(s.ok());
  EXPECT_FALSE(fs::exists(path));
}

TEST(DType, NamesRoundTrip) {
  for (const char* n :
       {"F64", "F32", "F16", "BF16", "I64", "I32", "I16", "I8", "U8", "BOOL"}) {
    auto d = ParseDType(n);
    ASSERT_TRUE(d.ok()) << n;
    EXPECT_STREQ(DTypeName(*d), n);
    EXPECT_EQ(*DTypeFromScalarType(ToScalarType(*d)), *d);
  }
  EXPECT_EQ(DTypeSize(DType::kBF16), 2u);
  EXPECT_FALSE(ParseDType("F8").ok());
}

}  // namespace
}  // namespace qgrid::model
