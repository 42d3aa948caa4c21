// service/process_launcher.h on POSIX systems: fork + execve, after libuv's uv_spawn
// (src/unix/process.c, uv__spawn_and_init_child).
//
// Launch does every lookup and allocation in the parent (program path, user, group
// list, argv and environment arrays). Between fork and execve the child makes only
// async-signal-safe system calls: in a multi-threaded parent another thread may hold
// the malloc or NSS locks at the moment of fork, and they stay locked in the child.
// A step that fails in the child writes {step, errno} to a close-on-exec pipe and the
// child exits 127; the parent reads that pipe until EOF, which a successful execve
// produces by closing it. So a command that cannot start is an error from Launch, not
// a child that exits 127.
//
// We do not use posix_spawn because it can neither change the user nor report which
// step (chdir, setuid, exec) failed. Where the system has it, the child is started as
// glibc's posix_spawn starts its own: clone(CLONE_VM | CLONE_VFORK) on a stack of its
// own, sharing this process's memory until execve, so starting a command costs the
// same whatever this process's size (the run shim is a fork of the service, whose
// page tables fork would copy: DESIGN.md measured 24 forks/s from a 1 GiB parent). The
// child then uses raw system calls for the credentials (glibc's wrappers would try to
// reach every thread of the process, which the child shares). Elsewhere, and under
// the sanitizers (which cannot follow such a child), it is fork.

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>
#if HAVE_CLONE_VFORK
#include <sched.h>
#include <sys/syscall.h>
#endif
#if HAVE_PIDFD_OPEN
extern "C" {  // glibc 2.36's <sys/pidfd.h> forgets its own extern "C" (fixed in 2.37)
#include <sys/pidfd.h>
}
#endif

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "service/process_launcher.h"
#include "service/status.h"

namespace cg {
namespace {

using Clock = std::chrono::steady_clock;

// How long Pump keeps reading after the child ended while descendants hold the pipes.
constexpr std::chrono::milliseconds kDescendantGrace(1000);
// Without a pidfd, poll() cannot wake on the child's exit: cap each wait so an exit
// is noticed within this long even when the pipes stay silent.
constexpr int kExitCheckIntervalMs = 50;
constexpr const char* kDefaultPath = "/usr/local/bin:/usr/bin:/bin";

// errno -> Status, once, at the edge (leveldb's PosixError).
Status PosixError(const std::string& context, int err) {
  std::string msg = context + ": " + strerror(err);
  if (err == ENOENT) return Status::NotFound(msg);
  if (err == EACCES || err == EPERM) return Status::PermissionDenied(msg);
  return Status::IOError(msg);
}

// Owns a file descriptor (leveldb's ScopedHandle).
class ScopedFd final {
 public:
  ScopedFd() = default;
  explicit ScopedFd(int fd) : fd_(fd) {}
  ~ScopedFd() { Reset(); }
  ScopedFd(ScopedFd&& other) noexcept : fd_(other.Release()) {}
  ScopedFd& operator=(ScopedFd&& other) noexcept {
    if (this != &other) {
      Reset();
      fd_ = other.Release();
    }
    return *this;
  }

  int get() const { return fd_; }
  bool valid() const { return fd_ >= 0; }
  int Release() { return std::exchange(fd_, -1); }
  void Reset() {
    if (fd_ >= 0) close(fd_);
    fd_ = -1;
  }

 private:
  int fd_ = -1;
};

// If this process was started with 0, 1 or 2 closed, pipe2/open can hand those
// numbers out; the child's dup2 onto 0..2 would then clobber one source with another.
// Keep every descriptor the child works with at 3 or above.
Status MoveAbove2(ScopedFd* fd) {
  if (fd->get() >= 3) return Status::OK();
  int moved = fcntl(fd->get(), F_DUPFD_CLOEXEC, 3);
  if (moved < 0) return PosixError("fcntl(F_DUPFD_CLOEXEC)", errno);
  *fd = ScopedFd(moved);
  return Status::OK();
}

struct Pipe {
  ScopedFd read;
  ScopedFd write;
};

Result<Pipe> MakePipe() {
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) return PosixError("pipe2", errno);
  Pipe p{ScopedFd(fds[0]), ScopedFd(fds[1])};
  CG_RETURN_IF_ERROR(MoveAbove2(&p.read));
  CG_RETURN_IF_ERROR(MoveAbove2(&p.write));
  return p;
}

Status SetNonBlocking(int fd) {
  int flags = fcntl(fd, F_GETFL);
  if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) != 0) {
    return PosixError("fcntl(O_NONBLOCK)", errno);
  }
  return Status::OK();
}


