#include "service/cron_expr.h"

#include <algorithm>
#include <cctype>
#include <string>
#include <vector>

namespace cg::sched {
namespace {

using internal::DaysFromCivil;
using internal::DaysInMonth;
using internal::FloorDiv;
using internal::kSecondsPerDay;

struct FieldSpec {
  const char* name;
  int min;
  int max;                   // the largest value accepted (7 for day-of-week)
  const char* const* names;  // 3-letter names for min, min+1, ... or nullptr
};

const char* const kMonthNames[] = {"JAN", "FEB", "MAR", "APR", "MAY", "JUN",  "JUL",
                                   "AUG", "SEP", "OCT", "NOV", "DEC", nullptr};
const char* const kWeekdayNames[] = {"SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT", nullptr};

const FieldSpec kFields[6] = {
    {"second", 0, 59, nullptr},    {"minute", 0, 59, nullptr},
    {"hour", 0, 23, nullptr},      {"day-of-month", 1, 31, nullptr},
    {"month", 1, 12, kMonthNames}, {"day-of-week", 0, 7, kWeekdayNames},
};
constexpr int kDayOfWeekField = 5;

struct Macro {
  const char* name;
  const char* expansion;
};
const Macro kMacros[] = {
    {"@yearly", "0 0 1 1 *"}, {"@annually", "0 0 1 1 *"}, {"@monthly", "0 0 1 * *"},
    {"@weekly", "0 0 * * 0"}, {"@daily", "0 0 * * *"},    {"@midnight", "0 0 * * *"},
    {"@hourly", "0 * * * *"},
};

Status FieldError(const FieldSpec& f, const std::string& what) {
  return Status::InvalidArgument(std::string("cron field '") + f.name + "': " + what);
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

std::vector<std::string_view> SplitWhitespace(std::string_view s) {
  std::vector<std::string_view> out;
  size_t i = 0;
  while (i < s.size()) {
    while (i < s.size() && std::isspace(static_cast<unsigned char>(s[i]))) ++i;
    size_t start = i;
    while (i < s.size() && !std::isspace(static_cast<unsigned char>(s[i]))) ++i;
    if (i > start) out.push_back(s.substr(start, i - start));
  }
  return out;
}

// One value of a field: a number or (month, weekday) a name.
Status ParseValue(const FieldSpec& f, std::string_view text, int* out) {
  if (text.empty()) return FieldError(f, "missing value");
  if (std::isalpha(static_cast<unsigned char>(text[0]))) {
    if (f.names != nullptr) {
      std::string upper = internal::ToUpper(text);
      for (int i = 0; f.names[i] != nullptr; ++i) {
        if (upper == f.names[i]) {
          *out = f.min + i;
          return Status::OK();
        }
      }
      return FieldError(f, "unknown name '" + std::string(text) + "'");
    }
    return FieldError(f, "'" + std::string(text) + "' is not a number");
  }
  int64_t v = 0;
  if (!internal::ParseInt(text, /*allow_sign=*/false, &v)) {
    return FieldError(f, "'" + std::string(text) + "' is not a number");
  }
  if (v < f.min || v > f.max) {
    return FieldError(f, "value " + std::to_string(v) + " out of range " + std::to_string(f.min) +
                             "-" + std::to_string(f.max));
  }
  *out = static_cast<int>(v);
  return Status::OK();
}

// Parses one field into a bit set (bit v = value v; day-of-week 7 folds onto 0).
Status ParseField(const FieldSpec& f, std::string_view text, uint64_t* bits) {
  *bits = 0;
  for (std::string_view item : Split(text, ',')) {
    if (item.empty()) return FieldError(f, "empty list item in '" + std::string(text) + "'");
    std::vector<std::string_view> parts = Split(item, '/');
    if (parts.size() > 2) return FieldError(f, "more than one '/' in '" + std::string(item) + "'");
    int64_t step = 1;
    bool has_step = parts.size() == 2;
    if (has_step) {
      if (!internal::ParseInt(parts[1], /*allow_sign=*/false, &step)) {
        return FieldError(f, "step '" + std::string(parts[1]) + "' is not a number");
      }
      if (step == 0) return FieldError(f, "step 0 in '" + std::string(item) + "'");
    }
    std::string_view base = parts[0];
    int lo = 0;
    int hi = 0;
    if (base == "*") {
      lo = f.min;
      hi = f.max;  // day-of-week 0-7, as in Vixie cron; 7 folds onto 0 below
    } else if (size_t dash = base.find('-'); dash != std::string_view::npos) {
      std::string_view end_text = base.substr(dash + 1);
      CG_RETURN_IF_ERROR(ParseValue(f, base.substr(0, dash), &lo));
      CG_RETURN_IF_ERROR(ParseValue(f, end_text, &hi));
      // SUN closing a weekday range is 7: MON-SUN, FRI-SUN.
      if (&f == &kFields[kDayOfWeekField] && hi == 0 && lo > 0 && !end_text.empty() &&
          std::isalpha(static_cast<unsigned char>(end_text[0]))) {
        hi = 7;
      }
      if (hi < lo) {
        return FieldError(f, "range '" + std::string(base) + "' is reversed");
      }
    } else {
      CG_RETURN_IF_ERROR(ParseValue(f, base, &lo));
      // "5/15" means from 5 to the end of the field (7 for day-of-week), every 15.
      hi = has_step ? f.max : lo;
    }
    for (int64_t v = lo; v <= hi; v += step) {
      int bit = (&f == &kFields[kDayOfWeekField] && v == 7) ? 0 : static_cast<int>(v);
      *bits |= uint64_t{1} << bit;
    }
  }
  return Status::OK();
}

// The lowest set bit at or above `from`, or -1.
int NextBit(uint64_t mask, int from) {
  if (from >= 64) return -1;
  uint64_t m = mask & (~uint64_t{0} << from);
  return m == 0 ? -1 : __builtin_ctzll(m);
}

}  // namespace

Result<std::unique_ptr<CronExpr>> CronExpr::Parse(std::string_view text) {
  text = internal::Trim(text);
  if (text.empty()) return Status::InvalidArgument("empty schedule");
  std::string expanded;
  if (text[0] == '@') {
    std::string lower(text);
    for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    const Macro* found = nullptr;
    for (const Macro& m : kMacros) {
      if (lower == m.name) found = &m;
    }
    if (found == nullptr) {
      if (lower == "@reboot") {
        return Status::InvalidArgument("cron: @reboot is not supported (no boot event here)");
      }
      return Status::InvalidArgument("cron: unknown macro '" + std::string(text) +
                                     "' (use @yearly @annually @monthly @weekly @daily "
                                     "@midnight @hourly)");
    }
    expanded = found->expansion;
    text = expanded;
  }
  std::vector<std::string_view> fields = SplitWhitespace(text);
  if (fields.size() == 5) {
    fields.insert(fields.begin(), std::string_view("0"));
  } else if (fields.size() != 6) {
    return Status::InvalidArgument("cron: expected 5 fields (or 6 with seconds first), got " +
                                   std::to_string(fields.size()) + " in '" + std::string(text) +
                                   "'");
  }
  std::unique_ptr<CronExpr> expr(new CronExpr());
  uint64_t bits[6];
  for (int i = 0; i < 6; ++i) {
    CG_RETURN_IF_ERROR(ParseField(kFields[i], fields[i], &bits[i]));
  }
  expr->seconds_ = bits[0];
  expr->minutes_ = bits[1];
  expr->hours_ = static_cast<uint32_t>(bits[2]);
  expr->days_ = static_cast<uint32_t>(bits[3]);
  expr->months_ = static_cast<uint32_t>(bits[4]);
  expr->weekdays_ = static_cast<uint32_t>(bits[5]);
  // Vixie cron looks at the first character only: "*/2" is "unrestricted" here.
  expr->dom_star_ = fields[3][0] == '*';
  expr->dow_star_ = fields[5][0] == '*';
  return expr;
}

bool CronExpr::DayMatches(int64_t days, int day_of_month) const {
  bool dom_ok = (days_ >> day_of_month) & 1;
  bool dow_ok = (weekdays_ >> internal::WeekdaySun0(days)) & 1;
  if (dom_star_ || dow_star_) return dom_ok && dow_ok;
  return dom_ok || dow_ok;
}

int64_t CronExpr::FirstTimeOfDayAtOrAfter(int64_t sod) const {
  int h = static_cast<int>(sod / 3600);
  int m = static_cast<int>(sod / 60 % 60);
  int s = static_cast<int>(sod % 60);
  int first_m = NextBit(minutes_, 0);
  int first_s = NextBit(seconds_, 0);
  if (NextBit(hours_, h) == h) {
    if (NextBit(minutes_, m) == m) {
      int ns = NextBit(seconds_, s);
      if (ns >= 0) return h * 3600 + m * 60 + ns;
    }
    int nm = NextBit(minutes_, m + 1);
    if (nm >= 0) return h * 3600 + nm * 60 + first_s;
  }
  int nh = NextBit(hours_, h + 1);
  if (nh < 0 || nh > 23) return -1;
  return nh * 3600 + first_m * 60 + first_s;
}

std::optional<int64_t> CronExpr::NextAtOrAfter(int64_t from_local) const {
  if (from_local < internal::kMinLocalSeconds) from_local = internal::kMinLocalSeconds;
  if (from_local > internal::kMaxLocalSeconds) return std::nullopt;
  const int64_t limit_days =
      FloorDiv(std::min(from_local + internal::kSearchHorizonSeconds, internal::kMaxLocalSeconds),
               kSecondsPerDay);
  int64_t days = FloorDiv(from_local, kSecondsPerDay);
  int64_t sod = from_local - days * kSecondsPerDay;
  internal::CivilDate c = internal::CivilFromDays(days);
  int y = c.year;
  int m = c.month;
  int d = c.day;
  while (true) {
    if (((months_ >> m) & 1) == 0) {
      // Skip to the first allowed month after this one.
      int next = NextBit(months_, m + 1);
      if (next < 0 || next > 12) {
        ++y;
        next = NextBit(months_, 1);
      }
      m = next;
      d = 1;
      sod = 0;
      if (DaysFromCivil(y, m, 1) > limit_days) return std::nullopt;
      continue;
    }
    if (d > DaysInMonth(y, m)) {
      if (++m > 12) {
        m = 1;
        ++y;
      }
      d = 1;
      sod = 0;
      if (DaysFromCivil(y, m, 1) > limit_days) return std::nullopt;
      continue;
    }
    int64_t dd = DaysFromCivil(y, m, d);
    if (dd > limit_days) return std::nullopt;
    if (DayMatches(dd, d)) {
      int64_t t = FirstTimeOfDayAtOrAfter(sod);
      if (t >= 0) return dd * kSecondsPerDay + t;
    }
    ++d;
    sod = 0;
  }
}

}  // namespace cg::sched
