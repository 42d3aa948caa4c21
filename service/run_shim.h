// The run shim: one process per run (the seed's multiprocessing.Process). It creates
// the run's lock file, records RunStarted, starts the command, refreshes the lock file
// every second while the command runs, enforces the timeout, captures the output,
// records RunFinished with the output, and removes the lock file. Because the shim
// records the run itself, the service can restart (or crash) while jobs run.
#pragma once

#include <cstdint>
#include <string>

#include "service/job.h"
#include "service/state.h"

namespace cg {

struct ShimOptions {
  std::string data_dir;
  uint64_t run_id = 0;
  // After SIGTERM (timeout, replace, a stop request) the command gets this long before
  // SIGKILL.
  int64_t stop_grace_ms = 10000;
  // Per stream: output beyond this keeps its head and tail with a marker between.
  size_t output_cap = size_t{1} << 20;
};

namespace os {
class Channel;
}

// Carries run `run_id`. A run of a schedule claimed before its slot (chronographd
// starts shims ahead, see ServiceOptions::start_ahead_us) is claimed at once and its
// command started at the slot, not before. `known`, when given, is a state folded from
// this data directory (the service's, in a forked shim): only the events after it are
// folded. Returns 0 when the run was recorded (whatever the command's
// outcome), 3 when the run was not this shim's to start (already started by another
// shim, ended, or unknown), 1 on errors (logged to stderr).
int RunShim(const ShimOptions& options, State* known = nullptr);

// A run chronographd hands to a shim it forked (service/handoff.h): the service has
// claimed the run, read the job's definition and created the lock file; it records
// the run's start and end in its own passes, for many runs in one commit.
struct HandedRun {
  RunRecord run;          // as claimed
  JobSpec spec;           // the definition the service read (the job's spec_seq)
  std::string lock_file;  // created by the service; kept fresh, removed by the shim
  os::Channel* channel;   // the shim's end
};

// Carries a handed run: waits for the service's word that RunStarted is durable, runs
// the command from the start time it names (as RunShim does), hands the end over and
// waits until the service says RunFinished is durable, keeping the lock file fresh
// throughout. When the service goes before either word, the shim reads the log and
// goes on alone: it runs the command only when the log has its RunStarted (its pid,
// this host), and records the end itself unless the log already has it. `known` is
// the service's state at the fork (folded on from there). Returns as RunShim.
int RunHandedShim(const ShimOptions& options, const HandedRun& handed, State* known);

}  // namespace cg
