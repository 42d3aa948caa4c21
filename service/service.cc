#include "service/service.h"

#include <spdlog/spdlog.h>

#include <filesystem>
#include <functional>
#include <optional>
#include <queue>

#include "service/dispatch.h"
#include "service/handoff.h"
#include "service/os.h"
#include "service/run_shim.h"
#include "service/state_codec.h"
#include "version.h"

namespace cg {
namespace {

// Finished runs the service keeps in memory per job: none. It plans with the active
// runs only, and its memory stays flat however long the history (100,000 jobs with 8
// finished runs each kept took 411 MB).
constexpr size_t kFinishedRunsKeptPerJob = 0;
// An idle run shim exits after this long without a run.
constexpr int64_t kShimIdleUs = 60 * kMicrosPerSecond;
// Snapshots are written at most this often (and on a clean stop).
constexpr int64_t kMinSnapshotIntervalUs = 60 * kMicrosPerSecond;

class Service {
 public:
  Service(const ServiceOptions& options, Waiter* waiter, ServiceNotifier* notifier)
      : options_(options), waiter_(waiter), notifier_(notifier) {}

  int Run() {
    auto lock = os::AcquireServiceLock(options_.data_dir + "/chronographd.lock");
    if (!lock.ok()) {
      spdlog::critical("{}", lock.status().message());
      return 1;
    }
    int64_t t0 = NowMicros();
    // The service needs the active runs, not the history (chronotool reads that).
    state_.finished_runs_per_job = kFinishedRunsKeptPerJob;
    state_.keep_specs = false;  // a run's shim reads its job's spec from the log
    LoadSnapshot();
    Status st = log_->CatchUp(&state_);  // not tracking touched jobs: all are scheduled below
    state_.track_touched = true;
    if (!st.ok()) {
      spdlog::critical("cannot replay the event log: {}", st.ToString());
      return 1;
    }
    spdlog::info("replayed {} events ({} jobs) in {} ms{}", state_.last_seq - snapshot_seq_,
                 state_.jobs.size(), (NowMicros() - t0) / 1000,
                 snapshot_seq_ ? " after the snapshot at event " + std::to_string(snapshot_seq_)
                               : std::string());
    snapshot_at_us_ = NowMicros();
    // What the replay read of the map is not read again (only new events are): it need
    // not stay in this process's resident memory.
    log_->ReleaseMappedPages();
    PassOptions start = BaseOptions();
    start.extra_events.push_back(
        ServiceStarted{os::CurrentPid(), os::HostName(), CHRONOGRAPH_VERSION});
    start.due_jobs = &no_jobs_;  // reconcile only; scheduling starts below
    if (!Pass(std::move(start))) return 1;
    SweepLockFiles();
    RescheduleAll();
    StartRuns();
    notifier_->Ready("scheduling " + std::to_string(state_.jobs.size()) + " jobs");
    spdlog::info("chronographd {} ready on {} (pid {})", CHRONOGRAPH_VERSION, options_.data_dir,
                 os::CurrentPid());

    int64_t watchdog = notifier_->WatchdogIntervalUs();
    int64_t next_ping = watchdog ? NowMicros() + watchdog / 2 : INT64_MAX;
    int64_t next_lock_check = NowMicros() + kMicrosPerSecond;
    // data.mdb changes before its commit can be read (LMDB publishes the transaction in
    // lock.mdb just after writing the meta page): after a wake for a change the log
    // does not show yet, look again after 1 ms, then 2, 4... up to 64 ms, rather than
    // at the next deadline, which may be far (a request would wait for it). The
    // service's own commits wake it too, and end the same way.
    int64_t again_us = 0;
    while (!waiter_->shutdown_requested()) {
      int64_t wake = std::min(NextFire(), next_ping);
      if (!state_.active_runs.empty()) wake = std::min(wake, next_lock_check);
      wake = std::min(wake, NextIdleRetirement());
      if (HandoffPending()) wake = 0;  // starts and ends to record: at once
      const int64_t look_again = again_us ? NowMicros() + again_us : INT64_MAX;
      unsigned why = waiter_->WaitUntil(std::min(wake, look_again));
      if (why & Waiter::kShutdown) break;
      if (why & Waiter::kReadable) ReadChannels();
      if ((why & Waiter::kLogChanged) || again_us) {
        const uint64_t before = state_.last_seq;
        (void)log_->CatchUp(&state_);  // an error is the pass's to report
        const bool fresh = state_.last_seq != before;
        again_us = NextLookAgainUs(again_us, why, fresh);
        // Only the look again, and nothing new: no pass (it would find nothing to do).
        if (!fresh && why == Waiter::kTimeout && NowMicros() < wake) continue;
      }
      int64_t now = NowMicros();
      if (now >= next_ping) {
        notifier_->Watchdog();
        next_ping = now + watchdog / 2;
      }
      PassOptions o = BaseOptions();
      o.check_locks = now >= next_lock_check;
      if (o.check_locks) next_lock_check = now + kMicrosPerSecond;
      for (const auto& child : os::ReapChildren()) NoteDeadShim(child, &o);
      std::set<std::string> due = PopDue(now);
      o.due_jobs = &due;
      HandedRuns handed = Handed(/*starts=*/true);
      o.handed = &handed;
      if (!Pass(std::move(o))) {
        // Logged; the log may be full or busy. Retry soon, never spin. The state may
        // have been folded again from the log (a commit that failed), without the
        // heap's notes in it: every job is put on the heap again.
        waiter_->WaitUntil(NowMicros() + kMicrosPerSecond);
        RescheduleAll();
        continue;
      }
      Answer(handed);
      // A pass whose commit was retried folded the log again from the start (every
      // job's wake_us then unset); that fold touched every job, so all are rescheduled.
      for (const auto& name : due) state_.touched_jobs.insert(name);
      std::set<std::string> busy = BusyJobs();
      for (const auto& name : state_.touched_jobs) Reschedule(name, busy);
      state_.touched_jobs.clear();
      StartRuns();
      StopReplaced();
      MaybeSnapshot(/*stopping=*/false);
    }
    notifier_->Stopping();
    StopUnstarted();
    PassOptions stop = BaseOptions();
    stop.due_jobs = &no_jobs_;
    stop.final_events.push_back(ServiceStopped{os::CurrentPid(), "shutdown requested"});
    // The ends handed over are recorded; runs not started yet stay claimed (their
    // shims see this service go, find no RunStarted and leave them to the next start).
    ReadChannels();
    HandedRuns handed = Handed(/*starts=*/false);
    stop.handed = &handed;
    bool ok = Pass(std::move(stop));
    if (ok) Answer(handed);
    if (ok) MaybeSnapshot(/*stopping=*/true);
    spdlog::info("chronographd stopped; {} runs left running are recorded by their shims",
                 run_to_shim_.size());
    return ok ? 0 : 1;
  }

