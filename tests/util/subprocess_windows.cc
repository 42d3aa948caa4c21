// tests/util/subprocess.h on Windows.
#include <windows.h>

#include <cstdlib>
#include <filesystem>
#include <map>
#include <mutex>
#include <stdexcept>
#include <thread>

#include "platform/windows/os_windows_internal.h"
#include "platform/windows/utf_windows.h"
#include "tests/util/subprocess.h"

namespace cg::testing {
namespace {

std::wstring CommandLine(const std::vector<std::string>& argv) {
  std::wstring line;
  for (const auto& a : argv) {
    if (!line.empty()) line += L' ';
    line += os::QuoteArgW(platform::ToUtf16(a));
  }
  return line;
}

void ReadAll(HANDLE h, std::string* out) {
  char buf[65536];
  DWORD n = 0;
  while (ReadFile(h, buf, sizeof(buf), &n, nullptr) && n > 0) out->append(buf, n);
  CloseHandle(h);
}

std::mutex g_mu;
std::map<long, HANDLE> g_started;

int ExitCodeOf(HANDLE process) {
  WaitForSingleObject(process, INFINITE);
  DWORD code = 1;
  GetExitCodeProcess(process, &code);
  CloseHandle(process);
  return static_cast<int>(code);
}

}  // namespace

RunOutput RunProgram(const std::vector<std::string>& argv) {
  SECURITY_ATTRIBUTES sa{sizeof(sa), nullptr, TRUE};
  HANDLE out_r, out_w, err_r, err_w;
  CreatePipe(&out_r, &out_w, &sa, 0);
  CreatePipe(&err_r, &err_w, &sa, 0);
  SetHandleInformation(out_r, HANDLE_FLAG_INHERIT, 0);
  SetHandleInformation(err_r, HANDLE_FLAG_INHERIT, 0);
  HANDLE null_in = CreateFileW(L"NUL", GENERIC_READ, FILE_SHARE_READ | FILE_SHARE_WRITE, &sa,
                               OPEN_EXISTING, 0, nullptr);
  STARTUPINFOW si{};
  si.cb = sizeof(si);
  si.dwFlags = STARTF_USESTDHANDLES;
  si.hStdInput = null_in;
  si.hStdOutput = out_w;
  si.hStdError = err_w;
  PROCESS_INFORMATION pi{};
  std::wstring line = CommandLine(argv);
  RunOutput result;
  BOOL ok = CreateProcessW(platform::ToUtf16(argv[0]).c_str(), line.data(), nullptr, nullptr,
                           TRUE, CREATE_UNICODE_ENVIRONMENT, nullptr, nullptr, &si, &pi);
  CloseHandle(out_w);
  CloseHandle(err_w);
  CloseHandle(null_in);
  if (!ok) {
    CloseHandle(out_r);
    CloseHandle(err_r);
    result.err = "CreateProcessW failed: " + std::to_string(GetLastError());
    return result;
  }
  CloseHandle(pi.hThread);
  std::thread out_reader(ReadAll, out_r, &result.out);
  std::thread err_reader(ReadAll, err_r, &result.err);
  result.exit_code = ExitCodeOf(pi.hProcess);
  out_reader.join();
  err_reader.join();
  return result;
}

long StartProgram(const std::vector<std::string>& argv) {
  STARTUPINFOW si{};
  si.cb = sizeof(si);
  PROCESS_INFORMATION pi{};
  std::wstring line = CommandLine(argv);
  if (!CreateProcessW(platform::ToUtf16(argv[0]).c_str(), line.data(), nullptr, nullptr, FALSE,
                      CREATE_UNICODE_ENVIRONMENT, nullptr, nullptr, &si, &pi)) {
    return -1;
  }
  CloseHandle(pi.hThread);
  std::lock_guard<std::mutex> lock(g_mu);
  g_started[static_cast<long>(pi.dwProcessId)] = pi.hProcess;
  return static_cast<long>(pi.dwProcessId);
}

int WaitProgram(long id) {
  HANDLE h;
  {
    std::lock_guard<std::mutex> lock(g_mu);
    auto it = g_started.find(id);
    if (it == g_started.end()) return -1;
    h = it->second;
    g_started.erase(it);
  }
  return ExitCodeOf(h);
}

void SetEnv(const std::string& name, const std::string& value) {
  SetEnvironmentVariableW(platform::ToUtf16(name).c_str(),
                          value.empty() ? nullptr : platform::ToUtf16(value).c_str());
}

std::string BinPath(const std::string& name) {
  const char* dir = getenv("CG_BIN_DIR");
  return std::string(dir ? dir : ".") + "/" + name + ".exe";
}

TempDir::TempDir() {
  wchar_t base[MAX_PATH];
  GetTempPathW(MAX_PATH, base);
  for (int i = 0;; ++i) {
    std::wstring path = std::wstring(base) + L"chronograph-test-" +
                        std::to_wstring(GetCurrentProcessId()) + L"-" + std::to_wstring(GetTickCount64()) +
                        L"-" + std::to_wstring(i);
    if (CreateDirectoryW(path.c_str(), nullptr)) {
      path_ = platform::ToUtf8(path);
      return;
    }
    if (i > 100) throw std::runtime_error("cannot create a temporary directory");
  }
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(platform::ToUtf16(path_), ec);
}

}  // namespace cg::testing
