// RFC 5545 recurrence rules, expanded in floating local time.
//
// Why not libical: see shared TIME.md (wrong BYSETPOS, negative BYMONTHDAY, sub-daily
// INTERVAL and DST handling). This is a period-set expander: for each FREQ period on
// the INTERVAL grid it builds the days that pass the day parts, multiplies them by the
// times of day, applies BYSETPOS to the whole period, then DTSTART, COUNT and UNTIL.
#pragma once

#include <array>
#include <bitset>
#include <cstdint>
#include <memory>
#include <optional>
#include <string_view>
#include <vector>

#include "service/schedule_internal.h"
#include "service/status.h"

namespace cg::sched {

enum class Freq : uint8_t { kSecondly, kMinutely, kHourly, kDaily, kWeekly, kMonthly, kYearly };

// A BYDAY entry: weekday 0 = MO .. 6 = SU; `n` = 0 for every such day, else the n-th
// (negative: from the end) of the month or year.
struct WeekdayNum {
  int weekday = 0;
  int n = 0;
};

// A parsed RRULE, not yet bound to its DTSTART.
struct RRuleSpec {
  Freq freq = Freq::kDaily;
  int64_t interval = 1;
  std::optional<int64_t> count;
  std::optional<int64_t> until_local;  // UNTIL without "Z": floating local seconds
  std::optional<int64_t> until_utc;    // UNTIL with "Z": UTC seconds
  std::vector<int> by_second, by_minute, by_hour;
  std::vector<WeekdayNum> by_day;
  std::vector<int> by_month_day, by_year_day, by_week_no, by_month, by_set_pos;
  int wkst = 0;                          // 0 = MO
  std::optional<int64_t> dtstart_local;  // DTSTART without "Z"
  std::optional<int64_t> dtstart_utc;    // DTSTART with "Z"
};

// Parses RFC 5545 text: "FREQ=...;..." optionally prefixed "RRULE:", optionally with
// an inline "DTSTART=20260101T090000;" part or a leading "DTSTART:20260101T090000"
// line ("DTSTART;TZID=<zone>:" only with the job's own zone `tz`). Part names and
// values are case-insensitive. COUNT is limited to 1,000,000.
// Errors: InvalidArgument, e.g. "RRULE: unknown part 'FREQQ'",
//   "RRULE: BYDAY value 'XX' ...", "RRULE: FREQ is required".
cg::Result<RRuleSpec> ParseRRule(std::string_view text, std::string_view tz);

// True when `text` starts with a frequency word (the seed's form).
bool LooksLikeSeedRule(std::string_view text);

// Parses the seed's form, "HOURLY interval:2;byminute:15": a frequency word, then
// `key:value` params separated by ';' (dateutil's keyword names: interval, count,
// until, bysetpos, bymonth, bymonthday, byyearday, byweekno, byweekday (or byday),
// byhour, byminute, bysecond, wkst), values comma lists of integers or, for byweekday
// and wkst, MO..SU or 0..6 (0 = MO). Means the same as the RRULE with those parts.
cg::Result<RRuleSpec> ParseSeedRule(std::string_view text, std::string_view tz);

// A recurrence rule bound to its DTSTART. Immutable; safe for concurrent use.
class RRule final : public internal::LocalExpander {
 public:
  // `dtstart_local` is the rule's DTSTART in floating local time (whole seconds).
  // Errors: InvalidArgument "schedule never fires" for a rule with no occurrence in
  // 400 years after DTSTART (ignoring COUNT and UNTIL); RFC restrictions (BYWEEKNO
  // only with YEARLY, BYDAY ordinals only with MONTHLY/YEARLY, ...).
  static cg::Result<std::unique_ptr<RRule>> Create(const RRuleSpec& spec, int64_t dtstart_local);

  std::optional<int64_t> NextAtOrAfter(int64_t from_local) const override;
  // FREQ=HOURLY/MINUTELY/SECONDLY without BYHOUR.
  bool KeepsRealTimeRhythm() const override { return rhythm_; }
  std::optional<int64_t> UntilUtc() const override { return until_utc_; }

