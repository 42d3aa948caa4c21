#include "service/state.h"

#include <algorithm>
#include <climits>

namespace cg {

const char* RunStatusName(RunStatus s) {
  switch (s) {
    case RunStatus::kScheduled: return "scheduled";
    case RunStatus::kRunning: return "running";
    case RunStatus::kSucceeded: return "succeeded";
    case RunStatus::kFailed: return "failed";
    case RunStatus::kTimedOut: return "timed_out";
    case RunStatus::kStopped: return "stopped";
    case RunStatus::kAbandoned: return "abandoned";
    case RunStatus::kSkipped: return "skipped";
  }
  return "unknown";
}

Result<RunStatus> ParseRunStatus(std::string_view s) {
  for (auto st : {RunStatus::kScheduled, RunStatus::kRunning, RunStatus::kSucceeded,
                  RunStatus::kFailed, RunStatus::kTimedOut, RunStatus::kStopped,
                  RunStatus::kAbandoned, RunStatus::kSkipped}) {
    if (s == RunStatusName(st)) return st;
  }
  return Status::InvalidArgument(
      "invalid run status '" + std::string(s) +
      "' (use scheduled, running, succeeded, failed, timed_out, stopped, abandoned or skipped)");
}

State State::EmptyLike() const {
  State s;
  s.finished_runs_per_job = finished_runs_per_job;
  s.keep_specs = keep_specs;
  s.track_touched = track_touched;
  return s;
}

const JobState* State::FindJob(const std::string& name) const {
  auto it = jobs.find(name);
  return it == jobs.end() ? nullptr : &it->second;
}

const RunRecord* State::FindRun(uint64_t id) const { return runs.Find(id); }

bool State::MayHaveForgotten(uint64_t id) const {
  return finished_runs_per_job != kKeepAllRuns && forgotten_runs > 0 && id <= last_seq &&
         !runs.contains(id);
}

std::vector<const RunRecord*> State::ActiveRuns() const {
  std::vector<const RunRecord*> out;
  for (uint64_t id : active_runs) out.push_back(runs.Find(id));
  return out;
}

namespace {

// Applies one payload. Every check comes before the first mutation, so a rejected
// event leaves the state as it was.
class Folder {
 public:
  Folder(State* s, const Event& e) : s_(*s), e_(e) {}

  Status operator()(const std::monostate&) {
    ++s_.ignored_events;
    return Status::OK();
  }

  Status operator()(const JobDefined& p) {
    if (p.spec.name.empty()) return Bad("JobDefined without a name");
    if (s_.jobs.count(p.spec.name)) return Bad("job '" + p.spec.name + "' defined twice");
    JobState& j = s_.jobs[p.spec.name];
    SetSpec(&j, p.spec);
    j.defined_seq = e_.seq;
    j.defined_at_us = j.changed_at_us = j.schedule_anchor_us = j.last_slot_us = e_.time_us;
    Touch(p.spec.name);
    return Status::OK();
  }

  Status operator()(const JobChanged& p) {
    JobState* j = Job(p.spec.name);
    if (!j) return Bad("JobChanged for unknown job '" + p.spec.name + "'");
    if (p.spec.schedule != j->schedule || p.spec.time_zone != j->time_zone) {
      // Slots of the new schedule before this moment are not owed.
      j->schedule_anchor_us = e_.time_us;
      j->last_slot_us = std::max(j->last_slot_us, e_.time_us);
    }
    if (p.spec.enabled && !j->enabled) {
      j->last_slot_us = std::max(j->last_slot_us, e_.time_us);
      j->disabled_skip_recorded = false;
    }
    Touch(p.spec.name);
    SetSpec(j, p.spec);
    j->changed_at_us = e_.time_us;
    return Status::OK();
  }

  Status operator()(const JobEnabled& p) { return SetEnabled(p.job, true); }
  Status operator()(const JobDisabled& p) { return SetEnabled(p.job, false); }

