// Heartbeat cost (issue 5, item 6):
//   heartbeat CHRONOGRAPHD DIR N SLEEP_S WINDOW_S
// defines N jobs running `/bin/sleep SLEEP_S` and requests a run of each (two batched
// transactions through the store API, as `chronotool run` appends RunRequested), starts
// chronographd (--lock-timeout 3600, so a loaded machine abandons nothing), waits until
// the log shows all N runs started, then measures over WINDOW_S seconds the CPU and
// wake-ups of all N run shims together and of the service. In the same window, two
// references run:
//   - N bare `/bin/sleep` processes (what the jobs themselves cost: about nothing);
//   - one process refreshing N lock files with utimensat once a second (the work the
//     heartbeats must do, with no per-run process).
// Then it stops the shims (SIGTERM: each records its run as stopped) and the service.
// Prints key=value lines.
#include <sys/stat.h>

#include <algorithm>

#include "bench/procstat.h"
#include "service/events.h"
#include "service/state.h"
#include "store/event_log.h"

namespace {

using bench::Die;

std::unique_ptr<cg::store::EventLog> Open(const std::string& dir) {
  cg::store::Options o;
  o.program = "bench_heartbeat";
  auto r = cg::store::EventLog::Open(dir, o);
  if (!r.ok()) Die("open: " + r.status().ToString());
  return std::move(r.value());
}

std::string Name(long i) {
  char name[32];
  snprintf(name, sizeof name, "hb-%04ld", i);
  return name;
}

// Pss and Private_Dirty (kB) summed over the processes, from smaps_rollup.
std::pair<long long, long long> Memory(const std::vector<long>& pids) {
  long long pss = 0, dirty = 0;
  for (long p : pids) {
    std::string s = bench::ReadFile("/proc/" + std::to_string(p) + "/smaps_rollup");
    pss += std::max(0LL, bench::StatusField(s, "Pss"));
    dirty += std::max(0LL, bench::StatusField(s, "Private_Dirty"));
  }
  return {pss, dirty};
}

// The reference heartbeat: one process, N files, utimensat each once a second.
pid_t StartToucher(const std::string& dir, long n, int seconds) {
  mkdir(dir.c_str(), 0700);
  std::vector<std::string> files;
  for (long i = 0; i < n; ++i) {
    files.push_back(dir + "/run" + std::to_string(i) + ".lock");
    int fd = open(files.back().c_str(), O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
    if (fd < 0) Die("create " + files.back());
    close(fd);
  }
  pid_t pid = fork();
  if (pid != 0) return pid;
  struct timespec next;
  clock_gettime(CLOCK_MONOTONIC, &next);
  for (int s = 0; s < seconds; ++s) {
    for (const auto& f : files) utimensat(AT_FDCWD, f.c_str(), nullptr, AT_SYMLINK_NOFOLLOW);
    next.tv_sec += 1;
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &next, nullptr) == EINTR) {
    }
  }
  _exit(0);
}