  Status Open() {
    store::Options o;
    o.program = "chronographd";
    o.release_read_pages = true;
    auto log = store::EventLog::Open(options_.data_dir, o);
    if (!log.ok()) return log.status();
    log_ = std::move(log).value();
    return os::CreatePrivateDirectory(options_.data_dir + "/locks");
  }

 private:
  // A run shim this process started. One it speaks with over `channel` (POSIX) carries
  // the runs handed to it one after another, the service recording their starts and
  // ends (handoff.h); between runs it is idle. One started as a program for one run
  // (Windows) records that run itself and has no channel.
  struct Shim {
    int64_t pid = 0;
    std::unique_ptr<os::Channel> channel;
    std::string inbox;             // bytes read, not yet a whole message
    uint64_t run = 0;              // the run it carries; 0: idle
    std::string lock_file;
    uint64_t spec_seq = 0;
    bool start_pending = false;    // handed a run; its RunStarted not yet recorded
    bool started = false;          // its run's RunStarted is recorded
    std::optional<handoff::End> end;  // handed over; its RunFinished not yet recorded
    bool retiring = false;         // asked to stop: takes no further run
    int64_t idle_since_us = 0;
    bool program = false;          // started for one run, recording it itself
  };
  struct Entry {
    int64_t at_us;
    std::string job;
    bool operator>(const Entry& o) const { return at_us > o.at_us; }
  };