  Status operator()(const JobRemoved& p) {
    if (!Job(p.job)) return Bad("JobRemoved for unknown job '" + p.job + "'");
    // Under a bound, the finished runs of a removed job go at once.
    for (uint64_t id : Job(p.job)->kept_finished_runs) s_.runs.Erase(id);
    s_.forgotten_runs += Job(p.job)->kept_finished_runs.size();
    s_.jobs.erase(p.job);
    Touch(p.job);
    return Status::OK();
  }

  Status operator()(const RunRequested& p) {
    if (!Job(p.job)) return Bad("RunRequested for unknown job '" + p.job + "'");
    s_.pending_requests.emplace_hint(s_.pending_requests.end(), e_.seq,
                                     State::PendingRequest{p.job, e_.time_us});
    Touch(p.job);
    return Status::OK();
  }

  Status operator()(const RunScheduled& p) {
    JobState* j = Job(p.job);
    if (!j) return Bad("RunScheduled for unknown job '" + p.job + "'");
    CG_RETURN_IF_ERROR(NewRunPossible());
    if (p.trigger == Trigger::kRequest) {
      auto it = s_.pending_requests.find(p.request_seq);
      if (it == s_.pending_requests.end() || it->second.job != p.job) {
        return Bad("RunScheduled answers request " + std::to_string(p.request_seq) +
                   ", which is not a pending request for '" + p.job + "'");
      }
      s_.pending_requests.erase(it);
    } else if (Status st = SlotUndecided(p.job, *j, p.scheduled_for_us, "claimed"); !st.ok()) {
      return st;
    }
    RunRecord& r = NewRun();
    r.id = e_.seq;
    r.job = p.job;
    r.scheduled_for_us = p.scheduled_for_us;
    r.trigger = p.trigger;
    r.request_seq = p.request_seq;
    r.dst_adjust = p.dst_adjust;
    r.claimed_at_us = e_.time_us;
    r.job_seq = j->defined_seq;
    s_.active_runs.emplace_hint(s_.active_runs.end(), e_.seq);
    j->last_run_id = e_.seq;
    if (p.trigger != Trigger::kRequest) j->last_slot_us = std::max(j->last_slot_us, p.scheduled_for_us);
    Touch(p.job);
    return Status::OK();
  }

  Status operator()(const RunSkipped& p) {
    CG_RETURN_IF_ERROR(NewRunPossible());
    // A skip answers either a run request or a scheduled slot.
    if (p.request_seq != 0) {
      auto it = s_.pending_requests.find(p.request_seq);
      if (it == s_.pending_requests.end()) {
        return Bad("RunSkipped answers request " + std::to_string(p.request_seq) +
                   ", which is not pending");
      }
      s_.pending_requests.erase(it);
    } else if (p.reason != SkipReason::kDst) {
      const JobState* j = Job(p.job);
      if (Status st = j ? SlotUndecided(p.job, *j, p.scheduled_for_us, "decided") : Status::OK();
          !st.ok()) {
        return st;
      }
    }
    RunRecord& r = NewRun();
    r.id = e_.seq;
    r.job = p.job;
    r.scheduled_for_us = p.scheduled_for_us;
    r.status = RunStatus::kSkipped;
    r.request_seq = p.request_seq;
    if (p.request_seq != 0) r.trigger = Trigger::kRequest;
    r.claimed_at_us = e_.time_us;
    r.reason = std::string(SkipReasonName(p.reason));
    if (!p.detail.empty()) r.reason += ": " + p.detail;
    if (JobState* j = Job(p.job)) {
      // A DST note names an instant ahead (a repeated local time's second occurrence):
      // it does not move the scheduler's cursor.
      if (p.request_seq == 0 && p.reason != SkipReason::kDst) {
        j->last_slot_us = std::max(j->last_slot_us, p.scheduled_for_us);
      }
      if (p.reason == SkipReason::kDisabled) j->disabled_skip_recorded = true;
    }
    Touch(p.job);
    Retire(e_.seq, p.job);
    return Status::OK();
  }

