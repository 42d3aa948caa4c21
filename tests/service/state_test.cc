#include "service/state.h"
#include "service/state_codec.h"

#include <gtest/gtest.h>

namespace cg {
namespace {

class FoldTest : public ::testing::Test {
 protected:
  Status Push(EventPayload p, int64_t time_us = 0) {
    Event e;
    e.seq = state_.last_seq + 1;
    e.type = PayloadType(p);
    e.time_us = time_us ? time_us : 1000 * static_cast<int64_t>(e.seq);
    e.payload = std::move(p);
    return Apply(&state_, e);
  }
  static JobSpec Spec(const std::string& name) {
    JobSpec s;
    s.name = name;
    s.argv = {"/bin/true"};
    s.schedule = "* * * * *";
    return s;
  }
  State state_;
};

TEST_F(FoldTest, JobLifecycle) {
  ASSERT_TRUE(Push(JobDefined{Spec("a")}).ok());
  JobSpec changed = Spec("a");
  changed.timeout_ms = 5000;
  ASSERT_TRUE(Push(JobChanged{changed, {"timeout"}}).ok());
  EXPECT_EQ(state_.FindJob("a")->spec().timeout_ms, 5000);
  // A change that keeps the schedule keeps the schedule's anchor.
  EXPECT_EQ(state_.FindJob("a")->schedule_anchor_us, 1000);
  ASSERT_TRUE(Push(JobDisabled{"a"}).ok());
  EXPECT_FALSE(state_.FindJob("a")->spec().enabled);
  ASSERT_TRUE(Push(JobEnabled{"a"}).ok());
  EXPECT_TRUE(state_.FindJob("a")->spec().enabled);
  ASSERT_TRUE(Push(JobRemoved{"a"}).ok());
  EXPECT_EQ(state_.FindJob("a"), nullptr);
  // A removed name may be defined again.
  EXPECT_TRUE(Push(JobDefined{Spec("a")}).ok());
  EXPECT_EQ(state_.last_seq, 6u);
  EXPECT_EQ(state_.events, 6u);
}

TEST_F(FoldTest, RejectsWhatCannotFollowAndStaysUnchanged) {
  ASSERT_TRUE(Push(JobDefined{Spec("a")}).ok());
  Status twice = Push(JobDefined{Spec("a")});
  EXPECT_TRUE(twice.IsCorruption());
  EXPECT_NE(twice.message().find("event 2"), std::string::npos);
  EXPECT_TRUE(Push(JobChanged{Spec("b"), {}}).IsCorruption());
  EXPECT_TRUE(Push(JobEnabled{"b"}).IsCorruption());
  EXPECT_TRUE(Push(RunRequested{"b"}).IsCorruption());
  RunStarted started;
  started.run_id = 99;
  EXPECT_TRUE(Push(started).IsCorruption());
  RunFinished finished;
  finished.run_id = 99;
  EXPECT_TRUE(Push(finished).IsCorruption());
  EXPECT_EQ(state_.last_seq, 1u);
  EXPECT_EQ(state_.jobs.size(), 1u);
}

TEST_F(FoldTest, EventsMustComeInSequence) {
  Event e;
  e.seq = 2;
  e.payload = JobDefined{Spec("a")};
  EXPECT_TRUE(Apply(&state_, e).IsCorruption());
}

TEST_F(FoldTest, ASlotIsClaimedOnce) {
  ASSERT_TRUE(Push(JobDefined{Spec("a")}).ok());
  RunScheduled claim{"a", 60000000, Trigger::kSchedule, 0, 0};
  ASSERT_TRUE(Push(claim).ok());
  Status again = Push(claim);
  EXPECT_TRUE(again.IsCorruption());
  EXPECT_NE(again.message().find("claimed twice"), std::string::npos);
  // Skipping a decided slot is also a double decision.
  EXPECT_TRUE(Push(RunSkipped{"a", 60000000, SkipReason::kOverlap, "", 0}).IsCorruption());
  EXPECT_TRUE(Push(RunSkipped{"a", 120000000, SkipReason::kOverlap, "", 0}).ok());
  EXPECT_EQ(state_.runs.size(), 2u);
}

TEST_F(FoldTest, SlotsAreDecidedInOrderAfterTheJobsCursor) {
  ASSERT_TRUE(Push(JobDefined{Spec("a")}, 10'000'000).ok());
  // Before the job existed: not a slot it could be owed.
  EXPECT_TRUE(Push(RunScheduled{"a", 5'000'000, Trigger::kSchedule, 0, 0}).IsCorruption());
  ASSERT_TRUE(Push(RunScheduled{"a", 120'000'000, Trigger::kSchedule, 0, 0}, 11'000'000).ok());
  // An earlier slot after a later one was decided: refused, as a duplicate would be.
  EXPECT_TRUE(Push(RunScheduled{"a", 60'000'000, Trigger::kSchedule, 0, 0}).IsCorruption());
  EXPECT_TRUE(Push(RunSkipped{"a", 60'000'000, SkipReason::kMissed, "", 0}).IsCorruption());
  // A DST note names an instant, not a slot: not ordered.
  EXPECT_TRUE(Push(RunSkipped{"a", 60'000'000, SkipReason::kDst, "", 0}, 12'000'000).ok());
}

TEST_F(FoldTest, ABoundedHistoryKeepsActiveRunsAndTheLastFinished) {
  state_.finished_runs_per_job = 2;
  ASSERT_TRUE(Push(JobDefined{Spec("a")}).ok());
  std::vector<uint64_t> ids;
  for (int i = 1; i <= 5; ++i) {
    ASSERT_TRUE(Push(RunScheduled{"a", i * 60'000'000LL, Trigger::kSchedule, 0, 0}).ok());
    uint64_t id = state_.last_seq;
    ids.push_back(id);
    ASSERT_TRUE(Push(RunStarted{id, "a", i * 60'000'000LL, 1, 42, "h", "/l"}).ok());
    if (i == 2) {
      ASSERT_TRUE(Push(RunAbandoned{id, "a", "lock file stale", 7000}).ok());
      continue;
    }
    if (i == 5) break;  // still running
    RunFinished fin;
    fin.run_id = id;
    fin.job = "a";
    fin.exit_code = 0;
    ASSERT_TRUE(Push(fin).ok());
  }
  // Runs 1 and 2 dropped, 3 and 4 kept, 5 running.
  EXPECT_EQ(state_.forgotten_runs, 2u);
  EXPECT_EQ(state_.FindRun(ids[0]), nullptr);
  EXPECT_EQ(state_.FindRun(ids[1]), nullptr);
  EXPECT_NE(state_.FindRun(ids[2]), nullptr);
  EXPECT_NE(state_.FindRun(ids[3]), nullptr);
  EXPECT_EQ(state_.FindRun(ids[4])->status, RunStatus::kRunning);
  EXPECT_EQ(state_.ActiveRuns().size(), 1u);
  // Events about dropped runs pass without their checks; others are still checked.
  RunFinished late;
  late.run_id = ids[1];
  late.job = "a";
  EXPECT_TRUE(Push(late).ok());
  EXPECT_TRUE(Push(OutputPurged{{ids[0], ids[2]}, 0}).ok());
  EXPECT_TRUE(state_.FindRun(ids[2])->output_purged);
  late.run_id = state_.last_seq + 10;
  EXPECT_TRUE(Push(late).IsCorruption());
  // A removed job's finished runs go at once.
  ASSERT_TRUE(Push(RunAbandoned{ids[4], "a", "gone", 0}).ok());
  ASSERT_TRUE(Push(JobRemoved{"a"}).ok());
  EXPECT_TRUE(state_.runs.empty());
}

TEST_F(FoldTest, ABoundOfZeroKeepsOnlyTheActiveRuns) {
  state_.finished_runs_per_job = 0;  // the service's
  ASSERT_TRUE(Push(JobDefined{Spec("a")}).ok());
  ASSERT_TRUE(Push(RunScheduled{"a", 60'000'000, Trigger::kSchedule, 0, 0}).ok());
  const uint64_t first = state_.last_seq;
  ASSERT_TRUE(Push(RunStarted{first, "a", 60'000'000, 1, 42, "h", "/l"}).ok());
  ASSERT_TRUE(Push(RunAbandoned{first, "a", "lock file stale", 7000}).ok());
  ASSERT_TRUE(Push(RunSkipped{"a", 120'000'000, SkipReason::kOverlap, "busy", 0}).ok());
  ASSERT_TRUE(Push(RunScheduled{"a", 180'000'000, Trigger::kSchedule, 0, 0}).ok());
  const uint64_t running = state_.last_seq;
  ASSERT_TRUE(Push(RunStarted{running, "a", 180'000'000, 1, 43, "h", "/l2"}).ok());
  EXPECT_EQ(state_.runs.size(), 1u);
  EXPECT_EQ(state_.FindRun(running)->status, RunStatus::kRunning);
  EXPECT_TRUE(state_.FindJob("a")->kept_finished_runs.empty());
  EXPECT_EQ(state_.forgotten_runs, 2u);
  // The abandoned run's late end passes (a full fold keeps it, as late).
  RunFinished late;
  late.run_id = first;
  late.job = "a";
  EXPECT_TRUE(Push(late).ok());
  // The slots stay decided: the cursor, not the dropped records, refuses them again.
  EXPECT_TRUE(Push(RunScheduled{"a", 120'000'000, Trigger::kSchedule, 0, 0}).IsCorruption());
}

TEST_F(FoldTest, FindsOldRunsAndRefusesIdsThatAreNotRuns) {
  ASSERT_TRUE(Push(JobDefined{Spec("a")}).ok());
  std::vector<uint64_t> ids;
  for (int i = 1; i <= 20; ++i) {
    ASSERT_TRUE(Push(RunRequested{"a"}).ok());
    uint64_t request = state_.last_seq;
    ASSERT_TRUE(Push(RunScheduled{"a", i * 1'000'000LL, Trigger::kRequest, request, 0}).ok());
    ids.push_back(state_.last_seq);
  }
  // The oldest run, far below the newest: found all the same.
  ASSERT_TRUE(Push(RunStarted{ids[0], "a", 1'000'000, 1, 42, "h", "/l"}).ok());
  EXPECT_EQ(state_.FindRun(ids[0])->status, RunStatus::kRunning);
  // A request's sequence number, between two runs, near the newest and far below it.
  for (uint64_t not_a_run : {ids[19] - 1, ids[2] - 1}) {
    Status st = Push(RunStarted{not_a_run, "a", 0, 1, 42, "h", "/l"});
    EXPECT_TRUE(st.IsCorruption()) << not_a_run;
    EXPECT_NE(st.message().find("unknown run"), std::string::npos) << st.message();
  }
  // Beyond the newest.
  EXPECT_TRUE(Push(RunStarted{ids[19] + 5, "a", 0, 1, 42, "h", "/l"}).IsCorruption());
  ASSERT_TRUE(Push(RunStarted{ids[19], "a", 20'000'000, 1, 42, "h", "/l"}).ok());
}

TEST_F(FoldTest, RunLifecycle) {
  ASSERT_TRUE(Push(JobDefined{Spec("a")}).ok());
  ASSERT_TRUE(Push(RunRequested{"a"}).ok());
  EXPECT_EQ(state_.pending_requests.size(), 1u);
  ASSERT_TRUE(Push(RunScheduled{"a", 5000, Trigger::kRequest, 2, 0}).ok());
  EXPECT_TRUE(state_.pending_requests.empty());
  const uint64_t run = 3;
  EXPECT_EQ(state_.FindRun(run)->status, RunStatus::kScheduled);
  ASSERT_TRUE(Push(RunStarted{run, "a", 5000, 6000, 42, "host", "/locks/x"}).ok());
  EXPECT_EQ(state_.ActiveRuns().size(), 1u);
  EXPECT_EQ(state_.FindRun(run)->lock_file, "/locks/x");
  EXPECT_EQ(state_.FindRun(run)->host, "host");
  RunFinished fin;
  fin.run_id = run;
  fin.job = "a";
  fin.outcome = RunOutcome::kFailed;
  fin.exit_code = 3;
  fin.ended_at_us = 9000;
  fin.output_digest = std::string(64, 'e');
  ASSERT_TRUE(Push(fin).ok());
  const RunRecord* r = state_.FindRun(run);
  EXPECT_EQ(r->status, RunStatus::kFailed);
  EXPECT_EQ(r->exit_code, 3);
  EXPECT_EQ(r->pid, 42);
  EXPECT_EQ(r->output_digest.str(), std::string(64, 'e'));
  EXPECT_EQ(r->lock_file, "") << "an ended run holds no lock file (RunStarted names it)";
  EXPECT_TRUE(state_.ActiveRuns().empty());
  EXPECT_TRUE(Push(fin).IsCorruption()) << "finished twice";
  // A request answered twice is refused.
  EXPECT_TRUE(Push(RunScheduled{"a", 5000, Trigger::kRequest, 2, 0}).IsCorruption());
}

TEST_F(FoldTest, LateFinishAfterAbandonDoesNotReviveTheRun) {
  ASSERT_TRUE(Push(JobDefined{Spec("a")}).ok());
  ASSERT_TRUE(Push(RunScheduled{"a", 5000, Trigger::kSchedule, 0, 0}).ok());
  ASSERT_TRUE(Push(RunStarted{2, "a", 5000, 6000, 42, "h", "/l"}).ok());
  ASSERT_TRUE(Push(RunAbandoned{2, "a", "lock file stale", 7000}).ok());
  EXPECT_EQ(state_.FindRun(2)->lock_file, "");
  RunFinished fin;
  fin.run_id = 2;
  fin.job = "a";
  fin.exit_code = 0;
  ASSERT_TRUE(Push(fin).ok());
  EXPECT_EQ(state_.FindRun(2)->status, RunStatus::kAbandoned);
  EXPECT_TRUE(state_.FindRun(2)->finished_late);
  EXPECT_TRUE(Push(fin).IsCorruption());
}

TEST_F(FoldTest, IgnorableUnknownEventsAreCounted) {
  Event e;
  e.seq = 1;
  e.type = 0x8001;
  e.payload = std::monostate{};
  ASSERT_TRUE(Apply(&state_, e).ok());
  EXPECT_EQ(state_.ignored_events, 1u);
  EXPECT_EQ(state_.last_seq, 1u);
}

TEST_F(FoldTest, ServiceStartAndStop) {
  ASSERT_TRUE(Push(ServiceStarted{77, "h", "0.1.0"}, 5).ok());
  EXPECT_TRUE(state_.service.running);
  EXPECT_EQ(state_.service.pid, 77);
  ASSERT_TRUE(Push(ServiceStopped{77, "SIGTERM"}, 9).ok());
  EXPECT_FALSE(state_.service.running);
  EXPECT_EQ(state_.service.stopped_at_us, 9);
}

TEST_F(FoldTest, SnapshotEncodingRoundTripsEverythingTheFoldKeeps) {
  state_.finished_runs_per_job = 3;
  JobSpec spec = Spec("a");
  spec.env = {{"K", "v"}};
  spec.description = "r\u00e9sum\u00e9";
  ASSERT_TRUE(Push(JobDefined{spec}).ok());
  ASSERT_TRUE(Push(JobDefined{Spec("b")}).ok());
  ASSERT_TRUE(Push(RunScheduled{"a", 60'000'000, Trigger::kSchedule, 0, 1}).ok());
  ASSERT_TRUE(Push(RunStarted{3, "a", 60'000'000, 61, 42, "h", "/l"}).ok());
  ASSERT_TRUE(Push(RunRequested{"b"}).ok());
  ASSERT_TRUE(Push(RunSkipped{"a", 120'000'000, SkipReason::kOverlap, "busy", 0}).ok());
  ASSERT_TRUE(Push(ServiceStarted{7, "h", "0.1.0"}).ok());
  std::string bytes = EncodeStateSnapshot(state_);
  auto back = DecodeStateSnapshot(bytes);
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(EncodeStateSnapshot(*back), bytes);
  EXPECT_EQ(back->last_seq, state_.last_seq);
  EXPECT_EQ(back->FindJob("a")->spec().env, spec.env);
  EXPECT_EQ(back->FindRun(3)->status, RunStatus::kRunning);
  EXPECT_EQ(back->pending_requests.size(), 1u);
  EXPECT_EQ(back->active_runs, state_.active_runs);
  EXPECT_EQ(back->FindJob("a")->kept_finished_runs, std::vector<uint64_t>{6});
  EXPECT_EQ(back->finished_runs_per_job, 3u);
  EXPECT_TRUE(back->service.running);
  // Folding on from the decoded state is folding on from the original.
  ASSERT_TRUE(Push(RunAbandoned{3, "a", "gone", 0}).ok());
  Event e;
  e.seq = back->last_seq + 1;
  e.type = PayloadType(RunAbandoned{});
  e.time_us = 1000 * static_cast<int64_t>(e.seq);
  e.payload = RunAbandoned{3, "a", "gone", 0};
  ASSERT_TRUE(Apply(&*back, e).ok());
  EXPECT_EQ(EncodeStateSnapshot(*back), EncodeStateSnapshot(state_));
}

TEST_F(FoldTest, WithoutSpecsKeepsWhatTheSchedulerReadsAndWhereTheSpecIs) {
  state_.keep_specs = false;
  JobSpec spec = Spec("a");
  spec.time_zone = "Europe/Berlin";
  spec.overlap = OverlapPolicy::kQueue;
  ASSERT_TRUE(Push(JobDefined{spec}).ok());
  const JobState* j = state_.FindJob("a");
  EXPECT_EQ(j->full_spec, nullptr);
  EXPECT_EQ(j->spec_seq, 1u);
  EXPECT_EQ(j->schedule, "* * * * *");
  EXPECT_EQ(j->time_zone, "Europe/Berlin");
  EXPECT_EQ(j->overlap, OverlapPolicy::kQueue);
  spec.schedule = "0 * * * *";
  spec.missed = MissedPolicy::kAll;
  ASSERT_TRUE(Push(JobChanged{spec, {"schedule", "missed"}}).ok());
  ASSERT_TRUE(Push(JobDisabled{"a"}).ok());
  EXPECT_EQ(j->spec_seq, 2u);  // the disable does not carry the spec
  EXPECT_EQ(j->schedule, "0 * * * *");
  EXPECT_EQ(j->missed, MissedPolicy::kAll);
  EXPECT_FALSE(j->enabled);
  EXPECT_EQ(j->schedule_anchor_us, 2000);
  // The snapshot keeps the setting, so that `verify` folds the same way to compare.
  auto back = DecodeStateSnapshot(EncodeStateSnapshot(state_));
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_FALSE(back->keep_specs);
  EXPECT_EQ(back->FindJob("a")->full_spec, nullptr);
  EXPECT_EQ(back->FindJob("a")->schedule, "0 * * * *");
}

TEST_F(FoldTest, EmptyLikeKeepsTheSettingsForAFoldFromTheStart) {
  state_.finished_runs_per_job = 8;
  state_.keep_specs = false;
  state_.track_touched = false;
  ASSERT_TRUE(Push(JobDefined{Spec("a")}).ok());
  State fresh = state_.EmptyLike();
  EXPECT_EQ(fresh.last_seq, 0u);
  EXPECT_TRUE(fresh.jobs.empty());
  EXPECT_EQ(fresh.finished_runs_per_job, 8u);
  EXPECT_FALSE(fresh.keep_specs);
  EXPECT_FALSE(fresh.track_touched);
}

TEST_F(FoldTest, EnablingAJobDoesNotChangeTheSpecOfACopyOfTheState) {
  ASSERT_TRUE(Push(JobDefined{Spec("a")}).ok());
  State before = state_;  // specs are shared between copies
  ASSERT_TRUE(Push(JobDisabled{"a"}).ok());
  EXPECT_FALSE(state_.FindJob("a")->spec().enabled);
  EXPECT_TRUE(before.FindJob("a")->spec().enabled);
  EXPECT_TRUE(before.FindJob("a")->enabled);
}

TEST_F(FoldTest, SnapshotOfAnotherVersionOrDamagedIsRefused) {
  ASSERT_TRUE(Push(JobDefined{Spec("a")}).ok());
  std::string bytes = EncodeStateSnapshot(state_);
  std::string other = bytes;
  other[3] = static_cast<char>(other[3] + 1);  // the version (first field)
  EXPECT_TRUE(DecodeStateSnapshot(other).status().IsNotSupported());
  EXPECT_TRUE(DecodeStateSnapshot(bytes.substr(0, bytes.size() / 2)).status().IsCorruption());
  EXPECT_TRUE(DecodeStateSnapshot(bytes + "x").status().IsCorruption());
}

// A snapshot has no checksum of its own: bytes that decode but could not be a fold
// (which the fold and the service would then trip on) are refused too.
TEST_F(FoldTest, SnapshotThatCannotBeAFoldIsRefused) {
  ASSERT_TRUE(Push(JobDefined{Spec("a")}).ok());
  ASSERT_TRUE(Push(RunScheduled{"a", 60'000'000, Trigger::kSchedule, 0, 0}).ok());
  ASSERT_TRUE(DecodeStateSnapshot(EncodeStateSnapshot(state_)).ok());
  auto refused = [](const State& s) {
    Result<State> back = DecodeStateSnapshot(EncodeStateSnapshot(s));
    return back.ok() ? std::string("accepted") : back.status().ToString();
  };
  State ahead = state_;
  ASSERT_NE(ahead.runs.Append(9), nullptr);  // after the last event, 2
  EXPECT_NE(refused(ahead).find("run 9 is after its last event"), std::string::npos)
      << refused(ahead);
  State lost = state_;
  lost.active_runs.insert(1);  // event 1 defined the job: no run
  EXPECT_NE(refused(lost).find("active run 1"), std::string::npos) << refused(lost);
  State ended = state_;
  ended.runs.Find(2)->status = RunStatus::kSucceeded;  // still listed as active
  EXPECT_NE(refused(ended).find("active run 2"), std::string::npos) << refused(ended);
  State kept = state_;
  kept.jobs["a"].kept_finished_runs = {1};
  EXPECT_NE(refused(kept).find("keeps run 1"), std::string::npos) << refused(kept);
  State asked = state_;
  asked.pending_requests[7] = State::PendingRequest{"a", 0};
  EXPECT_NE(refused(asked).find("pending request"), std::string::npos) << refused(asked);
}

// A state whose runs are newer than its events (no fold makes one) refuses the next
// run rather than losing it.
TEST_F(FoldTest, ARunThatCannotBeKeptIsRefusedAndChangesNothing) {
  ASSERT_TRUE(Push(JobDefined{Spec("a")}).ok());
  ASSERT_TRUE(Push(RunRequested{"a"}).ok());
  ASSERT_NE(state_.runs.Append(50), nullptr);
  std::string before = EncodeStateSnapshot(state_);
  Status st = Push(RunScheduled{"a", 0, Trigger::kRequest, 2, 0});
  EXPECT_TRUE(st.IsCorruption()) << st.ToString();
  st = Push(RunSkipped{"a", 0, SkipReason::kOverlap, "", 2});
  EXPECT_TRUE(st.IsCorruption()) << st.ToString();
  EXPECT_EQ(EncodeStateSnapshot(state_), before);
  EXPECT_EQ(state_.pending_requests.size(), 1u);
}

}  // namespace
}  // namespace cg
