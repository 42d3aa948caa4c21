#include "service/run_shim.h"

#include <algorithm>
#include <iostream>

#include "service/dispatch.h"
#include "service/handoff.h"
#include "service/os.h"
#include "service/output_capture.h"
#include "service/planner.h"
#include "service/process_launcher.h"
#include "service/state.h"
#include "service/time_util.h"
#include "service/waiter.h"
#include "store/event_log.h"
#include "store/output_record.h"

namespace cg {
namespace {

constexpr int64_t kHeartbeatUs = kMicrosPerSecond;

void Log(uint64_t run_id, const std::string& msg) {
  std::cerr << "chronograph-shim[run " << run_id << "]: " << msg << std::endl;
}

// The command's environment: a small, stated base, then the job's additions.
std::vector<std::pair<std::string, std::string>> JobEnvironment(const JobSpec& spec,
                                                                const RunRecord& run) {
  std::vector<std::pair<std::string, std::string>> env;
  auto base = os::JobBaseEnvironment(spec.run_as_user);
  if (base.ok()) env = std::move(base).value();  // else the launcher reports the user
  env.push_back({"CHRONOGRAPH_JOB", spec.name});
  env.push_back({"CHRONOGRAPH_RUN_ID", std::to_string(run.id)});
  env.push_back({"CHRONOGRAPH_SCHEDULED_FOR", FormatRfc3339(run.scheduled_for_us)});
  for (const auto& [k, v] : spec.env) {
    bool replaced = false;
    for (auto& kv : env) {
      if (kv.first == k) {
        kv.second = v;
        replaced = true;
      }
    }
    if (!replaced) env.push_back({k, v});
  }
  return env;
}

// Runs the command of `run` as `spec` says, from `started_at` (waiting for it, stoppable),
// keeping `lock` fresh; enforces the timeout and captures the output. Returns the end
// to record.
handoff::End Execute(const JobSpec& spec, const RunRecord& run, int64_t started_at,
                     const std::string& lock, Waiter* waiter, const ShimOptions& options) {
  (void)os::TouchFile(lock);
  int64_t last_touch = NowMicros();

  LaunchSpec launch;
  launch.argv = spec.command_kind == CommandKind::kShell ? os::ShellArgv(spec.shell) : spec.argv;
  launch.working_dir = spec.working_dir;
  launch.env = JobEnvironment(spec, run);
  launch.run_as_user = spec.run_as_user;

  RunFinished fin;
  fin.run_id = run.id;
  fin.job = spec.name;
  CappedOutput out(options.output_cap), err(options.output_cap);
  auto launcher = NewProcessLauncher();
  // Ahead of the slot: keep the lock fresh and wait for it, stoppable.
  for (int64_t now = NowMicros(); now < started_at && !waiter->shutdown_requested();
       now = NowMicros()) {
    if (now - last_touch >= kHeartbeatUs) {
      (void)os::TouchFile(lock);
      last_touch = now;
    }
    waiter->WaitUntil(std::min(started_at, last_touch + kHeartbeatUs));
  }
  Result<std::unique_ptr<ChildProcess>> child = Status::IOError("not started");
  if (waiter->shutdown_requested()) {
    fin.started_at_us = 0;  // the command never started
    fin.outcome = RunOutcome::kStopped;
    fin.reason = "stopped on request before the command started";
  } else {
    // The moment the command starts, as exactly as this process can tell.
    fin.started_at_us = NowMicros();
    child = launcher->Launch(launch);
  }
  if (fin.outcome == RunOutcome::kStopped) {
    // recorded as stopped; nothing ran
  } else if (!child.ok()) {
    fin.outcome = RunOutcome::kFailed;
    fin.reason = "cannot start the command: " + child.status().message();
  } else {
    int64_t now = NowMicros();
    int64_t next_beat = now + kHeartbeatUs;
    int64_t deadline =
        spec.timeout_ms > 0 ? fin.started_at_us + spec.timeout_ms * kMicrosPerMilli : 0;
    int64_t kill_at = 0;  // when SIGKILL follows the SIGTERM already sent
    bool done = false;
    while (!done) {
      // Sleep until the next thing to do (the heartbeat, the timeout, the SIGKILL after
      // a polite stop), output, the command's end, or a signal: one wake-up a second
      // for a quiet command.
      int64_t next = next_beat;
      if (deadline != 0 && kill_at == 0) next = std::min(next, deadline);
      if (kill_at != 0) next = std::min(next, kill_at);
      int wait_ms = static_cast<int>(
          std::clamp<int64_t>((next - now + kMicrosPerMilli - 1) / kMicrosPerMilli, 0, 1000));
      auto pumped = (*child)->Pump(wait_ms, &out, &err);
      if (!pumped.ok()) {
        Log(run.id, pumped.status().ToString());
        (void)(*child)->Terminate(true);
        fin.outcome = RunOutcome::kFailed;
        fin.reason = "lost the command's output: " + pumped.status().message();
        done = true;
      } else {
        done = *pumped;
      }
      now = NowMicros();
      if (now >= next_beat) {
        Status touched = os::TouchFile(lock);
        if (!touched.ok()) Log(run.id, touched.ToString());
        next_beat = now + kHeartbeatUs;
      }
      waiter->WaitUntil(0);  // collects a pending stop request (SIGTERM)
      if (done || kill_at != 0) {
        if (!done && now >= kill_at) {
          (void)(*child)->Terminate(true);
          kill_at = INT64_MAX;
        }
        continue;
      }
      if (deadline != 0 && now >= deadline) {
        fin.outcome = RunOutcome::kTimedOut;
        fin.reason = "timed out after " + FormatDurationMillis(spec.timeout_ms);
      } else if (waiter->shutdown_requested()) {
        fin.outcome = RunOutcome::kStopped;
        fin.reason = "stopped on request (overlap=replace or an operator)";
      } else {
        continue;
      }
      (void)(*child)->Terminate(false);
      kill_at = now + options.stop_grace_ms * kMicrosPerMilli;
    }
    if (kill_at != 0) {
      // The command was stopped (timeout, replace): its direct process has ended, but
      // members of its process group that ignored the polite stop must not outlive it.
      (void)(*child)->Terminate(true);
    }
    auto exit = (*child)->exit_info();
    if (exit) {
      fin.exit_code = exit->exit_code;
      fin.signal = exit->signal;
    }
    if (fin.outcome == RunOutcome::kSucceeded) {
      if (fin.exit_code != 0) {
        fin.outcome = RunOutcome::kFailed;
        fin.reason = fin.signal ? "killed by signal " + std::to_string(fin.signal)
                                : "exit code " + std::to_string(fin.exit_code);
      } else if (spec.fail_on_stderr && err.total() > 0) {
        fin.outcome = RunOutcome::kFailed;
        fin.reason = "wrote to stderr (fail_on_stderr)";
      }
    }
  }
  fin.ended_at_us = NowMicros();
  fin.stdout_bytes = out.total();
  fin.stderr_bytes = err.total();
  fin.stdout_kept = out.kept();
  fin.stderr_kept = err.kept();
  std::string record = store::EncodeOutputRecord({out.Text(), err.Text()});
  fin.output_digest = store::OutputDigest(record);
  return handoff::End{std::move(fin), std::move(record)};
}

// Records the end of run `run_id` through the log itself and removes the lock file.
// The end of a run is not given up lightly (a full disk, a busy log): retried for a
// while, the lock file kept fresh so the run is not taken for abandoned. Returns the
// shim's exit code.
int RecordEndAlone(store::EventLog* log, State* state, const handoff::End& end,
                   const std::string& lock, Waiter* waiter, uint64_t run_id) {
  auto record_end = [&](const State& s, store::Batch* batch) {
    // Not kept in a bounded state (the service's, in a forked shim): the run was
    // abandoned long ago; the end is recorded all the same, as late.
    if (!handoff::EndIsRecordable(s, run_id)) return Status::OK();  // nothing to record
    batch->events.push_back(end.fin);
    batch->put_outputs.push_back({run_id, end.output_record});
    return Status::OK();
  };
  auto finished = log->Transact(state, record_end);
  for (int attempt = 1; !finished.ok() && attempt < 300; ++attempt) {
    Log(run_id, "cannot record the end of the run yet: " + finished.status().ToString());
    (void)os::TouchFile(lock);
    waiter->WaitUntil(NowMicros() + kHeartbeatUs);
    finished = log->Transact(state, record_end);
  }
  (void)os::RemoveFile(lock);
  if (!finished.ok()) {
    Log(run_id, "cannot record the end of the run: " + finished.status().ToString());
    return 1;
  }
  return 0;
}

}  // namespace

int RunShim(const ShimOptions& options) {
  const uint64_t run_id = options.run_id;
  store::Options store_options;
  store_options.create_if_missing = false;
  store_options.program = "chronograph-shim";
  auto log = store::EventLog::Open(options.data_dir, store_options);
  if (!log.ok()) {
    Log(run_id, log.status().ToString());
    return 1;
  }
  // Signals only: the shim does not watch the log (and so holds no inotify instance,
  // of which a user has few).
  auto waiter = NewWaiter(/*data_dir=*/"", /*handle_signals=*/true);
  if (!waiter.ok()) {
    Log(run_id, waiter.status().ToString());
    return 1;
  }
  // Fold the log before taking the lock file, so that the lock is fresh when the
  // service first sees RunStarted, however long the log. It starts from the service's
  // snapshot when there is a usable one: it needs its run and its job, not the history.
  State state;
  auto snap = LoadStateSnapshot(log->get());
  if (snap.ok() && *snap) state = std::move(**snap);
  Status caught_up = (*log)->CatchUp(&state);
  if (!caught_up.ok()) {
    Log(run_id, caught_up.ToString());
    return 1;
  }
  std::string lock_dir = options.data_dir + "/locks";
  Status st = os::CreatePrivateDirectory(lock_dir);
  auto lock = st.ok() ? os::CreateLockFile(lock_dir, "run" + std::to_string(run_id) + "-")
                      : Result<std::string>(st);
  if (!lock.ok()) {
    Log(run_id, lock.status().ToString());
    // Say why in the run itself (the fold accepts the end of a run not yet started),
    // unless another shim has started it meanwhile.
    (void)(*log)->Transact(&state, [&](const State& s, store::Batch* batch) {
      const RunRecord* r = s.FindRun(run_id);
      if (!r || r->status != RunStatus::kScheduled) return Status::OK();
      batch->events.push_back(FailedBeforeStart(
          *r, NowMicros(), "cannot take the run's lock file: " + lock.status().message()));
      return Status::OK();
    });
    return 1;
  }
  // RunStarted is the atomic claim of "starting": only one shim's append succeeds. The
  // command is the job's definition at that moment: a state that does not keep specs
  // (the service's) has it read from the log first, and again should the job change
  // before the claim.
  JobSpec spec;
  RunRecord run;
  bool mine = false;
  const std::string host = os::HostName();
  int64_t started_at = 0;
  Result<uint64_t> started = uint64_t{0};
  bool again = true;
  for (int attempt = 0; again && attempt < 100; ++attempt) {
    again = false;
    uint64_t spec_seq = 0;
    if (const RunRecord* r = state.FindRun(run_id)) {
      if (const JobState* job = state.FindJob(r->job)) {
        auto read = ReadJobSpec(log->get(), r->job, *job);
        if (!read.ok()) {
          Log(run_id, read.status().ToString());
          (void)os::RemoveFile(*lock);
          return 1;
        }
        spec = std::move(read).value();
        spec_seq = job->spec_seq;
      }
    }
    started = (*log)->Transact(&state, [&](const State& s, store::Batch* batch) {
      const RunRecord* r = s.FindRun(run_id);
      const JobState* job = r ? s.FindJob(r->job) : nullptr;
      mine = r && job && r->status == RunStatus::kScheduled && job->defined_seq == r->job_seq;
      if (!mine) return Status::OK();
      if (job->spec_seq != spec_seq) {  // changed since it was read
        mine = false;
        again = true;
        return Status::OK();
      }
      spec.enabled = job->enabled;
      run = *r;
      started_at = PlannedStartUs(*r, NowMicros());
      batch->events.push_back(RunStarted{run_id, r->job, r->scheduled_for_us, started_at,
                                         os::CurrentPid(), host, *lock});
      return Status::OK();
    });
    if (!started.ok()) break;
  }
  if (again) started = Status::Busy("the job's definition kept changing before the run started");
  if (!started.ok() || !mine) {
    (void)os::RemoveFile(*lock);
    if (!started.ok()) Log(run_id, started.status().ToString());
    return started.ok() ? 3 : 1;
  }
  (void)os::TouchFile(*lock);
  handoff::End end = Execute(spec, run, started_at, *lock, waiter->get(), options);
  return RecordEndAlone(log->get(), &state, end, *lock, waiter->get(), run_id);
}

int RunShimWorker(const ShimOptions& options, os::Channel* channel) {
  auto waiter = NewWaiter(/*data_dir=*/"", /*handle_signals=*/true);
  if (!waiter.ok()) {
    Log(0, waiter.status().ToString());
    return 1;
  }
  Waiter* w = waiter->get();
  std::string inbox;
  bool ended = false;  // the service's end of the stream is closed
  std::string lock;    // the lock file of the run carried now ("" when idle)
  uint64_t run_id = 0;
  int64_t last_touch = NowMicros();
  // The service's next word, the current run's lock file kept fresh meanwhile; nullopt
  // once the service is gone (or says something this shim cannot read), and, for an
  // idle shim, on a stop request (SIGTERM; one that comes during a run is honoured by
  // Execute). The channel is watched only here: once the service is gone it is
  // readable for good, and the waits of a run (for its slot, on a full disk) must not
  // wake for it.
  struct Watching {
    Waiter* w;
    intptr_t h;
    Watching(Waiter* w, intptr_t h) : w(w), h(h) { w->Watch(h); }
    ~Watching() { w->Unwatch(h); }
  };
  auto next = [&]() -> std::optional<handoff::Message> {
    Watching watching(w, channel->handle());
    for (;;) {
      if (lock.empty() && w->shutdown_requested()) {
        // Asked to stop while idle: a run already sent is still taken (and recorded
        // as stopped before its command started); then the shim leaves.
        (void)channel->Receive(&inbox);
        auto m = handoff::TakeFrame(&inbox);
        if (m.ok() && *m) return std::move(**m);
        return std::nullopt;
      }
      auto m = handoff::TakeFrame(&inbox);
      if (!m.ok()) {
        Log(run_id, m.status().ToString());
        return std::nullopt;
      }
      if (*m) return std::move(**m);
      if (ended) return std::nullopt;
      int64_t now = NowMicros();
      if (!lock.empty() && now - last_touch >= kHeartbeatUs) {
        (void)os::TouchFile(lock);
        last_touch = now;
      }
      if (w->WaitUntil(lock.empty() ? INT64_MAX : last_touch + kHeartbeatUs) &
          Waiter::kReadable) {
        (void)w->TakeReadable();
      }
      auto got = channel->Receive(&inbox);
      if (!got.ok() || !*got) ended = true;
    }
  };
  // Without the service: the log, from the snapshot (as a shim started as a program,
  // keeping its bound: no finished runs), the lock kept fresh around the fold.
  std::unique_ptr<store::EventLog> log;
  State state;
  auto open_log = [&]() -> Status {
    if (!lock.empty()) (void)os::TouchFile(lock);
    if (!log) {
      store::Options o;
      o.create_if_missing = false;
      o.program = "chronograph-shim";
      auto opened = store::EventLog::Open(options.data_dir, o);
      if (!opened.ok()) return opened.status();
      log = std::move(opened).value();
      auto snap = LoadStateSnapshot(log.get());
      if (snap.ok() && *snap) state = std::move(**snap);
    }
    Status st = log->CatchUp(&state);
    if (!lock.empty()) (void)os::TouchFile(lock);
    return st;
  };
  // Whether the log has the end of run `run_id`: the service may have recorded it just
  // before it went, and a bounded state forgets a finished run (whose end would then
  // pass again): read from the run's own event on.
  auto end_recorded = [&](uint64_t id) -> Result<bool> {
    if (state.FindRun(id)) return !handoff::EndIsRecordable(state, id);
    bool found = false;
    CG_RETURN_IF_ERROR(log->Scan(id, state.last_seq, [&](const Event& e) {
      const auto* fin = std::get_if<RunFinished>(&e.payload);
      found = fin && fin->run_id == id;
      return !found;
    }));
    return found;
  };

  for (;;) {
    lock.clear();
    run_id = 0;
    // A shim asked to stop (SIGTERM) takes no new run (next() says so).
    auto order_msg = next();
    if (!order_msg) return 0;  // the service closed the stream: an idle shim leaves
    if (order_msg->type != handoff::Msg::kRun) {
      Log(0, "expected a run from the service");
      return 1;
    }
    auto order = handoff::DecodeRun(order_msg->payload);
    if (!order.ok()) {
      Log(0, order.status().ToString());
      return 1;
    }
    run_id = order->run_id;
    lock = order->lock_file;
    last_touch = NowMicros();
    RunRecord run;
    run.id = order->run_id;
    run.job = order->spec.name;
    run.scheduled_for_us = order->scheduled_for_us;

    int64_t started_at = 0;
    bool alone = false;  // the service is gone: this shim records the end itself
    auto first = next();
    if (first && first->type == handoff::Msg::kGo) {
      auto at = handoff::DecodeStart(first->payload);
      if (!at.ok()) {
        Log(run_id, at.status().ToString());
        first.reset();
      } else {
        started_at = *at;
      }
    }
    if (first && first->type == handoff::Msg::kNo) {
      (void)os::RemoveFile(lock);
      continue;
    }
    if (!first || first->type != handoff::Msg::kGo) {
      // No word from the service: whether this shim may start the run is in the log,
      // and its lock file must still be there (a new service abandons a run whose lock
      // went stale, and removes the lock).
      Status st = open_log();
      if (!st.ok()) {
        Log(run_id, st.ToString());
        (void)os::RemoveFile(lock);
        return 1;
      }
      const RunRecord* r = state.FindRun(run_id);
      if (!r || r->status != RunStatus::kRunning || r->pid != os::CurrentPid() ||
          r->host != os::HostName() || !os::TouchFile(lock).ok()) {
        (void)os::RemoveFile(lock);
        return 3;
      }
      started_at = r->started_at_us;
      alone = true;
    }

    handoff::End end = Execute(order->spec, run, started_at, lock, w, options);
    // Asked to stop (its run was stopped): it takes no other run, and says so.
    end.leaving = w->shutdown_requested();
    if (!alone) {
      Status sent = channel->Send(handoff::Frame(handoff::Msg::kEnd, handoff::EncodeEnd(end)));
      if (sent.ok()) {
        auto ack = next();
        if (ack && ack->type == handoff::Msg::kAck) {
          (void)os::RemoveFile(lock);  // the service removes it too
          continue;
        }
      }
      // The service went before saying the end is durable: this shim records it (the
      // transaction finds it already there when the service did commit it).
    }
    Status st = open_log();
    auto recorded = st.ok() ? end_recorded(run_id) : Result<bool>(st);
    if (!recorded.ok()) {
      Log(run_id, "cannot record the end of the run: " + recorded.status().ToString());
      (void)os::RemoveFile(lock);
      return 1;
    }
    if (*recorded) {  // by the service, just before it went
      (void)os::RemoveFile(lock);
      return 0;
    }
    return RecordEndAlone(log.get(), &state, end, lock, w, run_id);
  }
}

}  // namespace cg
