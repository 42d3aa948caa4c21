// The service's cache of parsed schedules: right for every job, bounded in size.
#include "service/dispatch.h"

#include <gtest/gtest.h>

namespace cg {
namespace {

JobState Job(const std::string& name, const std::string& schedule) {
  JobState j;
  j.spec.name = name;
  j.spec.argv = {"/bin/true"};
  j.spec.schedule = schedule;
  j.spec.time_zone = "UTC";
  return j;
}

constexpr int64_t kT0 = 1795774500LL * 1000000;  // 2026-11-27T10:15:00Z

TEST(ScheduleCacheTest, StaysWithinItsBoundAndAnswersForEveryJob) {
  ScheduleCache cache(2);
  std::vector<JobState> jobs = {Job("a", "0 * * * *"), Job("b", "30 * * * *"),
                                Job("c", "45 * * * *")};
  const int64_t expected[] = {kT0 + 45 * 60 * 1000000LL, kT0 + 15 * 60 * 1000000LL,
                              kT0 + 30 * 60 * 1000000LL};
  for (int round = 0; round < 3; ++round) {
    for (size_t i = 0; i < jobs.size(); ++i) {
      const sched::Schedule* s = cache.Get(jobs[i]);
      ASSERT_NE(s, nullptr);
      auto fire = s->NextAfter(kT0);
      ASSERT_TRUE(fire.has_value());
      EXPECT_EQ(fire->at_us, expected[i]) << jobs[i].spec.name;
      EXPECT_LE(cache.size(), 2u);
    }
  }
}

TEST(ScheduleCacheTest, AChangedScheduleIsParsedAgain) {
  ScheduleCache cache;
  JobState j = Job("a", "0 * * * *");
  EXPECT_EQ(cache.Get(j)->NextAfter(kT0)->at_us, kT0 + 45 * 60 * 1000000LL);
  j.spec.schedule = "20 * * * *";
  EXPECT_EQ(cache.Get(j)->NextAfter(kT0)->at_us, kT0 + 5 * 60 * 1000000LL);
  j.spec.schedule = "61 * * * *";
  EXPECT_EQ(cache.Get(j), nullptr);
}

}  // namespace
}  // namespace cg
