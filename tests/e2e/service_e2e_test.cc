// chronographd end to end: the real service, shims, jobs and signals on temporary data
// directories. Timing bounds are generous; speed is measured in bench/.
#include <gtest/gtest.h>
#include <signal.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <sstream>
#include <nlohmann/json.hpp>
#include <thread>

#include "service/time_util.h"
#include "store/event_log.h"
#include "tests/util/service_fixture.h"

namespace cg {
namespace {

using nlohmann::json;
using testing::RunOutput;

using testing::EndsWithin;
using testing::PidFrom;
using testing::ServiceTest;
using testing::Sleep;
using testing::WaitFor;

TEST_F(ServiceTest, EverySecondJobRunsAboutOncePerSecondWithOutput) {
  Ok({"job", "add", "tick", "--schedule", "* * * * * *", "--shell",
      "echo tick $CHRONOGRAPH_RUN_ID; echo warn >&2"});
  StartService();
  Sleep(6);
  StopService();
  json runs = Runs("tick");
  size_t ok = Count(runs, "succeeded");
  EXPECT_GE(ok, 4u);
  EXPECT_LE(runs.size(), 7u);
  for (const auto& r : runs) {
    if (r["status"] != "succeeded") continue;
    EXPECT_EQ(r["stdout_bytes"], std::string("tick " + std::to_string(r["id"].get<uint64_t>()) + "\n").size());
    EXPECT_EQ(r["stderr_bytes"], 5);
    EXPECT_EQ(r["exit_code"], 0);
    // Started within a second of its slot.
    RunOutput log = Tool({"log", std::to_string(r["id"].get<uint64_t>()), "--stdout"});
    EXPECT_EQ(log.out, "tick " + std::to_string(r["id"].get<uint64_t>()) + "\n");
  }
  RunOutput replay = Tool({"replay"});
  EXPECT_NE(replay.out.find("ServiceStarted"), std::string::npos);
  EXPECT_NE(replay.out.find("ServiceStopped"), std::string::npos);
  ExpectVerified();
  ExpectNoDoubledSlot();
}

// The service claims an idle job's slot and starts its shim ahead (--start-ahead); the
// shim starts the command at the slot itself: never before, and close after.
TEST_F(ServiceTest, CommandsStartOnTheirSlotNeverBefore) {
  Ok({"job", "add", "exact", "--schedule", "* * * * * *", "--shell", "date +%s%N"});
  StartService({"--start-ahead", "400"});
  Sleep(6);
  StopService();
  auto us = [](const json& t) { return *ParseTime(t.get<std::string>(), 0); };
  std::map<uint64_t, int64_t> claimed_at;  // run id -> time of its RunScheduled
  for (const json& e : Events()) {
    if (e["type"] == "RunScheduled") claimed_at[e["seq"].get<uint64_t>()] = us(e["time"]);
  }
  std::vector<int64_t> lateness;
  size_t ahead = 0;
  for (const auto& r : Runs("exact")) {
    if (r["status"] != "succeeded") continue;
    uint64_t id = r["id"].get<uint64_t>();
    int64_t slot = us(r["scheduled_for"]);
    RunOutput out = Tool({"log", std::to_string(id), "--stdout"});
    int64_t own_clock_us = std::stoll(out.out) / 1000;  // the command's own reading
    EXPECT_GE(own_clock_us, slot) << "run " << id << " started before its slot";
    EXPECT_GE(us(r["started_at"]), slot) << "run " << id;
    lateness.push_back(own_clock_us - slot);
    ahead += claimed_at.count(id) && claimed_at[id] < slot;
  }
  ASSERT_GE(lateness.size(), 4u);
  // All but the first (claimed as the service started) were claimed before their slot.
  EXPECT_GE(ahead, lateness.size() - 1);
  std::sort(lateness.begin(), lateness.end());
  EXPECT_LT(lateness[lateness.size() / 2], 250 * 1000) << "median lateness (µs)";
  ExpectVerified();
  ExpectNoDoubledSlot();
}

// Stopping the service stops the runs it claimed ahead whose command has not started:
// nothing starts after the service has gone.
TEST_F(ServiceTest, StoppingTheServiceStopsRunsWaitingForTheirSlot) {
  std::string marker = tmp_.Sub("ran");
  Ok({"job", "add", "tick", "--schedule", "* * * * * *", "--shell",
      "echo $CHRONOGRAPH_RUN_ID >> '" + marker + "'"});
  StartService({"--start-ahead", "900"});
  Sleep(2);
  // Half a second past a whole second: the next slot's shim is waiting for it.
  int64_t now = NowMicros();
  Sleep(static_cast<double>(kMicrosPerSecond * 3 / 2 - now % kMicrosPerSecond) / kMicrosPerSecond);
  StopService();
  ASSERT_TRUE(WaitFor([&] { return Count(Runs("tick"), "running") == 0; }, 10));
  Sleep(1.5);  // past the slot the stopped run was waiting for
  json runs = Runs("tick");
  size_t stopped = 0;
  for (const auto& r : runs) {
    if (r["status"] != "stopped") continue;
    ++stopped;
    EXPECT_EQ(r["reason"], "stopped on request before the command started");
    EXPECT_TRUE(r["started_at"].is_null()) << r.dump();
  }
  EXPECT_EQ(stopped, 1u) << runs.dump();
  std::ifstream in(marker);
  size_t lines = 0;
  for (std::string line; std::getline(in, line);) ++lines;
  EXPECT_EQ(lines, Count(runs, "succeeded")) << "only the succeeded runs' commands ran";
  ExpectVerified();
}

// A clean stop writes the snapshot; the next start folds only what follows it, and
// `verify` checks the snapshot against a fresh fold.
TEST_F(ServiceTest, RestartsFromItsSnapshotWhichVerifyChecks) {
  Ok({"job", "add", "tick", "--schedule", "* * * * * *", "--shell", "true"});
  auto verified_snapshot = [&] {
    RunOutput r = Tool({"verify", "--json"});
    EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
    json j = json::parse(r.out);
    // A clean stop snapshots its ServiceStopped (a shim may record its run after it).
    uint64_t stopped = 0;
    for (const json& e : Events()) {
      if (e["type"] == "ServiceStopped") stopped = e["seq"].get<uint64_t>();
    }
    EXPECT_EQ(j["snapshot_seq"], stopped);
    return j["snapshot_seq"].is_null() ? uint64_t{0} : j["snapshot_seq"].get<uint64_t>();
  };
  StartService();
  Sleep(3);
  StopService();
  uint64_t first = verified_snapshot();
  EXPECT_GT(first, 0u);
  StartService();
  Sleep(3);
  StopService();
  EXPECT_GT(verified_snapshot(), first);
  json runs = Runs("tick");
  EXPECT_GE(Count(runs, "succeeded"), 4u);
  EXPECT_EQ(Count(runs, "running") + Count(runs, "scheduled") + Count(runs, "abandoned"), 0u);
  ExpectNoDoubledSlot();
}

TEST_F(ServiceTest, ServiceKilledMidRunLosesNothing) {
  std::string marker = tmp_.Sub("started");
  Ok({"job", "add", "slow", "--schedule", "@yearly", "--shell",
      "touch " + marker + "; sleep 3; echo finished"});
  StartService();
  Ok({"run", "slow"});
  ASSERT_TRUE(WaitFor([&] { return std::filesystem::exists(marker); }, 10));
  StopService(SIGKILL);
  // The shim carries on and records the run itself.
  ASSERT_TRUE(WaitFor([&] { return Count(Runs("slow"), "succeeded") == 1; }, 15));
  StartService();
  Sleep(1.5);
  json runs = Runs("slow");
  ASSERT_EQ(runs.size(), 1u);
  EXPECT_EQ(runs[0]["status"], "succeeded");
  EXPECT_EQ(Tool({"log", std::to_string(runs[0]["id"].get<uint64_t>())}).out, "finished\n");
  StopService();
  // Started by the service (handed over), ended by the shim alone once it was gone.
  for (const json& e : Events()) {
    if (e["type"] == "RunStarted") {
      EXPECT_EQ(e["actor"]["program"], "chronographd");
    }
    if (e["type"] == "RunFinished") {
      EXPECT_EQ(e["actor"]["program"], "chronograph-shim");
    }
  }
  ExpectVerified();
}

// The service records the starts and ends of the runs it forks (service/handoff.h),
// the starts of runs that fell due together in one commit (events of one commit share
// their time); a shim whose service is gone records its run's end itself (above).
TEST_F(ServiceTest, TheServiceRecordsStartsAndEndsOfItsShimsInGroups) {
  for (int i = 0; i < 6; ++i) {
    Ok({"job", "add", "j" + std::to_string(i), "--schedule", "* * * * * *", "--shell",
        "echo out $CHRONOGRAPH_RUN_ID"});
  }
  StartService();
  const int64_t service_pid = service_pid_;
  ASSERT_TRUE(WaitFor([&] { return Count(Runs("j5"), "succeeded") >= 3; }, 15));
  StopService();
  std::map<std::string, int> starts_per_commit;
  size_t starts = 0, ends = 0;
  for (const json& e : Events()) {
    if (e["type"] != "RunStarted" && e["type"] != "RunFinished") continue;
    EXPECT_EQ(e["actor"]["program"], "chronographd") << e.dump();
    EXPECT_EQ(e["actor"]["pid"], service_pid) << e.dump();
    if (e["type"] == "RunStarted") {
      ++starts;
      EXPECT_NE(e["pid"], service_pid) << "the shim's pid, not the service's: " << e.dump();
      ++starts_per_commit[e["time"].get<std::string>()];
    } else {
      ++ends;
    }
  }
  EXPECT_GE(starts, 18u);
  EXPECT_GE(ends, 18u);
  int largest = 0;
  for (const auto& [time, n] : starts_per_commit) largest = std::max(largest, n);
  EXPECT_EQ(largest, 6) << "the six runs of one slot were started in one commit";
  for (int i = 0; i < 6; ++i) {
    for (const auto& r : Runs("j" + std::to_string(i))) {
      if (r["status"] != "succeeded") continue;
      EXPECT_EQ(Tool({"log", std::to_string(r["id"].get<uint64_t>()), "--stdout"}).out,
                "out " + std::to_string(r["id"].get<uint64_t>()) + "\n");
    }
  }
  // No lock file left behind: the service removes it once the end is durable.
  EXPECT_TRUE(std::filesystem::is_empty(data_ + "/locks"));
  ExpectVerified();
  ExpectNoDoubledSlot();
}

// A shim carries one run after another (no process start per run); with
// --idle-shims 0 each run has a shim of its own. Idle shims go with the service.
TEST_F(ServiceTest, ShimsCarryRunAfterRunAndGoWithTheService) {
  Ok({"job", "add", "hello", "--schedule", "@yearly", "--", "/bin/echo", "hi"});
  auto shim_pids = [&] {
    std::vector<int64_t> pids;
    for (const json& e : Events()) {
      if (e["type"] == "RunStarted") pids.push_back(e["pid"].get<int64_t>());
    }
    return pids;
  };
  StartService();
  for (int i = 0; i < 3; ++i) {
    RunOutput r = Tool({"run", "hello", "--wait"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(r.out, "hi\n");
  }
  std::vector<int64_t> pids = shim_pids();
  ASSERT_EQ(pids.size(), 3u);
  EXPECT_EQ(pids[1], pids[0]) << "the idle shim carried the next run";
  EXPECT_EQ(pids[2], pids[0]);
  EXPECT_EQ(kill(static_cast<pid_t>(pids[0]), 0), 0) << "idle, waiting for a run";
  StopService();
  EXPECT_TRUE(EndsWithin(static_cast<pid_t>(pids[0]), 5)) << "an idle shim goes with the service";

  StartService({"--idle-shims", "0"});
  for (int i = 0; i < 2; ++i) ASSERT_EQ(Tool({"run", "hello", "--wait"}).exit_code, 0);
  StopService();
  pids = shim_pids();
  ASSERT_EQ(pids.size(), 5u);
  EXPECT_NE(pids[3], pids[0]);
  EXPECT_NE(pids[4], pids[3]) << "--idle-shims 0: a shim per run";
  EXPECT_TRUE(EndsWithin(static_cast<pid_t>(pids[4]), 5));
  EXPECT_TRUE(std::filesystem::is_empty(data_ + "/locks"));
  ExpectVerified();
}

TEST_F(ServiceTest, RestartAdoptsARunThatIsStillGoing) {
  std::string marker = tmp_.Sub("started");
  Ok({"job", "add", "slow", "--schedule", "@yearly", "--shell",
      "touch " + marker + "; sleep 4; echo finished"});
  StartService({"--lock-timeout", "3"});
  Ok({"run", "slow"});
  ASSERT_TRUE(WaitFor([&] { return std::filesystem::exists(marker); }, 10));
  StopService(SIGKILL);
  StartService({"--lock-timeout", "3"});
  // Adopted (its lock is fresh), not abandoned; it finishes on its own.
  ASSERT_TRUE(WaitFor([&] { return Count(Runs("slow"), "succeeded") == 1; }, 15));
  EXPECT_EQ(Count(Runs("slow"), "abandoned"), 0u);
  StopService();
}

TEST_F(ServiceTest, KilledShimIsAbandonedWithinLockTimeoutPlusTwo) {
  Ok({"job", "add", "slow", "--schedule", "@yearly", "--", "/bin/sleep", "30"});
  StartService({"--lock-timeout", "2"});
  Ok({"run", "slow"});
  ASSERT_TRUE(WaitFor([&] { return Count(Runs("slow"), "running") == 1; }, 10));
  json run = Runs("slow")[0];
  auto killed = std::chrono::steady_clock::now();
  ASSERT_EQ(kill(static_cast<pid_t>(run["pid"].get<int64_t>()), SIGKILL), 0);
  ASSERT_TRUE(WaitFor([&] { return Count(Runs("slow"), "abandoned") == 1; }, 10));
  double took = std::chrono::duration<double>(std::chrono::steady_clock::now() - killed).count();
  EXPECT_LT(took, 4.0 + 1.0);  // lock timeout + 2 s, plus polling slack of this test
  EXPECT_NE(Runs("slow")[0]["reason"].get<std::string>().find("shim"), std::string::npos);
  StopService();
  // The command itself was in its own process group; end it for the cleanup.
  system("pkill -f '^/bin/sleep 30$' >/dev/null 2>&1");
  ExpectVerified();
}

TEST_F(ServiceTest, OverlapSkipQueueReplace) {
  for (const char* policy : {"skip", "queue", "replace"}) {
    Ok({"job", "add", std::string("o-") + policy, "--schedule", "* * * * * *", "--overlap",
        policy, "--", "/bin/sleep", "2.5"});
  }
  StartService();
  Sleep(5.5);
  for (const char* policy : {"skip", "queue", "replace"}) Ok({"job", "disable", std::string("o-") + policy});
  // A slot may pass between the disables and the reads (slowly, under the sanitizers):
  // its skip says "disabled", which is not what these lines are about.
  auto overlap_skips = [](const json& runs) {
    size_t n = 0;
    for (const auto& r : runs) {
      if (r["status"] != "skipped") continue;
      std::string reason = r["reason"].get<std::string>();
      EXPECT_TRUE(reason.rfind("overlap", 0) == 0 || reason.rfind("disabled", 0) == 0) << reason;
      n += reason.rfind("overlap", 0) == 0;
    }
    return n;
  };
  json skip = Runs("o-skip");
  EXPECT_GE(overlap_skips(skip), 2u);
  EXPECT_LE(Count(skip, "running") + Count(skip, "succeeded"), 3u);
  json queue = Runs("o-queue");
  EXPECT_EQ(overlap_skips(queue), 0u);
  EXPECT_GE(Count(queue, "scheduled"), 1u) << queue.dump();  // waiting behind the running one
  json replace = Runs("o-replace");
  EXPECT_GE(Count(replace, "stopped"), 2u) << replace.dump();
  EXPECT_EQ(Count(replace, "succeeded"), 0u);
  StopService();
  ExpectVerified();
  ExpectNoDoubledSlot();
}

TEST_F(ServiceTest, MissedRunsFollowTheirPolicy) {
  for (const char* policy : {"skip", "once", "all"}) {
    Ok({"job", "add", std::string("m-") + policy, "--schedule", "* * * * * *", "--missed",
        policy, "--overlap", "queue", "--", "/bin/true"});
  }
  // No service for a while: slots pass.
  Sleep(4);
  // A clock far enough ahead that every passed slot is "missed" is not needed: only the
  // latest slot is on time; the earlier ones follow the policy.
  StartService();
  Sleep(1);
  StopService();
  json skip = Runs("m-skip"), once = Runs("m-once"), all = Runs("m-all");
  EXPECT_GE(Count(skip, "skipped"), 3u);
  for (const auto& r : skip) {
    if (r["status"] == "skipped") {
      EXPECT_EQ(r["reason"].get<std::string>().rfind("missed", 0), 0u);
    }
  }
  EXPECT_GE(Count(once, "skipped"), 3u);
  EXPECT_EQ(Count(all, "skipped"), 0u);
  size_t catch_up = 0;
  for (const auto& r : all) catch_up += r["trigger"] == "catch-up";
  EXPECT_GE(catch_up, 3u) << all.dump();
  ExpectVerified();
}

TEST_F(ServiceTest, OnceRunsOneCatchUpAfterDowntime) {
  // A daily job whose slot passed while nothing ran: with missed=once one catch-up.
  Ok({"job", "add", "daily", "--schedule", "* * * * * *", "--missed", "once", "--", "/bin/true"});
  Sleep(3);
  RunOutput due = Tool({"run-due", "--json"});
  ASSERT_EQ(due.exit_code, 0) << due.err;
  json j = json::parse(due.out);
  EXPECT_EQ(j["claimed"], 1);  // the latest slot; the earlier ones are skipped
  EXPECT_GE(j["skipped"].get<int>(), 1);
  ASSERT_TRUE(WaitFor([&] { return Count(Runs("daily"), "succeeded") == 1; }, 10));
}

TEST_F(ServiceTest, TimeoutKillsTheWholeTree) {
  std::string pidfile = tmp_.Sub("grandchild.pid");
  Ok({"job", "add", "hang", "--schedule", "@yearly", "--timeout", "1s", "--shell",
      "sleep 100 & echo $! > " + pidfile + "; wait"});
  RunOutput r = Tool({"run", "hang", "--wait"});
  EXPECT_EQ(r.exit_code, 124) << r.err;  // as timeout(1)
  json runs = Runs("hang");
  ASSERT_EQ(runs.size(), 1u);
  EXPECT_EQ(runs[0]["status"], "timed_out");
  pid_t grandchild = PidFrom(pidfile);
  ASSERT_GT(grandchild, 0);
  EXPECT_TRUE(EndsWithin(grandchild, 5)) << "the grandchild survived the timeout";
}

TEST_F(ServiceTest, TimeoutAlsoKillsGroupMembersThatIgnoreSigterm) {
  std::string pidfile = tmp_.Sub("stubborn.pid");
  Ok({"job", "add", "stubborn", "--schedule", "@yearly", "--timeout", "1s", "--shell",
      "sh -c 'trap \"\" TERM; echo $$ > " + pidfile + "; exec sleep 300' & sleep 300"});
  RunOutput r = Tool({"run", "stubborn", "--wait"});
  EXPECT_EQ(r.exit_code, 124) << r.err;
  pid_t stubborn = PidFrom(pidfile);
  ASSERT_GT(stubborn, 0);
  EXPECT_TRUE(EndsWithin(stubborn, 5)) << "a member of the job's process group outlived the timeout";
}

// CPU seconds (user + system) a process has used, from /proc/PID/stat.
double CpuSeconds(long pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::istringstream fields(stat.substr(stat.rfind(')') + 2));
  std::string f;
  double ticks = 0;
  for (int i = 3; fields >> f && i <= 15; ++i) {
    if (i == 14 || i == 15) ticks += std::stod(f);  // utime, stime
  }
  return ticks / static_cast<double>(sysconf(_SC_CLK_TCK));
}

// A shim whose service is SIGKILLed while it waits for the slot of a run claimed ahead
// waits quietly (the ended channel must not wake it), starts the command at the slot
// and records the end itself.
TEST_F(ServiceTest, AShimWaitingForItsSlotOutlivesItsServiceQuietly) {
  // One marker per run: an earlier run (the service may run one before the test sees
  // a run claimed well ahead, on a slow machine) must not count.
  const std::string marker = tmp_.Sub("ran");
  Ok({"job", "add", "later", "--schedule", "*/10 * * * * *", "--shell",
      "touch " + marker + ".$CHRONOGRAPH_RUN_ID"});
  StartService({"--start-ahead", "6000"});
  json started;
  int64_t slot_us = 0;
  ASSERT_TRUE(WaitFor([&] {
    for (const json& e : Events()) {
      if (e["type"] == "RunStarted") started = e;
    }
    if (started.is_null()) return false;
    auto at = ParseTime(started["started_at"].get<std::string>(), 0);
    slot_us = at.ok() ? *at : 0;
    return slot_us - NowMicros() > 2500 * kMicrosPerMilli;
  }, 30)) << "no run claimed ahead of its slot";
  StopService(SIGKILL);
  const long shim = started["pid"].get<long>();
  const uint64_t run = started["run_id"].get<uint64_t>();
  const std::string mine = marker + "." + std::to_string(run);
  double before = CpuSeconds(shim);
  Sleep(1.0);
  double used = CpuSeconds(shim) - before;
  EXPECT_LT(used, 0.3) << "the waiting shim used " << used << " s of CPU in 1 s";
  if (NowMicros() < slot_us) {
    EXPECT_FALSE(std::filesystem::exists(mine)) << "started before its slot";
  }
  ASSERT_TRUE(WaitFor([&] {
    for (const json& r : Runs("later")) {
      if (r["id"].get<uint64_t>() == run && r["status"] == "succeeded") return true;
    }
    return false;
  }, 15));
  EXPECT_TRUE(std::filesystem::exists(mine));
  for (const json& e : Events()) {
    if (e["type"] == "RunFinished" && e["run_id"].get<uint64_t>() == run) {
      EXPECT_EQ(e["actor"]["program"], "chronograph-shim") << "recorded by the shim alone";
    }
  }
  EXPECT_TRUE(EndsWithin(static_cast<pid_t>(shim), 5));
  ExpectVerified();
}

// A shim asked to stop (SIGTERM) stops its run and takes no other: the runs handed out
// next go to other shims and run; an idle shim asked to stop leaves at once.
TEST_F(ServiceTest, AShimAskedToStopTakesNoFurtherRun) {
  std::string marker = tmp_.Sub("started");
  Ok({"job", "add", "slow", "--schedule", "@yearly", "--shell", "touch " + marker + "; sleep 5"});
  Ok({"job", "add", "quick", "--schedule", "@yearly", "--", "/bin/echo", "ok"});
  StartService();
  Ok({"run", "slow"});
  ASSERT_TRUE(WaitFor([&] { return std::filesystem::exists(marker); }, 10));
  const pid_t busy = static_cast<pid_t>(Runs("slow")[0]["pid"].get<int64_t>());
  ASSERT_EQ(kill(busy, SIGTERM), 0);
  ASSERT_TRUE(WaitFor([&] { return Count(Runs("slow"), "stopped") == 1; }, 15)) << Runs("slow").dump();
  EXPECT_TRUE(EndsWithin(busy, 5)) << "asked to stop, it leaves after its run";
  for (int i = 0; i < 3; ++i) {
    RunOutput r = Tool({"run", "quick", "--wait"});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(r.out, "ok\n");
  }
  int64_t idle = 0;
  uint64_t newest = 0;
  for (const json& r : Runs("quick")) {
    if (r["id"].get<uint64_t>() > newest) {
      newest = r["id"].get<uint64_t>();
      idle = r["pid"].get<int64_t>();
    }
  }
  ASSERT_NE(idle, busy);
  ASSERT_EQ(kill(static_cast<pid_t>(idle), SIGTERM), 0);
  EXPECT_TRUE(EndsWithin(static_cast<pid_t>(idle), 5)) << "an idle shim asked to stop leaves";
  RunOutput r = Tool({"run", "quick", "--wait"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  StopService();
  json all = Runs();
  EXPECT_EQ(Count(all, "abandoned"), 0u) << all.dump();
  EXPECT_EQ(Count(all, "succeeded"), 4u) << all.dump();
  EXPECT_TRUE(std::filesystem::is_empty(data_ + "/locks"));
  ExpectVerified();
}

// A run the service cannot hand to a shim for a reason of its own (here its lock file
// cannot be created) is recorded as failed, saying why, not left waiting.
TEST_F(ServiceTest, ARunWhoseLockCannotBeCreatedFailsSayingWhy) {
  Ok({"job", "add", "x", "--schedule", "@yearly", "--", "/bin/true"});
  StartService();
  const std::string locks = data_ + "/locks";
  std::filesystem::remove_all(locks);
  { std::ofstream(locks) << "not a directory"; }
  RunOutput run = Tool({"run", "x", "--wait"});
  EXPECT_NE(run.exit_code, 0);
  json runs = Runs("x");
  ASSERT_EQ(runs.size(), 1u);
  EXPECT_EQ(runs[0]["status"], "failed") << runs.dump();
  EXPECT_NE(runs[0]["reason"].get<std::string>().find("lock file"), std::string::npos)
      << runs.dump();
  // Once the directory is back, runs run again.
  std::filesystem::remove(locks);
  std::filesystem::create_directory(locks);
  std::filesystem::permissions(locks, std::filesystem::perms::owner_all);
  EXPECT_EQ(Tool({"run", "x", "--wait"}).exit_code, 0);
  StopService();
  ExpectVerified();
}

// A lock file no run holds (left by a service killed between creating it and handing
// the run over) is removed at start once stale; a fresh one is left.
TEST_F(ServiceTest, StaleLockFilesNoRunHoldsAreSweptAtStart) {
  Ok({"job", "add", "x", "--schedule", "@yearly", "--", "/bin/true"});
  const std::string locks = data_ + "/locks";
  std::filesystem::create_directories(locks);
  std::filesystem::permissions(locks, std::filesystem::perms::owner_all);
  const std::string stale = locks + "/run999-stale.lock", fresh = locks + "/run998-fresh.lock",
                    other = locks + "/notes.txt";
  for (const auto& f : {stale, fresh, other}) std::ofstream(f) << "";
  std::filesystem::last_write_time(stale, std::filesystem::file_time_type::clock::now() -
                                              std::chrono::minutes(5));
  std::filesystem::last_write_time(other, std::filesystem::file_time_type::clock::now() -
                                              std::chrono::minutes(5));
  StartService({"--lock-timeout", "10"});
  ASSERT_EQ(Tool({"run", "x", "--wait"}).exit_code, 0);
  StopService();
  EXPECT_FALSE(std::filesystem::exists(stale));
  EXPECT_TRUE(std::filesystem::exists(fresh)) << "fresh: perhaps a shim's about to start";
  EXPECT_TRUE(std::filesystem::exists(other)) << "not a lock file";
}

// A job whose schedule does not parse (written past chronotool's checks, or naming a
// zone this host lacks) is said once per definition, not at every pass that touches it.
TEST_F(ServiceTest, AScheduleThatDoesNotParseIsLoggedOncePerDefinition) {
  service_log_ = tmp_.Sub("service.log");
  auto append = [&](EventPayload payload) {
    auto log = store::EventLog::Open(data_, store::Options());
    ASSERT_TRUE(log.ok()) << log.status().ToString();
    State state;
    ASSERT_TRUE((*log)->Append(&state, std::move(payload)).ok());
  };
  JobSpec spec;
  spec.name = "bad";
  spec.argv = {"/bin/true"};
  spec.schedule = "not a schedule";
  append(JobDefined{spec});
  StartService();
  for (int i = 0; i < 3; ++i) {
    RunOutput run = Tool({"run", "bad", "--wait"});
    ASSERT_EQ(run.exit_code, 0) << run.err << ServiceLog();
  }
  auto said = [&] {
    std::string log = ServiceLog();
    size_t n = 0;
    for (size_t at = log.find("does not parse"); at != std::string::npos;
         at = log.find("does not parse", at + 1)) {
      ++n;
    }
    return n;
  };
  EXPECT_EQ(said(), 1u) << ServiceLog();
  spec.schedule = "still not one";
  append(JobChanged{spec, {"schedule"}});  // a new definition: said again, once
  ASSERT_EQ(Tool({"run", "bad", "--wait"}).exit_code, 0);
  for (int i = 0; i < 50 && said() < 2; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  EXPECT_EQ(said(), 2u) << ServiceLog();
  StopService();
}

TEST_F(ServiceTest, ADisabledJobDoesNotKeepTheServiceBusy) {
  // A disabled job's slots are decided when they come; waking for them early (as for
  // an idle enabled job) found nothing to do and spun until the slot.
  Ok({"job", "add", "off", "--schedule", "* * * * * *", "--disabled", "--shell", "true"});
  StartService({"--start-ahead", "3000"});
  double before = CpuSeconds(service_pid_);
  Sleep(3);
  double used = CpuSeconds(service_pid_) - before;
  StopService();
  EXPECT_LT(used, 0.3) << "the service used " << used << " s of CPU in 3 s";
  json runs = Runs("off");
  EXPECT_EQ(Count(runs, "skipped"), 1u);  // one 'disabled' note, then nothing
  EXPECT_EQ(Count(runs, "succeeded"), 0u);
}

TEST_F(ServiceTest, MaxRunningHoldsFurtherRunsUntilOneEnds) {
  std::string running = tmp_.Sub("running"), counts = tmp_.Sub("counts");
  std::filesystem::create_directories(running);
  for (int i = 0; i < 4; ++i) {
    // Each command counts the commands running with it, itself included.
    Ok({"job", "add", "j" + std::to_string(i), "--schedule", "@yearly", "--shell",
        "touch " + running + "/$$; ls " + running + " | wc -l >> " + counts + "; sleep 1; rm " +
            running + "/$$"});
  }
  service_log_ = tmp_.Sub("service.log");  // said on failure
  StartService({"--max-running", "2"});
  for (int i = 0; i < 4; ++i) Ok({"run", "j" + std::to_string(i)});
  ASSERT_TRUE(WaitFor([&] { return Count(Runs(), "succeeded") == 4; }, 30))
      << Runs().dump(1) << ServiceLog();
  StopService();
  std::ifstream in(counts);
  std::vector<int> seen;
  std::string listed;
  for (int n; in >> n;) {
    seen.push_back(n);
    listed += " " + std::to_string(n);
  }
  ASSERT_EQ(seen.size(), 4u) << "counts:" << listed << "\n" << ServiceLog();
  EXPECT_LE(*std::max_element(seen.begin(), seen.end()), 2)
      << "more than 2 commands at once; counts:" << listed << "\n" << ServiceLog();
  ExpectVerified();
}

TEST_F(ServiceTest, RunWaitWithAndWithoutService) {
  Ok({"job", "add", "hello", "--schedule", "@yearly", "--shell", "echo hi; echo oops >&2; exit 7"});
  RunOutput direct = Tool({"run", "hello", "--wait"});
  EXPECT_EQ(direct.exit_code, 7);
  EXPECT_EQ(direct.out, "hi\n");
  EXPECT_NE(direct.err.find("oops"), std::string::npos);
  StartService();
  RunOutput served = Tool({"run", "hello", "--wait"});
  EXPECT_EQ(served.exit_code, 7);
  EXPECT_EQ(served.out, "hi\n");
  StopService();
  // The service left a snapshot: a shim started by chronotool starts from it and folds
  // the events after it, a changed command included.
  EXPECT_FALSE(json::parse(Ok({"verify", "--json"}))["snapshot_seq"].is_null());
  Ok({"job", "edit", "hello", "--shell", "echo changed"});
  RunOutput after = Tool({"run", "hello", "--wait"});
  EXPECT_EQ(after.exit_code, 0) << after.err;
  EXPECT_EQ(after.out, "changed\n");
  EXPECT_EQ(Runs("hello").size(), 3u);
  ExpectVerified();
}

// `run --wait` returns once the run's end is in the log. data.mdb changes just before a
// commit can be read; a wait that looked too early slept a whole second (a third of the
// time, with a quick command).
TEST_F(ServiceTest, RunWaitReturnsOnceTheEndIsInTheLog) {
  Ok({"job", "add", "x", "--schedule", "@yearly", "--", "/bin/true"});
  StartService();
  int slow = 0;
  std::string took;
  for (int i = 0; i < 12; ++i) {
    auto t0 = std::chrono::steady_clock::now();
    RunOutput run = Tool({"run", "x", "--wait"});
    ASSERT_EQ(run.exit_code, 0) << run.err;
    double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    took += std::to_string(s) + " ";
    if (s >= 0.9) ++slow;
  }
  EXPECT_LE(slow, 1) << "seconds each: " << took;
  StopService();
}

TEST_F(ServiceTest, NoDescriptorLeaksIntoJobs) {
  Ok({"job", "add", "fds", "--schedule", "@yearly", "--", "/bin/ls", "/proc/self/fd"});
  StartService();
  RunOutput r = Tool({"run", "fds", "--wait"});
  StopService();
  ASSERT_EQ(r.exit_code, 0) << r.err;
  // 0, 1, 2 and the directory ls itself opened to list /proc/self/fd.
  std::istringstream in(r.out);
  std::vector<int> fds;
  int fd;
  while (in >> fd) fds.push_back(fd);
  ASSERT_EQ(fds.size(), 4u) << r.out;
  EXPECT_EQ(fds[0], 0);
  EXPECT_EQ(fds[1], 1);
  EXPECT_EQ(fds[2], 2);
}

TEST_F(ServiceTest, RunDueRacingTheServiceNeverDoublesASlot) {
  for (int i = 0; i < 3; ++i) {
    Ok({"job", "add", "race" + std::to_string(i), "--schedule", "* * * * * *", "--", "/bin/true"});
  }
  StartService();
  auto end = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (std::chrono::steady_clock::now() < end) {
    std::vector<long> racers;
    for (int i = 0; i < 2; ++i) {
      racers.push_back(testing::StartProgram(
          {testing::BinPath("chronotool"), "--data", data_, "run-due"}));
    }
    for (long pid : racers) EXPECT_EQ(testing::WaitProgram(pid), 0);
  }
  StopService();
  ExpectVerified();
  ExpectNoDoubledSlot();
  for (int i = 0; i < 3; ++i) {
    EXPECT_GE(Count(Runs("race" + std::to_string(i)), "succeeded"), 3u);
  }
}

TEST_F(ServiceTest, CleanKeepsVerifyGreen) {
  Ok({"job", "add", "talk", "--schedule", "@yearly", "--", "/bin/echo", "words"});
  Ok({"run", "talk", "--wait"});
  Ok({"run", "talk", "--wait"});
  json runs = Runs("talk");
  ASSERT_EQ(runs.size(), 2u);
  std::string id = std::to_string(runs[0]["id"].get<uint64_t>());
  EXPECT_EQ(Tool({"log", id}).out, "words\n");
  std::string digest = runs[0]["output_digest"];
  json cleaned = json::parse(Ok({"clean", "minutes", "0", "--json"}));
  EXPECT_EQ(cleaned["purged"].size(), 2u);
  RunOutput gone = Tool({"log", id});
  EXPECT_EQ(gone.exit_code, 1);
  EXPECT_NE(gone.err.find(digest), std::string::npos);
  EXPECT_EQ(Runs("talk")[0]["output_purged"], true);
  ExpectVerified();
  EXPECT_NE(Ok({"replay"}).find("OutputPurged"), std::string::npos);
}

TEST_F(ServiceTest, OneServicePerDataDirectory) {
  Ok({"job", "add", "x", "--schedule", "@yearly", "--", "/bin/true"});
  StartService();
  RunOutput second = testing::RunProgram(
      {testing::BinPath("chronographd"), "--data", data_, "--log-level", "warn"});
  EXPECT_EQ(second.exit_code, 1);
  EXPECT_NE(second.err.find("another chronographd"), std::string::npos) << second.err;
  StopService();
}

// Under systemd (Type=notify): READY only after the replay, WATCHDOG pings, STOPPING.
TEST_F(ServiceTest, NotifiesSystemd) {
  for (int i = 0; i < 50; ++i) {
    Ok({"job", "add", "j" + std::to_string(i), "--schedule", "@daily", "--", "/bin/true"});
  }
  std::string path = tmp_.Sub("notify.sock");
  int sock = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(sock, 0);
  struct sockaddr_un addr;
  memset(&addr, 0, sizeof(addr));
  addr.sun_family = AF_UNIX;
  strncpy(addr.sun_path, path.c_str(), sizeof(addr.sun_path) - 1);
  ASSERT_EQ(bind(sock, reinterpret_cast<struct sockaddr*>(&addr), sizeof(addr)), 0);
  setenv("NOTIFY_SOCKET", path.c_str(), 1);
  setenv("WATCHDOG_USEC", "400000", 1);
  service_pid_ = testing::StartProgram({testing::BinPath("chronographd"), "--data", data_,
                                        "--log-level", "warn"});
  unsetenv("NOTIFY_SOCKET");
  unsetenv("WATCHDOG_USEC");
  auto receive = [&](double seconds) -> std::string {
    struct pollfd p = {sock, POLLIN, 0};
    if (poll(&p, 1, static_cast<int>(seconds * 1000)) <= 0) return "";
    char buf[512];
    ssize_t n = recv(sock, buf, sizeof(buf), 0);
    return n > 0 ? std::string(buf, n) : "";
  };
  std::string ready = receive(10);
  EXPECT_EQ(ready.rfind("READY=1", 0), 0u) << ready;
  EXPECT_NE(ready.find("scheduling 50 jobs"), std::string::npos) << ready;
  // The service had already recorded its start when it said READY.
  EXPECT_EQ(Status()["service"]["running"], true);
  EXPECT_EQ(receive(2), "WATCHDOG=1");
  kill(static_cast<pid_t>(service_pid_), SIGTERM);
  std::string msg;
  for (int i = 0; i < 10 && msg != "STOPPING=1"; ++i) msg = receive(2);
  EXPECT_EQ(msg, "STOPPING=1");
  EXPECT_EQ(testing::WaitProgram(service_pid_), 0);
  service_pid_ = 0;
  close(sock);
}

}  // namespace
}  // namespace cg