 private:
  // The instances of one FREQ period: instance i is bases[i / n] + offsets_[i % n]
  // (n = offsets_.size()), or, with BYSETPOS, the picks[j]-th such instance.
  struct PeriodSet {
    std::vector<int64_t> bases;
    std::vector<int64_t> picks;
  };

  RRule() = default;
  Status Init(const RRuleSpec& spec, int64_t dtstart_local);
  void SetDayParts(const RRuleSpec& spec);
  void SetTimeParts(const RRuleSpec& spec);
  // False when the rule has no occurrence within 400 years of DTSTART (COUNT and UNTIL
  // aside).
  bool CanFire() const;
  void ApplyCount(int64_t count);
  int64_t Horizon() const;  // DTSTART + 400 years, clamped to year 9999

  int64_t PeriodNumber(int64_t local) const;
  int64_t PeriodStart(int64_t period) const;  // floating local seconds
  // Facts about one calendar year that DayMatches needs, computed once per year.
  struct YearInfo {
    int year = 0;
    bool loaded = false;
    int64_t jan1 = 0;  // days since the epoch
    int length = 0;
    // Start of week 1 (per WKST) of year-1, year, year+1 and year+2 (with BYWEEKNO).
    int64_t week1[4] = {0, 0, 0, 0};
  };

  void LoadYear(int year, YearInfo* info) const;
  // `cache` holds the last year used; pass the same one for consecutive days.
  bool DayMatches(int64_t days, YearInfo* cache) const;
  bool WeekNoMatches(int64_t days, const YearInfo& info) const;
  // Fills `set` for the first non-empty period at grid index >= k whose start is
  // <= limit; returns its index, or nullopt.
  std::optional<int64_t> NextNonEmptyPeriod(int64_t k, int64_t limit, PeriodSet* set) const;
  void FillDays(int64_t period, PeriodSet* set) const;
  void ResolveSetPos(PeriodSet* set) const;
  size_t SetSize(const PeriodSet& set) const;
  int64_t SetAt(const PeriodSet& set, size_t j) const;
  size_t LowerBound(const PeriodSet& set, int64_t t) const;
  std::optional<int64_t> Search(int64_t from, int64_t limit) const;

  Freq freq_ = Freq::kDaily;
  int64_t interval_ = 1;
  int64_t dtstart_ = 0;
  int64_t p0_ = 0;                              // period number of DTSTART
  int64_t unit_ = 0;                            // seconds per period for SECONDLY..HOURLY, else 0
  int64_t until_ = internal::kMaxLocalSeconds;  // inclusive, floating local
  std::optional<int64_t> until_utc_;
  bool rhythm_ = false;

  // Day parts (limits or expansions, all the same to a period-set expander).
  bool has_month_ = false, has_month_day_ = false, has_year_day_ = false;
  bool has_week_no_ = false, has_day_ = false, has_day_ordinal_ = false;
  bool ordinal_in_month_ = false;
  uint32_t month_mask_ = 0;
  std::bitset<32> month_day_pos_, month_day_neg_;
  std::bitset<367> year_day_pos_, year_day_neg_;
  std::bitset<54> week_no_pos_, week_no_neg_;
  uint32_t weekday_plain_ = 0;  // bit w: every weekday w (0 = MO)
  std::array<std::bitset<54>, 7> weekday_pos_, weekday_neg_;
  int wkst_ = 0;

  // Time parts that limit a sub-daily period (HOURLY: hour; MINUTELY: hour, minute;
  // SECONDLY: hour, minute, second). Zero masks mean "no limit".
  uint32_t hour_limit_ = 0;
  uint64_t minute_limit_ = 0;
  uint64_t second_limit_ = 0;

  std::vector<int32_t> offsets_;  // sorted offsets of the instances inside a period/day
  std::vector<int> set_pos_;
};

}  // namespace cg::sched
