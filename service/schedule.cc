// Schedules in a time zone: dispatch to the cron and RRULE expanders (which work in
// floating local time) and the mapping of their local times to UTC.
//
// The DST rules are stated in schedule.h. Rules 1 and 2 map each local reading to one
// instant, date/tz's "earliest" choice (the transition for a gap, the first pass for a
// fold); that mapping is monotonic, so the next fire is the first reading at or after
// the reading of `after` that maps past it. Rule 3 walks the zone's offset periods in
// UTC and looks for readings within each.
#include "service/schedule.h"

#include <date/date.h>
#include <date/tz.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <exception>

#include "service/cron_expr.h"
#include "service/rrule.h"
#include "service/schedule_internal.h"

namespace cg::sched {

// --- calendar and text helpers (schedule_internal.h) ------------------------------------

namespace internal {

int64_t DaysFromCivil(int year, int month, int day) {
  return date::sys_days(date::year{year} / month / day).time_since_epoch().count();
}

CivilDate CivilFromDays(int64_t days) {
  date::year_month_day ymd{date::sys_days{date::days{days}}};
  return CivilDate{static_cast<int>(ymd.year()),
                   static_cast<int>(static_cast<unsigned>(ymd.month())),
                   static_cast<int>(static_cast<unsigned>(ymd.day()))};
}

bool IsLeapYear(int year) { return date::year{year}.is_leap(); }

int DaysInMonth(int year, int month) {
  static const int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return month == 2 && IsLeapYear(year) ? 29 : kDays[month - 1];
}

int DaysInYear(int year) { return IsLeapYear(year) ? 366 : 365; }

std::string FormatLocal(int64_t local_s) {
  return date::format("%FT%T", date::sys_seconds{std::chrono::seconds{local_s}});
}

std::string ToUpper(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return out;
}

std::string_view Trim(std::string_view s) {
  size_t b = 0;
  size_t e = s.size();
  while (b < e && std::isspace(static_cast<unsigned char>(s[b]))) ++b;
  while (e > b && std::isspace(static_cast<unsigned char>(s[e - 1]))) --e;
  return s.substr(b, e - b);
}

bool ParseInt(std::string_view text, bool allow_sign, int64_t* out) {
  bool negative = false;
  size_t i = 0;
  if (allow_sign && !text.empty() && (text[0] == '+' || text[0] == '-')) {
    negative = text[0] == '-';
    i = 1;
  }
  if (i == text.size()) return false;
  int64_t v = 0;
  for (; i < text.size(); ++i) {
    if (!std::isdigit(static_cast<unsigned char>(text[i]))) return false;
    v = v * 10 + (text[i] - '0');
    if (v > 0x7fffffff) return false;
  }
  *out = negative ? -v : v;
  return true;
}

}  // namespace internal

namespace {

using internal::LocalExpander;

constexpr int64_t kMicros = 1000000;
// UTC instants searched: a day inside years 1..9999 so that local readings stay there.
constexpr int64_t kMinUtcSeconds = internal::kMinLocalSeconds + internal::kSecondsPerDay;
constexpr int64_t kMaxUtcSeconds = internal::kMaxLocalSeconds - internal::kSecondsPerDay;

Status LocateZone(std::string_view tz, const date::time_zone** zone) {
  std::string name = tz.empty() ? "UTC" : std::string(tz);
  internal::PrepareTimeZoneDatabase();
  try {
    *zone = date::locate_zone(name);
    return Status::OK();
  } catch (const std::exception&) {
    return Status::InvalidArgument("unknown time zone '" + name + "'");
  }
}

int64_t Seconds(date::sys_seconds t) { return t.time_since_epoch().count(); }

// The wall-clock reading (floating local seconds) at UTC instant `utc_s`.
int64_t LocalAt(const date::time_zone* zone, int64_t utc_s) {
  date::sys_info si = zone->get_info(date::sys_seconds{std::chrono::seconds{utc_s}});
  return utc_s + si.offset.count();
}

class ZonedSchedule final : public Schedule {
 public:
  ZonedSchedule(std::unique_ptr<LocalExpander> rule, const date::time_zone* zone,
                std::string zone_name)
      : rule_(std::move(rule)), zone_(zone), zone_name_(std::move(zone_name)) {}

