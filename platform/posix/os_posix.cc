// service/os.h on POSIX systems.
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/types.h>
#include <unistd.h>

#include <openssl/evp.h>

#include <string>
#include <vector>

#include "service/os.h"

extern char** environ;

namespace cg::os {
namespace {

Status PosixError(const std::string& context, int err) {
  std::string msg = context + ": " + strerror(err);
  if (err == EACCES || err == EPERM || err == EROFS) return Status::PermissionDenied(msg);
  if (err == ENOENT) return Status::NotFound(msg);
  return Status::IOError(msg);
}

}  // namespace

std::string CurrentUserName() {
  uid_t uid = geteuid();
  std::vector<char> buf(16384);
  struct passwd pw;
  struct passwd* result = nullptr;
  if (getpwuid_r(uid, &pw, buf.data(), buf.size(), &result) == 0 && result != nullptr) {
    return result->pw_name;
  }
  return "uid " + std::to_string(uid);
}

std::string HostName() {
  char buf[256];
  if (gethostname(buf, sizeof(buf)) != 0) return "unknown";
  buf[sizeof(buf) - 1] = '\0';
  return buf;
}

int64_t CurrentPid() { return static_cast<int64_t>(getpid()); }

std::optional<std::string> GetEnv(const std::string& name) {
  const char* v = getenv(name.c_str());
  if (v == nullptr) return std::nullopt;
  return std::string(v);
}

std::string DefaultDataDir() { return "/var/lib/chronograph"; }

bool DirectoryExists(const std::string& path) {
  struct stat st;
  return stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

Status CreatePrivateDirectory(const std::string& path) {
  if (path.empty()) return Status::InvalidArgument("empty directory path");
  // Create the parents with the default mode, the leaf owner-only.
  for (size_t pos = path.find('/', 1); pos != std::string::npos; pos = path.find('/', pos + 1)) {
    std::string parent = path.substr(0, pos);
    if (mkdir(parent.c_str(), 0755) != 0 && errno != EEXIST) {
      return PosixError("cannot create directory '" + parent + "'", errno);
    }
  }
  if (mkdir(path.c_str(), 0700) != 0) {
    if (errno != EEXIST) return PosixError("cannot create directory '" + path + "'", errno);
    struct stat st;
    if (stat(path.c_str(), &st) != 0) return PosixError("cannot stat '" + path + "'", errno);
    if (!S_ISDIR(st.st_mode)) {
      return Status::IOError("'" + path + "' exists and is not a directory");
    }
    // A directory that another user owns, or that group or others may write, would
    // let them plant, replace or refresh what we keep there (lock files, the log).
    const uid_t euid = geteuid();
    if (st.st_uid != euid && st.st_uid != 0) {
      return Status::PermissionDenied("refusing to use directory '" + path + "': it is owned by uid " +
                                      std::to_string(st.st_uid) + ", not by this user (uid " +
                                      std::to_string(euid) + ") or root");
    }
    if (st.st_mode & (S_IWGRP | S_IWOTH)) {
      char mode[8];
      snprintf(mode, sizeof(mode), "%04o", static_cast<unsigned>(st.st_mode & 07777));
      return Status::PermissionDenied("refusing to use directory '" + path +
                                      "': it is writable by group or others (mode " + mode +
                                      "); chmod go-w it");
    }
  }
  return Status::OK();
}

// ---- lock files ----

Result<std::string> CreateLockFile(const std::string& dir, const std::string& prefix) {
  static const char kChars[] = "abcdefghijklmnopqrstuvwxyz0123456789";
  for (int attempt = 0; attempt < 100; ++attempt) {
    unsigned char random[12];
    int urandom = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
    if (urandom < 0 || read(urandom, random, sizeof(random)) != sizeof(random)) {
      if (urandom >= 0) close(urandom);
      return PosixError("cannot read /dev/urandom", errno);
    }
    close(urandom);
    std::string name = prefix;
    for (unsigned char c : random) name += kChars[c % 36];
    std::string path = dir + "/" + name + ".lock";
    // O_EXCL|O_NOFOLLOW: a name planted in advance or a symlink is never followed.
    int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd >= 0) {
      close(fd);
      return path;
    }
    if (errno != EEXIST) return PosixError("cannot create lock file '" + path + "'", errno);
  }
  return Status::IOError("cannot find a free lock file name in '" + dir + "'");
}

void ReleaseMappedPages(const void* inside, const std::string& file) {
  struct stat st;
  if (stat(file.c_str(), &st) != 0) return;
  const auto p = reinterpret_cast<uintptr_t>(inside);
  FILE* maps = fopen("/proc/self/maps", "re");
  if (!maps) return;
  char line[4096];
  while (fgets(line, sizeof line, maps)) {
    // start-end perms offset major:minor inode path
    unsigned long lo = 0, hi = 0, inode = 0;
    unsigned int major = 0, minor = 0;
    char perms[8] = {0};
    if (sscanf(line, "%lx-%lx %7s %*x %x:%x %lu", &lo, &hi, perms, &major, &minor, &inode) != 6 ||
        p < lo || p >= hi) {
      continue;
    }
    // Only a shared mapping of that very file: MADV_DONTNEED on private or anonymous
    // memory would discard data, on a shared file mapping it only unmaps (a later
    // access faults the page in again from the file cache).
    if (perms[3] == 's' && inode == st.st_ino && makedev(major, minor) == st.st_dev) {
      (void)madvise(reinterpret_cast<void*>(lo), hi - lo, MADV_DONTNEED);
    }
    break;
  }
  fclose(maps);
}

Status TouchFile(const std::string& path) {
  if (utimensat(AT_FDCWD, path.c_str(), nullptr, AT_SYMLINK_NOFOLLOW) != 0) {
    return PosixError("cannot touch '" + path + "'", errno);
  }
  return Status::OK();
}

Result<int64_t> FileMtimeMicros(const std::string& path) {
  struct stat st;
  if (lstat(path.c_str(), &st) != 0) return PosixError("cannot stat '" + path + "'", errno);
  return static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000 + st.st_mtim.tv_nsec / 1000;
}

Result<uint64_t> FileSize(const std::string& path) {
  struct stat st;
  if (stat(path.c_str(), &st) != 0) return PosixError("cannot stat '" + path + "'", errno);
  return static_cast<uint64_t>(st.st_size);
}

Status RemoveFile(const std::string& path) {
  if (unlink(path.c_str()) != 0 && errno != ENOENT) {
    return PosixError("cannot remove '" + path + "'", errno);
  }
  return Status::OK();
}

// ---- the service lock ----

namespace {

class PosixServiceLock final : public ServiceLock {
 public:
  explicit PosixServiceLock(int fd) : fd_(fd) {}
  ~PosixServiceLock() override { close(fd_); }

