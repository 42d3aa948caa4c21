// UTF-8 everywhere in the core; UTF-16 only at this boundary (STYLE.md).
#pragma once

#include <string>

#include "service/status.h"

namespace cg::platform {

std::wstring ToUtf16(const std::string& utf8);
std::string ToUtf8(const std::wstring& utf16);

// A Status for a Win32 error code (GetLastError()), translated once at the edge:
// not-found errors to NotFound, access errors to PermissionDenied, else IOError.
Status WindowsError(const std::string& context, unsigned long error);

}  // namespace cg::platform
