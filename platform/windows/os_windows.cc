// service/os.h on Windows.
#include <windows.h>
// These need windows.h first.
#include <bcrypt.h>
#include <knownfolders.h>
#include <sddl.h>
#include <shellapi.h>
#include <shlobj.h>

#include <fcntl.h>
#include <io.h>
#include <cstdio>

#include <map>
#include <mutex>

#include "platform/windows/utf_windows.h"
#include "platform/windows/os_windows_internal.h"
#include "service/os.h"

namespace cg::os {

using platform::ToUtf16;
using platform::ToUtf8;
using platform::WindowsError;

namespace {

// Closes a HANDLE when it goes out of scope (leveldb's ScopedHandle).
class ScopedHandle {
 public:
  explicit ScopedHandle(HANDLE h) : h_(h) {}
  ~ScopedHandle() {
    if (valid()) CloseHandle(h_);
  }
  ScopedHandle(const ScopedHandle&) = delete;
  ScopedHandle& operator=(const ScopedHandle&) = delete;
  bool valid() const { return h_ != nullptr && h_ != INVALID_HANDLE_VALUE; }
  HANDLE get() const { return h_; }
  HANDLE release() {
    HANDLE h = h_;
    h_ = nullptr;
    return h;
  }

 private:
  HANDLE h_;
};

// Owner-only: full control for the owner, SYSTEM and Administrators; inherited.
constexpr wchar_t kPrivateSddl[] = L"D:P(A;OICI;FA;;;OW)(A;OICI;FA;;;SY)(A;OICI;FA;;;BA)";

int64_t FileTimeToMicros(const FILETIME& ft) {
  ULARGE_INTEGER u;
  u.LowPart = ft.dwLowDateTime;
  u.HighPart = ft.dwHighDateTime;
  // 100 ns ticks since 1601-01-01.
  return static_cast<int64_t>(u.QuadPart / 10) - 11644473600LL * 1000000;
}

std::string Random(size_t n) {
  static const char kChars[] = "abcdefghijklmnopqrstuvwxyz0123456789";
  std::string bytes(n, '\0');
  BCryptGenRandom(nullptr, reinterpret_cast<PUCHAR>(bytes.data()), static_cast<ULONG>(n),
                  BCRYPT_USE_SYSTEM_PREFERRED_RNG);
  for (char& c : bytes) c = kChars[static_cast<unsigned char>(c) % 36];
  return bytes;
}

// Children started by SpawnDetached: pid -> process handle, until reaped.
std::mutex g_children_mu;
std::map<int64_t, HANDLE>& Children() {
  static auto* children = new std::map<int64_t, HANDLE>();
  return *children;
}

ReapedChild Reaped(int64_t pid, HANDLE h) {
  DWORD code = 1;
  GetExitCodeProcess(h, &code);
  CloseHandle(h);
  ReapedChild c;
  c.pid = pid;
  c.exit_code = static_cast<int>(code);
  return c;
}

}  // namespace

std::string CurrentUserName() {
  wchar_t buf[256];
  DWORD n = 256;
  if (!GetUserNameW(buf, &n)) return "unknown";
  return ToUtf8(std::wstring(buf, n > 0 ? n - 1 : 0));
}

std::string HostName() {
  wchar_t buf[256];
  DWORD n = 256;
  if (!GetComputerNameExW(ComputerNameDnsHostname, buf, &n)) return "unknown";
  return ToUtf8(std::wstring(buf, n));
}

int64_t CurrentPid() { return static_cast<int64_t>(GetCurrentProcessId()); }

std::optional<std::string> GetEnv(const std::string& name) {
  std::wstring wname = ToUtf16(name);
  DWORD n = GetEnvironmentVariableW(wname.c_str(), nullptr, 0);
  if (n == 0) return std::nullopt;
  std::wstring value(n, L'\0');
  n = GetEnvironmentVariableW(wname.c_str(), value.data(), n);
  value.resize(n);
  return ToUtf8(value);
}

std::string DefaultDataDir() {
  wchar_t* path = nullptr;
  std::string base = "C:\\ProgramData";
  if (SUCCEEDED(SHGetKnownFolderPath(FOLDERID_ProgramData, 0, nullptr, &path))) {
    base = ToUtf8(path);
  }
  CoTaskMemFree(path);
  return base + "\\Chronograph";
}

bool DirectoryExists(const std::string& path) {
  DWORD attrs = GetFileAttributesW(ToUtf16(path).c_str());
  return attrs != INVALID_FILE_ATTRIBUTES && (attrs & FILE_ATTRIBUTE_DIRECTORY);
}

Status CreatePrivateDirectory(const std::string& path) {
  if (path.empty()) return Status::InvalidArgument("empty directory path");
  for (size_t pos = path.find_first_of("\\/", 3); pos != std::string::npos;
       pos = path.find_first_of("\\/", pos + 1)) {
    std::string parent = path.substr(0, pos);
    if (!CreateDirectoryW(ToUtf16(parent).c_str(), nullptr) &&
        GetLastError() != ERROR_ALREADY_EXISTS) {
      return WindowsError("cannot create directory '" + parent + "'", GetLastError());
    }
  }
  SECURITY_ATTRIBUTES sa{sizeof(sa), nullptr, FALSE};
  PSECURITY_DESCRIPTOR sd = nullptr;
  if (ConvertStringSecurityDescriptorToSecurityDescriptorW(kPrivateSddl, SDDL_REVISION_1, &sd,
                                                           nullptr)) {
    sa.lpSecurityDescriptor = sd;
  }
  BOOL ok = CreateDirectoryW(ToUtf16(path).c_str(), &sa);
  DWORD err = GetLastError();
  if (sd) LocalFree(sd);
  if (!ok) {
    if (err != ERROR_ALREADY_EXISTS) return WindowsError("cannot create directory '" + path + "'", err);
    if (!DirectoryExists(path)) return Status::IOError("'" + path + "' exists and is not a directory");
  }
  return Status::OK();
}

Result<std::string> CreateLockFile(const std::string& dir, const std::string& prefix) {
  for (int attempt = 0; attempt < 100; ++attempt) {
    std::string path = dir + "\\" + prefix + Random(12) + ".lock";
    // CREATE_NEW: never an existing name; FILE_FLAG_OPEN_REPARSE_POINT: never a link.
    HANDLE h = CreateFileW(ToUtf16(path).c_str(), GENERIC_WRITE, FILE_SHARE_READ | FILE_SHARE_DELETE,
                           nullptr, CREATE_NEW,
                           FILE_ATTRIBUTE_NORMAL | FILE_FLAG_OPEN_REPARSE_POINT, nullptr);
    if (h != INVALID_HANDLE_VALUE) {
      CloseHandle(h);
      return path;
    }
    if (GetLastError() != ERROR_FILE_EXISTS) {
      return WindowsError("cannot create lock file '" + path + "'", GetLastError());
    }
  }
  return Status::IOError("cannot find a free lock file name in '" + dir + "'");
}

void ReleaseMappedPages(const void* inside, const std::string& /*file*/) {
  // Only a mapped view (LMDB's map is one view of data.mdb). VirtualUnlock on pages
  // that are not locked removes them from the working set (documented); it then
  // reports ERROR_NOT_LOCKED, which is expected. The pages stay in the file cache.
  // VirtualQuery describes the region from `inside` on; the view starts at its
  // AllocationBase: walk the view's regions from there.
  MEMORY_BASIC_INFORMATION mbi;
  if (VirtualQuery(inside, &mbi, sizeof mbi) == 0 || mbi.Type != MEM_MAPPED) return;
  void* const view = mbi.AllocationBase;
  const char* p = static_cast<const char*>(view);
  while (VirtualQuery(p, &mbi, sizeof mbi) != 0 && mbi.AllocationBase == view) {
    if (mbi.State == MEM_COMMIT) (void)VirtualUnlock(mbi.BaseAddress, mbi.RegionSize);
    p = static_cast<const char*>(mbi.BaseAddress) + mbi.RegionSize;
  }
}

Status TouchFile(const std::string& path) {
  ScopedHandle h(CreateFileW(ToUtf16(path).c_str(), FILE_WRITE_ATTRIBUTES,
                             FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE, nullptr,
                             OPEN_EXISTING, FILE_FLAG_OPEN_REPARSE_POINT, nullptr));
  if (!h.valid()) return WindowsError("cannot touch '" + path + "'", GetLastError());
  FILETIME now;
  GetSystemTimeAsFileTime(&now);
  if (!SetFileTime(h.get(), nullptr, nullptr, &now)) {
    return WindowsError("cannot touch '" + path + "'", GetLastError());
  }
  return Status::OK();
}

Result<int64_t> FileMtimeMicros(const std::string& path) {
  WIN32_FILE_ATTRIBUTE_DATA data;
  if (!GetFileAttributesExW(ToUtf16(path).c_str(), GetFileExInfoStandard, &data)) {
    return WindowsError("cannot stat '" + path + "'", GetLastError());
  }
  return FileTimeToMicros(data.ftLastWriteTime);
}

Result<uint64_t> FileSize(const std::string& path) {
  WIN32_FILE_ATTRIBUTE_DATA data;
  if (!GetFileAttributesExW(ToUtf16(path).c_str(), GetFileExInfoStandard, &data)) {
    return WindowsError("cannot stat '" + path + "'", GetLastError());
  }
  return (static_cast<uint64_t>(data.nFileSizeHigh) << 32) | data.nFileSizeLow;
}

Status RemoveFile(const std::string& path) {
  if (!DeleteFileW(ToUtf16(path).c_str())) {
    DWORD err = GetLastError();
    if (err != ERROR_FILE_NOT_FOUND && err != ERROR_PATH_NOT_FOUND) {
      return WindowsError("cannot remove '" + path + "'", err);
    }
  }
  return Status::OK();
}

// ---- the service lock: the pid at offset 0, an exclusive lock on byte 1024 ----

namespace {

constexpr DWORD kLockOffset = 1024;

class WindowsServiceLock final : public ServiceLock {
 public:
  explicit WindowsServiceLock(HANDLE h) : h_(h) {}
  ~WindowsServiceLock() override { CloseHandle(h_); }  // releases the lock

