// Scale and idle cost (issue 5, item 4).
//   scale fill DIR N MARGIN_S
//       defines N realistic jobs through the store API, 1,000 per transaction: cron
//       schedules spread over the day, some weekday-only, some RRULEs, in four zones.
//       No job fires within MARGIN_S seconds of now (each candidate's next fire is
//       computed with the product's own schedule code; a candidate too close moves on by
//       three hours), so nothing is due while the service is measured.
//   scale history DIR RUNS_PER_JOB
//       gives every job of DIR RUNS_PER_JOB finished runs in the past (each a run-now
//       request, its claim, start and end, with a lock file path, a host and an output
//       digest as a shim records them), 1,000 runs per transaction: the service's
//       memory with a history behind it.
//   scale service CHRONOGRAPHD TICKER DIR IDLE_S STRACE_S STRACE_OUT
//       starts chronographd with a real $NOTIFY_SOCKET (and WATCHDOG_USEC=30 s, as the
//       shipped unit's WatchdogSec=30s), times spawn -> READY=1, reads its memory, then
//       over IDLE_S seconds its CPU and wake-ups next to two references started in the
//       same window: an idle `sleep` and bench_ticker (a bare loop waking every second).
//       Then, if STRACE_S > 0, `strace -c -f` on it for STRACE_S seconds.
//       Prints key=value lines.
//   scale timed PROGRAM ARGS...
//       runs a program; prints "wall_s=... maxrss_kb=... cpu_s=..." (spawn -> exit).
#include <sys/resource.h>

#include <map>
#include <memory>

#include "bench/procstat.h"
#include "service/events.h"
#include "service/schedule.h"
#include "service/state.h"
#include "store/event_log.h"

