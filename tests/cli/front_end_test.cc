// The two executables behind `qgrid` (cli/commands.h): the front end links
// no libtorch, lists every command with the exit-code policy, and runs
// qgrid-torch for the commands that load models.
#include <gtest/gtest.h>

#include <cstdio>
#include <string>

#include "cli/commands.h"
#include "tests/test_util.h"

namespace qgrid::cli {
namespace {

using ::qgrid::testing::QgridBinary;
using ::qgrid::testing::RunQgrid;

std::string Shell(const std::string& cmd) {
  std::string out;
  FILE* p = popen(cmd.c_str(), "r");
  if (!p) return out;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  pclose(p);
  return out;
}

TEST(QgridFrontEnd, LinksNoLibtorch) {
  std::string deps = Shell("ldd " + QgridBinary());
  ASSERT_NE(deps.find("libgrpc"), std::string::npos) << deps;  // ldd worked
  EXPECT_EQ(deps.find("libtorch"), std::string::npos) << deps;
  EXPECT_EQ(deps.find("libc10"), std::string::npos) << deps;
  // ...while the other half does.
  std::string torch =
      Shell("ldd " + qgrid::testing::BinaryDir() + "/cli/qgrid-torch");
  EXPECT_NE(torch.find("libtorch"), std::string::npos) << torch;
}

TEST(QgridFrontEnd, HelpListsEveryCommandAndTheExitCodes) {
  auto r = RunQgrid("--help");
  ASSERT_EQ(r.code, 0);
  for (const char* c : {"coordinator", "submit", "status", "watch", "cancel",
                        "retry", "workers", "results", "tasks"}) {
    EXPECT_NE(r.out.find(std::string("  ") + c + " "), std::string::npos) << c;
  }
  for (const CommandInfo& c : kTorchCommands) {
    EXPECT_NE(r.out.find(std::string("  ") + c.name + " "), std::string::npos)
        << c.name;
  }
  EXPECT_NE(r.out.find("Exit codes: 0 success"), std::string::npos) << r.out;
}

TEST(QgridFrontEnd, RunsQgridTorchForModelCommands) {
  // `quantize --help` is answered by qgrid-torch, with its flags.
  auto r = RunQgrid("quantize --help");
  ASSERT_EQ(r.code, 0);
  EXPECT_NE(r.out.find("--method"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("Usage: qgrid quantize"), std::string::npos) << r.out;
}

TEST(QgridFrontEnd, SaysWhatIsMissingWithoutQgridTorch) {
  auto r = RunQgrid("eval --model m --task arc_easy", /*with_stderr=*/true,
                    "QGRID_TORCH_EXE=/nonexistent/qgrid-torch");
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.out.find("`eval` needs the libtorch part of qgrid"),
            std::string::npos)
      << r.out;
  // The front end's own commands still work.
  EXPECT_EQ(RunQgrid("tasks", false, "QGRID_TORCH_EXE=/nonexistent").code, 0);
}

}  // namespace
}  // namespace qgrid::cli