// ---- Program lookup ---------------------------------------------------------------

std::string StartContext(const std::string& name, const std::string& path) {
  if (name == path) return "cannot start '" + name + "'";
  return "cannot start '" + name + "' (" + path + ")";
}

// PATH as the child will see it: the first PATH in spec.env (getenv's choice), else
// this process's, else a conventional default.
std::string SearchPath(const LaunchSpec& spec) {
  for (const auto& [name, value] : spec.env) {
    if (name == "PATH") return value;
  }
  const char* own = getenv("PATH");
  return own != nullptr ? own : kDefaultPath;
}

// A relative path is resolved by the child after its chdir, so probe it there too,
// and pass execve an absolute path.
std::string AsChildSeesIt(const std::string& path, const std::string& working_dir) {
  if (path[0] == '/') return path;
  std::string base = working_dir;
  if (base.empty() || base[0] != '/') {
    std::vector<char> cwd(4096);
    if (getcwd(cwd.data(), cwd.size()) == nullptr) return path;
    base = working_dir.empty() ? std::string(cwd.data()) : std::string(cwd.data()) + "/" + base;
  }
  return base + "/" + path;
}

// execvp's search, done here so that "not found" is precise and the child makes no
// allocation. A name with a '/' is used as given (relative to the working directory).
Result<std::string> ResolveProgram(const LaunchSpec& spec) {
  const std::string& name = spec.argv[0];
  if (name.find('/') != std::string::npos) return name;
  const std::string search_path = SearchPath(spec);
  bool found_not_executable = false;
  size_t begin = 0;
  while (begin <= search_path.size()) {
    size_t end = search_path.find(':', begin);
    if (end == std::string::npos) end = search_path.size();
    std::string dir = search_path.substr(begin, end - begin);
    begin = end + 1;
    // An empty PATH entry means the current directory (POSIX).
    std::string candidate = AsChildSeesIt((dir.empty() ? "." : dir) + "/" + name, spec.working_dir);
    struct stat st;
    if (stat(candidate.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) continue;
    if (faccessat(AT_FDCWD, candidate.c_str(), X_OK, AT_EACCESS) == 0) return candidate;
    found_not_executable = true;
  }
  if (found_not_executable) {
    return Status::PermissionDenied("cannot start '" + name +
                                    "': found in PATH but not executable");
  }
  return Status::NotFound("cannot start '" + name + "': not found in PATH (" + search_path + ")");
}

// ---- User ---------------------------------------------------------------------------

struct Identity {
  bool change = false;  // false: keep this process's user and groups
  uid_t uid = 0;
  gid_t gid = 0;
  std::vector<gid_t> groups;  // the supplementary groups to set
};

// Resolves `user` here: getpwnam_r and getgrouplist read files and talk to NSS, which
// is not async-signal-safe, so the child only gets the numbers.
Result<Identity> ResolveIdentity(const std::string& user) {
  Identity id;
  if (user.empty()) return id;
  struct passwd pw;
  struct passwd* found = nullptr;
  std::vector<char> buf(16384);
  int rc;
  while ((rc = getpwnam_r(user.c_str(), &pw, buf.data(), buf.size(), &found)) == ERANGE) {
    buf.resize(buf.size() * 2);
  }
  // Some NSS modules report "no such user" as ENOENT/ESRCH instead of a null result.
  if (found == nullptr && (rc == 0 || rc == ENOENT || rc == ESRCH)) {
    return Status::NotFound("unknown user '" + user + "'");
  }
  if (rc != 0) return PosixError("cannot look up user '" + user + "'", rc);

  const uid_t euid = geteuid();
  if (euid != 0) {
    if (pw.pw_uid == euid) return id;  // already that user: nothing to switch
    return Status::PermissionDenied("running a job as user '" + user +
                                    "' needs root; this process runs as uid " +
                                    std::to_string(euid));
  }
  id.change = true;
  id.uid = pw.pw_uid;
  id.gid = pw.pw_gid;
  // initgroups() would do this in the child but reads /etc/group; compute the list here.
  int n = 32;
  for (;;) {
    id.groups.resize(n);
    int want = n;
    if (getgrouplist(user.c_str(), id.gid, id.groups.data(), &want) >= 0) {
      id.groups.resize(want);
      break;
    }
    n = std::max(want, n * 2);
  }
  return id;
}

// ---- The child, between fork and execve ---------------------------------------------

// What failed in the child. Only used on the pipe between the two halves of Launch.
enum class ChildStep : int32_t {
  kSetpgid = 1,
  kStdio,
  kSetgroups,
  kSetgid,
  kSetuid,
  kChdir,
  kExec,
};

struct ChildReport {
  int32_t step;
  int32_t err;
};

// Everything the child needs, prepared by the parent; the pointers refer to storage
// that the parent keeps alive until the child has exec'd or failed.
struct ChildPlan {
  const char* path = nullptr;
  char* const* argv = nullptr;
  char* const* envp = nullptr;
  const char* working_dir = nullptr;  // nullptr: keep the current one
  const Identity* identity = nullptr;
  int stdio[3] = {-1, -1, -1};  // all >= 3
  int report_fd = -1;           // >= 3
  unsigned max_fd = 0;          // closing bound when close_range is unavailable
};

[[noreturn]] void ReportAndExit(int report_fd, ChildStep step) {
  ChildReport report{static_cast<int32_t>(step), errno};
  ssize_t n;
  do {
    n = write(report_fd, &report, sizeof(report));
  } while (n < 0 && errno == EINTR);
  _exit(127);
}

#if HAVE_CLONE_VFORK && !defined(__SANITIZE_ADDRESS__) && !defined(__SANITIZE_THREAD__)
#define CG_SPAWN_WITH_CLONE 1
// This task's credentials only (see the top of the file).
int SysSetgroups(size_t n, const gid_t* groups) { return static_cast<int>(syscall(SYS_setgroups, n, groups)); }
int SysSetgid(gid_t gid) { return static_cast<int>(syscall(SYS_setgid, gid)); }
int SysSetuid(uid_t uid) { return static_cast<int>(syscall(SYS_setuid, uid)); }
#else
#define CG_SPAWN_WITH_CLONE 0
int SysSetgroups(size_t n, const gid_t* groups) { return setgroups(n, groups); }
int SysSetgid(gid_t gid) { return setgid(gid); }
int SysSetuid(uid_t uid) { return setuid(uid); }
#endif

// Closes [first, last]. Async-signal-safe.
void CloseRange(unsigned first, unsigned last, unsigned max_fd) {
  if (first > last) return;
#if HAVE_CLOSE_RANGE
  if (close_range(first, last, 0) == 0) return;
  // ENOSYS before Linux 5.9 (or an older BSD): fall back to the loop.
#endif
  for (unsigned fd = first; fd <= last && fd < max_fd; ++fd) close(static_cast<int>(fd));
}

[[noreturn]] void RunChild(const ChildPlan& plan) {
  // Its own process group, so Terminate reaches every descendant with one kill(-pgid).
  if (setpgid(0, 0) != 0) ReportAndExit(plan.report_fd, ChildStep::kSetpgid);
  for (int i = 0; i < 3; ++i) {
    // dup2 leaves the copy without FD_CLOEXEC, so 0..2 survive execve.
    if (dup2(plan.stdio[i], i) < 0) ReportAndExit(plan.report_fd, ChildStep::kStdio);
  }
  // Descriptors this process opened without O_CLOEXEC (ours are all O_CLOEXEC, but a
  // library's may not be) must not reach the job. Keep only the report pipe, which
  // execve closes.
  const unsigned report = static_cast<unsigned>(plan.report_fd);
  CloseRange(3, report - 1, plan.max_fd);
  CloseRange(report + 1, ~0U, plan.max_fd);

  // The parent may ignore signals (ignored stays ignored across execve) and has
  // blocked them all around fork; handlers would run parent code here. Every signal
  // is still blocked, so reset dispositions first, then unblock just before execve.
  struct sigaction dfl;
  memset(&dfl, 0, sizeof(dfl));
  dfl.sa_handler = SIG_DFL;
  for (int sig = 1; sig < NSIG; ++sig) {
    if (sig == SIGKILL || sig == SIGSTOP) continue;
    sigaction(sig, &dfl, nullptr);  // fails harmlessly for libc-reserved signals
  }

  const Identity* id = plan.identity;
  if (id->change) {
    // Groups first: after setuid we no longer may change them.
    if (SysSetgroups(id->groups.size(), id->groups.data()) != 0) {
      ReportAndExit(plan.report_fd, ChildStep::kSetgroups);
    }
    if (SysSetgid(id->gid) != 0) ReportAndExit(plan.report_fd, ChildStep::kSetgid);
    if (SysSetuid(id->uid) != 0) ReportAndExit(plan.report_fd, ChildStep::kSetuid);
  }
  // chdir after switching user (unlike libuv), so a job cannot be started in a
  // directory its user could not enter itself.
  if (plan.working_dir != nullptr && chdir(plan.working_dir) != 0) {
    ReportAndExit(plan.report_fd, ChildStep::kChdir);
  }
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, nullptr);
  execve(plan.path, plan.argv, plan.envp);
  ReportAndExit(plan.report_fd, ChildStep::kExec);
}

