// Client side of the qgrid RPCs, shared by workers and the `qgrid` client:
// channel creation (TLS, message limits), per-call context (bearer token and
// a deadline on every call), status conversion. Thread-safe.
#ifndef QGRID_WORKER_RPC_CLIENT_H_
#define QGRID_WORKER_RPC_CLIENT_H_

#include <grpcpp/grpcpp.h>

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace qgrid::worker {

struct RpcOptions {
  std::string address = "127.0.0.1:50051";
  std::string auth_token;  // sent as "authorization: Bearer <token>"
  bool tls = false;
  std::string tls_ca_pem;  // root certificates; empty = system roots
  int max_message_bytes = 16 << 20;
  int64_t deadline_ms = 10000;  // default per-call deadline
  bool wait_for_ready = true;
};

std::shared_ptr<grpc::Channel> MakeChannel(const RpcOptions& options);

// Sets the deadline (`deadline_ms`, or options.deadline_ms when 0) and the
// bearer token on a fresh context.
void PrepareContext(grpc::ClientContext* ctx, const RpcOptions& options,
                    int64_t deadline_ms = 0);

absl::Status FromGrpc(const grpc::Status& s);

// Whether a failed call may succeed when retried (coordinator down or busy).
bool IsTransient(const grpc::Status& s);

// Reads a token file (whitespace trimmed); an empty token is an error.
absl::StatusOr<std::string> ReadTokenFile(const std::string& path);
// Reads a whole file (certificates, specs).
absl::StatusOr<std::string> ReadFileToString(const std::string& path,
                                             size_t max_bytes = 64 << 20);

}  // namespace qgrid::worker

#endif  // QGRID_WORKER_RPC_CLIENT_H_