  PassOptions BaseOptions() {
    PassOptions o;
    o.now_us = NowMicros();
    o.plan.now_us = o.now_us;
    o.lock_timeout_us = options_.lock_timeout_us;
    o.plan.ahead_us = options_.start_ahead_us;
    return o;
  }

  bool Pass(PassOptions o) {
    o.now_us = o.plan.now_us = NowMicros();
    auto appended = SchedulePass(log_.get(), &state_, &schedules_, o);
    if (!appended.ok()) {
      spdlog::error("scheduling pass failed: {}", appended.status().ToString());
      // (InvalidArgument: the fold refused an event of the batch.)
      if (appended.status().IsInvalidArgument() && o.handed && !o.handed->empty()) {
        // The fold refused the batch: what the shims handed over would be refused
        // again in every pass. They are left to themselves (each reads the log); runs
        // that could not start are tried again.
        failed_starts_.clear();
        for (const HandedStart& h : o.handed->starts) {
          auto it = shims_.find(h.pid);
          if (it != shims_.end()) CloseChannel(&it->second);
        }
        for (const HandedEnd& e : o.handed->ends) {
          const uint64_t run = e.end->fin.run_id;
          orphan_ends_.erase(run);
          auto r = run_to_shim_.find(run);
          if (r == run_to_shim_.end()) continue;
          Shim& shim = shims_.at(r->second);
          shim.end.reset();
          CloseChannel(&shim);
        }
      }
      return false;
    }
    return true;
  }

  // Removes the lock files no run holds: no active run names them and they have not
  // been refreshed within the lock timeout (a service killed between creating a run's
  // lock file and handing the run over leaves one). A fresh one may be a shim's about
  // to record its RunStarted; it is left.
  void SweepLockFiles() {
    std::set<std::string> held;
    for (const RunRecord* r : state_.ActiveRuns()) held.insert(r->lock_file);
    const int64_t now = NowMicros();
    size_t removed = 0;
    std::error_code ec;
    for (const auto& entry :
         std::filesystem::directory_iterator(options_.data_dir + "/locks", ec)) {
      const std::string name = entry.path().filename().string();
      const std::string path = options_.data_dir + "/locks/" + name;
      if (name.rfind("run", 0) != 0 || name.size() < 5 ||
          name.compare(name.size() - 5, 5, ".lock") != 0 || held.count(path)) {
        continue;
      }
      auto mtime = os::FileMtimeMicros(path);
      if (!mtime.ok() || now - *mtime <= options_.lock_timeout_us) continue;
      if (os::RemoveFile(path).ok()) ++removed;
    }
    if (removed > 0) spdlog::info("removed {} lock files no run holds", removed);
  }

  // Starts from the snapshot in meta when there is a usable one (it is only a cache:
  // anything wrong with it means replaying the whole log).
  void LoadSnapshot() {
    auto loaded = LoadStateSnapshot(log_.get());
    if (!loaded.ok()) {
      spdlog::warn("not using the snapshot: {}; replaying the whole log (run 'chronotool "
                   "verify')", loaded.status().ToString());
      return;
    }
    if (!*loaded) return;
    State& snap = **loaded;
    if (snap.finished_runs_per_job != kFinishedRunsKeptPerJob || snap.keep_specs) {
      spdlog::warn("not using the snapshot at event {}: taken with other settings; replaying "
                   "the whole log", snap.last_seq);
      return;
    }
    snapshot_seq_ = snap.last_seq;
    state_ = std::move(snap);
  }

  // Writes a snapshot when --snapshot-every events were appended since the last one
  // (and a minute has passed), and on a clean stop.
  void MaybeSnapshot(bool stopping) {
    if (options_.snapshot_every_events == 0 || state_.last_seq == snapshot_seq_) return;
    int64_t now = NowMicros();
    bool due = state_.last_seq - snapshot_seq_ >= options_.snapshot_every_events &&
               now - snapshot_at_us_ >= kMinSnapshotIntervalUs;
    if (!due && !stopping) return;
    snapshot_at_us_ = now;
    std::string bytes = EncodeStateSnapshot(state_);
    Status st = log_->WriteSnapshot(state_.last_seq, bytes);
    if (!st.ok()) {
      spdlog::warn("cannot write the snapshot at event {}: {}", state_.last_seq, st.ToString());
      return;
    }
    spdlog::debug("snapshot at event {} ({} bytes) in {} ms", state_.last_seq, bytes.size(),
                  (NowMicros() - now) / 1000);
    snapshot_seq_ = state_.last_seq;
  }

