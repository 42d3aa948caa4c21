#include "service/dispatch.h"

#include "service/os.h"
#include "service/state_codec.h"

#include <algorithm>
#include <optional>
#include <set>

namespace cg {

const sched::Schedule* ScheduleCache::Get(const std::string& name, const JobState& job) {
  // Full: start again (cheaper than tracking use, and parsing is quick).
  if (cache_.size() >= max_entries_ && !cache_.count(name)) cache_.clear();
  Entry& e = cache_[name];
  if (!e.parsed || e.schedule != job.schedule || e.time_zone != job.time_zone ||
      e.anchor_us != job.schedule_anchor_us) {
    e.schedule = job.schedule;
    e.time_zone = job.time_zone;
    e.anchor_us = job.schedule_anchor_us;
    auto parsed = sched::ParseSchedule(job.schedule, job.time_zone, job.schedule_anchor_us);
    e.parsed = parsed.ok() ? std::move(parsed).value() : nullptr;
  }
  return e.parsed.get();
}

Result<JobSpec> ReadJobSpec(store::EventLog* log, const std::string& name,
                            const JobState& job) {
  if (job.full_spec) return job.spec();
  std::optional<JobSpec> spec;
  CG_RETURN_IF_ERROR(log->Scan(job.spec_seq, job.spec_seq, [&](const Event& e) {
    if (const auto* d = std::get_if<JobDefined>(&e.payload)) spec = d->spec;
    if (const auto* c = std::get_if<JobChanged>(&e.payload)) spec = c->spec;
    return false;
  }));
  if (!spec || spec->name != name) {
    return Status::Corruption("event " + std::to_string(job.spec_seq) +
                              " does not define job '" + name + "'");
  }
  spec->enabled = job.enabled;
  return *std::move(spec);
}

Result<std::optional<State>> LoadStateSnapshot(store::EventLog* log) {
  auto snap = log->ReadSnapshot();
  if (!snap.ok()) return snap.status();
  if (!*snap) return std::optional<State>();
  // The snapshot was copied out of the map: its pages need not stay resident.
  log->ReleaseMappedPages();
  auto decoded = DecodeStateSnapshot((*snap)->state);
  if (!decoded.ok()) return decoded.status();
  if (decoded->last_seq != (*snap)->seq) {
    return Status::Corruption("the snapshot in meta says event " + std::to_string((*snap)->seq) +
                              " but holds the fold up to event " +
                              std::to_string(decoded->last_seq));
  }
  return std::optional<State>(std::move(decoded).value());
}

namespace {

// Why a running run of this host is dead, or "" when it is alive.
std::string DeadReason(const RunRecord& run, const PassOptions& o) {
  auto shim = o.dead_shims.find(run.id);
  if (shim != o.dead_shims.end() &&
      (run.status == RunStatus::kScheduled || run.pid == shim->second.pid)) {
    return shim->second.how;
  }
  if (!o.check_locks || run.status != RunStatus::kRunning) return "";
  auto mtime = os::FileMtimeMicros(run.lock_file);
  if (!mtime.ok()) return "its lock file is gone (" + mtime.status().message() + ")";
  int64_t age = o.now_us - *mtime;
  if (age > o.lock_timeout_us) {
    return "its lock file was last refreshed " + std::to_string(age / kMicrosPerMilli) +
           " ms ago (lock timeout " + std::to_string(o.lock_timeout_us / kMicrosPerMilli) +
           " ms)";
  }
  return "";
}

}  // namespace

RunFinished FailedBeforeStart(const RunRecord& run, int64_t now_us, std::string reason) {
  RunFinished fin;
  fin.run_id = run.id;
  fin.job = run.job;
  fin.ended_at_us = now_us;  // started_at 0: the command never started
  fin.outcome = RunOutcome::kFailed;
  fin.reason = std::move(reason);
  return fin;
}

Result<uint64_t> SchedulePass(store::EventLog* log, State* state, ScheduleCache* schedules,
                              const PassOptions& o) {
  const std::string host = os::HostName();
  uint64_t before = state->last_seq;
  std::vector<std::string> dead_locks;  // lock files of the runs abandoned here
  auto r = log->Transact(state, [&](const State& s, store::Batch* batch) {
    dead_locks.clear();
    for (const auto& e : o.extra_events) batch->events.push_back(e);
    Planner planner(s, o.plan);
    std::set<uint64_t> handed;  // runs whose start or end is recorded here (not judged dead)
    if (o.handed) {
      for (HandedEnd& e : o.handed->ends) {
        const RunFinished& fin = e.end->fin;
        e.recorded = handoff::EndIsRecordable(s, fin.run_id);
        if (!e.recorded) continue;
        if (const RunRecord* r = s.FindRun(fin.run_id)) planner.Ending(*r);
        batch->events.push_back(fin);
        batch->put_outputs.push_back({fin.run_id, e.end->output_record});
        handed.insert(fin.run_id);
      }
      for (const auto& [id, why] : o.handed->failures) {
        const RunRecord* r = s.FindRun(id);
        if (!r || r->status != RunStatus::kScheduled) continue;
        planner.Ending(*r);
        batch->events.push_back(FailedBeforeStart(*r, o.now_us, why));
        handed.insert(id);
      }
      for (HandedStart& h : o.handed->starts) {
        const RunRecord* r = s.FindRun(h.run_id);
        const JobState* job = r ? s.FindJob(r->job) : nullptr;
        h.recorded = r && job && r->status == RunStatus::kScheduled &&
                     job->defined_seq == r->job_seq && job->spec_seq == h.spec_seq &&
                     !o.dead_shims.count(h.run_id);
        if (!h.recorded) continue;
        planner.Starting(*r);
        h.started_at_us = PlannedStartUs(*r, o.now_us);
        batch->events.push_back(RunStarted{h.run_id, r->job, r->scheduled_for_us,
                                           h.started_at_us, h.pid, host, h.lock_file});
        handed.insert(h.run_id);
      }
    }
    std::vector<uint64_t> orphans = OrphanedRuns(s);
    for (const RunRecord* run : s.ActiveRuns()) {
      bool here = run->status == RunStatus::kScheduled || run->host == host;
      if (!here) continue;  // another host's run: that host's service judges it
      if (handed.count(run->id)) continue;
      std::string why = DeadReason(*run, o);
      if (why.empty() && std::count(orphans.begin(), orphans.end(), run->id)) {
        why = "its job was removed before it started";
      }
      if (!why.empty()) {
        planner.Ending(*run);
        RunAbandoned a;
        a.run_id = run->id;
        a.job = run->job;
        a.reason = why;
        auto mtime = run->lock_file.empty() ? Result<int64_t>(Status::NotFound(""))
                                            : os::FileMtimeMicros(run->lock_file);
        a.last_heartbeat_us = mtime.ok() ? *mtime : 0;
        batch->events.push_back(a);
        // Only a file in this data directory's locks/: the path comes from the log,
        // and the service must not be made to delete anything else.
        const std::string locks = log->dir() + "/locks/";
        const std::string& path = run->lock_file;
        if (path.size() > locks.size() && path.compare(0, locks.size(), locks) == 0 &&
            path.find('/', locks.size()) == std::string::npos && path.find("..") == std::string::npos) {
          dead_locks.push_back(path);
        }
      }
    }
    planner.Requests(&batch->events);
    auto plan_job = [&](const std::string& name, const JobState& job) {
      const sched::Schedule* schedule = schedules->Get(name, job);
      if (schedule) planner.DueSlots(name, job, *schedule, &batch->events);
    };
    if (o.due_jobs) {
      for (const auto& name : *o.due_jobs) {
        if (const JobState* job = s.FindJob(name)) plan_job(name, *job);
      }
    } else {
      for (const auto& [name, job] : s.jobs) plan_job(name, job);
    }
    for (const auto& e : o.final_events) batch->events.push_back(e);
    return Status::OK();
  });
  if (!r.ok()) return r.status();
  // Recorded abandoned: the lock file now marks nothing. (A shim that was only
  // stopped and resumes records its end late and finds its lock gone: harmless.)
  for (const auto& lock : dead_locks) (void)os::RemoveFile(lock);
  return state->last_seq - before;
}

std::string ShimPath() { return os::ExecutableDir() + "/" + os::ExecutableName("chronographd"); }

Result<int64_t> StartShim(const std::string& data_dir, uint64_t run_id, bool quiet) {
  return os::SpawnDetached({ShimPath(), "--shim", std::to_string(run_id), "--data", data_dir},
                           /*inherit_stderr=*/!quiet);
}

}  // namespace cg
