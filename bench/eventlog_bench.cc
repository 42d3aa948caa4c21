// Event-log benchmarks against raw LMDB, through the store API (cg::store::EventLog).
//   eventlog_bench append DIR SECONDS PROCS      durable appends (EventLog::Append, one
//                                                transaction each), PROCS processes
//   eventlog_bench raw-append DIR SECONDS PROCS  raw LMDB put + commit (default sync)
//   eventlog_bench fill DIR N                    build a log of N events (batched)
//   eventlog_bench replay DIR                    fold it (EventLog::CatchUp) from empty
//   eventlog_bench replay-service DIR            the same with the service's fold settings
//   eventlog_bench rawscan DIR                   mdb_cursor_get over `events`, no decoding
//   eventlog_bench breakdown DIR [ROUNDS [STAGE]] where replay's time goes: one read
//                                                transaction over the whole log per stage,
//                                                read ahead as EventLog does (scan; + crc;
//                                                + envelope and payload
//                                                decode; + fold), best of ROUNDS (3);
//                                                prints "STAGE NS_PER_EVENT RATE_PER_S";
//                                                STAGE (0-5) runs only that one (to profile)
// Each prints one line: "RATE_PER_S COUNT SECONDS".
#include <lmdb.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "service/events.h"
#include "service/state.h"
#include "store/crc32c.h"
#include "store/event_codec.h"
#include "store/event_log.h"

namespace {

double Now() {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}
int64_t NowUs() {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return int64_t{ts.tv_sec} * 1000000 + ts.tv_nsec / 1000;
}

[[noreturn]] void Die(const std::string& what) {
  fprintf(stderr, "eventlog_bench: %s\n", what.c_str());
  exit(1);
}

cg::JobSpec Spec(const std::string& name) {
  cg::JobSpec s;
  s.name = name;
  s.argv = {"/usr/local/bin/backup", "--all", "--target=/srv"};
  s.schedule = "0 3 * * *";
  s.time_zone = "Europe/Berlin";
  s.env = {{"TARGET", "/srv"}};
  s.timeout_ms = 3600000;
  s.description = "nightly backup";
  return s;
}

std::unique_ptr<cg::store::EventLog> OpenLog(const std::string& dir, bool create) {
  cg::store::Options o;
  o.create_if_missing = create;
  o.program = "eventlog_bench";
  auto r = cg::store::EventLog::Open(dir, o);
  if (!r.ok()) Die("open: " + r.status().ToString());
  return std::move(r.value());
}

// One appender: JobDefined and RunRequested alternately (the first kind names a new job,
// the second requests a run of it), each its own durable transaction.
long long AppendLoop(const std::string& dir, double seconds, int id) {
  auto log = OpenLog(dir, true);
  cg::State st;
  if (!log->CatchUp(&st).ok()) Die("catch up");
  long long n = 0;
  double end = Now() + seconds;
  std::string last;
  while (Now() < end) {
    cg::EventPayload p;
    if (n % 2 == 0) {
      last = "a" + std::to_string(id) + "-" + std::to_string(getpid()) + "-" + std::to_string(n);
      p = cg::JobDefined{Spec(last)};
    } else {
      p = cg::RunRequested{last};
    }
    auto r = log->Append(&st, std::move(p));
    if (!r.ok()) Die("append: " + r.status().ToString());
    ++n;
  }
  return n;
}

void Check(int rc, const char* what) {
  if (rc != 0) Die(std::string(what) + ": " + mdb_strerror(rc));
}

// The reference: put + commit per event, default (synchronous) durability, with a value
// the size of a JobDefined event.
long long RawAppendLoop(const std::string& dir, double seconds) {
  mkdir(dir.c_str(), 0700);
  MDB_env* env;
  Check(mdb_env_create(&env), "env_create");
  Check(mdb_env_set_maxdbs(env, 4), "maxdbs");
  Check(mdb_env_set_mapsize(env, size_t{1} << 30), "mapsize");
  Check(mdb_env_open(env, dir.c_str(), MDB_NOTLS, 0600), "env_open");
  MDB_dbi dbi;
  {
    MDB_txn* t;
    Check(mdb_txn_begin(env, nullptr, 0, &t), "begin");
    Check(mdb_dbi_open(t, "events", MDB_CREATE, &dbi), "dbi_open");
    Check(mdb_txn_commit(t), "commit");
  }
  std::string value(230, 'x');
  long long n = 0;
  double end = Now() + seconds;
  while (Now() < end) {
    MDB_txn* t;
    Check(mdb_txn_begin(env, nullptr, 0, &t), "begin");
    MDB_cursor* c;
    Check(mdb_cursor_open(t, dbi, &c), "cursor");
    MDB_val k, v;
    uint64_t seq = 1;
    if (mdb_cursor_get(c, &k, &v, MDB_LAST) == 0) {
      uint64_t be;
      memcpy(&be, k.mv_data, 8);
      seq = __builtin_bswap64(be) + 1;
    }
    mdb_cursor_close(c);
    uint64_t be = __builtin_bswap64(seq);
    k = {8, &be};
    v = {value.size(), value.data()};
    Check(mdb_put(t, dbi, &k, &v, MDB_APPEND), "put");
    Check(mdb_txn_commit(t), "commit");
    ++n;
  }
  mdb_env_close(env);
  return n;
}

template <class Fn>
void Parallel(int procs, double seconds, Fn fn) {
  int fds[2];
  if (pipe(fds) != 0) Die("pipe");
  std::vector<pid_t> kids;
  for (int i = 0; i < procs; ++i) {
    pid_t pid = fork();
    if (pid == 0) {
      close(fds[0]);
      long long n = fn(i);
      if (write(fds[1], &n, sizeof n) != sizeof n) _exit(1);
      _exit(0);
    }
    kids.push_back(pid);
  }
  close(fds[1]);
  double t0 = Now();
  long long total = 0, n;
  while (read(fds[0], &n, sizeof n) == sizeof n) total += n;
  for (pid_t k : kids) {
    int st;
    waitpid(k, &st, 0);
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) Die("a child failed");
  }
  double el = Now() - t0;
  if (el < seconds) el = seconds;
  printf("%.1f %lld %.3f\n", total / el, total, el);
}

