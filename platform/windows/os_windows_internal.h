// Shared within platform/windows only.
#pragma once

#include <cstdint>
#include <string>

namespace cg::os {

// The named event a run shim waits on for a stop request (Windows has no SIGTERM).
std::wstring ShimStopEventName(int64_t pid);
// One argument quoted so that CommandLineToArgvW and the C runtime read it back.
std::wstring QuoteArgW(const std::wstring& arg);

}  // namespace cg::os