// ---- The running child --------------------------------------------------------------

ExitInfo ToExitInfo(int status) {
  ExitInfo info;
  if (WIFEXITED(status)) {
    info.exit_code = WEXITSTATUS(status);
  } else if (WIFSIGNALED(status)) {
    info.signal = WTERMSIG(status);
  }
  return info;
}

// A pidfd polls readable when the child exits, so Pump sleeps in poll() without a
// cap. -1 when unavailable.
ScopedFd OpenPidfd(pid_t pid) {
#if HAVE_PIDFD_OPEN
  return ScopedFd(pidfd_open(pid, 0));  // always close-on-exec
#else
  (void)pid;
  return ScopedFd();
#endif
}

class PosixChildProcess final : public ChildProcess {
 public:
  PosixChildProcess(pid_t pid, ScopedFd out, ScopedFd err)
      : pid_(pid), out_(std::move(out)), err_(std::move(err)), pidfd_(OpenPidfd(pid)) {}

  // A child still running is killed with its whole process group (SIGKILL) and
  // reaped: dropping the handle never leaves a zombie or an unsupervised job.
  // Descendants of a child that already ended are left alone, as Pump documents.
  ~PosixChildProcess() override {
    if (exit_info_) return;
    // The group always exists (Launch fails if setpgid does), but waitpid below must
    // never block on a child we failed to signal.
    if (kill(-pid_, SIGKILL) != 0) kill(pid_, SIGKILL);
    int status;
    while (waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
    }
  }

