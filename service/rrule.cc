#include "service/rrule.h"

#include <algorithm>
#include <cctype>
#include <numeric>
#include <string>

namespace cg::sched {
namespace {

using internal::CeilDiv;
using internal::CivilDate;
using internal::CivilFromDays;
using internal::DaysFromCivil;
using internal::DaysInMonth;
using internal::DaysInYear;
using internal::FloorDiv;
using internal::FloorMod;
using internal::kSecondsPerDay;
using internal::ToUpper;
using internal::Trim;
using internal::WeekdayMon0;

constexpr int64_t kMaxCount = 1000000;
constexpr uint64_t kSixtyBits = (uint64_t{1} << 60) - 1;  // seconds/minutes 0..59

const char* const kFreqNames[] = {"SECONDLY", "MINUTELY", "HOURLY", "DAILY",
                                  "WEEKLY",   "MONTHLY",  "YEARLY"};
const char* const kWeekdayNames[] = {"MO", "TU", "WE", "TH", "FR", "SA", "SU"};

Status Bad(const std::string& msg) { return Status::InvalidArgument("RRULE: " + msg); }

bool StartsWith(std::string_view s, std::string_view prefix) {
  return s.size() >= prefix.size() && s.substr(0, prefix.size()) == prefix;
}

std::vector<std::string_view> Split(std::string_view s, char sep) {
  std::vector<std::string_view> out;
  size_t start = 0;
  while (true) {
    size_t pos = s.find(sep, start);
    if (pos == std::string_view::npos) {
      out.push_back(s.substr(start));
      return out;
    }
    out.push_back(s.substr(start, pos - start));
    start = pos + 1;
  }
}

int FreqFromName(std::string_view upper) {
  for (int i = 0; i < 7; ++i) {
    if (upper == kFreqNames[i]) return i;
  }
  return -1;
}

int WeekdayFromName(std::string_view upper) {
  for (int i = 0; i < 7; ++i) {
    if (upper == kWeekdayNames[i]) return i;
  }
  return -1;
}

// "YYYYMMDD", "YYYYMMDDTHHMMSS" or "YYYYMMDDTHHMMSSZ" (RFC 5545 DATE / DATE-TIME).
// A date alone is midnight (`*date_only` set).
bool ParseDateTime(std::string_view v, int64_t* secs, bool* utc, bool* date_only) {
  auto digits = [&](size_t pos, size_t n, int* out) {
    int64_t x = 0;
    if (pos + n > v.size() || !internal::ParseInt(v.substr(pos, n), false, &x)) return false;
    *out = static_cast<int>(x);
    return true;
  };
  int y, mo, d, h = 0, mi = 0, s = 0;
  *utc = false;
  *date_only = v.size() == 8;
  if (v.size() != 8 && v.size() != 15 && v.size() != 16) return false;
  if (!digits(0, 4, &y) || !digits(4, 2, &mo) || !digits(6, 2, &d)) return false;
  if (v.size() >= 15) {
    if (v[8] != 'T' && v[8] != 't') return false;
    if (!digits(9, 2, &h) || !digits(11, 2, &mi) || !digits(13, 2, &s)) return false;
    if (v.size() == 16) {
      if (v[15] != 'Z' && v[15] != 'z') return false;
      *utc = true;
    }
  }
  if (y < 1 || mo < 1 || mo > 12 || d < 1 || d > DaysInMonth(y, mo) || h > 23 || mi > 59 ||
      s > 59) {
    return false;
  }
  *secs = DaysFromCivil(y, mo, d) * kSecondsPerDay + h * 3600 + mi * 60 + s;
  return true;
}

Status ParseDtstartValue(std::string_view value, RRuleSpec* spec) {
  if (spec->dtstart_local || spec->dtstart_utc) return Bad("DTSTART given twice");
  int64_t secs = 0;
  bool utc = false, date_only = false;
  if (!ParseDateTime(value, &secs, &utc, &date_only)) {
    return Bad("DTSTART value '" + std::string(value) +
               "' (expected YYYYMMDDTHHMMSS, local time in the job's zone, or ...Z for UTC)");
  }
  (utc ? spec->dtstart_utc : spec->dtstart_local) = secs;
  return Status::OK();
}

// Comma list of integers. With `signed_range`, values are +-lo..hi except 0.
Status ParseIntList(const std::string& part, std::string_view value, int lo, int hi,
                    bool signed_range, std::vector<int>* out) {
  out->clear();
  for (std::string_view item : Split(value, ',')) {
    item = Trim(item);
    int64_t v = 0;
    std::string range = signed_range ? std::to_string(lo) + ".." + std::to_string(hi) + " or -" +
                                           std::to_string(hi) + "..-" + std::to_string(lo)
                                     : std::to_string(lo) + ".." + std::to_string(hi);
    if (!internal::ParseInt(item, signed_range, &v)) {
      return Bad(part + " value '" + std::string(item) + "' is not a number (expected " + range +
                 ")");
    }
    bool ok =
        signed_range ? (v != 0 && std::abs(v) >= lo && std::abs(v) <= hi) : (v >= lo && v <= hi);
    if (!ok) return Bad(part + " value '" + std::string(item) + "' out of range " + range);
    out->push_back(static_cast<int>(v));
  }
  std::sort(out->begin(), out->end());
  out->erase(std::unique(out->begin(), out->end()), out->end());
  return Status::OK();
}

Status ParseByDay(std::string_view value, std::vector<WeekdayNum>* out) {
  out->clear();
  for (std::string_view item : Split(value, ',')) {
    item = Trim(item);
    auto bad = [&] {
      return Bad("BYDAY value '" + std::string(item) +
                 "' (expected MO..SU, optionally with an ordinal such as 2TU or -1FR)");
    };
    if (item.size() < 2) return bad();
    int wd = WeekdayFromName(ToUpper(item.substr(item.size() - 2)));
    if (wd < 0) return bad();
    std::string_view ord = item.substr(0, item.size() - 2);
    int64_t n = 0;
    if (!ord.empty()) {
      if (!internal::ParseInt(ord, true, &n) || n == 0 || n < -53 || n > 53) return bad();
    }
    WeekdayNum w{wd, static_cast<int>(n)};
    bool dup = false;
    for (const WeekdayNum& x : *out) dup |= (x.weekday == w.weekday && x.n == w.n);
    if (!dup) out->push_back(w);
  }
  return Status::OK();
}

// One NAME=VALUE part of the RRULE line.
Status ApplyPart(std::string_view part, RRuleSpec* spec, std::vector<std::string>* seen,
                 bool* have_freq) {
  size_t eq = part.find('=');
  if (eq == std::string_view::npos) {
    return Bad("part '" + std::string(part) + "' is not NAME=VALUE");
  }
  std::string name = ToUpper(Trim(part.substr(0, eq)));
  std::string_view value = Trim(part.substr(eq + 1));
  if (std::find(seen->begin(), seen->end(), name) != seen->end()) {
    return Bad("part '" + name + "' given twice");
  }
  static const char* const kKnown[] = {
      "FREQ",       "INTERVAL",  "COUNT",    "UNTIL",   "BYSECOND", "BYMINUTE", "BYHOUR", "BYDAY",
      "BYMONTHDAY", "BYYEARDAY", "BYWEEKNO", "BYMONTH", "BYSETPOS", "WKST",     "DTSTART"};
  bool known = false;
  for (const char* k : kKnown) known |= (name == k);
  if (!known) return Bad("unknown part '" + name + "'");
  seen->push_back(name);
  if (value.empty()) return Bad("empty value for '" + name + "'");

  if (name == "FREQ") {
    int f = FreqFromName(ToUpper(value));
    if (f < 0) {
      return Bad("FREQ value '" + std::string(value) +
                 "' (expected SECONDLY, MINUTELY, HOURLY, DAILY, WEEKLY, MONTHLY or YEARLY)");
    }
    spec->freq = static_cast<Freq>(f);
    *have_freq = true;
  } else if (name == "INTERVAL" || name == "COUNT") {
    int64_t v = 0;
    int64_t max = name == "COUNT" ? kMaxCount : 0x7fffffff;
    if (!internal::ParseInt(value, false, &v) || v < 1 || v > max) {
      return Bad(name + " value '" + std::string(value) + "' (expected 1.." + std::to_string(max) +
                 ")");
    }
    if (name == "COUNT") {
      spec->count = v;
    } else {
      spec->interval = v;
    }
  } else if (name == "UNTIL") {
    int64_t secs = 0;
    bool utc = false, date_only = false;
    if (!ParseDateTime(value, &secs, &utc, &date_only)) {
      return Bad("UNTIL value '" + std::string(value) +
                 "' (expected YYYYMMDD, YYYYMMDDTHHMMSS or YYYYMMDDTHHMMSSZ)");
    }
    // A date alone includes that whole (local) day.
    if (date_only) secs += kSecondsPerDay - 1;
    (utc ? spec->until_utc : spec->until_local) = secs;
  } else if (name == "BYSECOND") {
    return ParseIntList(name, value, 0, 60, false, &spec->by_second);
  } else if (name == "BYMINUTE") {
    return ParseIntList(name, value, 0, 59, false, &spec->by_minute);
  } else if (name == "BYHOUR") {
    return ParseIntList(name, value, 0, 23, false, &spec->by_hour);
  } else if (name == "BYDAY") {
    return ParseByDay(value, &spec->by_day);
  } else if (name == "BYMONTHDAY") {
    return ParseIntList(name, value, 1, 31, true, &spec->by_month_day);
  } else if (name == "BYYEARDAY") {
    return ParseIntList(name, value, 1, 366, true, &spec->by_year_day);
  } else if (name == "BYWEEKNO") {
    return ParseIntList(name, value, 1, 53, true, &spec->by_week_no);
  } else if (name == "BYMONTH") {
    return ParseIntList(name, value, 1, 12, false, &spec->by_month);
  } else if (name == "BYSETPOS") {
    return ParseIntList(name, value, 1, 366, true, &spec->by_set_pos);
  } else if (name == "WKST") {
    int wd = WeekdayFromName(ToUpper(value));
    if (wd < 0) return Bad("WKST value '" + std::string(value) + "' (expected MO..SU)");
    spec->wkst = wd;
  } else if (name == "DTSTART") {
    return ParseDtstartValue(value, spec);
  }
  return Status::OK();
}

// "DTSTART[;TZID=zone][;VALUE=DATE-TIME]:value"
Status ParseDtstartLine(std::string_view line, std::string_view tz, RRuleSpec* spec) {
  size_t colon = line.find(':');
  if (colon == std::string_view::npos) return Bad("DTSTART line without ':'");
  std::vector<std::string_view> params = Split(line.substr(0, colon), ';');
  for (size_t i = 1; i < params.size(); ++i) {
    std::string_view p = Trim(params[i]);
    size_t eq = p.find('=');
    std::string pname = ToUpper(p.substr(0, eq));
    std::string_view pvalue = eq == std::string_view::npos ? "" : p.substr(eq + 1);
    if (pname == "TZID") {
      if (pvalue != tz) {
        return Bad("DTSTART TZID '" + std::string(pvalue) + "' differs from the job's time zone '" +
                   std::string(tz) + "'");
      }
    } else if (pname == "VALUE") {
      std::string v = ToUpper(pvalue);
      if (v != "DATE" && v != "DATE-TIME") {
        return Bad("DTSTART VALUE '" + std::string(pvalue) + "'");
      }
    } else {
      return Bad("DTSTART parameter '" + std::string(p) + "' not supported");
    }
  }
  return ParseDtstartValue(Trim(line.substr(colon + 1)), spec);
}

Status ParseRuleLine(std::string_view line, RRuleSpec* spec) {
  if (Trim(line).empty()) return Bad("FREQ is required");
  std::vector<std::string_view> parts = Split(line, ';');
  // Tolerate one trailing ';'.
  if (parts.size() > 1 && Trim(parts.back()).empty()) parts.pop_back();
  std::vector<std::string> seen;
  bool have_freq = false;
  for (std::string_view part : parts) {
    part = Trim(part);
    if (part.empty()) return Bad("empty part in '" + std::string(line) + "'");
    CG_RETURN_IF_ERROR(ApplyPart(part, spec, &seen, &have_freq));
  }
  if (!have_freq) return Bad("FREQ is required");
  if (spec->count && (spec->until_local || spec->until_utc)) {
    return Bad("COUNT and UNTIL must not both be given");
  }
  return Status::OK();
}

// The lowest set bit at or above `from`, or -1.
int NextBit(uint64_t mask, int from) {
  if (from >= 64) return -1;
  uint64_t m = mask & (~uint64_t{0} << from);
  return m == 0 ? -1 : __builtin_ctzll(m);
}

uint64_t MaskOf(const std::vector<int>& values) {
  uint64_t m = 0;
  for (int v : values) m |= uint64_t{1} << v;
  return m;
}

// RFC 5545 section 3.3.10: parts a FREQ must not have, and BYSETPOS alone.
Status CheckRfcRestrictions(const RRuleSpec& spec) {
  const Freq freq = spec.freq;
  if (!spec.by_week_no.empty() && freq != Freq::kYearly) {
    return Bad("BYWEEKNO is only allowed with FREQ=YEARLY");
  }
  if (!spec.by_year_day.empty() &&
      (freq == Freq::kDaily || freq == Freq::kWeekly || freq == Freq::kMonthly)) {
    return Bad("BYYEARDAY is not allowed with FREQ=DAILY, WEEKLY or MONTHLY");
  }
  if (!spec.by_month_day.empty() && freq == Freq::kWeekly) {
    return Bad("BYMONTHDAY is not allowed with FREQ=WEEKLY");
  }
  for (const WeekdayNum& w : spec.by_day) {
    if (w.n == 0) continue;
    std::string text = std::to_string(w.n) + kWeekdayNames[w.weekday];
    if (freq != Freq::kMonthly && freq != Freq::kYearly) {
      return Bad("BYDAY ordinal '" + text + "' needs FREQ=MONTHLY or YEARLY");
    }
    if (freq == Freq::kYearly && !spec.by_week_no.empty()) {
      return Bad("BYDAY ordinal '" + text + "' must not be combined with BYWEEKNO");
    }
  }
  if (!spec.by_set_pos.empty() && spec.by_second.empty() && spec.by_minute.empty() &&
      spec.by_hour.empty() && spec.by_day.empty() && spec.by_month_day.empty() &&
      spec.by_year_day.empty() && spec.by_week_no.empty() && spec.by_month.empty()) {
    return Bad("BYSETPOS needs another BYxxx part");
  }
  return Status::OK();
}

}  // namespace

Result<RRuleSpec> ParseRRule(std::string_view text, std::string_view tz) {
  text = Trim(text);
  if (text.empty()) return Status::InvalidArgument("empty schedule");
  if (tz.empty()) tz = "UTC";
  RRuleSpec spec;
  bool have_rule = false;
  for (std::string_view line : Split(text, '\n')) {
    line = Trim(line);
    if (line.empty()) continue;
    std::string upper = ToUpper(line);
    if (StartsWith(upper, "DTSTART:") || StartsWith(upper, "DTSTART;")) {
      CG_RETURN_IF_ERROR(ParseDtstartLine(line, tz, &spec));
      continue;
    }
    std::string_view rule = line;
    if (StartsWith(upper, "RRULE:")) {
      rule = line.substr(6);
    } else if (line.find('=') == std::string_view::npos || line.find(':') < line.find('=')) {
      return Bad("unsupported line '" + std::string(line) +
                 "' (expected an RRULE and optionally a DTSTART line)");
    }
    if (have_rule) return Bad("more than one rule line");
    have_rule = true;
    CG_RETURN_IF_ERROR(ParseRuleLine(rule, &spec));
  }
  if (!have_rule) return Bad("no rule line (expected FREQ=...)");
  return spec;
}

bool LooksLikeSeedRule(std::string_view text) {
  text = Trim(text);
  size_t end = 0;
  while (end < text.size() && std::isalpha(static_cast<unsigned char>(text[end]))) ++end;
  if (end < text.size() && !std::isspace(static_cast<unsigned char>(text[end]))) return false;
  return FreqFromName(ToUpper(text.substr(0, end))) >= 0;
}

Result<RRuleSpec> ParseSeedRule(std::string_view text, std::string_view tz) {
  text = Trim(text);
  size_t end = 0;
  while (end < text.size() && !std::isspace(static_cast<unsigned char>(text[end]))) ++end;
  std::string rule = "FREQ=" + ToUpper(text.substr(0, end));
  struct Key {
    const char* seed;
    const char* part;
  };
  static const Key kKeys[] = {
      {"interval", "INTERVAL"},   {"count", "COUNT"},       {"until", "UNTIL"},
      {"bysetpos", "BYSETPOS"},   {"bymonth", "BYMONTH"},   {"bymonthday", "BYMONTHDAY"},
      {"byyearday", "BYYEARDAY"}, {"byweekno", "BYWEEKNO"}, {"byweekday", "BYDAY"},
      {"byday", "BYDAY"},         {"byhour", "BYHOUR"},     {"byminute", "BYMINUTE"},
      {"bysecond", "BYSECOND"},   {"wkst", "WKST"},
  };
  for (std::string_view param : Split(Trim(text.substr(end)), ';')) {
    param = Trim(param);
    if (param.empty()) continue;
    size_t colon = param.find(':');
    if (colon == std::string_view::npos) {
      return Status::InvalidArgument("schedule params: '" + std::string(param) +
                                     "' is not key:value");
    }
    std::string key(Trim(param.substr(0, colon)));
    for (char& c : key) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    std::string_view value = Trim(param.substr(colon + 1));
    const Key* found = nullptr;
    for (const Key& k : kKeys) {
      if (key == k.seed) found = &k;
    }
    if (found == nullptr) {
      return Status::InvalidArgument("schedule params: unknown parameter '" + key + "'");
    }
    std::string part_value;
    if (std::string(found->part) == "BYDAY" || std::string(found->part) == "WKST") {
      // dateutil's integers 0..6 mean MO..SU.
      for (std::string_view item : Split(value, ',')) {
        item = Trim(item);
        int64_t n = 0;
        if (internal::ParseInt(item, false, &n) && n >= 0 && n <= 6) {
          item = kWeekdayNames[n];
        }
        if (!part_value.empty()) part_value += ',';
        part_value += std::string(item);
      }
    } else {
      part_value = std::string(value);
    }
    rule += ";" + std::string(found->part) + "=" + part_value;
  }
  return ParseRRule(rule, tz);
}

// --- RRule ---------------------------------------------------------------------------

Result<std::unique_ptr<RRule>> RRule::Create(const RRuleSpec& spec, int64_t dtstart_local) {
  std::unique_ptr<RRule> rule(new RRule());
  CG_RETURN_IF_ERROR(rule->Init(spec, dtstart_local));
  return rule;
}

Status RRule::Init(const RRuleSpec& spec, int64_t dtstart_local) {
  if (dtstart_local < internal::kMinLocalSeconds || dtstart_local > internal::kMaxLocalSeconds) {
    return Bad("DTSTART out of range (years 1..9999)");
  }
  CG_RETURN_IF_ERROR(CheckRfcRestrictions(spec));
  freq_ = spec.freq;
  interval_ = spec.interval;
  dtstart_ = dtstart_local;
  wkst_ = spec.wkst;
  unit_ = freq_ == Freq::kHourly     ? 3600
          : freq_ == Freq::kMinutely ? 60
          : freq_ == Freq::kSecondly ? 1
                                     : 0;
  p0_ = PeriodNumber(dtstart_);
  rhythm_ = freq_ <= Freq::kHourly && spec.by_hour.empty();
  SetDayParts(spec);
  SetTimeParts(spec);
  set_pos_ = spec.by_set_pos;
  if (spec.until_local) until_ = std::min(until_, *spec.until_local);
  if (spec.until_utc) {
    until_utc_ = spec.until_utc;
    // Local clocks run at most 14 h ahead of UTC; schedule.cc applies the exact limit.
    until_ = std::min(until_, *spec.until_utc + 26 * 3600);
  }
  if (!CanFire()) return Status::InvalidArgument("schedule never fires");
  if (spec.count) ApplyCount(*spec.count);
  return Status::OK();
}

void RRule::SetDayParts(const RRuleSpec& spec) {
  // Defaults taken from DTSTART (RFC 5545; the same as python-dateutil).
  const int64_t start_day = FloorDiv(dtstart_, kSecondsPerDay);
  const CivilDate start = CivilFromDays(start_day);
  std::vector<int> by_month = spec.by_month;
  std::vector<int> by_month_day = spec.by_month_day;
  std::vector<WeekdayNum> by_day = spec.by_day;
  if (spec.by_week_no.empty() && spec.by_year_day.empty() && spec.by_month_day.empty() &&
      spec.by_day.empty()) {
    if (freq_ == Freq::kYearly) {
      if (by_month.empty()) by_month = {start.month};
      by_month_day = {start.day};
    } else if (freq_ == Freq::kMonthly) {
      by_month_day = {start.day};
    } else if (freq_ == Freq::kWeekly) {
      by_day = {WeekdayNum{WeekdayMon0(start_day), 0}};
    }
  }
  has_month_ = !by_month.empty();
  month_mask_ = static_cast<uint32_t>(MaskOf(by_month));
  has_month_day_ = !by_month_day.empty();
  for (int d : by_month_day) (d > 0 ? month_day_pos_ : month_day_neg_).set(std::abs(d));
  has_year_day_ = !spec.by_year_day.empty();
  for (int d : spec.by_year_day) (d > 0 ? year_day_pos_ : year_day_neg_).set(std::abs(d));
  has_week_no_ = !spec.by_week_no.empty();
  for (int w : spec.by_week_no) (w > 0 ? week_no_pos_ : week_no_neg_).set(std::abs(w));
  has_day_ = !by_day.empty();
  for (const WeekdayNum& w : by_day) {
    if (w.n == 0) {
      weekday_plain_ |= 1u << w.weekday;
    } else {
      has_day_ordinal_ = true;
      (w.n > 0 ? weekday_pos_ : weekday_neg_)[w.weekday].set(std::abs(w.n));
    }
  }
  ordinal_in_month_ = freq_ == Freq::kMonthly || (freq_ == Freq::kYearly && has_month_);
}

void RRule::SetTimeParts(const RRuleSpec& spec) {
  // BYHOUR/BYMINUTE/BYSECOND expand periods longer than their unit (defaulting to
  // DTSTART's) and limit the others.
  const int64_t start_sod = FloorMod(dtstart_, kSecondsPerDay);
  std::vector<int> hours = spec.by_hour;
  std::vector<int> minutes = spec.by_minute;
  std::vector<int> seconds = spec.by_second;
  if (hours.empty() && freq_ >= Freq::kDaily) hours = {static_cast<int>(start_sod / 3600)};
  if (minutes.empty() && freq_ >= Freq::kHourly) {
    minutes = {static_cast<int>(start_sod / 60 % 60)};
  }
  if (seconds.empty() && freq_ >= Freq::kMinutely) seconds = {static_cast<int>(start_sod % 60)};
  // Parts at or below FREQ's unit limit the period instead (below).
  if (freq_ <= Freq::kHourly) hours = {0};
  if (freq_ <= Freq::kMinutely) minutes = {0};
  if (freq_ == Freq::kSecondly) seconds = {0};
  // Offsets within a day (DAILY and coarser) or within the hour/minute/second period;
  // second 60 (allowed by RFC 5545) never exists.
  for (int h : hours) {
    for (int m : minutes) {
      for (int s : seconds) {
        if (s < 60) offsets_.push_back(h * 3600 + m * 60 + s);
      }
    }
  }
  if (freq_ <= Freq::kHourly) hour_limit_ = static_cast<uint32_t>(MaskOf(spec.by_hour));
  if (freq_ <= Freq::kMinutely) minute_limit_ = MaskOf(spec.by_minute);
  if (freq_ == Freq::kSecondly) second_limit_ = MaskOf(spec.by_second);
}

int64_t RRule::Horizon() const {
  return std::min(dtstart_ + internal::kSearchHorizonSeconds, internal::kMaxLocalSeconds);
}

bool RRule::CanFire() const {
  // Cheap proofs first.
  if (offsets_.empty()) return false;
  if (freq_ == Freq::kSecondly && second_limit_ != 0 && (second_limit_ & kSixtyBits) == 0) {
    return false;
  }
  if (freq_ <= Freq::kHourly) {
    // Period starts fall on times of day congruent to DTSTART's period start modulo
    // gcd(step, 1 day); one of them must pass the time limits.
    const int64_t step = interval_ * unit_;
    const int64_t g = std::gcd(step, kSecondsPerDay);
    bool reachable = false;
    for (int64_t sod = FloorMod(p0_ * unit_, g); sod < kSecondsPerDay && !reachable; sod += g) {
      reachable = (hour_limit_ == 0 || ((hour_limit_ >> (sod / 3600)) & 1)) &&
                  (minute_limit_ == 0 || ((minute_limit_ >> (sod / 60 % 60)) & 1)) &&
                  (second_limit_ == 0 || ((second_limit_ >> (sod % 60)) & 1));
    }
    if (!reachable) return false;
    if (!set_pos_.empty()) {
      PeriodSet probe;
      probe.bases = {0};
      ResolveSetPos(&probe);
      if (probe.picks.empty()) return false;
    }
  }
  // Then the search, ignoring COUNT and UNTIL.
  return Search(dtstart_, Horizon()).has_value();
}

void RRule::ApplyCount(int64_t count) {
  // Turns COUNT into an inclusive local limit: the COUNT-th occurrence, counted a
  // whole period at a time.
  int64_t remaining = count;
  int64_t last = dtstart_;
  int64_t k = 0;
  PeriodSet set;
  while (remaining > 0) {
    std::optional<int64_t> found = NextNonEmptyPeriod(k, Horizon(), &set);
    if (!found) break;
    const size_t n = SetSize(set);
    const size_t first = LowerBound(set, dtstart_);
    if (first < n) {
      const int64_t m = static_cast<int64_t>(n - first);
      if (m >= remaining) {
        last = SetAt(set, first + static_cast<size_t>(remaining) - 1);
        remaining = 0;
        break;
      }
      remaining -= m;
      last = SetAt(set, n - 1);
    }
    k = *found + 1;
  }
  until_ = remaining == 0 ? last : Horizon();
}

int64_t RRule::PeriodNumber(int64_t local) const {
  int64_t days = FloorDiv(local, kSecondsPerDay);
  switch (freq_) {
    case Freq::kYearly:
      return CivilFromDays(days).year;
    case Freq::kMonthly: {
      CivilDate c = CivilFromDays(days);
      return int64_t{c.year} * 12 + (c.month - 1);
    }
    case Freq::kWeekly:
      return FloorDiv(days + 3 - wkst_, 7);
    case Freq::kDaily:
      return days;
    default:
      return FloorDiv(local, unit_);
  }
}

int64_t RRule::PeriodStart(int64_t period) const {
  switch (freq_) {
    case Freq::kYearly:
      return DaysFromCivil(static_cast<int>(period), 1, 1) * kSecondsPerDay;
    case Freq::kMonthly:
      return DaysFromCivil(static_cast<int>(FloorDiv(period, 12)),
                           static_cast<int>(FloorMod(period, 12)) + 1, 1) *
             kSecondsPerDay;
    case Freq::kWeekly:
      return (period * 7 - 3 + wkst_) * kSecondsPerDay;
    case Freq::kDaily:
      return period * kSecondsPerDay;
    default:
      return period * unit_;
  }
}

void RRule::LoadYear(int year, YearInfo* info) const {
  info->year = year;
  info->loaded = true;
  info->jan1 = DaysFromCivil(year, 1, 1);
  info->length = DaysInYear(year);
  if (!has_week_no_) return;
  // Week 1 is the first week (starting on WKST) with at least 4 days in the year.
  for (int i = 0; i < 4; ++i) {
    int64_t jan1 = DaysFromCivil(year - 1 + i, 1, 1);
    int64_t delta = FloorMod(WeekdayMon0(jan1) - wkst_, 7);
    info->week1[i] = delta <= 3 ? jan1 - delta : jan1 + 7 - delta;
  }
}

bool RRule::WeekNoMatches(int64_t days, const YearInfo& info) const {
  // The week-numbering year of `days` is the calendar year, or its neighbour when the
  // day falls before week 1 or into next year's week 1.
  int i = 1;
  if (days < info.week1[1]) {
    i = 0;
  } else if (days >= info.week1[2]) {
    i = 2;
  }
  const int week = static_cast<int>((days - info.week1[i]) / 7 + 1);
  const int weeks_in_year = static_cast<int>((info.week1[i + 1] - info.week1[i]) / 7);
  return week_no_pos_[week] || week_no_neg_[weeks_in_year + 1 - week];
}

bool RRule::DayMatches(int64_t days, YearInfo* cache) const {
  CivilDate c = CivilFromDays(days);
  if (has_month_ && ((month_mask_ >> c.month) & 1) == 0) return false;
  const int dim = DaysInMonth(c.year, c.month);
  if (has_month_day_ && !month_day_pos_[c.day] && !month_day_neg_[dim + 1 - c.day]) return false;
  if (!cache->loaded || cache->year != c.year) LoadYear(c.year, cache);
  const int year_len = cache->length;
  const int doy = static_cast<int>(days - cache->jan1) + 1;
  if (has_year_day_ && !year_day_pos_[doy] && !year_day_neg_[year_len + 1 - doy]) return false;
  if (has_week_no_ && !WeekNoMatches(days, *cache)) return false;
  if (has_day_) {
    const int wd = WeekdayMon0(days);
    bool ok = (weekday_plain_ >> wd) & 1;
    if (!ok && has_day_ordinal_) {
      int from_start = ordinal_in_month_ ? (c.day - 1) / 7 + 1 : (doy - 1) / 7 + 1;
      int from_end = ordinal_in_month_ ? (dim - c.day) / 7 + 1 : (year_len - doy) / 7 + 1;
      ok = weekday_pos_[wd][from_start] || weekday_neg_[wd][from_end];
    }
    if (!ok) return false;
  }
  return true;
}

void RRule::FillDays(int64_t period, PeriodSet* set) const {
  set->bases.clear();
  int64_t first = 0;
  int64_t end = 0;
  switch (freq_) {
    case Freq::kYearly:
      first = DaysFromCivil(static_cast<int>(period), 1, 1);
      end = DaysFromCivil(static_cast<int>(period) + 1, 1, 1);
      break;
    case Freq::kMonthly: {
      int y = static_cast<int>(FloorDiv(period, 12));
      int m = static_cast<int>(FloorMod(period, 12)) + 1;
      first = DaysFromCivil(y, m, 1);
      end = first + DaysInMonth(y, m);
      break;
    }
    case Freq::kWeekly:
      first = period * 7 - 3 + wkst_;
      end = first + 7;
      break;
    default:
      first = period;
      end = period + 1;
      break;
  }
  YearInfo cache;
  if (freq_ == Freq::kYearly && has_month_) {
    // Only the months BYMONTH allows.
    const int y = static_cast<int>(period);
    for (int m = 1; m <= 12; ++m) {
      if (((month_mask_ >> m) & 1) == 0) continue;
      const int64_t month_first = DaysFromCivil(y, m, 1);
      const int64_t month_end = month_first + DaysInMonth(y, m);
      for (int64_t d = month_first; d < month_end; ++d) {
        if (DayMatches(d, &cache)) set->bases.push_back(d * kSecondsPerDay);
      }
    }
    return;
  }
  for (int64_t d = first; d < end; ++d) {
    if (DayMatches(d, &cache)) set->bases.push_back(d * kSecondsPerDay);
  }
}

void RRule::ResolveSetPos(PeriodSet* set) const {
  set->picks.clear();
  if (set_pos_.empty()) return;
  const int64_t n = static_cast<int64_t>(set->bases.size() * offsets_.size());
  for (int pos : set_pos_) {
    int64_t idx = pos > 0 ? pos - 1 : n + pos;
    if (idx >= 0 && idx < n) set->picks.push_back(idx);
  }
  std::sort(set->picks.begin(), set->picks.end());
  set->picks.erase(std::unique(set->picks.begin(), set->picks.end()), set->picks.end());
}

size_t RRule::SetSize(const PeriodSet& set) const {
  return set_pos_.empty() ? set.bases.size() * offsets_.size() : set.picks.size();
}

int64_t RRule::SetAt(const PeriodSet& set, size_t j) const {
  size_t raw = set_pos_.empty() ? j : static_cast<size_t>(set.picks[j]);
  return set.bases[raw / offsets_.size()] + offsets_[raw % offsets_.size()];
}

size_t RRule::LowerBound(const PeriodSet& set, int64_t t) const {
  size_t lo = 0;
  size_t hi = SetSize(set);
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (SetAt(set, mid) < t) {
      lo = mid + 1;
    } else {
      hi = mid;
    }
  }
  return lo;
}

