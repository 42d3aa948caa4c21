// chronographd on POSIX systems: a thin shell around RunService() (osquery's
// main/posix/main.cpp), and the run shim (`--shim RUN_ID`, started by the service).
#include <CLI/CLI.hpp>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <exception>
#include <iostream>

#include "service/os.h"
#include "service/run_shim.h"
#include "service/service.h"
#include "store/event_log.h"
#include "version.h"

int main(int argc, char** argv) {
  try {
    CLI::App app{"chronographd " CHRONOGRAPH_VERSION
                 ": the chronograph job scheduler service. Runs in the foreground and logs "
                 "to stderr (journald keeps it under systemd); stops cleanly on SIGTERM or "
                 "SIGINT, leaving running jobs to finish and record themselves."};
    app.name("chronographd");
    app.set_version_flag("--version", CHRONOGRAPH_VERSION);
    std::string data;
    double lock_timeout = 10;
    std::string level = "info";
    uint64_t shim_run = 0;
    app.add_option("--data", data,
                   "data directory (default: $CHRONOGRAPH_DATA, else /var/lib/chronograph)");
    app.add_option("--lock-timeout", lock_timeout,
                   "a run whose lock file was not refreshed for this many seconds is "
                   "abandoned (default: 10)")
        ->check(CLI::Range(2.0, 86400.0));
    app.add_option("--log-level", level,
                   "trace, debug, info, warn, error or critical (default: info)")
        ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error", "critical"}));
    app.add_option("--shim", shim_run, "internal: carry run RUN_ID (started by the service)")
        ->group("");  // hidden
    CLI11_PARSE(app, argc, argv);

    cg::ShimOptions shim;
    shim.data_dir = cg::store::ResolveDataDir(data);
    if (shim_run != 0) {
      shim.run_id = shim_run;
      return cg::RunShim(shim);
    }
    auto logger = spdlog::stderr_color_mt("chronographd");
    spdlog::set_default_logger(logger);
    spdlog::set_level(spdlog::level::from_str(level));
    // journald stamps each line itself; under systemd print only level and message.
    spdlog::set_pattern(getenv("JOURNAL_STREAM") ? "<%l> %v" : "%Y-%m-%dT%H:%M:%S.%e %^%l%$ %v");
    cg::ServiceOptions options;
    options.data_dir = shim.data_dir;
    options.lock_timeout_us = static_cast<int64_t>(lock_timeout * 1e6);
    cg::Status st = cg::os::CreatePrivateDirectory(options.data_dir);
    if (!st.ok()) {
      spdlog::critical("{}", st.ToString());
      return 1;
    }
    auto waiter = cg::NewWaiter(options.data_dir, /*handle_signals=*/true);
    if (!waiter.ok()) {
      spdlog::critical("{}", waiter.status().ToString());
      return 1;
    }
    auto notifier = cg::NewServiceNotifier();
    return cg::RunService(options, waiter->get(), notifier.get());
  } catch (const std::exception& e) {
    std::cerr << "chronographd: internal error: " << e.what() << "\n";
    return 1;
  }
}
