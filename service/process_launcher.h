// Starting a job's command and collecting its output: the OS boundary for processes
// (after leveldb's Env and libuv's uv_spawn). One implementation per OS:
// platform/posix/process_launcher_posix.cc, platform/windows/process_launcher_windows.cc.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "service/status.h"

namespace cg {

struct LaunchSpec {
  // argv[0] is the program: a path, or a name looked up in the PATH of `env` (or of
  // this process when `env` has no PATH).
  std::vector<std::string> argv;
  // Empty: this process's working directory.
  std::string working_dir;
  // The complete environment of the child, in order. Empty: an empty environment.
  std::vector<std::pair<std::string, std::string>> env;
  // Run as this user (name), with that user's groups, supplementary groups reset.
  // Empty: this process's user. A user other than the current one needs root
  // (PermissionDenied otherwise); NotSupported where the OS cannot honour it.
  std::string run_as_user;
};

// How a process ended.
struct ExitInfo {
  int exit_code = -1;  // -1 when ended by a signal
  int signal = 0;      // 0 when it exited
};

// Receives output as it arrives.
class OutputSink {
 public:
  virtual ~OutputSink() = default;
  virtual void Append(const char* data, size_t n) = 0;
};

// A started command. Not thread-safe: one thread pumps it; Terminate may be called
// from that thread only.
class ChildProcess {
 public:
  virtual ~ChildProcess() = default;
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  virtual int64_t pid() const = 0;

  // Waits at most `timeout_ms` for output or for the process to end, passing output to
  // the sinks. Returns true once the process has ended and its output is collected:
  // both pipes at EOF, or, when descendants keep them open (a daemon), up to one
  // second after the process ended; the pipes are then closed and the descendants
  // are left alone. Returns false early when a signal interrupts the wait (POSIX), so
  // that the caller may look at what it asked for. Errors: IOError.
  virtual Result<bool> Pump(int timeout_ms, OutputSink* out, OutputSink* err) = 0;

  // Stops the command and every process it started (its process group / Job Object):
  // politely (SIGTERM) unless `force` (SIGKILL / TerminateJobObject).
  virtual Status Terminate(bool force) = 0;

  // How it ended, once Pump returned true.
  virtual std::optional<ExitInfo> exit_info() const = 0;

 protected:
  ChildProcess() = default;
};

class ProcessLauncher {
 public:
  virtual ~ProcessLauncher() = default;
  ProcessLauncher(const ProcessLauncher&) = delete;
  ProcessLauncher& operator=(const ProcessLauncher&) = delete;

  // Starts `spec` with stdin from the null device and stdout/stderr on pipes, in a new
  // process group (Job Object on Windows), with no descriptor of this process
  // inherited. A failure to start (no such program, a working directory that does not
  // exist, an unknown user, exec refused) is returned as an error naming the cause,
  // not as a child that exits 127. Thread-safe.
  virtual Result<std::unique_ptr<ChildProcess>> Launch(const LaunchSpec& spec) = 0;

 protected:
  ProcessLauncher() = default;
};

std::unique_ptr<ProcessLauncher> NewProcessLauncher();  // defined once per platform

// The checks every launcher makes before starting anything: a non-empty program, no
// NUL byte anywhere, environment names without '='. InvalidArgument naming the part.
Status ValidateLaunchSpec(const LaunchSpec& spec);

}  // namespace cg
