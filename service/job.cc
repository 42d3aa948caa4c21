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

// Well-formed UTF-8: no stray continuation bytes, overlong forms, surrogates or values
// past U+10FFFF.
bool IsUtf8(std::string_view s) {
  static const uint32_t kMin[] = {0, 0x80, 0x800, 0x10000};
  size_t i = 0;
  while (i < s.size()) {
    unsigned char c = s[i];
    size_t n;  // continuation bytes that follow
    uint32_t cp;
    if (c < 0x80) {
      ++i;
      continue;
    } else if ((c >> 5) == 0x6) {
      n = 1;
      cp = c & 0x1f;
    } else if ((c >> 4) == 0xe) {
      n = 2;
      cp = c & 0x0f;
    } else if ((c >> 3) == 0x1e) {
      n = 3;
      cp = c & 0x07;
    } else {
      return false;
    }
    if (s.size() - i <= n) return false;
    for (size_t k = 1; k <= n; ++k) {
      unsigned char cc = s[i + k];
      if ((cc & 0xc0) != 0x80) return false;
      cp = (cp << 6) | (cc & 0x3f);
    }
    if (cp < kMin[n] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return false;
    i += n + 1;
  }
  return true;
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

namespace {

// Decodes the UTF-8 code point at name[*i], advancing *i; -1 when malformed.
int32_t NextCodePoint(std::string_view s, size_t* i) {
  size_t start = *i;
  unsigned char c = s[start];
  size_t n = c < 0x80 ? 0 : (c >> 5) == 0x6 ? 1 : (c >> 4) == 0xe ? 2 : (c >> 3) == 0x1e ? 3 : 4;
  if (n == 4 || s.size() - start <= n) return -1;
  size_t end = start + n + 1;
  if (!IsUtf8(s.substr(start, n + 1))) return -1;
  int32_t cp = n == 0 ? c : c & (0x3f >> n);
  for (size_t k = start + 1; k < end; ++k) cp = (cp << 6) | (s[k] & 0x3f);
  *i = end;
  return cp;
}

// Letters of other scripts: from U+00C0 on, except the blocks of punctuation, symbols
// and spaces (a close approximation without Unicode tables).
bool IsNonAsciiLetter(int32_t cp) {
  if (cp < 0xc0 || cp == 0xd7 || cp == 0xf7) return false;
  if (cp >= 0x2000 && cp <= 0x2bff) return false;   // punctuation, symbols, arrows, math
  if (cp >= 0x3000 && cp <= 0x303f) return false;   // CJK punctuation, ideographic space
  if (cp >= 0xfe00 && cp <= 0xfe6f) return false;   // variation selectors, small forms
  if (cp >= 0xff00 && cp <= 0xff20) return false;   // fullwidth punctuation
  if (cp >= 0xfff0) return cp >= 0x10000 && !(cp >= 0x1f000 && cp <= 0x1faff);  // no emoji
  return true;
}

// The name as it may be shown in a message: printable ASCII and well-formed UTF-8 as
// they are, anything else (invalid UTF-8, control characters such as a newline or a
// terminal escape) as \xNN, so an error never writes raw bytes to the terminal.
std::string Printable(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size();) {
    unsigned char c = s[i];
    size_t next = i;
    if (c >= 0x20 && c < 0x7f) {
      out += static_cast<char>(c);
      ++i;
    } else if (c >= 0x80 && NextCodePoint(s, &next) >= 0xa0) {
      out.append(s.substr(i, next - i));
      i = next;
    } else {
      static const char kHex[] = "0123456789ABCDEF";
      out += "\\x";
      out += kHex[c >> 4];
      out += kHex[c & 0xf];
      ++i;
    }
  }
  return out;
}

}  // namespace

Status ValidateJobName(std::string_view name) {
  if (name.empty()) return Status::InvalidArgument("job name is empty");
  size_t length = 0;
  for (size_t i = 0; i < name.size(); ++length) {
    unsigned char c = name[i];
    bool ok;
    if (c < 0x80) {
      ok = std::isalnum(c) || c == '-' || c == '_' || c == '.';
      ++i;
    } else {
      ok = IsNonAsciiLetter(NextCodePoint(name, &i));
      if (!ok) i = name.size();
    }
    if (!ok) {
      return Status::InvalidArgument("job name '" + Printable(name) +
                                     "' has an invalid character; use letters (of any "
                                     "script), digits, '-', '_' and '.'");
    }
  }
  if (length > kMaxJobNameLength) {
    return Status::InvalidArgument("job name is " + std::to_string(length) +
                                   " characters long; at most " +
                                   std::to_string(kMaxJobNameLength) + " are allowed");
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
  // Text in the log is UTF-8 (JSON output, Windows' UTF-16 boundary depend on it).
  std::vector<std::pair<const char*, const std::string*>> texts = {
      {"the shell command", &spec.shell}, {"the schedule", &spec.schedule},
      {"the time zone", &spec.time_zone}, {"the working directory", &spec.working_dir},
      {"the user", &spec.run_as_user},    {"the description", &spec.description}};
  for (const auto& arg : spec.argv) texts.push_back({"an argument", &arg});
  for (const auto& [k, v] : spec.env) {
    texts.push_back({"an environment name", &k});
    texts.push_back({"an environment value", &v});
  }
  for (const auto& [what, text] : texts) {
    if (!IsUtf8(*text)) {
      return Status::InvalidArgument("job '" + spec.name + "': " + what + " is not valid UTF-8");
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
