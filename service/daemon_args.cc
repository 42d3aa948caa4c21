#include "service/daemon_args.h"

#include <CLI/CLI.hpp>

#include "store/event_log.h"
#include "version.h"

namespace cg {

int ParseDaemonArgs(int argc, const char* const* argv, bool windows, DaemonArgs* args) {
  CLI::App app{"chronographd " CHRONOGRAPH_VERSION
               ": the chronograph job scheduler service. Stops cleanly on SIGTERM/SIGINT "
               "(the STOP control on Windows), leaving running jobs to finish and record "
               "themselves."};
  app.name("chronographd");
  app.allow_windows_style_options(false);
  app.set_version_flag("--version", CHRONOGRAPH_VERSION);
  std::string data;
  app.add_option("--data", data,
                 "data directory (default: $CHRONOGRAPH_DATA, else /var/lib/chronograph; "
                 "%ProgramData%\\Chronograph on Windows)");
  app.add_option("--lock-timeout", args->lock_timeout_s,
                 "a run whose lock file was not refreshed for this many seconds is "
                 "abandoned (default: 10)")
      ->check(CLI::Range(2.0, 86400.0));
  app.add_option("--start-ahead", args->start_ahead_ms,
                 "claim an idle job's next slot and start its run shim this many "
                 "milliseconds early, so that the command starts on the slot itself "
                 "(0: at the slot; default: 500)")
      ->check(CLI::Range(int64_t{0}, int64_t{60000}));
  app.add_option("--snapshot-every", args->snapshot_every,
                 "write a snapshot of the state to the log's meta after this many new "
                 "events (at most once a minute) and on a clean stop, so that a restart "
                 "replays only the events after it; 0: never (default: 10000)");
  app.add_option("--max-running", args->max_running,
                 "run at most this many runs at once (each holds a shim process and its "
                 "command); further due runs "
                 "are claimed and wait, recorded as started late, until one ends "
                 "(0: no limit; default: 1000)");
  app.add_option("--idle-shims", args->idle_shims,
                 "keep up to this many run shims waiting, up to a minute, for the next run "
                 "after theirs, so that a busy service starts no shim process per run (the "
                 "command is always a process of its own); POSIX; 0: a shim exits after its "
                 "run (default: 64)");
  app.add_option("--log-level", args->log_level,
                 "trace, debug, info, warn, error or critical (default: info)")
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error", "critical"}));
  app.add_option("--shim", args->shim_run, "internal: carry run RUN_ID (started by the service)")
      ->group("");  // hidden
  app.add_flag("--shim-worker", args->shim_worker,
               "internal: carry the runs the service hands over (started by the service)")
      ->group("");  // hidden
  if (windows) {
    app.add_flag("--console", args->console,
                 "run in the foreground with logs on stderr, not under the Service Control "
                 "Manager (for debugging)");
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int rc = app.exit(e);
    return rc == 0 ? 0 : 2;
  }
  args->data_dir = store::ResolveDataDir(data);
  return -1;
}

}  // namespace cg
