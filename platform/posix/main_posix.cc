// chronographd on POSIX systems: a thin shell around RunService() (osquery's
// main/posix/main.cpp), and the run shims (`--shim RUN_ID`, `--shim-worker`, started by
// the service).
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <cstdlib>
#include <exception>
#include <iostream>

#include "service/daemon_args.h"
#include "service/os.h"
#include "service/run_shim.h"
#include "service/service.h"

int main(int argc, char** argv) {
  try {
    cg::DaemonArgs args;
    int rc = cg::ParseDaemonArgs(argc, argv, /*windows=*/false, &args);  // POSIX argv is UTF-8
    if (rc >= 0) return rc;
    if (args.shim_run != 0) {
      cg::ShimOptions shim;
      shim.data_dir = args.data_dir;
      shim.run_id = args.shim_run;
      return cg::RunShim(shim);
    }
    if (args.shim_worker) {
      cg::ShimOptions shim;
      shim.data_dir = args.data_dir;
      return cg::RunShimWorker(shim, cg::os::ChannelFromInherited().get());
    }
    spdlog::set_default_logger(spdlog::stderr_color_mt("chronographd"));
    spdlog::set_level(spdlog::level::from_str(args.log_level));
    // journald stamps each line itself; under systemd print only level and message.
    spdlog::set_pattern(getenv("JOURNAL_STREAM") ? "<%l> %v" : "%Y-%m-%dT%H:%M:%S.%e %^%l%$ %v");
    cg::Status st = cg::os::CreatePrivateDirectory(args.data_dir);
    if (!st.ok()) {
      spdlog::critical("{}", st.ToString());
      return 1;
    }
    auto waiter = cg::NewWaiter(args.data_dir, /*handle_signals=*/true);
    if (!waiter.ok()) {
      spdlog::critical("{}", waiter.status().ToString());
      return 1;
    }
    cg::ServiceOptions options;
    options.data_dir = args.data_dir;
    options.lock_timeout_us = static_cast<int64_t>(args.lock_timeout_s * 1e6);
    options.start_ahead_us = args.start_ahead_ms * 1000;
    options.snapshot_every_events = args.snapshot_every;
    options.max_running = args.max_running;
    options.idle_shims = args.idle_shims;
    auto notifier = cg::NewServiceNotifier();
    return cg::RunService(options, waiter->get(), notifier.get());
  } catch (const std::exception& e) {
    std::cerr << "chronographd: internal error: " << e.what() << "\n";
    return 1;
  }
}
