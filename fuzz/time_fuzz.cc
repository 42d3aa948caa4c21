// Fuzzes duration and time parsing (service/time_util.cc).
//
// Input: the text to parse, as ParseDurationMillis and as ParseTime.
// Properties: no crash and no signed overflow (UBSan); a parsed duration is not
// negative and its formatted form parses back to it; a parsed time, formatted as
// RFC 3339 and parsed again, is the same instant.
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz/fuzz_check.h"
#include "service/time_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > 1024) return 0;
  std::string_view text(reinterpret_cast<const char*>(data), size);

  auto d = cg::ParseDurationMillis(text);
  if (d.ok()) {
    FUZZ_CHECK(*d >= 0, "negative duration %lld", (long long)*d);
    std::string f = cg::FormatDurationMillis(*d);
    auto back = cg::ParseDurationMillis(f);
    FUZZ_CHECK(back.ok() && *back == *d, "'%s' -> %lld -> '%s' does not parse back",
               std::string(text).c_str(), (long long)*d, f.c_str());
  } else {
    FUZZ_CHECK(d.status().IsInvalidArgument(), "%s", d.status().ToString().c_str());
  }

  const int64_t now = 1795774524123456;  // 2026-11-27T10:15:24.123456Z
  for (int64_t n : {now, int64_t{0}}) {
    auto t = cg::ParseTime(text, n);
    if (!t.ok()) {
      FUZZ_CHECK(t.status().IsInvalidArgument(), "%s", t.status().ToString().c_str());
      continue;
    }
    std::string f = cg::FormatRfc3339(*t);
    auto back = cg::ParseTime(f, n);
    FUZZ_CHECK(back.ok() && *back == *t, "'%s' -> %lld -> '%s' does not parse back",
               std::string(text).c_str(), (long long)*t, f.c_str());
    (void)cg::FormatHuman(*t);
  }
  return 0;
}
