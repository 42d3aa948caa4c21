// Test helper for tests/oracle/compare.py: prints the fires of schedules.
//
// Reads lines "SPEC<TAB>TZ<TAB>ANCHOR_RFC3339<TAB>COUNT" from stdin (in SPEC, the
// two characters "\n" stand for a line break, for a DTSTART line). For each line it
// parses SPEC in zone TZ with ANCHOR as the schedule's anchor (the DTSTART of an RRULE
// without one) and prints one line:
//   OK<TAB>fire<TAB>fire...   fire = UTC "/" local wall time "/" adjust, e.g.
//                             2026-03-29T01:00:00Z/2026-03-29T02:30:00/gap_shifted
//   ERR<TAB>message
// The fires listed are the first COUNT at or after ANCHOR.
#include <date/date.h>

#include <chrono>
#include <iostream>
#include <string>
#include <vector>

#include "service/schedule.h"
#include "service/time_util.h"

namespace {

std::string FormatSeconds(int64_t us, bool utc) {
  date::sys_seconds t{std::chrono::seconds{us / 1000000}};
  return date::format(utc ? "%FT%TZ" : "%FT%T", t);
}

std::vector<std::string> SplitTabs(const std::string& line) {
  std::vector<std::string> out;
  size_t start = 0;
  while (true) {
    size_t pos = line.find('\t', start);
    out.push_back(line.substr(start, pos == std::string::npos ? std::string::npos : pos - start));
    if (pos == std::string::npos) return out;
    start = pos + 1;
  }
}

void DumpLine(const std::string& line) {
  std::vector<std::string> f = SplitTabs(line);
  if (f.size() != 4) {
    std::cout << "ERR\texpected 4 tab-separated fields\n";
    return;
  }
  std::string spec = f[0];
  for (size_t p; (p = spec.find("\\n")) != std::string::npos;) spec.replace(p, 2, "\n");
  cg::Result<int64_t> anchor = cg::ParseTime(f[2], 0);
  if (!anchor.ok()) {
    std::cout << "ERR\t" << anchor.status().message() << "\n";
    return;
  }
  int count = std::stoi(f[3]);
  auto schedule = cg::sched::ParseSchedule(spec, f[1], *anchor);
  if (!schedule.ok()) {
    std::cout << "ERR\t" << schedule.status().message() << "\n";
    return;
  }
  std::cout << "OK";
  int64_t after = *anchor - 1;
  for (int i = 0; i < count; ++i) {
    std::optional<cg::sched::Fire> fire = (*schedule)->NextAfter(after);
    if (!fire) break;
    std::cout << '\t' << FormatSeconds(fire->at_us, true) << '/'
              << FormatSeconds(fire->local_us, false) << '/'
              << cg::sched::FireAdjustName(fire->adjust);
    after = fire->at_us;
  }
  std::cout << "\n";
}

}  // namespace

int main() {
  std::ios::sync_with_stdio(false);
  std::string line;
  while (std::getline(std::cin, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty()) continue;
    DumpLine(line);
  }
  return 0;
}
