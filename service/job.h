// A job's definition: what to run, when, and under which policies.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "service/status.h"

namespace cg {

// Stored in events as their numbers: never renumber.
enum class OverlapPolicy : uint8_t { kSkip = 0, kQueue = 1, kReplace = 2 };
enum class MissedPolicy : uint8_t { kSkip = 0, kOnce = 1, kAll = 2 };
enum class CommandKind : uint8_t { kArgv = 0, kShell = 1 };

const char* OverlapPolicyName(OverlapPolicy p);
const char* MissedPolicyName(MissedPolicy p);
Result<OverlapPolicy> ParseOverlapPolicy(std::string_view s);
Result<MissedPolicy> ParseMissedPolicy(std::string_view s);

constexpr size_t kMaxJobNameLength = 100;

struct JobSpec {
  std::string name;
  CommandKind command_kind = CommandKind::kArgv;
  std::vector<std::string> argv;  // kArgv: executed directly, argv[0] is the program
  std::string shell;              // kShell: a command line for /bin/sh -c (cmd /c on Windows)
  std::string schedule;           // as given by the operator
  std::string time_zone = "UTC";  // IANA name
  std::string working_dir;        // empty: the service's default
  std::vector<std::pair<std::string, std::string>> env;  // additions, in order given
  int64_t timeout_ms = 0;         // 0: no timeout
  OverlapPolicy overlap = OverlapPolicy::kSkip;
  MissedPolicy missed = MissedPolicy::kOnce;
  bool enabled = true;
  std::string run_as_user;        // empty: the service's user
  bool fail_on_stderr = false;
  std::string description;

  bool operator==(const JobSpec& o) const;
  bool operator!=(const JobSpec& o) const { return !(*this == o); }

  // The command as one line for people: the shell line, or the argv quoted where needed.
  std::string CommandLine() const;

  template <class Archive>
  void serialize(Archive& ar, std::uint32_t const /*version*/) {
    ar(name, command_kind, argv, shell, schedule, time_zone, working_dir, env, timeout_ms,
       overlap, missed, enabled, run_as_user, fail_on_stderr, description);
  }
};

// InvalidArgument naming the problem when `name` is empty, too long or has a character
// other than letters, digits, '-', '_' and '.'.
Status ValidateJobName(std::string_view name);

// Checks every field of `spec` that can be checked without the job table: the name,
// a non-empty command, the schedule (parsed in its zone), the time zone, the
// environment keys, the timeout. `now_us` anchors RRULEs that have no DTSTART.
Status ValidateJobSpec(const JobSpec& spec, int64_t now_us);

}  // namespace cg