  // Puts every job's next slot on a new heap (of exactly that size).
  void RescheduleAll() {
    std::set<std::string> busy = BusyJobs();
    std::vector<Entry> entries;
    entries.reserve(state_.jobs.size());
    for (auto& [name, job] : state_.jobs) {
      job.wake_us = WakeFor(name, job, busy);
      if (job.wake_us != JobState::kNoWake) entries.push_back({job.wake_us, name});
    }
    heap_ = Heap(std::greater<Entry>(), std::move(entries));
    state_.touched_jobs.clear();
  }

  // Puts the job's next slot on the heap (stale entries are skipped when popped).
  // `busy`: the jobs with a run running or waiting (BusyJobs()).
  void Reschedule(const std::string& name, const std::set<std::string>& busy) {
    auto it = state_.jobs.find(name);
    if (it == state_.jobs.end()) {  // removed: its heap entries are stale
      schedules_.Forget(name);
      unparsable_logged_.erase(name);
      return;
    }
    JobState& job = it->second;
    int64_t wake = WakeFor(name, job, busy);
    if (job.wake_us == wake) return;
    job.wake_us = wake;
    if (wake != JobState::kNoWake) heap_.push({wake, name});
  }

  // When the loop must wake for the job's next slot; kNoWake when it has none.
  int64_t WakeFor(const std::string& name, const JobState& job,
                  const std::set<std::string>& busy) {
    const sched::Schedule* schedule = schedules_.Get(name, job);
    if (!schedule) {
      // Once per definition: RescheduleAll comes after every failed pass (once a
      // second while the disk is full), and the job is still there each time.
      uint64_t& logged = unparsable_logged_[name];
      if (logged != job.spec_seq) {
        logged = job.spec_seq;
        spdlog::error("job '{}': schedule '{}' does not parse; it will not run", name,
                      job.schedule);
      }
      return JobState::kNoWake;
    }
    if (!unparsable_logged_.empty()) unparsable_logged_.erase(name);
    auto fire = NextSlot(job, *schedule);
    if (!fire) return JobState::kNoWake;
    // An idle, enabled job wakes the loop ahead of its slot to claim it early (see
    // ServiceOptions::start_ahead_us); a busy or disabled one at the slot, which is
    // when the planner decides it (woken early, it would find nothing to do and be put
    // back at the same, now past, time: a busy loop until the slot).
    bool ahead = job.enabled && !busy.count(name);
    return fire->at_us - (ahead ? options_.start_ahead_us : 0);
  }

  // The jobs with a run running or waiting to start.
  std::set<std::string> BusyJobs() const {
    std::set<std::string> busy;
    for (uint64_t id : state_.active_runs) {
      if (const RunRecord* r = state_.FindRun(id)) busy.insert(r->job);
    }
    return busy;
  }

  // The job of the heap's live top entry (one that matches its job's wake_us).
  JobState* LiveTop() {
    while (!heap_.empty()) {
      const Entry& top = heap_.top();
      auto it = state_.jobs.find(top.job);
      if (it != state_.jobs.end() && it->second.wake_us == top.at_us) return &it->second;
      heap_.pop();  // stale
    }
    return nullptr;
  }

  int64_t NextFire() { return LiveTop() ? heap_.top().at_us : INT64_MAX; }

  std::set<std::string> PopDue(int64_t now) {
    std::set<std::string> due;
    for (JobState* job = LiveTop(); job && heap_.top().at_us <= now; job = LiveTop()) {
      due.insert(heap_.top().job);
      job->wake_us = JobState::kNoWake;
      heap_.pop();
    }
    return due;
  }