  std::optional<Fire> NextAfter(int64_t after_us) const override {
    int64_t after_s = internal::FloorDiv(after_us, kMicros);
    after_s = std::max(after_s, kMinUtcSeconds);
    if (after_s >= kMaxUtcSeconds) return std::nullopt;
    std::optional<Fire> fire =
        rule_->KeepsRealTimeRhythm() ? NextRhythmic(after_s) : NextFixedHour(after_s);
    std::optional<int64_t> until = rule_->UntilUtc();
    if (fire && until && fire->at_us > *until * kMicros) return std::nullopt;
    return fire;
  }

  const std::string& time_zone() const override { return zone_name_; }

 private:
  // DST rules 1 and 2: each local time maps to one instant (the earliest reading).
  std::optional<Fire> NextFixedHour(int64_t after_s) const {
    int64_t from = LocalAt(zone_, after_s);
    // In the second pass of a repeated hour, the repeated readings map to their first
    // pass, which is over: continue after the fold.
    date::local_info at = zone_->get_info(date::local_seconds{std::chrono::seconds{from}});
    if (at.result == date::local_info::ambiguous && after_s >= Seconds(at.first.end)) {
      from = Seconds(at.first.end) + at.first.offset.count();
    }
    while (true) {
      std::optional<int64_t> local = rule_->NextAtOrAfter(from);
      if (!local) return std::nullopt;
      date::local_info li = zone_->get_info(date::local_seconds{std::chrono::seconds{*local}});
      Fire fire;
      fire.local_us = *local * kMicros;
      int64_t at_s = *local - li.first.offset.count();
      switch (li.result) {
        case date::local_info::unique:
          break;
        case date::local_info::nonexistent:
          at_s = Seconds(li.first.end);  // the transition: first instant after the gap
          fire.adjust = FireAdjust::kGapShifted;
          break;
        case date::local_info::ambiguous:
          fire.adjust = FireAdjust::kRepeatedFirstOnly;
          fire.repeat_us = (*local - li.second.offset.count()) * kMicros;
          break;
      }
      if (at_s > after_s) {
        fire.at_us = at_s * kMicros;
        return fire;
      }
      // Only the reading of `after` itself, or gap readings shifted onto an instant
      // at or before `after`, land here.
      from = *local + 1;
    }
  }

  // DST rule 3: every instant whose wall-clock reading the rule produces, walking the
  // zone's offset periods (sys_info) in UTC.
  std::optional<Fire> NextRhythmic(int64_t after_s) const {
    int64_t u = after_s + 1;
    while (u < kMaxUtcSeconds) {
      date::sys_info si = zone_->get_info(date::sys_seconds{std::chrono::seconds{u}});
      const int64_t offset = si.offset.count();
      const int64_t end = Seconds(si.end);
      std::optional<int64_t> local = rule_->NextAtOrAfter(u + offset);
      if (local && *local - offset < end) {
        Fire fire;
        fire.at_us = (*local - offset) * kMicros;
        fire.local_us = *local * kMicros;
        return fire;
      }
      // Nothing more in this offset period; readings from u on (the searched ones, from
      // u + offset) have no occurrence before *local. The next period's readings start
      // at end + next offset: below u + offset after a fall-back, where the repeated
      // readings have not been searched yet.
      if (end >= kMaxUtcSeconds) return std::nullopt;
      date::sys_info next = zone_->get_info(date::sys_seconds{std::chrono::seconds{end}});
      const bool restarts_lower = end + next.offset.count() < u + offset;
      if (restarts_lower) {
        u = end;
      } else if (!local) {
        return std::nullopt;  // later readings are all higher than those searched
      } else {
        // Later transitions are months away, so readings stay >= u + offset; and
        // offsets differ by less than 2 days, so no instant before *local - offset
        // - 2 days reads *local or later.
        u = std::max(end, *local - offset - 2 * internal::kSecondsPerDay);
      }
    }
    return std::nullopt;
  }

