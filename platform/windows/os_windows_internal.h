// Shared within platform/windows only.
#pragma once

#include <cstdint>
#include <string>

#include <windows.h>

namespace cg::os {

// The named event a run shim waits on for a stop request (Windows has no SIGTERM).
std::wstring ShimStopEventName(int64_t pid);
// One argument quoted so that CommandLineToArgvW and the C runtime read it back.
std::wstring QuoteArgW(const std::wstring& arg);
// CreateProcessW, tried again (twice, 50 ms apart) after a failure the system calls its
// own, ERROR_INTERNAL_ERROR or ERROR_NO_SYSTEM_RESOURCES, when no process was made:
// wine's has returned "Internal error" to one of several threads starting processes at
// once. On failure GetLastError() is the last attempt's error.
BOOL CreateProcessPatiently(const wchar_t* program, wchar_t* command_line, BOOL inherit,
                            DWORD flags, void* environment, const wchar_t* cwd,
                            STARTUPINFOW* startup, PROCESS_INFORMATION* info);

}  // namespace cg::os
