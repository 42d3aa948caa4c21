// One scheduling pass: the shared heart of chronographd's loop and of
// `chronotool run-due` / `chronotool run`. In one write transaction it reconciles the
// runs of this host (a shim that died, a lock file gone stale, a claimed run whose job
// was removed), answers run requests, and decides the due slots; then it reports the
// claimed runs that may start.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "service/handoff.h"
#include "service/planner.h"
#include "service/schedule.h"
#include "store/event_log.h"

namespace cg {

// Parsed schedules by job, reparsed when a job's definition changes. Bounded: the
// service asks for a job's schedule when it computes the job's next slot and when the
// slot comes, so with many jobs keeping every parsed schedule would cost memory for
// nothing (an RRULE is about 400 bytes; a cron expression is parsed in about 1 µs).
class ScheduleCache {
 public:
  static constexpr size_t kDefaultMaxEntries = 4096;
  explicit ScheduleCache(size_t max_entries = kDefaultMaxEntries) : max_entries_(max_entries) {}

  // The job's parsed schedule; nullptr when it does not parse (logged by the caller).
  // Valid until the next Get or Forget.
  const sched::Schedule* Get(const std::string& name, const JobState& job);
  void Forget(const std::string& job) { cache_.erase(job); }
  size_t size() const { return cache_.size(); }

 private:
  struct Entry {
    std::string schedule, time_zone;
    int64_t anchor_us = 0;
    std::unique_ptr<sched::Schedule> parsed;
  };
  size_t max_entries_;
  std::map<std::string, Entry> cache_;
};

// The starts and ends of runs whose shims this process forked and speaks with over a
// channel (chronographd's; service/handoff.h). The pass records them in its
// transaction, ahead of its decisions, and says which it recorded.
struct HandedStart {
  uint64_t run_id = 0;
  int64_t pid = 0;         // the shim's
  std::string lock_file;   // created for the shim
  uint64_t spec_seq = 0;   // the job's definition the shim was given
  // Set by the pass: RunStarted recorded (the run was still claimed, of the same job
  // and definition, its shim alive), and the start time it names.
  bool recorded = false;
  int64_t started_at_us = 0;
};
struct HandedEnd {
  const handoff::End* end = nullptr;
  bool recorded = false;  // set by the pass (false: nothing to record, see EndIsRecordable)
};
struct HandedRuns {
  std::vector<HandedStart> starts;
  std::vector<HandedEnd> ends;
  // Claimed runs that cannot start (run -> why): recorded as failed, never started,
  // if still claimed.
  std::map<uint64_t, std::string> failures;
  bool empty() const { return starts.empty() && ends.empty() && failures.empty(); }
};

struct PassOptions {
  int64_t now_us = 0;
  // A running run on this host whose lock file is older than this is abandoned.
  int64_t lock_timeout_us = 10 * kMicrosPerSecond;
  // Check the lock files of running runs in this pass.
  bool check_locks = true;
  // The jobs whose due slots to decide; all jobs when null.
  const std::set<std::string>* due_jobs = nullptr;
  // Runs whose shim (a child of this process) ended without recording the end. The
  // run is abandoned only if it is still waiting to start, or running under that pid
  // (another process's shim may have won the start).
  struct DeadShim {
    int64_t pid = 0;
    std::string how;
  };
  std::map<uint64_t, DeadShim> dead_shims;
  // Events to append first (ServiceStarted), and last (ServiceStopped: after the ends
  // the stopping service records).
  std::vector<EventPayload> extra_events;
  std::vector<EventPayload> final_events;
  // Handed-over starts and ends to record (see HandedRuns); results written back.
  HandedRuns* handed = nullptr;
  PlanOptions plan;
};

// The end of claimed run `run` that failed before its command started (started_at 0),
// saying why. The fold accepts it for a run that has not started.
RunFinished FailedBeforeStart(const RunRecord& run, int64_t now_us, std::string reason);

// Runs the pass; *state is current afterwards. Returns the number of events appended.
Result<uint64_t> SchedulePass(store::EventLog* log, State* state, ScheduleCache* schedules,
                              const PassOptions& options);

// The job's whole definition: its JobState::full_spec, or, in a state that does not keep
// specs (the service's, which a forked shim inherits), the spec of event spec_seq with
// the job's `enabled`. Corruption when that event is not a JobDefined/JobChanged of the
// job.
Result<JobSpec> ReadJobSpec(store::EventLog* log, const std::string& name,
                            const JobState& job);

// The fold at the log's snapshot (EventLog::ReadSnapshot), decoded and checked to be of
// the event it names; nullopt when there is none. The caller folds the events after it.
// Errors: what reading or decoding it found (NotSupported for another snapshot
// version); the log itself is then still whole, to be folded from the start.
Result<std::optional<State>> LoadStateSnapshot(store::EventLog* log);

// The path of the run shim's executable (chronographd, next to the running program).
std::string ShimPath();

// Starts the shim for run `run_id` detached. Returns its pid. `quiet` sends the shim's
// own diagnostics to the null device instead of this process's stderr (for chronotool,
// so that a pipe or cron mail does not stay open until the run ends).
Result<int64_t> StartShim(const std::string& data_dir, uint64_t run_id, bool quiet);

}  // namespace cg
