// date/tz on Windows reads IANA text tzdata and CLDR's windowsZones.xml from the
// folder "tzdata" next to the executable (copied there by the build and the MSI).
#include <windows.h>

#include <date/tz.h>

#include <mutex>
#include <string>

#include "platform/windows/utf_windows.h"
#include "service/schedule_internal.h"

namespace cg::sched::internal {

void PrepareTimeZoneDatabase() {
  static std::once_flag once;
  std::call_once(once, [] {
    std::wstring path(MAX_PATH, L'\0');
    DWORD n = GetModuleFileNameW(nullptr, path.data(), static_cast<DWORD>(path.size()));
    path.resize(n);
    size_t slash = path.find_last_of(L"\\/");
    std::wstring dir = slash == std::wstring::npos ? L"." : path.substr(0, slash);
    date::set_install(platform::ToUtf8(dir + L"\\tzdata"));
  });
}

}  // namespace cg::sched::internal
