// The on-disk cache of quantized models (worker/disk_cache.h) and the real
// executor's use of it: a second executor on the same --cache-dir loads the
// model instead of quantizing, with identical metrics; corrupt entries are
// deleted and re-quantized.
#include "worker/disk_cache.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <thread>

#include "nlohmann/json.hpp"
#include "tests/test_util.h"
#include "worker/real_executor.h"

namespace qgrid::worker {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

// A writer that makes a small model-like folder.
std::function<absl::Status(const std::string&)> Writer(
    const std::string& payload) {
  return [payload](const std::string& dir) {
    std::ofstream(dir + "/config.json") << "{\"hidden_size\": 8}";
    std::ofstream(dir + "/model.safetensors") << payload;
    return absl::OkStatus();
  };
}

std::string Key(char c) { return std::string(64, c); }

TEST(DiskCache, StoredEntryIsFoundByASecondInstance) {
  std::string dir = testing::MakeTempDir("dc");
  auto a = DiskCache::Open({dir, 0});
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_TRUE(absl::IsNotFound((*a)->Lookup(Key('a')).status()));
  ASSERT_TRUE((*a)->Store(Key('a'), "{\"x\":1}", Writer("weights")).ok());
  auto b = DiskCache::Open({dir, 0});
  ASSERT_TRUE(b.ok());
  auto e = (*b)->Lookup(Key('a'));
  ASSERT_TRUE(e.ok()) << e.status();
  EXPECT_EQ(e->report_json, "{\"x\":1}");
  EXPECT_EQ(e->dir, dir + "/" + Key('a'));
  EXPECT_TRUE(fs::exists(e->dir + "/model.safetensors"));
  // Nothing temporary is left behind.
  for (const auto& f : fs::directory_iterator(dir)) {
    EXPECT_EQ(f.path().filename().string(), Key('a'));
  }
  fs::remove_all(dir);
}

TEST(DiskCache, CorruptEntriesAreDeletedAndMissed) {
  std::string dir = testing::MakeTempDir("dc");
  auto c = DiskCache::Open({dir, 0});
  ASSERT_TRUE(c.ok());
  // Truncated weights.
  ASSERT_TRUE((*c)->Store(Key('a'), "{}", Writer("0123456789")).ok());
  fs::resize_file(dir + "/" + Key('a') + "/model.safetensors", 3);
  auto e = (*c)->Lookup(Key('a'));
  EXPECT_TRUE(absl::IsNotFound(e.status()));
  EXPECT_NE(e.status().message().find("model.safetensors has 3 bytes"),
            std::string::npos)
      << e.status();
  EXPECT_FALSE(fs::exists(dir + "/" + Key('a')));
  // An edited config.json (same size).
  ASSERT_TRUE((*c)->Store(Key('b'), "{}", Writer("w")).ok());
  std::ofstream(dir + "/" + Key('b') + "/config.json")
      << "{\"hidden_size\": 9}";
  e = (*c)->Lookup(Key('b'));
  EXPECT_NE(e.status().message().find("config.json does not match"),
            std::string::npos)
      << e.status();
  // No manifest (e.g. a folder someone copied in by hand).
  fs::create_directories(dir + "/" + Key('c'));
  std::ofstream(dir + "/" + Key('c') + "/config.json") << "{}";
  EXPECT_TRUE(absl::IsNotFound((*c)->Lookup(Key('c')).status()));
  EXPECT_FALSE(fs::exists(dir + "/" + Key('c')));
  // A failing writer leaves nothing.
  EXPECT_FALSE((*c)->Store(Key('d'), "{}",
                           [](const std::string&) {
                             return absl::InternalError("disk full");
                           })
                   .ok());
  EXPECT_TRUE((*c)->Keys().empty());
  fs::remove_all(dir);
}

TEST(DiskCache, KeysThatCouldEscapeTheDirectoryAreRefused) {
  std::string dir = testing::MakeTempDir("dc");
  auto c = DiskCache::Open({dir, 0});
  ASSERT_TRUE(c.ok());
  for (const char* k : {"", "..", "../x", "a/b", ".tmp-x"}) {
    EXPECT_FALSE(IsValidCacheKey(k)) << k;
    EXPECT_TRUE(absl::IsInvalidArgument((*c)->Lookup(k).status())) << k;
    EXPECT_FALSE((*c)->Store(k, "{}", Writer("w")).ok()) << k;
  }
  EXPECT_TRUE(IsValidCacheKey(Key('f')));
  fs::remove_all(dir);
}

TEST(DiskCache, EvictsTheLeastRecentlyUsedBeyondTheSizeLimit) {
  std::string dir = testing::MakeTempDir("dc");
  // Each entry: 1000 bytes of weights + config + manifest (~ 1.3 KB).
  auto c = DiskCache::Open({dir, 3000});
  ASSERT_TRUE(c.ok());
  std::string w(1000, 'x');
  ASSERT_TRUE((*c)->Store(Key('a'), "{}", Writer(w)).ok());
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  ASSERT_TRUE((*c)->Store(Key('b'), "{}", Writer(w)).ok());
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  ASSERT_TRUE((*c)->Lookup(Key('a')).ok());  // a is now the most recent
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  ASSERT_TRUE((*c)->Store(Key('c'), "{}", Writer(w)).ok());
  EXPECT_EQ((*c)->Keys(), (std::vector<std::string>{Key('c'), Key('a')}));
  EXPECT_LE((*c)->TotalBytes(), 3000);
  // An entry larger than the limit is still kept (it was just made).
  auto small = DiskCache::Open({dir, 10});
  ASSERT_TRUE((*small)->Store(Key('d'), "{}", Writer(w)).ok());
  EXPECT_EQ((*small)->Keys(), std::vector<std::string>{Key('d')});
  fs::remove_all(dir);
}

TEST(DiskCache, ConcurrentWritersOfOneKeyLeaveOneWholeEntry) {
  std::string dir = testing::MakeTempDir("dc");
  auto c = DiskCache::Open({dir, 0});
  ASSERT_TRUE(c.ok());
  std::vector<std::thread> ts;
  for (int i = 0; i < 4; ++i) {
    ts.emplace_back(
        [&] { EXPECT_TRUE((*c)->Store(Key('a'), "{}", Writer("same")).ok()); });
  }
  for (auto& t : ts) t.join();
  EXPECT_EQ((*c)->Keys(), std::vector<std::string>{Key('a')});
  EXPECT_TRUE((*c)->Lookup(Key('a')).ok());
  EXPECT_EQ(
      std::distance(fs::directory_iterator(dir), fs::directory_iterator()), 1);
  fs::remove_all(dir);
}

// ---------------------------------------------------------------- executor

class NoControl : public JobControl {
 public:
  void SetProgress(const std::string&, double) override {}
  bool Cancelled() const override { return false; }
};

class ExecutorDiskCacheTest : public ::testing::Test {
 protected:
  void SetUp() override {
    model_root_ = testing::SourceDir() + "/assets";
    if (!fs::exists(model_root_ + "/qgrid-tiny/config.json")) {
      GTEST_SKIP() << "needs assets/qgrid-tiny";
    }
    dir_ = testing::MakeTempDir("exec-cache");
    data_ = dir_ + "/data";
    fs::create_directories(data_);
    fs::copy_file(
        testing::SourceDir() + "/tests/data/demo/tiny/scripture/test.txt",
        data_ + "/text.txt");
    std::ofstream(data_ + "/ppl.yaml") << R"(task: cache_ppl
data_files: {test: text.txt}
format: text
output_type: perplexity
perplexity_style: gptq
seqlen: 64
metrics: [perplexity]
)";
  }
  void TearDown() override {
    if (!dir_.empty()) fs::remove_all(dir_);
  }

