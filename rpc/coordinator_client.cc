#include "rpc/coordinator_client.h"

#include <chrono>
#include <thread>

namespace qgrid::rpc {

namespace pb = ::qgrid::v1;
using Stub = pb::ClientService::Stub;

CoordinatorClient::CoordinatorClient(RpcOptions options)
    : options_(std::move(options)),
      stub_(pb::ClientService::NewStub(MakeChannel(options_))) {}

absl::StatusOr<pb::SubmitSweepResponse> CoordinatorClient::Submit(
    const SubmitOptions& s) {
  pb::SubmitSweepRequest req;
  req.set_spec_yaml(s.spec_yaml);
  req.set_spec_name(s.spec_name);
  req.set_no_cache(s.no_cache);
  if (s.max_jobs > 0) req.set_max_jobs(s.max_jobs);
  pb::SubmitSweepResponse resp;
  absl::Status st = Call(*stub_, &Stub::SubmitSweep, req, &resp, options_);
  if (!st.ok()) return st;
  return resp;
}

absl::StatusOr<pb::SweepStatus> CoordinatorClient::GetStatus(
    const std::string& sweep_id) {
  pb::GetSweepStatusRequest req;
  req.set_sweep_id(sweep_id);
  pb::GetSweepStatusResponse resp;
  absl::Status st = Call(*stub_, &Stub::GetSweepStatus, req, &resp, options_);
  if (!st.ok()) return st;
  return resp.status();
}

absl::StatusOr<pb::ListSweepsResponse> CoordinatorClient::ListSweeps() {
  pb::ListSweepsResponse resp;
  absl::Status st =
      Call(*stub_, &Stub::ListSweeps, pb::ListSweepsRequest(), &resp, options_);
  if (!st.ok()) return st;
  return resp;
}

absl::StatusOr<pb::CancelSweepResponse> CoordinatorClient::Cancel(
    const std::string& id) {
  pb::CancelSweepRequest req;
  req.set_sweep_id(id);
  pb::CancelSweepResponse resp;
  absl::Status st = Call(*stub_, &Stub::CancelSweep, req, &resp, options_);
  if (!st.ok()) return st;
  return resp;
}

absl::StatusOr<pb::RetrySweepResponse> CoordinatorClient::Retry(
    const std::string& id) {
  pb::RetrySweepRequest req;
  req.set_sweep_id(id);
  pb::RetrySweepResponse resp;
  absl::Status st = Call(*stub_, &Stub::RetrySweep, req, &resp, options_);
  if (!st.ok()) return st;
  return resp;
}

absl::StatusOr<pb::ListWorkersResponse> CoordinatorClient::ListWorkers() {
  pb::ListWorkersResponse resp;
  absl::Status st = Call(*stub_, &Stub::ListWorkers, pb::ListWorkersRequest(),
                         &resp, options_);
  if (!st.ok()) return st;
  return resp;
}

absl::StatusOr<pb::GetResultsResponse> CoordinatorClient::GetResults(
    const std::string& sweep_id, const std::string& metric,
    const std::string& format, bool with_items) {
  pb::GetResultsRequest req;
  req.set_sweep_id(sweep_id);
  req.set_metric(metric);
  req.set_format(format);
  req.set_with_items(with_items);
  pb::GetResultsResponse resp;
  absl::Status st = Call(*stub_, &Stub::GetResults, req, &resp, options_);
  if (!st.ok()) return st;
  return resp;
}

absl::StatusOr<pb::SweepStatus> CoordinatorClient::WaitForSweep(
    const std::string& sweep_id,
    const std::function<void(const pb::SweepStatus&)>& on_status,
    const std::function<bool()>& stop, int64_t poll_ms) {
  while (true) {
    absl::StatusOr<pb::SweepStatus> st = GetStatus(sweep_id);
    if (!st.ok()) return st.status();
    if (on_status) on_status(*st);
    if (st->state() != "active" || (stop && stop())) return st;
    std::this_thread::sleep_for(std::chrono::milliseconds(poll_ms));
  }
}

}  // namespace qgrid::rpc
