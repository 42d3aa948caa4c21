// chronographd on Windows: a Windows Service (StartServiceCtrlDispatcherW), or in the
// foreground with --console (osquery's main/windows/main.cpp), and the run shim
// (--shim RUN_ID, started by the service). STOP and SHUTDOWN take the same path as
// SIGTERM on Linux: Waiter::RequestShutdown().
#include <windows.h>

#include <spdlog/sinks/rotating_file_sink.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <exception>
#include <iostream>

#include "platform/windows/utf_windows.h"
#include "service/daemon_args.h"
#include "service/os.h"
#include "service/run_shim.h"
#include "service/service.h"

namespace cg {
namespace {

constexpr wchar_t kServiceName[] = L"chronographd";

DaemonArgs g_args;
SERVICE_STATUS_HANDLE g_status_handle = nullptr;
Waiter* g_waiter = nullptr;

void Report(DWORD state, DWORD exit_code = NO_ERROR) {
  SERVICE_STATUS st{};
  st.dwServiceType = SERVICE_WIN32_OWN_PROCESS;
  st.dwCurrentState = state;
  st.dwControlsAccepted = state == SERVICE_RUNNING ? SERVICE_ACCEPT_STOP | SERVICE_ACCEPT_SHUTDOWN : 0;
  st.dwWin32ExitCode = exit_code == 0 ? NO_ERROR : ERROR_SERVICE_SPECIFIC_ERROR;
  st.dwServiceSpecificExitCode = exit_code;
  st.dwWaitHint = state == SERVICE_RUNNING || state == SERVICE_STOPPED ? 0 : 30000;
  SetServiceStatus(g_status_handle, &st);
}

// What the SCM hears: RUNNING only once the log is replayed.
class ScmNotifier final : public ServiceNotifier {
 public:
  void Ready(const std::string&) override { Report(SERVICE_RUNNING); }
  void Stopping() override { Report(SERVICE_STOP_PENDING); }
  void Watchdog() override {}
  int64_t WatchdogIntervalUs() const override { return 0; }
};

class ConsoleNotifier final : public ServiceNotifier {
 public:
  void Ready(const std::string&) override {}
  void Stopping() override {}
  void Watchdog() override {}
  int64_t WatchdogIntervalUs() const override { return 0; }
};

// The control handler returns at once; the main loop does the stopping.
DWORD WINAPI OnControl(DWORD control, DWORD, void*, void*) {
  if (control == SERVICE_CONTROL_STOP || control == SERVICE_CONTROL_SHUTDOWN) {
    Report(SERVICE_STOP_PENDING);
    if (g_waiter) g_waiter->RequestShutdown();
    return NO_ERROR;
  }
  return control == SERVICE_CONTROL_INTERROGATE ? NO_ERROR : ERROR_CALL_NOT_IMPLEMENTED;
}

int Serve(ServiceNotifier* notifier, bool handle_console) {
  Status st = os::CreatePrivateDirectory(g_args.data_dir);
  if (!st.ok()) {
    spdlog::critical("{}", st.ToString());
    return 1;
  }
  auto waiter = NewWaiter(g_args.data_dir, handle_console);
  if (!waiter.ok()) {
    spdlog::critical("{}", waiter.status().ToString());
    return 1;
  }
  g_waiter = waiter->get();
  ServiceOptions options;
  options.data_dir = g_args.data_dir;
  options.lock_timeout_us = static_cast<int64_t>(g_args.lock_timeout_s * 1e6);
  options.start_ahead_us = g_args.start_ahead_ms * 1000;
  options.snapshot_every_events = g_args.snapshot_every;
  options.max_running = g_args.max_running;
  options.idle_shims = g_args.idle_shims;
  int rc = RunService(options, g_waiter, notifier);
  g_waiter = nullptr;
  return rc;
}

// Under the SCM there is no console: logs go to a rotating file in the data directory
// (DATA\logs\chronographd.log, 5 x 10 MiB). The Event Log would need a registered
// message-table DLL to show readable text; a file is readable everywhere (and under
// wine, where the tests read it), and sits next to the audit log it explains.
void LogToFile() {
  (void)os::CreatePrivateDirectory(g_args.data_dir + "\\logs");
  auto sink = std::make_shared<spdlog::sinks::rotating_file_sink_mt>(
      g_args.data_dir + "\\logs\\chronographd.log", 10 * 1024 * 1024, 5);
  auto logger = std::make_shared<spdlog::logger>("chronographd", sink);
  logger->flush_on(spdlog::level::info);
  spdlog::set_default_logger(logger);
  spdlog::set_level(spdlog::level::from_str(g_args.log_level));
}

void WINAPI ServiceMain(DWORD, LPWSTR*) {
  g_status_handle = RegisterServiceCtrlHandlerExW(kServiceName, OnControl, nullptr);
  if (!g_status_handle) return;
  Report(SERVICE_START_PENDING);
  LogToFile();
  ScmNotifier notifier;
  int rc = Serve(&notifier, /*handle_console=*/false);
  Report(SERVICE_STOPPED, static_cast<DWORD>(rc));
}

int RunConsole() {
  spdlog::set_default_logger(spdlog::stderr_logger_mt("chronographd"));
  spdlog::set_level(spdlog::level::from_str(g_args.log_level));
  ConsoleNotifier notifier;
  return Serve(&notifier, /*handle_console=*/true);
}

}  // namespace
}  // namespace cg

int main(int argc, char** argv) {
  try {
    std::vector<std::string> args = cg::os::ProgramArguments(argc, argv);
    std::vector<const char*> argv;
    for (const auto& a : args) argv.push_back(a.c_str());
    int rc = cg::ParseDaemonArgs(static_cast<int>(argv.size()), argv.data(), /*windows=*/true,
                                 &cg::g_args);
    if (rc >= 0) return rc;
    if (cg::g_args.shim_run != 0) {
      cg::ShimOptions shim;
      shim.data_dir = cg::g_args.data_dir;
      shim.run_id = cg::g_args.shim_run;
      return cg::RunShim(shim);
    }
    if (cg::g_args.console) return cg::RunConsole();
    SERVICE_TABLE_ENTRYW table[] = {{const_cast<wchar_t*>(cg::kServiceName), cg::ServiceMain},
                                    {nullptr, nullptr}};
    if (!StartServiceCtrlDispatcherW(table)) {
      if (GetLastError() == ERROR_FAILED_SERVICE_CONTROLLER_CONNECT) return cg::RunConsole();
      std::cerr << "chronographd: cannot connect to the Service Control Manager\n";
      return 1;
    }
    return 0;
  } catch (const std::exception& e) {
    std::cerr << "chronographd: internal error: " << e.what() << "\n";
    return 1;
  }
}
