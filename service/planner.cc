#include "service/planner.h"

#include <map>

namespace cg {
namespace {

struct JobRuns {
  size_t running = 0;
  size_t scheduled = 0;
  uint64_t running_id = 0;
};

JobRuns CountRuns(const State& state, const std::string& job) {
  JobRuns c;
  for (const RunRecord* r : state.ActiveRuns()) {
    if (r->job != job) continue;
    if (r->status == RunStatus::kRunning) {
      ++c.running;
      c.running_id = r->id;
    } else {
      ++c.scheduled;
    }
  }
  return c;
}

// Decides one run that is wanted (a slot on time, a catch-up, a request), under the
// job's overlap policy. `runs` counts the job's active runs, including this batch's.
void Decide(const JobSpec& spec, JobRuns* runs, bool force_queue, const PlanOptions& o,
            RunScheduled claim, std::vector<EventPayload>* out) {
  size_t active = runs->running + runs->scheduled;
  auto skip = [&](const std::string& detail) {
    RunSkipped s;
    s.job = claim.job;
    s.scheduled_for_us = claim.scheduled_for_us;
    s.reason = SkipReason::kOverlap;
    s.detail = detail;
    s.request_seq = claim.trigger == Trigger::kRequest ? claim.request_seq : 0;
    out->push_back(s);
  };
  if (active > 0) {
    OverlapPolicy policy = force_queue ? OverlapPolicy::kQueue : spec.overlap;
    if (policy == OverlapPolicy::kSkip) {
      skip(runs->running_id ? "run " + std::to_string(runs->running_id) + " is still running"
                            : "a run is still waiting to start");
      return;
    }
    if (policy == OverlapPolicy::kQueue && runs->scheduled >= o.max_queued) {
      skip("queue full (" + std::to_string(o.max_queued) + " runs waiting)");
      return;
    }
    // kQueue: waits for the running one; kReplace: the running one is stopped.
  }
  ++runs->scheduled;
  out->push_back(std::move(claim));
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

RunSkipped Missed(const std::string& job, int64_t at_us, const std::string& detail) {
  RunSkipped s;
  s.job = job;
  s.scheduled_for_us = at_us;
  s.reason = SkipReason::kMissed;
  s.detail = detail;
  return s;
}

}  // namespace

std::optional<sched::Fire> NextSlot(const JobState& job, const sched::Schedule& schedule) {
  if (!job.spec.enabled && job.disabled_skip_recorded) return std::nullopt;
  return schedule.NextAfter(job.last_slot_us);
}

void PlanDueSlots(const State& state, const JobState& job, const sched::Schedule& schedule,
                  const PlanOptions& o, std::vector<EventPayload>* out) {
  std::vector<sched::Fire> due;
  size_t total_due = 0;
  int64_t first_due_us = 0;
  // Collect the due slots; keep at most max_missed_events + 1 of the newest.
  for (auto fire = NextSlot(job, schedule); fire && fire->at_us <= o.now_us;
       fire = schedule.NextAfter(fire->at_us)) {
    if (total_due++ == 0) first_due_us = fire->at_us;
    due.push_back(*fire);
    if (due.size() > o.max_missed_events + 1) due.erase(due.begin());
    if (!job.spec.enabled) break;  // only the first slot is recorded for a disabled job
  }
  if (due.empty()) return;
  const std::string& name = job.spec.name;
  if (!job.spec.enabled) {
    RunSkipped s;
    s.job = name;
    s.scheduled_for_us = due.front().at_us;
    s.reason = SkipReason::kDisabled;
    s.detail = "the job is disabled; its later slots are not recorded until it is enabled";
    out->push_back(s);
    return;
  }
  JobRuns runs = CountRuns(state, name);
  auto claim = [&](const sched::Fire& f, Trigger t) {
    RunScheduled c;
    c.job = name;
    c.scheduled_for_us = f.at_us;
    c.trigger = t;
    c.dst_adjust = static_cast<uint8_t>(f.adjust);
    return c;
  };
  const sched::Fire latest = due.back();
  bool on_time = o.now_us - latest.at_us <= o.on_time_grace_us;
  std::vector<sched::Fire> missed(due.begin(), on_time ? due.end() - 1 : due.end());
  size_t unrecorded = total_due - due.size();  // older than the kept window
  for (size_t i = 0; i < missed.size(); ++i) {
    const sched::Fire& f = missed[i];
    bool newest = i + 1 == missed.size();
    std::string detail = i == 0 && unrecorded > 0
                             ? std::to_string(unrecorded) + " earlier slots since " +
                                   FormatRfc3339(first_due_us) + " were missed too"
                             : "";
    switch (job.spec.missed) {
      case MissedPolicy::kSkip:
        out->push_back(Missed(
            name, f.at_us,
            detail.empty() ? "passed while the service was down or late; missed=skip" : detail));
        break;
      case MissedPolicy::kOnce:
        if (newest && !on_time) {
          Decide(job.spec, &runs, false, o, claim(f, Trigger::kCatchUp), out);
        } else {
          out->push_back(Missed(name, f.at_us,
                                detail.empty() ? "passed while the service was down or late; "
                                                 "missed=once runs one catch-up for all"
                                               : detail));
        }
        break;
      case MissedPolicy::kAll:
        if (!detail.empty()) out->push_back(Missed(name, f.at_us, detail));
        else Decide(job.spec, &runs, /*force_queue=*/true, o, claim(f, Trigger::kCatchUp), out);
        break;
    }
  }
  if (on_time) {
    Decide(job.spec, &runs, false, o, claim(latest, Trigger::kSchedule), out);
    NoteRepeat(name, latest, out);
  }
}

void PlanRequests(const State& state, const PlanOptions& o, std::vector<EventPayload>* out) {
  std::map<std::string, JobRuns> runs;
  for (const auto& [seq, req] : state.pending_requests) {
    const JobState* job = state.FindJob(req.job);
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
    auto it = runs.find(req.job);
    if (it == runs.end()) it = runs.emplace(req.job, CountRuns(state, req.job)).first;
    RunScheduled c;
    c.job = req.job;
    c.scheduled_for_us = req.requested_at_us;
    c.trigger = Trigger::kRequest;
    c.request_seq = seq;
    Decide(job->spec, &it->second, false, o, c, out);
  }
}

std::vector<uint64_t> RunsToStart(const State& state) {
  std::map<std::string, uint64_t> oldest_waiting;
  std::map<std::string, bool> running;
  for (const RunRecord* r : state.ActiveRuns()) {
    if (r->status == RunStatus::kRunning) {
      running[r->job] = true;
    } else if (!oldest_waiting.count(r->job) && state.FindJob(r->job)) {
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
    if (r->status == RunStatus::kScheduled && !state.FindJob(r->job)) out.push_back(r->id);
  }
  return out;
}

std::vector<uint64_t> RunsToReplace(const State& state) {
  std::map<std::string, uint64_t> running;
  std::map<std::string, bool> waiting;
  for (const RunRecord* r : state.ActiveRuns()) {
    if (r->status == RunStatus::kRunning) running[r->job] = r->id;
    else waiting[r->job] = true;
  }
  std::vector<uint64_t> out;
  for (const auto& [job, id] : running) {
    const JobState* j = state.FindJob(job);
    if (j && j->spec.overlap == OverlapPolicy::kReplace && waiting[job]) out.push_back(id);
  }
  return out;
}

}  // namespace cg
