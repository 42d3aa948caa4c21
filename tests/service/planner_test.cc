// The scheduler's decisions with a fake clock: PlanDueSlots and friends are pure
// functions of the state and the time.
#include "service/planner.h"

#include <gtest/gtest.h>

namespace cg {
namespace {

constexpr int64_t kS = kMicrosPerSecond;
constexpr int64_t kT0 = 1795774500 * kS;  // 2026-11-27T10:15:00Z, a whole minute

class PlannerTest : public ::testing::Test {
 protected:
  void Push(EventPayload p, int64_t time_us) {
    Event e;
    e.seq = state_.last_seq + 1;
    e.type = PayloadType(p);
    e.time_us = time_us;
    e.payload = std::move(p);
    Status st = Apply(&state_, e);
    ASSERT_TRUE(st.ok()) << st.ToString();
  }
  void Define(const std::string& name, const std::string& schedule, int64_t at,
              const std::function<void(JobSpec*)>& tweak = nullptr,
              const std::string& tz = "UTC") {
    JobSpec s;
    s.name = name;
    s.argv = {"/bin/true"};
    s.schedule = schedule;
    s.time_zone = tz;
    if (tweak) tweak(&s);
    Push(JobDefined{s}, at);
  }
  // Plans job `name` at `now` and applies the decisions, as a pass would.
  std::vector<EventPayload> Plan(const std::string& name, int64_t now, int64_t ahead_us = 0) {
    const JobState* job = state_.FindJob(name);
    auto schedule = sched::ParseSchedule(job->schedule, job->time_zone,
                                         job->schedule_anchor_us);
    EXPECT_TRUE(schedule.ok()) << schedule.status().ToString();
    PlanOptions o;
    o.now_us = now;
    o.ahead_us = ahead_us;
    std::vector<EventPayload> out;
    PlanDueSlots(state_, name, *job, **schedule, o, &out);
    for (const auto& p : out) Push(p, now);
    return out;
  }
  static std::vector<std::string> Kinds(const std::vector<EventPayload>& events) {
    std::vector<std::string> out;
    for (const auto& e : events) {
      if (auto* c = std::get_if<RunScheduled>(&e)) {
        out.push_back(std::string("claim:") + TriggerName(c->trigger));
      } else if (auto* s = std::get_if<RunSkipped>(&e)) {
        out.push_back(std::string("skip:") + SkipReasonName(s->reason));
      }
    }
    return out;
  }
  void StartAndFinish(uint64_t run, int64_t at) {
    const RunRecord* r = state_.FindRun(run);
    Push(RunStarted{run, r->job, r->scheduled_for_us, at, 1, "h", "/l"}, at);
    RunFinished f;
    f.run_id = run;
    f.job = r->job;
    f.exit_code = 0;
    Push(f, at);
  }
  State state_;
};

TEST_F(PlannerTest, ClaimsTheDueSlotOnceAndNothingBeforeIt) {
  Define("j", "* * * * *", kT0 + 5 * kS);
  EXPECT_TRUE(Plan("j", kT0 + 59 * kS).empty());
  auto events = Plan("j", kT0 + 60 * kS + 3000);
  ASSERT_EQ(Kinds(events), std::vector<std::string>{"claim:schedule"});
  EXPECT_EQ(std::get<RunScheduled>(events[0]).scheduled_for_us, kT0 + 60 * kS);
  // The same slot is not decided again.
  EXPECT_TRUE(Plan("j", kT0 + 61 * kS).empty());
  EXPECT_EQ(RunsToStart(state_).size(), 1u);
}

TEST_F(PlannerTest, AnIdleJobsNextSlotIsClaimedAheadOnlyWithinTheWindow) {
  Define("j", "* * * * *", kT0 + 5 * kS);
  const int64_t ahead = 500 * kMicrosPerMilli;
  EXPECT_TRUE(Plan("j", kT0 + 59 * kS, ahead).empty());  // 1 s before: outside
  auto events = Plan("j", kT0 + 59 * kS + 600 * kMicrosPerMilli, ahead);
  ASSERT_EQ(Kinds(events), std::vector<std::string>{"claim:schedule"});
  EXPECT_EQ(std::get<RunScheduled>(events[0]).scheduled_for_us, kT0 + 60 * kS);
  // Decided once: at the slot itself nothing more happens, and it is not missed.
  EXPECT_TRUE(Plan("j", kT0 + 60 * kS, ahead).empty());
  EXPECT_EQ(RunsToStart(state_).size(), 1u);
}

TEST_F(PlannerTest, ABusyJobHasItsSlotDecidedWhenItComes) {
  // A run that ends between "ahead" and the slot must not make the slot overlap.
  Define("j", "* * * * *", kT0 + 5 * kS);
  const int64_t ahead = 500 * kMicrosPerMilli;
  ASSERT_EQ(Plan("j", kT0 + 60 * kS).size(), 1u);  // the run of 10:16 is waiting
  uint64_t first = RunsToStart(state_).at(0);
  EXPECT_TRUE(Plan("j", kT0 + 119 * kS + 600 * kMicrosPerMilli, ahead).empty());
  StartAndFinish(first, kT0 + 119 * kS + 700 * kMicrosPerMilli);
  // Idle again, still ahead of the slot: claimed now, not skipped as an overlap.
  auto events = Plan("j", kT0 + 119 * kS + 800 * kMicrosPerMilli, ahead);
  EXPECT_EQ(Kinds(events), std::vector<std::string>{"claim:schedule"});
}

TEST_F(PlannerTest, ALateSlotIsStillOnTimeWhenTheNextIsWithinTheWindow) {
  // The service woke 0.7 s late for 10:16:00 with 10:16:01 due in 0.3 s: 10:16:00 runs
  // (on time, within grace) and 10:16:01 waits for it, not the other way round.
  Define("j", "* * * * * *", kT0 + 5 * kS);
  auto events = Plan("j", kT0 + 60 * kS + 700 * kMicrosPerMilli, 500 * kMicrosPerMilli);
  ASSERT_FALSE(events.empty());
  EXPECT_EQ(Kinds(events).back(), "claim:schedule");
  EXPECT_EQ(std::get<RunScheduled>(events.back()).scheduled_for_us, kT0 + 60 * kS);
  for (const auto& e : events) {
    if (auto* c = std::get_if<RunScheduled>(&e)) {
      EXPECT_LE(c->scheduled_for_us, kT0 + 60 * kS);
    }
  }
}

TEST_F(PlannerTest, ADisabledJobIsNotClaimedAhead) {
  Define("j", "* * * * *", kT0 + 5 * kS, [](JobSpec* s) { s->enabled = false; });
  EXPECT_TRUE(Plan("j", kT0 + 59 * kS + 800 * kMicrosPerMilli, 500 * kMicrosPerMilli).empty());
}

TEST_F(PlannerTest, MissedSlotsFollowTheMissedPolicy) {
  for (auto [name, policy] : {std::pair{"skip", MissedPolicy::kSkip},
                              std::pair{"once", MissedPolicy::kOnce},
                              std::pair{"all", MissedPolicy::kAll}}) {
    Define(name, "0 * * * *", kT0, [p = policy](JobSpec* s) {
      s->missed = p;
      s->overlap = OverlapPolicy::kSkip;
    });
  }
  // 11:00, 12:00, 13:00 and 14:00 passed; at 14:02 even the last is past the 60 s
  // grace: none is on time.
  int64_t now = kT0 + (3 * 60 + 47) * 60 * kS;
  EXPECT_EQ(Kinds(Plan("skip", now)), std::vector<std::string>(4, "skip:missed"));
  EXPECT_EQ(Kinds(Plan("once", now)),
            (std::vector<std::string>{"skip:missed", "skip:missed", "skip:missed",
                                      "claim:catch-up"}));
  EXPECT_EQ(Kinds(Plan("all", now)), std::vector<std::string>(4, "claim:catch-up"))
      << "missed=all queues every missed slot, whatever the overlap policy";
}

TEST_F(PlannerTest, TheLatestSlotWithinGraceRunsAndTheEarlierAreMissed) {
  Define("once", "* * * * *", kT0);
  auto events = Plan("once", kT0 + 3 * 60 * kS + 5 * kS);
  EXPECT_EQ(Kinds(events),
            (std::vector<std::string>{"skip:missed", "skip:missed", "claim:schedule"}));
}

TEST_F(PlannerTest, OverlapPolicies) {
  for (auto [name, policy] : {std::pair{"skip", OverlapPolicy::kSkip},
                              std::pair{"queue", OverlapPolicy::kQueue},
                              std::pair{"replace", OverlapPolicy::kReplace}}) {
    Define(name, "* * * * *", kT0, [p = policy](JobSpec* s) { s->overlap = p; });
  }
  for (const char* name : {"skip", "queue", "replace"}) {
    ASSERT_EQ(Kinds(Plan(name, kT0 + 60 * kS)), std::vector<std::string>{"claim:schedule"});
    uint64_t run = state_.FindJob(name)->last_run_id;
    Push(RunStarted{run, name, kT0 + 60 * kS, kT0 + 60 * kS, 1, "h", "/l"}, kT0 + 60 * kS);
  }
  EXPECT_EQ(Kinds(Plan("skip", kT0 + 120 * kS)), std::vector<std::string>{"skip:overlap"});
  EXPECT_EQ(Kinds(Plan("queue", kT0 + 120 * kS)), std::vector<std::string>{"claim:schedule"});
  EXPECT_EQ(Kinds(Plan("replace", kT0 + 120 * kS)), std::vector<std::string>{"claim:schedule"});
  // Queued runs wait; the replaced run is to be stopped.
  EXPECT_TRUE(RunsToStart(state_).empty());
  std::vector<uint64_t> replace = RunsToReplace(state_);
  ASSERT_EQ(replace.size(), 1u);
  EXPECT_EQ(state_.FindRun(replace[0])->job, "replace");
}

TEST_F(PlannerTest, QueueStartsTheOldestWaitingRunWhenTheRunningOneEnds) {
  Define("q", "* * * * *", kT0, [](JobSpec* s) { s->overlap = OverlapPolicy::kQueue; });
  Plan("q", kT0 + 60 * kS);
  uint64_t first = state_.FindJob("q")->last_run_id;
  Push(RunStarted{first, "q", kT0 + 60 * kS, kT0 + 60 * kS, 1, "h", "/l"}, kT0 + 60 * kS);
  Plan("q", kT0 + 120 * kS);
  uint64_t second = state_.FindJob("q")->last_run_id;
  Plan("q", kT0 + 180 * kS);
  EXPECT_TRUE(RunsToStart(state_).empty());
  RunFinished f;
  f.run_id = first;
  f.job = "q";
  Push(f, kT0 + 185 * kS);
  EXPECT_EQ(RunsToStart(state_), std::vector<uint64_t>{second});
}

TEST_F(PlannerTest, ADisabledJobRecordsOneSkipThenWaits) {
  Define("d", "* * * * *", kT0, [](JobSpec* s) { s->enabled = false; });
  EXPECT_EQ(Kinds(Plan("d", kT0 + 60 * kS)), std::vector<std::string>{"skip:disabled"});
  EXPECT_TRUE(Plan("d", kT0 + 600 * kS).empty());
  const JobState* job = state_.FindJob("d");
  auto schedule = sched::ParseSchedule(job->schedule, "UTC", job->schedule_anchor_us);
  EXPECT_FALSE(NextSlot(*job, **schedule).has_value());
  // Enabled again: the slots that passed while disabled are not owed.
  Push(JobEnabled{"d"}, kT0 + 610 * kS);
  EXPECT_EQ(Kinds(Plan("d", kT0 + 660 * kS)), std::vector<std::string>{"claim:schedule"});
}

TEST_F(PlannerTest, RequestsAreAnsweredUnderTheOverlapPolicy) {
  Define("r", "@yearly", kT0);
  Push(RunRequested{"r"}, kT0 + kS);
  Push(RunRequested{"r"}, kT0 + 2 * kS);
  PlanOptions o;
  o.now_us = kT0 + 3 * kS;
  std::vector<EventPayload> out;
  PlanRequests(state_, o, &out);
  EXPECT_EQ(Kinds(out), (std::vector<std::string>{"claim:request", "skip:overlap"}));
  EXPECT_EQ(std::get<RunSkipped>(out[1]).request_seq, 3u);
  Push(JobRemoved{"r"}, kT0 + 4 * kS);
}

TEST_F(PlannerTest, ARequestMeetingARunClaimedAheadSaysWhenThatRunStarts) {
  Define("j", "* * * * *", kT0 + 5 * kS);
  ASSERT_EQ(Plan("j", kT0 + 59 * kS + 600 * kMicrosPerMilli, 500 * kMicrosPerMilli).size(), 1u);
  uint64_t run = RunsToStart(state_).at(0);
  // Its shim claimed it, to start at the slot.
  Push(RunStarted{run, "j", kT0 + 60 * kS, kT0 + 60 * kS, 1, "h", "/l"},
       kT0 + 59 * kS + 610 * kMicrosPerMilli);
  Push(RunRequested{"j"}, kT0 + 59 * kS + 700 * kMicrosPerMilli);
  PlanOptions o;
  o.now_us = kT0 + 59 * kS + 710 * kMicrosPerMilli;
  std::vector<EventPayload> out;
  PlanRequests(state_, o, &out);
  ASSERT_EQ(Kinds(out), std::vector<std::string>{"skip:overlap"});
  EXPECT_EQ(std::get<RunSkipped>(out[0]).detail,
            "run " + std::to_string(run) + " starts at " + FormatRfc3339(kT0 + 60 * kS));
}

TEST_F(PlannerTest, FallBackRunsAFixedTimeOnceAndSaysWhy) {
  // 02:30 Europe/Berlin occurs twice on 2026-10-25: 00:30Z (CEST) and 01:30Z (CET).
  int64_t day = 1792886400 * kS;  // 2026-10-25T00:00:00Z
  Define("b", "30 2 * * *", day - 3600 * kS, nullptr, "Europe/Berlin");
  auto events = Plan("b", day + 1800 * kS);
  ASSERT_EQ(Kinds(events), (std::vector<std::string>{"claim:schedule", "skip:dst"}));
  EXPECT_EQ(std::get<RunSkipped>(events[1]).scheduled_for_us, day + 5400 * kS);
  EXPECT_TRUE(Plan("b", day + 5400 * kS).empty()) << "the repeat must not run";
  // The next run is the next day's 02:30 CET.
  const JobState* job = state_.FindJob("b");
  auto schedule = sched::ParseSchedule("30 2 * * *", "Europe/Berlin", job->schedule_anchor_us);
  EXPECT_EQ(NextSlot(*job, **schedule)->at_us, day + 86400 * kS + 5400 * kS);
}

TEST_F(PlannerTest, ADstNoteDoesNotBlockALaterSlotAtItsInstant) {
  // Recorded at 00:30Z: the 02:30 CET repeat at 01:30Z will not run. Then the job is
  // changed to run at minute 30 of every hour, so 01:30Z becomes a real slot.
  int64_t day = 1792886400 * kS;  // 2026-10-25T00:00:00Z
  Define("b", "30 2 * * *", day - 3600 * kS, nullptr, "Europe/Berlin");
  ASSERT_EQ(Kinds(Plan("b", day + 1800 * kS)),
            (std::vector<std::string>{"claim:schedule", "skip:dst"}));
  StartAndFinish(state_.FindJob("b")->last_run_id, day + 1801 * kS);
  JobSpec changed = state_.FindJob("b")->spec();
  changed.schedule = "30 * * * *";
  Push(JobChanged{changed, {"schedule"}}, day + 2700 * kS);
  EXPECT_EQ(Kinds(Plan("b", day + 5400 * kS)), std::vector<std::string>{"claim:schedule"});
}

TEST_F(PlannerTest, ARemovedAndRedefinedJobStartsAfresh) {
  Define("r", "* * * * *", kT0);
  Plan("r", kT0 + 60 * kS);
  uint64_t old_run = state_.FindJob("r")->last_run_id;
  Push(JobRemoved{"r"}, kT0 + 61 * kS);
  EXPECT_EQ(OrphanedRuns(state_), std::vector<uint64_t>{old_run});
  Define("r", "* * * * *", kT0 + 62 * kS, [](JobSpec* s) { s->argv = {"/bin/false"}; });
  // The old job's claimed run is not the new job's to start.
  EXPECT_TRUE(RunsToStart(state_).empty());
  EXPECT_EQ(OrphanedRuns(state_), std::vector<uint64_t>{old_run});
  EXPECT_EQ(Kinds(Plan("r", kT0 + 120 * kS)), std::vector<std::string>{"claim:schedule"});
  EXPECT_EQ(RunsToStart(state_).size(), 1u);
  EXPECT_NE(RunsToStart(state_)[0], old_run);
}

TEST_F(PlannerTest, OneBatchSeesItsOwnDecisions) {
  Define("s", "* * * * *", kT0);  // overlap=skip
  Push(RunRequested{"s"}, kT0 + 59 * kS);
  PlanOptions o;
  o.now_us = kT0 + 60 * kS;
  Planner planner(state_, o);
  std::vector<EventPayload> out;
  planner.Requests(&out);
  const JobState* job = state_.FindJob("s");
  auto schedule = sched::ParseSchedule(job->schedule, "UTC", job->schedule_anchor_us);
  planner.DueSlots("s", *job, **schedule, &out);
  EXPECT_EQ(Kinds(out), (std::vector<std::string>{"claim:request", "skip:overlap"}));
}

TEST_F(PlannerTest, SpringForwardGapRunsOnceRightAfterTheGap) {
  // 02:30 America/New_York does not exist on 2026-03-08; the gap ends at 07:00Z.
  int64_t day = 1772928000 * kS;  // 2026-03-08T00:00:00Z
  Define("n", "30 2 * * *", day, nullptr, "America/New_York");
  auto events = Plan("n", day + 7 * 3600 * kS);
  ASSERT_EQ(Kinds(events), std::vector<std::string>{"claim:schedule"});
  const auto& claim = std::get<RunScheduled>(events[0]);
  EXPECT_EQ(claim.scheduled_for_us, day + 7 * 3600 * kS);
  EXPECT_EQ(claim.dst_adjust, static_cast<uint8_t>(sched::FireAdjust::kGapShifted));
}

}  // namespace
}  // namespace cg