 private:
  int fd_;
};

struct flock WholeFile(short type) {
  struct flock fl;
  memset(&fl, 0, sizeof(fl));
  fl.l_type = type;
  fl.l_whence = SEEK_SET;
  return fl;
}

}  // namespace

Result<std::unique_ptr<ServiceLock>> AcquireServiceLock(const std::string& path) {
  int fd = open(path.c_str(), O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0) return PosixError("cannot open '" + path + "'", errno);
  struct flock fl = WholeFile(F_WRLCK);
  if (fcntl(fd, F_SETLK, &fl) != 0) {
    int err = errno;
    close(fd);
    if (err == EACCES || err == EAGAIN) {
      auto holder = ServiceLockHolder(path);
      return Status::Busy("another chronographd runs on this data directory (pid " +
                          (holder ? std::to_string(*holder) : std::string("unknown")) + ")");
    }
    return PosixError("cannot lock '" + path + "'", err);
  }
  std::string pid = std::to_string(getpid()) + "\n";
  if (ftruncate(fd, 0) != 0 || pwrite(fd, pid.data(), pid.size(), 0) < 0) {
    int err = errno;
    close(fd);
    return PosixError("cannot write '" + path + "'", err);
  }
  return std::unique_ptr<ServiceLock>(new PosixServiceLock(fd));
}

std::optional<int64_t> ServiceLockHolder(const std::string& path) {
  int fd = open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) return std::nullopt;
  struct flock fl = WholeFile(F_WRLCK);
  int rc = fcntl(fd, F_GETLK, &fl);
  close(fd);
  if (rc != 0 || fl.l_type == F_UNLCK) return std::nullopt;
  return static_cast<int64_t>(fl.l_pid);
}

