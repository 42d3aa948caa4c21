// Private to the schedule module (schedule.cc, cron_expr.cc, rrule.cc): calendar
// arithmetic on "floating" local time and the interface the expanders implement.
//
// Floating local time is a wall-clock reading in the job's zone, written as seconds
// since 1970-01-01T00:00:00 as if that reading were UTC. Expanders work only in it;
// schedule.cc maps their results to UTC with the DST rules.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace cg::sched::internal {

constexpr int64_t kSecondsPerDay = 86400;

// How far ahead an expander searches for the next occurrence before it gives up:
// 400 years, one Gregorian cycle, so a cron expression (whose day pattern repeats
// every 400 years) that finds nothing in it can never fire.
constexpr int64_t kSearchHorizonSeconds = 146097LL * kSecondsPerDay;

// Floating times outside years 1..9999 are not produced or searched.
constexpr int64_t kMinLocalSeconds = -62135596800LL;  // 0001-01-01T00:00:00
constexpr int64_t kMaxLocalSeconds = 253402300799LL;  // 9999-12-31T23:59:59

inline int64_t FloorDiv(int64_t a, int64_t b) {
  int64_t q = a / b;
  return (a % b != 0 && ((a < 0) != (b < 0))) ? q - 1 : q;
}
inline int64_t FloorMod(int64_t a, int64_t b) { return a - FloorDiv(a, b) * b; }
inline int64_t CeilDiv(int64_t a, int64_t b) { return -FloorDiv(-a, b); }

struct CivilDate {
  int year = 1970;
  int month = 1;  // 1..12
  int day = 1;    // 1..31
};

// Days since 1970-01-01 of a proleptic Gregorian date, and back.
int64_t DaysFromCivil(int year, int month, int day);
CivilDate CivilFromDays(int64_t days);

bool IsLeapYear(int year);
int DaysInMonth(int year, int month);
int DaysInYear(int year);
// 0 = Monday .. 6 = Sunday (RFC 5545 order).
inline int WeekdayMon0(int64_t days) { return static_cast<int>(FloorMod(days + 3, 7)); }
// 0 = Sunday .. 6 = Saturday (cron order).
inline int WeekdaySun0(int64_t days) { return static_cast<int>(FloorMod(days + 4, 7)); }

// "2026-03-29T02:30:00" for floating local seconds (error messages, debugging).
std::string FormatLocal(int64_t local_s);

// ASCII helpers for the parsers.
std::string ToUpper(std::string_view s);
std::string_view Trim(std::string_view s);
// Parses an optionally signed decimal integer that must fill `text`; false on junk or
// overflow beyond +-2^31.
bool ParseInt(std::string_view text, bool allow_sign, int64_t* out);

// The occurrences of a rule in floating local time. Implementations are immutable and
// safe for concurrent use.
class LocalExpander {
 public:
  virtual ~LocalExpander() = default;

  // The first occurrence at or after `from_local`, or nullopt when there is none
  // within kSearchHorizonSeconds (or the rule's COUNT/UNTIL ended it).
  virtual std::optional<int64_t> NextAtOrAfter(int64_t from_local) const = 0;

  // True when the rule runs hourly or more often, so that DST rule 3 applies: fires
  // keep their rhythm in real time (both occurrences of a repeated local time fire,
  // nonexistent ones are dropped). False when the rule fixes the hour (rules 1 and 2).
  virtual bool KeepsRealTimeRhythm() const = 0;

  // An UNTIL given in UTC ("...Z"): no fire is later than this instant (seconds).
  virtual std::optional<int64_t> UntilUtc() const { return std::nullopt; }
};

// Makes the IANA time-zone database available to date/tz before the first lookup.
// One implementation per platform, chosen by CMake: nothing to do where date/tz reads
// the system's zoneinfo (platform/posix/tz_posix.cc); on Windows it points date/tz at
// the text tzdata shipped next to the executable (platform/windows/tz_windows.cc).
// Thread-safe; cheap after the first call.
void PrepareTimeZoneDatabase();

}  // namespace cg::sched::internal
