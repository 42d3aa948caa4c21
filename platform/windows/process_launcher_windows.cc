// service/process_launcher.h on Windows: CreateProcessW into a Job Object, after
// libuv's uv_spawn (src/win/process.c).
//
// Launch does all the work the POSIX child does between fork and execve in the
// parent, before the process exists, so that a command that cannot start is an error
// naming the cause: the program is looked up here (PATH, PATHEXT), the working
// directory is checked here, and the process is created suspended, put in a new Job
// Object with JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE and only then resumed, so that every
// process it starts is in the job (a process cannot leave a job it was born in unless
// the job allows breakaway, which ours does not).
//
// Output: stdout and stderr are anonymous pipes. Anonymous pipes cannot be waited on
// or read with overlapped I/O, so each has a reader thread doing blocking ReadFile
// into a buffer; Pump, on the caller's thread, waits on an event the readers set and
// on the process handle, and hands the buffered bytes to the sinks. A reader holds at
// most kMaxBuffered bytes: beyond that it stops reading, the pipe fills, and the job
// blocks in WriteFile, as it would on POSIX when nobody pumps.
//
// Handle inheritance: the pipes' write ends and the NUL handle are the only
// inheritable handles we create, and CreateProcessW receives exactly those through
// PROC_THREAD_ATTRIBUTE_HANDLE_LIST (it works under wine 8 too), so neither another
// Launch running concurrently nor a careless inheritable handle elsewhere in this
// process reaches the job. Other code in this process that calls CreateProcess with
// bInheritHandles=TRUE and no handle list can still catch our three handles during
// the few microseconds between their creation and the CloseHandle after launch.
//
// Stopping: Windows has no SIGTERM for an arbitrary process tree. Ctrl-Break
// (GenerateConsoleCtrlEvent) reaches only console programs sharing the caller's
// console, which a service does not have, and AttachConsole to each job is process-wide
// state, racy with several jobs. So Terminate(false) and Terminate(true) both end the
// whole job at once with TerminateJobObject; every process in it exits with code 1
// (kTerminatedExitCode, the code taskkill /F and libuv's uv_process_kill use). A polite
// stop, where one is needed, is the business of the program itself (the run shim
// waits on a named event for that reason, see os::RequestStop).

#include <windows.h>
// _beginthreadex
#include <process.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "platform/windows/os_windows_internal.h"
#include "platform/windows/utf_windows.h"
#include "service/os.h"
#include "service/process_launcher.h"
#include "service/status.h"

namespace cg {
namespace {

using platform::ToUtf16;
using platform::ToUtf8;
using platform::WindowsError;
using Clock = std::chrono::steady_clock;

// How long Pump keeps reading after the child ended while descendants hold the pipes.
constexpr std::chrono::milliseconds kDescendantGrace(1000);
// What one reader buffers before it stops reading and lets the pipe apply backpressure.
constexpr size_t kMaxBuffered = 1 << 20;
constexpr DWORD kReadChunk = 64 * 1024;
// The pipes' kernel buffer: large enough that a chatty job rarely waits for a reader.
constexpr DWORD kPipeBufferSize = 64 * 1024;
// The exit code of every process ended by Terminate or by the destructor.
constexpr UINT kTerminatedExitCode = 1;
// The destructor waits this long for a job it terminated to be gone.
constexpr DWORD kTerminateWaitMs = 10000;
// CreateProcessW's limit on lpCommandLine, in UTF-16 units with the terminating NUL.
constexpr size_t kMaxCommandLine = 32767;
constexpr const char* kDefaultPathExt = ".COM;.EXE;.BAT;.CMD";

// Owns a HANDLE (leveldb's ScopedHandle). Both null and INVALID_HANDLE_VALUE are empty.
class ScopedHandle final {
 public:
  ScopedHandle() = default;
  explicit ScopedHandle(HANDLE h) : h_(h) {}
  ~ScopedHandle() { Reset(); }
  ScopedHandle(ScopedHandle&& other) noexcept : h_(other.Release()) {}
  ScopedHandle& operator=(ScopedHandle&& other) noexcept {
    if (this != &other) {
      Reset();
      h_ = other.Release();
    }
    return *this;
  }