  std::unique_ptr<JobExecutor> Executor() {
    RealExecutorOptions o;
    o.cache_dir = dir_ + "/cache";
    o.model_roots = {model_root_};
    o.data_dirs = {data_};
    auto e = MakeRealExecutor(o);
    EXPECT_TRUE(e.ok()) << e.status();
    return e.ok() ? std::move(*e) : nullptr;
  }

  qgrid::v1::Job MakeJob(const std::string& method_json,
                         const std::string& calib_json,
                         const std::string& key) {
    qgrid::v1::Job j;
    j.set_id(1);
    j.set_kind("eval");
    j.set_quant_key(key);
    j.mutable_model()->set_name("tiny");
    j.mutable_model()->set_path("qgrid-tiny");
    j.mutable_model()->set_dtype("float32");
    j.set_method_json(method_json);
    j.set_calibration_json(calib_json);
    j.set_test_json(R"({"task": "ppl.yaml"})");
    return j;
  }

  static std::string Source(const JobOutcome& o) {
    json r = json::parse(o.quant_report_json);
    return r["cache"]["source"];
  }

  std::string model_root_, dir_, data_;
};

TEST_F(ExecutorDiskCacheTest, ASecondExecutorLoadsInsteadOfQuantizing) {
  NoControl ctl;
  // GPTQ (calibrated: the exported weights must carry the calibration's
  // effect) and RTN.
  const std::vector<qgrid::v1::Job> jobs = {
      MakeJob(R"({"name": "gptq", "bits": 3, "group_size": 32})",
              R"({"path": "text.txt", "samples": 4, "seq_len": 64})", Key('1')),
      MakeJob(R"({"name": "rtn", "bits": 3, "group_size": 32})", "{}",
              Key('2'))};
  for (const auto& job : jobs) {
    auto first = Executor();
    auto a = first->Run(job, &ctl);
    ASSERT_TRUE(a.ok()) << a.status();
    EXPECT_EQ(Source(*a), "quantized");
    auto again = first->Run(job, &ctl);  // same executor: memory LRU
    ASSERT_TRUE(again.ok());
    EXPECT_EQ(Source(*again), "memory");

    auto second = Executor();  // a fresh worker on the same cache dir
    EXPECT_EQ(second->HeldQuantKeys().size(),
              static_cast<size_t>(&job - &jobs[0] + 1));
    auto b = second->Run(job, &ctl);
    ASSERT_TRUE(b.ok()) << b.status();
    EXPECT_EQ(Source(*b), "disk");
    ASSERT_TRUE(a->metrics.count("ppl"));
    EXPECT_EQ(a->metrics, b->metrics);  // exact: same weights, same program
    // The stored report is the quantization's (its timing included).
    json ra = json::parse(a->quant_report_json);
    json rb = json::parse(b->quant_report_json);
    EXPECT_EQ(ra["total_seconds"], rb["total_seconds"]);
  }
  // The quantized model differs from FP: the cache did not store the source.
  auto fp =
      Executor()->Run(MakeJob(R"({"name": "fp16"})", "{}", Key('3')), &ctl);
  ASSERT_TRUE(fp.ok()) << fp.status();
  auto q3 = Executor()->Run(jobs[1], &ctl);
  ASSERT_TRUE(q3.ok());
  EXPECT_NE(fp->metrics.at("ppl"), q3->metrics.at("ppl"));
}

