// The method catalogue (quant/method_catalog.h) end to end: every method,
// with a non-default value of each parameter it takes, goes through a sweep
// spec (coordinator/sweep_spec.h: parse + expansion), the leased Job message
// (coordinator FillJob) and the worker's method config
// (worker::MethodConfigOfJob), and the QuantConfig holds that value. Also:
// aliases normalize to the one name, and every parameter with effect has
// a QuantConfig field and a flag name.
#include "quant/method_catalog.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <string>

#include "coordinator/service.h"
#include "coordinator/sweep_spec.h"
#include "nlohmann/json.hpp"
#include "quant/quant_config.h"
#include "worker/quantize_cell.h"

namespace qgrid {
namespace {

using json = nlohmann::json;
using quant::ParamSpec;
using quant::ParamType;

// A value of `p` other than its default, inside `m`'s range.
json NonDefault(const quant::MethodSpec& m, const ParamSpec& p) {
  const double lo = quant::ParamMin(m, p), hi = quant::ParamMax(m, p);
  switch (p.type) {
    case ParamType::kBool:
      return p.default_value != "true";
    case ParamType::kInt: {
      int64_t d = std::stoll(p.default_value);
      int64_t v = d + 1 <= hi ? d + 1 : d - 1;
      if (v < lo) v = static_cast<int64_t>(lo);  // a one-value range
      if (v == 0 && p.name == "group_size") v = 64;
      return v;
    }
    case ParamType::kNumber: {
      double d = std::stod(p.default_value);
      return d * 2 <= hi ? d * 2 : (lo + d) / 2;
    }
    case ParamType::kString:
      for (const auto& c : p.choices)
        if (c != p.default_value) return c;
      return p.default_value + "_x";
  }
  return nullptr;
}

// The worker's config for the one job of a one-method spec.
absl::StatusOr<quant::QuantConfig> RoundTrip(const std::string& method_yaml,
                                             json* job_method) {
  std::string yaml =
      "models: [{name: m, path: p}]\nmethods:\n  - " + method_yaml +
      "\ncalibration: [{name: c, path: c.txt}]\ntests: [{name: t, task: "
      "x}]\n";
  auto spec = coordinator::ParseSweepSpec(yaml, "s.yaml");
  if (!spec.ok()) return spec.status();
  auto grid = coordinator::ExpandGrid(*spec);
  if (!grid.ok()) return grid.status();
  if (grid->jobs.size() != 1)
    return absl::InternalError("expected one job: " + yaml);
  db::JobRecord rec;
  rec.id = 1;
  rec.config_json = grid->jobs[0].config.dump();
  qgrid::v1::Job job;
  coordinator::FillJob(rec, &job);
  *job_method = json::parse(job.method_json());
  return worker::MethodConfigOfJob(job.method_json(), "job 1 method");
}

TEST(MethodCatalog, ListsEveryMethodAndParameter) {
  for (const quant::MethodSpec& m : quant::Methods()) {
    std::string line =
        m.name + (m.uses_calibration ? " [calibrated]" : "") + ":";
    for (const auto& mp : m.params) {
      const ParamSpec* p = quant::FindParam(mp.name);
      ASSERT_NE(p, nullptr) << m.name << "." << mp.name;
      line += " " + p->name + "=" + p->default_value;
      if (p->type == ParamType::kInt || p->type == ParamType::kNumber)
        line += " [" + std::to_string(quant::ParamMin(m, *p)) + ", " +
                std::to_string(quant::ParamMax(m, *p)) + "]";
    }
    std::printf("%s\n", line.c_str());
  }
  EXPECT_EQ(quant::MethodNames().size(), 10u);
  EXPECT_EQ(quant::MethodNames(), quant::KnownMethods());
  EXPECT_EQ(quant::MethodNames(), coordinator::KnownMethods());
  for (const ParamSpec& p : quant::Params()) {
    EXPECT_EQ(quant::FindParam(p.name), &p);
    for (const auto& a : p.aliases) EXPECT_EQ(quant::FindParam(a), &p) << a;
    // Every parameter with effect lives in a QuantConfig field.
    quant::QuantConfig def;
    EXPECT_EQ(quant::GetQuantParam(def, p.name).has_value(), p.has_effect)
        << p.name;
    EXPECT_EQ(quant::FlagName(p).find('_'), std::string::npos);
  }
  EXPECT_EQ(quant::FlagName(*quant::FindParam("spqr_stat_bits")),
            "--spqr-stat-bits");
  EXPECT_EQ(quant::FindParam("damp")->name, "percdamp");
  EXPECT_EQ(quant::FindParam("qq_bits")->name, "spqr_stat_bits");
}

TEST(MethodCatalog, EveryParameterRoundTripsSpecToJobToWorkerConfig) {
  int checked = 0;
  for (const quant::MethodSpec& m : quant::Methods()) {
    std::string entry = "{name: " + m.name;
    if (m.needs_bits) entry += ", bits: 5";
    std::vector<std::pair<const ParamSpec*, json>> want;
    for (const auto& mp : m.params) {
      const ParamSpec* p = quant::FindParam(mp.name);
      if (p->name == "bits" && m.needs_bits) {
        want.emplace_back(p, 5);
        continue;
      }
      json v = NonDefault(m, *p);
      want.emplace_back(p, v);
      entry += ", " + p->name + ": " +
               (v.is_string() ? v.get<std::string>() : v.dump());
    }
    entry += "}";
    json job_method;
    auto cfg = RoundTrip(entry, &job_method);
    ASSERT_TRUE(cfg.ok()) << entry << ": " << cfg.status();
    EXPECT_EQ(cfg->method, m.name);
    for (const auto& [p, v] : want) {
      EXPECT_EQ(job_method.at(p->name), v) << m.name << "." << p->name;
      if (!p->has_effect) continue;
      auto got = quant::GetQuantParam(*cfg, p->name);
      ASSERT_TRUE(got.has_value()) << p->name;
      if (p->type == ParamType::kNumber) {
        EXPECT_DOUBLE_EQ(got->get<double>(), v.get<double>())
            << m.name << "." << p->name;
      } else {
        EXPECT_EQ(*got, v) << m.name << "." << p->name;
      }
      ++checked;
    }
  }
  EXPECT_GT(checked, 25);
}

TEST(MethodCatalog, OldSpellingsAreAliasesNormalizedInJobs) {
  json job_method;
  auto cfg = RoundTrip(
      "{name: spqr, bits: 3, damp: 0.05, qq_bits: 4, "
      "outlier_threshold: 0.3}",
      &job_method);
  ASSERT_TRUE(cfg.ok()) << cfg.status();
  EXPECT_EQ(job_method, json({{"name", "spqr"},
                              {"bits", 3},
                              {"percdamp", 0.05},
                              {"spqr_stat_bits", 4},
                              {"spqr_outlier_threshold", 0.3}}));
  EXPECT_DOUBLE_EQ(cfg->percdamp, 0.05);
  EXPECT_EQ(cfg->spqr_stat_bits, 4);
  // A stored job of before (aliases in its method JSON) still parses.
  auto old = worker::MethodConfigOfJob(
      R"({"name": "gptq", "bits": 4, "damp": 0.1, "true_sequential": true})",
      "old job");
  ASSERT_TRUE(old.ok()) << old.status();
  EXPECT_DOUBLE_EQ(old->percdamp, 0.1);
  // One knob given under two spellings is an error naming it.
  auto twice =
      RoundTrip("{name: gptq, bits: 4, damp: 0.1, percdamp: 0.2}", &job_method);
  ASSERT_FALSE(twice.ok());
  EXPECT_NE(twice.status().message().find("percdamp"), std::string::npos);
}

}  // namespace
}  // namespace qgrid
