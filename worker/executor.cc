#include "worker/executor.h"

#include "absl/strings/cord.h"

namespace qgrid::worker {

namespace {
constexpr char kPermanentPayload[] = "qgrid.dev/permanent";
}  // namespace

absl::Status Permanent(absl::Status s) {
  if (!s.ok()) s.SetPayload(kPermanentPayload, absl::Cord("1"));
  return s;
}

bool IsPermanent(const absl::Status& s) {
  return s.code() == absl::StatusCode::kPermissionDenied ||
         s.code() == absl::StatusCode::kUnimplemented ||
         s.GetPayload(kPermanentPayload).has_value();
}

absl::StatusOr<JobOutcome> KindRouter::Run(const qgrid::v1::Job& job,
                                           JobControl* control) {
  if (job.kind() == "synthetic" && synthetic_) {
    return synthetic_->Run(job, control);
  }
  if (job.kind() == "eval") {
    if (!eval_) {
      return absl::UnimplementedError(
          "this qgrid build has no model executor (eval jobs need the "
          "model/quant/eval engines); run synthetic sweeps or rebuild");
    }
    return eval_->Run(job, control);
  }
  return absl::UnimplementedError("unknown job kind '" + job.kind() + "'");
}

std::vector<std::string> KindRouter::HeldQuantKeys() {
  std::vector<std::string> out;
  for (auto* e : {synthetic_.get(), eval_.get()}) {
    if (!e) continue;
    for (auto& k : e->HeldQuantKeys()) out.push_back(std::move(k));
  }
  return out;
}

}  // namespace qgrid::worker