  void NoteDeadShim(const os::ReapedChild& child, PassOptions* o) {
    auto it = shims_.find(child.pid);
    if (it == shims_.end()) return;
    Shim& shim = it->second;
    const uint64_t run = shim.run;
    // A shim started for one run exits 0 when it recorded the run's end, 3 when the
    // run was not its to start (another shim's); anything else leaves the run lost. A
    // shim that carries handed runs exits only idle or alone: gone with a run whose
    // RunStarted is recorded and whose end it has not handed over, the run is lost
    // whatever the exit code (it may have been handed the run as it left); gone before
    // the RunStarted was recorded, the run waits for another shim (nothing started).
    // The pass re-checks against the log (the run must still be this pid's).
    bool lost = shim.program
                    ? child.signal != 0 || (child.exit_code != 0 && child.exit_code != 3)
                    : shim.started && !shim.end;
    if (shim.end) {
      // Handed over just before it went: recorded all the same (the next pass).
      orphan_ends_[run] = {std::move(*shim.end), shim.lock_file};
    }
    if (run != 0 && lost) {
      o->dead_shims[run].pid = child.pid;
      o->dead_shims[run].how = child.signal
                               ? "its run shim (pid " + std::to_string(child.pid) +
                                     ") was killed by signal " + std::to_string(child.signal)
                               : "its run shim (pid " + std::to_string(child.pid) +
                                     ") exited with code " + std::to_string(child.exit_code) +
                                     " without recording the end";
    }
    if (run != 0 && !shim.program && !shim.started && !shim.lock_file.empty()) {
      (void)os::RemoveFile(shim.lock_file);  // never started: the lock marks nothing
    }
    if (run != 0) {
      run_to_shim_.erase(run);
      stopped_.erase(run);
    }
    CloseChannel(&shim);
    shims_.erase(it);
  }

  void StartRuns() {
    size_t waiting = 0;
    for (uint64_t run : RunsToStart(state_)) {
      if (run_to_shim_.count(run)) continue;  // already handed, RunStarted not seen yet
      if (failed_starts_.count(run)) continue;  // recorded as failed in the next pass
      if (options_.max_running != 0 && run_to_shim_.size() >= options_.max_running) {
        ++waiting;  // starts when a run ends (its end wakes the loop)
        continue;
      }
      Status st = HandRun(run);
      if (st.IsNotSupported()) {
        // No channels (Windows): a shim program for this run, recording it itself.
        auto pid = StartShim(options_.data_dir, run, /*quiet=*/false);
        st = pid.status();
        if (pid.ok()) {
          Shim& shim = shims_[*pid];
          shim.pid = *pid;
          shim.run = run;
          shim.program = true;
          run_to_shim_[run] = *pid;
        }
      }
      if (!st.ok()) {
        spdlog::error("run {}: cannot start its shim: {}", run, st.ToString());
        continue;
      }
      const RunRecord* r = state_.FindRun(run);
      int64_t now = NowMicros();
      spdlog::info("run {} of job '{}' (scheduled for {}): shim pid {} {}", run,
                   r ? r->job : "?", r ? FormatRfc3339(r->scheduled_for_us) : "?",
                   run_to_shim_[run],
                   r && PlannedStartUs(*r, now) > now ? "starts it at the slot" : "starts it now");
    }
    if (waiting > 0 && waiting != last_waiting_logged_) {
      spdlog::warn("{} runs wait to start: {} runs are running (--max-running)", waiting,
                   run_to_shim_.size());
    }
    last_waiting_logged_ = waiting;
    RetireIdleShims(NowMicros());
  }