void Fill(const std::string& dir, long long n) {
  auto log = OpenLog(dir, true);
  cg::State st;
  const int kJobs = 10;
  long long written = 0;
  int64_t t = NowUs() - 86400000000LL;
  while (written < n) {
    auto r = log->Transact(&st, [&](const cg::State& s, cg::store::Batch* b) {
      uint64_t seq = s.last_seq;
      long long target = std::min<long long>(n - written, 10000);
      auto push = [&](cg::EventPayload p) {
        b->events.push_back(std::move(p));
        ++seq;
      };
      if (s.jobs.empty()) {
        for (int j = 0; j < kJobs; ++j) push(cg::JobDefined{Spec("job" + std::to_string(j))});
      }
      int j = 0;
      while (static_cast<long long>(b->events.size()) + 4 <= target) {
        std::string job = "job" + std::to_string(j++ % kJobs);
        t += 1000000;
        uint64_t req = seq + 1;
        push(cg::RunRequested{job});
        uint64_t run = seq + 1;
        push(cg::RunScheduled{job, t, cg::Trigger::kRequest, req, 0});
        cg::RunStarted rs;
        rs.run_id = run; rs.job = job; rs.scheduled_for_us = t; rs.started_at_us = t + 1000;
        rs.pid = 12345; rs.host = "benchhost"; rs.lock_file = "/var/lib/chronograph/locks/run" +
            std::to_string(run) + "-0123456789abcdef.lock";
        push(rs);
        cg::RunFinished rf;
        rf.run_id = run; rf.job = job; rf.started_at_us = t + 1000; rf.ended_at_us = t + 5000;
        rf.exit_code = 0; rf.output_digest = std::string(64, 'a');
        push(rf);
      }
      while (static_cast<long long>(b->events.size()) < target) push(cg::RunRequested{"job0"});
      return cg::Status::OK();
    });
    if (!r.ok()) Die("fill: " + r.status().ToString());
    written = static_cast<long long>(st.last_seq);
  }
  printf("%llu events\n", static_cast<unsigned long long>(st.last_seq));
}

