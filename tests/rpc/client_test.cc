// The RPC client helpers: status conversion both ways, credentials read
// from files, and the hint an unreachable coordinator gets.
#include "rpc/client.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "rpc/coordinator_client.h"
#include "tests/test_util.h"

namespace qgrid::rpc {
namespace {

TEST(RpcStatus, ConvertsBothWaysKeepingCodeAndMessage) {
  absl::Status s = absl::InvalidArgumentError("spec.yaml:3:5: bad bits");
  grpc::Status g = ToGrpc(s);
  EXPECT_EQ(g.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(g.error_message(), "spec.yaml:3:5: bad bits");
  EXPECT_EQ(FromGrpc(g), s);
  EXPECT_TRUE(ToGrpc(absl::OkStatus()).ok());
  EXPECT_TRUE(FromGrpc(grpc::Status::OK).ok());
}

TEST(RpcStatus, UnreachableCoordinatorSaysWhatToDo) {
  absl::Status s = FromGrpcWithHint(
      grpc::Status(grpc::StatusCode::UNAVAILABLE, "connection refused"),
      "10.0.0.1:1");
  EXPECT_EQ(s.code(), absl::StatusCode::kUnavailable);
  EXPECT_NE(s.message().find("coordinator 10.0.0.1:1 unreachable"),
            std::string::npos)
      << s;
  EXPECT_NE(s.message().find("qgrid coordinator"), std::string::npos) << s;
  // Other errors pass through unchanged.
  absl::Status nf = FromGrpcWithHint(
      grpc::Status(grpc::StatusCode::NOT_FOUND, "no sweep x"), "a:1");
  EXPECT_EQ(nf, absl::NotFoundError("no sweep x"));
}

TEST(RpcCredentials, ReadsTheTokenTrimmedAndNamesAMissingFile) {
  std::string dir = qgrid::testing::MakeTempDir("rpc");
  std::ofstream(dir + "/token") << "  s3cret\n";
  std::ofstream(dir + "/empty") << " \n";
  RpcOptions o;
  ASSERT_TRUE(LoadClientCredentials(dir + "/token", "", false, &o).ok());
  EXPECT_EQ(o.auth_token, "s3cret");
  EXPECT_FALSE(o.tls);

  absl::Status empty = LoadClientCredentials(dir + "/empty", "", false, &o);
  EXPECT_EQ(empty.code(), absl::StatusCode::kInvalidArgument);
  absl::Status missing =
      LoadClientCredentials("", dir + "/no-ca.pem", false, &o);
  EXPECT_EQ(missing.code(), absl::StatusCode::kNotFound);
  EXPECT_NE(missing.message().find(dir + "/no-ca.pem"), std::string::npos);

  RpcOptions t;
  ASSERT_TRUE(LoadClientCredentials("", "", true, &t).ok());
  EXPECT_TRUE(t.tls);
  EXPECT_TRUE(t.tls_ca_pem.empty());  // system roots
  std::filesystem::remove_all(dir);
}

TEST(CoordinatorClient, NoCoordinatorIsAnUnreachableErrorWithinTheDeadline) {
  RpcOptions o;
  o.address = "127.0.0.1:1";  // nothing listens on port 1
  o.deadline_ms = 300;
  CoordinatorClient c(o);
  auto st = c.GetStatus("s1");
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.status().message().find("unreachable"), std::string::npos)
      << st.status();
}

}  // namespace
}  // namespace qgrid::rpc