// ---- processes ----

std::vector<std::string> ProgramArguments(int argc, char** argv) {
  return std::vector<std::string>(argv, argv + argc);
}

std::vector<std::string> ShellArgv(const std::string& line) { return {"/bin/sh", "-c", line}; }

std::string ExecutableDir() {
  std::vector<char> buf(4096);
  ssize_t n = readlink("/proc/self/exe", buf.data(), buf.size() - 1);
  if (n <= 0) return ".";
  std::string path(buf.data(), n);
  size_t slash = path.rfind('/');
  return slash == std::string::npos ? "." : path.substr(0, slash);
}

std::string ExecutableName(const std::string& base) { return base; }

// The descriptor a program started with `keep` finds its channel on.
constexpr int kInheritedChannelFd = 3;

Result<int64_t> SpawnDetached(const std::vector<std::string>& argv, bool inherit_stderr,
                              intptr_t keep) {
  if (argv.empty()) return Status::InvalidArgument("empty argv");
  // Every descriptor of this process is close-on-exec; the kept one is duplicated to
  // kInheritedChannelFd in the child (from a copy above it, so that dup2 never meets
  // the same number and leaves close-on-exec set).
  int keep_copy = -1;
  if (keep != kNoHandle) {
    keep_copy = fcntl(static_cast<int>(keep), F_DUPFD_CLOEXEC, kInheritedChannelFd + 1);
    if (keep_copy < 0) return PosixError("cannot duplicate the channel", errno);
  }
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
  if (!inherit_stderr) posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
  if (keep_copy >= 0) posix_spawn_file_actions_adddup2(&fa, keep_copy, kInheritedChannelFd);
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  // Its own session: a Ctrl-C or SIGTERM meant for the service does not reach runs.
  // Default signal handling and an empty mask, whatever the service set up.
  sigset_t all, none;
  sigfillset(&all);
  sigemptyset(&none);
  posix_spawnattr_setsigdefault(&attr, &all);
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSID | POSIX_SPAWN_SETSIGDEF |
                                      POSIX_SPAWN_SETSIGMASK);
  pid_t pid;
  int rc = posix_spawn(&pid, args[0], &fa, &attr, args.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  posix_spawnattr_destroy(&attr);
  if (keep_copy >= 0) close(keep_copy);
  if (rc != 0) return PosixError("cannot start '" + argv[0] + "'", rc);
  return static_cast<int64_t>(pid);
}

namespace {

class SocketChannel final : public Channel {
 public:
  explicit SocketChannel(int fd) : fd_(fd) {}
  ~SocketChannel() override { close(fd_); }

  Status Send(std::string_view bytes) override {
    while (!bytes.empty()) {
      ssize_t n = send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) return PosixError("cannot send to the channel", errno);
      bytes.remove_prefix(static_cast<size_t>(n));
    }
    return Status::OK();
  }

  Result<bool> Receive(std::string* out) override {
    char buf[65536];
    for (;;) {
      ssize_t n = recv(fd_, buf, sizeof buf, MSG_DONTWAIT);
      if (n > 0) {
        out->append(buf, static_cast<size_t>(n));
        continue;
      }
      if (n == 0) return false;
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) return true;
      if (errno == ECONNRESET) return false;
      return PosixError("cannot read from the channel", errno);
    }
  }

  intptr_t handle() const override { return fd_; }

 private:
  int fd_;
};

}  // namespace

std::unique_ptr<Channel> ChannelFromInherited() {
  // Not left to a command the shim starts.
  (void)fcntl(kInheritedChannelFd, F_SETFD, FD_CLOEXEC);
  return std::make_unique<SocketChannel>(kInheritedChannelFd);
}