  Status operator()(const RunStarted& p) {
    RunRecord* r = Run(p.run_id);
    if (!r) return Bad("RunStarted for unknown run " + std::to_string(p.run_id));
    if (r->status != RunStatus::kScheduled) {
      return Bad("run " + std::to_string(p.run_id) + " started twice or after it ended");
    }
    r->status = RunStatus::kRunning;
    r->started_at_us = p.started_at_us;
    r->pid = p.pid;
    r->host = p.host;
    r->lock_file = p.lock_file;
    Touch(r->job);
    return Status::OK();
  }

  Status operator()(const RunFinished& p) {
    RunRecord* r = Run(p.run_id);
    if (!r && s_.MayHaveForgotten(p.run_id)) return Status::OK();  // late, not kept
    if (!r) return Bad("RunFinished for unknown run " + std::to_string(p.run_id));
    bool late = r->status == RunStatus::kAbandoned && !r->finished_late;
    if (r->status != RunStatus::kRunning && r->status != RunStatus::kScheduled && !late) {
      return Bad("run " + std::to_string(p.run_id) + " finished twice");
    }
    s_.active_runs.erase(p.run_id);
    if (late) {
      r->finished_late = true;
    } else {
      switch (p.outcome) {
        case RunOutcome::kSucceeded: r->status = RunStatus::kSucceeded; break;
        case RunOutcome::kFailed: r->status = RunStatus::kFailed; break;
        case RunOutcome::kTimedOut: r->status = RunStatus::kTimedOut; break;
        case RunOutcome::kStopped: r->status = RunStatus::kStopped; break;
      }
      r->reason = p.reason;
    }
    // The shim's measured start of the command (RunStarted may carry the planned one,
    // for a run claimed ahead of its slot); 0 when the command never started.
    r->started_at_us = p.started_at_us;
    r->ended_at_us = p.ended_at_us;
    r->exit_code = p.exit_code;
    r->signal = p.signal;
    r->stdout_bytes = p.stdout_bytes;
    r->stderr_bytes = p.stderr_bytes;
    r->output_digest.Assign(p.output_digest);
    std::string().swap(r->lock_file);  // the shim removed it; RunStarted names it
    Touch(r->job);
    if (!late) Retire(r->id, r->job);
    return Status::OK();
  }

  Status operator()(const RunAbandoned& p) {
    RunRecord* r = Run(p.run_id);
    if (!r) return Bad("RunAbandoned for unknown run " + std::to_string(p.run_id));
    if (r->status != RunStatus::kRunning && r->status != RunStatus::kScheduled) {
      return Bad("run " + std::to_string(p.run_id) + " abandoned after it ended");
    }
    r->status = RunStatus::kAbandoned;
    r->reason = p.reason;
    std::string().swap(r->lock_file);
    s_.active_runs.erase(p.run_id);
    Touch(r->job);
    Retire(r->id, r->job);
    return Status::OK();
  }

  Status operator()(const OutputPurged& p) {
    for (uint64_t id : p.run_ids) {
      if (!Run(id) && !s_.MayHaveForgotten(id)) {
        return Bad("OutputPurged names unknown run " + std::to_string(id));
      }
    }
    for (uint64_t id : p.run_ids) {
      if (RunRecord* r = Run(id)) r->output_purged = true;
    }
    return Status::OK();
  }

  Status operator()(const ServiceStarted& p) {
    s_.service.running = true;
    s_.service.pid = p.pid;
    s_.service.host = p.host;
    s_.service.version = p.version;
    s_.service.started_at_us = e_.time_us;
    return Status::OK();
  }

  Status operator()(const ServiceStopped&) {
    s_.service.running = false;
    s_.service.stopped_at_us = e_.time_us;
    return Status::OK();
  }

