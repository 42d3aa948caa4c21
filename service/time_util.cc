#include "service/time_util.h"

#include <date/date.h>

#include <cctype>
#include <chrono>
#include <limits>
#include <sstream>

namespace cg {
namespace {

using Micros = std::chrono::duration<int64_t, std::micro>;
using SysMicros = std::chrono::time_point<std::chrono::system_clock, Micros>;

// Reads exactly `n` digits at text[*pos], advancing *pos. Returns -1 on failure.
int ReadDigits(std::string_view text, size_t* pos, int n) {
  if (*pos + n > text.size()) return -1;
  int v = 0;
  for (int i = 0; i < n; ++i) {
    char c = text[*pos + i];
    if (!std::isdigit(static_cast<unsigned char>(c))) return -1;
    v = v * 10 + (c - '0');
  }
  *pos += n;
  return v;
}

// The instants ParseTime accepts: years 0000..9999, what RFC 3339 can write (so every
// accepted time prints and parses back), far from int64 overflow.
constexpr int64_t kMinTimeUs = -62167219200LL * kMicrosPerSecond;              // 0000-01-01
constexpr int64_t kMaxTimeUs = 253402300800LL * kMicrosPerSecond - 1;          // 9999-12-31

Status BadTime(std::string_view text, const char* why) {
  return Status::InvalidArgument("invalid time '" + std::string(text) + "': " + why +
                                 " (use RFC 3339 such as 2026-11-27T10:00:00Z, "
                                 "'now', or a relative -2h / +30m)");
}

}  // namespace

int64_t NowMicros() {
  return std::chrono::duration_cast<Micros>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string FormatRfc3339(int64_t us) {
  return date::format("%FT%TZ", SysMicros(Micros(us)));
}

std::string FormatHuman(int64_t us) {
  auto ms = std::chrono::floor<std::chrono::milliseconds>(SysMicros(Micros(us)));
  return date::format("%F %TZ", ms);
}

Result<int64_t> ParseTime(std::string_view text, int64_t now_us) {
  if (text.empty()) return BadTime(text, "empty");
  if (text == "now") return now_us;
  if (text[0] == '-' || text[0] == '+') {
    auto d = ParseDurationMillis(text.substr(1));
    if (!d.ok()) return BadTime(text, "bad relative duration");
    int64_t delta = *d * kMicrosPerMilli;
    // Checked before computing: now +/- a huge duration overflowed int64 (found by
    // fuzz/time_fuzz.cc: "+9223372036854775s").
    if (now_us < kMinTimeUs || now_us > kMaxTimeUs ||
        (text[0] == '-' ? delta > now_us - kMinTimeUs : delta > kMaxTimeUs - now_us)) {
      return BadTime(text, "out of range (years 0000 to 9999)");
    }
    return text[0] == '-' ? now_us - delta : now_us + delta;
  }
  size_t pos = 0;
  int year = ReadDigits(text, &pos, 4);
  if (year < 0 || pos >= text.size() || text[pos++] != '-') return BadTime(text, "expected YYYY-");
  int month = ReadDigits(text, &pos, 2);
  if (month < 0 || pos >= text.size() || text[pos++] != '-') return BadTime(text, "expected MM-");
  int day = ReadDigits(text, &pos, 2);
  if (day < 0) return BadTime(text, "expected DD");
  date::year_month_day ymd{date::year(year), date::month(month), date::day(day)};
  if (!ymd.ok()) return BadTime(text, "no such date");
  int64_t hh = 0, mm = 0, ss = 0, frac_us = 0, offset_s = 0;
  if (pos < text.size()) {
    if (text[pos] != 'T' && text[pos] != 't' && text[pos] != ' ') {
      return BadTime(text, "expected 'T' or ' ' after the date");
    }
    ++pos;
    hh = ReadDigits(text, &pos, 2);
    if (hh < 0 || pos >= text.size() || text[pos++] != ':') return BadTime(text, "expected HH:MM");
    mm = ReadDigits(text, &pos, 2);
    if (mm < 0) return BadTime(text, "expected HH:MM");
    if (pos < text.size() && text[pos] == ':') {
      ++pos;
      ss = ReadDigits(text, &pos, 2);
      if (ss < 0) return BadTime(text, "expected seconds");
      if (pos < text.size() && (text[pos] == '.' || text[pos] == ',')) {
        ++pos;
        int digits = 0;
        int64_t scale = 100000;
        while (pos < text.size() && std::isdigit(static_cast<unsigned char>(text[pos]))) {
          if (digits < 6) frac_us += (text[pos] - '0') * scale;
          scale /= 10;
          ++digits;
          ++pos;
        }
        if (digits == 0) return BadTime(text, "empty fraction");
      }
    }
    if (hh > 23 || mm > 59 || ss > 60) return BadTime(text, "time of day out of range");
    if (pos < text.size()) {
      char z = text[pos];
      if (z == 'Z' || z == 'z') {
        ++pos;
      } else if (z == '+' || z == '-') {
        ++pos;
        int oh = ReadDigits(text, &pos, 2);
        if (oh < 0) return BadTime(text, "bad offset");
        if (pos < text.size() && text[pos] == ':') ++pos;
        int om = ReadDigits(text, &pos, 2);
        if (om < 0 || oh > 23 || om > 59) return BadTime(text, "bad offset");
        offset_s = (oh * 3600 + om * 60) * (z == '+' ? 1 : -1);
      } else {
        return BadTime(text, "unexpected text after the time");
      }
    }
  }
  if (pos != text.size()) return BadTime(text, "unexpected trailing text");
  int64_t days = date::sys_days(ymd).time_since_epoch().count();
  int64_t secs = days * 86400 + hh * 3600 + mm * 60 + ss - offset_s;
  int64_t us = secs * kMicrosPerSecond + frac_us;
  // 0000-01-01T00:00:00+01:00 is in year -1; 9999-12-31T23:59:60Z in year 10000.
  if (us < kMinTimeUs || us > kMaxTimeUs) return BadTime(text, "out of range (years 0000 to 9999)");
  return us;
}

Result<int64_t> ParseDurationMillis(std::string_view text) {
  auto bad = [&](const char* why) {
    return Status::InvalidArgument("invalid duration '" + std::string(text) + "': " + why +
                                   " (use e.g. 90s, 5m, 1h30m, 2d, 500ms)");
  };
  if (text.empty()) return bad("empty");
  if (text[0] == '-') return bad("negative");
  struct Unit {
    const char* name;
    int64_t ms;
  };
  // Longest names first so that "ms" wins over "m".
  static const Unit kUnits[] = {{"ms", 1},       {"w", 604800000}, {"d", 86400000},
                                {"h", 3600000},  {"m", 60000},     {"s", 1000}};
  int64_t total = 0;
  size_t pos = 0;
  int64_t last_unit = std::numeric_limits<int64_t>::max();
  bool any = false;
  while (pos < text.size()) {
    size_t start = pos;
    int64_t n = 0;
    while (pos < text.size() && std::isdigit(static_cast<unsigned char>(text[pos]))) {
      if (n > (std::numeric_limits<int64_t>::max() - 9) / 10) return bad("too large");
      n = n * 10 + (text[pos] - '0');
      ++pos;
    }
    if (pos == start) return bad("expected a number");
    int64_t unit_ms = 0;
    if (pos == text.size()) {
      if (any) return bad("missing unit");
      unit_ms = 1000;  // a bare number is seconds
    } else {
      for (const Unit& u : kUnits) {
        std::string_view name(u.name);
        if (text.substr(pos, name.size()) == name) {
          unit_ms = u.ms;
          pos += name.size();
          break;
        }
      }
      if (unit_ms == 0) return bad("unknown unit");
    }
    if (unit_ms >= last_unit) return bad("units must decrease (like 1h30m)");
    last_unit = unit_ms;
    if (n > std::numeric_limits<int64_t>::max() / unit_ms / 1000) return bad("too large");
    total += n * unit_ms;
    if (total > std::numeric_limits<int64_t>::max() / 1000) return bad("too large");
    any = true;
  }
  return total;
}

std::string FormatDurationMillis(int64_t ms) {
  if (ms == 0) return "0s";
  std::ostringstream out;
  struct Unit {
    const char* name;
    int64_t ms;
  };
  static const Unit kUnits[] = {{"d", 86400000}, {"h", 3600000}, {"m", 60000},
                                {"s", 1000},     {"ms", 1}};
  for (const Unit& u : kUnits) {
    if (ms >= u.ms) {
      out << ms / u.ms << u.name;
      ms %= u.ms;
    }
  }
  return out.str();
}

}  // namespace cg