  int64_t pid() const override { return pid_; }

  Result<bool> Pump(int timeout_ms, OutputSink* out, OutputSink* err) override;

  // Signals the process group. After the child ended this still reaches the
  // descendants left in its group. The group id cannot be handed to an unrelated
  // process while any member of the group lives, and an empty group yields ESRCH.
  Status Terminate(bool force) override {
    if (kill(-pid_, force ? SIGKILL : SIGTERM) != 0) {
      if (errno == ESRCH) return Status::OK();  // nothing left to stop
      return PosixError("cannot signal process group " + std::to_string(pid_), errno);
    }
    // A stopped process acts on SIGTERM only once continued (systemd sends SIGCONT
    // after SIGTERM for the same reason). SIGKILL needs no help.
    if (!force) kill(-pid_, SIGCONT);
    return Status::OK();
  }

  std::optional<ExitInfo> exit_info() const override { return exit_info_; }

 private:
  Status ReapIfExited();
  bool Finished(Clock::time_point now);
  Status PollOnce(int wait_ms, OutputSink* out, OutputSink* err, bool* interrupted);
  Status Drain(ScopedFd* fd, OutputSink* sink);

  const pid_t pid_;
  ScopedFd out_;
  ScopedFd err_;
  ScopedFd pidfd_;
  std::optional<ExitInfo> exit_info_;  // set once reaped
  Clock::time_point exited_at_;        // when we reaped it
  bool finished_ = false;              // Pump has returned true
};

int CeilMs(Clock::duration d) {
  if (d <= Clock::duration::zero()) return 0;
  auto ms = std::chrono::ceil<std::chrono::milliseconds>(d).count();
  return static_cast<int>(std::min<int64_t>(ms, 1 << 30));
}

Result<bool> PosixChildProcess::Pump(int timeout_ms, OutputSink* out, OutputSink* err) {
  const Clock::time_point deadline =
      Clock::now() + std::chrono::milliseconds(std::max(timeout_ms, 0));
  bool polled = false;  // poll at least once, even with a zero timeout
  for (;;) {
    CG_RETURN_IF_ERROR(ReapIfExited());
    const Clock::time_point now = Clock::now();
    if (Finished(now)) return true;
    if (polled && now >= deadline) return false;
    int wait_ms = CeilMs(deadline - now);
    if (exit_info_) {
      wait_ms = std::min(wait_ms, CeilMs(exited_at_ + kDescendantGrace - now));
    } else if (!pidfd_.valid()) {
      wait_ms = std::min(wait_ms, kExitCheckIntervalMs);
    }
    bool interrupted = false;
    CG_RETURN_IF_ERROR(PollOnce(wait_ms, out, err, &interrupted));
    if (interrupted) return false;  // the caller's signal: let it look
    polled = true;
  }
}

