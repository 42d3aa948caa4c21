// The run shim: a process apart from the service that carries a run (the seed's
// multiprocessing.Process). It keeps the run's lock file fresh every second while the
// command runs, starts the command, enforces the timeout, captures the output, and
// removes the lock file at the end. The run's start and end are recorded by the shim
// itself (RunShim) or, for a shim the service speaks with, by the service in groups
// (RunShimWorker); either way a shim outlives the service and then records its run
// alone, so the service can restart (or crash) while jobs run.
#pragma once

#include <cstdint>
#include <string>

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

// Carries run `run_id`, recording its start and end itself (a shim started as a
// program: by chronotool, or by the service where there are no channels, Windows). A
// run of a schedule claimed before its slot (chronographd starts shims ahead, see
// ServiceOptions::start_ahead_us) is claimed at once and its command started at the
// slot, not before. Returns 0 when the run was recorded (whatever the command's
// outcome), 3 when the run was not this shim's to start (already started by another
// shim, ended, or unknown), 1 on errors (logged to stderr).
int RunShim(const ShimOptions& options);

// A shim chronographd started with a channel (service/handoff.h): it carries the runs
// the service hands it, one after another. For each it waits for the word that
// RunStarted is durable, runs the command from the start time given (as RunShim does),
// hands the end over and waits until the service says RunFinished is durable, keeping
// the run's lock file fresh throughout; then it waits for the next run. When the
// service goes before either word, the shim reads the log and goes on alone: it runs
// the command only when the log has its RunStarted (its pid, this host), records the
// end itself unless the log already has it, and exits. It exits when the service
// closes the stream while it is idle, and after a run it was asked to stop (SIGTERM).
// `options.run_id` is not used. Returns 0, or as RunShim for the run carried alone.
int RunShimWorker(const ShimOptions& options, os::Channel* channel);

}  // namespace cg
