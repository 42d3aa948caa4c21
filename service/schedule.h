// Schedules: cron expressions, RFC 5545 RRULEs and the seed's "FREQ params" form,
// evaluated in an IANA time zone. See README "Schedules and DST" for the rules.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "service/status.h"

namespace cg::sched {

// The DST rules (implemented in schedule.cc; tested in tests/service/schedule_test.cc):
//  1. A schedule that fixes the hour (cron whose hour field is not all 24 hours; RRULE
//     with FREQ=DAILY or coarser, or with BYHOUR) whose local time does not exist
//     (spring-forward gap) fires once, at the first instant after the gap: kGapShifted.
//     If that instant is also another fire of the schedule, it fires once.
//  2. Such a schedule whose local time occurs twice (fall-back) fires once, at the first
//     occurrence: kRepeatedFirstOnly.
//  3. A schedule that runs hourly or more often (cron whose hour field covers all 24
//     hours: `*`, `*/1`, `0-23`; RRULE FREQ=HOURLY/MINUTELY/SECONDLY without BYHOUR)
//     fires at every instant whose wall-clock reading it produces: in the fall-back hour
//     both passes fire, and readings inside a gap do not exist (no burst after it).
//     COUNT and UNTIL (without Z) bound the rule's readings, so a COUNT=10 rule can fire
//     more than 10 times across a fall-back and fewer across a gap.
// Fires are strictly increasing in UTC and never duplicated.

// What the DST rules did to a fire (recorded with the run, so history explains it).
enum class FireAdjust : uint8_t {
  kNone = 0,
  // The local time the rule produced does not exist (spring-forward gap); the fire
  // happens at the first instant after the gap.
  kGapShifted = 1,
  // The local time occurs twice (fall-back); this fire is its first occurrence and the
  // second one is not run.
  kRepeatedFirstOnly = 2,
};

const char* FireAdjustName(FireAdjust a);

struct Fire {
  int64_t at_us = 0;          // UTC instant, microseconds since the epoch
  int64_t local_us = 0;       // the local wall time the rule produced, as if it were UTC
  FireAdjust adjust = FireAdjust::kNone;
  // kRepeatedFirstOnly: the instant of the local time's second occurrence, which does
  // not fire (so the history can say so). 0 otherwise.
  int64_t repeat_us = 0;
};

// An immutable, parsed schedule. Safe for concurrent use by multiple threads.
class Schedule {
 public:
  virtual ~Schedule() = default;
  Schedule(const Schedule&) = delete;
  Schedule& operator=(const Schedule&) = delete;

  // The first fire strictly after `after_us`, or nullopt when the rule has no more
  // occurrences (COUNT/UNTIL reached, or a rule that can never match).
  virtual std::optional<Fire> NextAfter(int64_t after_us) const = 0;

  // The IANA zone the schedule is evaluated in.
  virtual const std::string& time_zone() const = 0;

 protected:
  Schedule() = default;
};

// Parses `spec` in zone `tz` (an IANA name; empty means "UTC").
//   cron:   "*/5 * * * *" (5 fields), "0 */5 * * * *" (6, seconds first), names
//           (JAN..DEC, SUN..SAT), ranges, lists, steps, @yearly @annually @monthly
//           @weekly @daily @midnight @hourly.
//   RRULE:  "FREQ=HOURLY;INTERVAL=2;BYMINUTE=15", optionally prefixed "RRULE:", and
//           optionally "DTSTART=20260101T000000;" / a "DTSTART:...\n" line.
//   seed:   "HOURLY interval:2;byminute:15" (django-chronograph's frequency + params).
// `anchor_us` is the DTSTART used when the rule has none (the time the job's schedule
// was set, truncated to the second). As in python-dateutil, DTSTART itself fires only
// when it matches the rule. A rule that finds no fire within 400 years (one Gregorian
// cycle) after DTSTART (RRULE) or the anchor (cron) is rejected ("schedule never
// fires"); NextAfter also searches at most 400 years ahead.
// Errors: InvalidArgument naming the field or part that is wrong; NotFound-free:
// an unknown zone is InvalidArgument too.
Result<std::unique_ptr<Schedule>> ParseSchedule(std::string_view spec, std::string_view tz,
                                                int64_t anchor_us);

// InvalidArgument when `tz` is not a known IANA zone name.
Status ValidateTimeZone(std::string_view tz);

}  // namespace cg::sched