Result<std::pair<std::unique_ptr<Channel>, std::unique_ptr<Channel>>> NewChannelPair() {
  int sv[2];
  // Close-on-exec both: a command the shim starts must not hold the service's stream
  // open (the service would not see the shim go).
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) {
    return PosixError("cannot create a socket pair", errno);
  }
  return std::make_pair(std::unique_ptr<Channel>(new SocketChannel(sv[0])),
                        std::unique_ptr<Channel>(new SocketChannel(sv[1])));
}

namespace {
ReapedChild FromStatus(pid_t pid, int status) {
  ReapedChild c;
  c.pid = pid;
  if (WIFEXITED(status)) c.exit_code = WEXITSTATUS(status);
  if (WIFSIGNALED(status)) c.signal = WTERMSIG(status);
  return c;
}
}  // namespace

std::vector<ReapedChild> ReapChildren() {
  std::vector<ReapedChild> out;
  for (;;) {
    int status = 0;
    pid_t pid = waitpid(-1, &status, WNOHANG);
    if (pid <= 0) break;
    out.push_back(FromStatus(pid, status));
  }
  return out;
}

ReapedChild WaitChild(int64_t pid) {
  int status = 0;
  pid_t rc;
  do {
    rc = waitpid(static_cast<pid_t>(pid), &status, 0);
  } while (rc < 0 && errno == EINTR);
  return FromStatus(static_cast<pid_t>(pid), status);
}

Result<std::vector<std::pair<std::string, std::string>>> JobBaseEnvironment(
    const std::string& user) {
  std::vector<std::pair<std::string, std::string>> env = {
      {"PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"},
      {"LANG", "C.UTF-8"}};
  std::vector<char> buf(16384);
  struct passwd pw;
  struct passwd* result = nullptr;
  int rc = user.empty() ? getpwuid_r(geteuid(), &pw, buf.data(), buf.size(), &result)
                        : getpwnam_r(user.c_str(), &pw, buf.data(), buf.size(), &result);
  if (rc != 0 || result == nullptr) {
    if (!user.empty()) return Status::NotFound("unknown user '" + user + "'");
    env.push_back({"HOME", "/"});
    return env;
  }
  env.insert(env.end(), {{"HOME", pw.pw_dir},
                         {"USER", pw.pw_name},
                         {"LOGNAME", pw.pw_name},
                         {"SHELL", "/bin/sh"}});
  return env;
}

bool ProcessExists(int64_t pid) {
  return pid > 0 && (kill(static_cast<pid_t>(pid), 0) == 0 || errno == EPERM);
}

Status RequestStop(int64_t pid) {
  if (pid <= 0) return Status::InvalidArgument("no pid");
  if (kill(static_cast<pid_t>(pid), SIGTERM) != 0) {
    return PosixError("cannot signal process " + std::to_string(pid), errno);
  }
  return Status::OK();
}

struct Sha256::Impl {
  EVP_MD_CTX* ctx;
};

namespace {

// OpenSSL 3 looks EVP_sha256() up in its providers (locks, a property query) at every
// EVP_DigestInit_ex; fetched once, the digest is used as it is. `verify` hashes every
// event: 46% of its time was libcrypto, most of it that look-up.
const EVP_MD* FetchedSha256() {
  static const EVP_MD* md = [] {
    const EVP_MD* fetched = EVP_MD_fetch(nullptr, "SHA256", nullptr);
    return fetched ? fetched : EVP_sha256();
  }();
  return md;
}

}  // namespace

Sha256::Sha256() : impl_(new Impl{EVP_MD_CTX_new()}) {
  EVP_DigestInit_ex(impl_->ctx, FetchedSha256(), nullptr);
}

Sha256::~Sha256() {
  EVP_MD_CTX_free(impl_->ctx);
  delete impl_;
}

void Sha256::Update(const void* data, size_t n) { EVP_DigestUpdate(impl_->ctx, data, n); }

std::array<uint8_t, 32> Sha256::Final() {
  std::array<uint8_t, 32> out{};
  unsigned int len = 0;
  EVP_DigestFinal_ex(impl_->ctx, out.data(), &len);
  return out;
}

}  // namespace cg::os
