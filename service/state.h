// The projection: jobs and runs as a pure fold over the event log. The service,
// chronotool and audit replay all use Apply(), so `state --at T` is the same fold
// stopped at T.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "service/events.h"
#include "service/run_table.h"
#include "service/status.h"

namespace cg {

const char* RunStatusName(RunStatus s);
Result<RunStatus> ParseRunStatus(std::string_view s);

struct JobState {
  // What the scheduler reads of the job's definition, kept for every job.
  std::string schedule;
  std::string time_zone;
  bool enabled = true;
  OverlapPolicy overlap = OverlapPolicy::kSkip;
  MissedPolicy missed = MissedPolicy::kOnce;
  // The JobDefined or JobChanged event whose spec is the job's definition (with
  // `enabled` as above: JobEnabled and JobDisabled do not repeat the spec).
  uint64_t spec_seq = 0;
  // The whole definition, `enabled` included. Null under State::keep_specs == false:
  // the service keeps only the fields above (its memory with many jobs) and reads the
  // spec of event spec_seq when a run starts.
  std::shared_ptr<const JobSpec> full_spec;
  // REQUIRES: full_spec (State::keep_specs, the default).
  const JobSpec& spec() const { return *full_spec; }

  uint64_t defined_seq = 0;
  int64_t defined_at_us = 0;
  int64_t changed_at_us = 0;
  // When the schedule (or zone) was last set: the DTSTART of RRULEs without one.
  int64_t schedule_anchor_us = 0;
  uint64_t last_run_id = 0;
  // Slots at or before this time are decided (claimed, skipped, or before the job
  // existed, was last enabled, or got its current schedule): the scheduler's cursor.
  int64_t last_slot_us = 0;
  // A RunSkipped(disabled) was recorded since the job was last disabled.
  bool disabled_skip_recorded = false;
  // Under State::finished_runs_per_job: its finished runs kept in State::runs, oldest
  // first.
  std::vector<uint64_t> kept_finished_runs;
  // Not part of the record (not folded, not in snapshots): the service's own note of
  // when its timer heap wakes for this job (kNoWake: it does not), kept here rather
  // than in a map of its own by job name (100,000 jobs: 8 MB).
  static constexpr int64_t kNoWake = INT64_MIN;
  int64_t wake_us = kNoWake;
};

struct ServiceInfo {
  bool running = false;  // a ServiceStarted without its ServiceStopped
  int64_t pid = 0;
  std::string host;
  std::string version;
  int64_t started_at_us = 0;
  int64_t stopped_at_us = 0;
};

struct State {
  uint64_t last_seq = 0;
  int64_t last_time_us = 0;
  uint64_t events = 0;
  uint64_t ignored_events = 0;  // unknown types with the safe-to-ignore bit
  std::map<std::string, JobState> jobs;
  RunTable runs;
  // Ids of the runs that are scheduled or running (an index into `runs`).
  std::set<uint64_t> active_runs;
  // RunRequested events not yet answered by a RunScheduled/RunSkipped, by sequence.
  struct PendingRequest {
    std::string job;
    int64_t requested_at_us = 0;
  };
  std::map<uint64_t, PendingRequest> pending_requests;
  ServiceInfo service;
  // Finished runs kept in `runs` per job; kKeepAllRuns keeps them all. chronotool and
  // `verify` keep all; the service keeps none (it plans with the active runs), so that
  // its memory does not grow with the history. With a bound, an event about a run no
  // longer kept (a late RunFinished, an OutputPurged) is accepted without the checks
  // that need the run; a full fold (`verify`) still makes them. Set before the first
  // event is applied.
  static constexpr size_t kKeepAllRuns = SIZE_MAX;
  size_t finished_runs_per_job = kKeepAllRuns;
  uint64_t forgotten_runs = 0;  // finished runs dropped under the bound
  // Keep each job's whole JobSpec (JobState::full_spec). The service turns it off and
  // reads a job's spec from the log when it starts a run. Set before the first event.
  bool keep_specs = true;
  // Names of the jobs that events touched (definition or runs) since the owner last
  // cleared it, when track_touched is on: the service turns it on after its start-up
  // replay and reschedules only those. Not part of the record.
  std::set<std::string> touched_jobs;
  bool track_touched = false;

  // An empty state with this one's settings (finished_runs_per_job, keep_specs,
  // track_touched): to fold the log again from the start.
  State EmptyLike() const;

  const JobState* FindJob(const std::string& name) const;
  const RunRecord* FindRun(uint64_t id) const;
  // True when run `id` may have been dropped under the bound (it is not kept, and
  // events up to `id` were applied).
  bool MayHaveForgotten(uint64_t id) const;
  // Runs not finished yet (scheduled or running), oldest first.
  std::vector<const RunRecord*> ActiveRuns() const;
};

// Applies one event. Events must come in sequence order, starting after s->last_seq.
// Returns Corruption("event N: ...") when the event cannot follow the state (a job
// defined twice, a change to an unknown job, a slot claimed twice, a run finished that
// never started...), leaving *s unchanged in that case.
Status Apply(State* s, const Event& e);

}  // namespace cg