  // Hands claimed run `run` to an idle shim, or to a new one (handoff.h): the job's
  // definition read here, the lock file created here. The shim keeps the lock fresh
  // and waits for the word that its RunStarted is durable. NotSupported without
  // channels (the caller then starts a shim program for the run). A failure that is
  // the run's own (its definition cannot be read, its lock file cannot be created)
  // has the run recorded as failed, saying why, in the next pass; others (no shim
  // could be started) leave it claimed, tried again at the next wake.
  Status HandRun(uint64_t run) {
    const RunRecord* r = state_.FindRun(run);
    const JobState* job = r ? state_.FindJob(r->job) : nullptr;
    if (!job) return Status::NotFound("the run or its job is gone");
    handoff::RunOrder order;
    order.run_id = run;
    order.scheduled_for_us = r->scheduled_for_us;
    auto spec = ReadJobSpec(log_.get(), r->job, *job);
    if (!spec.ok()) {
      failed_starts_[run] = "cannot read the job's definition: " + spec.status().message();
      return spec.status();
    }
    order.spec = std::move(spec).value();
    Shim* shim = IdleShim();
    if (!shim) CG_RETURN_IF_ERROR(StartShimWithChannel(&shim));
    auto lock = os::CreateLockFile(options_.data_dir + "/locks",
                                   "run" + std::to_string(run) + "-");
    if (!lock.ok()) {  // the new shim stays idle
      failed_starts_[run] = "cannot take the run's lock file: " + lock.status().message();
      return lock.status();
    }
    order.lock_file = *lock;
    Status st = shim->channel->Send(handoff::Frame(handoff::Msg::kRun, handoff::EncodeRun(order)));
    if (!st.ok()) {
      (void)os::RemoveFile(*lock);
      CloseChannel(shim);  // gone: its exit is reaped
      return st;
    }
    shim->run = run;
    shim->lock_file = *lock;
    shim->spec_seq = job->spec_seq;
    shim->start_pending = true;
    shim->started = false;
    run_to_shim_[run] = shim->pid;
    return Status::OK();
  }

  // An idle shim that may take a run (the most recently idle: its pages are warm).
  Shim* IdleShim() {
    Shim* best = nullptr;
    for (auto& [pid, shim] : shims_) {
      if (shim.run != 0 || !shim.channel || shim.retiring) continue;
      if (!best || shim.idle_since_us > best->idle_since_us) best = &shim;
    }
    return best;
  }

  // Starts a shim program with a channel to this process.
  Status StartShimWithChannel(Shim** out) {
    auto channels = os::NewChannelPair();
    if (!channels.ok()) return channels.status();
    auto pid = os::SpawnDetached({ShimPath(), "--shim-worker", "--data", options_.data_dir},
                                 /*inherit_stderr=*/true, channels->second->handle());
    if (!pid.ok()) return pid.status();
    Shim& shim = shims_[*pid];
    shim.pid = *pid;
    shim.idle_since_us = NowMicros();
    shim.channel = std::move(channels->first);  // the child's end closes here
    channel_to_shim_[shim.channel->handle()] = *pid;
    waiter_->Watch(shim.channel->handle());
    *out = &shim;
    return Status::OK();
  }

  // Stops speaking with the shim: an idle one exits, a busy one carries its run on
  // alone.
  void CloseChannel(Shim* shim) {
    if (!shim->channel) return;
    waiter_->Unwatch(shim->channel->handle());
    channel_to_shim_.erase(shim->channel->handle());
    shim->channel.reset();
    shim->start_pending = false;  // never told to go: it starts nothing
    // An end already handed over stays, to be recorded.
  }

  // The shim has no run any more: idle, or gone when it was asked to stop.
  void Release(Shim* shim) {
    if (shim->run != 0) {
      run_to_shim_.erase(shim->run);
      stopped_.erase(shim->run);
    }
    shim->run = 0;
    shim->lock_file.clear();
    shim->start_pending = shim->started = false;
    shim->idle_since_us = NowMicros();
    if (shim->retiring) CloseChannel(shim);
  }

  // Keeps at most --idle-shims idle shims, none idle for longer than a minute.
  void RetireIdleShims(int64_t now) {
    std::vector<Shim*> idle;
    for (auto& [pid, shim] : shims_) {
      if (shim.run == 0 && shim.channel) idle.push_back(&shim);
    }
    std::sort(idle.begin(), idle.end(),
              [](const Shim* a, const Shim* b) { return a->idle_since_us > b->idle_since_us; });
    for (size_t i = 0; i < idle.size(); ++i) {
      if (i >= options_.idle_shims || now - idle[i]->idle_since_us >= kShimIdleUs) {
        CloseChannel(idle[i]);
      }
    }
  }

