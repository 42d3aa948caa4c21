#include "service/status.h"

namespace cg {

std::string Status::ToString() const {
  const char* name = "OK";
  switch (code_) {
    case Code::kOk: return "OK";
    case Code::kNotFound: name = "Not found"; break;
    case Code::kCorruption: name = "Corruption"; break;
    case Code::kNotSupported: name = "Not supported"; break;
    case Code::kInvalidArgument: name = "Invalid argument"; break;
    case Code::kIOError: name = "IO error"; break;
    case Code::kBusy: name = "Busy"; break;
    case Code::kAlreadyExists: name = "Already exists"; break;
    case Code::kPermissionDenied: name = "Permission denied"; break;
  }
  return std::string(name) + ": " + msg_;
}

}  // namespace cg