  HANDLE get() const { return h_; }
  bool valid() const { return h_ != nullptr && h_ != INVALID_HANDLE_VALUE; }
  HANDLE Release() { return std::exchange(h_, nullptr); }
  void Reset() {
    if (valid()) CloseHandle(h_);
    h_ = nullptr;
  }

 private:
  HANDLE h_ = nullptr;
};


// Windows compares user and environment variable names without regard to case.
bool SameNameIgnoringCase(const std::wstring& a, const std::wstring& b) {
  return CompareStringOrdinal(a.data(), static_cast<int>(a.size()), b.data(),
                              static_cast<int>(b.size()), TRUE) == CSTR_EQUAL;
}

// Another user would need a token (LogonUserW and a password, or a service account's
// S4U logon) that this service does not have; say so rather than run as ourselves.
Status CheckUser(const std::string& user) {
  if (user.empty() || SameNameIgnoringCase(ToUtf16(user), ToUtf16(os::CurrentUserName()))) {
    return Status::OK();
  }
  return Status::NotSupported("running a job as another user is not supported on Windows (user '" +
                              user + "')");
}

// ---- Paths ----------------------------------------------------------------------------

bool IsSeparator(wchar_t c) { return c == L'\\' || c == L'/'; }

// C:\x, \\server\share, \\?\...: complete paths, which do not depend on a current
// directory or drive.
bool IsAbsolute(const std::wstring& path) {
  if (path.size() >= 2 && IsSeparator(path[0]) && IsSeparator(path[1])) return true;
  return path.size() >= 3 && path[1] == L':' && IsSeparator(path[2]);
}

Result<std::wstring> FullPath(const std::wstring& path, const std::string& context) {
  DWORD n = GetFullPathNameW(path.c_str(), 0, nullptr, nullptr);
  if (n == 0) return WindowsError(context, GetLastError());
  std::wstring full(n, L'\0');
  n = GetFullPathNameW(path.c_str(), n, full.data(), nullptr);
  if (n == 0 || n >= full.size()) return WindowsError(context, GetLastError());
  full.resize(n);
  return full;
}

Result<std::wstring> CurrentDirectory() {
  DWORD n = GetCurrentDirectoryW(0, nullptr);
  if (n == 0) return WindowsError("current directory", GetLastError());
  std::wstring dir(n, L'\0');
  n = GetCurrentDirectoryW(n, dir.data());
  if (n == 0 || n >= dir.size()) return WindowsError("current directory", GetLastError());
  dir.resize(n);
  return dir;
}

// `path` as the child sees it: relative to `base` (an absolute directory) unless it is
// complete. "\x" and "C:x" keep their Windows meaning (this process's drive and
// per-drive directory), as CreateProcessW would read them.
Result<std::wstring> ResolveAgainst(const std::wstring& base, const std::wstring& path,
                                    const std::string& context) {
  if (IsAbsolute(path) || (!path.empty() && IsSeparator(path[0])) ||
      (path.size() >= 2 && path[1] == L':')) {
    return FullPath(path, context);
  }
  std::wstring joined = base;
  if (!joined.empty() && !IsSeparator(joined.back())) joined += L'\\';
  return FullPath(joined + path, context);
}

// The child's working directory, absolute (lpCurrentDirectory must be), checked here
// so that a missing one is reported as such and not as a failure of the program.
// Empty: this process's.
Result<std::wstring> ResolveWorkingDir(const std::string& working_dir) {
  if (working_dir.empty()) return CurrentDirectory();
  const std::string context = "working directory '" + working_dir + "'";
  Result<std::wstring> full = FullPath(ToUtf16(working_dir), context);
  if (!full.ok()) return full.status();
  DWORD attrs = GetFileAttributesW(full->c_str());
  if (attrs == INVALID_FILE_ATTRIBUTES) return WindowsError(context, GetLastError());
  if (!(attrs & FILE_ATTRIBUTE_DIRECTORY)) return WindowsError(context, ERROR_DIRECTORY);
  return full;
}

// ---- Program lookup -------------------------------------------------------------------

std::string StartContext(const std::string& name, const std::wstring& path) {
  std::string utf8 = ToUtf8(path);
  if (path.empty() || name == utf8) return "cannot start '" + name + "'";
  return "cannot start '" + name + "' (" + utf8 + ")";
}

// The first variable called `name` in the job's environment, compared as Windows
// does (ignoring case).
std::optional<std::string> LookupEnv(const LaunchSpec& spec, const std::string& name) {
  const std::wstring wname = ToUtf16(name);
  for (const auto& [key, value] : spec.env) {
    if (SameNameIgnoringCase(ToUtf16(key), wname)) return value;
  }
  return std::nullopt;
}

std::vector<std::wstring> Split(const std::wstring& list) {
  std::vector<std::wstring> items;
  size_t begin = 0;
  while (begin <= list.size()) {
    size_t end = list.find(L';', begin);
    if (end == std::wstring::npos) end = list.size();
    std::wstring item = list.substr(begin, end - begin);
    begin = end + 1;
    // PATH entries may be quoted ("C:\Program Files\x"), as cmd.exe accepts them.
    if (item.size() >= 2 && item.front() == L'"' && item.back() == L'"') {
      item = item.substr(1, item.size() - 2);
    }
    if (!item.empty()) items.push_back(item);
  }
  return items;
}

bool IsFile(const std::wstring& path) {
  DWORD attrs = GetFileAttributesW(path.c_str());
  return attrs != INVALID_FILE_ATTRIBUTES && !(attrs & FILE_ATTRIBUTE_DIRECTORY);
}

bool HasExtension(const std::wstring& path) {
  size_t dot = path.find_last_of(L'.');
  return dot != std::wstring::npos && path.find_first_of(L"\\/", dot) == std::wstring::npos;
}

bool EndsWithIgnoringCase(const std::wstring& s, const std::wstring& suffix) {
  return s.size() >= suffix.size() &&
         SameNameIgnoringCase(s.substr(s.size() - suffix.size()), suffix);
}

// `base` as CreateProcess would accept it: as given when it has an extension, then
// with each PATHEXT extension (libuv's search_path_join_test order). A name without
// an extension is not tried as is: Windows does not run files without one.
std::optional<std::wstring> FindWithExtensions(const std::wstring& base,
                                               const std::vector<std::wstring>& exts) {
  if (HasExtension(base) && IsFile(base)) return base;
  for (const std::wstring& ext : exts) {
    if (IsFile(base + ext)) return base + ext;
  }
  return std::nullopt;
}

// The program to run, as an absolute path. A name with a path separator (or a drive)
// is used as given, relative to the child's working directory (as after `cd` on
// POSIX); any other name is looked up in the job's PATH only (not in this program's
// directory, the current directory or the system directories, where CreateProcess
// and SearchPathW also look), so that the job runs what its PATH says.
Result<std::wstring> ResolveProgram(const LaunchSpec& spec, const std::wstring& cwd) {
  const std::string& name = spec.argv[0];
  const std::wstring wname = ToUtf16(name);
  std::optional<std::string> path_ext = LookupEnv(spec, "PATHEXT");
  if (!path_ext) path_ext = os::GetEnv("PATHEXT");
  const std::vector<std::wstring> exts = Split(ToUtf16(path_ext ? *path_ext : kDefaultPathExt));

  std::optional<std::wstring> found;
  std::string search_path;
  if (wname.find_first_of(L"\\/:") != std::wstring::npos) {
    Result<std::wstring> full = ResolveAgainst(cwd, wname, "cannot start '" + name + "'");
    if (!full.ok()) return full.status();
    found = FindWithExtensions(*full, exts);
    if (!found) return WindowsError("cannot start '" + name + "'", ERROR_FILE_NOT_FOUND);
  } else {
    std::optional<std::string> own = os::GetEnv("PATH");
    std::optional<std::string> job_path = LookupEnv(spec, "PATH");
    search_path = job_path ? *job_path : own.value_or("");
    for (const std::wstring& dir : Split(ToUtf16(search_path))) {
      Result<std::wstring> base = ResolveAgainst(cwd, dir + L"\\" + wname, "PATH");
      if (!base.ok()) continue;
      found = FindWithExtensions(*base, exts);
      if (found) break;
    }
    if (!found) {
      return Status::NotFound("cannot start '" + name + "': not found in PATH (" + search_path +
                              ")");
    }
  }
  // cmd.exe reads a batch file's arguments with its own rules, not CommandLineToArgvW's,
  // so quoting them for the C runtime would let an argument inject commands (the
  // "BatBadBut" family of bugs). Shell commands go through os::ShellArgv instead.
  if (EndsWithIgnoringCase(*found, L".bat") || EndsWithIgnoringCase(*found, L".cmd")) {
    return Status::NotSupported(StartContext(name, *found) +
                                ": a batch file must be run as a shell command (cmd.exe)");
  }
  return *found;
}

// ---- What CreateProcessW takes --------------------------------------------------------

Result<std::wstring> CommandLine(const std::vector<std::string>& argv) {
  std::wstring line;
  for (const std::string& arg : argv) {
    if (!line.empty()) line += L' ';
    line += os::QuoteArgW(ToUtf16(arg));
  }
  if (line.size() >= kMaxCommandLine) {
    return Status::InvalidArgument("command line too long for Windows (" +
                                   std::to_string(line.size()) + " UTF-16 units, at most " +
                                   std::to_string(kMaxCommandLine - 1) + ")");
  }
  return line;
}

// NAME=VALUE\0...\0\0 in UTF-16, sorted by name without regard to case, as the
// CreateProcess documentation requires of a block it is given. Windows names are
// case-insensitive, so of several spellings of one name (Path, PATH) only the first
// is kept: the one LookupEnv found PATH in, and the one getenv would return on POSIX.
std::wstring EnvironmentBlock(const std::vector<std::pair<std::string, std::string>>& env) {
  std::vector<std::pair<std::wstring, std::wstring>> vars;
  for (const auto& [name, value] : env) vars.emplace_back(ToUtf16(name), ToUtf16(value));
  std::stable_sort(vars.begin(), vars.end(), [](const auto& a, const auto& b) {
    return CompareStringOrdinal(a.first.data(), static_cast<int>(a.first.size()), b.first.data(),
                                static_cast<int>(b.first.size()), TRUE) == CSTR_LESS_THAN;
  });
  std::wstring block;
  for (size_t i = 0; i < vars.size(); ++i) {
    if (i > 0 && SameNameIgnoringCase(vars[i].first, vars[i - 1].first)) continue;
    block += vars[i].first + L"=" + vars[i].second;
    block += L'\0';
  }
  // The terminating empty string; an empty block still needs two NULs.
  if (block.empty()) block += L'\0';
  block += L'\0';
  return block;
}

// The handles the child gets: stdin from NUL, stdout and stderr on pipes. The child's
// ends are inheritable; ours are not.
struct Stdio {
  ScopedHandle null_in;
  ScopedHandle out_read;
  ScopedHandle out_write;
  ScopedHandle err_read;
  ScopedHandle err_write;
};

Status MakePipe(ScopedHandle* read, ScopedHandle* write) {
  SECURITY_ATTRIBUTES inherit{sizeof(inherit), nullptr, TRUE};
  HANDLE r = nullptr;
  HANDLE w = nullptr;
  if (!CreatePipe(&r, &w, &inherit, kPipeBufferSize)) {
    return WindowsError("CreatePipe", GetLastError());
  }
  *read = ScopedHandle(r);
  *write = ScopedHandle(w);
  if (!SetHandleInformation(r, HANDLE_FLAG_INHERIT, 0)) {
    return WindowsError("SetHandleInformation", GetLastError());
  }
  return Status::OK();
}

Result<Stdio> MakeStdio() {
  Stdio stdio;
  SECURITY_ATTRIBUTES inherit{sizeof(inherit), nullptr, TRUE};
  stdio.null_in = ScopedHandle(CreateFileW(L"NUL", GENERIC_READ, FILE_SHARE_READ | FILE_SHARE_WRITE,
                                           &inherit, OPEN_EXISTING, 0, nullptr));
  if (!stdio.null_in.valid()) return WindowsError("NUL", GetLastError());
  CG_RETURN_IF_ERROR(MakePipe(&stdio.out_read, &stdio.out_write));
  CG_RETURN_IF_ERROR(MakePipe(&stdio.err_read, &stdio.err_write));
  return stdio;
}

// A PROC_THREAD_ATTRIBUTE_LIST naming exactly the handles to inherit. `handles` must
// outlive it: the list points into the array.
class InheritList final {
 public:
  InheritList() = default;
  ~InheritList() {
    if (list_ != nullptr) DeleteProcThreadAttributeList(list_);
  }
  InheritList(const InheritList&) = delete;
  InheritList& operator=(const InheritList&) = delete;

