// Cron expressions evaluated in floating local time (Vixie cron semantics).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string_view>

#include "service/schedule_internal.h"
#include "service/status.h"

namespace cg::sched {

// A parsed cron expression:
//   5 fields  "minute hour day-of-month month day-of-week"
//   6 fields  "second minute hour day-of-month month day-of-week"
//   macros    @yearly @annually @monthly @weekly @daily @midnight @hourly
// A field is a comma list of items; an item is `*`, `N`, `N-M`, `*/S`, `N-M/S` or
// `N/S` (N up to the field's maximum, step S). Months JAN..DEC and weekdays SUN..SAT
// may be written by name (any case); weekday 0 and 7 are Sunday, so MON-SUN works.
//
// Day matching follows Vixie cron: when the day-of-month and day-of-week fields both
// are restricted, a day matching either one fires; a field whose text starts with
// `*` (including `*/2`) counts as unrestricted, and then both must match.
//
// DST class (see KeepsRealTimeRhythm): an expression whose hour field covers all 24
// hours (`*`, `*/1`, `0-23`, ...) runs hourly or more often and keeps its rhythm in
// real time; any other hour field fixes the local hours, and the gap/fold rules apply.
//
// Immutable; safe for concurrent use.
class CronExpr final : public internal::LocalExpander {
 public:
  // Errors: InvalidArgument naming the field and the problem, e.g.
  //   "cron field 'minute': value 61 out of range 0-59".
  static cg::Result<std::unique_ptr<CronExpr>> Parse(std::string_view text);

  std::optional<int64_t> NextAtOrAfter(int64_t from_local) const override;
  bool KeepsRealTimeRhythm() const override { return hours_ == kAllHours; }

 private:
  static constexpr uint32_t kAllHours = (1u << 24) - 1;

  CronExpr() = default;
  bool DayMatches(int64_t days, int day_of_month) const;
  // The earliest time of day (seconds) at or after `sod` allowed by the second,
  // minute and hour fields; -1 if none is left in the day.
  int64_t FirstTimeOfDayAtOrAfter(int64_t sod) const;

  uint64_t seconds_ = 1;   // bit s: second s (0..59)
  uint64_t minutes_ = 0;   // bit m: minute m (0..59)
  uint32_t hours_ = 0;     // bit h: hour h (0..23)
  uint32_t days_ = 0;      // bit d: day of month d (1..31)
  uint32_t months_ = 0;    // bit m: month m (1..12)
  uint32_t weekdays_ = 0;  // bit w: weekday w (0 = Sunday .. 6)
  bool dom_star_ = false;  // day-of-month field text starts with '*'
  bool dow_star_ = false;  // day-of-week field text starts with '*'
};

}  // namespace cg::sched
