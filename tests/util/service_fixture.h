// A fixture that runs the real chronographd on a temporary data directory and reads
// back what happened through chronotool (POSIX only: signals, /proc). Shared by the
// end-to-end tests (tests/e2e) and the fault tests (tests/fault).
#pragma once

#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "tests/util/tool_fixture.h"

namespace cg::testing {

// Polls cond every 100 ms until it holds or `seconds` pass; its last value.
inline bool WaitFor(const std::function<bool()>& cond, double seconds) {
  auto end = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  while (std::chrono::steady_clock::now() < end) {
    if (cond()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return cond();
}

inline pid_t PidFrom(const std::string& pidfile) {
  std::ifstream in(pidfile);
  pid_t pid = 0;
  in >> pid;
  return pid;
}

// True when process `pid` is gone (or a zombie: dead, not yet reaped by its new
// parent) within `seconds`.
inline bool EndsWithin(pid_t pid, double seconds) {
  return WaitFor([&] {
    std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
    std::string field_pid, comm, state;
    return !(stat >> field_pid >> comm >> state) || state == "Z";
  }, seconds);
}

inline void Sleep(double seconds) {
  std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
}

class ServiceTest : public ToolTest {
 protected:
  using json = nlohmann::json;

  ~ServiceTest() override {
    if (service_pid_ > 0) {
      kill(static_cast<pid_t>(service_pid_), SIGKILL);
      WaitProgram(service_pid_);
    }
    // Let shims of this test end before the directory goes.
    WaitFor([&] { return ActiveRuns() == 0; }, 15);
  }

  void StartService(const std::vector<std::string>& extra = {}) {
    std::vector<std::string> argv = {BinPath("chronographd"), "--data", data_, "--log-level",
                                     "warn"};
    argv.insert(argv.end(), extra.begin(), extra.end());
    if (!service_log_.empty()) {
      // Through a shell that appends the service's stderr (its log) to service_log_.
      argv.insert(argv.begin(), {"/bin/sh", "-c", "exec \"$0\" \"$@\" 2>>" + service_log_});
    }
    service_pid_ = StartProgram(argv);
    ASSERT_GT(service_pid_, 0);
    ASSERT_TRUE(WaitFor([&] { return Status()["service"]["running"] == true; }, 10));
  }
  void StopService(int sig = SIGTERM) {
    ASSERT_GT(service_pid_, 0);
    kill(static_cast<pid_t>(service_pid_), sig);
    int rc = WaitProgram(service_pid_);
    if (sig == SIGTERM) {
      EXPECT_EQ(rc, 0);
    }
    service_pid_ = 0;
  }
  json Status() {
    RunOutput r = Tool({"status", "--json"});
    return r.exit_code == 0 ? json::parse(r.out) : json::object();
  }
  json Runs(const std::string& job = "") {
    std::vector<std::string> args = {"runs", "--json", "--limit", "100000"};
    if (!job.empty()) args.insert(args.end(), {"--job", job});
    RunOutput r = Tool(args);
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return r.exit_code == 0 ? json::parse(r.out) : json::array();
  }
  size_t ActiveRuns() {
    if (!std::filesystem::exists(data_)) return 0;
    json s = Status();
    return s.contains("active_runs") ? s["active_runs"].size() : 0;
  }
  static size_t Count(const json& runs, const std::string& status) {
    size_t n = 0;
    for (const auto& r : runs) n += r["status"] == status;
    return n;
  }
  // Every event, from `chronotool replay --json`.
  std::vector<json> Events() {
    RunOutput r = Tool({"replay", "--json"});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    std::vector<json> out;
    std::istringstream in(r.out);
    std::string line;
    while (std::getline(in, line)) out.push_back(json::parse(line));
    return out;
  }
  void ExpectVerified() {
    RunOutput r = Tool({"verify"});
    EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  }
  // No slot (job, scheduled time) was claimed twice, and no run started twice.
  void ExpectNoDoubledSlot() {
    std::set<std::pair<std::string, std::string>> slots;
    std::set<uint64_t> started;
    for (const json& e : Events()) {
      if (e["type"] == "RunScheduled" && e["trigger"] != "request") {
        std::pair<std::string, std::string> slot(e["job"].get<std::string>(),
                                                 e["scheduled_for"].get<std::string>());
        EXPECT_TRUE(slots.insert(slot).second) << e.dump();
      }
      if (e["type"] == "RunStarted") {
        EXPECT_TRUE(started.insert(e["run_id"].get<uint64_t>()).second) << e.dump();
      }
    }
  }

  // What the service logged, when service_log_ names a file.
  std::string ServiceLog() {
    std::ifstream in(service_log_);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  }

  long service_pid_ = 0;
  std::string service_log_;  // when set, the service's stderr is appended here
};

}  // namespace cg::testing
