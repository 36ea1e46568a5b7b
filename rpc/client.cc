#include "rpc/client.h"

#include <chrono>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "common/file_util.h"

namespace qgrid::rpc {

std::shared_ptr<grpc::Channel> MakeChannel(const RpcOptions& o) {
  std::shared_ptr<grpc::ChannelCredentials> creds;
  if (o.tls) {
    grpc::SslCredentialsOptions ssl;
    ssl.pem_root_certs = o.tls_ca_pem;
    creds = grpc::SslCredentials(ssl);
  } else {
    creds = grpc::InsecureChannelCredentials();
  }
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(o.max_message_bytes);
  args.SetMaxSendMessageSize(o.max_message_bytes);
  // Reconnect quickly after a coordinator restart.
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 100);
  args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, 100);
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 1000);
  return grpc::CreateCustomChannel(o.address, creds, args);
}

void PrepareContext(grpc::ClientContext* ctx, const RpcOptions& o,
                    int64_t deadline_ms) {
  int64_t ms = deadline_ms > 0 ? deadline_ms : o.deadline_ms;
  ctx->set_deadline(std::chrono::system_clock::now() +
                    std::chrono::milliseconds(ms));
  // Wait for a connection (within the deadline) instead of failing at once
  // while the channel is in reconnect backoff, e.g. right after a
  // coordinator restart.
  ctx->set_wait_for_ready(o.wait_for_ready);
  if (!o.auth_token.empty()) {
    ctx->AddMetadata("authorization", "Bearer " + o.auth_token);
  }
}

absl::Status FromGrpc(const grpc::Status& s) {
  if (s.ok()) return absl::OkStatus();
  return absl::Status(static_cast<absl::StatusCode>(s.error_code()),
                      s.error_message());
}

grpc::Status ToGrpc(const absl::Status& s) {
  if (s.ok()) return grpc::Status::OK;
  return grpc::Status(static_cast<grpc::StatusCode>(s.code()),
                      std::string(s.message()));
}

absl::Status FromGrpcWithHint(const grpc::Status& s,
                              const std::string& address) {
  if (s.error_code() == grpc::StatusCode::UNAVAILABLE ||
      s.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED) {
    return absl::Status(
        static_cast<absl::StatusCode>(s.error_code()),
        absl::StrCat("coordinator ", address,
                     " unreachable: ", s.error_message(),
                     " (start one with `qgrid coordinator`, or set "
                     "--coordinator / QGRID_COORDINATOR)"));
  }
  return FromGrpc(s);
}

absl::Status LoadClientCredentials(const std::string& token_file,
                                   const std::string& tls_ca_file, bool tls,
                                   RpcOptions* o) {
  if (!token_file.empty()) {
    auto t = ReadTokenFile(token_file);
    if (!t.ok()) return t.status();
    o->auth_token = *t;
  }
  if (tls || !tls_ca_file.empty()) {
    o->tls = true;
    if (!tls_ca_file.empty()) {
      auto ca = ReadFileToString(tls_ca_file, 1 << 20);
      if (!ca.ok()) return ca.status();
      o->tls_ca_pem = *ca;
    }
  }
  return absl::OkStatus();
}

bool IsTransient(const grpc::Status& s) {
  switch (s.error_code()) {
    case grpc::StatusCode::UNAVAILABLE:
    case grpc::StatusCode::DEADLINE_EXCEEDED:
    case grpc::StatusCode::RESOURCE_EXHAUSTED:
    case grpc::StatusCode::ABORTED:
    case grpc::StatusCode::INTERNAL:
    case grpc::StatusCode::UNKNOWN:
      return true;
    default:
      return false;
  }
}

absl::StatusOr<std::string> ReadTokenFile(const std::string& path) {
  auto s = qgrid::ReadFileToString(path, 4096);
  if (!s.ok()) return s.status();
  std::string t(absl::StripAsciiWhitespace(*s));
  if (t.empty()) return absl::InvalidArgumentError(path + ": empty token");
  return t;
}

}  // namespace qgrid::rpc