Status PosixChildProcess::ReapIfExited() {
  if (exit_info_) return Status::OK();
  int status = 0;
  pid_t r;
  do {
    r = waitpid(pid_, &status, WNOHANG);
  } while (r < 0 && errno == EINTR);
  if (r == 0) return Status::OK();
  if (r < 0) return PosixError("waiting for process " + std::to_string(pid_), errno);
  exit_info_ = ToExitInfo(status);
  exited_at_ = Clock::now();
  pidfd_.Reset();
  return Status::OK();
}

// The contract's end: exited, and both pipes at EOF or the grace period over.
bool PosixChildProcess::Finished(Clock::time_point now) {
  if (finished_) return true;
  if (!exit_info_) return false;
  if (out_.valid() || err_.valid()) {
    if (now < exited_at_ + kDescendantGrace) return false;
    // A descendant (a daemon) still holds a write end. Stop reading; closing our end
    // gives it EPIPE on its next write, which is its business.
    out_.Reset();
    err_.Reset();
  }
  finished_ = true;
  return true;
}

Status PosixChildProcess::PollOnce(int wait_ms, OutputSink* out, OutputSink* err,
                                   bool* interrupted) {
  struct pollfd fds[3];
  nfds_t n = 0;
  int out_index = -1;
  int err_index = -1;
  if (out_.valid()) {
    out_index = static_cast<int>(n);
    fds[n++] = {out_.get(), POLLIN, 0};
  }
  if (err_.valid()) {
    err_index = static_cast<int>(n);
    fds[n++] = {err_.get(), POLLIN, 0};
  }
  if (pidfd_.valid()) fds[n++] = {pidfd_.get(), POLLIN, 0};  // wakes us on exit
  if (poll(fds, n, wait_ms) < 0) {
    if (errno == EINTR) {
      *interrupted = true;
      return Status::OK();
    }
    return PosixError("poll", errno);
  }
  if (out_index >= 0 && fds[out_index].revents != 0) CG_RETURN_IF_ERROR(Drain(&out_, out));
  if (err_index >= 0 && fds[err_index].revents != 0) CG_RETURN_IF_ERROR(Drain(&err_, err));
  return Status::OK();
}

// Reads what is available (the pipe is non-blocking), closing it at EOF. Bounded per
// call so that a flooding stream cannot starve the other one or the exit check.
Status PosixChildProcess::Drain(ScopedFd* fd, OutputSink* sink) {
  char buf[64 * 1024];
  for (int i = 0; i < 16; ++i) {
    ssize_t n = read(fd->get(), buf, sizeof(buf));
    if (n > 0) {
      if (sink != nullptr) sink->Append(buf, static_cast<size_t>(n));
      continue;
    }
    if (n == 0) {
      fd->Reset();
      return Status::OK();
    }
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) return Status::OK();
    return PosixError("reading the output of process " + std::to_string(pid_), errno);
  }
  return Status::OK();
}

// ---- The launcher -------------------------------------------------------------------

unsigned MaxFd() {
  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur == RLIM_INFINITY ||
      rl.rlim_cur > (1u << 20)) {
    return 1u << 20;
  }
  return static_cast<unsigned>(rl.rlim_cur);
}

// The child's report: OK once execve succeeded (EOF), else the error it describes.
Status AwaitExec(int report_fd, const LaunchSpec& spec, const std::string& path) {
  ChildReport report;
  ssize_t n;
  do {
    n = read(report_fd, &report, sizeof(report));
  } while (n < 0 && errno == EINTR);
  if (n == 0) return Status::OK();
  const std::string start = StartContext(spec.argv[0], path);
  if (n < 0) return PosixError(start + ": reading the child's report", errno);
  if (n != sizeof(report)) return Status::IOError(start + ": short report from the child");
  const std::string as_user = "cannot switch to user '" + spec.run_as_user + "'";
  switch (static_cast<ChildStep>(report.step)) {
    case ChildStep::kSetpgid: return PosixError(start + ": setpgid", report.err);
    case ChildStep::kStdio: return PosixError(start + ": dup2", report.err);
    case ChildStep::kSetgroups: return PosixError(as_user + " (setgroups)", report.err);
    case ChildStep::kSetgid: return PosixError(as_user + " (setgid)", report.err);
    case ChildStep::kSetuid: return PosixError(as_user + " (setuid)", report.err);
    case ChildStep::kChdir:
      return PosixError("working directory '" + spec.working_dir + "'", report.err);
    case ChildStep::kExec: return PosixError(start, report.err);
  }
  return Status::IOError(start + ": unknown report from the child");
}