TEST_F(ExecutorDiskCacheTest, ACorruptEntryIsDeletedAndQuantizedAgain) {
  NoControl ctl;
  auto job = MakeJob(R"({"name": "rtn", "bits": 4, "group_size": 32})", "{}",
                     Key('4'));
  auto a = Executor()->Run(job, &ctl);
  ASSERT_TRUE(a.ok()) << a.status();
  std::string weights = dir_ + "/cache/" + Key('4') + "/model.safetensors";
  ASSERT_TRUE(fs::exists(weights));
  // Truncation (caught by the manifest's sizes).
  fs::resize_file(weights, fs::file_size(weights) / 2);
  auto b = Executor()->Run(job, &ctl);
  ASSERT_TRUE(b.ok()) << b.status();
  EXPECT_EQ(Source(*b), "quantized");
  EXPECT_EQ(a->metrics, b->metrics);
  // Garbage of the right size (passes the manifest, fails to load).
  auto size = fs::file_size(weights);
  {
    std::ofstream out(weights, std::ios::binary | std::ios::trunc);
    out << std::string(size, '\x7f');
  }
  auto c = Executor()->Run(job, &ctl);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(Source(*c), "quantized");
  EXPECT_EQ(a->metrics, c->metrics);
  // And the entry is whole again.
  auto d = Executor()->Run(job, &ctl);
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(Source(*d), "disk");
}

}  // namespace
}  // namespace qgrid::worker
