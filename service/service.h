// chronographd's main loop, the same on every OS: replay the log, record
// ServiceStarted, reconcile runs in flight, then schedule: a heap of next fire times,
// sleeping until the earliest (or until the log changes, a shim ends, or shutdown).
#pragma once

#include <cstdint>
#include <string>

#include "service/service_host.h"
#include "service/waiter.h"

namespace cg {

struct ServiceOptions {
  std::string data_dir;
  int64_t lock_timeout_us = 10 * 1000000;
  // A job with nothing running or waiting has its next slot claimed and its run shim
  // started this long before the slot; the shim starts the command at the slot itself.
  int64_t start_ahead_us = 500 * 1000;
  // A snapshot of the fold is written to the log's meta after this many new events
  // (at most once a minute) and on a clean stop, so that a start folds only the events
  // after it. 0: never.
  uint64_t snapshot_every_events = 10000;
  // At most this many run shims at once (each a process: a burst of due runs after
  // downtime, with many jobs, must not become as many processes at once). Runs beyond
  // it stay claimed and start as others end. 0: no limit.
  uint64_t max_running = 1000;
  // Run shims kept waiting for the next run after theirs (where the service speaks
  // with its shims over channels, POSIX), each for at most a minute: a busy service
  // then starts no process for a shim per run. 0: a shim exits after its run.
  uint64_t idle_shims = 64;
};

// Runs until `waiter` reports shutdown. Returns the process exit code.
int RunService(const ServiceOptions& options, Waiter* waiter, ServiceNotifier* notifier);

}  // namespace cg