 private:
  HANDLE h_;
};

bool TryLock(HANDLE h) {
  OVERLAPPED ov{};
  ov.Offset = kLockOffset;
  return LockFileEx(h, LOCKFILE_EXCLUSIVE_LOCK | LOCKFILE_FAIL_IMMEDIATELY, 0, 1, 0, &ov);
}

}  // namespace

Result<std::unique_ptr<ServiceLock>> AcquireServiceLock(const std::string& path) {
  HANDLE h = CreateFileW(ToUtf16(path).c_str(), GENERIC_READ | GENERIC_WRITE,
                         FILE_SHARE_READ | FILE_SHARE_WRITE, nullptr, OPEN_ALWAYS,
                         FILE_ATTRIBUTE_NORMAL, nullptr);
  if (h == INVALID_HANDLE_VALUE) return WindowsError("cannot open '" + path + "'", GetLastError());
  if (!TryLock(h)) {
    CloseHandle(h);
    auto holder = ServiceLockHolder(path);
    return Status::Busy("another chronographd runs on this data directory (pid " +
                        (holder ? std::to_string(*holder) : std::string("unknown")) + ")");
  }
  std::string pid = std::to_string(GetCurrentProcessId()) + "\n";
  pid.resize(32, ' ');
  DWORD written = 0;
  SetFilePointer(h, 0, nullptr, FILE_BEGIN);
  WriteFile(h, pid.data(), static_cast<DWORD>(pid.size()), &written, nullptr);
  FlushFileBuffers(h);
  return std::unique_ptr<ServiceLock>(new WindowsServiceLock(h));
}

std::optional<int64_t> ServiceLockHolder(const std::string& path) {
  ScopedHandle h(CreateFileW(ToUtf16(path).c_str(), GENERIC_READ | GENERIC_WRITE,
                             FILE_SHARE_READ | FILE_SHARE_WRITE, nullptr, OPEN_EXISTING,
                             FILE_ATTRIBUTE_NORMAL, nullptr));
  if (!h.valid()) return std::nullopt;
  if (TryLock(h.get())) return std::nullopt;  // nobody holds it (closing releases ours)
  char buf[32] = {0};
  DWORD n = 0;
  ReadFile(h.get(), buf, sizeof(buf) - 1, &n, nullptr);
  return static_cast<int64_t>(std::strtoll(buf, nullptr, 10));
}

// ---- processes ----

std::vector<std::string> ProgramArguments(int, char**) {
  _setmode(_fileno(stdout), _O_BINARY);
  _setmode(_fileno(stderr), _O_BINARY);
  SetConsoleOutputCP(CP_UTF8);
  int argc = 0;
  wchar_t** wargv = CommandLineToArgvW(GetCommandLineW(), &argc);
  std::vector<std::string> args;
  for (int i = 0; i < argc; ++i) args.push_back(ToUtf8(wargv[i]));
  LocalFree(wargv);
  return args;
}

std::vector<std::string> ShellArgv(const std::string& line) {
  return {"cmd.exe", "/d", "/s", "/c", line};
}

std::string ExecutableDir() {
  std::wstring path(MAX_PATH, L'\0');
  DWORD n = GetModuleFileNameW(nullptr, path.data(), static_cast<DWORD>(path.size()));
  path.resize(n);
  size_t slash = path.find_last_of(L"\\/");
  return slash == std::wstring::npos ? "." : ToUtf8(path.substr(0, slash));
}

std::string ExecutableName(const std::string& base) { return base + ".exe"; }

// Quotes one argument the way CommandLineToArgvW and the C runtime read it back
// (libuv's quote_cmd_arg).
std::wstring QuoteArgW(const std::wstring& arg) {
  if (!arg.empty() && arg.find_first_of(L" \t\n\v\"") == std::wstring::npos) return arg;
  std::wstring out = L"\"";
  size_t backslashes = 0;
  for (wchar_t c : arg) {
    if (c == L'\\') {
      ++backslashes;
      continue;
    }
    if (c == L'"') out.append(backslashes * 2 + 1, L'\\');
    else out.append(backslashes, L'\\');
    backslashes = 0;
    out += c;
  }
  out.append(backslashes * 2, L'\\');
  return out + L"\"";
}

Result<std::pair<std::unique_ptr<Channel>, std::unique_ptr<Channel>>> NewChannelPair() {
  return Status::NotSupported("no channels on Windows: a run shim records its run's start "
                              "and end itself");
}

std::unique_ptr<Channel> ChannelFromInherited() { return nullptr; }

BOOL CreateProcessPatiently(const wchar_t* program, wchar_t* command_line, BOOL inherit,
                            DWORD flags, void* environment, const wchar_t* cwd,
                            STARTUPINFOW* startup, PROCESS_INFORMATION* info) {
  for (int attempt = 0;; ++attempt) {
    if (CreateProcessW(program, command_line, nullptr, nullptr, inherit, flags, environment,
                       cwd, startup, info)) {
      return TRUE;
    }
    const DWORD error = GetLastError();
    if (attempt == 2 || (error != ERROR_INTERNAL_ERROR && error != ERROR_NO_SYSTEM_RESOURCES)) {
      SetLastError(error);
      return FALSE;
    }
    Sleep(50);
  }
}

Result<int64_t> SpawnDetached(const std::vector<std::string>& argv, bool /*inherit_stderr*/,
                              intptr_t keep) {
  if (keep != kNoHandle) return Status::NotSupported("no channels on Windows");
  // No console and no inherited handles: the shim's diagnostics go nowhere either way.
  if (argv.empty()) return Status::InvalidArgument("empty argv");
  std::wstring cmdline;
  for (const auto& a : argv) {
    if (!cmdline.empty()) cmdline += L' ';
    cmdline += QuoteArgW(ToUtf16(a));
  }
  STARTUPINFOW si{};
  si.cb = sizeof(si);
  PROCESS_INFORMATION pi{};
  // No inherited handles; its own process group and no console, so a Ctrl-C or a stop
  // of the service does not reach the run.
  if (!CreateProcessPatiently(ToUtf16(argv[0]).c_str(), cmdline.data(), FALSE,
                              CREATE_NEW_PROCESS_GROUP | CREATE_NO_WINDOW |
                                  CREATE_UNICODE_ENVIRONMENT,
                              nullptr, nullptr, &si, &pi)) {
    return WindowsError("cannot start '" + argv[0] + "'", GetLastError());
  }
  CloseHandle(pi.hThread);
  std::lock_guard<std::mutex> lock(g_children_mu);
  Children()[pi.dwProcessId] = pi.hProcess;
  return static_cast<int64_t>(pi.dwProcessId);
}

std::vector<ReapedChild> ReapChildren() {
  std::lock_guard<std::mutex> lock(g_children_mu);
  std::vector<ReapedChild> out;
  for (auto it = Children().begin(); it != Children().end();) {
    if (WaitForSingleObject(it->second, 0) == WAIT_OBJECT_0) {
      out.push_back(Reaped(it->first, it->second));
      it = Children().erase(it);
    } else {
      ++it;
    }
  }
  return out;
}

ReapedChild WaitChild(int64_t pid) {
  HANDLE h = nullptr;
  {
    std::lock_guard<std::mutex> lock(g_children_mu);
    auto it = Children().find(pid);
    if (it == Children().end()) return ReapedChild{pid, -1, 0};
    h = it->second;
    Children().erase(it);
  }
  WaitForSingleObject(h, INFINITE);
  return Reaped(pid, h);
}

bool ProcessExists(int64_t pid) {
  ScopedHandle h(OpenProcess(SYNCHRONIZE, FALSE, static_cast<DWORD>(pid)));
  return h.valid() && WaitForSingleObject(h.get(), 0) == WAIT_TIMEOUT;
}

std::wstring ShimStopEventName(int64_t pid) {
  return L"Local\\chronograph-stop-" + std::to_wstring(pid);
}

Status RequestStop(int64_t pid) {
  // Windows has no SIGTERM: the shim waits on a named event of its own.
  ScopedHandle ev(OpenEventW(EVENT_MODIFY_STATE, FALSE, ShimStopEventName(pid).c_str()));
  if (!ev.valid()) return WindowsError("cannot signal process " + std::to_string(pid), GetLastError());
  SetEvent(ev.get());
  return Status::OK();
}

Result<std::vector<std::pair<std::string, std::string>>> JobBaseEnvironment(
    const std::string& user) {
  if (!user.empty() && _stricmp(user.c_str(), CurrentUserName().c_str()) != 0) {
    return Status::NotSupported("running a job as another user is not supported on Windows");
  }
  std::string root = GetEnv("SystemRoot").value_or("C:\\Windows");
  std::vector<std::pair<std::string, std::string>> env = {
      {"PATH", root + "\\system32;" + root + ";" + root + "\\System32\\Wbem;" + root +
                   "\\System32\\WindowsPowerShell\\v1.0"}};
  for (const char* name : {"USERPROFILE", "USERNAME", "SystemRoot", "windir", "ComSpec",
                           "PATHEXT", "TEMP", "TMP", "ProgramData"}) {
    auto v = GetEnv(name);
    if (v) env.push_back({name, *v});
  }
  return env;
}

// ---- SHA-256 through the OS's CNG (Debian has no mingw OpenSSL) ----

struct Sha256::Impl {
  BCRYPT_ALG_HANDLE alg = nullptr;
  BCRYPT_HASH_HANDLE hash = nullptr;
};

Sha256::Sha256() : impl_(new Impl) {
  BCryptOpenAlgorithmProvider(&impl_->alg, BCRYPT_SHA256_ALGORITHM, nullptr, 0);
  BCryptCreateHash(impl_->alg, &impl_->hash, nullptr, 0, nullptr, 0, 0);
}

Sha256::~Sha256() {
  if (impl_->hash) BCryptDestroyHash(impl_->hash);
  if (impl_->alg) BCryptCloseAlgorithmProvider(impl_->alg, 0);
  delete impl_;
}

void Sha256::Update(const void* data, size_t n) {
  BCryptHashData(impl_->hash, static_cast<PUCHAR>(const_cast<void*>(data)), static_cast<ULONG>(n), 0);
}

std::array<uint8_t, 32> Sha256::Final() {
  std::array<uint8_t, 32> out{};
  BCryptFinishHash(impl_->hash, out.data(), static_cast<ULONG>(out.size()), 0);
  return out;
}

}  // namespace cg::os
