// Faults: chronographd and its run shims killed or stopped at random moments, a full
// disk, jobs that misbehave, and several writers at once. Each test checks that
// nothing is lost (every slot decided exactly once, every committed event kept), that
// nothing runs twice, and that every run ends recorded with a status and a reason.
//
// The short form runs in ctest. CHRONOGRAPH_FAULT_ROUNDS raises the number of
// rounds (scripts/faults.sh: 50); the random seed is printed and can be fixed with
// CHRONOGRAPH_FAULT_SEED.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "tests/util/service_fixture.h"

namespace cg {
namespace {

using nlohmann::json;
using testing::EndsWithin;
using testing::PidFrom;
using testing::RunOutput;
using testing::Sleep;
using testing::WaitFor;

int Rounds(int short_form) {
  const char* v = getenv("CHRONOGRAPH_FAULT_ROUNDS");
  int n = v ? atoi(v) : 0;
  return n > 0 ? n : short_form;
}

uint32_t Seed() {
  const char* v = getenv("CHRONOGRAPH_FAULT_SEED");
  uint32_t seed = v ? static_cast<uint32_t>(strtoul(v, nullptr, 10))
                    : static_cast<uint32_t>(time(nullptr) ^ getpid());
  std::cout << "CHRONOGRAPH_FAULT_SEED=" << seed << std::endl;
  return seed;
}

// "2026-11-27T10:00:00.123456Z" -> microseconds since the epoch; 0 for null.
int64_t Micros(const json& t) {
  if (!t.is_string()) return 0;
  std::string s = t.get<std::string>();
  struct tm tm;
  memset(&tm, 0, sizeof(tm));
  const char* rest = strptime(s.c_str(), "%Y-%m-%dT%H:%M:%S", &tm);
  EXPECT_NE(rest, nullptr) << s;
  if (!rest) return 0;
  int64_t us = static_cast<int64_t>(timegm(&tm)) * 1000000;
  if (*rest == '.') {
    int64_t frac = 0, scale = 100000;
    for (++rest; *rest >= '0' && *rest <= '9'; ++rest, scale /= 10) frac += (*rest - '0') * scale;
    us += frac;
  }
  return us;
}

int64_t NowUs() {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000000 + ts.tv_nsec / 1000;
}

std::set<std::string> Terminal() {
  return {"succeeded", "failed", "timed_out", "stopped", "abandoned", "skipped"};
}

class FaultTest : public testing::ServiceTest {
 protected:
  std::vector<std::string> LockFiles() {
    std::vector<std::string> out;
    std::error_code ec;
    for (const auto& e : std::filesystem::directory_iterator(data_ + "/locks", ec)) {
      out.push_back(e.path().string());
    }
    return out;
  }

  // Stops scheduling and lets every run end: disables the jobs, waits until no run
  // is active, then stops the service cleanly.
  void Quiesce(const std::vector<std::string>& jobs, double seconds) {
    for (const auto& j : jobs) Ok({"job", "disable", j});
    EXPECT_TRUE(WaitFor([&] { return ActiveRuns() == 0; }, seconds)) << Status().dump();
    StopService();
  }

