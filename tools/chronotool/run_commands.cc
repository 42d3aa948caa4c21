// chronotool's commands around runs: run (now), run-due, runs, log, clean, status,
// calendar.
#include <algorithm>
#include <iostream>

#include <nlohmann/json.hpp>

#include "service/dispatch.h"
#include "service/os.h"
#include "service/schedule.h"
#include "service/time_util.h"
#include "service/waiter.h"
#include "store/output_record.h"
#include "tools/chronotool/commands.h"
#include "tools/chronotool/context.h"
#include "tools/chronotool/output.h"

namespace cg::tool {
namespace {

using nlohmann::json;

std::string ServiceLockPath(const store::EventLog& log) { return log.dir() + "/chronographd.lock"; }

// Starts a shim for every claimed run that may start. Returns run id -> shim pid.
std::map<uint64_t, int64_t> StartRuns(Context& ctx, const store::EventLog& log, const State& state) {
  std::map<uint64_t, int64_t> started;
  for (uint64_t run : RunsToStart(state)) {
    auto pid = StartShim(log.dir(), run, /*quiet=*/true);
    if (!pid.ok()) {
      ctx.err << "chronotool: error: run " << run << ": " << pid.status().message() << "\n";
      continue;
    }
    started[run] = *pid;
  }
  return started;
}

PassOptions PassNow() {
  PassOptions o;
  o.now_us = o.plan.now_us = NowMicros();
  return o;
}

// The exit status that mirrors a run's end, as `timeout(1)` and shells do.
int RunExitStatus(const RunRecord& r) {
  if (r.status == RunStatus::kSucceeded) return 0;
  if (r.status == RunStatus::kTimedOut) return 124;
  if (r.signal) return 128 + r.signal;
  if (r.exit_code > 0) return r.exit_code;
  return 1;
}

int PrintOutput(Context& ctx, store::EventLog* log, const RunRecord& run, bool want_out,
                bool want_err) {
  auto blob = log->GetOutput(run.id);
  if (!blob.ok()) return Fail(ctx, blob.status());
  if (!blob->has_value()) {
    ctx.err << "chronotool: run " << run.id << " has no stored output"
            << (run.output_purged ? " (purged; digest " + run.output_digest.str() + ")" : "") << "\n";
    return kExitProblem;
  }
  auto record = store::DecodeOutputRecord(**blob);
  if (!record.ok()) return Fail(ctx, record.status().WithContext("run " + std::to_string(run.id)));
  if (run.output_digest != store::OutputDigest(**blob)) {
    ctx.err << "chronotool: warning: run " << run.id
            << ": stored output does not match the digest recorded in the log\n";
  }
  if (want_out) ctx.out << record->out << std::flush;
  if (want_err) (want_out ? ctx.err : ctx.out) << record->err << std::flush;
  return kExitOk;
}

int RunNow(Context& ctx, const std::string& name, bool wait) {
  std::unique_ptr<store::EventLog> log;
  State state;
  auto seq = AppendAboutJob(
      ctx, name, [&](const JobState&) -> std::optional<EventPayload> { return RunRequested{name}; },
      &log, &state);
  if (!seq.ok()) return Fail(ctx, seq.status());
  auto service = os::ServiceLockHolder(ServiceLockPath(*log));
  std::map<uint64_t, int64_t> shims;
  if (!service) {
    // No service on this data directory: serve the request here.
    ScheduleCache schedules;
    PassOptions o = PassNow();
    std::set<std::string> none;
    o.due_jobs = &none;
    auto pass = SchedulePass(log.get(), &state, &schedules, o);
    if (!pass.ok()) return Fail(ctx, pass.status());
    shims = StartRuns(ctx, *log, state);
  }
  if (!wait) {
    if (ctx.json) {
      ctx.out << Dump(json{{"request", *seq}, {"job", name},
                      {"served_by", service ? "service" : "chronotool"}}) << "\n";
    } else {
      ctx.out << "requested a run of job '" << name << "' (request " << *seq << ", "
              << (service ? "the service (pid " + std::to_string(*service) + ") starts it"
                          : "started here; no service runs on this data directory")
              << ")\n";
    }
    return kExitOk;
  }
  // --wait: follow the log until the request is answered and its run has ended.
  auto waiter = NewWaiter(log->dir(), /*handle_signals=*/false);
  if (!waiter.ok()) return Fail(ctx, waiter.status());
  // data.mdb changes before its commit can be read (LMDB publishes the transaction in
  // lock.mdb just after writing the meta page): a wake for a change the log does not
  // show yet looks again after 1 ms, then 2, 4... up to 64 ms (it waited a whole
  // second, in about a third of `run --wait`s of a quick command).
  int64_t again_us = 0;
  unsigned why = Waiter::kTimeout;  // of the last wake
  for (;;) {
    const uint64_t before = state.last_seq;
    Status st = log->CatchUp(&state);
    if (!st.ok()) return Fail(ctx, st);
    again_us = NextLookAgainUs(again_us, why, state.last_seq != before);
    const RunRecord* answer = nullptr;
    for (auto it = state.runs.rbegin(); it != state.runs.rend() && it->id > *seq; ++it) {
      if (it->request_seq == *seq) answer = &*it;
    }
    if (answer && answer->status == RunStatus::kSkipped) {
      ctx.err << "chronotool: the run was not started: " << answer->reason << "\n";
      return kExitProblem;
    }
    if (answer && answer->status != RunStatus::kScheduled &&
        answer->status != RunStatus::kRunning) {
      if (answer->status == RunStatus::kAbandoned) {
        ctx.err << "chronotool: run " << answer->id << " was abandoned: " << answer->reason << "\n";
        return kExitProblem;
      }
      PrintOutput(ctx, log.get(), *answer, true, true);
      if (answer->status != RunStatus::kSucceeded) {
        ctx.err << "chronotool: run " << answer->id << " " << RunStatusName(answer->status)
                << (answer->reason.empty() ? "" : ": " + answer->reason) << "\n";
      }
      return RunExitStatus(*answer);
    }
    // Our own shims are children: reap them so they do not linger as zombies, and
    // notice one that died without recording the run.
    // A shim that exited 3 found the run already started by another process's shim.
    std::optional<os::ReapedChild> ours;
    for (const auto& child : os::ReapChildren()) {
      if (answer && shims.count(answer->id) && shims[answer->id] == child.pid &&
          (child.signal != 0 || (child.exit_code != 0 && child.exit_code != 3))) {
        ours = child;
      }
    }
    if (ours) {
      // Our shim died without recording the run: let a pass judge it against the log.
      PassOptions o = PassNow();
      o.dead_shims[answer->id].pid = ours->pid;
      o.dead_shims[answer->id].how = "its run shim (pid " + std::to_string(ours->pid) +
                                     ") ended without recording the run";
      std::set<std::string> none;
      o.due_jobs = &none;
      ScheduleCache schedules;
      (void)SchedulePass(log.get(), &state, &schedules, o);
      continue;
    }
    why = (*waiter)->WaitUntil(NowMicros() + (again_us ? again_us : kMicrosPerSecond));
  }
}

int RunDue(Context& ctx) {
  auto log = OpenLog(ctx, /*write=*/false);
  if (!log.ok()) return Fail(ctx, log.status());
  State state;
  ScheduleCache schedules;
  Status st = (*log)->CatchUp(&state);
  if (!st.ok()) return Fail(ctx, st);
  uint64_t before = state.last_seq;
  auto appended = SchedulePass(log->get(), &state, &schedules, PassNow());
  if (!appended.ok()) return Fail(ctx, appended.status());
  size_t claimed = 0, skipped = 0, abandoned = 0;
  Status scan = (*log)->Scan(before + 1, state.last_seq, [&](const Event& e) {
    claimed += e.type == static_cast<uint16_t>(EventType::kRunScheduled);
    skipped += e.type == static_cast<uint16_t>(EventType::kRunSkipped);
    abandoned += e.type == static_cast<uint16_t>(EventType::kRunAbandoned);
    return true;
  });
  if (!scan.ok()) return Fail(ctx, scan);
  auto started = StartRuns(ctx, **log, state);
  if (ctx.json) {
    json runs = json::array();
    for (const auto& [run, pid] : started) runs.push_back({{"id", run}, {"shim_pid", pid}});
    ctx.out << Dump(json{{"claimed", claimed}, {"skipped", skipped}, {"abandoned", abandoned},
                    {"started", runs}}) << "\n";
  } else {
    ctx.out << "run-due: " << claimed << " slots claimed, " << skipped << " skipped, "
            << abandoned << " runs marked abandoned, " << started.size() << " runs started\n";
  }
  return kExitOk;
}

int Runs(Context& ctx, const std::string& job, const std::string& status_text,
         const std::string& since_text, size_t limit) {
  std::optional<RunStatus> status;
  if (!status_text.empty()) {
    auto s = ParseRunStatus(status_text);
    if (!s.ok()) return Fail(ctx, s.status().WithContext("--status"));
    status = *s;
  }
  int64_t since = INT64_MIN;
  if (!since_text.empty()) {
    auto t = ParseTime(since_text, NowMicros());
    if (!t.ok()) return Fail(ctx, t.status().WithContext("--since"));
    since = *t;
  }
  State state;
  Status st = LoadState(ctx, &state);
  if (!st.ok()) return Fail(ctx, st);
  std::vector<const RunRecord*> runs;
  for (auto it = state.runs.rbegin(); it != state.runs.rend() && runs.size() < limit; ++it) {
    const RunRecord& r = *it;
    if (!job.empty() && r.job != job) continue;
    if (status && r.status != *status) continue;
    if (std::max(r.scheduled_for_us, r.claimed_at_us) < since) continue;
    runs.push_back(&r);
  }
  if (ctx.json) {
    json out = json::array();
    for (const RunRecord* r : runs) out.push_back(RunJson(*r));
    ctx.out << Dump(out) << "\n";
    return kExitOk;
  }
  if (runs.empty()) {
    ctx.out << "no runs\n";
    return kExitOk;
  }
  Table t({"ID", "JOB", "SCHEDULED FOR", "STARTED", "DURATION", "STATUS", "EXIT", "REASON"});
  for (const RunRecord* r : runs) {
    std::string duration =
        r->ended_at_us && r->started_at_us
            ? FormatDurationMillis((r->ended_at_us - r->started_at_us) / kMicrosPerMilli)
            : "-";
    std::string exit = r->signal ? "sig " + std::to_string(r->signal)
                       : r->ended_at_us && r->exit_code >= 0 ? std::to_string(r->exit_code)
                                                             : "-";
    t.Add({std::to_string(r->id), r->job, FormatHuman(r->scheduled_for_us),
           r->started_at_us ? FormatHuman(r->started_at_us) : "-", duration,
           RunStatusName(r->status), exit, r->reason});
  }
  t.Print(ctx.out);
  return kExitOk;
}

int Log(Context& ctx, uint64_t run_id, bool want_out, bool want_err) {
  auto log = OpenLog(ctx, /*write=*/false);
  if (!log.ok()) return Fail(ctx, log.status());
  State state;
  Status st = (*log)->CatchUp(&state);
  if (!st.ok()) return Fail(ctx, st);
  const RunRecord* run = state.FindRun(run_id);
  if (!run) return Fail(ctx, Status::InvalidArgument("no run with id " + std::to_string(run_id)));
  if (!want_out && !want_err) want_out = want_err = true;
  return PrintOutput(ctx, log->get(), *run, want_out, want_err);
}

int Clean(Context& ctx, const std::string& unit, int64_t n) {
  static const std::map<std::string, int64_t> kUnits = {
      {"weeks", 7 * 86400}, {"days", 86400}, {"hours", 3600}, {"minutes", 60}};
  auto it = kUnits.find(unit);
  if (it == kUnits.end()) {
    return Fail(ctx, Status::InvalidArgument("unknown unit '" + unit +
                                             "' (use weeks, days, hours or minutes)"));
  }
  if (n < 0) return Fail(ctx, Status::InvalidArgument("the age must not be negative"));
  if (n > INT64_MAX / (it->second * kMicrosPerSecond) / 2) {
    return Fail(ctx, Status::InvalidArgument("the age " + std::to_string(n) + " " + unit +
                                             " is too large"));
  }
  int64_t older_than = NowMicros() - n * it->second * kMicrosPerSecond;
  auto log = OpenLog(ctx, /*write=*/false);
  if (!log.ok()) return Fail(ctx, log.status());
  State state;
  std::vector<uint64_t> purged;
  auto seq = (*log)->Transact(&state, [&](const State& s, store::Batch* batch) {
    OutputPurged p;
    p.older_than_us = older_than;
    for (const RunRecord& r : s.runs) {
      if (r.ended_at_us != 0 && r.ended_at_us < older_than && !r.output_purged &&
          !r.output_digest.empty()) {
        p.run_ids.push_back(r.id);
      }
    }
    purged = p.run_ids;
    if (p.run_ids.empty()) return Status::OK();
    batch->delete_outputs = p.run_ids;
    batch->events.push_back(std::move(p));
    return Status::OK();
  });
  if (!seq.ok()) return Fail(ctx, seq.status());
  if (ctx.json) {
    ctx.out << Dump(json{{"purged", purged}, {"older_than", FormatRfc3339(older_than)},
                    {"seq", *seq ? json(*seq) : json(nullptr)}}) << "\n";
  } else {
    ctx.out << "purged the output of " << purged.size() << " runs that ended before "
            << FormatHuman(older_than) << (purged.empty() ? "" : " (event " + std::to_string(*seq) + ")")
            << "; their events and digests stay\n";
  }
  return kExitOk;
}

int StatusCmd(Context& ctx) {
  auto log = OpenLog(ctx, /*write=*/false);
  if (!log.ok()) return Fail(ctx, log.status());
  State state;
  Status st = (*log)->CatchUp(&state);
  if (!st.ok()) return Fail(ctx, st);
  auto holder = os::ServiceLockHolder(ServiceLockPath(**log));
  int64_t now = NowMicros();
  std::vector<std::pair<int64_t, std::string>> next;
  for (const auto& [name, job] : state.jobs) {
    int64_t t = job.enabled ? NextRun(job, now) : 0;
    if (t) next.push_back({t, name});
  }
  std::sort(next.begin(), next.end());
  if (next.size() > 5) next.resize(5);
  auto active = state.ActiveRuns();
  if (ctx.json) {
    json svc = {{"running", holder.has_value()},
                {"pid", holder ? json(*holder) : json(nullptr)},
                {"since", holder && state.service.running ? TimeJson(state.service.started_at_us)
                                                          : json(nullptr)},
                {"version", holder ? json(state.service.version) : json(nullptr)}};
    json runs = json::array(), due = json::array();
    for (const RunRecord* r : active) runs.push_back(RunJson(*r));
    for (const auto& [t, name] : next) due.push_back({{"job", name}, {"at", FormatRfc3339(t)}});
    ctx.out << Dump(json{{"data", (*log)->dir()}, {"service", svc}, {"events", state.last_seq},
                    {"jobs", state.jobs.size()}, {"active_runs", runs}, {"next", due}})
            << "\n";
    return kExitOk;
  }
  ctx.out << "data:     " << (*log)->dir() << " (" << state.last_seq << " events, "
          << state.jobs.size() << " jobs)\n";
  if (holder) {
    ctx.out << "service:  running, pid " << *holder;
    if (state.service.running) {
      ctx.out << ", since " << FormatHuman(state.service.started_at_us) << ", version "
              << state.service.version;
    }
    ctx.out << "\n";
  } else {
    ctx.out << "service:  not running on this data directory";
    if (state.service.stopped_at_us) ctx.out << " (last stopped " << FormatHuman(state.service.stopped_at_us) << ")";
    ctx.out << "\n";
  }
  ctx.out << "\nruns in progress:" << (active.empty() ? " none\n" : "\n");
  if (!active.empty()) {
    Table t({"ID", "JOB", "STATUS", "SCHEDULED FOR", "STARTED", "PID", "HOST"});
    for (const RunRecord* r : active) {
      t.Add({std::to_string(r->id), r->job, RunStatusName(r->status), FormatHuman(r->scheduled_for_us),
             r->started_at_us ? FormatHuman(r->started_at_us) : "-",
             r->pid ? std::to_string(r->pid) : "-", r->host.empty() ? "-" : r->host});
    }
    t.Print(ctx.out);
  }
  ctx.out << "\nnext due:" << (next.empty() ? " nothing\n" : "\n");
  if (!next.empty()) {
    Table t({"AT", "JOB"});
    for (const auto& [at, name] : next) t.Add({FormatHuman(at), name});
    t.Print(ctx.out);
  }
  return kExitOk;
}

int Calendar(Context& ctx, const std::string& spec, const std::string& tz,
             const std::string& from_text, int count) {
  int64_t now = NowMicros();
  int64_t from = now;
  if (!from_text.empty()) {
    auto t = ParseTime(from_text, now);
    if (!t.ok()) return Fail(ctx, t.status().WithContext("--from"));
    from = *t;
  }
  if (count < 1 || count > 100000) {
    return Fail(ctx, Status::InvalidArgument("--count must be between 1 and 100000"));
  }
  std::string zone = tz.empty() ? "UTC" : tz;
  auto schedule = sched::ParseSchedule(spec, zone, from);
  if (!schedule.ok()) return Fail(ctx, schedule.status().WithContext("schedule '" + spec + "'"));
  json fires = json::array();
  Table t({"#", "UTC", "LOCAL (" + zone + ")", "NOTE"});
  int64_t after = from;
  for (int i = 0; i < count; ++i) {
    auto fire = (*schedule)->NextAfter(after);
    if (!fire) break;
    after = fire->at_us;
    std::string local = FormatHuman(fire->local_us);
    local = local.substr(0, local.size() - 5);  // drop ".mmmZ": a wall time has no zone
    std::string note = fire->adjust == sched::FireAdjust::kNone ? "" : sched::FireAdjustName(fire->adjust);
    fires.push_back({{"utc", FormatRfc3339(fire->at_us)}, {"local", local},
                     {"dst_adjust", note.empty() ? json(nullptr) : json(note)}});
    t.Add({std::to_string(i + 1), FormatHuman(fire->at_us), local, note});
  }
  if (ctx.json) {
    ctx.out << Dump(json{{"schedule", spec}, {"time_zone", zone}, {"from", FormatRfc3339(from)},
                    {"fires", fires}}) << "\n";
  } else if (fires.empty()) {
    ctx.out << "the schedule has no fire times after " << FormatHuman(from) << "\n";
  } else {
    t.Print(ctx.out);
  }
  return kExitOk;
}

}  // namespace

void AddRunCommands(CLI::App* app, Context* ctx, int* rc) {
  // The options' storage lives as long as the callbacks that read it.
  struct Args {
    std::string name, job, status, since, unit, spec, tz, from;
    bool wait = false, want_out = false, want_err = false;
    size_t limit = 50;
    uint64_t run_id = 0;
    int64_t age = 0;
    int count = 10;
  };
  auto a = std::make_shared<Args>();
  auto& [name, job, status, since, unit, spec, tz, from, wait, want_out, want_err, limit,
         run_id, age, count] = *a;

  CLI::App* run = app->add_subcommand(
      "run", "run a job now; the service on this data directory starts it, or, when none "
             "runs, chronotool starts it itself");
  run->add_option("name", name, "job name")->required();
  run->add_flag("--wait", wait,
                "wait for the run to end, print its output, and exit with the job's exit "
                "code (128+N for signal N, 124 for a timeout)");
  run->add_flag("--json", ctx->json, "JSON output");
  run->callback([=] { *rc = RunNow(*ctx, a->name, a->wait); });

  CLI::App* due = app->add_subcommand(
      "run-due", "run every job that is due, once, and exit (the seed's `cron` command: "
                 "for a crontab line on a machine without the service)");
  due->add_flag("--json", ctx->json, "JSON output");
  due->callback([=] { *rc = RunDue(*ctx); });

  CLI::App* runs = app->add_subcommand("runs", "list runs, newest first");
  runs->add_option("--job", job, "only this job's runs");
  runs->add_option("--status", status,
                   "only runs with this status: scheduled, running, succeeded, failed, "
                   "timed_out, stopped, abandoned or skipped");
  runs->add_option("--since", since, "only runs scheduled at or after this time");
  runs->add_option("--limit", limit, "at most this many runs (default: 50)");
  runs->add_flag("--json", ctx->json, "JSON output: an array of runs");
  runs->callback([=] { *rc = Runs(*ctx, a->job, a->status, a->since, a->limit); });

  CLI::App* log = app->add_subcommand("log", "print a run's captured output");
  log->add_option("run_id", run_id, "the run's id (see `runs`)")->required();
  log->add_flag("--stdout", want_out, "only its stdout");
  log->add_flag("--stderr", want_err, "only its stderr");
  log->callback([=] { *rc = Log(*ctx, a->run_id, a->want_out, a->want_err); });

  CLI::App* clean = app->add_subcommand(
      "clean", "delete the captured output of runs that ended more than N units ago (the "
               "seed's cron_clean); their events and output digests stay");
  clean->add_option("unit", unit, "weeks, days, hours or minutes")->required();
  clean->add_option("n", age, "how many")->required();
  clean->add_flag("--json", ctx->json, "JSON output");
  clean->callback([=] { *rc = Clean(*ctx, a->unit, a->age); });

  CLI::App* st = app->add_subcommand(
      "status", "whether a service runs on this data directory, the runs in progress, and "
                "the next five due");
  st->add_flag("--json", ctx->json, "JSON output");
  st->callback([=] { *rc = StatusCmd(*ctx); });

  CLI::App* cal = app->add_subcommand(
      "calendar", "print the next fire times of a schedule, before giving it to a job");
  cal->add_option("spec", spec, "a cron expression, RRULE or the seed's form")->required();
  cal->add_option("--tz", tz, "IANA time zone (default: UTC)");
  cal->add_option("--from", from, "start after this time (default: now)");
  cal->add_option("--count", count, "how many fire times (default: 10)");
  cal->add_flag("--json", ctx->json, "JSON output");
  cal->callback([=] { *rc = Calendar(*ctx, a->spec, a->tz, a->from, a->count); });
}

}  // namespace cg::tool
