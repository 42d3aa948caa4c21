#include "tools/chronotool/commands.h"
#include "tools/chronotool/context.h"

#include <cctype>
#include <iostream>
#include <limits>
#include <string_view>

#include <CLI/CLI.hpp>

#include "service/job.h"
#include "service/schedule.h"
#include "service/state.h"
#include "service/time_util.h"
#include "store/event_log.h"
#include "tools/chronotool/output.h"
#include "version.h"

namespace cg::tool {

int Fail(Context& ctx, const Status& st) {
  ctx.err << "chronotool: error: " << st.message() << "\n";
  switch (st.code()) {
    case Status::Code::kInvalidArgument:
    case Status::Code::kAlreadyExists:
      return kExitUsage;
    default:
      return kExitProblem;
  }
}

Result<std::unique_ptr<store::EventLog>> OpenLog(const Context& ctx, bool write) {
  store::Options options;
  options.create_if_missing = write;
  options.program = "chronotool";
  return store::EventLog::Open(store::ResolveDataDir(ctx.data), options);
}

Status LoadState(const Context& ctx, State* state) {
  auto log = OpenLog(ctx, /*write=*/false);
  if (!log.ok()) return log.status();
  return (*log)->CatchUp(state);
}

Status UnknownJob(const std::string& name) {
  return Status::InvalidArgument("no job named '" + name + "'");
}

Result<uint64_t> AppendAboutJob(const Context& ctx, const std::string& name,
                                const std::function<std::optional<EventPayload>(const JobState&)>& make,
                                std::unique_ptr<store::EventLog>* log, State* state) {
  CG_RETURN_IF_ERROR(ValidateJobName(name));
  auto opened = OpenLog(ctx, /*write=*/false);
  if (!opened.ok()) return opened.status();
  *log = std::move(opened).value();
  return (*log)->Transact(state, [&](const State& s, store::Batch* batch) {
    const JobState* job = s.FindJob(name);
    if (!job) return UnknownJob(name);
    if (auto payload = make(*job)) batch->events.push_back(std::move(*payload));
    return Status::OK();
  });
}

namespace {

using nlohmann::json;

constexpr const char* kDataHelp =
    "data directory (default: $CHRONOGRAPH_DATA, else /var/lib/chronograph; "
    "%ProgramData%\\Chronograph on Windows)";

// ---- job add / edit ----

struct JobOptions {
  std::string name;
  std::string schedule, tz, timeout, overlap, missed, cwd, user, description, shell;
  std::vector<std::string> env;
  std::vector<std::string> command;
  bool fail_on_stderr = false;
  bool disabled = false;
  bool clear_env = false;
  // How many arguments follow the first "--" on the command line (0: no "--"). The
  // program and its arguments are exactly those: a positional before "--" is a mistake
  // (like "--env A=1 B=2 -- prog", which would otherwise run the program "B=2").
  size_t after_dashes = 0;
  CLI::Option *o_schedule, *o_tz, *o_timeout, *o_overlap, *o_missed, *o_cwd, *o_user,
      *o_description, *o_shell, *o_env, *o_command, *o_fail, *o_disabled, *o_clear_env;
};

void AddJobOptions(CLI::App* cmd, JobOptions* o, bool edit) {
  cmd->add_option("name", o->name,
                  "job name: letters (of any script), digits, '-', '_', '.'; at most 100")
      ->required();
  o->o_schedule = cmd->add_option(
      "--schedule", o->schedule,
      "when to run: a cron expression ('*/5 * * * *', 6 fields with seconds first, "
      "@daily...), an RRULE ('FREQ=HOURLY;BYMINUTE=15') or the seed's form "
      "('HOURLY interval:2;byminute:15')");
  if (!edit) o->o_schedule->required();
  o->o_tz = cmd->add_option("--tz", o->tz,
                            "IANA time zone the schedule is evaluated in (default: UTC)");
  o->o_timeout = cmd->add_option(
      "--timeout", o->timeout,
      "stop the run (its whole process tree) after this long: 90s, 5m, 1h30m; 0 = never "
      "(default: never)");
  o->o_overlap = cmd->add_option(
      "--overlap", o->overlap,
      "when a run is due while the previous one still runs: skip, queue or replace "
      "(default: skip)");
  o->o_missed = cmd->add_option(
      "--missed", o->missed,
      "runs missed while the service was down: skip, once (one catch-up run) or all "
      "(default: once)");
  o->o_cwd = cmd->add_option("--cwd", o->cwd,
                             "working directory of the command (default: the service's)");
  // One value per --env: a multi-value option would "eat" the "--" that ends it (CLI11
  // 2.1), so "--env K=V -- prog --flag" would reject --flag as an unknown option.
  o->o_env = cmd->add_option("--env", o->env,
                             "an environment variable K=V added for the command; repeatable" +
                                 std::string(edit ? " (replaces the job's list)" : ""))
                 ->expected(1)
                 ->allow_extra_args(false)
                 ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  o->o_user = cmd->add_option("--user", o->user,
                              "run as this user (the service must run as root); "
                              "default: the service's user");
  o->o_fail = cmd->add_flag("--fail-on-stderr", o->fail_on_stderr,
                            "a run that writes to stderr counts as failed (default: off" +
                                std::string(edit ? "; --fail-on-stderr=false turns it off)" : ")"));
  o->o_disabled = cmd->add_flag("--disabled", o->disabled,
                                edit ? "disable the job (--disabled=false enables it)"
                                     : "define the job disabled (default: enabled)");
  o->o_description = cmd->add_option("--description", o->description, "free text for people");
  o->o_shell = cmd->add_option("--shell", o->shell,
                               "the command as a shell command line (/bin/sh -c; cmd /c on "
                               "Windows)");
  o->o_command = cmd->add_option("command", o->command,
                                 "after --: the program and its arguments, executed directly");
  o->o_clear_env = nullptr;
  if (edit) {
    o->o_clear_env = cmd->add_flag("--clear-env", o->clear_env,
                                   "remove all of the job's environment additions");
  }
}

// Applies the given options to *spec, naming each changed field in *changed.
Status ApplyJobOptions(const JobOptions& o, JobSpec* spec, std::vector<std::string>* changed) {
  JobSpec before = *spec;
  if (o.o_schedule->count()) spec->schedule = o.schedule;
  if (o.o_tz->count()) spec->time_zone = o.tz;
  if (o.o_timeout->count()) {
    auto ms = ParseDurationMillis(o.timeout);
    if (!ms.ok()) return ms.status().WithContext("--timeout");
    spec->timeout_ms = *ms;
  }
  if (o.o_overlap->count()) {
    auto p = ParseOverlapPolicy(o.overlap);
    if (!p.ok()) return p.status().WithContext("--overlap");
    spec->overlap = *p;
  }
  if (o.o_missed->count()) {
    auto p = ParseMissedPolicy(o.missed);
    if (!p.ok()) return p.status().WithContext("--missed");
    spec->missed = *p;
  }
  if (o.o_cwd->count()) spec->working_dir = o.cwd;
  if (o.o_clear_env && o.o_clear_env->count()) spec->env.clear();
  if (o.o_env->count()) {
    spec->env.clear();
    for (const auto& kv : o.env) {
      size_t eq = kv.find('=');
      if (eq == std::string::npos || eq == 0) {
        return Status::InvalidArgument("--env '" + kv + "': expected KEY=VALUE");
      }
      spec->env.emplace_back(kv.substr(0, eq), kv.substr(eq + 1));
    }
  }
  if (o.o_user->count()) spec->run_as_user = o.user;
  if (o.o_fail->count()) spec->fail_on_stderr = o.fail_on_stderr;
  if (o.o_disabled->count()) spec->enabled = !o.disabled;
  if (o.o_description->count()) spec->description = o.description;
  if (o.o_command->count() && o.command.size() != o.after_dashes) {
    return Status::InvalidArgument("unexpected argument '" + o.command[0] +
                                   "': the program and its arguments go after -- "
                                   "(and each --env takes one K=V)");
  }
  if (o.o_shell->count() && o.o_command->count()) {
    return Status::InvalidArgument("give either --shell \"LINE\" or -- PROGRAM [ARGS...], not both");
  }
  if (o.o_shell->count()) {
    spec->command_kind = CommandKind::kShell;
    spec->shell = o.shell;
    spec->argv.clear();
  } else if (o.o_command->count()) {
    spec->command_kind = CommandKind::kArgv;
    spec->argv = o.command;
    spec->shell.clear();
  }
  auto note = [&](bool differs, const char* field) {
    if (differs) changed->push_back(field);
  };
  note(before.command_kind != spec->command_kind || before.argv != spec->argv ||
           before.shell != spec->shell,
       "command");
  note(before.schedule != spec->schedule, "schedule");
  note(before.time_zone != spec->time_zone, "time_zone");
  note(before.working_dir != spec->working_dir, "working_dir");
  note(before.env != spec->env, "env");
  note(before.timeout_ms != spec->timeout_ms, "timeout");
  note(before.overlap != spec->overlap, "overlap");
  note(before.missed != spec->missed, "missed");
  note(before.enabled != spec->enabled, "enabled");
  note(before.run_as_user != spec->run_as_user, "run_as_user");
  note(before.fail_on_stderr != spec->fail_on_stderr, "fail_on_stderr");
  note(before.description != spec->description, "description");
  return Status::OK();
}

int JobAdd(Context& ctx, const JobOptions& o) {
  JobSpec spec;
  spec.name = o.name;
  std::vector<std::string> changed;
  Status st = ApplyJobOptions(o, &spec, &changed);
  if (st.ok()) st = ValidateJobSpec(spec, NowMicros());
  if (!st.ok()) return Fail(ctx, st);
  auto log = OpenLog(ctx, /*write=*/true);
  if (!log.ok()) return Fail(ctx, log.status());
  State state;
  auto seq = (*log)->Transact(&state, [&](const State& s, store::Batch* batch) {
    if (s.FindJob(spec.name)) {
      return Status::AlreadyExists("a job named '" + spec.name + "' already exists");
    }
    batch->events.push_back(JobDefined{spec});
    return Status::OK();
  });
  if (!seq.ok()) return Fail(ctx, seq.status());
  if (ctx.json) {
    ctx.out << Dump(json{{"seq", *seq}, {"job", JobStateJson(*state.FindJob(spec.name), state,
                                                        NowMicros())}}) << "\n";
  } else {
    ctx.out << "defined job '" << spec.name << "' (event " << *seq << ")\n";
  }
  return kExitOk;
}

int JobEdit(Context& ctx, const JobOptions& o) {
  Status name_ok = ValidateJobName(o.name);
  if (!name_ok.ok()) return Fail(ctx, name_ok);
  auto log = OpenLog(ctx, /*write=*/false);
  if (!log.ok()) return Fail(ctx, log.status());
  State state;
  std::vector<std::string> changed;
  JobSpec spec;
  auto seq = (*log)->Transact(&state, [&](const State& s, store::Batch* batch) {
    const JobState* job = s.FindJob(o.name);
    if (!job) return UnknownJob(o.name);
    spec = job->spec();
    changed.clear();
    CG_RETURN_IF_ERROR(ApplyJobOptions(o, &spec, &changed));
    CG_RETURN_IF_ERROR(ValidateJobSpec(spec, NowMicros()));
    if (!changed.empty()) batch->events.push_back(JobChanged{spec, changed});
    return Status::OK();
  });
  if (!seq.ok()) return Fail(ctx, seq.status());
  if (ctx.json) {
    ctx.out << Dump(json{{"seq", *seq ? json(*seq) : json(nullptr)},
                         {"changed", changed},
                         {"job", JobStateJson(*state.FindJob(o.name), state, NowMicros())}})
            << "\n";
  } else if (changed.empty()) {
    ctx.out << "job '" << o.name << "' unchanged\n";
  } else {
    std::string list;
    for (const auto& c : changed) list += (list.empty() ? "" : ", ") + c;
    ctx.out << "changed job '" << o.name << "': " << list << " (event " << *seq << ")\n";
  }
  return kExitOk;
}

// job enable / disable / rm: one event about an existing job.
int JobEvent(Context& ctx, const std::string& name, const char* verb,
             const std::function<std::optional<EventPayload>(const JobState&)>& make) {
  std::unique_ptr<store::EventLog> log;
  State state;
  auto seq = AppendAboutJob(ctx, name, make, &log, &state);
  if (!seq.ok()) return Fail(ctx, seq.status());
  if (ctx.json) {
    ctx.out << Dump(json{{"seq", *seq ? json(*seq) : json(nullptr)}, {"job", name}}) << "\n";
  } else if (*seq == 0) {
    ctx.out << "job '" << name << "' is already " << verb << "\n";
  } else {
    ctx.out << verb << " job '" << name << "' (event " << *seq << ")\n";
  }
  return kExitOk;
}

// ---- reading ----

std::string Or(const std::string& s, const char* fallback) { return s.empty() ? fallback : s; }

std::string LastRunCell(const JobState& job, const State& state) {
  const RunRecord* r = state.FindRun(job.last_run_id);
  if (!r) return "-";
  return std::string(RunStatusName(r->status)) + " " +
         FormatHuman(r->started_at_us ? r->started_at_us : r->claimed_at_us);
}

void PrintJobs(Context& ctx, const State& state, int64_t now) {
  if (ctx.json) {
    json jobs = json::array();
    for (const auto& [name, job] : state.jobs) jobs.push_back(JobStateJson(job, state, now));
    ctx.out << Dump(jobs) << "\n";
    return;
  }
  if (state.jobs.empty()) {
    ctx.out << "no jobs\n";
    return;
  }
  Table t({"NAME", "STATE", "SCHEDULE", "TZ", "NEXT RUN", "LAST RUN", "COMMAND"});
  for (const auto& [name, job] : state.jobs) {
    int64_t next = job.enabled ? NextRun(job, now) : 0;
    t.Add({name, job.enabled ? "enabled" : "disabled", job.schedule, job.time_zone,
           next ? FormatHuman(next) : "-", LastRunCell(job, state), job.spec().CommandLine()});
  }
  t.Print(ctx.out);
}

int JobList(Context& ctx) {
  State state;
  Status st = LoadState(ctx, &state);
  if (!st.ok()) return Fail(ctx, st);
  PrintJobs(ctx, state, NowMicros());
  return kExitOk;
}

int JobShow(Context& ctx, const std::string& name) {
  State state;
  Status st = LoadState(ctx, &state);
  if (!st.ok()) return Fail(ctx, st);
  const JobState* job = state.FindJob(name);
  if (!job) return Fail(ctx, UnknownJob(name));
  int64_t now = NowMicros();
  if (ctx.json) {
    ctx.out << Dump(JobStateJson(*job, state, now), 2) << "\n";
    return kExitOk;
  }
  const JobSpec& s = job->spec();
  int64_t next = s.enabled ? NextRun(*job, now) : 0;
  std::string env;
  for (const auto& [k, v] : s.env) env += (env.empty() ? "" : " ") + k + "=" + v;
  Table t({"name:", s.name});
  t.Add({"state:", s.enabled ? "enabled" : "disabled"});
  t.Add({"command:", s.CommandLine() + (s.command_kind == CommandKind::kShell ? "  (shell)" : "")});
  t.Add({"schedule:", s.schedule});
  t.Add({"time zone:", s.time_zone});
  t.Add({"next run:", next ? FormatHuman(next) : "-"});
  t.Add({"last run:", LastRunCell(*job, state)});
  t.Add({"timeout:", s.timeout_ms ? FormatDurationMillis(s.timeout_ms) : "none"});
  t.Add({"overlap:", OverlapPolicyName(s.overlap)});
  t.Add({"missed:", MissedPolicyName(s.missed)});
  t.Add({"working dir:", Or(s.working_dir, "(the service's)")});
  t.Add({"environment:", Or(env, "-")});
  t.Add({"run as:", Or(s.run_as_user, "(the service's user)")});
  t.Add({"fail on stderr:", s.fail_on_stderr ? "yes" : "no"});
  t.Add({"description:", Or(s.description, "-")});
  t.Add({"defined:", FormatHuman(job->defined_at_us) + " (event " +
                         std::to_string(job->defined_seq) + ")"});
  t.Add({"changed:", FormatHuman(job->changed_at_us)});
  t.Print(ctx.out);
  return kExitOk;
}

// A --from/--to bound: a sequence number (digits only) or a time.
struct Bound {
  bool is_seq = true;
  int64_t value = 0;
};

Result<Bound> ParseBound(const std::string& text, const char* flag) {
  if (!text.empty() && std::all_of(text.begin(), text.end(),
                                   [](unsigned char c) { return std::isdigit(c); })) {
    try {
      return Bound{true, static_cast<int64_t>(std::stoull(text))};
    } catch (const std::exception&) {
      return Status::InvalidArgument(std::string(flag) + " '" + text + "': too large");
    }
  }
  auto t = ParseTime(text, NowMicros());
  if (!t.ok()) return t.status().WithContext(flag);
  return Bound{false, *t};
}

int Replay(Context& ctx, const std::string& from_text, const std::string& to_text,
           const std::string& job) {
  Bound from{true, 1}, to{true, std::numeric_limits<int64_t>::max()};
  if (!from_text.empty()) {
    auto b = ParseBound(from_text, "--from");
    if (!b.ok()) return Fail(ctx, b.status());
    from = *b;
  }
  if (!to_text.empty()) {
    auto b = ParseBound(to_text, "--to");
    if (!b.ok()) return Fail(ctx, b.status());
    to = *b;
  }
  auto log = OpenLog(ctx, /*write=*/false);
  if (!log.ok()) return Fail(ctx, log.status());
  uint64_t first = from.is_seq ? static_cast<uint64_t>(std::max<int64_t>(from.value, 1)) : 1;
  uint64_t last = to.is_seq ? static_cast<uint64_t>(to.value) : UINT64_MAX;
  Status st = (*log)->Scan(first, last, [&](const Event& e) {
    if (!from.is_seq && e.time_us < from.value) return true;
    if (!to.is_seq && e.time_us > to.value) return true;
    if (!job.empty() && EventJob(e) != job) return true;
    if (ctx.json) {
      ctx.out << Dump(EventJson(e)) << "\n";
    } else {
      ctx.out << EventLine(e) << "\n";
    }
    return true;
  });
  if (!st.ok()) return Fail(ctx, st);
  return kExitOk;
}

int Verify(Context& ctx) {
  auto log = OpenLog(ctx, /*write=*/false);
  if (!log.ok()) return Fail(ctx, log.status());
  store::VerifyReport report;
  Status st = (*log)->Verify(&report);
  if (ctx.json) {
    json j = {{"ok", st.ok()}, {"data", (*log)->dir()}};
    if (st.ok()) {
      j["events"] = report.events;
      j["ignored"] = report.ignored;
      j["jobs"] = report.jobs;
      j["runs"] = report.runs;
      j["first_time"] = TimeJson(report.first_time_us);
      j["last_time"] = TimeJson(report.last_time_us);
      j["snapshot_seq"] = report.snapshot_seq ? json(report.snapshot_seq) : json(nullptr);
    } else {
      j["error"] = st.message();
    }
    ctx.out << Dump(j) << "\n";
    return st.ok() ? kExitOk : kExitProblem;
  }
  if (!st.ok()) {
    ctx.out << "verify: FAILED: " << st.message() << "\n";
    return kExitProblem;
  }
  ctx.out << "verify: OK: " << report.events << " events";
  if (report.ignored) ctx.out << " (" << report.ignored << " of unknown, ignorable types)";
  ctx.out << ", " << report.jobs << " jobs, " << report.runs << " runs";
  if (report.events) {
    ctx.out << ", " << FormatHuman(report.first_time_us) << " to "
            << FormatHuman(report.last_time_us);
  }
  ctx.out << "; checksums, sequence, hash chain and fold all consistent";
  if (report.snapshot_seq) {
    ctx.out << "; the service's snapshot (event " << report.snapshot_seq << ") matches the fold";
  }
  ctx.out << "\n";
  return kExitOk;
}

int StateAt(Context& ctx, const std::string& at_text) {
  auto at = ParseTime(at_text, NowMicros());
  if (!at.ok()) return Fail(ctx, at.status().WithContext("--at"));
  auto log = OpenLog(ctx, /*write=*/false);
  if (!log.ok()) return Fail(ctx, log.status());
  State state;
  Status fold_status;
  // The same fold, stopped at the first event after the moment.
  Status st = (*log)->Scan(1, UINT64_MAX, [&](const Event& e) {
    if (e.time_us > *at) return false;
    fold_status = Apply(&state, e);
    return fold_status.ok();
  });
  if (st.ok()) st = fold_status;
  if (!st.ok()) return Fail(ctx, st);
  if (ctx.json) {
    json jobs = json::array();
    for (const auto& [name, job] : state.jobs) jobs.push_back(JobStateJson(job, state, *at));
    json active = json::array();
    for (const RunRecord* r : state.ActiveRuns()) active.push_back(RunJson(*r));
    ctx.out << Dump(json{{"at", FormatRfc3339(*at)},
                         {"last_seq", state.last_seq},
                         {"jobs", jobs},
                         {"active_runs", active}})
            << "\n";
    return kExitOk;
  }
  ctx.out << "state at " << FormatHuman(*at) << " (after event " << state.last_seq << ")\n";
  PrintJobs(ctx, state, *at);
  auto active = state.ActiveRuns();
  if (!active.empty()) {
    ctx.out << "\nruns in progress:\n";
    Table t({"ID", "JOB", "STATUS", "SCHEDULED FOR", "STARTED"});
    for (const RunRecord* r : active) {
      t.Add({std::to_string(r->id), r->job, RunStatusName(r->status),
             FormatHuman(r->scheduled_for_us), r->started_at_us ? FormatHuman(r->started_at_us) : "-"});
    }
    t.Print(ctx.out);
  }
  return kExitOk;
}

}  // namespace

int Main(int argc, char** argv, std::ostream& out, std::ostream& err) {
  CLI::App app{"chronotool " CHRONOGRAPH_VERSION
               ": administer chronograph jobs and audit its event log.\n"
               "Exit status: 0 success, 1 the command ran and found a problem, "
               "2 usage error or invalid input (nothing written)."};
  app.name("chronotool");
  app.allow_windows_style_options(false);  // "/path" is an argument on every OS
  app.set_version_flag("--version", CHRONOGRAPH_VERSION);
  app.require_subcommand(1);
  app.fallthrough();
  Context ctx{"", false, out, err};
  app.add_option("--data", ctx.data, kDataHelp);
  int rc = kExitOk;

  // job ...
  CLI::App* job = app.add_subcommand("job", "define and manage jobs");
  job->fallthrough();

  JobOptions add_opts;
  CLI::App* add = job->add_subcommand(
      "add", "define a job: chronotool job add NAME --schedule SPEC [options] "
             "(--shell \"LINE\" | -- PROGRAM [ARGS...])");
  AddJobOptions(add, &add_opts, /*edit=*/false);
  add->add_flag("--json", ctx.json, "print the new job as JSON");
  add->callback([&] { rc = JobAdd(ctx, add_opts); });

  JobOptions edit_opts;
  CLI::App* edit = job->add_subcommand(
      "edit", "change a job: only the options given change");
  AddJobOptions(edit, &edit_opts, /*edit=*/true);
  edit->add_flag("--json", ctx.json, "print the job as JSON");
  edit->callback([&] { rc = JobEdit(ctx, edit_opts); });

  std::string name;
  CLI::App* enable = job->add_subcommand("enable", "enable a job");
  CLI::App* disable = job->add_subcommand("disable", "disable a job (runs in progress finish)");
  CLI::App* rm = job->add_subcommand("rm", "remove a job (its history stays in the log)");
  CLI::App* show = job->add_subcommand("show", "show one job");
  for (CLI::App* c : {enable, disable, rm, show}) {
    c->add_option("name", name, "job name")->required();
    c->add_flag("--json", ctx.json, "JSON output");
  }
  enable->callback([&] {
    rc = JobEvent(ctx, name, "enabled", [&](const JobState& j) -> std::optional<EventPayload> {
      if (j.enabled) return std::nullopt;
      return JobEnabled{name};
    });
  });
  disable->callback([&] {
    rc = JobEvent(ctx, name, "disabled", [&](const JobState& j) -> std::optional<EventPayload> {
      if (!j.enabled) return std::nullopt;
      return JobDisabled{name};
    });
  });
  rm->callback([&] {
    rc = JobEvent(ctx, name, "removed",
                  [&](const JobState&) -> std::optional<EventPayload> { return JobRemoved{name}; });
  });
  show->callback([&] { rc = JobShow(ctx, name); });
  CLI::App* list = job->add_subcommand("list", "list the jobs with their next and last runs");
  list->add_flag("--json", ctx.json, "JSON output: an array of jobs");
  list->callback([&] { rc = JobList(ctx); });

  AddRunCommands(&app, &ctx, &rc);

  // replay
  std::string from, to, replay_job;
  CLI::App* replay = app.add_subcommand("replay", "print the events of the log, oldest first");
  replay->add_option("--from", from, "first event: a sequence number or a time (RFC 3339)");
  replay->add_option("--to", to, "last event: a sequence number or a time (RFC 3339)");
  replay->add_option("--job", replay_job, "only the events about this job");
  replay->add_flag("--json", ctx.json,
                   "JSON Lines: one object a line with seq, time, type, actor and the "
                   "payload's fields");
  replay->callback([&] { rc = Replay(ctx, from, to, replay_job); });

  // verify
  CLI::App* verify = app.add_subcommand(
      "verify", "check the whole log: checksums, sequence, hash chain, the fold, and the service's "
      "snapshot against the fold");
  verify->add_flag("--json", ctx.json, "JSON output");
  verify->callback([&] { rc = Verify(ctx); });

  // state --at
  std::string at;
  CLI::App* state = app.add_subcommand("state", "the jobs as they were at a moment");
  state->add_option("--at", at, "the moment: RFC 3339, 'now', or relative like -2h")
      ->required();
  state->add_flag("--json", ctx.json, "JSON output");
  state->callback([&] { rc = StateAt(ctx, at); });

  for (int i = 1; i < argc; ++i) {
    std::string_view word = argv[i];
    if (word == "--") {
      add_opts.after_dashes = edit_opts.after_dashes = static_cast<size_t>(argc - i - 1);
      break;
    }
    // "--env A=1 B=2 -- prog": B=2 goes to the command, and CLI11 then calls the program
    // after -- unexpected. Name the word that is wrong (a K=V: a job's name, which may
    // follow an option's value, has no '=').
    bool after_env_value = (i >= 3 && std::string_view(argv[i - 2]) == "--env") ||
                           std::string_view(argv[i - 1]).rfind("--env=", 0) == 0;
    if (after_env_value && word.find('=') != std::string_view::npos && word[0] != '-') {
      err << "chronotool: error: unexpected argument '" << word
          << "': each --env takes one K=V (repeat it: --env A=1 --env B=2); the program and "
             "its arguments go after --\n";
      return kExitUsage;
    }
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e, out, err);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e, out, err);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e, out, err);
  } catch (const CLI::ParseError& e) {
    app.exit(e, out, err);
    return kExitUsage;
  }
  if (job->parsed() && job->get_subcommands().empty()) {
    err << "chronotool: error: 'job' needs a subcommand: add, edit, enable, disable, rm, "
           "list or show\n";
    return kExitUsage;
  }
  return rc;
}

}  // namespace cg::tool