  std::unique_ptr<LocalExpander> rule_;
  const date::time_zone* zone_;  // owned by date's tzdb, lives for the process
  std::string zone_name_;
};

bool IsRRuleText(std::string_view text) {
  std::string upper = internal::ToUpper(text.substr(0, std::min<size_t>(text.size(), 8)));
  return upper.rfind("RRULE:", 0) == 0 || upper.rfind("DTSTART", 0) == 0 ||
         text.find('=') != std::string_view::npos;
}

}  // namespace

const char* FireAdjustName(FireAdjust a) {
  switch (a) {
    case FireAdjust::kNone:
      return "none";
    case FireAdjust::kGapShifted:
      return "gap_shifted";
    case FireAdjust::kRepeatedFirstOnly:
      return "repeated_first_only";
  }
  return "unknown";
}

Status ValidateTimeZone(std::string_view tz) {
  const date::time_zone* zone = nullptr;
  return LocateZone(tz, &zone);
}

Result<std::unique_ptr<Schedule>> ParseSchedule(std::string_view spec, std::string_view tz,
                                                int64_t anchor_us) {
  const std::string zone_name = tz.empty() ? "UTC" : std::string(tz);
  const date::time_zone* zone = nullptr;
  CG_RETURN_IF_ERROR(LocateZone(zone_name, &zone));
  std::string_view text = internal::Trim(spec);
  if (text.empty()) return Status::InvalidArgument("empty schedule");

  const int64_t anchor_s = internal::FloorDiv(anchor_us, kMicros);
  if (anchor_s < kMinUtcSeconds || anchor_s > kMaxUtcSeconds) {
    return Status::InvalidArgument("schedule anchor time out of range (years 1..9999)");
  }
  std::unique_ptr<LocalExpander> rule;
  try {
    const int64_t anchor_local = LocalAt(zone, anchor_s);
    if (IsRRuleText(text) || LooksLikeSeedRule(text)) {
      Result<RRuleSpec> parsed =
          IsRRuleText(text) ? ParseRRule(text, zone_name) : ParseSeedRule(text, zone_name);
      if (!parsed.ok()) return parsed.status();
      int64_t dtstart = anchor_local;
      if (parsed->dtstart_local) dtstart = *parsed->dtstart_local;
      if (parsed->dtstart_utc) {
        if (*parsed->dtstart_utc < kMinUtcSeconds || *parsed->dtstart_utc > kMaxUtcSeconds) {
          return Status::InvalidArgument("RRULE: DTSTART out of range (years 1..9999)");
        }
        dtstart = LocalAt(zone, *parsed->dtstart_utc);
      }
      Result<std::unique_ptr<RRule>> r = RRule::Create(*parsed, dtstart);
      if (!r.ok()) return r.status();
      rule = std::move(r).value();
    } else {
      Result<std::unique_ptr<CronExpr>> c = CronExpr::Parse(text);
      if (!c.ok()) return c.status();
      // A cron day pattern repeats every 400 years: nothing in that horizon, nothing ever.
      if (!(*c)->NextAtOrAfter(anchor_local)) {
        return Status::InvalidArgument("schedule never fires");
      }
      rule = std::move(c).value();
    }
  } catch (const std::exception& e) {
    // date/tz reports a broken zone database by throwing.
    return Status::InvalidArgument("time zone '" + zone_name + "': " + e.what());
  }
  return std::unique_ptr<Schedule>(new ZonedSchedule(std::move(rule), zone, zone_name));
}

}  // namespace cg::sched
