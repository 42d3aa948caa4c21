// Micro benchmarks (Google Benchmark): next-fire computation, the event codec, the fold.
#include <benchmark/benchmark.h>

#include <cstdlib>
#include <string>
#include <vector>

#include "service/events.h"
#include "service/schedule.h"
#include "service/state.h"
#include "store/event_codec.h"

namespace {

constexpr int64_t kAnchor = 1767225600LL * 1000000;  // 2026-01-01T00:00:00Z

void NextFire(benchmark::State& state, const char* spec, const char* tz) {
  auto s = cg::sched::ParseSchedule(spec, tz, kAnchor);
  if (!s.ok()) { state.SkipWithError(s.status().ToString().c_str()); return; }
  int64_t t = kAnchor;
  for (auto _ : state) {
    auto f = (*s)->NextAfter(t);
    if (!f) { t = kAnchor; continue; }
    t = f->at_us;
    benchmark::DoNotOptimize(t);
  }
}
// Walks fire after fire through a year (DST transitions included for Berlin).
BENCHMARK_CAPTURE(NextFire, cron_every_5min_UTC, "*/5 * * * *", "UTC");
BENCHMARK_CAPTURE(NextFire, cron_every_5min_Berlin, "*/5 * * * *", "Europe/Berlin");
BENCHMARK_CAPTURE(NextFire, cron_0230_daily_Berlin, "30 2 * * *", "Europe/Berlin");
BENCHMARK_CAPTURE(NextFire, cron_seconds_UTC, "* * * * * *", "UTC");
BENCHMARK_CAPTURE(NextFire, rrule_weekly_UTC, "FREQ=WEEKLY;BYDAY=MO,WE,FR;BYHOUR=8", "UTC");
BENCHMARK_CAPTURE(NextFire, rrule_weekly_Berlin, "FREQ=WEEKLY;BYDAY=MO,WE,FR;BYHOUR=8",
                  "Europe/Berlin");
BENCHMARK_CAPTURE(NextFire, rrule_hourly_Berlin, "FREQ=HOURLY;INTERVAL=2;BYMINUTE=15",
                  "Europe/Berlin");
BENCHMARK_CAPTURE(NextFire, rrule_monthly_lastfri_Berlin,
                  "FREQ=MONTHLY;BYDAY=FR;BYSETPOS=-1;BYHOUR=2;BYMINUTE=30", "Europe/Berlin");

cg::JobSpec Spec(const std::string& name) {
  cg::JobSpec s;
  s.name = name;
  s.argv = {"/usr/local/bin/backup", "--all"};
  s.schedule = "0 3 * * *";
  s.time_zone = "Europe/Berlin";
  return s;
}

cg::Actor Actor() { return cg::Actor{"root", "chronographd", 1234, "benchhost"}; }

cg::RunFinished Finished() {
  cg::RunFinished f;
  f.run_id = 42; f.job = "backup"; f.started_at_us = kAnchor; f.ended_at_us = kAnchor + 5000;
  f.exit_code = 0; f.output_digest = std::string(64, 'a');
  return f;
}

void Encode(benchmark::State& state, cg::EventPayload p) {
  cg::Hash prev{};
  for (auto _ : state) {
    std::string bytes = cg::store::EncodeEvent(cg::PayloadType(p), kAnchor, Actor(), prev,
                                               cg::EncodePayload(p));
    benchmark::DoNotOptimize(bytes);
  }
}
BENCHMARK_CAPTURE(Encode, JobDefined, cg::EventPayload{cg::JobDefined{Spec("backup")}});
BENCHMARK_CAPTURE(Encode, RunFinished, cg::EventPayload{Finished()});

void Decode(benchmark::State& state, cg::EventPayload p) {
  cg::Hash prev{};
  std::string bytes = cg::store::EncodeEvent(cg::PayloadType(p), kAnchor, Actor(), prev,
                                             cg::EncodePayload(p));
  for (auto _ : state) {
    auto e = cg::store::DecodeEvent(7, bytes);
    benchmark::DoNotOptimize(e);
  }
}
BENCHMARK_CAPTURE(Decode, JobDefined, cg::EventPayload{cg::JobDefined{Spec("backup")}});
BENCHMARK_CAPTURE(Decode, RunFinished, cg::EventPayload{Finished()});

// The fold: one run's four events (requested, scheduled, started, finished) per
// iteration, on a state with 10 jobs.
void Fold(benchmark::State& state) {
  cg::State s;
  uint64_t seq = 0;
  auto apply = [&](cg::EventPayload p) {
    cg::Event e;
    e.seq = ++seq;
    e.version = 1;
    e.type = cg::PayloadType(p);
    e.time_us = kAnchor + static_cast<int64_t>(seq);
    e.actor = Actor();
    e.payload = std::move(p);
    if (!cg::Apply(&s, e).ok()) abort();
  };
  for (int j = 0; j < 10; ++j) apply(cg::JobDefined{Spec("job" + std::to_string(j))});
  int j = 0;
  for (auto _ : state) {
    std::string job = "job" + std::to_string(j++ % 10);
    uint64_t req = seq + 1;
    apply(cg::RunRequested{job});
    uint64_t run = seq + 1;
    apply(cg::RunScheduled{job, kAnchor, cg::Trigger::kRequest, req, 0});
    cg::RunStarted rs;
    rs.run_id = run; rs.job = job; rs.pid = 1; rs.host = "h";
    apply(rs);
    cg::RunFinished f = Finished();
    f.run_id = run; f.job = job;
    apply(f);
  }
  state.SetItemsProcessed(state.iterations() * 4);
}
BENCHMARK(Fold);

}  // namespace

BENCHMARK_MAIN();