std::optional<int64_t> RRule::NextNonEmptyPeriod(int64_t k, int64_t limit, PeriodSet* set) const {
  if (freq_ >= Freq::kDaily) {
    while (true) {
      const int64_t period = p0_ + k * interval_;
      // Keep the civil arithmetic inside years 1..9999.
      if (freq_ == Freq::kYearly && period > 9999) return std::nullopt;
      if (freq_ == Freq::kMonthly && period > 9999 * 12 + 11) return std::nullopt;
      if (PeriodStart(period) > limit) return std::nullopt;
      FillDays(period, set);
      ResolveSetPos(set);
      if (SetSize(*set) > 0) return k;
      ++k;
    }
  }
  // SECONDLY..HOURLY: the period is one hour/minute/second. A period whose day, hour,
  // minute or second fails a limit is skipped together with every other grid period up
  // to the next value that could pass.
  const int64_t step = interval_ * unit_;
  const int64_t base = p0_ * unit_;
  const bool has_day_parts =
      has_month_ || has_month_day_ || has_year_day_ || has_week_no_ || has_day_;
  auto jump_to = [&](int64_t target) { k = std::max(k + 1, CeilDiv(target - base, step)); };
  YearInfo cache;
  while (true) {
    const int64_t t = base + k * step;
    if (t > limit) return std::nullopt;
    const int64_t day = FloorDiv(t, kSecondsPerDay);
    const int64_t day_start = day * kSecondsPerDay;
    if (has_day_parts && !DayMatches(day, &cache)) {
      jump_to(day_start + kSecondsPerDay);
      continue;
    }
    const int64_t sod = t - day_start;
    const int h = static_cast<int>(sod / 3600);
    if (hour_limit_ != 0 && ((hour_limit_ >> h) & 1) == 0) {
      int next = NextBit(hour_limit_, h + 1);
      jump_to(next >= 0 ? day_start + next * 3600 : day_start + kSecondsPerDay);
      continue;
    }
    const int m = static_cast<int>(sod / 60 % 60);
    if (minute_limit_ != 0 && ((minute_limit_ >> m) & 1) == 0) {
      int next = NextBit(minute_limit_, m + 1);
      const int64_t hour_start = day_start + h * 3600;
      jump_to(next >= 0 ? hour_start + next * 60 : hour_start + 3600);
      continue;
    }
    const int s = static_cast<int>(sod % 60);
    if (second_limit_ != 0 && ((second_limit_ >> s) & 1) == 0) {
      int next = NextBit(second_limit_ & kSixtyBits, s + 1);
      const int64_t minute_start = t - s;
      jump_to(next >= 0 ? minute_start + next : minute_start + 60);
      continue;
    }
    set->bases.assign(1, t);
    ResolveSetPos(set);
    if (SetSize(*set) > 0) return k;
    ++k;
  }
}

std::optional<int64_t> RRule::Search(int64_t from, int64_t limit) const {
  if (from < dtstart_) from = dtstart_;
  if (from > limit) return std::nullopt;
  int64_t k = std::max<int64_t>(0, CeilDiv(PeriodNumber(from) - p0_, interval_));
  PeriodSet set;
  while (true) {
    std::optional<int64_t> found = NextNonEmptyPeriod(k, limit, &set);
    if (!found) return std::nullopt;
    size_t j = LowerBound(set, from);
    if (j < SetSize(set)) {
      int64_t v = SetAt(set, j);
      if (v > limit) return std::nullopt;
      return v;
    }
    k = *found + 1;
  }
}

std::optional<int64_t> RRule::NextAtOrAfter(int64_t from_local) const {
  if (from_local > internal::kMaxLocalSeconds) return std::nullopt;
  from_local = std::max(from_local, dtstart_);
  int64_t limit =
      std::min({until_, from_local + internal::kSearchHorizonSeconds, internal::kMaxLocalSeconds});
  return Search(from_local, limit);
}

}  // namespace cg::sched
