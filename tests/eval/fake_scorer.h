// A Scorer whose answers the test decides, recording what it was asked.
#ifndef QGRID_TESTS_EVAL_FAKE_SCORER_H_
#define QGRID_TESTS_EVAL_FAKE_SCORER_H_

#include <functional>
#include <string>
#include <vector>

#include "eval/scorer.h"

namespace qgrid::eval::testing {

class FakeScorer : public Scorer {
 public:
  std::function<double(const std::string&, const std::string&)> ll =
      [](const std::string&, const std::string& cont) {
        return -static_cast<double>(cont.size());
      };
  std::function<std::string(const std::string&)> gen = [](const std::string&) {
    return std::string();
  };
  std::function<std::vector<double>(const std::string&,
                                    const std::vector<std::string>&)>
      next = [](const std::string&, const std::vector<std::string>& c) {
        return std::vector<double>(c.size(), 0.0);
      };

  std::vector<LoglikelihoodRequest> ll_requests;
  std::vector<GenerationRequest> gen_requests;
  std::vector<std::string> next_contexts, rolling_texts;

  absl::StatusOr<std::vector<LoglikelihoodResult>> Loglikelihood(
      const std::vector<LoglikelihoodRequest>& requests,
      const ProgressFn& progress) override {
    std::vector<LoglikelihoodResult> out;
    for (const auto& r : requests) {
      ll_requests.push_back(r);
      out.push_back({ll(r.context, r.continuation), false, 1});
    }
    return out;
  }
  absl::StatusOr<std::vector<RollingResult>> LoglikelihoodRolling(
      const std::vector<std::string>& texts,
      const ProgressFn& progress) override {
    std::vector<RollingResult> out;
    for (const auto& t : texts) {
      rolling_texts.push_back(t);
      out.push_back({ll("", t), static_cast<int64_t>(t.size())});
    }
    return out;
  }
  absl::StatusOr<std::vector<std::string>> Generate(
      const std::vector<GenerationRequest>& requests,
      const ProgressFn& progress) override {
    std::vector<std::string> out;
    for (const auto& r : requests) {
      gen_requests.push_back(r);
      out.push_back(gen(r.context));
    }
    return out;
  }
  absl::StatusOr<std::vector<std::vector<double>>> NextTokenScores(
      const std::vector<std::string>& contexts,
      const std::vector<std::string>& candidates,
      const ProgressFn& progress) override {
    std::vector<std::vector<double>> out;
    for (const auto& c : contexts) {
      next_contexts.push_back(c);
      out.push_back(next(c, candidates));
    }
    return out;
  }
};

}  // namespace qgrid::eval::testing

#endif  // QGRID_TESTS_EVAL_FAKE_SCORER_H_
