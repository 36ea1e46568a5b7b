// The client side of qgrid's RPCs, shared by workers, the `qgrid` client
// commands and the benches: channel creation (TLS, message limits, fast
// reconnect), the per-call context (bearer token, a deadline on every call),
// status conversion in both directions (the coordinator's handlers use
// ToGrpc), and one typed unary call that turns an unreachable coordinator
// into an error saying what to do.
//
// Torch-free and SQLite-free: a coordinator-only build links it. Every
// function is thread-safe; a channel may be shared by threads.
#ifndef QGRID_RPC_CLIENT_H_
#define QGRID_RPC_CLIENT_H_

#include <grpcpp/grpcpp.h>

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace qgrid::rpc {

struct RpcOptions {
  std::string address = "127.0.0.1:50051";
  std::string auth_token;  // sent as "authorization: Bearer <token>"
  bool tls = false;
  std::string tls_ca_pem;  // root certificates; empty = system roots
  int max_message_bytes = 16 << 20;
  int64_t deadline_ms = 10000;  // default per-call deadline
  bool wait_for_ready = true;
};

// Fills `o`'s token and TLS fields from files: the bearer token from
// `token_file` (when not empty), TLS when `tls` or `tls_ca_file` is given,
// verified against `tls_ca_file` (else the system roots).
absl::Status LoadClientCredentials(const std::string& token_file,
                                   const std::string& tls_ca_file, bool tls,
                                   RpcOptions* o);

std::shared_ptr<grpc::Channel> MakeChannel(const RpcOptions& options);

// Sets the deadline (`deadline_ms`, or options.deadline_ms when 0) and the
// bearer token on a fresh context.
void PrepareContext(grpc::ClientContext* ctx, const RpcOptions& options,
                    int64_t deadline_ms = 0);

absl::Status FromGrpc(const grpc::Status& s);
grpc::Status ToGrpc(const absl::Status& s);

// Whether a failed call may succeed when retried (coordinator down or busy).
bool IsTransient(const grpc::Status& s);

// Reads a token file (whitespace trimmed); an empty token is an error.
absl::StatusOr<std::string> ReadTokenFile(const std::string& path);

// FromGrpc(s), where an unavailable or timed-out coordinator also says how
// to start one or point at one.
absl::Status FromGrpcWithHint(const grpc::Status& s,
                              const std::string& address);

// One unary call on `stub` with a prepared context; the status as
// FromGrpcWithHint gives it.
template <class Stub, class Req, class Resp>
absl::Status Call(Stub& stub,
                  grpc::Status (Stub::*method)(grpc::ClientContext*, const Req&,
                                               Resp*),
                  const Req& req, Resp* resp, const RpcOptions& o,
                  int64_t deadline_ms = 0) {
  grpc::ClientContext ctx;
  PrepareContext(&ctx, o, deadline_ms);
  return FromGrpcWithHint((stub.*method)(&ctx, req, resp), o.address);
}

}  // namespace qgrid::rpc

#endif  // QGRID_RPC_CLIENT_H_
