// `qgrid quantize`: quantize a Hugging Face checkpoint with one method and
// save it (fake-quant safetensors, GPTQ, AWQ or compressed-tensors layout)
// together with a quantization report.
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "absl/strings/str_format.h"
#include "cli/commands.h"
#include "cli/quant_flags.h"
#include "model/causal_lm.h"
#include "model/config.h"
#include "model/torch_util.h"
#include "quant/export.h"
#include "quant/quant_config.h"
#include "quant/quantize.h"
#include "worker/quantize_cell.h"

namespace qgrid::cli {
namespace {

namespace fs = std::filesystem;

struct QuantizeArgs {
  QuantFlags q;      // method flags and --config (cli/quant_flags.h)
  CalibFlags calib;  // --calib (alias --calib-text), --calib-seed (--seed)
  std::string model, out, format = "fake", device = "cpu", dtype = "float32";
  int batch_size = 8;
  bool json = false;
};

// Errors found before any work are bad input (exit 2).
void Fail(const absl::Status& s) { ReportError("quantize", AsBadInput(s)); }
void Fail(const std::string& msg) {
  ReportError("quantize", absl::InvalidArgumentError(msg));
}

// {"input_ids": [[...]], "attention_mask": [[...]]} of the calibration rows.
absl::Status WriteCalibrationIds(const at::Tensor& ids, const at::Tensor& mask,
                                 const std::string& path) {
  auto rows = [](const at::Tensor& t) {
    at::Tensor c = t.to(at::kLong).contiguous();
    nlohmann::json out = nlohmann::json::array();
    const int64_t* p = c.data_ptr<int64_t>();
    for (int64_t r = 0; r < c.size(0); ++r)
      out.push_back(
          std::vector<int64_t>(p + r * c.size(1), p + (r + 1) * c.size(1)));
    return out;
  };
  nlohmann::json j = {{"input_ids", rows(ids)}};
  if (mask.defined()) j["attention_mask"] = rows(mask);
  std::ofstream f(path);
  f << j.dump() << "\n";
  if (!f) return absl::PermissionDeniedError(path + ": write failed");
  return absl::OkStatus();
}

void RunQuantize(const QuantizeArgs& a, CLI::App* cmd) {
  // ---- Build and validate everything before any heavy work.
  auto built = BuildQuantConfig(a.q, *cmd);
  if (!built.ok()) {
    Fail(built.status());
    return;
  }
  const quant::QuantConfig& cfg = *built;
  auto fmt = quant::ParseExportFormat(a.format);
  if (!fmt.ok()) {
    Fail(fmt.status());
    return;
  }
  auto dtype = model::ParseDtype(a.dtype, "--dtype");
  if (!dtype.ok()) {
    Fail(dtype.status());
    return;
  }
  if (auto s = model::CheckDevice(a.device, "--device"); !s.ok()) {
    Fail(s);
    return;
  }
  auto mc = model::ModelConfig::FromJsonFile(
      (fs::path(a.model) / "config.json").string());
  if (!mc.ok()) {
    Fail(mc.status());
    return;
  }
  if (auto s = quant::Validate(cfg, &*mc); !s.ok()) {
    Fail(s);
    return;
  }
  if (auto s = quant::ValidateExport(cfg, *mc, *fmt); !s.ok()) {
    Fail(s);
    return;
  }
  if (cfg.NeedsCalibration() && a.calib.source.empty()) {
    Fail("method " + cfg.method +
         " needs calibration data: pass --calib TEXT_FILE|TASK");
    return;
  }
  if (a.calib.samples < 1 || a.calib.seq_len < 2) {
    Fail("--calib-samples must be >= 1 and --calib-seq-len >= 2");
    return;
  }

  // ---- Work: the one quantize path (worker/quantize_cell.h).
  worker::CellRequest req;
  req.model_dir = a.model;
  req.load.dtype = *dtype;
  // The model stays in CPU memory; --device is where each block is
  // calibrated and quantized, one block at a time.
  req.load.device = "cpu";
  req.config = cfg;
  req.calibration = CalibrationSpecOf(a.calib, "");
  req.quantize.batch_size = a.batch_size;
  req.quantize.show_progress = true;
  req.quantize.device = a.device;
  absl::StatusOr<worker::QuantizedCell> cell = absl::InternalError("not run");
  absl::Status st = model::CatchTorch([&]() -> absl::Status {
    cell = worker::QuantizeCell(req);
    return absl::OkStatus();
  });
  if (st.ok()) st = cell.status();
  if (!st.ok()) {
    ReportError("quantize", st);
    return;
  }
  const quant::QuantReport* rep = &cell->report;
  if (auto s = quant::ExportModel(*cell->lm, cfg, a.out, *fmt); !s.ok()) {
    ReportError("quantize", s);
    return;
  }
  nlohmann::json report_json = nlohmann::json::parse(rep->ToJson(0));
  report_json["weights_sha256"] = cell->weights_sha256;
  if (!cell->calibration.is_null())
    report_json["calibration"] = cell->calibration;
  if (!a.calib.ids_out.empty() && cell->calibration_ids.defined()) {
    if (auto s = WriteCalibrationIds(cell->calibration_ids,
                                     cell->calibration_mask, a.calib.ids_out);
        !s.ok()) {
      ReportError("quantize", s);
      return;
    }
  }
  const std::string report = report_json.dump(2);
  {
    std::ofstream f(fs::path(a.out) / "quant_report.json");
    f << report << "\n";
    if (!f) {
      ReportError("quantize", absl::InternalError(
                                  a.out + "/quant_report.json: write failed"));
      return;
    }
  }
  if (a.json) {
    std::cout << report << "\n";
    return;
  }
  std::cout
      << rep->FormatLayerTable()
      << absl::StrFormat(
             "quantized %s with %s in %.1f s: %.3f bits/param (linear layers), "
             "peak "
             "RSS %.0f MiB\nsaved %s (format %s) and %s/quant_report.json\n",
             a.model, cfg.method, rep->total_seconds, rep->avg_bits_per_param,
             rep->peak_rss_bytes / 1048576.0, a.out, a.format, a.out);
}

}  // namespace

void RegisterQuantCommands(CLI::App& app) {
  auto args = std::make_shared<QuantizeArgs>();
  CLI::App* q = app.add_subcommand(
      "quantize",
      "Quantize a Hugging Face LLaMA-family checkpoint and save it.\n"
      "Example: qgrid quantize --model M --method gptq --bits 4 "
      "--group-size 128 --calib wiki.train.raw --out M-gptq-w4 "
      "--format gptq");
  q->add_option("--model", args->model,
                "Model folder (config.json, *.safetensors, tokenizer)")
      ->required();
  AddQuantFlags(q, &args->q);
  AddCalibFlags(q, &args->calib, /*extra_aliases=*/true);
  q->add_option("--batch-size", args->batch_size,
                "Calibration sequences per forward batch")
      ->capture_default_str();
  q->add_option("--out", args->out, "Output folder")->required();
  q->add_option("--format", args->format,
                "fake (dequantized safetensors) | gptq | awq (4-bit GEMM) | "
                "compressed-tensors (vLLM: pack-quantized W2..W8A16, "
                "int-quantized W8A8)")
      ->capture_default_str();
  q->add_option("--device", args->device,
                "cpu | cuda[:N]: where each decoder block is calibrated and "
                "quantized, one block at a time (the model itself stays in "
                "CPU memory, so it may be larger than the GPU's)")
      ->capture_default_str();
  q->add_option("--dtype", args->dtype, "float32 | float16 | bfloat16")
      ->capture_default_str();
  q->add_flag("--json", args->json,
              "Print the quantization report as JSON on stdout");
  q->callback([args, q] { RunQuantize(*args, q); });
}

}  // namespace qgrid::cli
