// Tests for ProcessLauncher on Windows (the contract of service/process_launcher.h, as
// tests/platform/process_launcher_test.cc checks it on POSIX, plus what is particular
// to Windows: Job Objects, handle inheritance, UTF-16). Runs under wine too.
//
// The jobs are this binary re-executed with --launcher-test-helper MODE ... (leveldb's
// --test-close-on-exec-helper): a static initializer runs the helper before gtest's
// main, so the job needs no environment variable and can be given an empty one.
#include <windows.h>
// These need windows.h first.
#include <shellapi.h>
#include <tlhelp32.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cwchar>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "platform/windows/utf_windows.h"
#include "service/os.h"
#include "service/output_capture.h"
#include "service/process_launcher.h"
#include "tests/util/subprocess.h"

namespace cg {
namespace {

using platform::ToUtf16;
using platform::ToUtf8;
using std::chrono::milliseconds;
using Clock = std::chrono::steady_clock;

constexpr const wchar_t* kHelperFlag = L"--launcher-test-helper";
// "héllo wörld ✓": Latin-1 range, and a character outside it (U+2713).
const std::string kNonAscii = "h\xc3\xa9llo w\xc3\xb6rld \xe2\x9c\x93";

// ---- This binary as the job -------------------------------------------------------------

std::wstring SelfPathW() {
  std::wstring path(32768, L'\0');
  DWORD n = GetModuleFileNameW(nullptr, path.data(), static_cast<DWORD>(path.size()));
  path.resize(n);
  return path;
}

std::string SelfPath() { return ToUtf8(SelfPathW()); }

void WriteTo(DWORD which, const std::string& text) {
  HANDLE h = GetStdHandle(which);
  size_t done = 0;
  while (done < text.size()) {
    DWORD n = 0;
    DWORD chunk = static_cast<DWORD>(std::min<size_t>(text.size() - done, 1 << 16));
    if (!WriteFile(h, text.data() + done, chunk, &n, nullptr)) ExitProcess(90);
    done += n;
  }
}

void Out(const std::string& text) { WriteTo(STD_OUTPUT_HANDLE, text); }
void Err(const std::string& text) { WriteTo(STD_ERROR_HANDLE, text); }

// Starts this binary as `helper_args`, inheriting our stdio when `inherit` (a daemon
// holding the job's pipes) or nothing (a daemon that has let go of them).
DWORD SpawnSelf(const std::wstring& helper_args, bool inherit) {
  std::wstring line = L"\"" + SelfPathW() + L"\" " + kHelperFlag + L" " + helper_args;
  STARTUPINFOW si{};
  si.cb = sizeof(si);
  if (inherit) {
    si.dwFlags = STARTF_USESTDHANDLES;
    si.hStdInput = GetStdHandle(STD_INPUT_HANDLE);
    si.hStdOutput = GetStdHandle(STD_OUTPUT_HANDLE);
    si.hStdError = GetStdHandle(STD_ERROR_HANDLE);
  }
  PROCESS_INFORMATION pi{};
  if (!CreateProcessW(SelfPathW().c_str(), line.data(), nullptr, nullptr, inherit, 0, nullptr,
                      nullptr, &si, &pi)) {
    Err("helper: CreateProcessW failed: " + std::to_string(GetLastError()) + "\n");
    ExitProcess(91);
  }
  CloseHandle(pi.hThread);
  CloseHandle(pi.hProcess);
  return pi.dwProcessId;
}

// Whether handle value `value` of the parent is usable here, referring to the file
// at `path` (a handle value alone may coincide with one of our own handles).
bool RefersToFile(HANDLE value, const std::wstring& path) {
  BY_HANDLE_FILE_INFORMATION inherited;
  if (!GetFileInformationByHandle(value, &inherited)) return false;
  HANDLE own = CreateFileW(path.c_str(), 0, FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE,
                           nullptr, OPEN_EXISTING, 0, nullptr);
  BY_HANDLE_FILE_INFORMATION mine;
  bool same = own != INVALID_HANDLE_VALUE && GetFileInformationByHandle(own, &mine) &&
              mine.dwVolumeSerialNumber == inherited.dwVolumeSerialNumber &&
              mine.nFileIndexHigh == inherited.nFileIndexHigh &&
              mine.nFileIndexLow == inherited.nFileIndexLow;
  if (own != INVALID_HANDLE_VALUE) CloseHandle(own);
  return same;
}

HANDLE HandleFromArg(const std::wstring& arg) {
  return reinterpret_cast<HANDLE>(static_cast<uintptr_t>(_wcstoui64(arg.c_str(), nullptr, 10)));
}

// MODE and its arguments:
//   exit N              exits with code N
//   print               "out\nout2\n" on stdout, "err\nno newline" on stderr
//   flood N             "START\n", N zero bytes, "END\n" on stdout while N bytes go to
//                       stderr from another thread
//   env                 its environment block, one NAME=VALUE a line, in block order
//   cwd                 its working directory
//   args A...           its arguments after MODE, one a line
//   self                the path of its executable
//   stdin               "type: N" (GetFileType of stdin) and "read: N" (bytes read)
//   handles EV FILE P   signals the parent's event EV if that handle value is valid
//                       here, and tells whether handle value FILE is the file P (handle
//                       values alone prove nothing: the job has low-numbered handles of
//                       its own, which may coincide with the parent's)
//   spawn I THEN        starts a grandchild sleeping 60 s (inheriting stdio if I is 1),
//                       prints its pid and "ready"; THEN = exit (exit 0) or sleep
//   sleep MS            sleeps
//   close-out           closes stdout, sleeps 200 ms, prints "err" on stderr
//   close-all N         closes stdout and stderr, sleeps 300 ms, exits with code N
[[noreturn]] void RunHelper(const std::vector<std::wstring>& args) {
  const std::wstring mode = args.empty() ? L"" : args[0];
  auto arg = [&](size_t i) { return i < args.size() ? args[i] : std::wstring(); };
  if (mode == L"exit") {
    ExitProcess(static_cast<UINT>(_wtoi64(arg(1).c_str())));
  } else if (mode == L"print") {
    Out("out\n");
    Err("err\n");
    Out("out2\n");
    Err("no newline");
  } else if (mode == L"flood") {
    const size_t n = static_cast<size_t>(_wtoi64(arg(1).c_str()));
    std::thread errs([n] {
      std::string zeros(1 << 16, '\0');
      for (size_t done = 0; done < n; done += zeros.size()) {
        Err(zeros.substr(0, std::min(zeros.size(), n - done)));
      }
    });
    Out("START\n");
    std::string zeros(1 << 16, '\0');
    for (size_t done = 0; done < n; done += zeros.size()) {
      Out(zeros.substr(0, std::min(zeros.size(), n - done)));
    }
    Out("END\n");
    errs.join();
  } else if (mode == L"env") {
    wchar_t* block = GetEnvironmentStringsW();
    for (const wchar_t* p = block; *p != L'\0'; p += wcslen(p) + 1) Out(ToUtf8(p) + "\n");
    FreeEnvironmentStringsW(block);
  } else if (mode == L"cwd") {
    wchar_t dir[MAX_PATH * 2];
    DWORD n = GetCurrentDirectoryW(MAX_PATH * 2, dir);
    Out(ToUtf8(std::wstring(dir, n)) + "\n");
  } else if (mode == L"args") {
    for (size_t i = 1; i < args.size(); ++i) Out(ToUtf8(args[i]) + "\n");
  } else if (mode == L"self") {
    Out(SelfPath() + "\n");
  } else if (mode == L"stdin") {
    HANDLE in = GetStdHandle(STD_INPUT_HANDLE);
    char buf[16];
    DWORD n = 0;
    BOOL ok = ReadFile(in, buf, sizeof(buf), &n, nullptr);
    Out("type: " + std::to_string(GetFileType(in)) + "\n" +
        "read: " + (ok ? std::to_string(n) : "error " + std::to_string(GetLastError())) + "\n");
  } else if (mode == L"handles") {
    DWORD flags = 0;
    if (GetHandleInformation(HandleFromArg(arg(1)), &flags)) SetEvent(HandleFromArg(arg(1)));
    Out(std::string("file: ") +
        (RefersToFile(HandleFromArg(arg(2)), arg(3)) ? "leaked" : "absent") + "\n");
  } else if (mode == L"spawn") {
    DWORD pid = SpawnSelf(L"sleep 60000", arg(1) == L"1");
    Out(std::to_string(pid) + "\nready\n");
    if (arg(2) == L"sleep") Sleep(60000);
  } else if (mode == L"sleep") {
    Sleep(static_cast<DWORD>(_wtoi64(arg(1).c_str())));
  } else if (mode == L"close-out") {
    CloseHandle(GetStdHandle(STD_OUTPUT_HANDLE));
    Sleep(200);
    Err("err\n");
  } else if (mode == L"close-all") {
    CloseHandle(GetStdHandle(STD_OUTPUT_HANDLE));
    CloseHandle(GetStdHandle(STD_ERROR_HANDLE));
    Sleep(300);
    ExitProcess(static_cast<UINT>(_wtoi64(arg(1).c_str())));
  } else {
    Err("helper: unknown mode\n");
    ExitProcess(92);
  }
  ExitProcess(0);
}

const bool kHelperChecked = [] {
  int argc = 0;
  wchar_t** argv = CommandLineToArgvW(GetCommandLineW(), &argc);
  if (argv != nullptr && argc >= 2 && std::wstring(argv[1]) == kHelperFlag) {
    RunHelper(std::vector<std::wstring>(argv + 2, argv + argc));
  }
  LocalFree(argv);
  return true;
}();

// ---- Helpers ----------------------------------------------------------------------------

class StringSink final : public OutputSink {
 public:
  void Append(const char* data, size_t n) override { text.append(data, n); }
  std::string text;
};

double SecondsSince(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// What a Windows program needs at least: SystemRoot (Winsock, for one, fails without it).
std::vector<std::pair<std::string, std::string>> MinimalEnv() {
  std::vector<std::pair<std::string, std::string>> env;
  if (auto root = os::GetEnv("SystemRoot")) env.push_back({"SystemRoot", *root});
  return env;
}

bool UnderWine() {
  HMODULE ntdll = GetModuleHandleW(L"ntdll.dll");
  return ntdll != nullptr && GetProcAddress(ntdll, "wine_get_version") != nullptr;
}

// The `env` helper's output without what wine adds to every new process's environment
// (its WINE* variables, and SystemDrive and SystemRoot when the block lacks them);
// Windows itself passes the block unchanged.
std::string WithoutWineAdditions(const std::string& env_lines) {
  if (!UnderWine()) return env_lines;
  std::string kept;
  size_t begin = 0;
  while (begin < env_lines.size()) {
    size_t end = env_lines.find('\n', begin);
    end = end == std::string::npos ? env_lines.size() : end + 1;
    const std::string line = env_lines.substr(begin, end - begin);
    begin = end;
    if (line.rfind("WINE", 0) == 0 || line.rfind("SystemDrive=", 0) == 0 ||
        line.rfind("SystemRoot=", 0) == 0) {
      continue;
    }
    kept += line;
  }
  return kept;
}

// This binary as the job, in helper `mode` with `args`.
LaunchSpec Helper(const std::string& mode, const std::vector<std::string>& args = {}) {
  LaunchSpec spec;
  spec.argv = {SelfPath(), ToUtf8(kHelperFlag), mode};
  spec.argv.insert(spec.argv.end(), args.begin(), args.end());
  spec.env = MinimalEnv();
  return spec;
}

bool PumpUntilDone(ChildProcess* child, OutputSink* out, OutputSink* err,
                   milliseconds limit = milliseconds(20000)) {
  const Clock::time_point deadline = Clock::now() + limit;
  while (Clock::now() < deadline) {
    Result<bool> done = child->Pump(100, out, err);
    if (!done.ok()) {
      ADD_FAILURE() << done.status().ToString();
      return false;
    }
    if (*done) return true;
  }
  ADD_FAILURE() << "process " << child->pid() << " still running after " << limit.count() << " ms";
  return false;
}

// Pumps until `out` holds `lines` complete lines; returns the first.
std::string PumpLines(ChildProcess* child, StringSink* out, int lines = 1) {
  StringSink err;
  const Clock::time_point deadline = Clock::now() + milliseconds(20000);
  auto count = [&] { return std::count(out->text.begin(), out->text.end(), '\n'); };
  while (count() < lines && Clock::now() < deadline) {
    Result<bool> done = child->Pump(100, out, &err);
    if (!done.ok() || *done) break;
  }
  size_t nl = out->text.find('\n');
  EXPECT_EQ(count(), lines) << "stdout: " << out->text << " stderr: " << err.text;
  return out->text.substr(0, nl);
}

// A handle on a process the job started, opened while it runs.
class ProcessRef {
 public:
  explicit ProcessRef(const std::string& pid)
      : h_(OpenProcess(SYNCHRONIZE | PROCESS_TERMINATE, FALSE,
                       static_cast<DWORD>(std::strtoul(pid.c_str(), nullptr, 10)))) {}
  ~ProcessRef() {
    if (h_ != nullptr) CloseHandle(h_);
  }
  ProcessRef(const ProcessRef&) = delete;
  ProcessRef& operator=(const ProcessRef&) = delete;

  bool opened() const { return h_ != nullptr; }
  bool EndsWithin(milliseconds limit) const {
    return WaitForSingleObject(h_, static_cast<DWORD>(limit.count())) == WAIT_OBJECT_0;
  }
  void Kill() const {
    TerminateProcess(h_, 9);
    WaitForSingleObject(h_, 5000);
  }

 private:
  HANDLE h_;
};

void WriteWholeFile(const std::string& path, const std::string& text) {
  HANDLE h =
      CreateFileW(ToUtf16(path).c_str(), GENERIC_WRITE, 0, nullptr, CREATE_ALWAYS, 0, nullptr);
  ASSERT_NE(h, INVALID_HANDLE_VALUE) << path;
  DWORD n = 0;
  EXPECT_TRUE(WriteFile(h, text.data(), static_cast<DWORD>(text.size()), &n, nullptr));
  CloseHandle(h);
}

size_t ThreadCount() {
  HANDLE snap = CreateToolhelp32Snapshot(TH32CS_SNAPTHREAD, 0);
  if (snap == INVALID_HANDLE_VALUE) return 0;
  THREADENTRY32 entry{};
  entry.dwSize = sizeof(entry);
  size_t n = 0;
  for (BOOL ok = Thread32First(snap, &entry); ok; ok = Thread32Next(snap, &entry)) {
    if (entry.th32OwnerProcessID == GetCurrentProcessId()) ++n;
  }
  CloseHandle(snap);
  return n;
}

class ProcessLauncherTest : public ::testing::Test {
 protected:
  std::unique_ptr<ChildProcess> Start(const LaunchSpec& spec) {
    Result<std::unique_ptr<ChildProcess>> child = launcher_->Launch(spec);
    EXPECT_TRUE(child.ok()) << child.status().ToString();
    return child.ok() ? std::move(child).value() : nullptr;
  }

  struct Ran {
    bool done = false;
    ExitInfo info;
    std::string out;
    std::string err;
  };

  Ran Run(const LaunchSpec& spec) {
    Ran ran;
    std::unique_ptr<ChildProcess> child = Start(spec);
    if (child == nullptr) return ran;
    StringSink out;
    StringSink err;
    ran.done = PumpUntilDone(child.get(), &out, &err);
    if (ran.done) {
      EXPECT_TRUE(child->exit_info().has_value());
      if (child->exit_info()) ran.info = *child->exit_info();
    }
    ran.out = out.text;
    ran.err = err.text;
    return ran;
  }

  Status LaunchError(const LaunchSpec& spec) {
    Result<std::unique_ptr<ChildProcess>> child = launcher_->Launch(spec);
    EXPECT_FALSE(child.ok()) << "started " << spec.argv[0];
    return child.ok() ? Status::OK() : child.status();
  }

  std::unique_ptr<ProcessLauncher> launcher_ = NewProcessLauncher();
};

// ---- Exit status and output -------------------------------------------------------------

TEST_F(ProcessLauncherTest, ReportsTheExitCode) {
  // Windows exit codes are 32 bits: nothing is taken modulo 256.
  for (int code : {0, 1, 3, 255, 256, 70000}) {
    Ran ran = Run(Helper("exit", {std::to_string(code)}));
    ASSERT_TRUE(ran.done);
    EXPECT_EQ(ran.info.exit_code, code);
    EXPECT_EQ(ran.info.signal, 0);
  }
}

TEST_F(ProcessLauncherTest, SeparatesStdoutAndStderr) {
  Ran ran = Run(Helper("print"));
  ASSERT_TRUE(ran.done);
  EXPECT_EQ(ran.out, "out\nout2\n");
  EXPECT_EQ(ran.err, "err\nno newline");
  EXPECT_EQ(ran.info.exit_code, 0);
}

TEST_F(ProcessLauncherTest, LargeOutputOnBothStreamsKeepsHeadTailAndExactTotal) {
  // Both streams at once: neither pipe may stall the other.
  constexpr size_t kBytes = 8000000;
  std::unique_ptr<ChildProcess> child = Start(Helper("flood", {std::to_string(kBytes)}));
  ASSERT_NE(child, nullptr);
  CappedOutput out;
  CappedOutput err;
  const Clock::time_point start = Clock::now();
  ASSERT_TRUE(PumpUntilDone(child.get(), &out, &err, milliseconds(60000)));
  const double seconds = SecondsSince(start);
  EXPECT_LT(seconds, 30.0);
  std::printf("[ timing   ] %zu MB through the pipes in %.2f s\n", 2 * kBytes / 1000000, seconds);
  ASSERT_TRUE(child->exit_info().has_value());
  EXPECT_EQ(child->exit_info()->exit_code, 0);

  EXPECT_EQ(out.total(), 6u + kBytes + 4u);
  EXPECT_EQ(out.kept(), CappedOutput::kDefaultCap);
  EXPECT_TRUE(out.truncated());
  const size_t half = CappedOutput::kDefaultCap / 2;
  const std::string marker =
      "\n[... chronograph: " + std::to_string(out.total() - out.kept()) + " bytes omitted ...]\n";
  EXPECT_TRUE(out.Text() == "START\n" + std::string(half - 6, '\0') + marker +
                                std::string(half - 4, '\0') + "END\n");
  EXPECT_EQ(err.total(), kBytes);
}

TEST_F(ProcessLauncherTest, AJobNobodyPumpsBlocksInsteadOfFillingMemory) {
  // Unread output stays in the pipe (and at most a bounded buffer), as on POSIX: the
  // job waits in WriteFile until Pump takes it.
  constexpr size_t kBytes = 8000000;
  std::unique_ptr<ChildProcess> child = Start(Helper("flood", {std::to_string(kBytes)}));
  ASSERT_NE(child, nullptr);
  std::this_thread::sleep_for(milliseconds(1500));
  HANDLE process = OpenProcess(SYNCHRONIZE, FALSE, static_cast<DWORD>(child->pid()));
  ASSERT_NE(process, nullptr);
  EXPECT_EQ(WaitForSingleObject(process, 0), static_cast<DWORD>(WAIT_TIMEOUT))
      << "the job wrote everything without anyone reading";
  CloseHandle(process);
  CappedOutput out;
  CappedOutput err;
  ASSERT_TRUE(PumpUntilDone(child.get(), &out, &err, milliseconds(60000)));
  EXPECT_EQ(out.total(), 6u + kBytes + 4u);
  EXPECT_EQ(err.total(), kBytes);
}

// ---- What the job gets --------------------------------------------------------------------

TEST_F(ProcessLauncherTest, EnvironmentIsExactlyTheGivenOneSortedAsWindowsWants) {
  LaunchSpec spec = Helper("env");
  // "a" repeats "A" for Windows, which ignores case in names: the first one wins.
  spec.env = {{"B", "two words"}, {"a", "1"}, {"EMPTY", ""}, {"UTF8", kNonAscii}, {"A", "dup"}};
  Ran ran = Run(spec);
  ASSERT_TRUE(ran.done);
  EXPECT_EQ(ran.info.exit_code, 0) << ran.err;
  EXPECT_EQ(WithoutWineAdditions(ran.out), "a=1\nB=two words\nEMPTY=\nUTF8=" + kNonAscii + "\n");

  spec.env.clear();
  ran = Run(spec);
  ASSERT_TRUE(ran.done);
  EXPECT_EQ(WithoutWineAdditions(ran.out), "");
  EXPECT_EQ(ran.info.exit_code, 0) << ran.err;
}

TEST_F(ProcessLauncherTest, ArgumentsRoundTripThroughTheCommandLine) {
  const std::vector<std::string> args = {
      kNonAscii, "", "two words", "quote\"inside", "trailing\\", "back\\\\\"slashes", "tab\there"};
  Ran ran = Run(Helper("args", args));
  ASSERT_TRUE(ran.done);
  std::string expected;
  for (const std::string& a : args) expected += a + "\n";
  EXPECT_EQ(ran.out, expected);
}

TEST_F(ProcessLauncherTest, RunsInTheWorkingDirectoryEvenANonAsciiOne) {
  testing::TempDir dir;
  const std::string sub = dir.path() + "\\d\xc3\xafr " + kNonAscii;
  ASSERT_TRUE(CreateDirectoryW(ToUtf16(sub).c_str(), nullptr));
  LaunchSpec spec = Helper("cwd");
  spec.working_dir = sub;
  Ran ran = Run(spec);
  ASSERT_TRUE(ran.done);
  EXPECT_EQ(ran.out, sub + "\n");

  // Forward slashes are accepted and made Windows paths.
  std::string forward = sub;
  std::replace(forward.begin(), forward.end(), '\\', '/');
  spec.working_dir = forward;
  ran = Run(spec);
  ASSERT_TRUE(ran.done);
  EXPECT_EQ(ran.out, sub + "\n");
}

TEST_F(ProcessLauncherTest, StdinIsTheNullDevice) {
  Ran ran = Run(Helper("stdin"));
  ASSERT_TRUE(ran.done);
  EXPECT_EQ(ran.out, "type: " + std::to_string(FILE_TYPE_CHAR) + "\nread: 0\n");
}

TEST_F(ProcessLauncherTest, NoHandleIsInherited) {
  // Inheritable handles, as careless code in the service might create them.
  SECURITY_ATTRIBUTES inherit{sizeof(inherit), nullptr, TRUE};
  HANDLE event = CreateEventW(&inherit, TRUE, FALSE, nullptr);
  ASSERT_NE(event, nullptr);
  testing::TempDir dir;
  const std::wstring path = ToUtf16(dir.Sub("inherited.txt"));
  HANDLE file = CreateFileW(path.c_str(), GENERIC_WRITE, FILE_SHARE_READ | FILE_SHARE_WRITE,
                            &inherit, CREATE_ALWAYS, 0, nullptr);
  ASSERT_NE(file, INVALID_HANDLE_VALUE);
  DWORD flags = 0;
  ASSERT_TRUE(GetHandleInformation(event, &flags));
  ASSERT_TRUE(flags & HANDLE_FLAG_INHERIT);
  const std::vector<std::string> args = {
      "handles", std::to_string(reinterpret_cast<uintptr_t>(event)),
      std::to_string(reinterpret_cast<uintptr_t>(file)), ToUtf8(path)};

  LaunchSpec spec = Helper(args[0], {args[1], args[2], args[3]});
  Ran ran = Run(spec);
  ASSERT_TRUE(ran.done);
  EXPECT_EQ(ran.info.exit_code, 0) << ran.err;
  EXPECT_EQ(ran.out, "file: absent\n");
  EXPECT_EQ(WaitForSingleObject(event, 0), static_cast<DWORD>(WAIT_TIMEOUT))
      << "the job could signal our event";

  // The check itself, against a launch that does let every inheritable handle through
  // (CreateProcessW with bInheritHandles and no handle list).
  std::vector<std::string> argv = {SelfPath(), ToUtf8(kHelperFlag)};
  argv.insert(argv.end(), args.begin(), args.end());
  testing::RunOutput leaky = testing::RunProgram(argv);
  EXPECT_EQ(leaky.out, "file: leaked\n") << leaky.err;
  EXPECT_EQ(WaitForSingleObject(event, 0), static_cast<DWORD>(WAIT_OBJECT_0));
  CloseHandle(event);
  CloseHandle(file);
}

TEST_F(ProcessLauncherTest, LaunchIsThreadSafe) {
  constexpr int kThreads = 4;
  constexpr int kRuns = 8;
  std::vector<std::string> failures(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([this, t, &failures] {
      for (int i = 0; i < kRuns && failures[t].empty(); ++i) {
        const std::string word = std::to_string(t) + "-" + std::to_string(i);
        Result<std::unique_ptr<ChildProcess>> child = launcher_->Launch(Helper("args", {word}));
        if (!child.ok()) {
          failures[t] = child.status().ToString();
          break;
        }
        StringSink out;
        Result<bool> done = false;
        for (int n = 0; n < 200 && done.ok() && !*done; ++n) {
          done = (*child)->Pump(100, &out, nullptr);
        }
        if (!done.ok() || !*done || out.text != word + "\n") {
          failures[t] = word + ": got " + out.text;
        }
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  for (int t = 0; t < kThreads; ++t) EXPECT_EQ(failures[t], "") << "thread " << t;
}

// ---- Failures to start ------------------------------------------------------------------

TEST_F(ProcessLauncherTest, MissingProgramIsNotFoundNamingIt) {
  LaunchSpec spec = Helper("exit", {"0"});
  spec.argv[0] = "C:\\no\\such.exe";
  Status st = LaunchError(spec);
  EXPECT_TRUE(st.IsNotFound()) << st.ToString();
  EXPECT_EQ(st.message().rfind("cannot start 'C:\\no\\such.exe': ", 0), 0u) << st.message();
}

TEST_F(ProcessLauncherTest, MissingWorkingDirectoryIsNotFoundNamingIt) {
  LaunchSpec spec = Helper("exit", {"0"});
  spec.working_dir = "C:\\nope\\" + kNonAscii;
  Status st = LaunchError(spec);
  EXPECT_TRUE(st.IsNotFound()) << st.ToString();
  EXPECT_EQ(st.message().rfind("working directory '" + spec.working_dir + "': ", 0), 0u)
      << st.message();

  // A file is not a directory.
  testing::TempDir dir;
  WriteWholeFile(dir.Sub("file.txt"), "x");
  spec.working_dir = dir.Sub("file.txt");
  st = LaunchError(spec);
  EXPECT_EQ(st.message().rfind("working directory '" + spec.working_dir + "': ", 0), 0u)
      << st.message();
}

TEST_F(ProcessLauncherTest, AnotherUserIsNotSupported) {
  LaunchSpec spec = Helper("exit", {"0"});
  spec.run_as_user = "nosuchuser";
  Status st = LaunchError(spec);
  EXPECT_TRUE(st.IsNotSupported()) << st.ToString();
  EXPECT_EQ(st.message(),
            "running a job as another user is not supported on Windows (user 'nosuchuser')");

  // This process's own user is fine, spelt in any case as Windows allows.
  std::string upper = os::CurrentUserName();
  for (char& c : upper) c = static_cast<char>(toupper(static_cast<unsigned char>(c)));
  for (const std::string& user : {os::CurrentUserName(), upper}) {
    spec.run_as_user = user;
    Ran ran = Run(spec);
    EXPECT_TRUE(ran.done) << user;
    EXPECT_EQ(ran.info.exit_code, 0) << user;
  }
}

TEST_F(ProcessLauncherTest, EmptyCommandIsInvalid) {
  LaunchSpec spec;
  EXPECT_TRUE(LaunchError(spec).IsInvalidArgument());
  spec.argv = {""};
  EXPECT_TRUE(LaunchError(spec).IsInvalidArgument());
  spec = Helper("exit", {"0"});
  spec.env.push_back({"A=B", "c"});
  EXPECT_TRUE(LaunchError(spec).IsInvalidArgument());
}

// ---- PATH ---------------------------------------------------------------------------------

class PathTest : public ProcessLauncherTest {
 protected:
  void SetUp() override {
    bin_ = dir_.path() + "\\b\xc3\xafn " + kNonAscii;
    ASSERT_TRUE(CreateDirectoryW(ToUtf16(bin_).c_str(), nullptr));
    ASSERT_TRUE(CopyFileW(SelfPathW().c_str(), ToUtf16(bin_ + "\\myprog.exe").c_str(), TRUE));
  }

  LaunchSpec Prog(const std::string& argv0, const std::string& mode) {
    LaunchSpec spec = Helper(mode);
    spec.argv[0] = argv0;
    return spec;
  }

  testing::TempDir dir_;
  std::string bin_;
};

TEST_F(PathTest, LooksUpTheProgramInTheJobsPathWithPathext) {
  LaunchSpec spec = Prog("myprog", "self");
  // A missing entry, an empty one, a quoted one; "Path" is PATH for Windows.
  spec.env.push_back({"Path", "C:\\nonexistent;;\"" + bin_ + "\";C:\\windows"});
  Ran ran = Run(spec);
  ASSERT_TRUE(ran.done);
  EXPECT_EQ(ran.out, bin_ + "\\myprog.exe\n");

  // With the extension given.
  spec.argv[0] = "myprog.exe";
  ran = Run(spec);
  ASSERT_TRUE(ran.done);
  EXPECT_EQ(ran.out, bin_ + "\\myprog.exe\n");

  // PATHEXT from the job's environment: without .EXE, no program is found.
  spec.argv[0] = "myprog";
  spec.env.push_back({"PATHEXT", ".COM"});
  Status st = LaunchError(spec);
  EXPECT_TRUE(st.IsNotFound()) << st.ToString();
}

TEST_F(PathTest, NotInTheJobsPathIsNotFoundNamingIt) {
  LaunchSpec spec = Prog("myprog", "self");
  spec.env.push_back({"PATH", "C:\\windows\\system32;C:\\windows"});
  Status st = LaunchError(spec);
  EXPECT_TRUE(st.IsNotFound()) << st.ToString();
  EXPECT_EQ(st.message(),
            "cannot start 'myprog': not found in PATH (C:\\windows\\system32;C:\\windows)");
}

TEST_F(PathTest, WithoutPathInTheEnvironmentUsesThisProcesssPath) {
  const std::optional<std::string> saved = os::GetEnv("PATH");
  ASSERT_TRUE(SetEnvironmentVariableW(L"PATH", ToUtf16(bin_ + ";" + saved.value_or("")).c_str()));
  LaunchSpec spec = Prog("myprog", "env");  // found through our PATH; its environment stays
  spec.env.clear();
  Ran ran = Run(spec);
  SetEnvironmentVariableW(L"PATH", saved ? ToUtf16(*saved).c_str() : nullptr);
  ASSERT_TRUE(ran.done);
  EXPECT_EQ(ran.info.exit_code, 0) << ran.err;
  EXPECT_EQ(WithoutWineAdditions(ran.out), "");
}

TEST_F(PathTest, RelativeProgramIsRelativeToTheWorkingDirectory) {
  const std::string leaf = bin_.substr(bin_.find_last_of('\\') + 1);
  const std::vector<std::string> names = {".\\myprog.exe", "./myprog", "..\\" + leaf + "\\myprog"};
  for (const std::string& argv0 : names) {
    LaunchSpec spec = Prog(argv0, "self");
    spec.working_dir = bin_;
    Ran ran = Run(spec);
    ASSERT_TRUE(ran.done) << argv0;
    EXPECT_EQ(ran.out, bin_ + "\\myprog.exe\n") << argv0;
  }
}

TEST_F(PathTest, BatchFilesAreRefused) {
  WriteWholeFile(bin_ + "\\tool.bat", "@echo tool ran\r\n");
  LaunchSpec spec = Prog("tool", "self");
  spec.env.push_back({"PATH", bin_});
  Status st = LaunchError(spec);
  EXPECT_TRUE(st.IsNotSupported()) << st.ToString();
  EXPECT_EQ(st.message().rfind("cannot start 'tool' (" + bin_ + "\\tool.bat): ", 0), 0u)
      << st.message();
}

// ---- Ending ---------------------------------------------------------------------------------

TEST_F(ProcessLauncherTest, PumpReturnsFalseWhileRunningAndTheDestructorEndsTheTree) {
  std::unique_ptr<ChildProcess> child = Start(Helper("spawn", {"0", "sleep"}));
  ASSERT_NE(child, nullptr);
  StringSink out;
  ProcessRef grandchild(PumpLines(child.get(), &out, 2));
  ASSERT_TRUE(grandchild.opened());
  const Clock::time_point start = Clock::now();
  Result<bool> done = child->Pump(100, &out, nullptr);
  ASSERT_TRUE(done.ok()) << done.status().ToString();
  EXPECT_FALSE(*done);
  EXPECT_LT(SecondsSince(start), 2.0);
  EXPECT_FALSE(child->exit_info().has_value());
  done = child->Pump(0, &out, nullptr);
  ASSERT_TRUE(done.ok());
  EXPECT_FALSE(*done);

  child.reset();
  EXPECT_TRUE(grandchild.EndsWithin(milliseconds(5000)));
}

TEST_F(ProcessLauncherTest, TerminateEndsTheWholeTreeWithExitCode1) {
  for (bool force : {false, true}) {
    std::unique_ptr<ChildProcess> child = Start(Helper("spawn", {"0", "sleep"}));
    ASSERT_NE(child, nullptr);
    StringSink out;
    StringSink err;
    ProcessRef grandchild(PumpLines(child.get(), &out, 2));
    ASSERT_TRUE(grandchild.opened());
    const Clock::time_point start = Clock::now();
    ASSERT_TRUE(child->Terminate(force).ok());
    ASSERT_TRUE(PumpUntilDone(child.get(), &out, &err, milliseconds(5000))) << "force " << force;
    std::printf("[ timing   ] Terminate(%d) to done: %.2f s\n", force, SecondsSince(start));
    EXPECT_EQ(child->exit_info()->exit_code, 1);
    EXPECT_EQ(child->exit_info()->signal, 0);
    EXPECT_TRUE(grandchild.EndsWithin(milliseconds(5000))) << "force " << force;
  }
}

TEST_F(ProcessLauncherTest, DaemonKeepingThePipeIsLeftAfterAboutASecond) {
  std::unique_ptr<ChildProcess> child = Start(Helper("spawn", {"1", "exit"}));
  ASSERT_NE(child, nullptr);
  StringSink out;
  StringSink err;
  const Clock::time_point start = Clock::now();
  ASSERT_TRUE(PumpUntilDone(child.get(), &out, &err, milliseconds(10000)));
  const double seconds = SecondsSince(start);
  EXPECT_LT(seconds, 3.0);
  std::printf("[ timing   ] finished %.2f s after launch with a daemon on the pipe\n", seconds);
  const size_t nl = out.text.find('\n');
  ASSERT_NE(nl, std::string::npos) << out.text;
  EXPECT_EQ(out.text.substr(nl), "\nready\n");
  EXPECT_EQ(child->exit_info()->exit_code, 0);
  ProcessRef daemon(out.text.substr(0, nl));
  ASSERT_TRUE(daemon.opened());
  EXPECT_FALSE(daemon.EndsWithin(milliseconds(0))) << "Pump must leave the daemon alone";
  // Done means done: later calls return at once.
  const Clock::time_point again_start = Clock::now();
  Result<bool> again = child->Pump(1000, &out, &err);
  ASSERT_TRUE(again.ok());
  EXPECT_TRUE(*again);
  EXPECT_LT(SecondsSince(again_start), 0.5);
  // The daemon is still in the job; Terminate still reaches it.
  EXPECT_TRUE(child->Terminate(true).ok());
  EXPECT_TRUE(daemon.EndsWithin(milliseconds(5000)));
}

TEST_F(ProcessLauncherTest, DaemonThatLetGoOfThePipesDoesNotDelayTheEndAndOutlivesTheHandle) {
  std::unique_ptr<ChildProcess> child = Start(Helper("spawn", {"0", "exit"}));
  ASSERT_NE(child, nullptr);
  StringSink out;
  StringSink err;
  const Clock::time_point start = Clock::now();
  ASSERT_TRUE(PumpUntilDone(child.get(), &out, &err, milliseconds(10000)));
  EXPECT_LT(SecondsSince(start), 0.9 + 1.0);  // wine's process start counts here
  ProcessRef daemon(out.text.substr(0, out.text.find('\n')));
  ASSERT_TRUE(daemon.opened());
  // Dropping the handle of a child that ended leaves what it left behind alone, as on
  // POSIX (closing the job must not kill it).
  child.reset();
  EXPECT_FALSE(daemon.EndsWithin(milliseconds(500)));
  daemon.Kill();
}

TEST_F(ProcessLauncherTest, JobClosingStdoutEarlyEndsNormally) {
  Ran ran = Run(Helper("close-out"));
  ASSERT_TRUE(ran.done);
  EXPECT_EQ(ran.info.exit_code, 0);
  EXPECT_EQ(ran.out, "");
  EXPECT_EQ(ran.err, "err\n");
}

TEST_F(ProcessLauncherTest, ExitIsNoticedPromptlyAfterThePipesClosed) {
  std::unique_ptr<ChildProcess> child = Start(Helper("close-all", {"4"}));
  ASSERT_NE(child, nullptr);
  const Clock::time_point start = Clock::now();
  // One long Pump: it must wake for the exit although no pipe has anything to say.
  Result<bool> done = child->Pump(10000, nullptr, nullptr);
  const double seconds = SecondsSince(start);
  ASSERT_TRUE(done.ok());
  EXPECT_TRUE(*done);
  EXPECT_LT(seconds, 2.0);
  EXPECT_EQ(child->exit_info()->exit_code, 4);
}

TEST_F(ProcessLauncherTest, LeavesNoHandleOrThreadBehind) {
  // One of each ending: exited, terminated, dropped while running, daemon on the pipe.
  // Warm up first: the first launch loads DLLs and creates lasting runtime handles.
  Run(Helper("exit", {"0"}));
  DWORD handles_before = 0;
  ASSERT_TRUE(GetProcessHandleCount(GetCurrentProcess(), &handles_before));
  const size_t threads_before = ThreadCount();
  ASSERT_GT(threads_before, 0u);
  Run(Helper("print"));
  {
    std::unique_ptr<ChildProcess> child = Start(Helper("sleep", {"60000"}));
    ASSERT_NE(child, nullptr);
    ASSERT_TRUE(child->Terminate(false).ok());
    StringSink out;
    ASSERT_TRUE(PumpUntilDone(child.get(), &out, nullptr));
  }
  { std::unique_ptr<ChildProcess> child = Start(Helper("sleep", {"60000"})); }
  {
    std::unique_ptr<ChildProcess> child = Start(Helper("spawn", {"1", "exit"}));
    ASSERT_NE(child, nullptr);
    StringSink out;
    ASSERT_TRUE(PumpUntilDone(child.get(), &out, nullptr));
    ASSERT_TRUE(child->Terminate(true).ok());
  }
  // Threads and handles go away asynchronously under wine's load: wait (generously)
  // for the counts to come back, then require them to be exactly as before.
  DWORD handles_after = 0;
  size_t threads_after = 0;
  for (int i = 0; i < 100; ++i) {
    ASSERT_TRUE(GetProcessHandleCount(GetCurrentProcess(), &handles_after));
    threads_after = ThreadCount();
    if (handles_after == handles_before && threads_after == threads_before) break;
    Sleep(50);
  }
  EXPECT_EQ(handles_after, handles_before);
  EXPECT_EQ(threads_after, threads_before);
}

}  // namespace
}  // namespace cg