  Status Init(HANDLE* handles, size_t count) {
    SIZE_T size = 0;
    InitializeProcThreadAttributeList(nullptr, 1, 0, &size);  // fails, reporting the size
    storage_.resize(size);
    auto* list = reinterpret_cast<LPPROC_THREAD_ATTRIBUTE_LIST>(storage_.data());
    if (!InitializeProcThreadAttributeList(list, 1, 0, &size)) {
      return WindowsError("InitializeProcThreadAttributeList", GetLastError());
    }
    list_ = list;
    if (!UpdateProcThreadAttribute(list_, 0, PROC_THREAD_ATTRIBUTE_HANDLE_LIST, handles,
                                   count * sizeof(HANDLE), nullptr, nullptr)) {
      return WindowsError("UpdateProcThreadAttribute", GetLastError());
    }
    return Status::OK();
  }
  LPPROC_THREAD_ATTRIBUTE_LIST get() const { return list_; }

 private:
  std::vector<char> storage_;
  LPPROC_THREAD_ATTRIBUTE_LIST list_ = nullptr;
};

// A new job whose processes all die when its last handle is closed: if this process
// dies, so does every job it was supervising (Launch's contract of a supervised tree).
Result<ScopedHandle> MakeJob() {
  ScopedHandle job(CreateJobObjectW(nullptr, nullptr));
  if (!job.valid()) return WindowsError("CreateJobObjectW", GetLastError());
  JOBOBJECT_EXTENDED_LIMIT_INFORMATION limits{};
  limits.BasicLimitInformation.LimitFlags = JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE;
  if (!SetInformationJobObject(job.get(), JobObjectExtendedLimitInformation, &limits,
                               sizeof(limits))) {
    return WindowsError("SetInformationJobObject", GetLastError());
  }
  return job;
}

// ---- Reading a pipe -------------------------------------------------------------------

// One reader thread on the read end of a pipe. The thread appends what it reads to a
// buffer and sets `wake` (an auto-reset event) after each read; Take hands the buffer
// over. Take and Stop are called from the pumping thread only.
class PipeReader final {
 public:
  // `wake` must outlive this reader (the owner stops the reader first).
  PipeReader(ScopedHandle pipe, HANDLE wake) : pipe_(std::move(pipe)), wake_(wake) {}
  ~PipeReader() { Stop(); }
  PipeReader(const PipeReader&) = delete;
  PipeReader& operator=(const PipeReader&) = delete;

