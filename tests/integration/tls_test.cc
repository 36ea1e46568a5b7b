// TLS between the coordinator and its workers/clients, with REAL processes
// on 127.0.0.1: a self-signed certificate is made at test time with
// /usr/bin/openssl (the test skips, saying so, when openssl is absent); the
// coordinator serves with --tls-cert/--tls-key, a worker and the client trust
// it through --tls-ca and run a sweep to the end; a plaintext client and a
// TLS client that does not trust the certificate are refused. The same
// coordinator writes its Prometheus metrics file (--metrics-file).
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <memory>

#include "nlohmann/json.hpp"
#include "tests/integration/proc_util.h"
#include "tests/test_util.h"

namespace qgrid::testing {
namespace {

using json = nlohmann::json;

constexpr char kOpenssl[] = "/usr/bin/openssl";

class TlsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (access(kOpenssl, X_OK) != 0) {
      GTEST_SKIP() << kOpenssl
                   << " is absent: cannot make a certificate for the TLS test";
    }
    dir_ = MakeTempDir("tls");
    cert_ = dir_ + "/cert.pem";
    key_ = dir_ + "/key.pem";
    // A P-256 key (fast to make) and a one-day self-signed certificate valid
    // for the loopback address the coordinator prints, and for localhost.
    std::string cmd = std::string(kOpenssl) +
                      " req -x509 -newkey ec -pkeyopt "
                      "ec_paramgen_curve:prime256v1 -nodes -days 1 -subj "
                      "/CN=localhost -addext "
                      "subjectAltName=DNS:localhost,IP:127.0.0.1 -keyout " +
                      key_ + " -out " + cert_ + " >" + dir_ +
                      "/openssl.log 2>&1";
    ASSERT_EQ(std::system(cmd.c_str()), 0) << Slurp(dir_ + "/openssl.log");
  }
  void TearDown() override {
    procs_.clear();
    if (!dir_.empty()) std::filesystem::remove_all(dir_);
  }

  Proc* Start(std::vector<std::string> args, const std::string& tag) {
    procs_.push_back(std::make_unique<Proc>(args, dir_, tag));
    return procs_.back().get();
  }

  std::string dir_, cert_, key_;
  std::vector<std::unique_ptr<Proc>> procs_;
};

TEST_F(TlsTest, WorkerAndClientTalkOverTlsAndPlaintextIsRefused) {
  Proc* coord =
      Start({"coordinator", "--db", dir_ + "/q.db", "--listen", "127.0.0.1:0",
             "--tls-cert", cert_, "--tls-key", key_, "--heartbeat-ms", "100",
             "--idle-retry-ms", "50", "--metrics-file", dir_ + "/qgrid.prom",
             "--metrics-interval-ms", "100"},
            "coord");
  std::string addr = WaitForAddress(*coord);
  ASSERT_FALSE(addr.empty()) << coord->err();
  Start({"worker", "--coordinator", addr, "--tls-ca", cert_, "--name", "wT"},
        "worker");
  std::string spec = dir_ + "/spec.yaml";
  std::ofstream(spec)
      << "name: tls\nkind: synthetic\nmodels: [{name: m}]\n"
         "methods: [{name: rtn, bits: [4, 3]}]\n"
         "tests: [{name: a, split: '0'}, {name: b, split: '1'}]\n"
         "synthetic: {duration_ms: 10}\n";
  std::string out, err;
  ASSERT_EQ(RunQgrid({"submit", spec, "--coordinator", addr, "--tls-ca", cert_,
                      "--json"},
                     dir_, &out, &err),
            0)
      << err;
  json sub = json::parse(out, nullptr, false);
  ASSERT_TRUE(sub.is_object()) << out;
  std::string id = sub.value("sweep_id", "");
  ASSERT_FALSE(id.empty());
  ASSERT_EQ(RunQgrid({"watch", id, "--coordinator", addr, "--tls-ca", cert_,
                      "--json"},
                     dir_, &out, &err, 30000),
            0)
      << err;
  json st = json::parse(out, nullptr, false);
  ASSERT_TRUE(st.is_object()) << out;
  EXPECT_EQ(st.value("state", ""), "finished") << out;
  json done = st.value("done", json());
  EXPECT_EQ(done.is_string() ? std::stoll(done.get<std::string>())
                             : done.get<int64_t>(),
            4)
      << out;

  // The monitoring file (--metrics-file) catches up with the sweep.
  bool seen = false;
  for (int i = 0; i < 100 && !seen; ++i) {
    std::string prom = Slurp(dir_ + "/qgrid.prom");
    seen = prom.find("qgrid_jobs{state=\"done\"} 4\n") != std::string::npos &&
           prom.find("qgrid_jobs_dispatched_total 4\n") != std::string::npos;
    if (!seen) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_TRUE(seen) << Slurp(dir_ + "/qgrid.prom");

  // A plaintext client cannot even complete a call.
  EXPECT_NE(
      RunQgrid({"status", id, "--coordinator", addr, "--timeout-ms", "1500"},
               dir_, &out, &err),
      0);
  EXPECT_NE(err.find("unreachable"), std::string::npos) << err;
  // Nor can a TLS client that does not trust this certificate (it checks
  // the system roots).
  EXPECT_NE(RunQgrid({"status", id, "--coordinator", addr, "--tls",
                      "--timeout-ms", "1500"},
                     dir_, &out, &err),
            0);
}

}  // namespace
}  // namespace qgrid::testing