bool Gone(long pid) {
  std::string stat = bench::ReadFile("/proc/" + std::to_string(pid) + "/stat");
  size_t paren = stat.rfind(')');
  return stat.empty() || paren == std::string::npos || stat[paren + 2] == 'Z';
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 6) {
    fprintf(stderr, "usage: heartbeat CHRONOGRAPHD DIR N SLEEP_S WINDOW_S\n");
    return 2;
  }
  const std::string chronographd = argv[1], dir = argv[2];
  const long n = atol(argv[3]);
  const std::string sleep_s = argv[4];
  const double window = atof(argv[5]);

  auto log = Open(dir);
  cg::State st;
  if (!log->CatchUp(&st).ok()) Die("catch up");
  for (int pass = 0; pass < 2; ++pass) {
    auto r = log->Transact(&st, [&](const cg::State&, cg::store::Batch* b) {
      for (long i = 0; i < n; ++i) {
        if (pass == 0) {
          cg::JobSpec s;
          s.name = Name(i);
          s.argv = {"/bin/sleep", sleep_s};
          s.schedule = "0 0 1 1 *";  // January 1st: not due during the benchmark
          s.description = "heartbeat benchmark";
          b->events.push_back(cg::JobDefined{s});
        } else {
          b->events.push_back(cg::RunRequested{Name(i)});
        }
      }
      return cg::Status::OK();
    });
    if (!r.ok()) Die("append: " + r.status().ToString());
  }

  double t0 = bench::Mono();
  pid_t svc = bench::Spawn({chronographd, "--data", dir, "--log-level", "warn", "--lock-timeout",
                            "3600"},
                           {}, dir + ".log");
  std::vector<long> shims;
  long running = 0, ended = 0;
  while (bench::Mono() - t0 < 900) {
    usleep(500000);
    if (!log->CatchUp(&st).ok()) Die("catch up");
    running = ended = 0;
    shims.clear();
    for (const cg::RunRecord& run : st.runs) {
      if (run.status == cg::RunStatus::kRunning) {
        ++running;
        shims.push_back(static_cast<long>(run.pid));
      } else if (run.status != cg::RunStatus::kScheduled) {
        ++ended;
      }
    }
    if (running + ended >= n) break;
  }
  double all_started = bench::Mono() - t0;
  printf("runs=%ld\nrunning=%ld\nended_early=%ld\nall_started_s=%.2f\n", n, running, ended,
         all_started);
  if (running < n) fprintf(stderr, "heartbeat: only %ld of %ld runs running\n", running, n);

  // The references, in the same window.
  std::vector<long> sleeps;
  for (long i = 0; i < n; ++i) sleeps.push_back(bench::Spawn({"/bin/sleep", sleep_s}, {}));
  pid_t toucher = StartToucher(dir + "-reflocks", n, static_cast<int>(window) + 30);
  sleep(3);  // settle: the last shims' first beats, the references' start

  std::vector<long> svc_v = {svc}, touch_v = {toucher};
  int alive0 = 0, alive1 = 0;
  bench::Cpu h0 = bench::Sum(shims, &alive0), s0 = bench::Sum(svc_v), b0 = bench::Sum(sleeps),
             u0 = bench::Sum(touch_v);
  double w0 = bench::Mono();
  usleep(static_cast<useconds_t>(window * 1e6));
  bench::Cpu h1 = bench::Sum(shims, &alive1), s1 = bench::Sum(svc_v), b1 = bench::Sum(sleeps),
             u1 = bench::Sum(touch_v);
  double w = bench::Mono() - w0;
  auto mem = Memory(shims);
  auto svc_mem = Memory(svc_v);
  printf("window_s=%.3f\nshims_alive_start=%d\nshims_alive_end=%d\n", w, alive0, alive1);
  auto out = [&](const char* who, const bench::Cpu& a, const bench::Cpu& b) {
    printf("%s_cpu_ns=%lld\n%s_cpu_ticks=%lld\n%s_wakeups=%lld\n", who, b.run_ns - a.run_ns, who,
           b.ticks - a.ticks, who, b.voluntary - a.voluntary);
  };
  out("shims", h0, h1);
  out("service", s0, s1);
  out("sleeps", b0, b1);
  out("toucher", u0, u1);
  printf("shims_pss_kb=%lld\nshims_private_dirty_kb=%lld\nservice_pss_kb=%lld\n", mem.first,
         mem.second, svc_mem.first);

  // Clean up: the references, then the shims (each records its run as stopped), then
  // the service.
  for (long p : sleeps) kill(static_cast<pid_t>(p), SIGKILL);
  for (long p : sleeps) waitpid(static_cast<pid_t>(p), nullptr, 0);
  kill(toucher, SIGKILL);
  waitpid(toucher, nullptr, 0);
  for (long p : shims) kill(static_cast<pid_t>(p), SIGTERM);
  double stop0 = bench::Mono();
  for (;;) {
    long left = std::count_if(shims.begin(), shims.end(), [](long p) { return !Gone(p); });
    if (left == 0) break;
    if (bench::Mono() - stop0 > 300) {
      fprintf(stderr, "heartbeat: %ld shims still running after 300 s\n", left);
      break;
    }
    usleep(200000);
  }
  int rc = bench::StopChild(svc, 60);
  if (!log->CatchUp(&st).ok()) Die("catch up");
  long stopped = 0, abandoned = 0;
  for (const cg::RunRecord& run : st.runs) {
    if (run.status == cg::RunStatus::kStopped) ++stopped;
    if (run.status == cg::RunStatus::kAbandoned) ++abandoned;
  }
  printf("recorded_stopped=%ld\nrecorded_abandoned=%ld\nservice_exit=%d\n", stopped, abandoned,
         WIFEXITED(rc) ? WEXITSTATUS(rc) : 128 + WTERMSIG(rc));
  return 0;
}