namespace {

using bench::Die;

struct Rng {
  uint64_t s = 0x9e3779b97f4a7c15ULL;
  uint32_t Next() {
    s ^= s << 13;
    s ^= s >> 7;
    s ^= s << 17;
    return static_cast<uint32_t>(s >> 16);
  }
};

const char* kZones[] = {"UTC", "Europe/Berlin", "America/New_York", "Asia/Tokyo"};

std::string Schedule(int kind, int h, int m) {
  std::string hm = std::to_string(m) + " " + std::to_string(h);
  switch (kind) {
    case 6: return hm + " * * 1-5";
    case 7: return std::to_string(m) + " " + std::to_string(h % 6) + "-23/6 * * *";
    case 8:
      return "FREQ=WEEKLY;BYDAY=MO,WE,FR;BYHOUR=" + std::to_string(h) +
             ";BYMINUTE=" + std::to_string(m);
    case 9:
      return "FREQ=MONTHLY;BYMONTHDAY=1,15;BYHOUR=" + std::to_string(h) +
             ";BYMINUTE=" + std::to_string(m);
    default: return hm + " * * *";
  }
}

void Fill(const std::string& dir, long n, long margin_s) {
  cg::store::Options o;
  o.program = "bench_scale";
  auto opened = cg::store::EventLog::Open(dir, o);
  if (!opened.ok()) Die("open: " + opened.status().ToString());
  auto& log = *opened;
  cg::State st;
  if (!log->CatchUp(&st).ok()) Die("catch up");
  Rng rng;
  const int64_t now = bench::NowUs();
  const int64_t quiet_until = now + margin_s * 1000000LL;
  long defined = 0, moved = 0;
  std::map<std::string, long> kinds;
  while (defined < n) {
    long batch_n = std::min(1000L, n - defined);
    auto r = log->Transact(&st, [&](const cg::State&, cg::store::Batch* b) {
      for (long i = 0; i < batch_n; ++i) {
        long id = defined + i;
        int kind = static_cast<int>(id % 10);
        std::string zone = kZones[(id / 10) % 4];
        int h = rng.Next() % 24, m = rng.Next() % 60;
        std::string sched;
        for (int attempt = 0;; ++attempt) {
          sched = Schedule(kind, h, m);
          auto parsed = cg::sched::ParseSchedule(sched, zone, now / 1000000 * 1000000);
          if (!parsed.ok()) Die("schedule '" + sched + "': " + parsed.status().ToString());
          auto fire = (*parsed)->NextAfter(now);
          if (fire && fire->at_us > quiet_until) break;
          if (attempt > 8) Die("cannot place '" + sched + "' outside the quiet window");
          h = (h + 3) % 24;
          ++moved;
        }
        kinds[kind >= 8 ? "rrule" : "cron"]++;
        char name[32];
        snprintf(name, sizeof name, "job-%06ld", id);
        cg::JobSpec s;
        s.name = name;
        s.argv = {"/usr/local/bin/report", "--id=" + std::to_string(id), "--out=/srv/reports"};
        s.schedule = sched;
        s.time_zone = zone;
        s.env = {{"REPORT_DIR", "/srv/reports"}};
        s.timeout_ms = 3600000;
        s.description = "report " + std::to_string(id);
        b->events.push_back(cg::JobDefined{s});
      }
      return cg::Status::OK();
    });
    if (!r.ok()) Die("define: " + r.status().ToString());
    defined += batch_n;
  }
  printf("jobs=%zu events=%llu cron=%ld rrule=%ld moved_out_of_window=%ld\n", st.jobs.size(),
         static_cast<unsigned long long>(st.last_seq), kinds["cron"], kinds["rrule"], moved);
}

void History(const std::string& dir, long runs_per_job) {
  cg::store::Options o;
  o.program = "bench_scale";
  o.create_if_missing = false;
  auto opened = cg::store::EventLog::Open(dir, o);
  if (!opened.ok()) Die("open: " + opened.status().ToString());
  auto& log = *opened;
  cg::State st;  // this program's own fold need not keep the history it writes
  st.finished_runs_per_job = 1;
  st.keep_specs = false;
  if (!log->CatchUp(&st).ok()) Die("catch up");
  std::vector<std::string> names;
  for (const auto& [name, job] : st.jobs) names.push_back(name);
  const std::string digest(64, 'a');
  long done = 0;
  const long total = runs_per_job * static_cast<long>(names.size());
  const int64_t past = bench::NowUs() - 86400LL * 1000000;
  while (done < total) {
    long n = std::min(1000L, total - done);
    // One transaction asks for the runs; the next claims, starts and ends them (the
    // runs' ids are their claims' sequence numbers).
    auto asked = log->Transact(&st, [&](const cg::State&, cg::store::Batch* b) {
      for (long i = 0; i < n; ++i) b->events.push_back(cg::RunRequested{names[(done + i) % names.size()]});
      return cg::Status::OK();
    });
    if (!asked.ok()) Die("request: " + asked.status().ToString());
    const uint64_t first_request = *asked;
    auto ran = log->Transact(&st, [&](const cg::State& s, cg::store::Batch* b) {
      uint64_t request = first_request;  // decide may be called again (a map that grew)
      uint64_t claim = s.last_seq + 1;
      for (long i = 0; i < n; ++i, ++request, claim += 3) {
        const std::string& job = names[(done + i) % names.size()];
        b->events.push_back(cg::RunScheduled{job, past, cg::Trigger::kRequest, request, 0});
        b->events.push_back(cg::RunStarted{claim, job, past, past, 4242, "bench-host",
                                           dir + "/locks/run" + std::to_string(claim) + "-x7Qa9c.lock"});
        cg::RunFinished f;
        f.run_id = claim;
        f.job = job;
        f.started_at_us = past;
        f.ended_at_us = past + 1500000;
        f.exit_code = 0;
        f.output_digest = digest;
        b->events.push_back(f);
      }
      return cg::Status::OK();
    });
    if (!ran.ok()) Die("runs: " + ran.status().ToString());
    done += n;
  }
  printf("runs=%ld events=%llu\n", total, static_cast<unsigned long long>(st.last_seq));
}

void Service(const std::string& chronographd, const std::string& ticker, const std::string& dir,
             double idle_s, int strace_s, const std::string& strace_out) {
  bench::NotifySocket sock(dir + ".notify");
  double t0 = bench::Mono();
  pid_t pid = bench::Spawn({chronographd, "--data", dir, "--log-level", "info"},
                           {"NOTIFY_SOCKET=" + sock.path(), "WATCHDOG_USEC=30000000"},
                           dir + ".log");
  std::string msg;
  double ready = 0;
  while (bench::Mono() - t0 < 300) {
    msg = sock.Receive(1);
    if (msg.rfind("READY=1", 0) == 0) {
      ready = bench::Mono() - t0;
      break;
    }
    int st;
    if (waitpid(pid, &st, WNOHANG) == pid) Die("chronographd exited before READY; see " + dir + ".log");
  }
  if (ready == 0) Die("no READY=1 within 300 s");
  std::string status = bench::ReadFile("/proc/" + std::to_string(pid) + "/status");
  printf("startup_s=%.4f\n", ready);
  for (const char* k : {"VmRSS", "VmHWM", "RssAnon", "RssFile"}) {
    printf("%s_kb=%lld\n", k, bench::StatusField(status, k));
  }
  printf("ready_msg=%s\n", msg.substr(0, msg.find('\n', 8)).c_str());
  if (idle_s > 0) {
    // Settle (the first scheduling pass after READY), then the same window for all three.
    double settle_end = bench::Mono() + 2;
    while (bench::Mono() < settle_end) sock.Receive(settle_end - bench::Mono());
    pid_t sl = bench::Spawn({"/bin/sleep", std::to_string(static_cast<int>(idle_s) + 30)}, {});
    pid_t tk = bench::Spawn({ticker, std::to_string(static_cast<int>(idle_s) + 30)}, {},
                            "/dev/null");
    usleep(500000);
    bench::Cpu s0 = bench::ReadCpu(pid), r0 = bench::ReadCpu(sl), k0 = bench::ReadCpu(tk);
    double w0 = bench::Mono();
    int watchdogs = 0;
    while (bench::Mono() - w0 < idle_s) {
      std::string m = sock.Receive(idle_s - (bench::Mono() - w0));
      if (m.rfind("WATCHDOG=1", 0) == 0) ++watchdogs;
    }
    bench::Cpu s1 = bench::ReadCpu(pid), r1 = bench::ReadCpu(sl), k1 = bench::ReadCpu(tk);
    double w = bench::Mono() - w0;
    auto out = [&](const char* who, const bench::Cpu& a, const bench::Cpu& b) {
      printf("%s_cpu_ns=%lld\n%s_cpu_ticks=%lld\n%s_wakeups=%lld\n%s_involuntary=%lld\n", who,
             b.run_ns - a.run_ns, who, b.ticks - a.ticks, who, b.voluntary - a.voluntary, who,
             b.involuntary - a.involuntary);
    };
    printf("idle_window_s=%.3f\nwatchdog_pings=%d\n", w, watchdogs);
    out("service", s0, s1);
    out("sleep", r0, r1);
    out("ticker", k0, k1);
    kill(sl, SIGKILL);
    kill(tk, SIGKILL);
    waitpid(sl, nullptr, 0);
    waitpid(tk, nullptr, 0);
    if (strace_s > 0) {
      std::string cmd = "timeout -s INT " + std::to_string(strace_s) + " strace -c -f -p " +
                        std::to_string(pid) + " -o " + strace_out + " 2>/dev/null";
      int rc = system(cmd.c_str());
      (void)rc;
      printf("strace_s=%d\n", strace_s);
    }
  }
  int st = bench::StopChild(pid);
  printf("service_exit=%d\n", WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st));
}