  // Starts the thread. _beginthreadex rather than std::thread: Stop needs the Win32
  // thread handle for CancelSynchronousIo.
  Status Start() {
    uintptr_t h = _beginthreadex(nullptr, 0, &PipeReader::ThreadMain, this, 0, nullptr);
    if (h == 0) return Status::IOError("cannot start a thread to read a pipe");
    thread_ = ScopedHandle(reinterpret_cast<HANDLE>(h));
    return Status::OK();
  }

  struct Taken {
    bool ended = false;  // nothing more will come: EOF (or an error) and all handed over
    DWORD error = 0;     // a read error other than EOF, reported once
  };

  // Moves what was read so far into *data (replacing its contents).
  Taken Take(std::string* data) {
    Taken taken;
    {
      std::lock_guard<std::mutex> lock(mu_);
      data->clear();
      data->swap(buffer_);  // ping-pongs the two allocations
      taken.ended = ended_;
      taken.error = std::exchange(error_, 0);
    }
    space_.notify_one();
    return taken;
  }

  // Ends the thread whether or not the writers have closed the pipe, then closes our
  // end. What was read before stays for Take. Idempotent.
  void Stop() {
    if (!thread_.valid()) return;
    {
      std::lock_guard<std::mutex> lock(mu_);
      stopping_ = true;
    }
    space_.notify_one();
    // A ReadFile blocked on a pipe whose writer (a descendant) is alive never returns
    // by itself, and closing the handle under it does not end it. CancelSynchronousIo
    // does, but only for a read already in progress: the thread may be just about to
    // call ReadFile. It checks stopping_ before each read, so cancelling again until it
    // ends is enough.
    while (WaitForSingleObject(thread_.get(), 0) == WAIT_TIMEOUT) {
      CancelSynchronousIo(thread_.get());
      WaitForSingleObject(thread_.get(), 10);
    }
    thread_.Reset();
    pipe_.Reset();
  }