  // When the next idle shim is to be retired; INT64_MAX when none.
  int64_t NextIdleRetirement() const {
    int64_t at = INT64_MAX;
    for (const auto& [pid, shim] : shims_) {
      if (shim.run == 0 && shim.channel) at = std::min(at, shim.idle_since_us + kShimIdleUs);
    }
    return at;
  }

  // Reads what the shims said: ends handed over. A stream that ended is closed here;
  // the shim's exit is reaped.
  void ReadChannels() {
    for (intptr_t handle : waiter_->TakeReadable()) {
      auto c = channel_to_shim_.find(handle);
      if (c == channel_to_shim_.end()) continue;
      Shim& shim = shims_.at(c->second);
      auto got = shim.channel->Receive(&shim.inbox);
      bool broken = !got.ok() || !*got;
      bool garbled = false;  // the shim is alive but not to be trusted
      for (;;) {
        auto m = handoff::TakeFrame(&shim.inbox);
        if (!m.ok()) {
          spdlog::error("run {}: its shim pid {}: {}", shim.run, shim.pid, m.status().ToString());
          broken = garbled = true;  // nothing more is read from it: it records its run alone
          break;
        }
        if (!*m) break;
        if ((*m)->type != handoff::Msg::kEnd || !shim.started) continue;
        auto end = handoff::DecodeEnd((*m)->payload);
        if (!end.ok() || end->fin.run_id != shim.run) {
          spdlog::error("run {}: its shim pid {} handed over an end that is not its run's: {}",
                        shim.run, shim.pid, end.ok() ? "another run" : end.status().ToString());
          broken = garbled = true;
          break;
        }
        shim.end = std::move(end).value();
        if (shim.end->leaving) shim.retiring = true;
      }
      // An end from a shim whose stream ended (it went) is recorded; one from a shim
      // left to itself is not (it records its end alone: never both).
      if (garbled) shim.end.reset();
      if (broken) CloseChannel(&shim);
    }
  }

  bool HandoffPending() const {
    if (!orphan_ends_.empty() || !failed_starts_.empty()) return true;
    for (const auto& [pid, shim] : shims_) {
      if (shim.start_pending || shim.end) return true;
    }
    return false;
  }

  // What the next pass records for the shims: their ends, and (unless stopping) their
  // starts.
  HandedRuns Handed(bool starts) {
    HandedRuns h;
    for (const auto& [run, orphan] : orphan_ends_) h.ends.push_back({&orphan.end});
    h.failures = failed_starts_;
    for (const auto& [pid, shim] : shims_) {
      if (shim.end) h.ends.push_back({&*shim.end});
      if (starts && shim.start_pending) {
        HandedStart s;
        s.run_id = shim.run;
        s.pid = pid;
        s.lock_file = shim.lock_file;
        s.spec_seq = shim.spec_seq;
        h.starts.push_back(std::move(s));
      }
    }
    return h;
  }

  // After the pass that recorded them: tells each shim (go, no, or the end is durable).
  void Answer(const HandedRuns& h) {
    for (const auto& [run, why] : h.failures) failed_starts_.erase(run);
    for (const HandedStart& s : h.starts) {
      Shim& shim = shims_.at(s.pid);
      shim.start_pending = false;
      shim.started = s.recorded;
      if (!s.recorded) (void)os::RemoveFile(s.lock_file);
      if (!shim.channel) continue;
      Status st = shim.channel->Send(
          s.recorded ? handoff::Frame(handoff::Msg::kGo, handoff::EncodeStart(s.started_at_us))
                     : handoff::Frame(handoff::Msg::kNo));
      if (!st.ok()) {
        spdlog::warn("run {}: cannot answer its shim pid {}: {}", s.run_id, shim.pid,
                     st.ToString());
      }
      if (!s.recorded) Release(&shim);
    }
    for (const HandedEnd& e : h.ends) {
      const uint64_t run = e.end->fin.run_id;
      auto orphan = orphan_ends_.find(run);
      if (orphan != orphan_ends_.end()) {  // its shim is gone: the lock marks nothing
        (void)os::RemoveFile(orphan->second.lock_file);
        orphan_ends_.erase(orphan);
        continue;
      }
      Shim& shim = shims_.at(run_to_shim_.at(run));
      if (e.recorded) (void)os::RemoveFile(shim.lock_file);  // the end is durable
      shim.end.reset();
      if (!shim.channel) {  // the stream ended after the end came: nothing to tell
        Release(&shim);
        continue;
      }
      Status st = shim.channel->Send(handoff::Frame(handoff::Msg::kAck));
      if (!st.ok()) {
        spdlog::warn("run {}: cannot answer its shim pid {}: {}", shim.run, shim.pid,
                     st.ToString());
      }
      Release(&shim);
    }
  }

