// Launch throughput through the service: for SECONDS, keeps one run-now request (a
// RunRequested appended through the store API, as `chronotool run` does) outstanding
// per job (JOBS jobs named t0..t{JOBS-1}, defined beforehand with /bin/true), so up to
// JOBS runs are in flight; then counts the RunFinished events recorded in the window.
// Prints "RATE_PER_S FINISHED SECONDS FAILED".
#include <time.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <set>
#include <string>

#include "service/events.h"
#include "service/state.h"
#include "store/event_log.h"

static int64_t NowUs() {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return int64_t{ts.tv_sec} * 1000000 + ts.tv_nsec / 1000;
}

int main(int argc, char** argv) {
  if (argc < 4) {
    fprintf(stderr, "usage: throughput DATA SECONDS JOBS\n");
    return 2;
  }
  cg::store::Options o;
  o.create_if_missing = false;
  o.program = "throughput";
  auto opened = cg::store::EventLog::Open(argv[1], o);
  if (!opened.ok()) { fprintf(stderr, "%s\n", opened.status().ToString().c_str()); return 1; }
  auto& log = *opened;
  const double seconds = atof(argv[2]);
  const int jobs = atoi(argv[3]);
  cg::State st;
  if (!log->CatchUp(&st).ok()) return 1;
  const uint64_t first_seq = st.last_seq + 1;
  const int64_t t0 = NowUs(), t1 = t0 + static_cast<int64_t>(seconds * 1e6);
  long long requested = 0;
  for (;;) {
    int64_t now = NowUs();
    if (!log->CatchUp(&st).ok()) return 1;
    std::set<std::string> busy;
    for (auto& [seq, req] : st.pending_requests) busy.insert(req.job);
    for (uint64_t id : st.active_runs) busy.insert(st.runs.Find(id)->job);
    if (now >= t1) {
      if (busy.empty() || now > t1 + 15000000) break;
    } else {
      // The requests of one round in one commit (as a client asking for several runs
      // at once would): the load generator's own commits then do not stand in line
      // with the service's, one per run.
      long long round = 0;
      auto r = log->Transact(&st, [&](const cg::State&, cg::store::Batch* batch) {
        round = 0;
        for (int j = 0; j < jobs; ++j) {
          std::string name = "t" + std::to_string(j);
          if (!busy.count(name)) {
            batch->events.push_back(cg::RunRequested{name});
            ++round;
          }
        }
        return cg::Status::OK();
      });
      if (!r.ok()) { fprintf(stderr, "%s\n", r.status().ToString().c_str()); return 1; }
      requested += round;
    }
    usleep(1000);
  }
  long long finished = 0, failed = 0;
  int64_t last_end = t0;
  auto s = log->Scan(first_seq, UINT64_MAX, [&](const cg::Event& e) {
    if (auto* f = std::get_if<cg::RunFinished>(&e.payload)) {
      if (e.time_us <= t1) ++finished;
      if (f->outcome != cg::RunOutcome::kSucceeded) ++failed;
      last_end = e.time_us;
    }
    return true;
  });
  if (!s.ok()) { fprintf(stderr, "%s\n", s.ToString().c_str()); return 1; }
  printf("%.1f %lld %.1f %lld\n", finished / seconds, finished, seconds, failed);
  fprintf(stderr, "throughput: %lld requested\n", requested);
  return 0;
}
