// Tests for service/schedule.{h,cc}, cron_expr and rrule: parsing and its errors, cron
// and RRULE semantics, the RFC 5545 section 3.8.5.3 examples, and the DST rules in
// Europe/Berlin and America/New_York with instants derived by hand.
//
// 2026 transitions used below:
//   Europe/Berlin     2026-03-29 01:00Z (02:00 CET -> 03:00 CEST)
//                     2026-10-25 01:00Z (03:00 CEST -> 02:00 CET)
//   America/New_York  2026-03-08 07:00Z (02:00 EST -> 03:00 EDT)
//                     2026-11-01 06:00Z (02:00 EDT -> 01:00 EST)
#include "service/schedule.h"

#include <date/date.h>
#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <initializer_list>
#include <string>
#include <vector>

#include "service/time_util.h"

namespace cg::sched {
namespace {

int64_t T(const std::string& text) {
  Result<int64_t> t = ParseTime(text, 0);
  EXPECT_TRUE(t.ok()) << text;
  return t.ok() ? *t : 0;
}

bool HasPrefix(const std::string& text, const std::string& prefix) {
  return text.compare(0, prefix.size(), prefix) == 0;
}

std::string Utc(int64_t us) {
  return date::format("%FT%TZ", date::sys_seconds{std::chrono::seconds{us / 1000000}});
}

std::string Local(int64_t us) {
  return date::format("%Y%m%dT%H%M%S", date::sys_seconds{std::chrono::seconds{us / 1000000}});
}

std::unique_ptr<Schedule> MustParse(const std::string& spec, const std::string& tz,
                                    int64_t anchor_us = 0) {
  auto s = ParseSchedule(spec, tz, anchor_us);
  EXPECT_TRUE(s.ok()) << spec << ": " << s.status().ToString();
  if (!s.ok()) return nullptr;
  return std::move(s).value();
}

std::string ParseError(const std::string& spec, const std::string& tz = "UTC") {
  auto s = ParseSchedule(spec, tz, T("2026-01-01T00:00:00Z"));
  if (s.ok()) return "OK";
  EXPECT_TRUE(s.status().IsInvalidArgument()) << s.status().ToString();
  return s.status().message();
}

// The first `n` fires strictly after `after`, as "UTC" or "UTC adjust" strings.
std::vector<std::string> Fires(const std::string& spec, const std::string& tz,
                               const std::string& after, int n, bool with_adjust = false,
                               const std::string& anchor = "") {
  std::vector<std::string> out;
  auto s = MustParse(spec, tz, T(anchor.empty() ? after : anchor));
  if (!s) return out;
  int64_t t = T(after);
  for (int i = 0; i < n; ++i) {
    auto f = s->NextAfter(t);
    if (!f) break;
    std::string text = Utc(f->at_us);
    if (with_adjust) text += std::string(" ") + FireAdjustName(f->adjust);
    out.push_back(text);
    t = f->at_us;
  }
  return out;
}

using Strings = std::vector<std::string>;

// --- parsing and errors ---------------------------------------------------------------

TEST(ScheduleParseTest, CronErrorsNameTheField) {
  EXPECT_EQ(ParseError("61 * * * *"), "cron field 'minute': value 61 out of range 0-59");
  EXPECT_EQ(ParseError("0 24 * * *"), "cron field 'hour': value 24 out of range 0-23");
  EXPECT_EQ(ParseError("0 0 0 * *"), "cron field 'day-of-month': value 0 out of range 1-31");
  EXPECT_EQ(ParseError("0 0 * 13 *"), "cron field 'month': value 13 out of range 1-12");
  EXPECT_EQ(ParseError("0 0 * * 8"), "cron field 'day-of-week': value 8 out of range 0-7");
  EXPECT_EQ(ParseError("60 0 0 * * *"), "cron field 'second': value 60 out of range 0-59");
  EXPECT_EQ(ParseError("0 0 * FOO *"), "cron field 'month': unknown name 'FOO'");
  EXPECT_EQ(ParseError("0 0 * * FUN"), "cron field 'day-of-week': unknown name 'FUN'");
  EXPECT_EQ(ParseError("x * * * *"), "cron field 'minute': 'x' is not a number");
  EXPECT_EQ(ParseError("*/0 * * * *"), "cron field 'minute': step 0 in '*/0'");
  EXPECT_EQ(ParseError("*/x * * * *"), "cron field 'minute': step 'x' is not a number");
  EXPECT_EQ(ParseError("0 5-2 * * *"), "cron field 'hour': range '5-2' is reversed");
  EXPECT_EQ(ParseError("1,,2 * * * *"), "cron field 'minute': empty list item in '1,,2'");
  EXPECT_EQ(ParseError("-1 * * * *"), "cron field 'minute': missing value");
  EXPECT_EQ(ParseError("1/2/3 * * * *"), "cron field 'minute': more than one '/' in '1/2/3'");
  EXPECT_EQ(ParseError("* * * *"),
            "cron: expected 5 fields (or 6 with seconds first), got 4 in '* * * *'");
  EXPECT_PRED2(HasPrefix, ParseError("* * * * * * *"), "cron: expected 5 fields (or 6 with secon");
  EXPECT_EQ(ParseError("@reboot"), "cron: @reboot is not supported (no boot event here)");
  EXPECT_PRED2(HasPrefix, ParseError("@fortnightly"), "cron: unknown macro '@fortnightly' ");
}

TEST(ScheduleParseTest, EmptyAndNeverFiring) {
  EXPECT_EQ(ParseError(""), "empty schedule");
  EXPECT_EQ(ParseError("   \t "), "empty schedule");
  EXPECT_EQ(ParseError("0 0 30 2 *"), "schedule never fires");
  EXPECT_EQ(ParseError("0 0 31 4,6,9,11 *"), "schedule never fires");
  EXPECT_EQ(ParseError("FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=30"), "schedule never fires");
  EXPECT_EQ(ParseError("FREQ=MONTHLY;BYMONTHDAY=31;BYMONTH=4,6"), "schedule never fires");
  EXPECT_EQ(ParseError("FREQ=SECONDLY;BYSECOND=60"), "schedule never fires");
  // An even grid of minutes never meets minute 1.
  EXPECT_EQ(ParseError("DTSTART:20260101T000000\nFREQ=MINUTELY;INTERVAL=2;BYMINUTE=1"),
            "schedule never fires");
  // One instance per hour; there is no third.
  EXPECT_EQ(ParseError("FREQ=HOURLY;BYMINUTE=0;BYSETPOS=3"), "schedule never fires");
  // Rare but real: the 29th of February falls on a Monday in 2044.
  EXPECT_EQ(ParseError("0 0 29 2 *"), "OK");
  EXPECT_EQ(ParseError("FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=29;BYDAY=MO"), "OK");
}

TEST(ScheduleParseTest, RRuleErrorsNameThePart) {
  EXPECT_EQ(ParseError("FREQQ=DAILY"), "RRULE: unknown part 'FREQQ'");
  EXPECT_PRED2(HasPrefix, ParseError("FREQ=DAILY;BYDAY=XX"), "RRULE: BYDAY value 'XX' (ex");
  EXPECT_PRED2(HasPrefix, ParseError("FREQ=MONTHLY;BYDAY=0MO"), "RRULE: BYDAY value '0MO'");
  EXPECT_PRED2(HasPrefix, ParseError("FREQ=YEARLY;BYDAY=54MO"), "RRULE: BYDAY value '54MO'");
  EXPECT_EQ(ParseError("INTERVAL=2"), "RRULE: FREQ is required");
  EXPECT_EQ(ParseError("RRULE:"), "RRULE: FREQ is required");
  EXPECT_PRED2(HasPrefix, ParseError("FREQ=FORTNIGHTLY"), "RRULE: FREQ value 'FORTNIGHTLY' (ex");
  EXPECT_EQ(ParseError("FREQ=DAILY;COUNT=3;UNTIL=20270101T000000Z"),
            "RRULE: COUNT and UNTIL must not both be given");
  EXPECT_EQ(ParseError("FREQ=DAILY;FREQ=WEEKLY"), "RRULE: part 'FREQ' given twice");
  EXPECT_EQ(ParseError("FREQ=DAILY;INTERVAL=0"),
            "RRULE: INTERVAL value '0' (expected 1..2147483647)");
  EXPECT_EQ(ParseError("FREQ=DAILY;COUNT=2000000"),
            "RRULE: COUNT value '2000000' (expected 1..1000000)");
  EXPECT_EQ(ParseError("FREQ=DAILY;BYHOUR=24"), "RRULE: BYHOUR value '24' out of range 0..23");
  EXPECT_EQ(ParseError("FREQ=MONTHLY;BYMONTHDAY=0"),
            "RRULE: BYMONTHDAY value '0' out of range 1..31 or -31..-1");
  EXPECT_EQ(ParseError("FREQ=MONTHLY;BYMONTHDAY=-32"),
            "RRULE: BYMONTHDAY value '-32' out of range 1..31 or -31..-1");
  EXPECT_EQ(ParseError("FREQ=DAILY;BYMINUTE=a"),
            "RRULE: BYMINUTE value 'a' is not a number (expected 0..59)");
  EXPECT_EQ(ParseError("FREQ=DAILY;BYMONTH="), "RRULE: empty value for 'BYMONTH'");
  EXPECT_EQ(ParseError("FREQ=DAILY;;BYHOUR=1"), "RRULE: empty part in 'FREQ=DAILY;;BYHOUR=1'");
  EXPECT_EQ(ParseError("FREQ=DAILY;BYHOUR"), "RRULE: part 'BYHOUR' is not NAME=VALUE");
  EXPECT_EQ(ParseError("FREQ=DAILY;WKST=XX"), "RRULE: WKST value 'XX' (expected MO..SU)");
  EXPECT_PRED2(HasPrefix, ParseError("FREQ=DAILY;UNTIL=2026"), "RRULE: UNTIL value '2026' (");
  EXPECT_EQ(ParseError("FREQ=MONTHLY;BYWEEKNO=1"),
            "RRULE: BYWEEKNO is only allowed with FREQ=YEARLY");
  EXPECT_EQ(ParseError("FREQ=DAILY;BYYEARDAY=1"),
            "RRULE: BYYEARDAY is not allowed with FREQ=DAILY, WEEKLY or MONTHLY");
  EXPECT_EQ(ParseError("FREQ=WEEKLY;BYMONTHDAY=1"),
            "RRULE: BYMONTHDAY is not allowed with FREQ=WEEKLY");
  EXPECT_EQ(ParseError("FREQ=WEEKLY;BYDAY=2TU"),
            "RRULE: BYDAY ordinal '2TU' needs FREQ=MONTHLY or YEARLY");
  EXPECT_EQ(ParseError("FREQ=YEARLY;BYWEEKNO=1;BYDAY=1MO"),
            "RRULE: BYDAY ordinal '1MO' must not be combined with BYWEEKNO");
  EXPECT_EQ(ParseError("FREQ=MONTHLY;BYSETPOS=1"), "RRULE: BYSETPOS needs another BYxxx part");
  EXPECT_PRED2(HasPrefix, ParseError("DTSTART:2026\nFREQ=DAILY"), "RRULE: DTSTART value '2026' (");
  EXPECT_EQ(ParseError("DTSTART:20260101T000000\nDTSTART:20260101T000000\nFREQ=DAILY"),
            "RRULE: DTSTART given twice");
  EXPECT_EQ(ParseError("DTSTART;TZID=Europe/Paris:20260101T090000\nFREQ=DAILY", "Europe/Berlin"),
            "RRULE: DTSTART TZID 'Europe/Paris' differs from the job's time zone 'Europe/Berlin'");
  EXPECT_EQ(ParseError("FREQ=DAILY\nFREQ=WEEKLY"), "RRULE: more than one rule line");
  EXPECT_PRED2(HasPrefix, ParseError("RRULE:FREQ=DAILY\nEXDATE:20260101T000000"),
               "RRULE: unsupported line 'EXDATE:20260101T000");
  EXPECT_EQ(ParseError("DTSTART:20260101T000000"), "RRULE: no rule line (expected FREQ=...)");
}

TEST(ScheduleParseTest, SeedFormErrors) {
  EXPECT_EQ(ParseError("HOURLY interval"), "schedule params: 'interval' is not key:value");
  EXPECT_EQ(ParseError("HOURLY byeaster:0"), "schedule params: unknown parameter 'byeaster'");
  EXPECT_PRED2(HasPrefix, ParseError("WEEKLY byweekday:XX"), "RRULE: BYDAY value 'XX' (ex");
}

TEST(ScheduleParseTest, TimeZones) {
  EXPECT_TRUE(ValidateTimeZone("Europe/Berlin").ok());
  EXPECT_TRUE(ValidateTimeZone("UTC").ok());
  EXPECT_TRUE(ValidateTimeZone("").ok());
  Status st = ValidateTimeZone("Mars/Base");
  EXPECT_TRUE(st.IsInvalidArgument());
  EXPECT_EQ(st.message(), "unknown time zone 'Mars/Base'");
  EXPECT_EQ(ParseError("* * * * *", "Mars/Base"), "unknown time zone 'Mars/Base'");
  EXPECT_EQ(ParseError("* * * * *", "../../etc/passwd"), "unknown time zone '../../etc/passwd'");
  auto s = MustParse("* * * * *", "");
  ASSERT_TRUE(s);
  EXPECT_EQ(s->time_zone(), "UTC");
  EXPECT_EQ(MustParse("* * * * *", "America/New_York")->time_zone(), "America/New_York");
}

TEST(ScheduleParseTest, FireAdjustNames) {
  EXPECT_STREQ(FireAdjustName(FireAdjust::kNone), "none");
  EXPECT_STREQ(FireAdjustName(FireAdjust::kGapShifted), "gap_shifted");
  EXPECT_STREQ(FireAdjustName(FireAdjust::kRepeatedFirstOnly), "repeated_first_only");
}

// --- cron semantics -------------------------------------------------------------------

TEST(CronTest, FiveAndSixFields) {
  EXPECT_EQ(Fires("*/15 * * * *", "UTC", "2026-01-01T00:07:00Z", 3),
            (Strings{"2026-01-01T00:15:00Z", "2026-01-01T00:30:00Z", "2026-01-01T00:45:00Z"}));
  EXPECT_EQ(Fires("*/20 * * * * *", "UTC", "2026-01-01T00:00:50Z", 3),
            (Strings{"2026-01-01T00:01:00Z", "2026-01-01T00:01:20Z", "2026-01-01T00:01:40Z"}));
  EXPECT_EQ(Fires("30 15 10 * * *", "UTC", "2026-01-01T12:00:00Z", 2),
            (Strings{"2026-01-02T10:15:30Z", "2026-01-03T10:15:30Z"}));
}

TEST(CronTest, RangesListsAndSteps) {
  EXPECT_EQ(Fires("1-10/3 0 * * *", "UTC", "2026-01-01T00:00:00Z", 5),
            (Strings{"2026-01-01T00:01:00Z", "2026-01-01T00:04:00Z", "2026-01-01T00:07:00Z",
                     "2026-01-01T00:10:00Z", "2026-01-02T00:01:00Z"}));
  // "5/15": from 5 to the end of the field, every 15.
  EXPECT_EQ(Fires("5/15 1 * * *", "UTC", "2026-01-01T00:00:00Z", 5),
            (Strings{"2026-01-01T01:05:00Z", "2026-01-01T01:20:00Z", "2026-01-01T01:35:00Z",
                     "2026-01-01T01:50:00Z", "2026-01-02T01:05:00Z"}));
  EXPECT_EQ(Fires("0 8,12-13 * * *", "UTC", "2026-01-01T09:00:00Z", 3),
            (Strings{"2026-01-01T12:00:00Z", "2026-01-01T13:00:00Z", "2026-01-02T08:00:00Z"}));
}

TEST(CronTest, NamesAnyCaseAndSundayAsSeven) {
  // 2026-01-01 is a Thursday.
  EXPECT_EQ(Fires("0 9 * jan,Jul MON-fri", "UTC", "2026-01-01T10:00:00Z", 2),
            (Strings{"2026-01-02T09:00:00Z", "2026-01-05T09:00:00Z"}));
  EXPECT_EQ(Fires("0 0 * * 7", "UTC", "2026-01-01T00:00:00Z", 1),
            Fires("0 0 * * 0", "UTC", "2026-01-01T00:00:00Z", 1));
  EXPECT_EQ(Fires("0 0 * * 7", "UTC", "2026-01-01T00:00:00Z", 1),
            (Strings{"2026-01-04T00:00:00Z"}));
  // MON-SUN is every day; SAT-SUN is Saturday and Sunday; 5-7 is FRI-SUN.
  EXPECT_EQ(Fires("0 0 * * MON-SUN", "UTC", "2026-01-01T00:00:00Z", 2),
            (Strings{"2026-01-02T00:00:00Z", "2026-01-03T00:00:00Z"}));
  EXPECT_EQ(Fires("0 0 * * sat-sun", "UTC", "2026-01-01T00:00:00Z", 3),
            (Strings{"2026-01-03T00:00:00Z", "2026-01-04T00:00:00Z", "2026-01-10T00:00:00Z"}));
  EXPECT_EQ(Fires("0 0 * * 5-7", "UTC", "2026-01-01T00:00:00Z", 4),
            (Strings{"2026-01-02T00:00:00Z", "2026-01-03T00:00:00Z", "2026-01-04T00:00:00Z",
                     "2026-01-09T00:00:00Z"}));
}

TEST(CronTest, Macros) {
  const std::string from = "2026-05-15T12:34:00Z";
  EXPECT_EQ(Fires("@yearly", "UTC", from, 1), (Strings{"2027-01-01T00:00:00Z"}));
  EXPECT_EQ(Fires("@annually", "UTC", from, 1), (Strings{"2027-01-01T00:00:00Z"}));
  EXPECT_EQ(Fires("@monthly", "UTC", from, 1), (Strings{"2026-06-01T00:00:00Z"}));
  EXPECT_EQ(Fires("@weekly", "UTC", from, 1), (Strings{"2026-05-17T00:00:00Z"}));  // Sunday
  EXPECT_EQ(Fires("@daily", "UTC", from, 1), (Strings{"2026-05-16T00:00:00Z"}));
  EXPECT_EQ(Fires("@MIDNIGHT", "UTC", from, 1), (Strings{"2026-05-16T00:00:00Z"}));
  EXPECT_EQ(Fires("@hourly", "UTC", from, 1), (Strings{"2026-05-15T13:00:00Z"}));
}

TEST(CronTest, VixieDayOfMonthOrDayOfWeek) {
  // Both restricted: the 13th or any Friday. 2026-02: Fri 6, Fri 13, Fri 20.
  EXPECT_EQ(Fires("0 0 13 * 5", "UTC", "2026-02-01T00:00:00Z", 4),
            (Strings{"2026-02-06T00:00:00Z", "2026-02-13T00:00:00Z", "2026-02-20T00:00:00Z",
                     "2026-02-27T00:00:00Z"}));
  EXPECT_EQ(Fires("0 0 10 * 5", "UTC", "2026-02-01T00:00:00Z", 3),
            (Strings{"2026-02-06T00:00:00Z", "2026-02-10T00:00:00Z", "2026-02-13T00:00:00Z"}));
  // A field starting with '*' counts as unrestricted: then both must match
  // (odd days that are Mondays; the Mondays of 2026-02 are 2, 9, 16, 23).
  EXPECT_EQ(Fires("0 0 */2 * 1", "UTC", "2026-02-01T00:00:00Z", 3),
            (Strings{"2026-02-09T00:00:00Z", "2026-02-23T00:00:00Z", "2026-03-09T00:00:00Z"}));
  EXPECT_EQ(Fires("0 0 13 * *", "UTC", "2026-02-01T00:00:00Z", 1),
            (Strings{"2026-02-13T00:00:00Z"}));
  EXPECT_EQ(Fires("0 0 * * 5", "UTC", "2026-02-01T00:00:00Z", 1),
            (Strings{"2026-02-06T00:00:00Z"}));
  // Restricted weekday with Feb 30 (never) still fires on Fridays of February.
  EXPECT_EQ(Fires("0 0 30 2 5", "UTC", "2026-01-01T00:00:00Z", 1),
            (Strings{"2026-02-06T00:00:00Z"}));
}

TEST(CronTest, MonthEndsAndLeapDays) {
  EXPECT_EQ(Fires("0 0 31 * *", "UTC", "2026-01-31T00:00:00Z", 3),
            (Strings{"2026-03-31T00:00:00Z", "2026-05-31T00:00:00Z", "2026-07-31T00:00:00Z"}));
  EXPECT_EQ(Fires("0 0 29 2 *", "UTC", "2026-01-01T00:00:00Z", 3),
            (Strings{"2028-02-29T00:00:00Z", "2032-02-29T00:00:00Z", "2036-02-29T00:00:00Z"}));
  EXPECT_EQ(Fires("0 0 29 2 *", "UTC", "2096-03-01T00:00:00Z", 1),
            (Strings{"2104-02-29T00:00:00Z"}));
}

TEST(CronTest, StrictlyAfterWithMicroseconds) {
  auto s = MustParse("* * * * *", "UTC");
  ASSERT_TRUE(s);
  int64_t t = T("2026-01-01T00:01:00Z");
  EXPECT_EQ(Utc(s->NextAfter(t - 1)->at_us), "2026-01-01T00:01:00Z");
  EXPECT_EQ(Utc(s->NextAfter(t)->at_us), "2026-01-01T00:02:00Z");
  EXPECT_EQ(Utc(s->NextAfter(t + 999999)->at_us), "2026-01-01T00:02:00Z");
  EXPECT_EQ(s->NextAfter(t)->at_us % 1000000, 0);
  // Before 1970: floor, not truncation toward zero.
  EXPECT_EQ(Utc(s->NextAfter(T("1969-12-31T23:58:59.5Z"))->at_us), "1969-12-31T23:59:00Z");
}

// --- RRULE semantics -------------------------------------------------------------------

TEST(RRuleTest, SeedFormMeansTheSameRule) {
  const std::string from = "2026-01-05T00:00:00Z";
  EXPECT_EQ(Fires("HOURLY interval:2;byminute:15", "UTC", from, 3),
            (Strings{"2026-01-05T00:15:00Z", "2026-01-05T02:15:00Z", "2026-01-05T04:15:00Z"}));
  EXPECT_EQ(Fires("HOURLY interval:2;byminute:15", "Europe/Berlin", from, 20),
            Fires("FREQ=HOURLY;INTERVAL=2;BYMINUTE=15", "Europe/Berlin", from, 20));
  EXPECT_EQ(Fires("weekly byweekday:MO,FR;byhour:9;byminute:0;bysecond:0", "UTC", from, 4),
            Fires("FREQ=WEEKLY;BYDAY=MO,FR;BYHOUR=9;BYMINUTE=0;BYSECOND=0", "UTC", from, 4));
  EXPECT_EQ(Fires("WEEKLY byweekday:0,4;byhour:9;byminute:0;bysecond:0", "UTC", from, 4),
            (Strings{"2026-01-05T09:00:00Z", "2026-01-09T09:00:00Z", "2026-01-12T09:00:00Z",
                     "2026-01-16T09:00:00Z"}));
  EXPECT_EQ(Fires("DAILY", "UTC", from, 2, false, "2026-01-01T06:30:00Z"),
            (Strings{"2026-01-05T06:30:00Z", "2026-01-06T06:30:00Z"}));
  EXPECT_EQ(Fires("MONTHLY bymonthday:-1; count:2", "UTC", "2026-01-01T00:00:00Z", 5),
            (Strings{"2026-01-31T00:00:00Z", "2026-02-28T00:00:00Z"}));
}

TEST(RRuleTest, PrefixAndDtstartForms) {
  const std::string from = "2026-01-01T00:00:00Z";
  Strings want = {"2026-01-02T09:00:00Z", "2026-01-03T09:00:00Z"};
  EXPECT_EQ(Fires("FREQ=DAILY;DTSTART=20260102T090000", "UTC", from, 2), want);
  EXPECT_EQ(Fires("RRULE:FREQ=DAILY;DTSTART=20260102T090000;", "UTC", from, 2), want);
  EXPECT_EQ(Fires("DTSTART:20260102T090000\nRRULE:FREQ=DAILY", "UTC", from, 2), want);
  EXPECT_EQ(Fires("DTSTART:20260102T090000\r\nFREQ=DAILY", "UTC", from, 2), want);
  EXPECT_EQ(Fires("rrule:freq=daily;dtstart=20260102t090000", "UTC", from, 2), want);
  // DTSTART is local time in the job's zone; with Z it is UTC.
  EXPECT_EQ(
      Fires("DTSTART;TZID=Europe/Berlin:20260102T090000\nFREQ=DAILY", "Europe/Berlin", from, 1),
      (Strings{"2026-01-02T08:00:00Z"}));
  EXPECT_EQ(Fires("DTSTART:20260102T090000Z\nFREQ=DAILY", "Europe/Berlin", from, 1),
            (Strings{"2026-01-02T09:00:00Z"}));
}

TEST(RRuleTest, AnchorIsDtstartTruncatedAndLocal) {
  // Anchor 09:00:00.7Z in Berlin is 10:00:00 CET; daily at 10:00 local, so 08:00Z in summer.
  auto s = MustParse("FREQ=DAILY", "Europe/Berlin", T("2026-03-27T09:00:00.7Z"));
  ASSERT_TRUE(s);
  auto f = s->NextAfter(T("2026-03-27T08:00:00Z"));
  ASSERT_TRUE(f);
  EXPECT_EQ(Utc(f->at_us), "2026-03-27T09:00:00Z");
  EXPECT_EQ(Local(f->local_us), "20260327T100000");
  EXPECT_EQ(Utc(s->NextAfter(f->at_us)->at_us), "2026-03-28T09:00:00Z");
  EXPECT_EQ(Utc(s->NextAfter(T("2026-03-28T09:00:00Z"))->at_us), "2026-03-29T08:00:00Z");
  // Nothing before DTSTART.
  EXPECT_EQ(Utc(s->NextAfter(T("2020-01-01T00:00:00Z"))->at_us), "2026-03-27T09:00:00Z");
}

TEST(RRuleTest, CountAndUntilExhausted) {
  auto s = MustParse("FREQ=DAILY;COUNT=3", "UTC", T("2026-01-01T12:00:00Z"));
  ASSERT_TRUE(s);
  EXPECT_EQ(Utc(s->NextAfter(T("2026-01-02T12:00:00Z"))->at_us), "2026-01-03T12:00:00Z");
  EXPECT_FALSE(s->NextAfter(T("2026-01-03T12:00:00Z")));
  // Already over when parsed: fine, it just never fires again.
  auto old =
      MustParse("DTSTART:20000101T000000\nFREQ=DAILY;COUNT=2", "UTC", T("2026-01-01T00:00:00Z"));
  ASSERT_TRUE(old);
  EXPECT_FALSE(old->NextAfter(T("2026-01-01T00:00:00Z")));
  auto until =
      MustParse("FREQ=HOURLY;UNTIL=20260101T033000Z", "Europe/Berlin", T("2026-01-01T00:00:00Z"));
  ASSERT_TRUE(until);
  EXPECT_EQ(Utc(until->NextAfter(T("2026-01-01T02:30:00Z"))->at_us), "2026-01-01T03:00:00Z");
  EXPECT_FALSE(until->NextAfter(T("2026-01-01T03:00:00Z")));
  // A date-only UNTIL includes that day.
  EXPECT_EQ(Fires("FREQ=DAILY;BYHOUR=23;UNTIL=20260103", "UTC", "2026-01-01T00:00:00Z", 5),
            (Strings{"2026-01-01T23:00:00Z", "2026-01-02T23:00:00Z", "2026-01-03T23:00:00Z"}));
}

TEST(RRuleTest, SubDailyIntervalsStayOnTheGrid) {
  // DTSTART 23:56:07; every 7 minutes across hour and day boundaries.
  EXPECT_EQ(
      Fires("DTSTART:20260101T235607\nFREQ=MINUTELY;INTERVAL=7", "UTC", "2026-01-01T00:00:00Z", 3),
      (Strings{"2026-01-01T23:56:07Z", "2026-01-02T00:03:07Z", "2026-01-02T00:10:07Z"}));
  // Every 5 hours, only at hour 10 (grid 0,5,10,15,20,1,6,11,...: hour 10 every 5 days).
  EXPECT_EQ(Fires("DTSTART:20260101T000000\nFREQ=HOURLY;INTERVAL=5;BYHOUR=10", "UTC",
                  "2026-01-01T00:00:00Z", 2),
            (Strings{"2026-01-01T10:00:00Z", "2026-01-06T10:00:00Z"}));
  EXPECT_EQ(Fires("DTSTART:20260101T000000\nFREQ=SECONDLY;INTERVAL=90;BYMINUTE=3", "UTC",
                  "2026-01-01T00:00:00Z", 2),
            (Strings{"2026-01-01T00:03:00Z", "2026-01-01T01:03:00Z"}));
  // Negative BYMONTHDAY and BYYEARDAY at sub-daily frequencies.
  EXPECT_EQ(Fires("FREQ=HOURLY;INTERVAL=6;BYMONTHDAY=-1", "UTC", "2026-02-01T00:00:00Z", 5, false,
                  "2026-01-01T00:00:00Z"),
            (Strings{"2026-02-28T00:00:00Z", "2026-02-28T06:00:00Z", "2026-02-28T12:00:00Z",
                     "2026-02-28T18:00:00Z", "2026-03-31T00:00:00Z"}));
  EXPECT_EQ(
      Fires("FREQ=MINUTELY;INTERVAL=30;BYYEARDAY=-1;BYHOUR=23", "UTC", "2026-01-01T00:00:00Z", 3),
      (Strings{"2026-12-31T23:00:00Z", "2026-12-31T23:30:00Z", "2027-12-31T23:00:00Z"}));
  EXPECT_EQ(Fires("FREQ=DAILY;BYMONTHDAY=-1;BYHOUR=0;BYMINUTE=0;BYSECOND=0", "UTC",
                  "2026-01-01T00:00:00Z", 2),
            (Strings{"2026-01-31T00:00:00Z", "2026-02-28T00:00:00Z"}));
}

TEST(RRuleTest, BySetPosOverTimesToo) {
  // The last of 09:00/17:00 on the last weekday of the month.
  EXPECT_EQ(Fires("FREQ=MONTHLY;BYDAY=MO,TU,WE,TH,FR;BYHOUR=9,17;BYMINUTE=0;BYSECOND=0;BYSETPOS=-1",
                  "UTC", "2026-01-01T00:00:00Z", 2),
            (Strings{"2026-01-30T17:00:00Z", "2026-02-27T17:00:00Z"}));
  // BYSETPOS at WEEKLY and DAILY.
  EXPECT_EQ(Fires("FREQ=WEEKLY;BYDAY=MO,WE,FR;BYHOUR=8;BYMINUTE=0;BYSECOND=0;BYSETPOS=2", "UTC",
                  "2026-01-01T00:00:00Z", 2),
            (Strings{"2026-01-07T08:00:00Z", "2026-01-14T08:00:00Z"}));
  EXPECT_EQ(Fires("FREQ=DAILY;BYHOUR=6,12,18;BYMINUTE=0;BYSECOND=0;BYSETPOS=1,-1", "UTC",
                  "2026-01-01T00:00:00Z", 3),
            (Strings{"2026-01-01T06:00:00Z", "2026-01-01T18:00:00Z", "2026-01-02T06:00:00Z"}));
}

TEST(RRuleTest, ByDayMixingPlainAndNumberedIsAUnion) {
  // Every Wednesday plus the second Tuesday (dateutil intersects these; RFC says union).
  EXPECT_EQ(Fires("FREQ=MONTHLY;BYDAY=WE,2TU;BYHOUR=0;BYMINUTE=0;BYSECOND=0", "UTC",
                  "2026-01-01T00:00:00Z", 4),
            (Strings{"2026-01-07T00:00:00Z", "2026-01-13T00:00:00Z", "2026-01-14T00:00:00Z",
                     "2026-01-21T00:00:00Z"}));
}

TEST(RRuleTest, WeekNumbersWithWkstAndNegatives) {
  // ISO week 1 of 2026 starts Monday 2025-12-29; week 53 of 2026 is 2026-12-28..2027-01-03.
  EXPECT_EQ(Fires("FREQ=YEARLY;BYWEEKNO=1;BYDAY=MO;BYHOUR=0;BYMINUTE=0;BYSECOND=0", "UTC",
                  "2025-01-01T00:00:00Z", 2),
            (Strings{"2025-12-29T00:00:00Z", "2027-01-04T00:00:00Z"}));
  EXPECT_EQ(Fires("FREQ=YEARLY;BYWEEKNO=-1;BYDAY=SU;BYHOUR=0;BYMINUTE=0;BYSECOND=0", "UTC",
                  "2026-06-01T00:00:00Z", 2),
            (Strings{"2027-01-03T00:00:00Z", "2028-01-02T00:00:00Z"}));
  // With WKST=SU, week 1 of 2026 starts Sunday 2026-01-04 (Jan 1 is a Thursday, and
  // the week Sun 2025-12-28..Sat 2026-01-03 has only 3 days in 2026).
  EXPECT_EQ(Fires("FREQ=YEARLY;WKST=SU;BYWEEKNO=1;BYDAY=SU;BYHOUR=0;BYMINUTE=0;BYSECOND=0", "UTC",
                  "2025-06-01T00:00:00Z", 1),
            (Strings{"2026-01-04T00:00:00Z"}));
}

TEST(RRuleTest, ByYearDayNegative) {
  EXPECT_EQ(Fires("FREQ=YEARLY;BYYEARDAY=-1,-366;BYHOUR=0;BYMINUTE=0;BYSECOND=0", "UTC",
                  "2027-06-01T00:00:00Z", 3),
            (Strings{"2027-12-31T00:00:00Z", "2028-01-01T00:00:00Z", "2028-12-31T00:00:00Z"}));
}

// --- RFC 5545 section 3.8.5.3 examples --------------------------------------------------

// "19970902T090000" strings: each day of `days` in `yyyymm` at `hhmmss`.
Strings At(const std::string& yyyymm, std::initializer_list<int> days,
           const std::string& hhmmss = "090000") {
  Strings out;
  for (int d : days) {
    char buf[8];
    std::snprintf(buf, sizeof buf, "%02d", d);
    out.push_back(yyyymm + buf + "T" + hhmmss);
  }
  return out;
}

Strings Cat(std::initializer_list<Strings> parts) {
  Strings out;
  for (const Strings& p : parts) out.insert(out.end(), p.begin(), p.end());
  return out;
}

Strings RangeDays(const std::string& yyyymm, int first, int last,
                  const std::string& hhmmss = "090000") {
  Strings out;
  for (int d = first; d <= last; ++d) {
    Strings one = At(yyyymm, {d}, hhmmss);
    out.push_back(one[0]);
  }
  return out;
}

// Local wall times of the first `n` fires (America/New_York, as in the RFC), starting
// at DTSTART.
Strings RfcLocal(const std::string& dtstart, const std::string& rule, size_t n) {
  Strings out;
  auto s = MustParse("DTSTART;TZID=America/New_York:" + dtstart + "\nRRULE:" + rule,
                     "America/New_York", T("1990-01-01T00:00:00Z"));
  if (!s) return out;
  int64_t t = T("1990-01-01T00:00:00Z");
  while (out.size() < n) {
    auto f = s->NextAfter(t);
    if (!f) break;
    out.push_back(Local(f->local_us));
    t = f->at_us;
  }
  return out;
}

struct RfcExample {
  const char* title;
  const char* dtstart;
  const char* rule;
  Strings want;
  bool complete;  // the rule ends: no fire after `want`
};

class Rfc5545ExamplesTest : public ::testing::TestWithParam<int> {};

const std::vector<RfcExample>& Examples() {
  static const std::vector<RfcExample> kExamples = {
      {"Daily for 10 occurrences", "19970902T090000", "FREQ=DAILY;COUNT=10",
       RangeDays("199709", 2, 11), true},
      {"Daily until December 24, 1997", "19970902T090000", "FREQ=DAILY;UNTIL=19971224T000000Z",
       Cat({RangeDays("199709", 2, 30), RangeDays("199710", 1, 31), RangeDays("199711", 1, 30),
            RangeDays("199712", 1, 23)}),
       true},
      {"Every other day - forever", "19970902T090000", "FREQ=DAILY;INTERVAL=2",
       Cat({At("199709", {2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30}),
            At("199710", {2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24}), At("199710", {26, 28, 30}),
            At("199711", {1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29}),
            At("199712", {1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23})}),
       false},
      {"Every 10 days, 5 occurrences", "19970902T090000", "FREQ=DAILY;INTERVAL=10;COUNT=5",
       Cat({At("199709", {2, 12, 22}), At("199710", {2, 12})}), true},
      {"Every day in January, for 3 years (YEARLY)", "19980101T090000",
       "FREQ=YEARLY;UNTIL=20000131T140000Z;BYMONTH=1;BYDAY=SU,MO,TU,WE,TH,FR,SA",
       Cat({RangeDays("199801", 1, 31), RangeDays("199901", 1, 31), RangeDays("200001", 1, 31)}),
       true},
      {"Every day in January, for 3 years (DAILY)", "19980101T090000",
       "FREQ=DAILY;UNTIL=20000131T140000Z;BYMONTH=1",
       Cat({RangeDays("199801", 1, 31), RangeDays("199901", 1, 31), RangeDays("200001", 1, 31)}),
       true},
      {"Weekly for 10 occurrences", "19970902T090000", "FREQ=WEEKLY;COUNT=10",
       Cat({At("199709", {2, 9, 16, 23, 30}), At("199710", {7, 14, 21, 28}), At("199711", {4})}),
       true},
      {"Weekly until December 24, 1997", "19970902T090000", "FREQ=WEEKLY;UNTIL=19971224T000000Z",
       Cat({At("199709", {2, 9, 16, 23, 30}), At("199710", {7, 14, 21, 28}),
            At("199711", {4, 11, 18, 25}), At("199712", {2, 9, 16, 23})}),
       true},
      {"Every other week - forever", "19970902T090000", "FREQ=WEEKLY;INTERVAL=2;WKST=SU",
       Cat({At("199709", {2, 16, 30}), At("199710", {14, 28}), At("199711", {11, 25}),
            At("199712", {9, 23}), At("199801", {6, 20}), At("199802", {3, 17})}),
       false},
      {"Weekly on Tuesday and Thursday for five weeks (UNTIL)", "19970902T090000",
       "FREQ=WEEKLY;UNTIL=19971007T000000Z;WKST=SU;BYDAY=TU,TH",
       Cat({At("199709", {2, 4, 9, 11, 16, 18, 23, 25, 30}), At("199710", {2})}), true},
      {"Weekly on Tuesday and Thursday for five weeks (COUNT)", "19970902T090000",
       "FREQ=WEEKLY;COUNT=10;WKST=SU;BYDAY=TU,TH",
       Cat({At("199709", {2, 4, 9, 11, 16, 18, 23, 25, 30}), At("199710", {2})}), true},
      {"Every other week on Monday, Wednesday, and Friday until December 24, 1997",
       "19970901T090000", "FREQ=WEEKLY;INTERVAL=2;UNTIL=19971224T000000Z;WKST=SU;BYDAY=MO,WE,FR",
       Cat({At("199709", {1, 3, 5, 15, 17, 19, 29}), At("199710", {1, 3, 13, 15, 17, 27, 29, 31}),
            At("199711", {10, 12, 14, 24, 26, 28}), At("199712", {8, 10, 12, 22})}),
       true},
      {"Every other week on Tuesday and Thursday, for 8 occurrences", "19970902T090000",
       "FREQ=WEEKLY;INTERVAL=2;COUNT=8;WKST=SU;BYDAY=TU,TH",
       Cat({At("199709", {2, 4, 16, 18, 30}), At("199710", {2, 14, 16})}), true},
      {"Monthly on the first Friday for 10 occurrences", "19970905T090000",
       "FREQ=MONTHLY;COUNT=10;BYDAY=1FR",
       Cat({At("199709", {5}), At("199710", {3}), At("199711", {7}), At("199712", {5}),
            At("199801", {2}), At("199802", {6}), At("199803", {6}), At("199804", {3}),
            At("199805", {1}), At("199806", {5})}),
       true},
      {"Monthly on the first Friday until December 24, 1997", "19970905T090000",
       "FREQ=MONTHLY;UNTIL=19971224T000000Z;BYDAY=1FR",
       Cat({At("199709", {5}), At("199710", {3}), At("199711", {7}), At("199712", {5})}), true},
      {"Every other month on the first and last Sunday of the month for 10 occurrences",
       "19970907T090000", "FREQ=MONTHLY;INTERVAL=2;COUNT=10;BYDAY=1SU,-1SU",
       Cat({At("199709", {7, 28}), At("199711", {2, 30}), At("199801", {4, 25}),
            At("199803", {1, 29}), At("199805", {3, 31})}),
       true},
      {"Monthly on the second-to-last Monday of the month for 6 months", "19970922T090000",
       "FREQ=MONTHLY;COUNT=6;BYDAY=-2MO",
       Cat({At("199709", {22}), At("199710", {20}), At("199711", {17}), At("199712", {22}),
            At("199801", {19}), At("199802", {16})}),
       true},
      {"Monthly on the third-to-the-last day of the month, forever", "19970928T090000",
       "FREQ=MONTHLY;BYMONTHDAY=-3",
       Cat({At("199709", {28}), At("199710", {29}), At("199711", {28}), At("199712", {29}),
            At("199801", {29}), At("199802", {26})}),
       false},
      {"Monthly on the 2nd and 15th of the month for 10 occurrences", "19970902T090000",
       "FREQ=MONTHLY;COUNT=10;BYMONTHDAY=2,15",
       Cat({At("199709", {2, 15}), At("199710", {2, 15}), At("199711", {2, 15}),
            At("199712", {2, 15}), At("199801", {2, 15})}),
       true},
      {"Monthly on the first and last day of the month for 10 occurrences", "19970930T090000",
       "FREQ=MONTHLY;COUNT=10;BYMONTHDAY=1,-1",
       Cat({At("199709", {30}), At("199710", {1, 31}), At("199711", {1, 30}), At("199712", {1, 31}),
            At("199801", {1, 31}), At("199802", {1})}),
       true},
      {"Every 18 months on the 10th thru 15th of the month for 10 occurrences", "19970910T090000",
       "FREQ=MONTHLY;INTERVAL=18;COUNT=10;BYMONTHDAY=10,11,12,13,14,15",
       Cat({At("199709", {10, 11, 12, 13, 14, 15}), At("199903", {10, 11, 12, 13})}), true},
      {"Every Tuesday, every other month", "19970902T090000", "FREQ=MONTHLY;INTERVAL=2;BYDAY=TU",
       Cat({At("199709", {2, 9, 16, 23, 30}), At("199711", {4, 11, 18, 25}),
            At("199801", {6, 13, 20, 27}), At("199803", {3, 10, 17, 24, 31})}),
       false},
      {"Yearly in June and July for 10 occurrences", "19970610T090000",
       "FREQ=YEARLY;COUNT=10;BYMONTH=6,7",
       Cat({At("199706", {10}), At("199707", {10}), At("199806", {10}), At("199807", {10}),
            At("199906", {10}), At("199907", {10}), At("200006", {10}), At("200007", {10}),
            At("200106", {10}), At("200107", {10})}),
       true},
      {"Every other year on January, February, and March for 10 occurrences", "19970310T090000",
       "FREQ=YEARLY;INTERVAL=2;COUNT=10;BYMONTH=1,2,3",
       Cat({At("199703", {10}), At("199901", {10}), At("199902", {10}), At("199903", {10}),
            At("200101", {10}), At("200102", {10}), At("200103", {10}), At("200301", {10}),
            At("200302", {10}), At("200303", {10})}),
       true},
      {"Every third year on the 1st, 100th, and 200th day for 10 occurrences", "19970101T090000",
       "FREQ=YEARLY;INTERVAL=3;COUNT=10;BYYEARDAY=1,100,200",
       Cat({At("199701", {1}), At("199704", {10}), At("199707", {19}), At("200001", {1}),
            At("200004", {9}), At("200007", {18}), At("200301", {1}), At("200304", {10}),
            At("200307", {19}), At("200601", {1})}),
       true},
      {"Every 20th Monday of the year, forever", "19970519T090000", "FREQ=YEARLY;BYDAY=20MO",
       Cat({At("199705", {19}), At("199805", {18}), At("199905", {17})}), false},
      {"Monday of week number 20, forever", "19970512T090000", "FREQ=YEARLY;BYWEEKNO=20;BYDAY=MO",
       Cat({At("199705", {12}), At("199805", {11}), At("199905", {17})}), false},
      {"Every Thursday in March, forever", "19970313T090000", "FREQ=YEARLY;BYMONTH=3;BYDAY=TH",
       Cat({At("199703", {13, 20, 27}), At("199803", {5, 12, 19, 26}),
            At("199903", {4, 11, 18, 25})}),
       false},
      {"Every Thursday, but only during June, July, and August, forever", "19970605T090000",
       "FREQ=YEARLY;BYDAY=TH;BYMONTH=6,7,8",
       Cat({At("199706", {5, 12, 19, 26}), At("199707", {3, 10, 17, 24, 31}),
            At("199708", {7, 14, 21, 28}), At("199806", {4, 11, 18, 25}),
            At("199807", {2, 9, 16, 23, 30}), At("199808", {6, 13, 20, 27}),
            At("199906", {3, 10, 17, 24}), At("199907", {1, 8, 15, 22, 29}),
            At("199908", {5, 12, 19, 26})}),
       false},
      // The RFC also EXDATEs DTSTART, which does not match the rule; we never fire it.
      {"Every Friday the 13th, forever", "19970902T090000", "FREQ=MONTHLY;BYDAY=FR;BYMONTHDAY=13",
       Cat({At("199802", {13}), At("199803", {13}), At("199811", {13}), At("199908", {13}),
            At("200010", {13})}),
       false},
      {"The first Saturday that follows the first Sunday of the month, forever", "19970913T090000",
       "FREQ=MONTHLY;BYDAY=SA;BYMONTHDAY=7,8,9,10,11,12,13",
       Cat({At("199709", {13}), At("199710", {11}), At("199711", {8}), At("199712", {13}),
            At("199801", {10}), At("199802", {7}), At("199803", {7}), At("199804", {11}),
            At("199805", {9}), At("199806", {13})}),
       false},
      {"Every 4 years, the first Tuesday after a Monday in November, forever", "19961105T090000",
       "FREQ=YEARLY;INTERVAL=4;BYMONTH=11;BYDAY=TU;BYMONTHDAY=2,3,4,5,6,7,8",
       Cat({At("199611", {5}), At("200011", {7}), At("200411", {2})}), false},
      {"The third instance into the month of one of Tuesday, Wednesday, or Thursday, "
       "for the next 3 months",
       "19970904T090000", "FREQ=MONTHLY;COUNT=3;BYDAY=TU,WE,TH;BYSETPOS=3",
       Cat({At("199709", {4}), At("199710", {7}), At("199711", {6})}), true},
      {"The second-to-last weekday of the month", "19970929T090000",
       "FREQ=MONTHLY;BYDAY=MO,TU,WE,TH,FR;BYSETPOS=-2",
       Cat({At("199709", {29}), At("199710", {30}), At("199711", {27}), At("199712", {30}),
            At("199801", {29}), At("199802", {26}), At("199803", {30})}),
       false},
      // RFC 5545 errata 3883: the example's UNTIL=19970902T170000Z is 13:00 EDT and
      // contradicts its own list (09:00, 12:00, 15:00); 210000Z (17:00 EDT) is meant.
      {"Every 3 hours from 9:00 AM to 5:00 PM on a specific day", "19970902T090000",
       "FREQ=HOURLY;INTERVAL=3;UNTIL=19970902T210000Z",
       Cat({At("199709", {2}, "090000"), At("199709", {2}, "120000"), At("199709", {2}, "150000")}),
       true},
      {"Every 15 minutes for 6 occurrences", "19970902T090000", "FREQ=MINUTELY;INTERVAL=15;COUNT=6",
       Cat({At("199709", {2}, "090000"), At("199709", {2}, "091500"), At("199709", {2}, "093000"),
            At("199709", {2}, "094500"), At("199709", {2}, "100000"), At("199709", {2}, "101500")}),
       true},
      {"Every hour and a half for 4 occurrences", "19970902T090000",
       "FREQ=MINUTELY;INTERVAL=90;COUNT=4",
       Cat({At("199709", {2}, "090000"), At("199709", {2}, "103000"), At("199709", {2}, "120000"),
            At("199709", {2}, "133000")}),
       true},
      {"Every 20 minutes from 9:00 AM to 4:40 PM every day (DAILY)", "19970902T090000",
       "FREQ=DAILY;BYHOUR=9,10,11,12,13,14,15,16;BYMINUTE=0,20,40", Strings{}, false},
      {"Every 20 minutes from 9:00 AM to 4:40 PM every day (MINUTELY)", "19970902T090000",
       "FREQ=MINUTELY;INTERVAL=20;BYHOUR=9,10,11,12,13,14,15,16", Strings{}, false},
      {"Days generated make a difference because of WKST (MO)", "19970805T090000",
       "FREQ=WEEKLY;INTERVAL=2;COUNT=4;BYDAY=TU,SU;WKST=MO", At("199708", {5, 10, 19, 24}), true},
      {"Days generated make a difference because of WKST (SU)", "19970805T090000",
       "FREQ=WEEKLY;INTERVAL=2;COUNT=4;BYDAY=TU,SU;WKST=SU", At("199708", {5, 17, 19, 31}), true},
      {"An invalid date (February 30) is ignored", "20070115T090000",
       "FREQ=MONTHLY;BYMONTHDAY=15,30;COUNT=5",
       Cat({At("200701", {15, 30}), At("200702", {15}), At("200703", {15, 30})}), true},
  };
  return kExamples;
}

// The two "every 20 minutes" examples: 9:00..16:40 every 20 minutes, two days.
Strings TwentyMinutes() {
  Strings out;
  for (int day : {2, 3}) {
    for (int h = 9; h <= 16; ++h) {
      for (int m : {0, 20, 40}) {
        char buf[16];
        std::snprintf(buf, sizeof buf, "%02d%02d00", h, m);
        out.push_back(At("199709", {day}, buf)[0]);
      }
    }
  }
  return out;
}

TEST_P(Rfc5545ExamplesTest, MatchesTheRfcList) {
  const RfcExample& ex = Examples()[GetParam()];
  Strings want = ex.want.empty() ? TwentyMinutes() : ex.want;
  Strings got = RfcLocal(ex.dtstart, ex.rule, want.size() + (ex.complete ? 1 : 0));
  EXPECT_EQ(got, want) << ex.title << "\n  " << ex.rule;
}

INSTANTIATE_TEST_SUITE_P(AllExamples, Rfc5545ExamplesTest,
                         ::testing::Range(0, static_cast<int>(Examples().size())));

TEST(Rfc5545Test, UtcInstantsFollowNewYorkOffsets) {
  // "Daily until December 24, 1997": 09:00 EDT (13:00Z) until Oct 25, then 09:00 EST
  // (14:00Z); the last is Dec 23 14:00Z because Dec 24 09:00 EST is after UNTIL.
  auto s = MustParse(
      "DTSTART;TZID=America/New_York:19970902T090000\n"
      "RRULE:FREQ=DAILY;UNTIL=19971224T000000Z",
      "America/New_York");
  ASSERT_TRUE(s);
  EXPECT_EQ(Utc(s->NextAfter(T("1997-10-25T00:00:00Z"))->at_us), "1997-10-25T13:00:00Z");
  EXPECT_EQ(Utc(s->NextAfter(T("1997-10-26T00:00:00Z"))->at_us), "1997-10-26T14:00:00Z");
  EXPECT_EQ(Utc(s->NextAfter(T("1997-12-23T00:00:00Z"))->at_us), "1997-12-23T14:00:00Z");
  EXPECT_FALSE(s->NextAfter(T("1997-12-23T14:00:00Z")));
}

// --- DST rules ------------------------------------------------------------------------

// Rule 1: a fixed local time in the spring-forward gap fires once, at the transition.
TEST(DstTest, GapShiftedBerlin) {
  for (const char* spec : {"30 2 * * *", "FREQ=DAILY;BYHOUR=2;BYMINUTE=30;BYSECOND=0",
                           "FREQ=WEEKLY;BYDAY=SU;BYHOUR=2;BYMINUTE=30;BYSECOND=0"}) {
    Strings got = Fires(spec, "Europe/Berlin", "2026-03-28T00:00:00Z", 3, true);
    Strings daily = {"2026-03-28T01:30:00Z none", "2026-03-29T01:00:00Z gap_shifted",
                     "2026-03-30T00:30:00Z none"};
    Strings weekly = {"2026-03-29T01:00:00Z gap_shifted", "2026-04-05T00:30:00Z none",
                      "2026-04-12T00:30:00Z none"};
    EXPECT_EQ(got, std::string(spec).find("WEEKLY") != std::string::npos ? weekly : daily) << spec;
  }
  auto s = MustParse("30 2 * * *", "Europe/Berlin");
  auto f = s->NextAfter(T("2026-03-28T12:00:00Z"));
  ASSERT_TRUE(f);
  EXPECT_EQ(Local(f->local_us), "20260329T023000");  // what the rule produced
  EXPECT_EQ(f->adjust, FireAdjust::kGapShifted);
}

TEST(DstTest, GapShiftedNewYork) {
  for (const char* spec : {"30 2 * * *", "FREQ=DAILY;BYHOUR=2;BYMINUTE=30;BYSECOND=0"}) {
    EXPECT_EQ(Fires(spec, "America/New_York", "2026-03-07T00:00:00Z", 3, true),
              (Strings{"2026-03-07T07:30:00Z none", "2026-03-08T07:00:00Z gap_shifted",
                       "2026-03-09T06:30:00Z none"}))
        << spec;
  }
}

TEST(DstTest, GapShiftedOntoAnotherFireFiresOnce) {
  // Local 02:00, 02:30 (both in the gap) and 03:00 all land on the transition.
  for (const char* spec : {"0,30 2-3 * * *", "FREQ=DAILY;BYHOUR=2,3;BYMINUTE=0,30;BYSECOND=0"}) {
    EXPECT_EQ(Fires(spec, "Europe/Berlin", "2026-03-29T00:00:00Z", 3, true),
              (Strings{"2026-03-29T01:00:00Z gap_shifted", "2026-03-29T01:30:00Z none",
                       "2026-03-30T00:00:00Z none"}))
        << spec;
    EXPECT_EQ(Fires(spec, "America/New_York", "2026-03-08T06:00:00Z", 3, true),
              (Strings{"2026-03-08T07:00:00Z gap_shifted", "2026-03-08T07:30:00Z none",
                       "2026-03-09T06:00:00Z none"}))
        << spec;
  }
  // Every minute of hour 2 (a fixed hour): one fire for the whole gap.
  EXPECT_EQ(Fires("* 2 * * *", "Europe/Berlin", "2026-03-28T23:00:00Z", 2, true),
            (Strings{"2026-03-29T01:00:00Z gap_shifted", "2026-03-30T00:00:00Z none"}));
}

// Rule 2: a fixed local time that fall-back repeats fires once, at its first occurrence.
TEST(DstTest, RepeatedFirstOnlyBerlin) {
  for (const char* spec : {"30 2 * * *", "FREQ=DAILY;BYHOUR=2;BYMINUTE=30;BYSECOND=0"}) {
    EXPECT_EQ(Fires(spec, "Europe/Berlin", "2026-10-24T00:00:00Z", 3, true),
              (Strings{"2026-10-24T00:30:00Z none", "2026-10-25T00:30:00Z repeated_first_only",
                       "2026-10-26T01:30:00Z none"}))
        << spec;
  }
  // From inside the second pass of the repeated hour, the next fire is the next day.
  auto s = MustParse("*/30 2 * * *", "Europe/Berlin");
  EXPECT_EQ(Utc(s->NextAfter(T("2026-10-25T00:10:00Z"))->at_us), "2026-10-25T00:30:00Z");
  EXPECT_EQ(Utc(s->NextAfter(T("2026-10-25T00:30:00Z"))->at_us), "2026-10-26T01:00:00Z");
  EXPECT_EQ(Utc(s->NextAfter(T("2026-10-25T01:15:00Z"))->at_us), "2026-10-26T01:00:00Z");
}

TEST(DstTest, RepeatedFirstOnlyNewYork) {
  for (const char* spec : {"30 1 * * *", "FREQ=DAILY;BYHOUR=1;BYMINUTE=30;BYSECOND=0"}) {
    EXPECT_EQ(Fires(spec, "America/New_York", "2026-10-31T00:00:00Z", 3, true),
              (Strings{"2026-10-31T05:30:00Z none", "2026-11-01T05:30:00Z repeated_first_only",
                       "2026-11-02T06:30:00Z none"}))
        << spec;
  }
  EXPECT_EQ(
      Utc(MustParse("30 1 * * *", "America/New_York")->NextAfter(T("2026-11-01T06:10:00Z"))->at_us),
      "2026-11-02T06:30:00Z");
}

// Rule 3: hourly or more often keeps its rhythm in real time.
TEST(DstTest, HourlyKeepsRhythmBerlin) {
  for (const char* spec : {"0 * * * *", "0 */1 * * *", "0 0-23 * * *", "0 0 * * * *",
                           "FREQ=HOURLY;BYMINUTE=0;BYSECOND=0", "@hourly"}) {
    EXPECT_EQ(Fires(spec, "Europe/Berlin", "2026-10-24T22:30:00Z", 5, true),
              (Strings{"2026-10-24T23:00:00Z none", "2026-10-25T00:00:00Z none",
                       "2026-10-25T01:00:00Z none", "2026-10-25T02:00:00Z none",
                       "2026-10-25T03:00:00Z none"}))
        << spec;
    EXPECT_EQ(Fires(spec, "Europe/Berlin", "2026-03-28T23:30:00Z", 3, true),
              (Strings{"2026-03-29T00:00:00Z none", "2026-03-29T01:00:00Z none",
                       "2026-03-29T02:00:00Z none"}))
        << spec;
  }
  // Both 02:00 readings are reported with their local time.
  auto s = MustParse("0 * * * *", "Europe/Berlin");
  EXPECT_EQ(Local(s->NextAfter(T("2026-10-24T23:30:00Z"))->local_us), "20261025T020000");
  EXPECT_EQ(Local(s->NextAfter(T("2026-10-25T00:30:00Z"))->local_us), "20261025T020000");
  EXPECT_EQ(Local(s->NextAfter(T("2026-10-25T01:30:00Z"))->local_us), "20261025T030000");
}

TEST(DstTest, HourlyKeepsRhythmNewYork) {
  for (const char* spec : {"0 * * * *", "FREQ=HOURLY;BYMINUTE=0;BYSECOND=0"}) {
    EXPECT_EQ(Fires(spec, "America/New_York", "2026-11-01T03:30:00Z", 4),
              (Strings{"2026-11-01T04:00:00Z", "2026-11-01T05:00:00Z", "2026-11-01T06:00:00Z",
                       "2026-11-01T07:00:00Z"}))
        << spec;
    EXPECT_EQ(Fires(spec, "America/New_York", "2026-03-08T05:30:00Z", 3),
              (Strings{"2026-03-08T06:00:00Z", "2026-03-08T07:00:00Z", "2026-03-08T08:00:00Z"}))
        << spec;
  }
}

TEST(DstTest, SubHourlyThroughBothTransitions) {
  // Every 20 minutes: no burst at the end of the gap, no silent hour.
  for (const char* spec : {"*/20 * * * *", "DTSTART:20260101T000000\nFREQ=MINUTELY;INTERVAL=20"}) {
    EXPECT_EQ(Fires(spec, "Europe/Berlin", "2026-03-29T00:30:00Z", 4),
              (Strings{"2026-03-29T00:40:00Z", "2026-03-29T01:00:00Z", "2026-03-29T01:20:00Z",
                       "2026-03-29T01:40:00Z"}))
        << spec;
    // Fall-back: the hour 02:00-03:00 runs twice, 20 minutes apart throughout.
    Strings fall = Fires(spec, "Europe/Berlin", "2026-10-24T23:50:00Z", 7);
    EXPECT_EQ(fall, (Strings{"2026-10-25T00:00:00Z", "2026-10-25T00:20:00Z", "2026-10-25T00:40:00Z",
                             "2026-10-25T01:00:00Z", "2026-10-25T01:20:00Z", "2026-10-25T01:40:00Z",
                             "2026-10-25T02:00:00Z"}))
        << spec;
    EXPECT_EQ(Fires(spec, "America/New_York", "2026-03-08T06:30:00Z", 3),
              (Strings{"2026-03-08T06:40:00Z", "2026-03-08T07:00:00Z", "2026-03-08T07:20:00Z"}))
        << spec;
  }
  // Every second across the Berlin gap: 00:59:59Z then 01:00:00Z.
  EXPECT_EQ(Fires("* * * * * *", "Europe/Berlin", "2026-03-29T00:59:58Z", 2),
            (Strings{"2026-03-29T00:59:59Z", "2026-03-29T01:00:00Z"}));
}

TEST(DstTest, RhythmicRuleEndingInsideARepeatedHourStillFiresItsSecondPass) {
  // COUNT and UNTIL bound the rule's local readings; a reading that occurs twice fires
  // twice under rule 3. Readings 02:00 and 02:30 on 2026-10-25 in Berlin.
  for (const char* spec :
       {"DTSTART:20261025T020000\nFREQ=MINUTELY;INTERVAL=30;COUNT=2",
        "DTSTART:20261025T020000\nFREQ=MINUTELY;INTERVAL=30;UNTIL=20261025T024500"}) {
    EXPECT_EQ(Fires(spec, "Europe/Berlin", "2026-10-24T00:00:00Z", 6),
              (Strings{"2026-10-25T00:00:00Z", "2026-10-25T00:30:00Z", "2026-10-25T01:00:00Z",
                       "2026-10-25T01:30:00Z"}))
        << spec;
  }
  // America/Santiago falls back at local midnight (2026-04-05 03:00Z: Saturday 24:00 -03
  // becomes Saturday 23:00 -04). The rule's next reading after the first pass is a week
  // Saturday away (00:00 -04); the second pass of Saturday 23:00-24:00 must not be
  // skipped.
  EXPECT_EQ(Fires("DTSTART:20260404T220000\nFREQ=MINUTELY;INTERVAL=30;BYDAY=SA", "America/Santiago",
                  "2026-04-04T00:00:00Z", 7),
            (Strings{"2026-04-05T01:00:00Z", "2026-04-05T01:30:00Z", "2026-04-05T02:00:00Z",
                     "2026-04-05T02:30:00Z", "2026-04-05T03:00:00Z", "2026-04-05T03:30:00Z",
                     "2026-04-11T04:00:00Z"}));
  // Its spring-forward skips local midnight: a daily midnight job runs at 01:00 -03.
  EXPECT_EQ(Fires("0 0 * * *", "America/Santiago", "2026-09-05T00:00:00Z", 2, true),
            (Strings{"2026-09-05T04:00:00Z none", "2026-09-06T04:00:00Z gap_shifted"}));
}

TEST(DstTest, EveryOtherHourFixesTheHour) {
  // "*/2" is not hourly: hour 2 is fixed, so the gap and fold rules apply.
  EXPECT_EQ(Fires("0 */2 * * *", "Europe/Berlin", "2026-03-28T23:30:00Z", 3, true),
            (Strings{"2026-03-29T01:00:00Z gap_shifted", "2026-03-29T02:00:00Z none",
                     "2026-03-29T04:00:00Z none"}));
  EXPECT_EQ(Fires("0 */2 * * *", "Europe/Berlin", "2026-10-24T23:30:00Z", 3, true),
            (Strings{"2026-10-25T00:00:00Z repeated_first_only", "2026-10-25T03:00:00Z none",
                     "2026-10-25T05:00:00Z none"}));
  // RRULE HOURLY with BYHOUR fixes the hour too.
  EXPECT_EQ(Fires("FREQ=HOURLY;BYHOUR=2;BYMINUTE=30;BYSECOND=0", "America/New_York",
                  "2026-03-08T00:00:00Z", 1, true),
            (Strings{"2026-03-08T07:00:00Z gap_shifted"}));
}

TEST(DstTest, FiresStrictlyIncreaseAcrossTransitions) {
  for (const char* tz : {"Europe/Berlin", "America/New_York"}) {
    for (const char* spec :
         {"*/7 * * * *", "30 1,2,3 * * *", "0,30 2-3 * * *", "* 1-2 * * *",
          "FREQ=MINUTELY;INTERVAL=13", "FREQ=DAILY;BYHOUR=1,2,3;BYMINUTE=0,30"}) {
      for (const char* from : {"2026-03-07T12:00:00Z", "2026-10-24T12:00:00Z"}) {
        auto s = MustParse(spec, tz, T(from));
        ASSERT_TRUE(s);
        int64_t t = T(from);
        for (int i = 0; i < 3000; ++i) {
          auto f = s->NextAfter(t);
          ASSERT_TRUE(f);
          ASSERT_GT(f->at_us, t) << spec << " " << tz;
          t = f->at_us;
        }
      }
    }
  }
}

// --- speed ------------------------------------------------------------------------------

TEST(SpeedTest, NextAfterIsFast) {
  struct Case {
    const char* spec;
    const char* tz;
  };
  const Case cases[] = {
      {"*/5 * * * * *", "Europe/Berlin"},
      {"0 0 29 2 1", "UTC"},
      {"30 2 * * *", "America/New_York"},
      {"FREQ=SECONDLY;INTERVAL=7", "Europe/Berlin"},
      {"FREQ=MONTHLY;BYDAY=MO,TU,WE,TH,FR;BYHOUR=9,17;BYMINUTE=0;BYSECOND=0;BYSETPOS=-1",
       "Europe/Berlin"},
      {"FREQ=YEARLY;BYWEEKNO=1,-1;BYDAY=MO;BYHOUR=9", "UTC"},
  };
  for (const Case& c : cases) {
    auto s = MustParse(c.spec, c.tz, T("2026-01-01T00:00:00Z"));
    ASSERT_TRUE(s);
    int64_t t = T("2026-01-01T00:00:00Z");
    auto start = std::chrono::steady_clock::now();
    const int kN = 2000;
    for (int i = 0; i < kN; ++i) {
      auto f = s->NextAfter(t);
      ASSERT_TRUE(f);
      t = f->at_us;
    }
    double us_each =
        std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - start)
            .count() /
        kN;
    // Generous: a debug build on a busy machine; typical is a few microseconds.
    // Sanitizer builds (CHRONOGRAPH_SANITIZE; gcc's feature macros) run several times slower.
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
    constexpr double kLimit = 2000.0;
#else
    constexpr double kLimit = 200.0;
#endif
    EXPECT_LT(us_each, kLimit) << c.spec;
  }
  // A rule that fires once every 400 years' worth of checks still parses quickly.
  auto start = std::chrono::steady_clock::now();
  EXPECT_EQ(ParseError("DTSTART:20260101T000000\nFREQ=HOURLY;INTERVAL=168;BYDAY=TU"),
            "schedule never fires");
  EXPECT_LT(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(), 2.0);
}

}  // namespace
}  // namespace cg::sched
