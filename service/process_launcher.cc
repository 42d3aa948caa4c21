#include "service/process_launcher.h"

namespace cg {
namespace {

bool HasNul(const std::string& s) { return s.find('\0') != std::string::npos; }

}  // namespace

Status ValidateLaunchSpec(const LaunchSpec& spec) {
  if (spec.argv.empty() || spec.argv[0].empty()) {
    return Status::InvalidArgument("cannot start an empty command");
  }
  for (const std::string& arg : spec.argv) {
    if (HasNul(arg)) return Status::InvalidArgument("command argument contains a NUL byte");
  }
  for (const auto& [name, value] : spec.env) {
    if (name.empty() || name.find('=') != std::string::npos || HasNul(name) || HasNul(value)) {
      return Status::InvalidArgument("invalid environment variable '" + name + "'");
    }
  }
  if (HasNul(spec.working_dir) || HasNul(spec.run_as_user)) {
    return Status::InvalidArgument("working directory or user contains a NUL byte");
  }
  return Status::OK();
}

}  // namespace cg