void Timed(std::vector<std::string> argv) {
  double t0 = bench::Mono();
  pid_t pid = bench::Spawn(argv, {}, "/dev/null");
  int st;
  struct rusage ru;
  if (wait4(pid, &st, 0, &ru) != pid) Die("wait4");
  double wall = bench::Mono() - t0;
  if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) Die(argv[0] + " failed");
  printf("wall_s=%.4f maxrss_kb=%ld cpu_s=%.4f\n", wall, ru.ru_maxrss,
         ru.ru_utime.tv_sec + ru.ru_stime.tv_sec +
             (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6);
}

}  // namespace

int main(int argc, char** argv) {
  std::string mode = argc > 1 ? argv[1] : "";
  if (mode == "fill" && argc == 5) {
    Fill(argv[2], atol(argv[3]), atol(argv[4]));
  } else if (mode == "history" && argc == 4) {
    History(argv[2], atol(argv[3]));
  } else if (mode == "service" && argc == 8) {
    Service(argv[2], argv[3], argv[4], atof(argv[5]), atoi(argv[6]), argv[7]);
  } else if (mode == "timed" && argc >= 3) {
    Timed(std::vector<std::string>(argv + 2, argv + argc));
  } else {
    fprintf(stderr, "usage: see the comment at the top of bench/scale.cc\n");
    return 2;
  }
  return 0;
}