// service: fold as chronographd does at start (service/service.cc: no finished runs
// kept, no whole job specs); otherwise as chronotool and verify do (every run and spec
// kept), the figure README and RESULTS.md have always reported.
void Replay(const std::string& dir, bool service) {
  auto log = OpenLog(dir, false);
  cg::State st;
  if (service) {
    st.finished_runs_per_job = 0;
    st.keep_specs = false;
  }
  double t0 = Now();
  auto s = log->CatchUp(&st);
  double el = Now() - t0;
  if (!s.ok()) Die("catch up: " + s.ToString());
  printf("%.1f %llu %.3f\n", st.events / el, static_cast<unsigned long long>(st.events), el);
}

// The log's LMDB environment opened read-only, without the store's code.
MDB_env* OpenRawEnv(const std::string& dir) {
  MDB_env* env;
  Check(mdb_env_create(&env), "env_create");
  Check(mdb_env_set_maxdbs(env, 4), "maxdbs");
  Check(mdb_env_open(env, dir.c_str(), MDB_NOTLS | MDB_RDONLY, 0600), "env_open");
  return env;
}

// A cursor on the events table in a read transaction of its own.
struct EventsCursor {
  explicit EventsCursor(MDB_env* env) {
    Check(mdb_txn_begin(env, nullptr, MDB_RDONLY, &t), "begin");
    MDB_dbi dbi;
    Check(mdb_dbi_open(t, "events", 0, &dbi), "dbi_open");
    Check(mdb_cursor_open(t, dbi, &c), "cursor");
  }
  ~EventsCursor() {
    mdb_cursor_close(c);
    mdb_txn_abort(t);
  }
  MDB_txn* t = nullptr;
  MDB_cursor* c = nullptr;
};

void RawScan(const std::string& dir) {
  MDB_env* env = OpenRawEnv(dir);
  double t0 = Now();
  auto cursor = std::make_unique<EventsCursor>(env);
  MDB_cursor* c = cursor->c;
  MDB_val k, v;
  long long n = 0;
  size_t bytes = 0;
  for (int rc = mdb_cursor_get(c, &k, &v, MDB_FIRST); rc == 0;
       rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
    ++n;
    bytes += v.mv_size;
  }
  cursor.reset();
  double el = Now() - t0;
  mdb_env_close(env);
  printf("%.1f %lld %.3f\n", n / el, n, el);
  if (bytes == 0) fprintf(stderr, "empty\n");
}

