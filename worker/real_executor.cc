#include "worker/real_executor.h"

#include <ATen/ATen.h>

#include <chrono>
#include <set>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "eval/calibration.h"
#include "eval/evaluate.h"
#include "eval/task_config.h"
#include "glog/logging.h"
#include "model/causal_lm.h"
#include "model/torch_util.h"
#include "nlohmann/json.hpp"
#include "quant/export.h"
#include "quant/quant_config.h"
#include "quant/quantize.h"
#include "worker/disk_cache.h"
#include "worker/lru_cache.h"
#include "worker/oom_retry.h"
#include "worker/quantize_cell.h"
#include "worker/roots.h"

namespace qgrid::worker {
namespace {

using json = nlohmann::json;

struct QuantizedModel {
  std::unique_ptr<model::CausalLM> lm;
  std::string report_json = "{}";
};

// The quant report a job carries: the quantization's report plus where this
// job's model came from (memory LRU, disk cache or a fresh quantization).
std::string ReportFor(const QuantizedModel& q, const std::string& source) {
  json j = json::parse(q.report_json, nullptr, false);
  if (!j.is_object()) j = json::object();
  j["cache"] = {{"source", source}};
  return j.dump();
}

class RealExecutor : public JobExecutor {
 public:
  RealExecutor(RealExecutorOptions o, std::unique_ptr<DiskCache> disk)
      : opts_(std::move(o)),
        cache_(opts_.cache_capacity),
        disk_(std::move(disk)) {}

  // Memory first (cheapest), then a bounded number of disk entries: both
  // spare a quantization, which is what affinity is for.
  std::vector<std::string> HeldQuantKeys() override {
    std::vector<std::string> keys = cache_.Keys();
    if (!disk_) return keys;
    std::set<std::string> seen(keys.begin(), keys.end());
    for (const std::string& k : disk_->Keys()) {
      if (keys.size() >= kMaxAdvertisedKeys) break;
      if (seen.insert(k).second) keys.push_back(k);
    }
    return keys;
  }

  absl::StatusOr<JobOutcome> Run(const qgrid::v1::Job& job,
                                 JobControl* ctl) override {
    absl::StatusOr<JobOutcome> out = absl::InternalError("not run");
    absl::Status s = model::CatchTorch([&]() -> absl::Status {
      out = RunInner(job, ctl);
      return absl::OkStatus();
    });
    if (!s.ok()) return s;
    return out;
  }

 private:
  absl::StatusOr<std::string> DataPath(const std::string& p,
                                       const std::string& what) {
    return ResolveUnderRoots(p, opts_.data_dirs, what);
  }

  // A task by built-in name, or a YAML file under the data roots.
  absl::StatusOr<eval::TaskConfig> Task(const std::string& name,
                                        const std::string& what) {
    if (eval::IsTaskFileName(name)) {
      QG_ASSIGN_OR_RETURN(std::string p, DataPath(name, what));
      return eval::ResolveTask(p);
    }
    // An unknown built-in name is the spec's fault (the client checks names
    // before submitting; an older client may not): no worker can run it.
    auto t = eval::ResolveTask(name);
    if (!t.ok()) {
      return Permanent(absl::Status(
          t.status().code(), absl::StrCat(what, ": ", t.status().message())));
    }
    return t;
  }

  // A job's calibration entry (coordinator/sweep_spec.cc: path | task |
  // dataset, samples, seq_len, seed, split, packing) as a calibration spec,
  // its files resolved under the data roots. The seed is the entry's, else
  // the job's.
  absl::StatusOr<eval::CalibrationSpec> CalibrationSpecOf(const json& cal,
                                                          int64_t job_seed) {
    eval::CalibrationSpec spec;
    eval::CalibrationOptions& co = spec.opts;
    co.n = cal.value("samples", int64_t{128});
    co.seqlen = cal.value("seq_len", int64_t{512});
    co.seed = cal.value("seed", static_cast<uint64_t>(job_seed));
    co.split = cal.value("split", "");
    co.mode = cal.value("packing", false)
                  ? eval::CalibrationOptions::Mode::kPacked
                  : eval::CalibrationOptions::Mode::kPerExample;
    if (!opts_.data_dirs.empty()) co.data_dir = opts_.data_dirs[0];
    if (cal.contains("path")) {
      QG_ASSIGN_OR_RETURN(
          spec.text_file,
          DataPath(cal["path"].get<std::string>(), "calibration path"));
      return spec;
    }
    std::string task = cal.value("task", cal.value("dataset", ""));
    // Checked here for the permanent-failure verdict on unknown names.
    QG_RETURN_IF_ERROR(Task(task, "calibration task").status());
    const bool file = eval::IsTaskFileName(task);
    if (file) {
      QG_ASSIGN_OR_RETURN(spec.task, DataPath(task, "calibration task"));
    } else {
      spec.task = task;
    }
    return spec;
  }

