// The service's cache of parsed schedules: right for every job, bounded in size. And
// reading a job's spec back from the log for a state that does not keep specs.
#include "service/dispatch.h"

#include <gtest/gtest.h>

#include "service/state_codec.h"
#include "tests/util/subprocess.h"

namespace cg {
namespace {

JobState Job(const std::string& schedule) {
  JobState j;
  j.schedule = schedule;
  j.time_zone = "UTC";
  return j;
}

constexpr int64_t kT0 = 1795774500LL * 1000000;  // 2026-11-27T10:15:00Z

TEST(ScheduleCacheTest, StaysWithinItsBoundAndAnswersForEveryJob) {
  ScheduleCache cache(2);
  const std::string names[] = {"a", "b", "c"};
  std::vector<JobState> jobs = {Job("0 * * * *"), Job("30 * * * *"), Job("45 * * * *")};
  const int64_t expected[] = {kT0 + 45 * 60 * 1000000LL, kT0 + 15 * 60 * 1000000LL,
                              kT0 + 30 * 60 * 1000000LL};
  for (int round = 0; round < 3; ++round) {
    for (size_t i = 0; i < jobs.size(); ++i) {
      const sched::Schedule* s = cache.Get(names[i], jobs[i]);
      ASSERT_NE(s, nullptr);
      auto fire = s->NextAfter(kT0);
      ASSERT_TRUE(fire.has_value());
      EXPECT_EQ(fire->at_us, expected[i]) << names[i];
      EXPECT_LE(cache.size(), 2u);
    }
  }
}

TEST(ScheduleCacheTest, AChangedScheduleIsParsedAgain) {
  ScheduleCache cache;
  JobState j = Job("0 * * * *");
  EXPECT_EQ(cache.Get("a", j)->NextAfter(kT0)->at_us, kT0 + 45 * 60 * 1000000LL);
  j.schedule = "20 * * * *";
  EXPECT_EQ(cache.Get("a", j)->NextAfter(kT0)->at_us, kT0 + 5 * 60 * 1000000LL);
  j.schedule = "61 * * * *";
  EXPECT_EQ(cache.Get("a", j), nullptr);
}

TEST(ReadJobSpecTest, ReadsTheDefinitionInForceFromTheLog) {
  cg::testing::TempDir tmp;
  auto log = store::EventLog::Open(tmp.path(), store::Options{});
  ASSERT_TRUE(log.ok()) << log.status().ToString();
  State writer;  // keeps specs, as chronotool does
  JobSpec spec;
  spec.name = "a";
  spec.argv = {"/bin/echo", "one"};
  spec.schedule = "0 * * * *";
  spec.env = {{"K", "v"}};
  ASSERT_TRUE((*log)->Append(&writer, JobDefined{spec}).ok());
  ASSERT_TRUE((*log)->Append(&writer, JobDefined{[] {
    JobSpec b;
    b.name = "b";
    b.argv = {"/bin/true"};
    b.schedule = "0 * * * *";
    return b;
  }()}).ok());
  spec.argv = {"/bin/echo", "two"};
  ASSERT_TRUE((*log)->Append(&writer, JobChanged{spec, {"command"}}).ok());
  ASSERT_TRUE((*log)->Append(&writer, JobDisabled{"a"}).ok());

  State slim;
  slim.keep_specs = false;
  ASSERT_TRUE((*log)->CatchUp(&slim).ok());
  const JobState* a = slim.FindJob("a");
  ASSERT_EQ(a->full_spec, nullptr);
  auto read = ReadJobSpec(log->get(), "a", *a);
  ASSERT_TRUE(read.ok()) << read.status().ToString();
  JobSpec expected = spec;
  expected.enabled = false;
  EXPECT_EQ(*read, expected);
  // With specs kept, the same answer without reading the log.
  auto kept = ReadJobSpec(log->get(), "a", *writer.FindJob("a"));
  ASSERT_TRUE(kept.ok());
  EXPECT_EQ(*kept, expected);
  // An event that is not this job's definition is corruption, named.
  JobState wrong = *a;
  wrong.spec_seq = 2;  // b's
  auto bad = ReadJobSpec(log->get(), "a", wrong);
  EXPECT_TRUE(bad.status().IsCorruption());
  EXPECT_NE(bad.status().message().find("event 2"), std::string::npos) << bad.status().ToString();
}

TEST(LoadStateSnapshotTest, GivesTheFoldAtTheSnapshotOrNothing) {
  cg::testing::TempDir tmp;
  auto log = store::EventLog::Open(tmp.path(), store::Options{});
  ASSERT_TRUE(log.ok()) << log.status().ToString();
  auto none = LoadStateSnapshot(log->get());
  ASSERT_TRUE(none.ok()) << none.status().ToString();
  EXPECT_FALSE(none->has_value());

  State writer;
  JobSpec spec;
  spec.name = "a";
  spec.argv = {"/bin/true"};
  spec.schedule = "0 * * * *";
  ASSERT_TRUE((*log)->Append(&writer, JobDefined{spec}).ok());
  State slim;  // as the service folds
  slim.finished_runs_per_job = 0;
  slim.keep_specs = false;
  ASSERT_TRUE((*log)->CatchUp(&slim).ok());
  ASSERT_TRUE((*log)->WriteSnapshot(1, EncodeStateSnapshot(slim)).ok());
  spec.argv = {"/bin/false"};
  ASSERT_TRUE((*log)->Append(&writer, JobChanged{spec, {"command"}}).ok());

  auto loaded = LoadStateSnapshot(log->get());
  ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();
  ASSERT_TRUE(loaded->has_value());
  State state = std::move(**loaded);
  EXPECT_EQ(state.last_seq, 1u);
  EXPECT_FALSE(state.keep_specs);
  // Folding on from it reaches what a full fold reaches.
  ASSERT_TRUE((*log)->CatchUp(&state).ok());
  EXPECT_EQ(state.last_seq, 2u);
  auto read = ReadJobSpec(log->get(), "a", *state.FindJob("a"));
  ASSERT_TRUE(read.ok()) << read.status().ToString();
  EXPECT_EQ(read->argv, std::vector<std::string>{"/bin/false"});
}

}  // namespace
}  // namespace cg
