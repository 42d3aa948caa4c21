#include "service/planner.h"

#include <algorithm>

namespace cg {
namespace {

RunSkipped Missed(const std::string& job, int64_t at_us, const std::string& detail) {
  RunSkipped s;
  s.job = job;
  s.scheduled_for_us = at_us;
  s.reason = SkipReason::kMissed;
  s.detail = detail;
  return s;
}

// The second occurrence of a repeated local time does not run: say so.
void NoteRepeat(const std::string& job, const sched::Fire& f, std::vector<EventPayload>* out) {
  if (f.adjust != sched::FireAdjust::kRepeatedFirstOnly || f.repeat_us == 0) return;
  RunSkipped s;
  s.job = job;
  s.scheduled_for_us = f.repeat_us;
  s.reason = SkipReason::kDst;
  s.detail = "the local time repeats when the clocks go back; the job ran at its first "
             "occurrence, " + FormatRfc3339(f.at_us);
  out->push_back(s);
}

// The run belongs to the job of that name as it is now (not to an earlier job that was
// removed and whose name was taken again).
bool OfCurrentJob(const State& state, const RunRecord& run) {
  const JobState* job = state.FindJob(run.job);
  return job && job->defined_seq == run.job_seq;
}

RunScheduled Claim(const std::string& job, const sched::Fire& f, Trigger t) {
  RunScheduled c;
  c.job = job;
  c.scheduled_for_us = f.at_us;
  c.trigger = t;
  c.dst_adjust = static_cast<uint8_t>(f.adjust);
  return c;
}

}  // namespace

std::optional<sched::Fire> NextSlot(const JobState& job, const sched::Schedule& schedule) {
  if (!job.enabled && job.disabled_skip_recorded) return std::nullopt;
  return schedule.NextAfter(job.last_slot_us);
}

void Planner::Starting(const RunRecord& run) {
  if (!OfCurrentJob(state_, run) || run.status != RunStatus::kScheduled) return;
  JobRuns& c = Runs(run.job);
  if (c.scheduled > 0) --c.scheduled;
  ++c.running;
  c.running_id = run.id;
}

Planner::JobRuns& Planner::Runs(const std::string& job) {
  auto it = runs_.find(job);
  if (it != runs_.end()) return it->second;
  JobRuns& c = runs_[job];
  for (const RunRecord* r : state_.ActiveRuns()) {
    if (r->job != job || !OfCurrentJob(state_, *r)) continue;
    if (r->status == RunStatus::kRunning) {
      ++c.running;
      c.running_id = r->id;
    } else {
      ++c.scheduled;
    }
  }
  return c;
}

void Planner::Ending(const RunRecord& run) {
  if (!OfCurrentJob(state_, run)) return;
  JobRuns& c = Runs(run.job);
  if (run.status == RunStatus::kRunning && c.running > 0) {
    --c.running;
    if (c.running_id == run.id) c.running_id = 0;
  } else if (run.status == RunStatus::kScheduled && c.scheduled > 0) {
    --c.scheduled;
  }
}

// Decides one run that is wanted (a slot on time, a catch-up, a request), under the
// job's overlap policy.
void Planner::Decide(const JobState& job, bool force_queue, RunScheduled claim,
                     std::vector<EventPayload>* out) {
  JobRuns& runs = Runs(claim.job);
  auto skip = [&](const std::string& detail) {
    RunSkipped s;
    s.job = claim.job;
    s.scheduled_for_us = claim.scheduled_for_us;
    s.reason = SkipReason::kOverlap;
    s.detail = detail;
    s.request_seq = claim.trigger == Trigger::kRequest ? claim.request_seq : 0;
    out->push_back(s);
  };
  if (runs.running + runs.scheduled > 0) {
    OverlapPolicy policy = force_queue ? OverlapPolicy::kQueue : job.overlap;
    if (policy == OverlapPolicy::kSkip) {
      const RunRecord* running = runs.running_id ? state_.FindRun(runs.running_id) : nullptr;
      if (running && running->started_at_us > o_.now_us) {
        // Claimed ahead of its slot, its shim waiting for it.
        skip("run " + std::to_string(running->id) + " starts at " +
             FormatRfc3339(running->started_at_us));
      } else {
        skip(running ? "run " + std::to_string(running->id) + " is still running"
                     : "a run is still waiting to start");
      }
      return;
    }
    if (policy == OverlapPolicy::kQueue && runs.scheduled >= o_.max_queued) {
      skip("queue full (" + std::to_string(o_.max_queued) + " runs waiting)");
      return;
    }
    // kQueue: waits for the running one; kReplace: the running one is stopped.
  }
  ++runs.scheduled;
  out->push_back(std::move(claim));
}

void Planner::DueSlots(const std::string& name, const JobState& job,
                       const sched::Schedule& schedule, std::vector<EventPayload>* out) {
  std::vector<sched::Fire> due;
  size_t total_due = 0;
  int64_t first_due_us = 0;
  std::optional<sched::Fire> ahead;  // the first slot after now, if within ahead_us
  // Collect the due slots; keep at most max_missed_events + 1 of the newest. Slots
  // are decided in order: every one after the job's cursor is undecided.
  for (auto fire = NextSlot(job, schedule); fire; fire = schedule.NextAfter(fire->at_us)) {
    if (fire->at_us > o_.now_us) {
      if (o_.ahead_us > 0 && fire->at_us - o_.now_us <= o_.ahead_us) ahead = fire;
      break;
    }
    if (total_due++ == 0) first_due_us = fire->at_us;
    due.push_back(*fire);
    if (due.size() > o_.max_missed_events + 1) due.erase(due.begin());
    if (!job.enabled) break;  // only the first slot is recorded for a disabled job
  }
  if (!due.empty()) DecideDue(name, job, due, total_due, first_due_us, out);
  if (ahead && job.enabled) {
    // Only an idle job: a busy one has the slot decided when it comes, as without
    // starting ahead (a run ending meanwhile must not make it overlap).
    JobRuns& runs = Runs(name);
    if (runs.running + runs.scheduled == 0) {
      Decide(job, false, Claim(name, *ahead, Trigger::kSchedule), out);
      NoteRepeat(name, *ahead, out);
    }
  }
}

void Planner::DecideDue(const std::string& name, const JobState& job,
                        const std::vector<sched::Fire>& due, size_t total_due,
                        int64_t first_due_us, std::vector<EventPayload>* out) {
  if (!job.enabled) {
    RunSkipped s;
    s.job = name;
    s.scheduled_for_us = due.front().at_us;
    s.reason = SkipReason::kDisabled;
    s.detail = "the job is disabled; its later slots are not recorded until it is enabled";
    out->push_back(s);
    return;
  }
  auto claim = [&](const sched::Fire& f, Trigger t) { return Claim(name, f, t); };
  const sched::Fire latest = due.back();
  bool on_time = o_.now_us - latest.at_us <= o_.on_time_grace_us;
  std::vector<sched::Fire> missed(due.begin(), on_time ? due.end() - 1 : due.end());
  size_t unrecorded = total_due - due.size();  // older than the kept window
  for (size_t i = 0; i < missed.size(); ++i) {
    const sched::Fire& f = missed[i];
    bool newest = i + 1 == missed.size();
    std::string summary = i == 0 && unrecorded > 0
                              ? std::to_string(unrecorded) + " earlier slots since " +
                                    FormatRfc3339(first_due_us) + " were missed too"
                              : "";
    switch (job.missed) {
      case MissedPolicy::kSkip:
        out->push_back(Missed(
            name, f.at_us,
            summary.empty() ? "passed while the service was down or late; missed=skip" : summary));
        break;
      case MissedPolicy::kOnce:
        if (newest && !on_time) {
          Decide(job, false, claim(f, Trigger::kCatchUp), out);
        } else {
          out->push_back(Missed(name, f.at_us,
                                summary.empty() ? "passed while the service was down or late; "
                                                  "missed=once runs one catch-up for all"
                                                : summary));
        }
        break;
      case MissedPolicy::kAll:
        if (!summary.empty()) {
          out->push_back(Missed(name, f.at_us, summary));
        } else {
          Decide(job, /*force_queue=*/true, claim(f, Trigger::kCatchUp), out);
        }
        break;
    }
  }
  if (on_time) {
    Decide(job, false, claim(latest, Trigger::kSchedule), out);
    NoteRepeat(name, latest, out);
  }
}

void Planner::Requests(std::vector<EventPayload>* out) {
  for (const auto& [seq, req] : state_.pending_requests) {
    const JobState* job = state_.FindJob(req.job);
    if (!job) {
      RunSkipped s;
      s.job = req.job;
      s.scheduled_for_us = req.requested_at_us;
      s.reason = SkipReason::kEnded;
      s.detail = "the job was removed before the request was served";
      s.request_seq = seq;
      out->push_back(s);
      continue;
    }
    RunScheduled c;
    c.job = req.job;
    c.scheduled_for_us = req.requested_at_us;
    c.trigger = Trigger::kRequest;
    c.request_seq = seq;
    Decide(*job, false, c, out);
  }
}

void PlanDueSlots(const State& state, const std::string& name, const JobState& job,
                  const sched::Schedule& schedule, const PlanOptions& o,
                  std::vector<EventPayload>* out) {
  Planner(state, o).DueSlots(name, job, schedule, out);
}

void PlanRequests(const State& state, const PlanOptions& o, std::vector<EventPayload>* out) {
  Planner(state, o).Requests(out);
}

std::vector<uint64_t> RunsToStart(const State& state) {
  std::map<std::string, uint64_t> oldest_waiting;
  std::map<std::string, bool> running;
  for (const RunRecord* r : state.ActiveRuns()) {
    if (!OfCurrentJob(state, *r)) continue;
    if (r->status == RunStatus::kRunning) {
      running[r->job] = true;
    } else if (!oldest_waiting.count(r->job)) {
      oldest_waiting[r->job] = r->id;  // ActiveRuns is oldest first
    }
  }
  std::vector<uint64_t> out;
  for (const auto& [job, id] : oldest_waiting) {
    if (!running[job]) out.push_back(id);
  }
  return out;
}

std::vector<uint64_t> OrphanedRuns(const State& state) {
  std::vector<uint64_t> out;
  for (const RunRecord* r : state.ActiveRuns()) {
    if (r->status == RunStatus::kScheduled && !OfCurrentJob(state, *r)) out.push_back(r->id);
  }
  return out;
}

int64_t PlannedStartUs(const RunRecord& run, int64_t now_us) {
  return run.trigger == Trigger::kRequest ? now_us : std::max(now_us, run.scheduled_for_us);
}

std::vector<uint64_t> RunsToReplace(const State& state) {
  std::map<std::string, uint64_t> running;
  std::map<std::string, bool> waiting;
  for (const RunRecord* r : state.ActiveRuns()) {
    if (!OfCurrentJob(state, *r)) continue;
    if (r->status == RunStatus::kRunning) running[r->job] = r->id;
    else waiting[r->job] = true;
  }
  std::vector<uint64_t> out;
  for (const auto& [job, id] : running) {
    const JobState* j = state.FindJob(job);
    if (j && j->overlap == OverlapPolicy::kReplace && waiting[job]) out.push_back(id);
  }
  return out;
}

}  // namespace cg
