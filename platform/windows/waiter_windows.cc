// service/waiter.h on Windows: a change notification on the data directory, a
// shutdown event (set by the service control handler, Ctrl-C, or the named stop event
// of this process, which RequestStop() sets for a run shim).
// Ended children are not signalled here: the service loop reaps them on its next pass,
// which comes at least every second while runs are active.
#include <windows.h>

#include <atomic>

#include "platform/windows/os_windows_internal.h"
#include "platform/windows/utf_windows.h"
#include "service/os.h"
#include "service/time_util.h"
#include "service/waiter.h"

namespace cg {
namespace {

HANDLE g_console_shutdown = nullptr;

BOOL WINAPI OnConsoleCtrl(DWORD type) {
  if (type == CTRL_C_EVENT || type == CTRL_BREAK_EVENT || type == CTRL_CLOSE_EVENT) {
    if (g_console_shutdown) SetEvent(g_console_shutdown);
    return TRUE;
  }
  return FALSE;
}

class WindowsWaiter final : public Waiter {
 public:
  WindowsWaiter(HANDLE change, HANDLE shutdown, HANDLE stop)
      : change_(change), shutdown_event_(shutdown), stop_event_(stop) {}
  ~WindowsWaiter() override {
    if (change_ != INVALID_HANDLE_VALUE) FindCloseChangeNotification(change_);
    CloseHandle(shutdown_event_);
    CloseHandle(stop_event_);
  }

  unsigned WaitUntil(int64_t deadline_us) override {
    HANDLE handles[3] = {shutdown_event_, stop_event_, change_};
    DWORD count = change_ != INVALID_HANDLE_VALUE ? 3 : 2;
    int64_t left = deadline_us - NowMicros();
    DWORD ms = left <= 0 ? 0 : static_cast<DWORD>(std::min<int64_t>((left + 999) / 1000, 86400000));
    DWORD r = WaitForMultipleObjects(count, handles, FALSE, ms);
    if (r == WAIT_OBJECT_0 || r == WAIT_OBJECT_0 + 1) {
      shutdown_ = true;
      return kShutdown;
    }
    if (r == WAIT_OBJECT_0 + 2) {
      FindNextChangeNotification(change_);
      return kLogChanged;
    }
    return shutdown_ ? kShutdown : kTimeout;
  }

  bool shutdown_requested() const override { return shutdown_; }

  void RequestShutdown() override {
    shutdown_ = true;
    SetEvent(shutdown_event_);
  }

  // No channels on Windows (os::NewChannelPair is NotSupported): nothing to watch.
  void Watch(intptr_t /*handle*/) override {}
  void Unwatch(intptr_t /*handle*/) override {}
  std::vector<intptr_t> TakeReadable() override { return {}; }

 private:
  HANDLE change_;
  HANDLE shutdown_event_;
  HANDLE stop_event_;
  std::atomic<bool> shutdown_{false};
};

}  // namespace

Result<std::unique_ptr<Waiter>> NewWaiter(const std::string& data_dir, bool handle_signals) {
  HANDLE change = INVALID_HANDLE_VALUE;
  if (!data_dir.empty()) {
    change = FindFirstChangeNotificationW(platform::ToUtf16(data_dir).c_str(), FALSE,
                                          FILE_NOTIFY_CHANGE_LAST_WRITE | FILE_NOTIFY_CHANGE_SIZE);
  }
  if (!data_dir.empty() && change == INVALID_HANDLE_VALUE) {
    return platform::WindowsError("cannot watch '" + data_dir + "'", GetLastError());
  }
  HANDLE shutdown = CreateEventW(nullptr, TRUE, FALSE, nullptr);
  HANDLE stop = CreateEventW(nullptr, TRUE, FALSE, os::ShimStopEventName(os::CurrentPid()).c_str());
  if (handle_signals) {
    g_console_shutdown = shutdown;
    SetConsoleCtrlHandler(OnConsoleCtrl, TRUE);
  }
  return std::unique_ptr<Waiter>(new WindowsWaiter(change, shutdown, stop));
}

}  // namespace cg