  // Every slot of `job` between its first and last decided slot (a step of
  // `step_us`) was decided exactly once: claimed or skipped, never lost.
  void ExpectEverySlotDecided(const std::string& job, int64_t step_us) {
    std::set<int64_t> slots;
    for (const json& e : Events()) {
      if (e.value("job", "") != job) continue;
      bool slot = (e["type"] == "RunScheduled" && e["trigger"] != "request") ||
                  (e["type"] == "RunSkipped" && e["reason"] != "dst" && e["request_seq"].is_null());
      if (slot) {
        EXPECT_TRUE(slots.insert(Micros(e["scheduled_for"])).second) << e.dump();
      }
    }
    ASSERT_FALSE(slots.empty()) << job;
    size_t expected = static_cast<size_t>((*slots.rbegin() - *slots.begin()) / step_us) + 1;
    EXPECT_EQ(slots.size(), expected) << job << ": slots were lost between "
                                      << *slots.begin() << " and " << *slots.rbegin();
  }
};

// ---- the service killed ----

TEST_F(FaultTest, ServiceKilledAtRandomMomentsLosesNothingAndDoublesNothing) {
  const int rounds = Rounds(10);
  std::mt19937 rng(Seed());
  std::vector<std::string> jobs;
  for (int i = 0; i < 4; ++i) {
    jobs.push_back("tick" + std::to_string(i));
    Ok({"job", "add", jobs.back(), "--schedule", "* * * * * *", "--shell",
        "echo $CHRONOGRAPH_RUN_ID; sleep 0.$((CHRONOGRAPH_RUN_ID % 10))"});
  }
  jobs.push_back("queued");
  // Shorter than its period, so runs queue only behind a catch-up (a longer one would
  // grow the queue without end, whatever the faults).
  Ok({"job", "add", "queued", "--schedule", "* * * * * *", "--overlap", "queue", "--", "/bin/sleep",
      "0.6"});
  jobs.push_back("every-two");
  Ok({"job", "add", "every-two", "--schedule", "*/2 * * * * *", "--missed", "all", "--overlap",
      "queue", "--", "/bin/true"});
  std::uniform_real_distribution<double> up(0.1, 1.5), down(0.0, 1.2);
  StartService({"--lock-timeout", "3"});
  for (int round = 0; round < rounds; ++round) {
    Sleep(up(rng));
    StopService(SIGKILL);
    Sleep(down(rng));
    StartService({"--lock-timeout", "3"});
  }
  Sleep(2.5);
  // The scheduler picked every job up again: each one's next run is its next slot.
  int64_t now = NowUs();
  for (const auto& j : jobs) {
    json show = json::parse(Ok({"job", "show", j, "--json"}));
    int64_t next = Micros(show["next_run"]);
    int64_t step = j == "every-two" ? 2000000 : 1000000;
    EXPECT_GT(next, now - 1000000) << j;
    EXPECT_LE(next, now + step + 500000) << j;
    EXPECT_EQ(next % step, 0) << j;
  }
  // The restarted service is claiming slots again.
  uint64_t seen = Runs("tick0").size();
  EXPECT_TRUE(WaitFor([&] { return Runs("tick0").size() >= seen + 2; }, 5));
  Quiesce(jobs, 30);

  ExpectVerified();
  ExpectNoDoubledSlot();
  json runs = Runs();
  for (const auto& r : runs) {
    EXPECT_TRUE(Terminal().count(r["status"])) << r.dump();
    if (r["status"] == "failed" || r["status"] == "abandoned") {
      EXPECT_TRUE(r["reason"].is_string()) << r.dump();
    }
  }
  // Only the service was killed: every shim lived, so no run was abandoned.
  EXPECT_EQ(Count(runs, "abandoned"), 0u) << runs.dump();
  EXPECT_GE(Count(runs, "succeeded"), static_cast<size_t>(rounds));
  for (const auto& j : jobs) ExpectEverySlotDecided(j, j == "every-two" ? 2000000 : 1000000);
  EXPECT_EQ(LockFiles(), std::vector<std::string>()) << "a lock file outlived its run";
}

// ---- run shims killed or stopped ----

TEST_F(FaultTest, ShimsKilledAtRandomMomentsAreAbandonedAndNeverRunAgain) {
  const int rounds = Rounds(10);
  std::mt19937 rng(Seed());
  std::vector<std::string> jobs;
  for (int i = 0; i < 3; ++i) {
    jobs.push_back("work" + std::to_string(i));
    Ok({"job", "add", jobs.back(), "--schedule", "* * * * * *", "--", "/bin/sleep", "1.5"});
  }
  StartService({"--lock-timeout", "2"});
  std::set<uint64_t> killed;
  for (int round = 0; round < rounds; ++round) {
    Sleep(std::uniform_real_distribution<double>(0.2, 0.8)(rng));
    if (round % 3 == 2) {
      // Some shims are then no longer the service's children: noticed by their lock.
      StopService(SIGKILL);
      StartService({"--lock-timeout", "2"});
    }
    json active = Status()["active_runs"];
    std::vector<json> running;
    for (const auto& r : active) {
      if (r["status"] == "running" && r["pid"].is_number()) running.push_back(r);
    }
    if (running.empty()) continue;
    const json& victim = running[std::uniform_int_distribution<size_t>(0, running.size() - 1)(rng)];
    if (kill(static_cast<pid_t>(victim["pid"].get<int64_t>()), SIGKILL) == 0) {
      killed.insert(victim["id"].get<uint64_t>());
    }
  }
  Quiesce(jobs, 30);
  ASSERT_FALSE(killed.empty());
  ExpectVerified();
  ExpectNoDoubledSlot();
  json runs = Runs();
  // A lock file is runID-....lock; an ended run no longer names its own (RunStarted
  // does), so the name says whose it is.
  std::set<std::string> orphan_locks;
  for (const auto& f : LockFiles()) {
    const std::string name = std::filesystem::path(f).filename().string();
    uint64_t id = 0;
    if (name.rfind("run", 0) == 0) id = std::strtoull(name.c_str() + 3, nullptr, 10);
    if (!killed.count(id)) orphan_locks.insert(f);
  }
  for (const auto& r : runs) {
    EXPECT_TRUE(Terminal().count(r["status"])) << r.dump();
    uint64_t id = r["id"].get<uint64_t>();
    if (!killed.count(id)) continue;
    // A shim killed just as its command ended may have recorded the end first.
    if (r["status"] != "succeeded") {
      EXPECT_EQ(r["status"], "abandoned") << r.dump();
      EXPECT_TRUE(r["reason"].is_string()) << r.dump();
    }
  }
  // Lock files left behind belong to killed shims only (see KilledShimsLockFileIsRemoved).
  EXPECT_TRUE(orphan_locks.empty()) << "lock files of runs that were not killed: "
                                    << json(orphan_locks).dump();
  for (const auto& j : jobs) ExpectEverySlotDecided(j, 1000000);
}

TEST_F(FaultTest, KilledShimsLockFileIsRemovedWhenItsRunIsAbandoned) {
  Ok({"job", "add", "slow", "--schedule", "@yearly", "--", "/bin/sleep", "3"});
  StartService({"--lock-timeout", "2"});
  Ok({"run", "slow"});
  ASSERT_TRUE(WaitFor([&] { return Count(Runs("slow"), "running") == 1; }, 10));
  json run = Runs("slow")[0];
  ASSERT_EQ(kill(static_cast<pid_t>(run["pid"].get<int64_t>()), SIGKILL), 0);
  ASSERT_TRUE(WaitFor([&] { return Count(Runs("slow"), "abandoned") == 1; }, 10));
  Sleep(1);
  StopService();
  ExpectVerified();
  EXPECT_TRUE(LockFiles().empty()) << "the abandoned run's lock file is removed";
}

TEST_F(FaultTest, ShimStoppedPastTheLockTimeoutIsAbandonedAndItsLateEndIsKeptApart) {
  Ok({"job", "add", "nap", "--schedule", "@yearly", "--shell", "sleep 2; echo done"});
  // --idle-shims 0: the shim ends after its run, not kept for another.
  StartService({"--lock-timeout", "2", "--idle-shims", "0"});
  Ok({"run", "nap"});
  ASSERT_TRUE(WaitFor([&] { return Count(Runs("nap"), "running") == 1; }, 10));
  json run = Runs("nap")[0];
  pid_t shim = static_cast<pid_t>(run["pid"].get<int64_t>());
  ASSERT_EQ(kill(shim, SIGSTOP), 0);
  // Its lock goes stale: abandoned within the lock timeout and a little.
  bool abandoned = WaitFor([&] { return Count(Runs("nap"), "abandoned") == 1; }, 6);
  kill(shim, SIGCONT);
  ASSERT_TRUE(abandoned) << Runs("nap").dump();
  // Resumed, the shim records the end; the fold keeps it as late, not as a revival.
  ASSERT_TRUE(WaitFor([&] { return Runs("nap")[0]["finished_late"] == true; }, 15))
      << Runs("nap").dump();
  json runs = Runs("nap");
  ASSERT_EQ(runs.size(), 1u) << "the slot ran again";
  EXPECT_EQ(runs[0]["status"], "abandoned");
  EXPECT_NE(runs[0]["reason"].get<std::string>().find("lock file"), std::string::npos)
      << runs[0].dump();
  EXPECT_EQ(runs[0]["stdout_bytes"], 5);
  EXPECT_EQ(Tool({"log", std::to_string(runs[0]["id"].get<uint64_t>()), "--stdout"}).out, "done\n");
  EXPECT_EQ(ActiveRuns(), 0u);
  EXPECT_TRUE(EndsWithin(shim, 5));
  // The service carries on: the job runs again on request.
  Ok({"run", "nap"});
  EXPECT_TRUE(WaitFor([&] { return Count(Runs("nap"), "succeeded") == 1; }, 10));
  StopService();
  ExpectVerified();
  EXPECT_EQ(LockFiles(), std::vector<std::string>());
}

// ---- jobs that misbehave ----

TEST_F(FaultTest, UnkindJobsEachEndInARecordedRunWithAStatusAndAReason) {
  std::string daemon_pid = tmp_.Sub("daemon.pid");
  struct Job {
    std::string name;
    std::vector<std::string> args;
  };
  std::vector<Job> jobs = {
      {"flood", {"--shell", "head -c 100000000 /dev/zero"}},
      {"binary", {"--shell", "printf '\\377\\376\\000\\001caf\\351\\300\\200'; printf '\\377' >&2"}},
      {"closes-stdout", {"--shell", "exec 1>&-; sleep 0.3; echo still here >&2"}},
      {"daemon", {"--shell", "sleep 60 & echo $! > " + daemon_pid + "; echo forked"}},
      {"ignores-term", {"--timeout", "1s", "--shell", "trap '' TERM; while :; do sleep 0.1; done"}},
      {"reads-stdin", {"--shell", "read line; echo \"read=$?\""}},
      {"ignores-stdin", {"--", "/bin/sleep", "0.2"}},
      {"no-program", {"--", "/no/such/program", "arg"}},
      {"no-cwd", {"--cwd", "/no/such/directory", "--", "/bin/true"}},
      {"no-user", {"--user", "no-such-user-cg", "--", "/bin/true"}},
  };
  for (const auto& j : jobs) {
    std::vector<std::string> args = {"job", "add", j.name, "--schedule", "@yearly"};
    args.insert(args.end(), j.args.begin(), j.args.end());
    Ok(args);
  }
  StartService();
  for (const auto& j : jobs) Ok({"run", j.name});
  // The slowest: ignores-term, 1 s timeout + 10 s before SIGKILL.
  std::map<std::string, json> run;
  ASSERT_TRUE(WaitFor([&] {
    for (const auto& j : jobs) {
      json rs = Runs(j.name);
      if (rs.size() != 1 || !Terminal().count(rs[0]["status"])) return false;
      run[j.name] = rs[0];
    }
    return true;
  }, 45)) << Runs().dump();
  StopService();
  auto stdout_of = [&](const std::string& name) {
    return Tool({"log", std::to_string(run[name]["id"].get<uint64_t>()), "--stdout"}).out;
  };
  EXPECT_EQ(run["flood"]["status"], "succeeded") << run["flood"].dump();
  EXPECT_EQ(run["flood"]["stdout_bytes"], 100000000);
  std::string flood = stdout_of("flood");
  EXPECT_LT(flood.size(), (size_t{1} << 20) + 200);
  EXPECT_GT(flood.size(), size_t{1} << 20);

  EXPECT_EQ(run["binary"]["status"], "succeeded");
  EXPECT_EQ(stdout_of("binary"), std::string("\xff\xfe\x00\x01" "caf\xe9\xc0\x80", 10));
  EXPECT_EQ(Tool({"log", std::to_string(run["binary"]["id"].get<uint64_t>()), "--stderr"}).out,
            "\xff");

  EXPECT_EQ(run["closes-stdout"]["status"], "succeeded");
  EXPECT_EQ(run["closes-stdout"]["stderr_bytes"], 11);

  EXPECT_EQ(run["daemon"]["status"], "succeeded");
  EXPECT_EQ(stdout_of("daemon"), "forked\n");
  EXPECT_LT(Micros(run["daemon"]["ended_at"]) - Micros(run["daemon"]["started_at"]), 5000000)
      << "a daemon holding stdout delayed the end of its run";
  pid_t daemon = PidFrom(daemon_pid);
  if (daemon > 0) kill(daemon, SIGKILL);

  EXPECT_EQ(run["ignores-term"]["status"], "timed_out") << run["ignores-term"].dump();
  EXPECT_EQ(run["ignores-term"]["signal"], SIGKILL);
  EXPECT_NE(run["ignores-term"]["reason"].get<std::string>().find("timed out"), std::string::npos);

  EXPECT_EQ(run["reads-stdin"]["status"], "succeeded");
  EXPECT_EQ(stdout_of("reads-stdin"), "read=1\n");  // end of file: stdin is /dev/null
  EXPECT_EQ(run["ignores-stdin"]["status"], "succeeded");

  for (const auto& [name, word] : std::vector<std::pair<std::string, std::string>>{
           {"no-program", "/no/such/program"},
           {"no-cwd", "/no/such/directory"},
           {"no-user", "no-such-user-cg"}}) {
    EXPECT_EQ(run[name]["status"], "failed") << run[name].dump();
    ASSERT_TRUE(run[name]["reason"].is_string()) << run[name].dump();
    EXPECT_NE(run[name]["reason"].get<std::string>().find(word), std::string::npos)
        << run[name].dump();
  }
  ExpectVerified();
  EXPECT_EQ(LockFiles(), std::vector<std::string>());
}

// ---- several writers, and the service restarted under them ----

TEST_F(FaultTest, ChronotoolWritersRacingEachOtherAndAServiceThatKeepsDying) {
  const int writers = 4;
  const int per_writer = Rounds(10) * 2;
  Ok({"job", "add", "tick", "--schedule", "* * * * * *", "--", "/bin/true"});
  StartService();
  std::atomic<int> failures{0};
  std::vector<std::string> errors(writers);
  std::vector<std::thread> threads;
  for (int w = 0; w < writers; ++w) {
    threads.emplace_back([&, w] {
      for (int i = 0; i < per_writer; ++i) {
        std::string name = "w" + std::to_string(w) + "-" + std::to_string(i);
        for (const auto& args : std::vector<std::vector<std::string>>{
                 {"job", "add", name, "--schedule", "@hourly", "--", "/bin/true"},
                 {"job", "edit", name, "--timeout", "5m"},
                 {"job", "disable", name}}) {
          RunOutput r = Tool(args);
          if (r.exit_code != 0) {
            ++failures;
            errors[w] += name + ": " + r.err;
          }
        }
      }
    });
  }
  std::mt19937 rng(Seed());
  std::atomic<bool> done{false};
  std::thread joiner([&] {
    for (auto& t : threads) t.join();
    done = true;
  });
  while (!done) {
    Sleep(std::uniform_real_distribution<double>(0.1, 0.6)(rng));
    StopService(SIGKILL);
    StartService();
  }
  joiner.join();
  EXPECT_EQ(failures, 0) << errors[0] << errors[1] << errors[2] << errors[3];
  json list = json::parse(Ok({"job", "list", "--json"}));
  EXPECT_EQ(list.size(), static_cast<size_t>(writers * per_writer + 1));
  for (const auto& j : list) {
    if (j["name"] == "tick") continue;
    EXPECT_EQ(j["enabled"], false) << j.dump();
    EXPECT_EQ(j["timeout_ms"], 300000) << j.dump();
  }
  Quiesce({"tick"}, 20);
  ExpectVerified();
  ExpectNoDoubledSlot();
  ExpectEverySlotDecided("tick", 1000000);
}

// ---- a full disk ----

class FullDiskTest : public FaultTest {
 protected:
  void SetUp() override {
    mkdir(data_.c_str(), 0700);
    if (mount("chronograph-test", data_.c_str(), "tmpfs", MS_NOSUID | MS_NODEV,
              "size=12m,mode=0700") != 0) {
      GTEST_SKIP() << "cannot mount a small tmpfs for the data directory (" << strerror(errno)
                   << "): this test needs root with CAP_SYS_ADMIN";
    }
    mounted_ = true;
  }
  void TearDown() override {
    if (service_pid_ > 0) StopService(SIGKILL);
    WaitFor([&] { return ActiveRuns() == 0; }, 15);
    if (mounted_) umount2(data_.c_str(), MNT_DETACH);
  }
  // Fills the filesystem of the data directory.
  void Fill() {
    std::ofstream f(data_ + "/filler", std::ios::binary);
    std::string block(64 * 1024, 'x');
    while (f.write(block.data(), block.size())) {
    }
    f.close();
    // Then the last few pages, byte-sized.
    std::ofstream g(data_ + "/filler2", std::ios::binary);
    for (int i = 0; i < 8192 && g.put('x'); ++i) {
    }
  }
  void Free() {
    std::filesystem::remove(data_ + "/filler");
    std::filesystem::remove(data_ + "/filler2");
  }
  bool mounted_ = false;
};

TEST_F(FullDiskTest, ServiceAndChronotoolSurviveAFullDiskAndLoseNothing) {
  service_log_ = tmp_.Sub("service.log");
  // Each run stores 100 kB of output, so the service's writes need new pages soon.
  Ok({"job", "add", "tick", "--schedule", "* * * * * *", "--shell", "head -c 100000 /dev/zero"});
  StartService();
  ASSERT_TRUE(WaitFor([&] { return Count(Runs("tick"), "succeeded") >= 2; }, 10));
  Fill();
  // LMDB reuses freed pages first; soon a commit needs a new page and fails.
  RunOutput refused;
  std::string refused_name;
  for (int i = 0; i < 200 && refused.exit_code != 1; ++i) {
    refused_name = "more" + std::to_string(i);
    refused = Tool({"job", "add", refused_name, "--schedule", "@daily", "--description",
                    std::string(2000, 'd'), "--", "/bin/true"});
    ASSERT_TRUE(refused.exit_code == 0 || refused.exit_code == 1) << refused.err;
  }
  ASSERT_EQ(refused.exit_code, 1) << "the disk never filled";
  EXPECT_NE(refused.err.find("disk is full"), std::string::npos) << refused.err;
  std::vector<json> before = Events();
  Sleep(3);
  // Still running, and it said why it cannot record.
  int status = 0;
  ASSERT_EQ(waitpid(static_cast<pid_t>(service_pid_), &status, WNOHANG), 0) << "the service died";
  // Every error about the log names the full disk (LMDB says EIO for a short write).
  std::string log = ServiceLog();
  EXPECT_NE(log.find("disk is full"), std::string::npos) << log;
  std::istringstream lines(log);
  for (std::string line; std::getline(lines, line);) {
    if (line.find("LMDB") != std::string::npos) {
      EXPECT_NE(line.find("disk is full"), std::string::npos) << line;
    }
  }
  // A service restarted on the full disk waits for space; it does not give up.
  StopService(SIGKILL);
  service_pid_ = testing::StartProgram({"/bin/sh", "-c", "exec \"$0\" \"$@\" 2>>" + service_log_,
                                        testing::BinPath("chronographd"), "--data", data_,
                                        "--log-level", "warn"});
  Sleep(3);
  ASSERT_EQ(waitpid(static_cast<pid_t>(service_pid_), &status, WNOHANG), 0)
      << "the service restarted on a full disk exited: " << ServiceLog();
  Free();
  // Everything continues: the service records runs again, chronotool writes again.
  size_t ok = Count(Runs("tick"), "succeeded");
  EXPECT_TRUE(WaitFor([&] { return Count(Runs("tick"), "succeeded") >= ok + 2; }, 15));
  Ok({"job", "add", "after", "--schedule", "@daily", "--", "/bin/true"});
  EXPECT_EQ(Tool({"job", "show", refused_name}).exit_code, 2) << "a refused write was kept";
  Quiesce({"tick"}, 20);
  // Every event committed before the disk filled is still there, unchanged.
  std::vector<json> after = Events();
  ASSERT_GE(after.size(), before.size());
  for (size_t i = 0; i < before.size(); ++i) EXPECT_EQ(after[i], before[i]);
  ExpectVerified();
  ExpectNoDoubledSlot();
  ExpectEverySlotDecided("tick", 1000000);
  for (const auto& r : Runs()) EXPECT_TRUE(Terminal().count(r["status"])) << r.dump();
}

}  // namespace
}  // namespace cg
