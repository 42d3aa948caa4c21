// chronograph end to end on Windows, under wine: the service installed, started and
// stopped through the SCM API running a real job; a timeout that must stop a process
// tree; non-ASCII job names, paths and output.
#include <windows.h>

#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <thread>

#include "platform/windows/utf_windows.h"
#include "tests/util/tool_fixture.h"

namespace cg {
namespace {

using nlohmann::json;
using testing::RunOutput;

std::string WinPath(std::string p) {
  for (char& c : p) {
    if (c == '/') c = '\\';
  }
  return p;
}

class WindowsE2eTest : public testing::ToolTest {
 protected:
  WindowsE2eTest() { data_ = WinPath(data_); }
  std::string Helper() { return WinPath(testing::BinPath("tree_helper")); }
};

TEST_F(WindowsE2eTest, ServiceThroughTheScmRunsAJob) {
  Ok({"job", "add", "hello", "--schedule", "@yearly", "--", Helper(), "say", "from the service"});
  SC_HANDLE scm = OpenSCManagerW(nullptr, nullptr, SC_MANAGER_ALL_ACCESS);
  ASSERT_NE(scm, nullptr) << GetLastError();
  std::wstring name = L"chronograph-test-" + std::to_wstring(GetCurrentProcessId());
  std::wstring cmd = L"\"" + platform::ToUtf16(WinPath(testing::BinPath("chronographd"))) +
                     L"\" --data \"" + platform::ToUtf16(data_) + L"\"";
  SC_HANDLE svc = CreateServiceW(scm, name.c_str(), name.c_str(), SERVICE_ALL_ACCESS,
                                 SERVICE_WIN32_OWN_PROCESS, SERVICE_DEMAND_START,
                                 SERVICE_ERROR_NORMAL, cmd.c_str(), nullptr, nullptr, nullptr,
                                 nullptr, nullptr);
  ASSERT_NE(svc, nullptr) << GetLastError();
  ASSERT_TRUE(StartServiceW(svc, 0, nullptr)) << GetLastError();
  SERVICE_STATUS st{};
  for (int i = 0; i < 100 && QueryServiceStatus(svc, &st) && st.dwCurrentState != SERVICE_RUNNING; ++i) {
    Sleep(100);
  }
  EXPECT_EQ(st.dwCurrentState, static_cast<DWORD>(SERVICE_RUNNING));
  // RUNNING means replayed and started: the log says so already.
  json status = json::parse(Ok({"status", "--json"}));
  EXPECT_EQ(status["service"]["running"], true);
  RunOutput run = Tool({"run", "hello", "--wait"});
  EXPECT_EQ(run.exit_code, 0) << run.err;
  EXPECT_EQ(run.out.rfind("from the service\n", 0), 0u) << run.out;
  json runs = json::parse(Ok({"runs", "--json"}));
  ASSERT_EQ(runs.size(), 1u);
  EXPECT_EQ(runs[0]["status"], "succeeded");
  ASSERT_TRUE(ControlService(svc, SERVICE_CONTROL_STOP, &st)) << GetLastError();
  for (int i = 0; i < 100 && QueryServiceStatus(svc, &st) && st.dwCurrentState != SERVICE_STOPPED; ++i) {
    Sleep(100);
  }
  EXPECT_EQ(st.dwCurrentState, static_cast<DWORD>(SERVICE_STOPPED));
  DeleteService(svc);
  CloseServiceHandle(svc);
  CloseServiceHandle(scm);
  std::string replay = Ok({"replay"});
  EXPECT_NE(replay.find("ServiceStarted"), std::string::npos);
  EXPECT_NE(replay.find("ServiceStopped"), std::string::npos);
  EXPECT_EQ(Tool({"verify"}).exit_code, 0);
  // The service logs to a file under the data directory.
  std::ifstream log(std::filesystem::path(platform::ToUtf16(data_ + "\\logs\\chronographd.log")));
  std::string text((std::istreambuf_iterator<char>(log)), {});
  EXPECT_NE(text.find("ready"), std::string::npos) << text;
}

TEST_F(WindowsE2eTest, TimeoutStopsTheWholeTree) {
  std::string pidfile = WinPath(tmp_.Sub("child.pid"));
  Ok({"job", "add", "tree", "--schedule", "@yearly", "--timeout", "2s", "--", Helper(), "tree",
      pidfile});
  auto start = std::chrono::steady_clock::now();
  RunOutput r = Tool({"run", "tree", "--wait"});
  double took = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_EQ(r.exit_code, 124) << r.err;
  EXPECT_LT(took, 30.0);
  json runs = json::parse(Ok({"runs", "--json"}));
  ASSERT_EQ(runs.size(), 1u);
  EXPECT_EQ(runs[0]["status"], "timed_out");
  std::ifstream in(std::filesystem::path(platform::ToUtf16(pidfile)));
  DWORD child = 0;
  in >> child;
  ASSERT_NE(child, 0u);
  HANDLE h = OpenProcess(SYNCHRONIZE, FALSE, child);
  if (h) {
    EXPECT_EQ(WaitForSingleObject(h, 5000), static_cast<DWORD>(WAIT_OBJECT_0))
        << "the child outlived the timeout";
    CloseHandle(h);
  }
}

TEST_F(WindowsE2eTest, NonAsciiNamesPathsAndOutput) {
  std::string dir = WinPath(tmp_.Sub("d\xc3\xa9j\xc3\xa0 vu \xe6\x97\xa5\xe6\x9c\xac"));
  ASSERT_TRUE(CreateDirectoryW(platform::ToUtf16(dir).c_str(), nullptr));
  data_ = dir + "\\donn\xc3\xa9" "es";
  std::string name = "r\xc3\xa9sum\xc3\xa9-\xe6\x97\xa5\xe5\xa0\xb1";
  std::string text = "h\xc3\xa9llo w\xc3\xb6rld \xe2\x9c\x93";
  Ok({"job", "add", name, "--schedule", "@yearly", "--cwd", dir, "--description", text, "--",
      Helper(), "say", text});
  RunOutput r = Tool({"run", name, "--wait"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, text + "\n" + dir + "\n");
  json job = json::parse(Ok({"job", "show", name, "--json"}));
  EXPECT_EQ(job["name"], name);
  EXPECT_EQ(job["description"], text);
  EXPECT_EQ(job["working_dir"], dir);
  json runs = json::parse(Ok({"runs", "--json"}));
  ASSERT_EQ(runs.size(), 1u);
  EXPECT_EQ(runs[0]["job"], name);
  EXPECT_EQ(Ok({"log", std::to_string(runs[0]["id"].get<uint64_t>()), "--stdout"}),
            text + "\n" + dir + "\n");
  EXPECT_EQ(Tool({"verify"}).exit_code, 0);
}

}  // namespace
}  // namespace cg
