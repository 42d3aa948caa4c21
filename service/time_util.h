// Time values in the core are int64 microseconds since the Unix epoch, UTC.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "service/status.h"

namespace cg {

constexpr int64_t kMicrosPerMilli = 1000;
constexpr int64_t kMicrosPerSecond = 1000 * kMicrosPerMilli;

// Wall clock, UTC microseconds. Thread-safe.
int64_t NowMicros();

// RFC 3339 in UTC with microseconds: "2026-11-27T10:15:24.123456Z".
std::string FormatRfc3339(int64_t us);
// For people: "2026-11-27 10:15:24.123Z" (milliseconds).
std::string FormatHuman(int64_t us);

// Parses a point in time. Accepted forms:
//   RFC 3339 / ISO 8601: 2026-11-27T10:15:24Z, 2026-11-27T10:15:24.5+01:00,
//   2026-11-27 10:15[:24] (UTC), 2026-11-27 (midnight UTC), "now",
//   and a duration relative to `now_us` with a sign: -2h, +30m.
// Errors: InvalidArgument naming the text.
Result<int64_t> ParseTime(std::string_view text, int64_t now_us);

// Parses a non-negative duration into milliseconds: "90" (seconds), "500ms", "90s",
// "5m", "1h30m", "2d", "1w"; units may be combined in decreasing order.
// Errors: InvalidArgument for an empty, negative, malformed or overflowing text.
Result<int64_t> ParseDurationMillis(std::string_view text);

// "1h30m", "45s", "250ms", "0s".
std::string FormatDurationMillis(int64_t ms);

}  // namespace cg
