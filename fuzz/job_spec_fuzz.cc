// Fuzzes job spec validation (ValidateJobName, ValidateJobSpec in service/job.cc, which
// also parses the schedule in its zone) and the stored form of a valid spec.
//
// Input: lines. 1 name, 2 schedule, 3 time zone, 4 working directory, 5 user,
// 6 description, 7 timeout in ms, 8 the command: "$LINE" is a shell line, else argv
// split at tabs; the remaining lines are environment entries KEY=VALUE.
// Properties: no crash; a valid spec has a valid name; its JobDefined event decodes to
// the same spec; CommandLine() works on anything.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <variant>

#include "fuzz/fuzz_check.h"
#include "service/events.h"
#include "service/job.h"

namespace {

std::string NextLine(std::string_view* rest) {
  size_t nl = rest->find('\n');
  std::string line(rest->substr(0, nl));
  *rest = nl == std::string_view::npos ? std::string_view() : rest->substr(nl + 1);
  return line;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > 8192) return 0;
  std::string_view rest(reinterpret_cast<const char*>(data), size);
  cg::JobSpec spec;
  spec.name = NextLine(&rest);
  spec.schedule = NextLine(&rest);
  spec.time_zone = NextLine(&rest);
  spec.working_dir = NextLine(&rest);
  spec.run_as_user = NextLine(&rest);
  spec.description = NextLine(&rest);
  spec.timeout_ms = std::strtoll(NextLine(&rest).c_str(), nullptr, 10);
  std::string command = NextLine(&rest);
  if (!command.empty() && command[0] == '$') {
    spec.command_kind = cg::CommandKind::kShell;
    spec.shell = command.substr(1);
  } else {
    size_t start = 0;
    while (start <= command.size() && !command.empty()) {
      size_t tab = command.find('\t', start);
      spec.argv.push_back(command.substr(start, tab - start));
      if (tab == std::string::npos) break;
      start = tab + 1;
    }
  }
  while (!rest.empty()) {
    std::string entry = NextLine(&rest);
    size_t eq = entry.find('=');
    spec.env.emplace_back(entry.substr(0, eq),
                          eq == std::string::npos ? std::string() : entry.substr(eq + 1));
  }

  (void)spec.CommandLine();
  cg::Status name_ok = cg::ValidateJobName(spec.name);
  const int64_t now = 1795774524000000;  // 2026-11-27T10:15:24Z
  cg::Status st = cg::ValidateJobSpec(spec, now);
  if (!st.ok()) {
    FUZZ_CHECK(st.IsInvalidArgument(), "%s", st.ToString().c_str());
    return 0;
  }
  FUZZ_CHECK(name_ok.ok(), "spec valid with an invalid name: %s", name_ok.ToString().c_str());
  FUZZ_CHECK(spec.name.find_first_of(" /\\\n\t\0", 0, 6) == std::string::npos,
             "a valid name has no separators or spaces");

  auto decoded = cg::DecodePayload(static_cast<uint16_t>(cg::EventType::kJobDefined),
                                   cg::EncodePayload(cg::JobDefined{spec}));
  FUZZ_CHECK(decoded.ok(), "JobDefined does not decode: %s",
             decoded.status().ToString().c_str());
  const auto* back = std::get_if<cg::JobDefined>(&*decoded);
  FUZZ_CHECK(back && back->spec == spec, "JobDefined does not round-trip");
  return 0;
}
