#include "db/store.h"

#include <algorithm>

namespace qgrid::db {

const char* JobStateName(JobState s) {
  switch (s) {
    case JobState::kPending:
      return "pending";
    case JobState::kLeased:
      return "leased";
    case JobState::kDone:
      return "done";
    case JobState::kFailed:
      return "failed";
    case JobState::kDead:
      return "dead";
    case JobState::kCancelled:
      return "cancelled";
  }
  return "?";
}

absl::StatusOr<JobState> ParseJobState(const std::string& s) {
  for (JobState st :
       {JobState::kPending, JobState::kLeased, JobState::kDone,
        JobState::kFailed, JobState::kDead, JobState::kCancelled}) {
    if (s == JobStateName(st)) return st;
  }
  return absl::InvalidArgumentError("unknown job state '" + s + "'");
}

bool IsTerminal(JobState s) {
  return s == JobState::kDone || s == JobState::kDead ||
         s == JobState::kCancelled;
}

int64_t RetryPolicy::BackoffMs(int attempt) const {
  int64_t b = base_ms;
  for (int i = 1; i < attempt && b < max_ms; ++i) b *= 2;
  return std::min(b, max_ms);
}

const char* ReportOutcomeName(ReportOutcome o) {
  switch (o) {
    case ReportOutcome::kAccepted:
      return "accepted";
    case ReportOutcome::kDuplicate:
      return "duplicate";
    case ReportOutcome::kStale:
      return "stale";
    case ReportOutcome::kNotHolder:
      return "not_holder";
  }
  return "?";
}

}  // namespace qgrid::db