// The stages of a replay, each timed alone over the whole log in one read transaction
// (the product reads in chunks of 8,192 events; the difference is negligible). Each
// stage includes the ones before it, so the difference between two lines is the cost
// of what the later one adds.
void Breakdown(const std::string& dir, int rounds, int only) {
  MDB_env* env = OpenRawEnv(dir);
  enum Stage { kScan, kScanTouch, kCrc, kDecode, kFold, kFoldService, kStages };
  const char* names[kStages] = {"scan",   "scan+touch", "+crc",
                                "+decode", "+fold",      "+fold(service: no finished runs or specs)"};
  double best[kStages];
  long long count = 0;
  for (int stage = 0; stage < kStages; ++stage) {
    best[stage] = 1e9;
    for (int r = 0; r < (only < 0 || only == stage ? rounds : 0); ++r) {
      cg::State st;
      if (stage == kFoldService) {
        st.finished_runs_per_job = 0;
        st.keep_specs = false;
      }
      uint64_t sink = 0;
      cg::store::EventStreamDecoder decoder(cg::store::EventFields::kForFold);
      double t0 = Now();
      auto cursor = std::make_unique<EventsCursor>(env);
      MDB_cursor* c = cursor->c;
      MDB_val k, v;
      long long n = 0;
      // As EventLog's ForEach: the cursor runs 32 entries ahead, prefetching values and
      // the nodes below (the scan stage as the raw scan: no hints).
      std::string_view ahead[32];
      size_t got = 0, at = 0;
      int rc = mdb_cursor_get(c, &k, &v, MDB_FIRST);
      for (;;) {
        if (at == got) {
          got = at = 0;
          for (; rc == 0 && got < 32; rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
            ahead[got++] = std::string_view(static_cast<const char*>(v.mv_data), v.mv_size);
            if (stage > kScan) {
              for (size_t off = 64; off < v.mv_size && off < 1024; off += 64) {
                __builtin_prefetch(static_cast<const char*>(v.mv_data) + off);
              }
              const auto here = reinterpret_cast<uintptr_t>(k.mv_data);
              for (uintptr_t line = 6; line <= 12; ++line) {
                __builtin_prefetch(reinterpret_cast<const void*>(here - 64 * line));
              }
            }
          }
          if (got == 0) break;
        }
        ++n;
        std::string_view value = ahead[at++];
        const char* p = value.data();
        uint64_t seq = static_cast<uint64_t>(n);
        if (stage == kScan) {
          sink += value.size();
        } else if (stage == kScanTouch) {
          // Reads one byte of every cache line of the value: the memory cost alone.
          for (size_t i = 0; i < value.size(); i += 64) sink += static_cast<unsigned char>(p[i]);
        } else if (stage == kCrc) {
          sink += cg::store::crc32c::Value(p + 4, value.size() - 4);
        } else {
          // As EventLog::CatchUp.
          auto d = decoder.Decode(seq, value);
          if (!d.ok()) Die("decode: " + d.ToString());
          sink += decoder.event().type;
          if (stage >= kFold) {
            auto s = cg::Apply(&st, decoder.event());
            if (!s.ok()) Die("fold: " + s.ToString());
          }
        }
      }
      cursor.reset();
      double el = Now() - t0;
      if (el < best[stage]) best[stage] = el;
      count = n;
      if (sink == 42) fprintf(stderr, "!\n");
    }
  }
  mdb_env_close(env);
  for (int stage = 0; stage < kStages; ++stage) {
    double ns = best[stage] * 1e9 / static_cast<double>(count);
    double prev = stage == 0 ? 0 : best[stage == kCrc ? kScan : stage - 1] * 1e9 / count;
    if (stage == kFoldService) prev = best[kDecode] * 1e9 / count;
    if (best[stage] == 1e9) continue;  // not run
    if (prev > 1e8) prev = 0;
    printf("%-36s %7.1f ns/event (%+6.1f) %12.1f /s\n", names[stage], ns, ns - prev,
           count / best[stage]);
  }
}

}  // namespace

int main(int argc, char** argv) {
  std::string mode = argc > 1 ? argv[1] : "";
  if ((mode == "append" || mode == "raw-append") && argc >= 5) {
    std::string dir = argv[2];
    double seconds = atof(argv[3]);
    int procs = atoi(argv[4]);
    if (mode == "append") {
      Parallel(procs, seconds, [&](int i) { return AppendLoop(dir, seconds, i); });
    } else {
      Parallel(procs, seconds, [&](int) { return RawAppendLoop(dir, seconds); });
    }
    return 0;
  }
  if (mode == "fill" && argc >= 4) { Fill(argv[2], atoll(argv[3])); return 0; }
  if (mode == "replay" && argc >= 3) { Replay(argv[2], false); return 0; }
  if (mode == "replay-service" && argc >= 3) { Replay(argv[2], true); return 0; }
  if (mode == "rawscan" && argc >= 3) { RawScan(argv[2]); return 0; }
  if (mode == "breakdown" && argc >= 3) {
    Breakdown(argv[2], argc >= 4 ? atoi(argv[3]) : 3, argc >= 5 ? atoi(argv[4]) : -1);
    return 0;
  }
  fprintf(stderr, "usage: see the comment at the top of bench/eventlog_bench.cc\n");
  return 2;
}
