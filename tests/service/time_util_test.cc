#include "service/time_util.h"

#include <gtest/gtest.h>

namespace cg {
namespace {

constexpr int64_t kT = 1795774524000000;  // 2026-11-27T10:15:24Z

TEST(TimeUtilTest, FormatsRfc3339WithMicroseconds) {
  EXPECT_EQ(FormatRfc3339(kT), "2026-11-27T10:15:24.000000Z");
  EXPECT_EQ(FormatRfc3339(kT + 123456), "2026-11-27T10:15:24.123456Z");
  EXPECT_EQ(FormatHuman(kT + 123456), "2026-11-27 10:15:24.123Z");
}

TEST(TimeUtilTest, ParsesTheAcceptedForms) {
  EXPECT_EQ(*ParseTime("2026-11-27T10:15:24Z", 0), kT);
  EXPECT_EQ(*ParseTime("2026-11-27t10:15:24.5z", 0), kT + 500000);
  EXPECT_EQ(*ParseTime("2026-11-27T11:15:24+01:00", 0), kT);
  EXPECT_EQ(*ParseTime("2026-11-27T05:15:24-0500", 0), kT);
  EXPECT_EQ(*ParseTime("2026-11-27 10:15:24", 0), kT);
  EXPECT_EQ(*ParseTime("2026-11-27 10:15", 0), kT - 24 * kMicrosPerSecond);
  EXPECT_EQ(*ParseTime("2026-11-27", 0), kT - (10 * 3600 + 15 * 60 + 24) * kMicrosPerSecond);
  EXPECT_EQ(*ParseTime("now", kT), kT);
  EXPECT_EQ(*ParseTime("-2h", kT), kT - 2 * 3600 * kMicrosPerSecond);
  EXPECT_EQ(*ParseTime("+30m", kT), kT + 30 * 60 * kMicrosPerSecond);
  EXPECT_EQ(*ParseTime("1969-12-31T23:59:59Z", 0), -kMicrosPerSecond);
}

TEST(TimeUtilTest, RejectsMalformedTimesNamingThem) {
  for (const char* bad : {"", "yesterday", "2026-13-01", "2026-02-30", "2026-11-27T25:00",
                          "2026-11-27T10:15:24Zjunk", "2026-11-27T10", "-2x", "2026-11-27T10:15:24.Z"}) {
    auto r = ParseTime(bad, kT);
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_TRUE(r.status().IsInvalidArgument());
    EXPECT_NE(r.status().message().find("'" + std::string(bad) + "'"), std::string::npos)
        << r.status().message();
  }
}

// Times RFC 3339 cannot write, and relative times that overflowed int64 (fuzz/time_fuzz.cc
// found "-151151w"; "+9223372036854s" was signed overflow).
TEST(TimeUtilTest, RejectsTimesOutsideYears0To9999) {
  for (const char* bad : {"-151151w", "+9223372036854s", "-9223372036854s",
                          "9999-12-31T23:59:60Z", "0000-01-01T00:00:00+01:00"}) {
    auto r = ParseTime(bad, kT);
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_TRUE(r.status().IsInvalidArgument());
    EXPECT_NE(r.status().message().find("out of range"), std::string::npos) << r.status().message();
  }
  EXPECT_EQ(FormatRfc3339(*ParseTime("9999-12-31T23:59:59.999999Z", kT)),
            "9999-12-31T23:59:59.999999Z");
  EXPECT_EQ(FormatRfc3339(*ParseTime("0000-01-01T00:00:00Z", kT)), "0000-01-01T00:00:00.000000Z");
  EXPECT_TRUE(ParseTime("-1000w", kT).ok());
}

TEST(TimeUtilTest, ParsesDurations) {
  EXPECT_EQ(*ParseDurationMillis("90"), 90000);
  EXPECT_EQ(*ParseDurationMillis("90s"), 90000);
  EXPECT_EQ(*ParseDurationMillis("500ms"), 500);
  EXPECT_EQ(*ParseDurationMillis("5m"), 300000);
  EXPECT_EQ(*ParseDurationMillis("1h30m"), 5400000);
  EXPECT_EQ(*ParseDurationMillis("2d"), 172800000);
  EXPECT_EQ(*ParseDurationMillis("1w2d"), 777600000);
  EXPECT_EQ(*ParseDurationMillis("0"), 0);
  EXPECT_EQ(FormatDurationMillis(5400000), "1h30m");
  EXPECT_EQ(FormatDurationMillis(250), "250ms");
  EXPECT_EQ(FormatDurationMillis(0), "0s");
}

TEST(TimeUtilTest, RejectsBadDurations) {
  for (const char* bad : {"", "-5s", "5x", "m", "1m1h", "5s5s", "1.5h", "99999999999999999999",
                          "9999999999999999d", "5 s"}) {
    auto r = ParseDurationMillis(bad);
    EXPECT_FALSE(r.ok()) << bad;
  }
}

}  // namespace
}  // namespace cg