  // The job's quantized model and where it came from ("memory", "disk" or
  // "quantized").
  absl::StatusOr<std::shared_ptr<QuantizedModel>> Quantized(
      const qgrid::v1::Job& job, JobControl* ctl, std::string* source) {
    *source = "memory";
    if (auto hit = cache_.Get(job.quant_key())) return hit;
    json method = json::parse(job.method_json(), nullptr, false);
    json cal = json::parse(job.calibration_json(), nullptr, false);
    if (!method.is_object()) {
      return absl::InvalidArgumentError("job has no method config");
    }
    QG_ASSIGN_OR_RETURN(
        quant::QuantConfig cfg,
        MethodConfigOfJob(job.method_json(),
                          absl::StrCat("job ", job.id(), " method")));
    QG_ASSIGN_OR_RETURN(
        std::string dir,
        ResolveUnderRoots(job.model().path(), opts_.model_roots, "model path"));
    ctl->SetProgress("load", 0);
    model::LoadOptions lo;
    lo.device = opts_.device;
    // The spec's models[].dtype ("" = float32, the CPU default).
    const std::string& dt = job.model().dtype();
    QG_ASSIGN_OR_RETURN(lo.dtype, model::ParseDtype(dt.empty() ? "float32" : dt,
                                                    "models[].dtype"));
    if (auto q = FromDisk(job.quant_key(), lo)) {
      *source = "disk";
      cache_.Put(job.quant_key(), q);
      return q;
    }
    *source = "quantized";
    CellRequest req;
    req.model_dir = dir;
    req.load = lo;
    req.config = cfg;
    if (cfg.NeedsCalibration() && cal.is_object()) {
      QG_ASSIGN_OR_RETURN(req.calibration, CalibrationSpecOf(cal, job.seed()));
    }
    req.quantize.show_progress = false;
    req.quantize.on_block = [ctl](int i, int n, double) {
      ctl->SetProgress("quantize", 100.0 * (i + 1) / std::max(1, n));
    };
    req.on_stage = [ctl](const std::string& stage) {
      ctl->SetProgress(stage, 0);
    };
    req.cancelled = [ctl] { return ctl->Cancelled(); };
    QG_ASSIGN_OR_RETURN(QuantizedCell cell, QuantizeCell(req));
    json report = json::parse(cell.report.ToJson(0), nullptr, false);
    if (!report.is_object()) report = json::object();
    report["weights_sha256"] = cell.weights_sha256;
    if (!cell.calibration.is_null()) report["calibration"] = cell.calibration;
    auto q = std::make_shared<QuantizedModel>();
    q->lm = std::move(cell.lm);
    q->report_json = report.dump();
    cache_.Put(job.quant_key(), q);
    ToDisk(job.quant_key(), *q, cfg);
    return q;
  }

  // The quantized model from the disk cache, or nullptr (no cache, no entry,
  // or an entry that fails to load: that one is deleted).
  std::shared_ptr<QuantizedModel> FromDisk(const std::string& key,
                                           const model::LoadOptions& lo) {
    if (!disk_) return nullptr;
    auto entry = disk_->Lookup(key);
    if (!entry.ok()) return nullptr;  // a corrupt entry was logged
    auto t0 = std::chrono::steady_clock::now();
    auto lm = quant::LoadModel(entry->dir, lo);
    if (!lm.ok()) {
      LOG(WARNING) << "disk cache: " << entry->dir
                   << " does not load (deleting it, quantizing again): "
                   << lm.status();
      disk_->Remove(key);
      return nullptr;
    }
    LOG(INFO) << "disk cache: loaded quant key " << key << " from "
              << entry->dir << " in "
              << std::chrono::duration<double>(
                     std::chrono::steady_clock::now() - t0)
                     .count()
              << " s (no quantization)";
    auto q = std::make_shared<QuantizedModel>();
    q->lm = std::move(*lm);
    q->report_json = entry->report_json;
    return q;
  }

  // Stores a fresh quantization on disk. The fake-quant export holds the
  // dequantized weights (plus activation/KV settings), so loading it gives
  // the same model for every method. A failure only costs reuse: logged.
  void ToDisk(const std::string& key, QuantizedModel& q,
              const quant::QuantConfig& cfg) {
    if (!disk_) return;
    absl::Status s = disk_->Store(
        key, q.report_json, [&](const std::string& dir) -> absl::Status {
          return quant::ExportModel(*q.lm, cfg, dir,
                                    quant::ExportFormat::kFake);
        });
    if (!s.ok()) {
      LOG(WARNING) << "disk cache: cannot store quant key " << key << ": " << s;
    } else {
      LOG(INFO) << "disk cache: stored quant key " << key << " in "
                << disk_->dir();
    }
  }

