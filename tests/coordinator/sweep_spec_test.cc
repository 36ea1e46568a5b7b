// Sweep spec parsing/validation and grid expansion.
#include "coordinator/sweep_spec.h"

#include <gtest/gtest.h>

#include <set>

namespace qgrid::coordinator {
namespace {

constexpr char kSpec[] = R"(name: paper
models:
  - name: tiny
    path: models/tiny
methods:
  - name: fp16
  - name: rtn
    bits: [4, 3]
  - name: gptq
    bits: [4, 3]
    group_size: 128
calibration:
  - {name: wiki, dataset: wikitext2, samples: 128, seq_len: 512}
  - {name: c4, dataset: c4, samples: 128, seq_len: 512}
tests:
  - {name: wiki, task: wikitext2}
  - {name: c4, task: c4}
shots: [0, 1]
)";

absl::StatusOr<ExpandedGrid> Expand(const std::string& yaml,
                                    int64_t max_jobs = kDefaultMaxJobs) {
  auto spec = ParseSweepSpec(yaml, "s.yaml");
  if (!spec.ok()) return spec.status();
  return ExpandGrid(*spec, max_jobs);
}

std::string ErrorOf(const std::string& yaml) {
  auto spec = ParseSweepSpec(yaml, "s.yaml");
  return spec.ok() ? "" : std::string(spec.status().message());
}

TEST(ExpandGrid, UncalibratedMethodsCollapseTheCalibrationAxis) {
  auto g = Expand(kSpec);
  ASSERT_TRUE(g.ok()) << g.status();
  // fp16: 1 variant x 1 (collapsed) x 2 tests x 2 shots = 4
  // rtn: 2 bits x 1 x 2 x 2 = 8; gptq: 2 bits x 2 cal x 2 x 2 = 16
  EXPECT_EQ(g->jobs.size(), 28u);
  EXPECT_EQ(g->summary.axis_counts.at("methods"), 5);
  // Quantizations: rtn 2 + gptq 2x2 = 6 (fp16 quantizes nothing).
  EXPECT_EQ(g->summary.quantizations, 6);
  EXPECT_EQ(g->summary.evaluations, 28);
  int rtn = 0;
  for (const auto& j : g->jobs) {
    if (j.config["labels"]["method"] == "rtn") {
      ++rtn;
      EXPECT_TRUE(j.config["job"]["calibration"].is_null());
      EXPECT_EQ(j.config["labels"]["calibration"], "-");
    }
  }
  EXPECT_EQ(rtn, 8);
}

TEST(ExpandGrid, GridCellsCountTheFullProductBeforeCollapsePairsAndFilters) {
  auto plain = Expand(kSpec);
  ASSERT_TRUE(plain.ok()) << plain.status();
  // 5 method variants x 2 calibration x 2 tests x 2 shots = 40 cells; the
  // calibration axis collapses for fp16 and rtn: 28 jobs.
  EXPECT_EQ(plain->summary.grid_cells, 40);
  EXPECT_EQ(plain->summary.jobs, 28);
  EXPECT_EQ(plain->summary.ToJson()["grid_cells"], 40);
  EXPECT_EQ(plain->summary.ToProto().grid_cells(), 40);
  // pairs and exclude remove jobs, never cells.
  auto narrowed = Expand(R"(
name: g
models: [{name: m, path: m}]
methods:
  - {name: gptq, bits: [4, 3]}
calibration:
  - {name: a, path: a.txt}
  - {name: b, path: b.txt}
  - {name: c, path: c.txt}
tests:
  - {name: x, task: arc_easy}
  - {name: y, task: piqa}
shots: [0, 5]
pairs: {x: [a, b], y: [c]}
exclude:
  - {test: y, shots: 5}
)");
  ASSERT_TRUE(narrowed.ok()) << narrowed.status();
  // 2 x 3 x 2 x 2 = 24 cells; jobs: x 2 bits x 2 cal x 2 shots = 8, y 2 x 1
  // x 1 = 2.
  EXPECT_EQ(narrowed->summary.grid_cells, 24);
  EXPECT_EQ(narrowed->summary.jobs, 10);
  EXPECT_EQ(narrowed->summary.quantizations, 6);
}

TEST(ExpandGrid, KeysAreStableDistinctAndShareQuantKeysAcrossTestsAndShots) {
  auto a = Expand(kSpec), b = Expand(kSpec);
  ASSERT_TRUE(a.ok() && b.ok());
  std::set<std::string> content;
  std::map<std::string, int> per_quant;
  for (size_t i = 0; i < a->jobs.size(); ++i) {
    EXPECT_EQ(a->jobs[i].content_key, b->jobs[i].content_key);
    EXPECT_EQ(a->jobs[i].content_key.size(), 64u);
    content.insert(a->jobs[i].content_key);
    ++per_quant[a->jobs[i].quant_key];
  }
  EXPECT_EQ(content.size(), a->jobs.size());
  // Each gptq (bits, cal) quantization serves 2 tests x 2 shots.
  for (const auto& j : a->jobs) {
    if (j.config["labels"]["method"] == "gptq") {
      EXPECT_EQ(per_quant[j.quant_key], 4);
    }
  }
  // The key covers the full config: changing a calibration sample count
  // changes gptq keys but not rtn ones.
  std::string changed = kSpec;
  changed.replace(changed.find("samples: 128"), 12, "samples: 64");
  auto c = Expand(changed);
  ASSERT_TRUE(c.ok());
  std::set<std::string> old_keys;
  for (const auto& j : a->jobs) old_keys.insert(j.content_key);
  int same = 0;
  for (const auto& j : c->jobs) same += old_keys.count(j.content_key);
  EXPECT_EQ(same, 28 - 8);  // gptq x wiki calibration: 2 bits x 2 x 2
}

TEST(ExpandGrid, IdenticalCellsAreStoredOnce) {
  std::string spec = R"(models: [{name: m, path: p}]
methods:
  - {name: rtn, bits: [4, 4, 3]}
tests: [{name: t, task: x}]
)";
  auto g = Expand(spec);
  ASSERT_TRUE(g.ok()) << g.status();
  EXPECT_EQ(g->jobs.size(), 2u);
  EXPECT_EQ(g->summary.duplicates_merged, 1);
}