 private:
  static unsigned __stdcall ThreadMain(void* arg) {
    auto* self = static_cast<PipeReader*>(arg);
    try {
      self->Run();
    } catch (...) {  // std::bad_alloc: report it as a read error rather than die
      {
        std::lock_guard<std::mutex> lock(self->mu_);
        self->ended_ = true;
        self->error_ = ERROR_NOT_ENOUGH_MEMORY;
      }
      SetEvent(self->wake_);
    }
    return 0;
  }

  void Run() {
    std::unique_ptr<char[]> chunk(new char[kReadChunk]);
    for (;;) {
      {
        std::unique_lock<std::mutex> lock(mu_);
        space_.wait(lock, [this] { return stopping_ || buffer_.size() < kMaxBuffered; });
        if (stopping_) return;
      }
      DWORD n = 0;
      BOOL ok = ReadFile(pipe_.get(), chunk.get(), kReadChunk, &n, nullptr);
      DWORD error = ok ? 0 : GetLastError();
      {
        std::lock_guard<std::mutex> lock(mu_);
        if (n > 0) buffer_.append(chunk.get(), n);
        if (!ok) {
          if (error == ERROR_OPERATION_ABORTED && stopping_) return;  // Stop cancelled us
          // EOF on a pipe is ERROR_BROKEN_PIPE: every write end is closed. (A zero-byte
          // successful read is a zero-byte write, not EOF.)
          ended_ = true;
          if (error != ERROR_BROKEN_PIPE) error_ = error;
        }
      }
      SetEvent(wake_);
      if (!ok) return;
    }
  }