  absl::StatusOr<JobOutcome> RunInner(const qgrid::v1::Job& job,
                                      JobControl* ctl) {
    if (job.kind() != "eval") {
      return absl::UnimplementedError("not an eval job: " + job.kind());
    }
    json test = json::parse(job.test_json(), nullptr, false);
    if (!test.is_object() || !test.contains("task")) {
      return absl::InvalidArgumentError("job has no test task");
    }
    // Resolve the task first: a bad task name fails before any quantization.
    QG_ASSIGN_OR_RETURN(eval::TaskConfig task,
                        Task(test["task"].get<std::string>(), "test task"));
    if (test.contains("path")) {
      // A test that names its data file: it replaces the task's test split.
      QG_ASSIGN_OR_RETURN(
          std::string p,
          DataPath(test["path"].get<std::string>(), "test data path"));
      task.data_files[task.test_split] = {p};
    }
    if (test.contains("split")) task.test_split = test["split"];
    if (test.contains("seq_len")) task.seqlen = test["seq_len"];
    std::string source;
    QG_ASSIGN_OR_RETURN(std::shared_ptr<QuantizedModel> q,
                        Quantized(job, ctl, &source));
    if (ctl->Cancelled()) return absl::CancelledError("cancelled");
    ctl->SetProgress("eval", 0);
    eval::EvalOptions eo;
    eo.shots = job.shots();
    eo.limit = test.value("limit", int64_t{0});
    eo.batch_size = test.value("batch_size", opts_.batch_size);
    eo.seed = static_cast<uint64_t>(job.seed());
    // Per-item scores ride in eval_json for the tables' statistics
    // (coordinator/stats.h).
    eo.item_scores = true;
    if (!opts_.data_dirs.empty()) eo.data_dir = opts_.data_dirs[0];
    // Out of device memory: once more at half the batch (worker/oom_retry.h).
    QG_ASSIGN_OR_RETURN(
        json result,
        RunWithOomRetry<json>(
            "eval", eo.batch_size, [&](int batch) -> absl::StatusOr<json> {
              eval::EvalOptions o = eo;
              o.batch_size = batch;
              absl::StatusOr<json> r = absl::InternalError("not run");
              absl::Status s = model::CatchTorch([&]() -> absl::Status {
                r = eval::Evaluate(*q->lm, task, o);
                return absl::OkStatus();
              });
              if (!s.ok()) return s;
              return r;
            }));
    JobOutcome out;
    // Flatten lm-eval style "acc,none" keys into metric names.
    if (result.contains("results")) {
      for (auto& [tname, metrics] : result["results"].items()) {
        for (auto& [k, v] : metrics.items()) {
          // Metrics are "name,filter" (sample_len is a count, not one).
          if (!v.is_number() || k.find(',') == std::string::npos) continue;
          std::string name = k.substr(0, k.find(','));
          if (name.find("_stderr") != std::string::npos) continue;
          out.metrics[name] = v.get<double>();
        }
      }
    }
    if (out.metrics.count("perplexity") && !out.metrics.count("ppl")) {
      out.metrics["ppl"] = out.metrics["perplexity"];
    }
    out.quant_report_json = ReportFor(*q, source);
    out.efficiency_json =
        result.contains("efficiency") ? result["efficiency"].dump() : "{}";
    out.eval_json = result.dump();
    return out;
  }

  static constexpr size_t kMaxAdvertisedKeys = 64;
  RealExecutorOptions opts_;
  LruCache<QuantizedModel> cache_;
  std::unique_ptr<DiskCache> disk_;  // null without --cache-dir
};

}  // namespace

absl::StatusOr<std::unique_ptr<JobExecutor>> MakeRealExecutor(
    const RealExecutorOptions& o) {
  QG_RETURN_IF_ERROR(model::CheckDevice(o.device, "device"));
  std::unique_ptr<DiskCache> disk;
  if (!o.cache_dir.empty()) {
    QG_ASSIGN_OR_RETURN(disk,
                        DiskCache::Open({o.cache_dir, o.cache_max_bytes}));
  }
  return std::unique_ptr<JobExecutor>(
      std::make_unique<RealExecutor>(o, std::move(disk)));
}

absl::StatusOr<std::unique_ptr<JobExecutor>> MakeWorkerExecutor(
    const RealExecutorOptions& o) {
  QG_ASSIGN_OR_RETURN(std::unique_ptr<JobExecutor> real, MakeRealExecutor(o));
  return std::unique_ptr<JobExecutor>(std::make_unique<KindRouter>(
      MakeSyntheticExecutor(o.cache_capacity), std::move(real)));
}

}  // namespace qgrid::worker
