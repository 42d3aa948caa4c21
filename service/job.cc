#include "service/job.h"

#include <cctype>

#include "service/schedule.h"

namespace cg {

const char* OverlapPolicyName(OverlapPolicy p) {
  switch (p) {
    case OverlapPolicy::kSkip: return "skip";
    case OverlapPolicy::kQueue: return "queue";
    case OverlapPolicy::kReplace: return "replace";
  }
  return "unknown";
}

const char* MissedPolicyName(MissedPolicy p) {
  switch (p) {
    case MissedPolicy::kSkip: return "skip";
    case MissedPolicy::kOnce: return "once";
    case MissedPolicy::kAll: return "all";
  }
  return "unknown";
}

Result<OverlapPolicy> ParseOverlapPolicy(std::string_view s) {
  for (auto p : {OverlapPolicy::kSkip, OverlapPolicy::kQueue, OverlapPolicy::kReplace}) {
    if (s == OverlapPolicyName(p)) return p;
  }
  return Status::InvalidArgument("invalid overlap policy '" + std::string(s) +
                                 "' (use skip, queue or replace)");
}

Result<MissedPolicy> ParseMissedPolicy(std::string_view s) {
  for (auto p : {MissedPolicy::kSkip, MissedPolicy::kOnce, MissedPolicy::kAll}) {
    if (s == MissedPolicyName(p)) return p;
  }
  return Status::InvalidArgument("invalid missed-run policy '" + std::string(s) +
                                 "' (use skip, once or all)");
}

bool JobSpec::operator==(const JobSpec& o) const {
  return name == o.name && command_kind == o.command_kind && argv == o.argv &&
         shell == o.shell && schedule == o.schedule && time_zone == o.time_zone &&
         working_dir == o.working_dir && env == o.env && timeout_ms == o.timeout_ms &&
         overlap == o.overlap && missed == o.missed && enabled == o.enabled &&
         run_as_user == o.run_as_user && fail_on_stderr == o.fail_on_stderr &&
         description == o.description;
}

namespace {

std::string QuoteArg(const std::string& a) {
  bool plain = !a.empty();
  for (unsigned char c : a) {
    if (!(std::isalnum(c) || c == '/' || c == '.' || c == '-' || c == '_' || c == '=' ||
          c == ':' || c == ',' || c == '+' || c == '@' || c >= 0x80)) {
      plain = false;
      break;
    }
  }
  if (plain) return a;
  std::string out = "'";
  for (char c : a) {
    if (c == '\'') {
      out += "'\\''";
    } else {
      out += c;
    }
  }
  return out + "'";
}

}  // namespace

std::string JobSpec::CommandLine() const {
  if (command_kind == CommandKind::kShell) return shell;
  std::string out;
  for (const auto& a : argv) {
    if (!out.empty()) out += ' ';
    out += QuoteArg(a);
  }
  return out;
}

Status ValidateJobName(std::string_view name) {
  if (name.empty()) return Status::InvalidArgument("job name is empty");
  if (name.size() > kMaxJobNameLength) {
    return Status::InvalidArgument("job name is " + std::to_string(name.size()) +
                                   " characters long; at most " +
                                   std::to_string(kMaxJobNameLength) + " are allowed");
  }
  for (unsigned char c : name) {
    if (!(std::isalnum(c) || c == '-' || c == '_' || c == '.')) {
      return Status::InvalidArgument("job name '" + std::string(name) +
                                     "' has an invalid character; use letters, digits, "
                                     "'-', '_' and '.'");
    }
  }
  return Status::OK();
}

Status ValidateJobSpec(const JobSpec& spec, int64_t now_us) {
  CG_RETURN_IF_ERROR(ValidateJobName(spec.name));
  if (spec.command_kind == CommandKind::kShell) {
    if (spec.shell.find_first_not_of(" \t\r\n") == std::string::npos) {
      return Status::InvalidArgument("job '" + spec.name + "': the shell command is empty");
    }
    if (!spec.argv.empty()) {
      return Status::InvalidArgument("job '" + spec.name +
                                     "': give either --shell or a program after --, not both");
    }
  } else {
    if (spec.argv.empty() || spec.argv[0].empty()) {
      return Status::InvalidArgument("job '" + spec.name +
                                     "': the command is empty (give --shell \"LINE\" or "
                                     "-- PROGRAM [ARGS...])");
    }
  }
  for (const auto& arg : spec.argv) {
    if (arg.find('\0') != std::string::npos) {
      return Status::InvalidArgument("job '" + spec.name + "': an argument contains NUL");
    }
  }
  if (spec.schedule.find_first_not_of(" \t") == std::string::npos) {
    return Status::InvalidArgument("job '" + spec.name + "': the schedule is empty");
  }
  CG_RETURN_IF_ERROR(sched::ValidateTimeZone(spec.time_zone));
  auto parsed = sched::ParseSchedule(spec.schedule, spec.time_zone, now_us);
  if (!parsed.ok()) {
    return parsed.status().WithContext("job '" + spec.name + "': schedule '" +
                                       spec.schedule + "'");
  }
  for (const auto& [key, value] : spec.env) {
    if (key.empty() || key.find('=') != std::string::npos ||
        key.find('\0') != std::string::npos || value.find('\0') != std::string::npos) {
      return Status::InvalidArgument("job '" + spec.name + "': invalid environment entry '" +
                                     key + "=" + value + "' (use KEY=VALUE)");
    }
  }
  if (spec.timeout_ms < 0) {
    return Status::InvalidArgument("job '" + spec.name + "': the timeout is negative");
  }
  if (spec.description.size() > 4096) {
    return Status::InvalidArgument("job '" + spec.name +
                                   "': the description is longer than 4096 bytes");
  }
  return Status::OK();
}

}  // namespace cg