TEST(ExpandGrid, IncludeExcludeAndPairsFilterCells) {
  std::string spec = std::string(kSpec) + R"(exclude:
  - {method: rtn, bits: 3}
include:
  - {method: [rtn, gptq]}
pairs:
  c4: [c4]
)";
  auto g = Expand(spec);
  ASSERT_TRUE(g.ok()) << g.status();
  // rtn: bits 4 only -> 1 x 2 tests x 2 shots = 4.
  // gptq: test wiki: 2 cal, test c4: 1 cal -> 2 bits x 3 x 2 shots = 12.
  EXPECT_EQ(g->jobs.size(), 16u);
  for (const auto& j : g->jobs) {
    EXPECT_NE(j.config["labels"]["method"], "fp16");
    if (j.config["labels"]["method"] == "gptq" &&
        j.config["labels"]["test"] == "c4") {
      EXPECT_EQ(j.config["labels"]["calibration"], "c4");
    }
  }
}

TEST(ExpandGrid, IidIsTheCalibrationSetOfTheTestsDomain) {
  std::string spec = std::string(kSpec);
  auto g = Expand(spec);
  ASSERT_TRUE(g.ok());
  for (const auto& j : g->jobs) {
    const auto& l = j.config["labels"];
    bool want = l["method"] == "gptq" && l["calibration"] == l["test"];
    EXPECT_EQ(l["iid"].get<bool>(), want) << l.dump();
  }
  // Explicit domain labels override the dataset name.
  std::string relabel = R"(models: [{name: m, path: p}]
methods: [{name: gptq, bits: 4}]
calibration:
  - {name: a, dataset: x, domain: news}
  - {name: b, dataset: y}
tests:
  - {name: t, task: z, domain: news}
)";
  auto r = Expand(relabel);
  ASSERT_TRUE(r.ok()) << r.status();
  for (const auto& j : r->jobs) {
    EXPECT_EQ(j.config["labels"]["iid"].get<bool>(),
              j.config["labels"]["calibration"] == "a");
  }
}

TEST(ExpandGrid, RefusesGridsOverMaxJobs) {
  auto g = Expand(kSpec, 10);
  ASSERT_FALSE(g.ok());
  EXPECT_NE(g.status().message().find("--max-jobs"), std::string::npos);
  EXPECT_TRUE(Expand(kSpec, 28).ok());
}

TEST(ExpandGrid, SeedsAndRepeatsMultiplyJobs) {
  std::string spec = std::string(kSpec) + "seeds: [1, 2]\nrepeats: 2\n";
  auto g = Expand(spec);
  ASSERT_TRUE(g.ok()) << g.status();
  EXPECT_EQ(g->jobs.size(), 28u * 4);
}

