// The service/shim handover messages (service/handoff.h): framing, the start and end
// payloads, and when an end is to be recorded.
#include "service/handoff.h"

#include <gtest/gtest.h>

namespace cg::handoff {
namespace {

TEST(HandoffTest, FramesComeOffWholeAndInOrder) {
  std::string stream = Frame(Msg::kGo, EncodeStart(1'700'000'000'123'456)) + Frame(Msg::kAck);
  // Fed a byte at a time: nothing until a frame is whole.
  std::string buf;
  std::vector<Message> got;
  for (char c : stream) {
    buf.push_back(c);
    auto m = TakeFrame(&buf);
    ASSERT_TRUE(m.ok()) << m.status().ToString();
    if (*m) got.push_back(std::move(**m));
  }
  ASSERT_EQ(got.size(), 2u);
  EXPECT_TRUE(buf.empty());
  EXPECT_EQ(got[0].type, Msg::kGo);
  auto at = DecodeStart(got[0].payload);
  ASSERT_TRUE(at.ok());
  EXPECT_EQ(*at, 1'700'000'000'123'456);
  EXPECT_EQ(got[1].type, Msg::kAck);
  EXPECT_TRUE(got[1].payload.empty());
  // A negative time (before 1970) survives too.
  EXPECT_EQ(*DecodeStart(EncodeStart(-5)), -5);
}

TEST(HandoffTest, UnknownTypesAndHugeLengthsAreCorruption) {
  std::string bad = Frame(Msg::kNo);
  bad[0] = 'X';
  EXPECT_TRUE(TakeFrame(&bad).status().IsCorruption());
  std::string huge = Frame(Msg::kEnd);
  huge[1] = huge[2] = huge[3] = huge[4] = '\xff';  // 4 GiB
  EXPECT_TRUE(TakeFrame(&huge).status().IsCorruption());
  EXPECT_TRUE(DecodeStart("1234567").status().IsCorruption());
  EXPECT_TRUE(DecodeEnd("ab").status().IsCorruption());
  std::string cut = EncodeEnd(End{});
  cut.resize(6);
  EXPECT_TRUE(DecodeEnd(cut).status().IsCorruption());
}

TEST(HandoffTest, AnEndRoundTripsWithItsOutput) {
  End end;
  end.fin.run_id = 42;
  end.fin.job = "backup";
  end.fin.started_at_us = 10;
  end.fin.ended_at_us = 20;
  end.fin.outcome = RunOutcome::kFailed;
  end.fin.exit_code = 3;
  end.fin.stdout_bytes = 5;
  end.fin.output_digest = std::string(64, 'a');
  end.fin.reason = "exit code 3";
  end.output_record = std::string("out\0put", 7) + std::string(100000, 'x');
  end.leaving = true;
  std::string buf = Frame(Msg::kEnd, EncodeEnd(end));
  auto m = TakeFrame(&buf);
  ASSERT_TRUE(m.ok() && *m);
  auto back = DecodeEnd((*m)->payload);
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(back->fin.run_id, 42u);
  EXPECT_EQ(back->fin.job, "backup");
  EXPECT_EQ(back->fin.outcome, RunOutcome::kFailed);
  EXPECT_EQ(back->fin.exit_code, 3);
  EXPECT_EQ(back->fin.reason, "exit code 3");
  EXPECT_EQ(back->fin.output_digest, end.fin.output_digest);
  EXPECT_EQ(back->output_record, end.output_record);
  EXPECT_TRUE(back->leaving);
  end.leaving = false;
  EXPECT_FALSE(DecodeEnd(EncodeEnd(end))->leaving);
}

TEST(HandoffTest, ARunOrderRoundTripsWithTheJobsDefinition) {
  RunOrder order;
  order.run_id = 7;
  order.scheduled_for_us = -3;
  order.lock_file = "/var/lib/chronograph/locks/run7-abc.lock";
  order.spec.name = "backup";
  order.spec.argv = {"/usr/bin/rsync", "-a", "a b"};
  order.spec.env = {{"K", "v"}};
  order.spec.timeout_ms = 5000;
  auto back = DecodeRun(EncodeRun(order));
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(back->run_id, 7u);
  EXPECT_EQ(back->scheduled_for_us, -3);
  EXPECT_EQ(back->lock_file, order.lock_file);
  EXPECT_EQ(back->spec.name, "backup");
  EXPECT_EQ(back->spec.argv, order.spec.argv);
  EXPECT_EQ(back->spec.env, order.spec.env);
  EXPECT_EQ(back->spec.timeout_ms, 5000);
  std::string bytes = EncodeRun(order);
  EXPECT_TRUE(DecodeRun(bytes.substr(0, bytes.size() - 1)).status().IsCorruption());
  EXPECT_TRUE(DecodeRun(bytes + "x").status().IsCorruption());
}

class RecordableTest : public ::testing::Test {
 protected:
  void Push(EventPayload p) {
    Event e;
    e.seq = state_.last_seq + 1;
    e.type = PayloadType(p);
    e.time_us = 1000 * static_cast<int64_t>(e.seq);
    e.payload = std::move(p);
    ASSERT_TRUE(Apply(&state_, e).ok());
  }
  uint64_t StartRun(int64_t slot_us) {
    Push(RunScheduled{"a", slot_us, Trigger::kSchedule, 0, 0});
    uint64_t id = state_.last_seq;
    Push(RunStarted{id, "a", slot_us, slot_us, 42, "h", "/l"});
    return id;
  }
  void SetUp() override {
    JobSpec s;
    s.name = "a";
    s.argv = {"/bin/true"};
    s.schedule = "* * * * *";
    Push(JobDefined{s});
  }
  State state_;
};

TEST_F(RecordableTest, RunningOrAbandonedOnceYesFinishedOrUnknownNo) {
  const uint64_t running = StartRun(60'000'000);
  EXPECT_TRUE(EndIsRecordable(state_, running));
  RunFinished fin;
  fin.run_id = running;
  fin.job = "a";
  Push(fin);
  EXPECT_FALSE(EndIsRecordable(state_, running));  // recorded already
  const uint64_t abandoned = StartRun(120'000'000);
  Push(RunAbandoned{abandoned, "a", "lock file stale", 0});
  EXPECT_TRUE(EndIsRecordable(state_, abandoned));  // recorded as late
  fin.run_id = abandoned;
  Push(fin);
  EXPECT_FALSE(EndIsRecordable(state_, abandoned));
  EXPECT_FALSE(EndIsRecordable(state_, state_.last_seq + 5));  // never a run
  Push(RunScheduled{"a", 180'000'000, Trigger::kSchedule, 0, 0});
  EXPECT_FALSE(EndIsRecordable(state_, state_.last_seq));  // claimed, not started
}

TEST_F(RecordableTest, ABoundedStateRecordsEndsOfRunsItMayHaveForgotten) {
  state_.finished_runs_per_job = 0;  // the service's
  const uint64_t first = StartRun(60'000'000);
  Push(RunAbandoned{first, "a", "lock file stale", 0});
  ASSERT_EQ(state_.FindRun(first), nullptr);
  EXPECT_TRUE(EndIsRecordable(state_, first));
}

}  // namespace
}  // namespace cg::handoff