  ScopedHandle pipe_;
  const HANDLE wake_;
  ScopedHandle thread_;

  std::mutex mu_;
  std::condition_variable space_;  // buffer_ drained, or stopping_
  // All guarded by mu_.
  std::string buffer_;
  bool ended_ = false;
  DWORD error_ = 0;
  bool stopping_ = false;
};

// ---- The running child ----------------------------------------------------------------

int CeilMs(Clock::duration d) {
  if (d <= Clock::duration::zero()) return 0;
  auto ms = std::chrono::ceil<std::chrono::milliseconds>(d).count();
  return static_cast<int>(std::min<int64_t>(ms, 1 << 30));
}

class WindowsChildProcess final : public ChildProcess {
 public:
  WindowsChildProcess(DWORD pid, ScopedHandle process, ScopedHandle job, ScopedHandle wake)
      : pid_(pid), process_(std::move(process)), job_(std::move(job)), wake_(std::move(wake)) {}

  // A child still running is terminated with its whole job, and waited for. When the
  // child had already ended, what it left in the job (a daemon) is left alone, as on
  // POSIX: the job is told not to kill its processes when we close it.
  ~WindowsChildProcess() override {
    if (!exit_info_ && WaitForSingleObject(process_.get(), 0) == WAIT_TIMEOUT) {
      TerminateJobObject(job_.get(), kTerminatedExitCode);
      WaitForSingleObject(process_.get(), kTerminateWaitMs);
    } else {
      JOBOBJECT_EXTENDED_LIMIT_INFORMATION limits{};  // no KILL_ON_JOB_CLOSE
      SetInformationJobObject(job_.get(), JobObjectExtendedLimitInformation, &limits,
                              sizeof(limits));
    }
    for (auto& reader : readers_) {
      if (reader) reader->Stop();
    }
  }

  // Starts the reader threads; on failure the destructor ends the job.
  Status StartReaders(ScopedHandle out, ScopedHandle err) {
    readers_[0] = std::make_unique<PipeReader>(std::move(out), wake_.get());
    readers_[1] = std::make_unique<PipeReader>(std::move(err), wake_.get());
    for (auto& reader : readers_) CG_RETURN_IF_ERROR(reader->Start());
    return Status::OK();
  }

  int64_t pid() const override { return pid_; }

  Result<bool> Pump(int timeout_ms, OutputSink* out, OutputSink* err) override;

  // The job still exists after the child ended (we hold it), so this also reaches the
  // descendants it left, as a process group does on POSIX.
  Status Terminate(bool force) override {
    (void)force;  // no polite stop on Windows: see the comment atop this file
    if (!TerminateJobObject(job_.get(), kTerminatedExitCode)) {
      return WindowsError("cannot terminate the job of process " + std::to_string(pid_),
                          GetLastError());
    }
    return Status::OK();
  }