TEST(ParseSweepSpec, ShotsDefaultToEachTasksOwnSetting) {
  // Without `shots`, every job asks for its task's default (-1): BOSS's
  // fixed demonstrations, MMLU's 5 shots, ... as the paper ran them.
  std::string yaml = kSpec;
  yaml.replace(yaml.find("shots: [0, 1]\n"), 14, "");
  auto spec = ParseSweepSpec(yaml, "s.yaml");
  ASSERT_TRUE(spec.ok()) << spec.status();
  EXPECT_EQ(spec->shots, std::vector<int>{kTaskDefaultShots});
  auto g = ExpandGrid(*spec, kDefaultMaxJobs);
  ASSERT_TRUE(g.ok()) << g.status();
  for (const auto& j : g->jobs) EXPECT_EQ(j.config["job"]["shots"], -1);

  // `default` mixes with numbers; duplicates and other negatives are refused.
  yaml = kSpec;
  yaml.replace(yaml.find("shots: [0, 1]"), 13, "shots: [default, 5]");
  spec = ParseSweepSpec(yaml, "s.yaml");
  ASSERT_TRUE(spec.ok()) << spec.status();
  EXPECT_EQ(spec->shots, (std::vector<int>{kTaskDefaultShots, 5}));
  yaml = kSpec;
  yaml.replace(yaml.find("shots: [0, 1]"), 13, "shots: [default, -1]");
  EXPECT_NE(ErrorOf(yaml).find("duplicate"), std::string::npos)
      << ErrorOf(yaml);
  yaml = kSpec;
  yaml.replace(yaml.find("shots: [0, 1]"), 13, "shots: [-2]");
  EXPECT_NE(ErrorOf(yaml).find("shots"), std::string::npos) << ErrorOf(yaml);
}

TEST(ParseSweepSpec, ErrorsNameFileLineAndColumn) {
  EXPECT_EQ(ErrorOf(std::string(kSpec) + "colour: red\n"),
            "s.yaml:19:1: unknown key 'colour' (allowed: calibration, "
            "description, exclude, include, kind, max_attempts, methods, "
            "models, name, pairs, priority, repeats, resources, seeds, shots, "
            "synthetic, tests)");
  std::string bad_method = kSpec;
  bad_method.replace(bad_method.find("name: gptq"), 10, "name: gtpq");
  std::string e = ErrorOf(bad_method);
  EXPECT_EQ(e.rfind("s.yaml:9:11: methods[2]: unknown method 'gtpq'", 0), 0u)
      << e;
  std::string bad_type = kSpec;
  bad_type.replace(bad_type.find("samples: 128"), 12, "samples: lots");
  e = ErrorOf(bad_type);
  EXPECT_EQ(e,
            "s.yaml:13:47: calibration[0].samples: expected an integer, "
            "got 'lots'")
      << e;
  e = ErrorOf("models: [\n  {name: a\n");
  EXPECT_EQ(e.rfind("s.yaml:3:", 0), 0u) << e;
}

TEST(ParseSweepSpec, RejectsImpossibleCombinations) {
  auto err = [](const std::string& methods) {
    return ErrorOf("models: [{name: m, path: p}]\nmethods:\n" + methods +
                   "tests: [{name: t, task: x}]\n");
  };
  EXPECT_NE(err("  - {name: fp16, bits: 4}\n").find("has no parameter 'bits'"),
            std::string::npos);
  EXPECT_NE(err("  - {name: rtn, bits: 9}\n").find("out of range"),
            std::string::npos);
  EXPECT_NE(err("  - {name: rtn}\n").find("needs 'bits'"), std::string::npos);
  EXPECT_NE(err("  - {name: llm_int8, bits: 4}\n").find("out of range"),
            std::string::npos);
  EXPECT_NE(err("  - {name: rtn, bits: 4, group_size: 0}\n").find("group_size"),
            std::string::npos);
  // Calibrated methods need calibration sets.
  EXPECT_NE(err("  - {name: gptq, bits: 4}\n").find("needs a 'calibration'"),
            std::string::npos);
  EXPECT_NE(err("  - {name: gptq, bits: 4, act_order: maybe}\n")
                .find("true or false"),
            std::string::npos);
}

TEST(ParseSweepSpec, FiltersMustNameExistingEntries) {
  std::string e = ErrorOf(std::string(kSpec) + "exclude:\n  - {test: wikk}\n");
  EXPECT_NE(e.find("no test named 'wikk'"), std::string::npos) << e;
  e = ErrorOf(std::string(kSpec) + "pairs:\n  wiki: [nope]\n");
  EXPECT_NE(e.find("no calibration set named 'nope'"), std::string::npos) << e;
  e = ErrorOf(std::string(kSpec) + "exclude:\n  - {colour: red}\n");
  EXPECT_NE(e.find("unknown axis 'colour'"), std::string::npos) << e;
}

TEST(ParseSweepSpec, SyntheticKindNeedsNoPathsOrTasks) {
  auto s = ParseSweepSpec(R"(kind: synthetic
models: [{name: m}]
methods: [{name: rtn, bits: [2, 3]}]
tests: [{name: a, duration_ms: 5}, {name: b, fail: boom}]
synthetic: {duration_ms: 10}
)",
                          "x.yaml");
  ASSERT_TRUE(s.ok()) << s.status();
  auto g = ExpandGrid(*s);
  ASSERT_TRUE(g.ok());
  EXPECT_EQ(g->jobs.size(), 4u);
  EXPECT_EQ(g->summary.evaluations, 0);
  EXPECT_EQ(g->jobs[0].config["job"]["synthetic"]["duration_ms"], 10);
}

}  // namespace
}  // namespace qgrid::coordinator
