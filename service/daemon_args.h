// chronographd's command line, the same on every OS (each platform's main parses it).
#pragma once

#include <cstdint>
#include <string>

namespace cg {

struct DaemonArgs {
  std::string data_dir;          // resolved: --data, $CHRONOGRAPH_DATA or the default
  double lock_timeout_s = 10;
  int64_t start_ahead_ms = 500;
  uint64_t snapshot_every = 10000;
  uint64_t max_running = 1000;
  uint64_t idle_shims = 64;
  std::string log_level = "info";
  uint64_t shim_run = 0;         // non-zero: run as the shim of this run
  bool shim_worker = false;      // run as a shim the service hands runs to (channel on fd 3)
  bool console = false;          // Windows: run in the foreground, not as a service
};

// Parses argv. Returns -1 to go on, else the exit code (help, version, usage error).
// `windows` adds --console.
int ParseDaemonArgs(int argc, const char* const* argv, bool windows, DaemonArgs* args);

}  // namespace cg
