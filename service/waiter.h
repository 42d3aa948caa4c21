// The service's sleep: it wakes at a deadline, when the event log changes (another
// process appended), when a child process ends, or when shutdown is requested.
// One implementation per OS (inotify + a self-pipe for signals on POSIX).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "service/status.h"

namespace cg {

// data.mdb changes (kLogChanged) just before its commit can be read: LMDB publishes the
// transaction in lock.mdb after writing the meta page. A reader woken for a change it
// does not see yet looks again after 1 ms, doubling up to this (1 + 2 + ... + 64 ms).
constexpr int64_t kLookAgainMaxUs = 64000;

class Waiter {
 public:
  enum Reason : unsigned {
    kTimeout = 0,
    kLogChanged = 1,
    kChildExited = 2,
    kShutdown = 4,
    kReadable = 8,  // a watched handle has something to read (or its stream ended)
  };
  virtual ~Waiter() = default;
  Waiter(const Waiter&) = delete;
  Waiter& operator=(const Waiter&) = delete;

  // Sleeps until `deadline_us` (UTC µs; <= now returns at once) or an earlier wake.
  // Returns the reasons (a bitmask); kTimeout alone when the deadline passed.
  virtual unsigned WaitUntil(int64_t deadline_us) = 0;

  // True once a shutdown was requested (SIGTERM/SIGINT, the Windows STOP control, or
  // RequestShutdown()). Sticky.
  virtual bool shutdown_requested() const = 0;
  // Requests shutdown. Thread-safe.
  virtual void RequestShutdown() = 0;

  // Also wakes when `handle` (an os::Channel's) has something to read or its stream
  // ends; until Unwatch. A handle whose stream ended stays readable: unwatch it.
  // Not supported on Windows (no channels there): ignored.
  virtual void Watch(intptr_t handle) = 0;
  virtual void Unwatch(intptr_t handle) = 0;
  // The watched handles found readable since the last call (after kReadable).
  virtual std::vector<intptr_t> TakeReadable() = 0;

 protected:
  Waiter() = default;
};

// The next look-again interval (0: none), after a wake for `why` (WaitUntil's) whose
// catch-up of the log found new events (`fresh`) or not; `again_us`: the current one.
inline int64_t NextLookAgainUs(int64_t again_us, unsigned why, bool fresh) {
  if (fresh) return 0;
  if (why & Waiter::kLogChanged) return 1000;
  return again_us && again_us < kLookAgainMaxUs ? again_us * 2 : 0;
}

// Watches the event log in `data_dir` (nothing to watch when empty). With
// `handle_signals`, also turns SIGTERM and SIGINT into shutdown requests and SIGCHLD
// into kChildExited (at most one Waiter per process may handle signals).
Result<std::unique_ptr<Waiter>> NewWaiter(const std::string& data_dir, bool handle_signals);

}  // namespace cg
