// Security: who may read and write the data directory, the lock directory and the
// event log, and what a job runs as. The tests that switch users need root (they are
// skipped otherwise, saying so). Tampering with the log is tested in
// tests/store/event_log_test.cc (edited, inserted, reordered and removed events,
// written into the LMDB file directly) and tests/tools/chronotool_test.cc.
#include <gtest/gtest.h>
#include <pwd.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "tests/util/service_fixture.h"

namespace cg {
namespace {

using nlohmann::json;
using testing::RunOutput;
using testing::WaitFor;

struct stat Stat(const std::string& path) {
  struct stat st;
  memset(&st, 0, sizeof(st));
  EXPECT_EQ(lstat(path.c_str(), &st), 0) << path;
  return st;
}

class SecurityTest : public testing::ServiceTest {
 protected:
  std::vector<std::string> Listing() {
    std::vector<std::string> out;
    for (const auto& e : std::filesystem::recursive_directory_iterator(data_)) {
      out.push_back(e.path().string() + " " + std::to_string(e.is_regular_file() ? e.file_size() : 0));
    }
    std::sort(out.begin(), out.end());
    return out;
  }
  // Runs chronotool as `nobody` (no supplementary groups), through setpriv.
  RunOutput ToolAsNobody(std::vector<std::string> args) {
    args.insert(args.begin(), {"/usr/bin/setpriv", "--reuid=nobody", "--regid=nogroup",
                               "--clear-groups", testing::BinPath("chronotool"), "--data", data_});
    return testing::RunProgram(args);
  }
  bool Root() { return geteuid() == 0; }
  // Starts a service that is expected to refuse to start; stopped after 10 s if not.
  RunOutput StartRefused() {
    return testing::RunProgram({"/usr/bin/timeout", "10", testing::BinPath("chronographd"),
                                "--data", data_, "--log-level", "warn"});
  }
};

TEST_F(SecurityTest, EverythingTheServiceCreatesIsOwnerOnly) {
  Ok({"job", "add", "x", "--schedule", "@yearly", "--", "/bin/sleep", "1"});
  StartService();
  Ok({"run", "x"});
  ASSERT_TRUE(WaitFor([&] { return Count(Runs("x"), "running") == 1; }, 10));
  std::string lock = Runs("x")[0]["lock_file"];
  for (const auto& [path, mode] : std::vector<std::pair<std::string, mode_t>>{
           {data_, 0700},
           {data_ + "/locks", 0700},
           {data_ + "/data.mdb", 0600},
           {data_ + "/lock.mdb", 0600},
           {data_ + "/chronographd.lock", 0600},
           {lock, 0600}}) {
    struct stat st = Stat(path);
    EXPECT_EQ(st.st_mode & 07777, mode) << path;
    EXPECT_EQ(st.st_uid, geteuid()) << path;
  }
  EXPECT_TRUE(S_ISREG(Stat(lock).st_mode));
  EXPECT_EQ(lock.rfind(data_ + "/locks/", 0), 0u) << lock;
  ASSERT_TRUE(WaitFor([&] { return Count(Runs("x"), "succeeded") == 1; }, 10));
  StopService();
}

// A lock directory (or data directory) that others may write would let them plant
// or refresh lock files, keeping a dead run "alive" or hiding a live one: refused.
TEST_F(SecurityTest, ALockDirectoryOthersMayWriteIsRefused) {
  Ok({"job", "add", "x", "--schedule", "@yearly", "--", "/bin/true"});
  std::string locks = data_ + "/locks";
  ASSERT_EQ(mkdir(locks.c_str(), 0700), 0);
  ASSERT_EQ(chmod(locks.c_str(), 01777), 0);
  RunOutput service = StartRefused();
  EXPECT_EQ(service.exit_code, 1);
  EXPECT_NE(service.err.find(locks), std::string::npos) << service.err;
  EXPECT_NE(service.err.find("writable by"), std::string::npos) << service.err;
  // Without a service, chronotool starts the shim itself: the run fails, and says why.
  RunOutput run = Tool({"run", "x", "--wait"});
  EXPECT_NE(run.exit_code, 0);
  ASSERT_EQ(chmod(locks.c_str(), 0700), 0);
  StartService();
  StopService();
}

// The run that could not take its lock is recorded with the reason, not as a shim
// that vanished.
TEST_F(SecurityTest, ARunThatCannotTakeItsLockSaysWhy) {
  Ok({"job", "add", "x", "--schedule", "@yearly", "--", "/bin/true"});
  std::string locks = data_ + "/locks";
  ASSERT_EQ(mkdir(locks.c_str(), 0700), 0);
  ASSERT_EQ(chmod(locks.c_str(), 01777), 0);
  RunOutput run = Tool({"run", "x", "--wait"});
  EXPECT_NE(run.exit_code, 0);
  json runs = Runs("x");
  ASSERT_EQ(runs.size(), 1u);
  EXPECT_TRUE(runs[0]["status"] == "failed" || runs[0]["status"] == "abandoned") << runs.dump();
  ExpectVerified();
  std::string reason = runs[0]["reason"].is_string() ? runs[0]["reason"].get<std::string>() : "";
  EXPECT_NE(reason.find(locks), std::string::npos) << "the run says why: " << reason;
}

TEST_F(SecurityTest, ADataDirectoryOthersMayWriteOrAnotherUserOwnsIsRefused) {
  ASSERT_EQ(mkdir(data_.c_str(), 0700), 0);
  ASSERT_EQ(chmod(data_.c_str(), 0777), 0);
  RunOutput service = StartRefused();
  EXPECT_EQ(service.exit_code, 1);
  EXPECT_NE(service.err.find("writable by"), std::string::npos) << service.err;
  EXPECT_FALSE(std::filesystem::exists(data_ + "/data.mdb"));
  if (!Root()) return;
  ASSERT_EQ(chmod(data_.c_str(), 0700), 0);
  struct passwd* nobody = getpwnam("nobody");
  ASSERT_NE(nobody, nullptr);
  ASSERT_EQ(chown(data_.c_str(), nobody->pw_uid, nobody->pw_gid), 0);
  service = StartRefused();
  EXPECT_EQ(service.exit_code, 1);
  EXPECT_NE(service.err.find("owned by"), std::string::npos) << service.err;
}

TEST_F(SecurityTest, AJobRunsAsItsUserWithOnlyItsGroupsAndTheStatedEnvironment) {
  if (!Root()) GTEST_SKIP() << "running a job as another user needs root";
  Ok({"job", "add", "ids", "--user", "nobody", "--schedule", "@yearly", "--shell",
      "id -u; id -g; id -G"});
  Ok({"job", "add", "env", "--user", "nobody", "--schedule", "@yearly", "--env", "EXTRA=1", "--",
      "/usr/bin/env"});
  // The job tries to write the event log, and to plant a file in the lock directory.
  Ok({"job", "add", "tamper", "--user", "nobody", "--schedule", "@yearly", "--shell",
      "echo x >> " + data_ + "/data.mdb && echo wrote-log; : > " + data_ +
          "/locks/planted && echo planted; exit 0"});
  // Whatever the service's environment holds does not reach the job.
  setenv("CG_SECRET_FOR_TEST", "leak", 1);
  StartService();
  unsetenv("CG_SECRET_FOR_TEST");
  RunOutput ids = Tool({"run", "ids", "--wait"});
  RunOutput env = Tool({"run", "env", "--wait"});
  RunOutput tamper = Tool({"run", "tamper", "--wait"});
  StopService();
  struct passwd* nobody = getpwnam("nobody");
  ASSERT_NE(nobody, nullptr);
  std::string id = std::to_string(nobody->pw_uid), gid = std::to_string(nobody->pw_gid);
  EXPECT_EQ(ids.out, id + "\n" + gid + "\n" + gid + "\n") << "supplementary groups not reset";
  std::set<std::string> vars;
  std::istringstream in(env.out);
  std::string line;
  while (std::getline(in, line)) vars.insert(line.substr(0, line.find('=')));
  EXPECT_EQ(vars, (std::set<std::string>{"PATH", "LANG", "HOME", "USER", "LOGNAME", "SHELL",
                                         "CHRONOGRAPH_JOB", "CHRONOGRAPH_RUN_ID",
                                         "CHRONOGRAPH_SCHEDULED_FOR", "EXTRA"}))
      << env.out;
  EXPECT_NE(env.out.find("USER=nobody\n"), std::string::npos) << env.out;
  EXPECT_EQ(tamper.out, "") << tamper.out;
  EXPECT_NE(tamper.err.find("Permission denied"), std::string::npos) << tamper.err;
  EXPECT_FALSE(std::filesystem::exists(data_ + "/locks/planted"));
  ExpectVerified();
}

TEST_F(SecurityTest, ChronotoolAsAUserWhoMayNotWriteGetsAClearErrorAndWritesNothing) {
  if (!Root()) GTEST_SKIP() << "switching to another user needs root";
  Ok({"job", "add", "x", "--schedule", "@yearly", "--", "/bin/true"});
  // nobody may reach the data directory (its parent is 0755) but not enter it (0700).
  ASSERT_EQ(chmod(tmp_.path().c_str(), 0755), 0);
  std::vector<std::string> before = Listing();
  for (const auto& args : std::vector<std::vector<std::string>>{
           {"job", "add", "y", "--schedule", "@daily", "--", "/bin/true"},
           {"job", "disable", "x"},
           {"run", "x"},
           {"run-due"},
           {"clean", "weeks", "1"},
           {"job", "list"},
           {"runs"},
           {"verify"}}) {
    RunOutput r = ToolAsNobody(args);
    EXPECT_EQ(r.exit_code, 1) << args[0] << ": " << r.out << r.err;
    EXPECT_NE(r.err.find("ermission denied"), std::string::npos) << args[0] << ": " << r.err;
    EXPECT_NE(r.err.find(data_), std::string::npos) << args[0] << ": " << r.err;
  }
  // A data directory nobody cannot create.
  RunOutput create = testing::RunProgram(
      {"/usr/bin/setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups",
       testing::BinPath("chronotool"), "--data", tmp_.Sub("other"), "job", "add", "y",
       "--schedule", "@daily", "--", "/bin/true"});
  EXPECT_EQ(create.exit_code, 1) << create.err;
  EXPECT_NE(create.err.find("ermission denied"), std::string::npos) << create.err;
  EXPECT_FALSE(std::filesystem::exists(tmp_.Sub("other")));
  EXPECT_EQ(Listing(), before) << "a refused command changed the data directory";
  ExpectVerified();
  EXPECT_EQ(Runs().size(), 0u);
}

}  // namespace
}  // namespace cg
