// The scheduler's decisions, as pure functions of the state and the time: which slots
// are due and what happens to each (claimed, skipped and why), which claimed runs may
// start, which running runs a `replace` job must stop. Used by chronographd and by
// `chronotool run-due`, always inside EventLog::Transact so that the state is current
// and the decisions are appended atomically.
#pragma once

#include <cstdint>
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
};

// The next slot of `job` after its cursor (last_slot_us), or nullopt when the schedule
// has ended, or the job is disabled and its skip was already recorded.
std::optional<sched::Fire> NextSlot(const JobState& job, const sched::Schedule& schedule);

// Appends the decisions for `job`'s slots due at o.now_us to *out.
// REQUIRES: `state` is current; `schedule` is the job's parsed schedule.
void PlanDueSlots(const State& state, const JobState& job, const sched::Schedule& schedule,
                  const PlanOptions& o, std::vector<EventPayload>* out);

// Appends the answers to every pending run request (RunScheduled or RunSkipped).
void PlanRequests(const State& state, const PlanOptions& o, std::vector<EventPayload>* out);

// The claimed runs that may start now: per job, its oldest scheduled run when nothing
// of that job runs. Runs of removed jobs are not included (see OrphanedRuns).
std::vector<uint64_t> RunsToStart(const State& state);

// Claimed runs whose job was removed before they started.
std::vector<uint64_t> OrphanedRuns(const State& state);

// Running runs of `replace` jobs that have a newer run waiting: to be stopped.
std::vector<uint64_t> RunsToReplace(const State& state);

}  // namespace cg
