// Fuzzes the schedule parsers (cron, RRULE, the seed's form: service/schedule.cc,
// cron_expr.cc, rrule.cc) and the evaluation of what parses.
//
// Input: text lines. Line 1 is the time zone (empty: UTC), line 2 the anchor as
// seconds since the epoch (empty or bad: 2026-03-01T00:00:00Z), the rest (newlines
// kept) is the schedule spec.
// Properties: parsing never crashes; a parsed schedule's fires are strictly after the
// time asked about and strictly increasing; asking just before a fire finds that fire.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "fuzz/fuzz_check.h"
#include "service/schedule.h"

namespace {

std::string_view NextLine(std::string_view* rest) {
  size_t nl = rest->find('\n');
  std::string_view line = rest->substr(0, nl);
  *rest = nl == std::string_view::npos ? std::string_view() : rest->substr(nl + 1);
  return line;
}

constexpr int64_t kUs = 1000000;

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > 4096) return 0;
  std::string_view rest(reinterpret_cast<const char*>(data), size);
  std::string tz(NextLine(&rest));
  std::string anchor_text(NextLine(&rest));
  std::string_view spec = rest;

  int64_t anchor_s = 1772323200;  // 2026-03-01T00:00:00Z
  if (!anchor_text.empty()) {
    char* end = nullptr;
    long long v = std::strtoll(anchor_text.c_str(), &end, 10);
    // Years 1970..2200: the range a job's anchor (the time it was set) can have.
    if (end && *end == '\0' && v >= 0 && v <= 7258118400LL) anchor_s = v;
  }
  const int64_t anchor_us = anchor_s * kUs;

  auto parsed = cg::sched::ParseSchedule(spec, tz, anchor_us);
  if (!parsed.ok()) {
    FUZZ_CHECK(parsed.status().IsInvalidArgument(), "parse errors are InvalidArgument: %s",
               parsed.status().ToString().c_str());
    FUZZ_CHECK(!parsed.status().message().empty(), "an error says what is wrong");
    return 0;
  }
  const cg::sched::Schedule& s = **parsed;

  // Walk a few fires from a little before the anchor, and from a point years later.
  for (int64_t from : {anchor_us - 3600 * kUs, anchor_us + 3 * 365 * 86400 * kUs + 12345}) {
    int64_t t = from;
    for (int i = 0; i < 12; ++i) {
      auto fire = s.NextAfter(t);
      if (!fire) break;
      FUZZ_CHECK(fire->at_us > t, "fire %lld not after %lld", (long long)fire->at_us,
                 (long long)t);
      // The first fire after (fire - 1us) is the same fire.
      auto same = s.NextAfter(fire->at_us - 1);
      FUZZ_CHECK(same && same->at_us == fire->at_us,
                 "NextAfter(%lld - 1) = %lld, expected the same fire", (long long)fire->at_us,
                 same ? (long long)same->at_us : -1LL);
      if (fire->adjust == cg::sched::FireAdjust::kRepeatedFirstOnly) {
        FUZZ_CHECK(fire->repeat_us > fire->at_us, "a repeated time's second pass is later");
      }
      t = fire->at_us;
    }
  }
  return 0;
}