 private:
  Status Bad(const std::string& msg) const {
    return Status::Corruption("event " + std::to_string(e_.seq) + ": " + msg);
  }
  JobState* Job(const std::string& name) {
    auto it = s_.jobs.find(name);
    return it == s_.jobs.end() ? nullptr : &it->second;
  }
  // Slots are decided in order, each after the job's cursor: one at or before it was
  // decided already (or passed before the job could run it).
  Status SlotUndecided(const std::string& job, const JobState& j, int64_t at_us,
                       const char* verb) const {
    if (at_us > j.last_slot_us) return Status::OK();
    return Bad("slot of job '" + job + "' at " + std::to_string(at_us) + " " + verb +
               " twice (the job's slots up to " + std::to_string(j.last_slot_us) +
               " are decided)");
  }
  // The job's definition is now `spec`, from this event.
  void SetSpec(JobState* j, const JobSpec& spec) {
    j->schedule = spec.schedule;
    j->time_zone = spec.time_zone;
    j->enabled = spec.enabled;
    j->overlap = spec.overlap;
    j->missed = spec.missed;
    j->spec_seq = e_.seq;
    if (s_.keep_specs) {
      j->full_spec = std::make_shared<const JobSpec>(spec);
    } else {
      j->full_spec.reset();
    }
  }
  void Touch(const std::string& job) {
    if (s_.track_touched) s_.touched_jobs.insert(job);
  }
  // The run whose id is this event's sequence number goes after every run kept: Apply
  // takes events in sequence order, so none has an id as large, unless the state is
  // not a fold of the events before (a snapshot decoded from bad bytes).
  Status NewRunPossible() const {
    if (s_.runs.CanAppend(e_.seq)) return Status::OK();
    return Bad("a run with an id as large is already kept (the state is not a fold of the "
               "events before this one)");
  }
  // REQUIRES: NewRunPossible().
  RunRecord& NewRun() { return *s_.runs.Append(e_.seq); }
  RunRecord* Run(uint64_t id) { return const_cast<RunRecord*>(s_.FindRun(id)); }
  // Run `id` of `job` has finished: under a bound, the job's oldest finished runs
  // beyond it are dropped.
  void Retire(uint64_t id, const std::string& job) {
    if (s_.finished_runs_per_job == State::kKeepAllRuns) return;
    JobState* j = Job(job);
    if (!j || s_.finished_runs_per_job == 0) {  // a run of a removed job, or none kept
      s_.runs.Erase(id);
      ++s_.forgotten_runs;
      return;
    }
    std::vector<uint64_t>& kept = j->kept_finished_runs;
    kept.push_back(id);
    if (kept.size() > s_.finished_runs_per_job) {
      s_.runs.Erase(kept.front());
      kept.erase(kept.begin());
      ++s_.forgotten_runs;
    }
  }
  Status SetEnabled(const std::string& name, bool enabled) {
    JobState* j = Job(name);
    if (!j) return Bad(std::string(enabled ? "JobEnabled" : "JobDisabled") +
                       " for unknown job '" + name + "'");
    if (enabled && !j->enabled) {
      // Slots that passed while disabled are not missed runs.
      j->last_slot_us = std::max(j->last_slot_us, e_.time_us);
      j->disabled_skip_recorded = false;
    }
    j->enabled = enabled;
    if (j->full_spec && j->full_spec->enabled != enabled) {
      auto copy = std::make_shared<JobSpec>(*j->full_spec);  // specs are shared: copy
      copy->enabled = enabled;
      j->full_spec = std::move(copy);
    }
    j->changed_at_us = e_.time_us;
    Touch(name);
    return Status::OK();
  }

  State& s_;
  const Event& e_;
};

}  // namespace

Status Apply(State* s, const Event& e) {
  if (e.seq != s->last_seq + 1) {
    return Status::Corruption("event " + std::to_string(e.seq) + ": expected sequence " +
                              std::to_string(s->last_seq + 1));
  }
  CG_RETURN_IF_ERROR(std::visit(Folder(s, e), e.payload));
  s->last_seq = e.seq;
  s->last_time_us = e.time_us;
  ++s->events;
  return Status::OK();
}

}  // namespace cg
