// The scheduler's decisions, as pure functions of the state and the time: which slots
// are due and what happens to each (claimed, skipped and why), which claimed runs may
// start, which running runs a `replace` job must stop. Used by chronographd and by
// `chronotool run-due`, always inside EventLog::Transact so that the state is current
// and the decisions are appended atomically.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <optional>
#include <vector>

#include "service/events.h"
#include "service/schedule.h"
#include "service/state.h"
#include "service/time_util.h"

namespace cg {

struct PlanOptions {
  int64_t now_us = 0;
  // The latest due slot runs as scheduled when it is at most this late; older due slots
  // are missed runs and follow the job's `missed` policy.
  int64_t on_time_grace_us = 60 * kMicrosPerSecond;
  // Missed slots recorded one event each; beyond this, one summary event.
  size_t max_missed_events = 1000;
  // Runs waiting behind a running one (overlap=queue, missed=all); beyond, skipped.
  size_t max_queued = 100;
  // Claim a job's next slot this long before it comes, when nothing of the job is
  // running or waiting, so that its shim is ready and the command starts at the slot
  // itself (chronographd's --start-ahead). A job that is busy then has its slot decided
  // at the slot time, so overlap policies judge the slot as it comes. 0: at the slot.
  int64_t ahead_us = 0;
};

// The next slot of `job` after its cursor (last_slot_us), or nullopt when the schedule
// has ended, or the job is disabled and its skip was already recorded.
std::optional<sched::Fire> NextSlot(const JobState& job, const sched::Schedule& schedule);

// The decisions of one batch. It counts the runs of each job as the batch changes them
// (claimed, ended), so that several decisions about one job in one batch (a run
// request and a due slot, a dead or finished run and the next slot) see each other.
// REQUIRES: `state` is current and outlives the Planner.
class Planner {
 public:
  Planner(const State& state, const PlanOptions& options) : state_(state), o_(options) {}

  // Appends the decisions for `job`'s slots due at now_us (claims, skips and why), and
  // the claim of its next slot when that comes within ahead_us and the job is idle.
  // `schedule` is the job's parsed schedule. Slots already decided are passed over.
  void DueSlots(const std::string& name, const JobState& job, const sched::Schedule& schedule,
                std::vector<EventPayload>* out);
  // Appends the answers to every pending run request (RunScheduled or RunSkipped).
  void Requests(std::vector<EventPayload>* out);
  // The batch records the end of `run` (abandoned, or finished as its shim handed it
  // over): it no longer counts as active.
  void Ending(const RunRecord& run);
  // The batch records the start of claimed run `run`: it counts as running.
  void Starting(const RunRecord& run);

 private:
  struct JobRuns {
    size_t running = 0;
    size_t scheduled = 0;
    uint64_t running_id = 0;
  };
  JobRuns& Runs(const std::string& job);
  // The decisions for due slots (oldest first; `total_due` counts the older ones not
  // kept, from `first_due_us`).
  void DecideDue(const std::string& name, const JobState& job,
                 const std::vector<sched::Fire>& due, size_t total_due, int64_t first_due_us,
                 std::vector<EventPayload>* out);
  void Decide(const JobState& job, bool force_queue, RunScheduled claim,
              std::vector<EventPayload>* out);

  const State& state_;
  PlanOptions o_;
  std::map<std::string, JobRuns> runs_;
};

// Shorthands for a batch of one kind of decision.
void PlanDueSlots(const State& state, const std::string& name, const JobState& job,
                  const sched::Schedule& schedule, const PlanOptions& o,
                  std::vector<EventPayload>* out);
void PlanRequests(const State& state, const PlanOptions& o, std::vector<EventPayload>* out);

// The claimed runs that may start now: per job, its oldest scheduled run when nothing
// of that job runs. Runs of removed jobs (or of an earlier job of the same name) are
// not included (see OrphanedRuns).
std::vector<uint64_t> RunsToStart(const State& state);

// Claimed runs whose job was removed (or replaced by a new job of the same name)
// before they started.
std::vector<uint64_t> OrphanedRuns(const State& state);

// When the command of a claimed run is to start: at its slot for a slot claimed ahead
// of it, else now.
int64_t PlannedStartUs(const RunRecord& run, int64_t now_us);

// Running runs of `replace` jobs that have a newer run waiting: to be stopped.
std::vector<uint64_t> RunsToReplace(const State& state);

}  // namespace cg