  // On shutdown: the runs this service claimed ahead whose command has not started
  // yet are stopped (recorded as stopped before the command started), so that nothing
  // starts after the service has gone. Commands already running are left to finish.
  void StopUnstarted() {
    int64_t now = NowMicros();
    for (auto& [pid, shim] : shims_) {
      if (shim.run == 0 || shim.start_pending) continue;  // never told to start
      const RunRecord* r = state_.FindRun(shim.run);
      if (!r || (r->status == RunStatus::kRunning && r->started_at_us <= now)) continue;
      shim.retiring = true;
      Status st = os::RequestStop(pid);
      spdlog::info("run {} of job '{}' has not started yet: stopping its shim pid {}{}",
                   shim.run, r->job, pid, st.ok() ? "" : ": " + st.ToString());
    }
  }

  void StopReplaced() {
    for (auto it = stopped_.begin(); it != stopped_.end();) {  // ended meanwhile
      it = state_.active_runs.count(*it) ? std::next(it) : stopped_.erase(it);
    }
    for (uint64_t run : RunsToReplace(state_)) {
      if (stopped_.count(run)) continue;
      const RunRecord* r = state_.FindRun(run);
      if (!r || r->host != os::HostName()) continue;
      stopped_.insert(run);
      // A shim asked to stop carries no further run.
      auto it = shims_.find(r->pid);
      if (it != shims_.end()) it->second.retiring = true;
      Status st = os::RequestStop(r->pid);
      spdlog::info("run {} of job '{}' is replaced by a newer run: stopping shim pid {}{}", run,
                   r->job, r->pid, st.ok() ? "" : ": " + st.ToString());
    }
  }

  ServiceOptions options_;
  Waiter* waiter_;
  ServiceNotifier* notifier_;
  std::unique_ptr<store::EventLog> log_;
  State state_;
  ScheduleCache schedules_;
  // Jobs whose schedule does not parse, and the definition (spec_seq) that was logged.
  std::map<std::string, uint64_t> unparsable_logged_;
  using Heap = std::priority_queue<Entry, std::vector<Entry>, std::greater<Entry>>;
  Heap heap_;
  std::map<int64_t, Shim> shims_;                // pid -> the shim
  std::map<uint64_t, int64_t> run_to_shim_;      // a run carried -> its shim's pid
  std::map<intptr_t, int64_t> channel_to_shim_;  // a watched channel's handle -> pid
  // Ends handed over by shims that went before the end was recorded: run -> the end
  // and its lock file.
  struct OrphanEnd {
    handoff::End end;
    std::string lock_file;
  };
  std::map<uint64_t, OrphanEnd> orphan_ends_;
  std::map<uint64_t, std::string> failed_starts_;  // run -> why it cannot start
  std::set<uint64_t> stopped_;
  const std::set<std::string> no_jobs_;
  size_t last_waiting_logged_ = 0;  // runs held back by --max-running, last logged
  uint64_t snapshot_seq_ = 0;   // the event of the last snapshot loaded or written
  int64_t snapshot_at_us_ = 0;  // when it was
};

}  // namespace

int RunService(const ServiceOptions& options, Waiter* waiter, ServiceNotifier* notifier) {
  Service service(options, waiter, notifier);
  Status st = service.Open();
  if (!st.ok()) {
    spdlog::critical("cannot open the data directory: {}", st.ToString());
    return 1;
  }
  return service.Run();
}

}  // namespace cg
