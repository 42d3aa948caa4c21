// A job for the Windows end-to-end tests (no /bin/sh under wine):
//   tree_helper tree PIDFILE   starts itself as a child that writes its pid to PIDFILE
//                              and sleeps, then sleeps itself (a process tree to stop)
//   tree_helper child PIDFILE  the child
//   tree_helper say TEXT       prints TEXT (UTF-8) and the working directory, exits 0
#include <windows.h>
// After windows.h.
#include <shellapi.h>

#include <fcntl.h>
#include <io.h>

#include <cstdio>
#include <string>

#include "platform/windows/utf_windows.h"

int main() {
  int argc = 0;
  wchar_t** argv = CommandLineToArgvW(GetCommandLineW(), &argc);
  if (argc < 3) return 2;
  std::wstring mode = argv[1];
  if (mode == L"say") {
    _setmode(_fileno(stdout), _O_BINARY);
    wchar_t cwd[MAX_PATH];
    GetCurrentDirectoryW(MAX_PATH, cwd);
    std::string text = cg::platform::ToUtf8(argv[2]) + "\n" + cg::platform::ToUtf8(cwd) + "\n";
    fwrite(text.data(), 1, text.size(), stdout);
    return 0;
  }
  if (mode == L"child") {
    FILE* f = _wfopen(argv[2], L"w");
    if (!f) return 3;
    fprintf(f, "%lu", GetCurrentProcessId());
    fclose(f);
    Sleep(100000);
    return 0;
  }
  if (mode == L"tree") {
    wchar_t self[MAX_PATH];
    GetModuleFileNameW(nullptr, self, MAX_PATH);
    std::wstring line = L"\"" + std::wstring(self) + L"\" child \"" + argv[2] + L"\"";
    STARTUPINFOW si{};
    si.cb = sizeof(si);
    PROCESS_INFORMATION pi{};
    if (!CreateProcessW(self, line.data(), nullptr, nullptr, FALSE, 0, nullptr, nullptr, &si,
                        &pi)) {
      return 4;
    }
    Sleep(100000);
    return 0;
  }
  return 2;
}
