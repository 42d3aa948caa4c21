// Contract tests for ProcessLauncher, against NewProcessLauncher() (leveldb's env_test).
// Jobs are /bin/sh scripts and coreutils, or this binary re-executed as the job
// (leveldb's --test-close-on-exec-helper) where the job must inspect its own state.
#include "service/process_launcher.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "service/output_capture.h"
#include "tests/util/subprocess.h"

namespace cg {
namespace {

using std::chrono::milliseconds;
using Clock = std::chrono::steady_clock;

// ---- This binary as the job -----------------------------------------------------------

constexpr const char* kHelperVar = "CG_LAUNCHER_TEST_HELPER";

std::string List(const std::vector<int>& values) {
  std::string s;
  for (int v : values) s += (s.empty() ? "" : " ") + std::to_string(v);
  return s.empty() ? "none" : s;
}

// Prints what the job inherited, one "key: value" line each, and exits. Runs from a
// static initializer, before gtest's main, when the launcher started this binary
// with CG_LAUNCHER_TEST_HELPER=state in the environment.
void RunStateHelper() {
  struct rlimit rl;
  int limit = 65536;
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < static_cast<rlim_t>(limit)) {
    limit = static_cast<int>(rl.rlim_cur);
  }
  std::vector<int> fds;
  for (int fd = 0; fd < limit; ++fd) {
    if (fcntl(fd, F_GETFD) != -1) fds.push_back(fd);
  }
  char target[256] = {};
  ssize_t n = readlink("/proc/self/fd/0", target, sizeof(target) - 1);
  std::string stdin_target = n > 0 ? std::string(target, n) : "?";
  sigset_t mask;
  sigprocmask(SIG_SETMASK, nullptr, &mask);
  std::vector<int> blocked;
  std::vector<int> ignored;
  for (int sig = 1; sig < NSIG; ++sig) {
    if (sigismember(&mask, sig) == 1) blocked.push_back(sig);
    struct sigaction sa;
    if (sigaction(sig, nullptr, &sa) == 0 && sa.sa_handler == SIG_IGN) ignored.push_back(sig);
  }
  std::string report = "fds: " + List(fds) + "\n" + "stdin: " + stdin_target + "\n" +
                       "pid: " + std::to_string(getpid()) + "\n" +
                       "pgid: " + std::to_string(getpgid(0)) + "\n" +
                       "blocked: " + List(blocked) + "\n" + "ignored: " + List(ignored) + "\n";
  if (write(1, report.data(), report.size()) != static_cast<ssize_t>(report.size())) _exit(1);
  _exit(0);
}

const bool kHelperChecked = [] {
  const char* mode = getenv(kHelperVar);
  if (mode != nullptr && std::string(mode) == "state") RunStateHelper();
  return true;
}();

std::string SelfPath() {
  std::error_code ec;
  return std::filesystem::read_symlink("/proc/self/exe", ec).string();
}

// The value of "key: value" in the helper's report.
std::string Field(const std::string& report, const std::string& key) {
  size_t at = report.find(key + ": ");
  if (at == std::string::npos) return "<missing " + key + ">";
  at += key.size() + 2;
  return report.substr(at, report.find('\n', at) - at);
}

// ---- Helpers --------------------------------------------------------------------------

class StringSink final : public OutputSink {
 public:
  void Append(const char* data, size_t n) override { text.append(data, n); }
  std::string text;
};

double SecondsSince(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

LaunchSpec Sh(const std::string& script) {
  LaunchSpec spec;
  spec.argv = {"/bin/sh", "-c", script};
  spec.env = {{"PATH", "/usr/bin:/bin"}};
  return spec;
}

// Pumps until the child is done; false (and a failure) if it takes more than `limit`.
bool PumpUntilDone(ChildProcess* child, OutputSink* out, OutputSink* err,
                   milliseconds limit = milliseconds(10000)) {
  const Clock::time_point deadline = Clock::now() + limit;
  while (Clock::now() < deadline) {
    Result<bool> done = child->Pump(100, out, err);
    if (!done.ok()) {
      ADD_FAILURE() << done.status().ToString();
      return false;
    }
    if (*done) return true;
  }
  ADD_FAILURE() << "process " << child->pid() << " still running after " << limit.count() << " ms";
  return false;
}

// Pumps until `out` holds a complete first line; returns it without the newline.
std::string PumpFirstLine(ChildProcess* child, StringSink* out) {
  StringSink err;
  const Clock::time_point deadline = Clock::now() + milliseconds(10000);
  while (out->text.find('\n') == std::string::npos && Clock::now() < deadline) {
    Result<bool> done = child->Pump(100, out, &err);
    if (!done.ok() || *done) break;
  }
  size_t nl = out->text.find('\n');
  EXPECT_NE(nl, std::string::npos) << "no line; stderr: " << err.text;
  return out->text.substr(0, nl);
}

// /proc/PID/stat's state letter; '\0' when the process is gone.
char ProcessState(pid_t pid) {
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (!stat || !std::getline(stat, line)) {
    return kill(pid, 0) != 0 && errno == ESRCH ? '\0' : '?';
  }
  size_t paren = line.rfind(')');
  return paren != std::string::npos && paren + 2 < line.size() ? line[paren + 2] : '\0';
}

// True once `pid` has ended within `limit`: gone, or a zombie waiting for whoever
// inherited it (init or a subreaper) to reap it.
bool EndsWithin(pid_t pid, milliseconds limit) {
  const Clock::time_point deadline = Clock::now() + limit;
  for (;;) {
    char state = ProcessState(pid);
    if (state == '\0' || state == 'Z' || state == 'X') return true;
    if (Clock::now() >= deadline) return false;
    std::this_thread::sleep_for(milliseconds(20));
  }
}

bool StateWithin(pid_t pid, char want, milliseconds limit) {
  const Clock::time_point deadline = Clock::now() + limit;
  while (ProcessState(pid) != want) {
    if (Clock::now() >= deadline) return false;
    std::this_thread::sleep_for(milliseconds(10));
  }
  return true;
}

class ProcessLauncherTest : public ::testing::Test {
 protected:
  // Every test must leave no child behind: neither running nor a zombie.
  void TearDown() override {
    errno = 0;
    pid_t r = waitpid(-1, nullptr, WNOHANG);
    int err = errno;
    EXPECT_EQ(r, -1) << "an unreaped child remains";
    EXPECT_EQ(err, ECHILD);
  }

  std::unique_ptr<ChildProcess> Start(const LaunchSpec& spec) {
    Result<std::unique_ptr<ChildProcess>> child = launcher_->Launch(spec);
    EXPECT_TRUE(child.ok()) << child.status().ToString();
    return child.ok() ? std::move(child).value() : nullptr;
  }

  struct Ran {
    bool done = false;
    ExitInfo info;
    std::string out;
    std::string err;
  };

  Ran Run(const LaunchSpec& spec) {
    Ran ran;
    std::unique_ptr<ChildProcess> child = Start(spec);
    if (child == nullptr) return ran;
    StringSink out;
    StringSink err;
    ran.done = PumpUntilDone(child.get(), &out, &err);
    if (ran.done) {
      EXPECT_TRUE(child->exit_info().has_value());
      if (child->exit_info()) ran.info = *child->exit_info();
    }
    ran.out = out.text;
    ran.err = err.text;
    return ran;
  }

  Status LaunchError(const LaunchSpec& spec) {
    Result<std::unique_ptr<ChildProcess>> child = launcher_->Launch(spec);
    EXPECT_FALSE(child.ok()) << "started " << spec.argv[0];
    return child.ok() ? Status::OK() : child.status();
  }

  std::unique_ptr<ProcessLauncher> launcher_ = NewProcessLauncher();
};

// ---- Exit status and output -------------------------------------------------------------

TEST_F(ProcessLauncherTest, ReportsTheExitCode) {
  for (int code : {0, 1, 3, 255}) {
    Ran ran = Run(Sh("exit " + std::to_string(code)));
    ASSERT_TRUE(ran.done);
    EXPECT_EQ(ran.info.exit_code, code);
    EXPECT_EQ(ran.info.signal, 0);
  }
}

TEST_F(ProcessLauncherTest, ReportsDeathBySignal) {
  Ran ran = Run(Sh("kill -KILL $$"));
  ASSERT_TRUE(ran.done);
  EXPECT_EQ(ran.info.exit_code, -1);
  EXPECT_EQ(ran.info.signal, SIGKILL);
}

TEST_F(ProcessLauncherTest, SeparatesStdoutAndStderr) {
  Ran ran = Run(Sh("echo out; echo err >&2; echo out2; printf 'no newline' >&2"));
  ASSERT_TRUE(ran.done);
  EXPECT_EQ(ran.out, "out\nout2\n");
  EXPECT_EQ(ran.err, "err\nno newline");
  EXPECT_EQ(ran.info.exit_code, 0);
}

TEST_F(ProcessLauncherTest, LargeOutputOnBothStreamsKeepsHeadTailAndExactTotal) {
  // 20 MB on stdout and, at the same time, 20 MB on stderr: neither pipe may stall
  // the other.
  std::unique_ptr<ChildProcess> child = Start(
      Sh("head -c 20000000 /dev/zero >&2 & "
         "echo START; head -c 20000000 /dev/zero; echo END; wait"));
  ASSERT_NE(child, nullptr);
  CappedOutput out;
  CappedOutput err;
  const Clock::time_point start = Clock::now();
  ASSERT_TRUE(PumpUntilDone(child.get(), &out, &err, milliseconds(30000)));
  const double seconds = SecondsSince(start);
  EXPECT_LT(seconds, 20.0);
  std::printf("[ timing   ] 40 MB through the pipes in %.2f s\n", seconds);
  ASSERT_TRUE(child->exit_info().has_value());
  EXPECT_EQ(child->exit_info()->exit_code, 0);

  EXPECT_EQ(out.total(), 6u + 20000000u + 4u);
  EXPECT_EQ(out.kept(), CappedOutput::kDefaultCap);
  EXPECT_TRUE(out.truncated());
  const size_t half = CappedOutput::kDefaultCap / 2;
  const std::string marker =
      "\n[... chronograph: " + std::to_string(out.total() - out.kept()) + " bytes omitted ...]\n";
  EXPECT_TRUE(out.Text() == "START\n" + std::string(half - 6, '\0') + marker +
                                std::string(half - 4, '\0') + "END\n");
  EXPECT_EQ(err.total(), 20000000u);
}

// ---- What the job gets --------------------------------------------------------------------

TEST_F(ProcessLauncherTest, EnvironmentIsExactlyTheGivenOne) {
  LaunchSpec spec;
  spec.argv = {"/usr/bin/env"};
  spec.env = {{"B", "two words"}, {"A", "1"}, {"EMPTY", ""}, {"UTF8", "h\xc3\xa9"}};
  Ran ran = Run(spec);
  ASSERT_TRUE(ran.done);
  EXPECT_EQ(ran.out, "B=two words\nA=1\nEMPTY=\nUTF8=h\xc3\xa9\n");

  spec.env.clear();
  ran = Run(spec);
  ASSERT_TRUE(ran.done);
  EXPECT_EQ(ran.out, "");
  EXPECT_EQ(ran.info.exit_code, 0);
}

TEST_F(ProcessLauncherTest, RunsInTheWorkingDirectory) {
  testing::TempDir dir;
  LaunchSpec spec;
  spec.argv = {"/bin/pwd"};
  spec.working_dir = dir.path();
  Ran ran = Run(spec);
  ASSERT_TRUE(ran.done);
  EXPECT_EQ(ran.out, std::filesystem::canonical(dir.path()).string() + "\n");

  // A relative program path is relative to the working directory, as after `cd`.
  {
    std::ofstream script(dir.Sub("tool.sh"));
    script << "#!/bin/sh\necho tool ran\n";
  }
  ASSERT_EQ(chmod(dir.Sub("tool.sh").c_str(), 0755), 0);
  spec.argv = {"./tool.sh"};
  ran = Run(spec);
  ASSERT_TRUE(ran.done);
  EXPECT_EQ(ran.out, "tool ran\n");
}

TEST_F(ProcessLauncherTest, NoDescriptorIsInherited) {
  // Descriptors opened the careless way, without O_CLOEXEC, including a high one.
  int plain = open("/dev/null", O_RDONLY);
  int pipe_fds[2];
  ASSERT_EQ(pipe(pipe_fds), 0);
  int high = dup2(plain, 900);
  ASSERT_GE(plain, 3);
  ASSERT_EQ(high, 900);
  for (int fd : {plain, pipe_fds[0], pipe_fds[1], high}) ASSERT_EQ(fcntl(fd, F_GETFD), 0);

  LaunchSpec spec;
  spec.argv = {SelfPath()};
  spec.env = {{kHelperVar, "state"}};
  Ran ran = Run(spec);
  for (int fd : {plain, pipe_fds[0], pipe_fds[1], high}) close(fd);
  ASSERT_TRUE(ran.done);
  ASSERT_EQ(ran.info.exit_code, 0) << ran.err;
  EXPECT_EQ(Field(ran.out, "fds"), "0 1 2");
  EXPECT_EQ(Field(ran.out, "stdin"), "/dev/null");
}

TEST_F(ProcessLauncherTest, JobLeadsItsOwnProcessGroup) {
  LaunchSpec spec;
  spec.argv = {SelfPath()};
  spec.env = {{kHelperVar, "state"}};
  std::unique_ptr<ChildProcess> child = Start(spec);
  ASSERT_NE(child, nullptr);
  StringSink out;
  StringSink err;
  ASSERT_TRUE(PumpUntilDone(child.get(), &out, &err));
  EXPECT_EQ(Field(out.text, "pid"), std::to_string(child->pid()));
  EXPECT_EQ(Field(out.text, "pgid"), std::to_string(child->pid()));
  EXPECT_NE(child->pid(), getpgid(0));
}

TEST_F(ProcessLauncherTest, SignalMaskAndDispositionsAreReset) {
  // The caller owns signals: it may block some and ignore others. The job gets neither.
  sigset_t block;
  sigset_t saved_mask;
  sigemptyset(&block);
  sigaddset(&block, SIGUSR1);
  sigaddset(&block, SIGTERM);
  ASSERT_EQ(pthread_sigmask(SIG_BLOCK, &block, &saved_mask), 0);
  struct sigaction ignore = {};
  ignore.sa_handler = SIG_IGN;
  struct sigaction saved_usr2;
  struct sigaction saved_pipe;
  sigaction(SIGUSR2, &ignore, &saved_usr2);
  sigaction(SIGPIPE, &ignore, &saved_pipe);

  LaunchSpec spec;
  spec.argv = {SelfPath()};
  spec.env = {{kHelperVar, "state"}};
  Ran ran = Run(spec);

  pthread_sigmask(SIG_SETMASK, &saved_mask, nullptr);
  sigaction(SIGUSR2, &saved_usr2, nullptr);
  sigaction(SIGPIPE, &saved_pipe, nullptr);
  ASSERT_TRUE(ran.done);
  EXPECT_EQ(Field(ran.out, "blocked"), "none");
  EXPECT_EQ(Field(ran.out, "ignored"), "none");
}

TEST_F(ProcessLauncherTest, LaunchIsThreadSafe) {
  // Children forked at the same time briefly hold each other's pipe ends; each must
  // still get exactly its own output and end.
  constexpr int kThreads = 4;
  constexpr int kRuns = 25;
  std::vector<std::string> failures(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([this, t, &failures] {
      for (int i = 0; i < kRuns && failures[t].empty(); ++i) {
        const std::string word = std::to_string(t) + "-" + std::to_string(i);
        Result<std::unique_ptr<ChildProcess>> child = launcher_->Launch(Sh("echo " + word));
        if (!child.ok()) {
          failures[t] = child.status().ToString();
          break;
        }
        StringSink out;
        Result<bool> done = false;
        for (int n = 0; n < 100 && done.ok() && !*done; ++n) {
          done = (*child)->Pump(100, &out, nullptr);
        }
        if (!done.ok() || !*done || out.text != word + "\n") {
          failures[t] = word + ": got " + out.text;
        }
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  for (int t = 0; t < kThreads; ++t) EXPECT_EQ(failures[t], "") << "thread " << t;
}

// ---- Failures to start ------------------------------------------------------------------

TEST_F(ProcessLauncherTest, MissingProgramIsNotFoundNamingIt) {
  LaunchSpec spec;
  spec.argv = {"/no/such"};
  Status st = LaunchError(spec);
  EXPECT_TRUE(st.IsNotFound()) << st.ToString();
  EXPECT_EQ(st.message(), "cannot start '/no/such': No such file or directory");
}

TEST_F(ProcessLauncherTest, NonExecutableProgramIsPermissionDenied) {
  testing::TempDir dir;
  { std::ofstream(dir.Sub("data.txt")) << "not a program\n"; }
  LaunchSpec spec;
  spec.argv = {dir.Sub("data.txt")};
  Status st = LaunchError(spec);
  EXPECT_EQ(st.code(), Status::Code::kPermissionDenied) << st.ToString();
  EXPECT_EQ(st.message(), "cannot start '" + dir.Sub("data.txt") + "': Permission denied");
}

TEST_F(ProcessLauncherTest, MissingWorkingDirectoryIsNotFoundNamingIt) {
  LaunchSpec spec = Sh("echo should not run");
  spec.working_dir = "/nope";
  Status st = LaunchError(spec);
  EXPECT_TRUE(st.IsNotFound()) << st.ToString();
  EXPECT_EQ(st.message(), "working directory '/nope': No such file or directory");
}

TEST_F(ProcessLauncherTest, UnknownUserIsNotFoundNamingIt) {
  LaunchSpec spec = Sh("echo should not run");
  spec.run_as_user = "nosuchuser";
  Status st = LaunchError(spec);
  EXPECT_TRUE(st.IsNotFound()) << st.ToString();
  EXPECT_EQ(st.message(), "unknown user 'nosuchuser'");
}

TEST_F(ProcessLauncherTest, EmptyCommandIsInvalid) {
  LaunchSpec spec;
  EXPECT_TRUE(LaunchError(spec).IsInvalidArgument());
  spec.argv = {""};
  EXPECT_TRUE(LaunchError(spec).IsInvalidArgument());
}

// ---- PATH ---------------------------------------------------------------------------------

TEST_F(ProcessLauncherTest, LooksUpTheProgramInTheJobsPath) {
  testing::TempDir dir;
  { std::ofstream(dir.Sub("myprog")) << "#!/bin/sh\necho found \"$0\"\n"; }
  ASSERT_EQ(chmod(dir.Sub("myprog").c_str(), 0755), 0);
  LaunchSpec spec;
  spec.argv = {"myprog"};
  spec.env = {{"PATH", "/nonexistent::" + dir.path() + ":/bin"}};
  Ran ran = Run(spec);
  ASSERT_TRUE(ran.done);
  EXPECT_EQ(ran.out, "found " + dir.Sub("myprog") + "\n");

  // Not in the job's PATH, even though another PATH might have it.
  spec.env = {{"PATH", "/usr/bin:/bin"}};
  Status st = LaunchError(spec);
  EXPECT_TRUE(st.IsNotFound()) << st.ToString();
  EXPECT_EQ(st.message(), "cannot start 'myprog': not found in PATH (/usr/bin:/bin)");

  // Found, but not executable.
  ASSERT_EQ(chmod(dir.Sub("myprog").c_str(), 0644), 0);
  spec.env = {{"PATH", dir.path()}};
  st = LaunchError(spec);
  EXPECT_EQ(st.code(), Status::Code::kPermissionDenied) << st.ToString();
  EXPECT_NE(st.message().find("'myprog'"), std::string::npos) << st.message();
}

TEST_F(ProcessLauncherTest, WithoutPathInTheEnvironmentUsesThisProcesssPath) {
  LaunchSpec spec;
  spec.argv = {"env"};  // found through our PATH; its environment stays empty
  Ran ran = Run(spec);
  ASSERT_TRUE(ran.done);
  EXPECT_EQ(ran.info.exit_code, 0);
  EXPECT_EQ(ran.out, "");
}

// ---- Ending ---------------------------------------------------------------------------------

TEST_F(ProcessLauncherTest, PumpReturnsFalseWhileRunningAndTheDestructorReaps) {
  std::unique_ptr<ChildProcess> child = Start(Sh("sleep 100 & echo $!; wait"));
  ASSERT_NE(child, nullptr);
  StringSink out;
  const pid_t grandchild = std::stoi(PumpFirstLine(child.get(), &out));
  const Clock::time_point start = Clock::now();
  Result<bool> done = child->Pump(100, &out, nullptr);
  ASSERT_TRUE(done.ok()) << done.status().ToString();
  EXPECT_FALSE(*done);
  EXPECT_LT(SecondsSince(start), 2.0);
  EXPECT_FALSE(child->exit_info().has_value());
  done = child->Pump(0, &out, nullptr);
  ASSERT_TRUE(done.ok());
  EXPECT_FALSE(*done);

  // Dropping a running child kills its group and reaps it (TearDown checks the latter).
  child.reset();
  EXPECT_TRUE(EndsWithin(grandchild, milliseconds(5000)));
}

TEST_F(ProcessLauncherTest, TerminateKillsAGrandchild) {
  std::unique_ptr<ChildProcess> child = Start(Sh("sleep 100 & echo $!; wait"));
  ASSERT_NE(child, nullptr);
  StringSink out;
  StringSink err;
  const pid_t grandchild = std::stoi(PumpFirstLine(child.get(), &out));
  ASSERT_GT(grandchild, 0);
  ASSERT_TRUE(child->Terminate(false).ok());
  ASSERT_TRUE(PumpUntilDone(child.get(), &out, &err, milliseconds(5000)));
  EXPECT_EQ(child->exit_info()->signal, SIGTERM);
  EXPECT_TRUE(EndsWithin(grandchild, milliseconds(5000))) << "state " << ProcessState(grandchild);
}

TEST_F(ProcessLauncherTest, ForcedTerminateKillsAJobIgnoringSigterm) {
  std::unique_ptr<ChildProcess> child =
      Start(Sh("trap '' TERM; echo ready; while :; do sleep 0.05; done"));
  ASSERT_NE(child, nullptr);
  StringSink out;
  StringSink err;
  ASSERT_EQ(PumpFirstLine(child.get(), &out), "ready");
  ASSERT_TRUE(child->Terminate(false).ok());
  Result<bool> done = child->Pump(300, &out, &err);
  ASSERT_TRUE(done.ok());
  EXPECT_FALSE(*done) << "SIGTERM was supposed to be ignored";
  ASSERT_TRUE(child->Terminate(true).ok());
  ASSERT_TRUE(PumpUntilDone(child.get(), &out, &err, milliseconds(5000)));
  EXPECT_EQ(child->exit_info()->signal, SIGKILL);
}

TEST_F(ProcessLauncherTest, TerminateEndsAStoppedJob) {
  for (bool force : {false, true}) {
    std::unique_ptr<ChildProcess> child = Start(Sh("echo ready; kill -STOP $$; echo resumed"));
    ASSERT_NE(child, nullptr);
    StringSink out;
    StringSink err;
    ASSERT_EQ(PumpFirstLine(child.get(), &out), "ready");
    ASSERT_TRUE(StateWithin(static_cast<pid_t>(child->pid()), 'T', milliseconds(5000)));
    ASSERT_TRUE(child->Terminate(force).ok());
    ASSERT_TRUE(PumpUntilDone(child.get(), &out, &err, milliseconds(5000))) << "force " << force;
    EXPECT_EQ(child->exit_info()->signal, force ? SIGKILL : SIGTERM);
    EXPECT_EQ(out.text, "ready\n");
  }
}

TEST_F(ProcessLauncherTest, DaemonKeepingThePipeIsLeftAfterAboutASecond) {
  std::unique_ptr<ChildProcess> child = Start(Sh("(sleep 5 &) ; echo done"));
  ASSERT_NE(child, nullptr);
  StringSink out;
  StringSink err;
  const Clock::time_point start = Clock::now();
  ASSERT_TRUE(PumpUntilDone(child.get(), &out, &err, milliseconds(5000)));
  const double seconds = SecondsSince(start);
  EXPECT_LT(seconds, 3.0);
  std::printf("[ timing   ] finished %.2f s after launch with a daemon on the pipe\n", seconds);
  EXPECT_EQ(out.text, "done\n");
  EXPECT_EQ(child->exit_info()->exit_code, 0);
  // Done means done: later calls return at once.
  Result<bool> again = child->Pump(1000, &out, &err);
  ASSERT_TRUE(again.ok());
  EXPECT_TRUE(*again);
  // The daemon is still in the job's process group; Terminate still reaches it.
  EXPECT_TRUE(child->Terminate(true).ok());
}

TEST_F(ProcessLauncherTest, DaemonWithRedirectedOutputDoesNotDelayTheEnd) {
  std::unique_ptr<ChildProcess> child = Start(Sh("sleep 30 >/dev/null 2>&1 & echo $!"));
  ASSERT_NE(child, nullptr);
  StringSink out;
  StringSink err;
  const Clock::time_point start = Clock::now();
  ASSERT_TRUE(PumpUntilDone(child.get(), &out, &err, milliseconds(5000)));
  EXPECT_LT(SecondsSince(start), 0.9);
  const pid_t daemon = std::stoi(out.text);
  EXPECT_FALSE(EndsWithin(daemon, milliseconds(0)));
  // After the job ended, Terminate still stops what it left in its group.
  ASSERT_TRUE(child->Terminate(true).ok());
  EXPECT_TRUE(EndsWithin(daemon, milliseconds(5000)));
}

TEST_F(ProcessLauncherTest, JobClosingStdoutEarlyEndsNormally) {
  Ran ran = Run(Sh("exec 1>&-; sleep 0.2; echo err >&2"));
  ASSERT_TRUE(ran.done);
  EXPECT_EQ(ran.info.exit_code, 0);
  EXPECT_EQ(ran.out, "");
  EXPECT_EQ(ran.err, "err\n");
}

TEST_F(ProcessLauncherTest, ExitIsNoticedPromptlyAfterThePipesClosed) {
  std::unique_ptr<ChildProcess> child = Start(Sh("exec >/dev/null 2>&1; sleep 0.3; exit 4"));
  ASSERT_NE(child, nullptr);
  const Clock::time_point start = Clock::now();
  // One long Pump: it must wake for the exit although no pipe has anything to say.
  Result<bool> done = child->Pump(10000, nullptr, nullptr);
  const double seconds = SecondsSince(start);
  ASSERT_TRUE(done.ok());
  EXPECT_TRUE(*done);
  EXPECT_LT(seconds, 1.0);
  EXPECT_EQ(child->exit_info()->exit_code, 4);
}

// ---- Users ------------------------------------------------------------------------------------

TEST_F(ProcessLauncherTest, RunsAsAnotherUserWithOnlyThatUsersGroups) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root";
  struct passwd* nobody = getpwnam("nobody");
  if (nobody == nullptr) GTEST_SKIP() << "no user 'nobody'";
  const uid_t uid = nobody->pw_uid;
  const gid_t gid = nobody->pw_gid;
  // Give this process supplementary groups the job must not keep.
  std::vector<gid_t> saved(static_cast<size_t>(getgroups(0, nullptr)));
  ASSERT_GE(getgroups(static_cast<int>(saved.size()), saved.data()), 0);
  const gid_t extra[] = {0, 1, 2};
  ASSERT_EQ(setgroups(3, extra), 0);

  LaunchSpec spec = Sh("id -u; id -g; id -G");
  spec.run_as_user = "nobody";
  Ran ran = Run(spec);
  ASSERT_EQ(setgroups(saved.size(), saved.data()), 0);
  ASSERT_TRUE(ran.done);
  EXPECT_EQ(ran.info.exit_code, 0) << ran.err;
  // nobody's groups: its primary group plus whatever /etc/group lists it in.
  std::vector<gid_t> groups(64);
  int n = static_cast<int>(groups.size());
  ASSERT_GE(getgrouplist("nobody", gid, groups.data(), &n), 0);
  std::string expected_groups;
  for (int i = 0; i < n; ++i) {
    expected_groups += (i ? " " : "") + std::to_string(groups[i]);
  }
  EXPECT_EQ(ran.out,
            std::to_string(uid) + "\n" + std::to_string(gid) + "\n" + expected_groups + "\n");
}

// Run in a forked process that has dropped root, so it works whether or not the test
// runs as root. Returns a bit per failed expectation, 0 when all held.
int CheckAsNonRoot() {
  std::unique_ptr<ProcessLauncher> launcher = NewProcessLauncher();
  int failed = 0;
  LaunchSpec spec;
  spec.argv = {"/bin/true"};
  spec.run_as_user = "root";
  Result<std::unique_ptr<ChildProcess>> as_root = launcher->Launch(spec);
  if (as_root.ok() || as_root.status().code() != Status::Code::kPermissionDenied) failed |= 1;
  if (!as_root.ok() && as_root.status().message().find("'root'") == std::string::npos) failed |= 2;
  // Naming the user this process already is needs no privilege.
  struct passwd* self = getpwuid(geteuid());
  if (self == nullptr) return failed | 4;
  spec.run_as_user = self->pw_name;
  Result<std::unique_ptr<ChildProcess>> as_self = launcher->Launch(spec);
  if (!as_self.ok()) return failed | 8;
  Result<bool> done = false;
  for (int i = 0; i < 100 && done.ok() && !*done; ++i) {
    done = (*as_self)->Pump(100, nullptr, nullptr);
  }
  if (!done.ok() || !*done || (*as_self)->exit_info()->exit_code != 0) failed |= 16;
  return failed;
}

TEST_F(ProcessLauncherTest, NonRootCannotRunAsAnotherUser) {
  if (geteuid() != 0) {
    EXPECT_EQ(CheckAsNonRoot(), 0);
    return;
  }
  struct passwd* nobody = getpwnam("nobody");
  if (nobody == nullptr) GTEST_SKIP() << "no user 'nobody'";
  const uid_t uid = nobody->pw_uid;
  const gid_t gid = nobody->pw_gid;
  fflush(nullptr);
  pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    if (setgroups(0, nullptr) != 0 || setgid(gid) != 0 || setuid(uid) != 0) _exit(100);
    _exit(CheckAsNonRoot());
  }
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0) << "failed checks (bits), 100 = could not drop root";
}

}  // namespace
}  // namespace cg