  std::optional<ExitInfo> exit_info() const override { return exit_info_; }

 private:
  Status CheckExit();
  Status Deliver(OutputSink* out, OutputSink* err);
  bool PipesEnded() const { return ended_[0] && ended_[1]; }

  const DWORD pid_;
  ScopedHandle process_;
  ScopedHandle job_;
  ScopedHandle wake_;  // set by the readers; declared before them, which use it
  std::unique_ptr<PipeReader> readers_[2];  // stdout, stderr
  bool ended_[2] = {false, false};          // that reader's output is all delivered
  std::string scratch_;                     // Take's buffer, reused
  std::optional<ExitInfo> exit_info_;       // set once the process has ended
  Clock::time_point exited_at_;             // when we noticed
  bool finished_ = false;                   // Pump has returned true
};

Status WindowsChildProcess::CheckExit() {
  if (exit_info_) return Status::OK();
  DWORD r = WaitForSingleObject(process_.get(), 0);
  if (r == WAIT_TIMEOUT) return Status::OK();
  if (r != WAIT_OBJECT_0) {
    return WindowsError("waiting for process " + std::to_string(pid_), GetLastError());
  }
  DWORD code = 0;
  if (!GetExitCodeProcess(process_.get(), &code)) {
    return WindowsError("exit code of process " + std::to_string(pid_), GetLastError());
  }
  ExitInfo info;
  info.exit_code = static_cast<int>(code);  // NTSTATUS codes (0xC0000005) come out negative
  info.signal = 0;
  exit_info_ = info;
  exited_at_ = Clock::now();
  return Status::OK();
}

Status WindowsChildProcess::Deliver(OutputSink* out, OutputSink* err) {
  OutputSink* sinks[2] = {out, err};
  for (int i = 0; i < 2; ++i) {
    if (ended_[i]) continue;
    PipeReader::Taken taken = readers_[i]->Take(&scratch_);
    if (!scratch_.empty() && sinks[i] != nullptr) {
      sinks[i]->Append(scratch_.data(), scratch_.size());
    }
    ended_[i] = taken.ended;
    if (taken.error != 0) {
      return WindowsError("reading the output of process " + std::to_string(pid_), taken.error);
    }
  }
  return Status::OK();
}

Result<bool> WindowsChildProcess::Pump(int timeout_ms, OutputSink* out, OutputSink* err) {
  if (finished_) return true;
  const Clock::time_point deadline =
      Clock::now() + std::chrono::milliseconds(std::max(timeout_ms, 0));
  for (;;) {
    // Exit, then output: when the pipes reached EOF by the time the exit is seen, this
    // same pass delivers the rest and returns.
    CG_RETURN_IF_ERROR(CheckExit());
    CG_RETURN_IF_ERROR(Deliver(out, err));
    const Clock::time_point now = Clock::now();
    if (exit_info_) {
      if (PipesEnded()) {
        finished_ = true;
        return true;
      }
      if (now >= exited_at_ + kDescendantGrace) {
        // A descendant (a daemon) still holds a write end. Stop reading and close our
        // ends; its next write fails with a broken pipe, which is its business.
        for (auto& reader : readers_) reader->Stop();
        Status delivered = Deliver(out, err);
        finished_ = true;
        CG_RETURN_IF_ERROR(delivered);
        return true;
      }
    }
    if (now >= deadline) return false;
    int wait_ms = CeilMs(deadline - now);
    HANDLE handles[2] = {wake_.get(), process_.get()};
    DWORD count = 2;
    if (exit_info_) {
      wait_ms = std::min(wait_ms, CeilMs(exited_at_ + kDescendantGrace - now));
      count = 1;  // the process handle stays signalled
    }
    DWORD r = WaitForMultipleObjects(count, handles, FALSE, static_cast<DWORD>(wait_ms));
    if (r == WAIT_FAILED) {
      return WindowsError("waiting for process " + std::to_string(pid_), GetLastError());
    }
  }
}

// ---- The launcher ---------------------------------------------------------------------

class WindowsProcessLauncher final : public ProcessLauncher {
 public:
  Result<std::unique_ptr<ChildProcess>> Launch(const LaunchSpec& spec) override;
};

Result<std::unique_ptr<ChildProcess>> WindowsProcessLauncher::Launch(const LaunchSpec& spec) {
  CG_RETURN_IF_ERROR(ValidateLaunchSpec(spec));
  CG_RETURN_IF_ERROR(CheckUser(spec.run_as_user));
  Result<std::wstring> cwd = ResolveWorkingDir(spec.working_dir);
  if (!cwd.ok()) return cwd.status();
  Result<std::wstring> program = ResolveProgram(spec, *cwd);
  if (!program.ok()) return program.status();
  const std::string start = StartContext(spec.argv[0], *program);
  Result<std::wstring> command_line = CommandLine(spec.argv);
  if (!command_line.ok()) return command_line.status().WithContext(start);
  std::wstring env_block = EnvironmentBlock(spec.env);

  Result<ScopedHandle> job = MakeJob();
  if (!job.ok()) return job.status().WithContext(start);
  ScopedHandle wake(CreateEventW(nullptr, FALSE, FALSE, nullptr));
  if (!wake.valid()) return WindowsError(start + ": CreateEventW", GetLastError());
  Result<Stdio> stdio = MakeStdio();
  if (!stdio.ok()) return stdio.status().WithContext(start);
  HANDLE inherited[3] = {stdio->null_in.get(), stdio->out_write.get(), stdio->err_write.get()};
  InheritList inherit_list;
  CG_RETURN_IF_ERROR(inherit_list.Init(inherited, 3).WithContext(start));

  STARTUPINFOEXW startup{};
  startup.StartupInfo.cb = sizeof(startup);
  startup.StartupInfo.dwFlags = STARTF_USESTDHANDLES;
  startup.StartupInfo.hStdInput = stdio->null_in.get();
  startup.StartupInfo.hStdOutput = stdio->out_write.get();
  startup.StartupInfo.hStdError = stdio->err_write.get();
  startup.lpAttributeList = inherit_list.get();
  // CREATE_NO_WINDOW: a console program gets no console window, and none of ours (so a
  // Ctrl-C typed at `chronographd --console` does not reach the jobs). No
  // CREATE_NEW_PROCESS_GROUP: it would make the job ignore Ctrl-C, the way an inherited
  // SIG_IGN would on POSIX.
  const DWORD flags = CREATE_SUSPENDED | CREATE_UNICODE_ENVIRONMENT | CREATE_NO_WINDOW |
                      EXTENDED_STARTUPINFO_PRESENT;
  PROCESS_INFORMATION pi{};
  if (!os::CreateProcessPatiently(program->c_str(), command_line->data(), TRUE, flags,
                                  env_block.data(), cwd->c_str(), &startup.StartupInfo, &pi)) {
    const DWORD error = GetLastError();
    // The directory was checked above; it may have gone since.
    if (error == ERROR_DIRECTORY) {
      return WindowsError("working directory '" + spec.working_dir + "'", error);
    }
    return WindowsError(start, error);
  }
  ScopedHandle process(pi.hProcess);
  ScopedHandle thread(pi.hThread);
  // Our copies of the child's ends: the pipes reach EOF when the job's processes have
  // closed theirs.
  stdio->null_in.Reset();
  stdio->out_write.Reset();
  stdio->err_write.Reset();

  // Into the job before it runs a single instruction, so that whatever it starts is in
  // the job too.
  if (!AssignProcessToJobObject(job->get(), process.get())) {
    const DWORD error = GetLastError();
    TerminateProcess(process.get(), kTerminatedExitCode);
    WaitForSingleObject(process.get(), kTerminateWaitMs);
    return WindowsError(start + ": AssignProcessToJobObject", error);
  }
  auto child = std::make_unique<WindowsChildProcess>(pi.dwProcessId, std::move(process),
                                                     std::move(*job), std::move(wake));
  // Readers before the child runs; if one cannot start, destroying `child` ends the job.
  CG_RETURN_IF_ERROR(child->StartReaders(std::move(stdio->out_read), std::move(stdio->err_read))
                         .WithContext(start));
  if (ResumeThread(thread.get()) == static_cast<DWORD>(-1)) {
    return WindowsError(start + ": ResumeThread", GetLastError());
  }
  return std::unique_ptr<ChildProcess>(std::move(child));
}

}  // namespace

std::unique_ptr<ProcessLauncher> NewProcessLauncher() {
  return std::make_unique<WindowsProcessLauncher>();
}

}  // namespace cg