class PosixProcessLauncher final : public ProcessLauncher {
 public:
  Result<std::unique_ptr<ChildProcess>> Launch(const LaunchSpec& spec) override;
};

Result<std::unique_ptr<ChildProcess>> PosixProcessLauncher::Launch(const LaunchSpec& spec) {
  CG_RETURN_IF_ERROR(ValidateLaunchSpec(spec));
  Result<std::string> path = ResolveProgram(spec);
  if (!path.ok()) return path.status();
  Result<Identity> identity = ResolveIdentity(spec.run_as_user);
  if (!identity.ok()) return identity.status();

  // argv and envp as execve wants them, built before fork (the child must not allocate).
  std::vector<char*> argv;
  for (const std::string& arg : spec.argv) argv.push_back(const_cast<char*>(arg.c_str()));
  argv.push_back(nullptr);
  std::vector<std::string> env_strings;
  for (const auto& [name, value] : spec.env) env_strings.push_back(name + "=" + value);
  std::vector<char*> envp;
  for (const std::string& s : env_strings) envp.push_back(const_cast<char*>(s.c_str()));
  envp.push_back(nullptr);

  const std::string start = StartContext(spec.argv[0], *path);
  ScopedFd devnull(open("/dev/null", O_RDONLY | O_CLOEXEC));
  if (!devnull.valid()) return PosixError(start + ": /dev/null", errno);
  CG_RETURN_IF_ERROR(MoveAbove2(&devnull));
  Result<Pipe> out = MakePipe();
  if (!out.ok()) return out.status().WithContext(start);
  Result<Pipe> err = MakePipe();
  if (!err.ok()) return err.status().WithContext(start);
  Result<Pipe> report = MakePipe();
  if (!report.ok()) return report.status().WithContext(start);
  // Pump reads without blocking. O_NONBLOCK is on our read ends' open file
  // descriptions only; the child's write ends stay blocking.
  CG_RETURN_IF_ERROR(SetNonBlocking(out->read.get()).WithContext(start));
  CG_RETURN_IF_ERROR(SetNonBlocking(err->read.get()).WithContext(start));

  ChildPlan plan;
  plan.path = path->c_str();
  plan.argv = argv.data();
  plan.envp = envp.data();
  plan.working_dir = spec.working_dir.empty() ? nullptr : spec.working_dir.c_str();
  plan.identity = &*identity;
  plan.stdio[0] = devnull.get();
  plan.stdio[1] = out->write.get();
  plan.stdio[2] = err->write.get();
  plan.report_fd = report->write.get();
  plan.max_fd = MaxFd();

  // Block every signal across fork so that no handler of this process runs in the
  // child before RunChild has reset the dispositions (libuv does the same).
  sigset_t all;
  sigset_t saved;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &saved);
#if CG_SPAWN_WITH_CLONE
  // The parent is suspended until the child has called execve or exited.
  std::vector<char> child_stack(64 * 1024);
  pid_t pid = clone(
      [](void* p) -> int { RunChild(*static_cast<const ChildPlan*>(p)); },
      child_stack.data() + child_stack.size(), CLONE_VM | CLONE_VFORK | SIGCHLD, &plan);
#else
  pid_t pid = fork();
  if (pid == 0) RunChild(plan);
#endif
  const int fork_errno = errno;
  pthread_sigmask(SIG_SETMASK, &saved, nullptr);
  if (pid < 0) return PosixError(start + ": fork", fork_errno);

  // Close our copies of the child's ends: the pipes reach EOF when the child (and its
  // descendants) close theirs, and the report pipe when execve succeeds.
  devnull.Reset();
  out->write.Reset();
  err->write.Reset();
  report->write.Reset();
  Status started = AwaitExec(report->read.get(), spec, *path);
  if (!started.ok()) {
    // The child has exited 127 or is about to: reap it so that no zombie remains.
    int status;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    return started;
  }
  return std::unique_ptr<ChildProcess>(
      new PosixChildProcess(pid, std::move(out->read), std::move(err->read)));
}

}  // namespace

std::unique_ptr<ProcessLauncher> NewProcessLauncher() {
  return std::make_unique<PosixProcessLauncher>();
}

}  // namespace cg
