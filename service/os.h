// The few facts about the OS that the core, the store and chronotool need.
// One implementation per platform (platform/posix/os_posix.cc, platform/windows/...),
// chosen by CMake, like leveldb's Env::Default().
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "service/status.h"

namespace cg::os {

// The name of the user this process runs as ("root"; "uid 1234" when it has no name).
std::string CurrentUserName();
// This machine's host name.
std::string HostName();
int64_t CurrentPid();
// The value of an environment variable, UTF-8.
std::optional<std::string> GetEnv(const std::string& name);
// /var/lib/chronograph; %ProgramData%\Chronograph on Windows.
std::string DefaultDataDir();
// Creates `path` (and missing parents) with owner-only permissions on the leaf.
// An existing directory is accepted as it is. Errors: IOError/PermissionDenied.
Status CreatePrivateDirectory(const std::string& path);
// True when `path` exists and is a directory.
bool DirectoryExists(const std::string& path);

// ---- lock files (the run shim's heartbeat) ----

// Creates a new, empty file with a random name "<prefix><random>.lock" in `dir`
// (which must exist): created exclusively, never following a symlink, owner-only.
// Returns its path. Errors: IOError/PermissionDenied.
Result<std::string> CreateLockFile(const std::string& dir, const std::string& prefix);
// Sets the file's modification time to now.
Status TouchFile(const std::string& path);
// The file's modification time, UTC microseconds. NotFound when it does not exist.
Result<int64_t> FileMtimeMicros(const std::string& path);
// The file's size in bytes. NotFound when it does not exist.
Result<uint64_t> FileSize(const std::string& path);
// Removes a file; a missing file is not an error.
Status RemoveFile(const std::string& path);

// ---- memory ----

// Drops from this process's resident memory the pages of the shared, read-only mapping
// of `file` that contains address `inside` (LMDB's map); they stay in the OS's file
// cache and come back on the next access. Does nothing when `inside` is not in such a
// mapping of that file. A hint: errors are ignored.
void ReleaseMappedPages(const void* inside, const std::string& file);

// ---- the service lock: one chronographd per data directory ----

class ServiceLock {
 public:
  virtual ~ServiceLock() = default;  // releases the lock
};
// Takes the exclusive lock on `path` (created if needed) for the life of the returned
// object and writes this process's pid into it. Busy("... pid N") when another process
// holds it.
Result<std::unique_ptr<ServiceLock>> AcquireServiceLock(const std::string& path);
// The pid of the process that holds the lock on `path`, nullopt when none does.
std::optional<int64_t> ServiceLockHolder(const std::string& path);

// ---- processes ----

// This program's arguments in UTF-8 (`argv` on POSIX; on Windows, where main()'s argv
// is in the ANSI code page, the UTF-16 command line converted). Also puts stdout and
// stderr in binary mode (no "\r\n" for "\n", job output passed through unchanged) and a
// console, if any, in UTF-8. Call once at the start of main().
std::vector<std::string> ProgramArguments(int argc, char** argv);

// The argv that runs `line` through the system shell: /bin/sh -c LINE (cmd /c on Windows).
std::vector<std::string> ShellArgv(const std::string& line);
// The directory of the running executable (to find chronographd next to chronotool).
std::string ExecutableDir();
// The executable name with the platform's suffix: "chronographd" / "chronographd.exe".
std::string ExecutableName(const std::string& base);
// Starts `argv` detached: its own session, stdin/stdout on the null device, stderr
// inherited (or the null device), no other descriptor inherited, except `keep`: when
// not kNoHandle, a Channel's handle the program receives as ChannelFromInherited()
// (NotSupported on Windows). Returns its pid. Used for run shims.
constexpr intptr_t kNoHandle = -1;
Result<int64_t> SpawnDetached(const std::vector<std::string>& argv, bool inherit_stderr,
                              intptr_t keep = kNoHandle);

// One end of a local byte stream between this process and a child it starts (an
// AF_UNIX socketpair): how chronographd and the run shims it starts hand each other
// runs, their starts and their ends. Either end sees the stream end when the other
// process goes, however it goes. NotSupported on Windows (for now: its shims record
// their runs themselves).
class Channel {
 public:
  virtual ~Channel() = default;
  // Writes all of `bytes`, blocking while the stream is full. An error when the other
  // end is gone (never a signal).
  virtual Status Send(std::string_view bytes) = 0;
  // Appends what can be read now, without blocking, to *out. False once the other end
  // has closed and everything it sent was read.
  virtual Result<bool> Receive(std::string* out) = 0;
  // For Waiter::Watch.
  virtual intptr_t handle() const = 0;
};
Result<std::pair<std::unique_ptr<Channel>, std::unique_ptr<Channel>>> NewChannelPair();
// In a program started by SpawnDetached with `keep`: that channel.
std::unique_ptr<Channel> ChannelFromInherited();
// A child started by SpawnDetached that has ended.
struct ReapedChild {
  int64_t pid = 0;
  int exit_code = -1;
  int signal = 0;
};
// Collects every child of this process that has ended, without blocking.
std::vector<ReapedChild> ReapChildren();
// Waits for one child started by SpawnDetached to end.
ReapedChild WaitChild(int64_t pid);
// A job's minimal, stated base environment when it runs as `user` (empty: the current
// user): on POSIX PATH, LANG=C.UTF-8, HOME, USER, LOGNAME, SHELL; on Windows PATH
// (the system folders), SystemRoot, windir, ComSpec, PATHEXT, TEMP, TMP, USERPROFILE,
// USERNAME, ProgramData. NotFound for an unknown user, NotSupported where another
// user cannot be honoured.
Result<std::vector<std::pair<std::string, std::string>>> JobBaseEnvironment(
    const std::string& user);
// True when a process with this pid exists on this machine.
bool ProcessExists(int64_t pid);
// Asks process `pid` to stop (SIGTERM; on Windows the shim's stop event).
Status RequestStop(int64_t pid);

// SHA-256, incremental. Not thread-safe; one per thread.
class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;
  void Update(const void* data, size_t n);
  std::array<uint8_t, 32> Final();

 private:
  struct Impl;
  Impl* impl_;
};

std::array<uint8_t, 32> Sha256Of(const void* data, size_t n);
std::string HexOf(const uint8_t* data, size_t n);

}  // namespace cg::os
