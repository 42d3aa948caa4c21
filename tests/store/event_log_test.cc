#include "store/event_log.h"

#include <gtest/gtest.h>
#include <lmdb.h>

#include <filesystem>
#include <functional>
#include <thread>

#include "service/os.h"
#include "service/state_codec.h"
#include "store/coding.h"
#include "store/event_codec.h"
#include "tests/util/subprocess.h"

namespace cg::store {
namespace {

using cg::testing::TempDir;

JobSpec Spec(const std::string& name) {
  JobSpec s;
  s.name = name;
  s.argv = {"/bin/true"};
  s.schedule = "* * * * *";
  return s;
}

std::unique_ptr<EventLog> OpenOrDie(const std::string& dir, Options options = Options()) {
  auto log = EventLog::Open(dir, options);
  EXPECT_TRUE(log.ok()) << log.status().ToString();
  return log.ok() ? std::move(log).value() : nullptr;
}

// Edits the environment with the LMDB C API, bypassing EventLog, as an attacker or a
// bad disk would. REQUIRES: no EventLog open on `dir` in this process.
void RawEdit(const std::string& dir, const std::function<void(MDB_txn*, MDB_dbi events,
                                                             MDB_dbi meta)>& edit) {
  MDB_env* env;
  ASSERT_EQ(mdb_env_create(&env), 0);
  mdb_env_set_maxdbs(env, 4);
  ASSERT_EQ(mdb_env_open(env, dir.c_str(), 0, 0600), 0);
  MDB_txn* txn;
  ASSERT_EQ(mdb_txn_begin(env, nullptr, 0, &txn), 0);
  MDB_dbi events, meta;
  ASSERT_EQ(mdb_dbi_open(txn, "events", 0, &events), 0);
  ASSERT_EQ(mdb_dbi_open(txn, "meta", 0, &meta), 0);
  edit(txn, events, meta);
  ASSERT_EQ(mdb_txn_commit(txn), 0);
  mdb_env_close(env);
}

std::string GetRaw(MDB_txn* txn, MDB_dbi dbi, uint64_t seq) {
  std::string key = EncodeKey(seq);
  MDB_val k{key.size(), key.data()}, v;
  EXPECT_EQ(mdb_get(txn, dbi, &k, &v), 0);
  return std::string(static_cast<char*>(v.mv_data), v.mv_size);
}

void PutRaw(MDB_txn* txn, MDB_dbi dbi, uint64_t seq, const std::string& value) {
  std::string key = EncodeKey(seq);
  MDB_val k{key.size(), key.data()}, v{value.size(), const_cast<char*>(value.data())};
  ASSERT_EQ(mdb_put(txn, dbi, &k, &v, 0), 0);
}

// Writes five job definitions and closes the log.
void WriteFive(const std::string& dir) {
  auto log = OpenOrDie(dir);
  State state;
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(log->Append(&state, JobDefined{Spec("j" + std::to_string(i))}).ok());
}

Status VerifyDir(const std::string& dir) {
  auto log = OpenOrDie(dir);
  VerifyReport report;
  return log->Verify(&report);
}

TEST(EventLogTest, CreatesTheDirectoryAndReopens) {
  TempDir tmp;
  std::string dir = tmp.Sub("data/nested");
  WriteFive(dir);  // owner-only modes: tests/platform/posix/permissions_test.cc

  auto log = OpenOrDie(dir);
  State state;
  ASSERT_TRUE(log->CatchUp(&state).ok());
  EXPECT_EQ(state.last_seq, 5u);
  EXPECT_EQ(state.jobs.size(), 5u);
  EXPECT_EQ(*log->LastSeq(), 5u);
  VerifyReport report;
  ASSERT_TRUE(log->Verify(&report).ok());
  EXPECT_EQ(report.events, 5u);
  EXPECT_EQ(report.jobs, 5u);
}

TEST(EventLogTest, MissingDirectoryIsNotFoundWhenNotCreating) {
  TempDir tmp;
  Options o;
  o.create_if_missing = false;
  auto log = EventLog::Open(tmp.Sub("nope"), o);
  EXPECT_TRUE(log.status().IsNotFound());
  EXPECT_FALSE(std::filesystem::exists(tmp.Sub("nope")));
}

TEST(EventLogTest, RecordsActorAndChainsEvents) {
  TempDir tmp;
  Options o;
  o.program = "unit-test";
  auto log = OpenOrDie(tmp.path(), o);
  State state;
  ASSERT_TRUE(log->Append(&state, JobDefined{Spec("a")}).ok());
  ASSERT_TRUE(log->Append(&state, JobDisabled{"a"}).ok());
  std::vector<Event> events;
  ASSERT_TRUE(log->Scan(1, 100, [&](const Event& e) {
                   events.push_back(e);
                   return true;
                 }).ok());
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0].actor.program, "unit-test");
  EXPECT_FALSE(events[0].actor.user.empty());
  EXPECT_EQ(events[0].prev, Hash{});
  EXPECT_NE(events[1].prev, Hash{});
  EXPECT_LE(events[0].time_us, events[1].time_us);
}

TEST(EventLogTest, RejectedDecisionWritesNothing) {
  TempDir tmp;
  auto log = OpenOrDie(tmp.path());
  State state;
  ASSERT_TRUE(log->Append(&state, JobDefined{Spec("a")}).ok());
  auto r = log->Transact(&state, [](const State&, Batch* b) {
    b->events.push_back(JobDisabled{"a"});
    return Status::InvalidArgument("changed my mind");
  });
  EXPECT_TRUE(r.status().IsInvalidArgument());
  // An event the fold rejects is refused before it is written.
  auto twice = log->Append(&state, JobDefined{Spec("a")});
  EXPECT_FALSE(twice.ok());
  EXPECT_EQ(*log->LastSeq(), 1u);
  EXPECT_EQ(state.last_seq, 1u);
  EXPECT_TRUE(state.FindJob("a")->spec().enabled);
}

TEST(EventLogTest, TransactSeesWhatOthersAppended) {
  TempDir tmp;
  WriteFive(tmp.path());
  auto log = OpenOrDie(tmp.path());
  State stale;  // knows nothing yet
  auto r = log->Transact(&stale, [](const State& s, Batch* b) {
    EXPECT_EQ(s.jobs.size(), 5u);
    b->events.push_back(JobRemoved{"j3"});
    return Status::OK();
  });
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r, 6u);
  EXPECT_EQ(stale.jobs.size(), 4u);
}

TEST(EventLogTest, StoresAndDeletesOutputsInTheSameTransaction) {
  TempDir tmp;
  auto log = OpenOrDie(tmp.path());
  State state;
  ASSERT_TRUE(log->Append(&state, JobDefined{Spec("a")}).ok());
  ASSERT_TRUE(log->Transact(&state, [](const State&, Batch* b) {
                   b->put_outputs.push_back({42, std::string("out\0put", 7)});
                   return Status::OK();
                 }).ok());
  EXPECT_EQ(**log->GetOutput(42), std::string("out\0put", 7));
  EXPECT_FALSE(log->GetOutput(43)->has_value());
  ASSERT_TRUE(log->Transact(&state, [](const State&, Batch* b) {
                   b->delete_outputs.push_back(42);
                   return Status::OK();
                 }).ok());
  EXPECT_FALSE(log->GetOutput(42)->has_value());
}

TEST(EventLogTest, ConcurrentWriterProcesses) {
  TempDir tmp;
  const int kProcs = 4, kEach = 150;
  std::vector<long> ids;
  for (int p = 0; p < kProcs; ++p) {
    // A small initial map makes the writers grow it under each other's feet.
    ids.push_back(cg::testing::StartProgram({cg::testing::BinPath("append_helper"), tmp.path(),
                                             std::to_string(kEach), "w" + std::to_string(p),
                                             "2000", "65536"}));
    ASSERT_GT(ids.back(), 0);
  }
  for (long id : ids) EXPECT_EQ(cg::testing::WaitProgram(id), 0);
  auto log = OpenOrDie(tmp.path());
  VerifyReport report;
  ASSERT_TRUE(log->Verify(&report).ok());
  EXPECT_EQ(report.events, static_cast<uint64_t>(kProcs * kEach));
  // Each writer's events appear in its own order.
  std::map<std::string, int> next;
  ASSERT_TRUE(log->Scan(1, UINT64_MAX, [&](const Event& e) {
                   const auto& name = std::get<JobDefined>(e.payload).spec.name;
                   std::string label = name.substr(0, name.find('-'));
                   EXPECT_EQ(name, label + "-" + std::to_string(next[label]++));
                   EXPECT_EQ(e.actor.program, "append_helper");
                   return true;
                 }).ok());
  EXPECT_EQ(next.size(), static_cast<size_t>(kProcs));
  EXPECT_GT(log->MapSize(), 65536u);
}

TEST(EventLogTest, VerifyWhileOthersAppendSeesNoFalseCorruption) {
  TempDir tmp;
  WriteFive(tmp.path());
  long writer = cg::testing::StartProgram(
      {cg::testing::BinPath("append_helper"), tmp.path(), "400", "w"});
  ASSERT_GT(writer, 0);
  auto log = OpenOrDie(tmp.path());
  int checked = 0;
  for (; checked < 300; ++checked) {
    VerifyReport report;
    Status st = log->Verify(&report);
    ASSERT_TRUE(st.ok()) << "verify " << checked << ": " << st.ToString();
  }
  EXPECT_EQ(cg::testing::WaitProgram(writer), 0);
}

TEST(EventLogTest, MapGrowsWhenFull) {
  TempDir tmp;
  Options o;
  o.initial_map_size = 64 * 1024;
  auto log = OpenOrDie(tmp.path(), o);
  size_t initial = log->MapSize();
  State state;
  for (int i = 0; i < 300; ++i) {
    JobSpec s = Spec("big" + std::to_string(i));
    s.description = std::string(4000, 'd');
    auto r = log->Append(&state, JobDefined{s});
    ASSERT_TRUE(r.ok()) << i << ": " << r.status().ToString();
  }
  EXPECT_GT(log->MapSize(), initial);
  EXPECT_GE(log->MapSize(), 300u * 4000u);
  EXPECT_EQ(state.jobs.size(), 300u);
  VerifyReport report;
  ASSERT_TRUE(log->Verify(&report).ok());
  EXPECT_EQ(report.events, 300u);
}

// A map that cannot grow (the maximum reached) is a full log: the write fails with an
// error that says so, nothing of it is kept, what was committed stays, and writing
// resumes once the log may grow again.
TEST(EventLogTest, MapThatCannotGrowRefusesTheWriteAndLosesNothing) {
  TempDir tmp;
  Options o;
  o.initial_map_size = 64 * 1024;
  o.max_map_size = 256 * 1024;
  State state;
  uint64_t committed = 0;
  Status full;
  {
    auto log = OpenOrDie(tmp.path(), o);
    for (int i = 0; i < 200 && full.ok(); ++i) {
      JobSpec s = Spec("big" + std::to_string(i));
      s.description = std::string(4000, 'd');
      auto r = log->Append(&state, JobDefined{s});
      if (r.ok()) {
        committed = *r;
      } else {
        full = r.status();
      }
    }
    ASSERT_FALSE(full.ok()) << "the map grew past its maximum";
    EXPECT_NE(full.message().find("event log is full"), std::string::npos) << full.ToString();
    EXPECT_EQ(log->MapSize(), o.max_map_size);
    EXPECT_EQ(state.last_seq, committed) << "the refused event is in the state";
    VerifyReport report;
    ASSERT_TRUE(log->Verify(&report).ok());
    EXPECT_EQ(report.events, committed);
  }
  o.max_map_size = 0;
  auto log = OpenOrDie(tmp.path(), o);
  State again;
  JobSpec s = Spec("after");
  s.description = std::string(4000, 'd');
  ASSERT_TRUE(log->Append(&again, JobDefined{s}).ok());
  EXPECT_EQ(again.last_seq, committed + 1);
  VerifyReport report;
  ASSERT_TRUE(log->Verify(&report).ok());
}

// Readers run the cursor ahead of the fold in batches (EventLog's ForEach) and in read
// transactions of 8,192 events: every event is seen once, in order, whatever the
// boundaries, and Scan stops exactly at its bounds.
TEST(EventLogTest, ReadersSeeEveryEventOnceAcrossBatchAndChunkBoundaries) {
  TempDir tmp;
  const uint64_t kEvents = 8192 * 2 + 45;
  {
    auto log = OpenOrDie(tmp.path());
    State state;
    while (state.last_seq < kEvents) {
      ASSERT_TRUE(log->Transact(&state, [&](const State& s, Batch* b) {
                       if (s.jobs.empty()) b->events.push_back(JobDefined{Spec("j")});
                       for (uint64_t i = s.last_seq + b->events.size(); i < kEvents && b->events.size() < 5000; ++i) {
                         b->events.push_back(RunRequested{"j"});
                       }
                       return Status::OK();
                     }).ok());
    }
  }
  auto log = OpenOrDie(tmp.path());
  State state;
  ASSERT_TRUE(log->CatchUp(&state).ok());
  EXPECT_EQ(state.last_seq, kEvents);
  EXPECT_EQ(state.events, kEvents);
  for (auto [from, to] : {std::pair<uint64_t, uint64_t>{1, kEvents}, {5, 40}, {31, 33},
                          {8190, 8230}, {kEvents - 3, kEvents + 10}}) {
    uint64_t expected = from;
    Status st = log->Scan(from, to, [&](const Event& e) {
      EXPECT_EQ(e.seq, expected);
      ++expected;
      return true;
    });
    ASSERT_TRUE(st.ok()) << st.ToString();
    EXPECT_EQ(expected, std::min(to, kEvents) + 1) << from << ".." << to;
  }
  // Stopping early stops there.
  int seen = 0;
  ASSERT_TRUE(log->Scan(1, kEvents, [&](const Event&) { return ++seen < 37; }).ok());
  EXPECT_EQ(seen, 37);
  VerifyReport report;
  ASSERT_TRUE(log->Verify(&report).ok());
  EXPECT_EQ(report.events, kEvents);
}

// CatchUp decodes events for the fold without their actor (EventFields::kForFold):
// the fold must come out the same as over fully decoded events. If Apply ever reads
// the actor, this fails.
TEST(EventLogTest, CatchUpFoldsAsAFoldOfFullyDecodedEvents) {
  TempDir tmp;
  {
    auto log = OpenOrDie(tmp.path());
    State state;
    ASSERT_TRUE(log->Append(&state, JobDefined{Spec("a")}).ok());
    ASSERT_TRUE(log->Append(&state, JobDefined{Spec("b")}).ok());
    ASSERT_TRUE(log->Append(&state, ServiceStarted{77, "host", "1.2.3"}).ok());
    ASSERT_TRUE(log->Append(&state, RunRequested{"a"}).ok());
    ASSERT_TRUE(log->Append(&state, RunScheduled{"a", 1000, Trigger::kRequest, 4, 0}).ok());
    ASSERT_TRUE(log->Append(&state, RunStarted{5, "a", 1000, 1001, 99, "host", "/l"}).ok());
    RunFinished fin;
    fin.run_id = 5;
    fin.job = "a";
    fin.started_at_us = 1001;
    fin.ended_at_us = 2000;
    fin.exit_code = 0;
    ASSERT_TRUE(log->Append(&state, fin).ok());
    ASSERT_TRUE(log->Append(&state, JobDisabled{"b"}).ok());
    ASSERT_TRUE(log->Append(&state, ServiceStopped{77, "SIGTERM"}).ok());
  }
  auto log = OpenOrDie(tmp.path());
  State caught_up, folded;
  ASSERT_TRUE(log->CatchUp(&caught_up).ok());
  ASSERT_TRUE(log->Scan(1, 100, [&](const Event& e) {
                   EXPECT_FALSE(e.actor.program.empty());
                   EXPECT_TRUE(Apply(&folded, e).ok());
                   return true;
                 }).ok());
  EXPECT_EQ(caught_up.last_seq, 9u);
  EXPECT_EQ(EncodeStateSnapshot(caught_up), EncodeStateSnapshot(folded));
}

// A log long enough for a catch-up to decode ahead on a second thread (past its first
// chunk of 8,192 events): jobs, requests, runs claimed, started and finished.
void WriteLongLog(const std::string& dir, uint64_t events) {
  auto log = OpenOrDie(dir);
  State state;
  while (state.last_seq < events) {
    ASSERT_TRUE(log->Transact(&state, [&](const State& s, Batch* b) {
                     uint64_t seq = s.last_seq;
                     auto push = [&](EventPayload p) {
                       b->events.push_back(std::move(p));
                       ++seq;
                     };
                     if (s.jobs.empty()) {
                       for (int j = 0; j < 3; ++j) push(JobDefined{Spec("j" + std::to_string(j))});
                     }
                     while (b->events.size() < 4000 && seq + 4 <= events) {
                       const std::string job = "j" + std::to_string(seq % 3);
                       push(RunRequested{job});
                       const uint64_t run = seq + 1;
                       push(RunScheduled{job, 1000, Trigger::kRequest, seq, 0});
                       push(RunStarted{run, job, 1000, 1001, 42, "host", "/locks/run.lock"});
                       RunFinished fin;
                       fin.run_id = run;
                       fin.job = job;
                       fin.exit_code = static_cast<int32_t>(run % 3);
                       fin.outcome = run % 3 ? RunOutcome::kFailed : RunOutcome::kSucceeded;
                       fin.output_digest = std::string(64, "0123456789abcdef"[run % 16]);
                       push(fin);
                     }
                     while (seq < events && b->events.size() < 4000) push(RunRequested{"j0"});
                     return Status::OK();
                   }).ok());
  }
}

// The fold of a catch-up with and without decoding ahead, and how it ended.
struct TwoFolds {
  State ahead, alone;
  Status ahead_status, alone_status;
  uint64_t decoded_ahead = 0;  // by the first
};

// `as_service`: with the service's settings (no finished run kept, no specs, the map's
// pages released after each chunk).
TwoFolds FoldBothWays(const std::string& dir, uint64_t start_after = 0, bool as_service = false) {
  TwoFolds out;
  for (bool decode_ahead : {true, false}) {
    Options options;
    options.create_if_missing = false;
    options.decode_ahead = decode_ahead;
    options.release_read_pages = as_service;
    auto log = OpenOrDie(dir, options);
    State& state = decode_ahead ? out.ahead : out.alone;
    if (as_service) {
      state.finished_runs_per_job = 0;
      state.keep_specs = false;
    }
    if (start_after > 0) {
      EXPECT_TRUE(log->Scan(1, start_after, [&](const Event& e) {
                       EXPECT_TRUE(Apply(&state, e).ok());
                       return true;
                     }).ok());
    }
    (decode_ahead ? out.ahead_status : out.alone_status) = log->CatchUp(&state);
    if (decode_ahead) out.decoded_ahead = log->decoded_ahead();
  }
  return out;
}

// Decoding ahead needs a second core (with one it is not used).
bool TwoCores() { return std::thread::hardware_concurrency() > 1; }

TEST(EventLogTest, DecodingAheadFoldsAsOneThreadDoes) {
  TempDir tmp;
  const uint64_t kEvents = 40000;
  WriteLongLog(tmp.path(), kEvents);
  for (bool as_service : {false, true}) {
    for (uint64_t start_after : {uint64_t{0}, uint64_t{5}, uint64_t{12345}}) {
      TwoFolds f = FoldBothWays(tmp.path(), start_after, as_service);
      ASSERT_TRUE(f.ahead_status.ok()) << f.ahead_status.ToString();
      ASSERT_TRUE(f.alone_status.ok()) << f.alone_status.ToString();
      EXPECT_EQ(f.ahead.last_seq, kEvents);
      EXPECT_EQ(f.ahead.runs.size(), as_service ? 0u : 9999u);
      EXPECT_EQ(EncodeStateSnapshot(f.ahead), EncodeStateSnapshot(f.alone)) << start_after;
      // Past the first chunk, which one thread reads.
      if (TwoCores()) {
        EXPECT_EQ(f.decoded_ahead, kEvents - start_after - 8192);
      }
    }
  }
}

// Whatever ends a long catch-up ends it at the same event, with the same error and the
// events before it folded, with or without decoding ahead: a corrupt event (in the first
// chunk, which one thread reads, and far past it, on a batch's first and last event),
// a missing one, and one the fold refuses.
TEST(EventLogTest, DecodingAheadStopsWhereOneThreadStops) {
  const uint64_t kEvents = 30000;
  TempDir original;
  WriteLongLog(original.path(), kEvents);
  enum Damage { kFlip, kRemove, kRefused };
  const std::vector<std::pair<uint64_t, Damage>> cases = {
      {100, kFlip},    {8193, kFlip},    {8192 + 1024 * 5 + 1, kFlip},
      {20480, kFlip},  {kEvents, kFlip}, {17000, kRemove},
      {23456, kRefused}};
  for (const auto& [seq, damage] : cases) {
    TempDir tmp;
    for (const auto& file : std::filesystem::directory_iterator(original.path())) {
      std::filesystem::copy_file(file.path(),
                                 std::filesystem::path(tmp.path()) / file.path().filename(),
                                 std::filesystem::copy_options::overwrite_existing);
    }
    RawEdit(tmp.path(), [&, seq = seq, damage = damage](MDB_txn* txn, MDB_dbi events, MDB_dbi) {
      std::string key = EncodeKey(seq);
      MDB_val k{key.size(), key.data()};
      if (damage == kRemove) {
        ASSERT_EQ(mdb_del(txn, events, &k, nullptr), 0);
      } else if (damage == kFlip) {
        std::string v = GetRaw(txn, events, seq);
        v[v.size() / 2] ^= 0x01;
        PutRaw(txn, events, seq, v);
      } else {
        // Well formed, but a start of a run that was never claimed.
        RunStarted started{999999999, "j0", 1000, 1001, 42, "host", "/l"};
        Actor actor;
        PutRaw(txn, events, seq,
               EncodeEvent(PayloadType(EventPayload(started)), 5, actor, Hash(),
                           EncodePayload(EventPayload(started))));
      }
    });
    TwoFolds f = FoldBothWays(tmp.path());
    if (TwoCores() && seq > 8192 + 1024) {
      EXPECT_GT(f.decoded_ahead, 0u) << seq;
    }
    EXPECT_FALSE(f.alone_status.ok()) << seq;
    EXPECT_EQ(f.ahead_status.ToString(), f.alone_status.ToString()) << seq;
    EXPECT_NE(f.alone_status.message().find(std::to_string(seq)), std::string::npos)
        << f.alone_status.ToString();
    EXPECT_EQ(f.ahead.last_seq, seq - 1);
    EXPECT_EQ(f.alone.last_seq, seq - 1);
    EXPECT_EQ(EncodeStateSnapshot(f.ahead), EncodeStateSnapshot(f.alone)) << seq;
  }
}

// A corrupt event just past where a Scan stops is not reported by it, though the cursor
// read ahead over it.
TEST(EventLogTest, ScanThatStopsBeforeACorruptEventSucceeds) {
  TempDir tmp;
  WriteFive(tmp.path());
  RawEdit(tmp.path(), [](MDB_txn* txn, MDB_dbi events, MDB_dbi) {
    std::string v = GetRaw(txn, events, 4);
    v[v.size() / 2] ^= 0x01;
    PutRaw(txn, events, 4, v);
  });
  auto log = OpenOrDie(tmp.path());
  int seen = 0;
  EXPECT_TRUE(log->Scan(1, 3, [&](const Event&) { return ++seen, true; }).ok());
  EXPECT_EQ(seen, 3);
  EXPECT_EQ(log->Scan(1, 5, [&](const Event&) { return true; }).message(),
            "event 4: checksum mismatch");
}

TEST(EventLogTest, FlippedByteIsReportedWithItsSequenceNumber) {
  TempDir tmp;
  WriteFive(tmp.path());
  RawEdit(tmp.path(), [](MDB_txn* txn, MDB_dbi events, MDB_dbi) {
    std::string v = GetRaw(txn, events, 3);
    v[v.size() / 2] ^= 0x01;
    PutRaw(txn, events, 3, v);
  });
  Status st = VerifyDir(tmp.path());
  EXPECT_TRUE(st.IsCorruption());
  EXPECT_EQ(st.message(), "event 3: checksum mismatch");
  // Every reader reports it too, never skips it.
  auto log = OpenOrDie(tmp.path());
  State state;
  EXPECT_EQ(log->CatchUp(&state).message(), "event 3: checksum mismatch");
  int seen = 0;
  Status scan = log->Scan(1, 100, [&](const Event&) { return ++seen, true; });
  EXPECT_TRUE(scan.IsCorruption());
  EXPECT_EQ(seen, 2);
  // And nothing more is appended on top of it.
  EXPECT_TRUE(log->Append(&state, JobDisabled{"j0"}).status().IsCorruption());
}

TEST(EventLogTest, AlteredEventWithRecomputedChecksumBreaksTheChain) {
  TempDir tmp;
  WriteFive(tmp.path());
  RawEdit(tmp.path(), [](MDB_txn* txn, MDB_dbi events, MDB_dbi) {
    auto e = DecodeEvent(2, GetRaw(txn, events, 2));
    ASSERT_TRUE(e.ok());
    JobSpec forged = Spec("j1");
    forged.argv = {"/bin/evil"};
    PutRaw(txn, events, 2,
           EncodeEvent(e->type, e->time_us, e->actor, e->prev, EncodePayload(JobDefined{forged})));
  });
  Status st = VerifyDir(tmp.path());
  EXPECT_TRUE(st.IsCorruption());
  EXPECT_EQ(st.message().rfind("event 3: hash chain broken", 0), 0u) << st.message();
}

TEST(EventLogTest, AlteredLastEventIsCaughtByTheHead) {
  TempDir tmp;
  WriteFive(tmp.path());
  RawEdit(tmp.path(), [](MDB_txn* txn, MDB_dbi events, MDB_dbi) {
    auto e = DecodeEvent(5, GetRaw(txn, events, 5));
    PutRaw(txn, events, 5,
           EncodeEvent(e->type, e->time_us + 1, e->actor, e->prev, EncodePayload(e->payload)));
  });
  Status st = VerifyDir(tmp.path());
  EXPECT_TRUE(st.IsCorruption());
  EXPECT_EQ(st.message().rfind("event 5:", 0), 0u) << st.message();
}

TEST(EventLogTest, RemovedEventIsCaught) {
  TempDir tmp;
  WriteFive(tmp.path());
  RawEdit(tmp.path(), [](MDB_txn* txn, MDB_dbi events, MDB_dbi) {
    std::string key = EncodeKey(2);
    MDB_val k{key.size(), key.data()};
    ASSERT_EQ(mdb_del(txn, events, &k, nullptr), 0);
  });
  Status st = VerifyDir(tmp.path());
  EXPECT_EQ(st.message(), "event 2 is missing (the next event is 3)");
}

TEST(EventLogTest, RemovedLastEventIsCaught) {
  TempDir tmp;
  WriteFive(tmp.path());
  RawEdit(tmp.path(), [](MDB_txn* txn, MDB_dbi events, MDB_dbi) {
    std::string key = EncodeKey(5);
    MDB_val k{key.size(), key.data()};
    ASSERT_EQ(mdb_del(txn, events, &k, nullptr), 0);
  });
  Status st = VerifyDir(tmp.path());
  EXPECT_TRUE(st.IsCorruption());
  EXPECT_EQ(st.message().rfind("event 5:", 0), 0u) << st.message();
}

TEST(EventLogTest, ReorderedEventsAreCaught) {
  TempDir tmp;
  WriteFive(tmp.path());
  RawEdit(tmp.path(), [](MDB_txn* txn, MDB_dbi events, MDB_dbi) {
    std::string a = GetRaw(txn, events, 2), b = GetRaw(txn, events, 3);
    PutRaw(txn, events, 2, b);
    PutRaw(txn, events, 3, a);
  });
  Status st = VerifyDir(tmp.path());
  EXPECT_TRUE(st.IsCorruption());
  EXPECT_EQ(st.message().rfind("event 2: hash chain broken", 0), 0u) << st.message();
}

TEST(EventLogTest, InsertedEventIsCaught) {
  TempDir tmp;
  WriteFive(tmp.path());
  RawEdit(tmp.path(), [](MDB_txn* txn, MDB_dbi events, MDB_dbi) {
    // Shift events 3..5 up by one and forge a new event 3 with a valid checksum.
    for (uint64_t s = 5; s >= 3; --s) PutRaw(txn, events, s + 1, GetRaw(txn, events, s));
    auto prev = DecodeEvent(3, GetRaw(txn, events, 3));
    PutRaw(txn, events, 3,
           EncodeEvent(static_cast<uint16_t>(EventType::kJobDisabled), prev->time_us,
                       prev->actor, HashEvent(2, GetRaw(txn, events, 2)),
                       EncodePayload(JobDisabled{"j0"})));
  });
  Status st = VerifyDir(tmp.path());
  EXPECT_TRUE(st.IsCorruption());
  EXPECT_EQ(st.message().rfind("event 4: hash chain broken", 0), 0u) << st.message();
}

TEST(EventLogTest, UnknownFormatVersionIsRefused) {
  TempDir tmp;
  WriteFive(tmp.path());
  RawEdit(tmp.path(), [](MDB_txn* txn, MDB_dbi, MDB_dbi meta) {
    std::string v;
    PutFixed32(&v, 99);
    MDB_val k{14, const_cast<char*>("format_version")}, val{v.size(), v.data()};
    ASSERT_EQ(mdb_put(txn, meta, &k, &val, 0), 0);
  });
  auto log = EventLog::Open(tmp.path(), Options());
  EXPECT_TRUE(log.status().IsNotSupported());
  EXPECT_NE(log.status().message().find("format version 99"), std::string::npos);
}

TEST(EventLogTest, ForeignEnvironmentIsRefused) {
  TempDir tmp;
  WriteFive(tmp.path());
  RawEdit(tmp.path(), [](MDB_txn* txn, MDB_dbi, MDB_dbi meta) {
    MDB_val k{5, const_cast<char*>("magic")}, val{4, const_cast<char*>("XXXX")};
    ASSERT_EQ(mdb_put(txn, meta, &k, &val, 0), 0);
  });
  EXPECT_TRUE(EventLog::Open(tmp.path(), Options()).status().IsCorruption());
}

// ---- the projection snapshot in meta ----

// A snapshot of the bounded fold at the log's last event, as the service writes it.
std::string SnapshotOf(const std::string& dir, size_t bound = 8) {
  auto log = OpenOrDie(dir);
  State bounded;
  bounded.finished_runs_per_job = bound;
  EXPECT_TRUE(log->CatchUp(&bounded).ok());
  std::string bytes = EncodeStateSnapshot(bounded);
  EXPECT_TRUE(log->WriteSnapshot(bounded.last_seq, bytes).ok());
  return bytes;
}

TEST(EventLogTest, SnapshotIsReadBackAndVerifiedAgainstTheFold) {
  TempDir tmp;
  WriteFive(tmp.path());
  std::string bytes = SnapshotOf(tmp.path());
  {
    auto log = OpenOrDie(tmp.path());
    auto snap = log->ReadSnapshot();
    ASSERT_TRUE(snap.ok()) << snap.status().ToString();
    ASSERT_TRUE(snap->has_value());
    EXPECT_EQ((*snap)->seq, 5u);
    EXPECT_EQ((*snap)->state, bytes);
    // Later events leave it valid: it is the fold up to its own event.
    State state;
    ASSERT_TRUE(log->Append(&state, JobDefined{Spec("j5")}).ok());
    VerifyReport report;
    ASSERT_TRUE(log->Verify(&report).ok());
    EXPECT_EQ(report.snapshot_seq, 5u);
    EXPECT_FALSE(log->WriteSnapshot(99, bytes).ok()) << "no event 99";
  }
}

TEST(EventLogTest, NoSnapshotIsNone) {
  TempDir tmp;
  WriteFive(tmp.path());
  auto log = OpenOrDie(tmp.path());
  auto snap = log->ReadSnapshot();
  ASSERT_TRUE(snap.ok());
  EXPECT_FALSE(snap->has_value());
  VerifyReport report;
  ASSERT_TRUE(log->Verify(&report).ok());
  EXPECT_EQ(report.snapshot_seq, 0u);
}

TEST(EventLogTest, SnapshotThatDiffersFromTheFoldFailsVerify) {
  TempDir tmp;
  WriteFive(tmp.path());
  {
    auto log = OpenOrDie(tmp.path());
    State forged;
    forged.finished_runs_per_job = 8;
    ASSERT_TRUE(log->CatchUp(&forged).ok());
    forged.jobs["j1"].schedule = "* * * * * *";  // a cache that lies
    ASSERT_TRUE(log->WriteSnapshot(5, EncodeStateSnapshot(forged)).ok());
  }
  Status st = VerifyDir(tmp.path());
  EXPECT_TRUE(st.IsCorruption());
  EXPECT_NE(st.message().find("snapshot"), std::string::npos) << st.message();
}

TEST(EventLogTest, SnapshotOfAnAlteredLogIsRefused) {
  TempDir tmp;
  WriteFive(tmp.path());
  SnapshotOf(tmp.path());
  // Event 2 altered with its checksum and the chain after it rewritten, head included:
  // only the snapshot's record of event 5's hash can tell.
  RawEdit(tmp.path(), [](MDB_txn* txn, MDB_dbi events, MDB_dbi meta) {
    Hash prev = HashEvent(1, GetRaw(txn, events, 1));
    for (uint64_t seq = 2; seq <= 5; ++seq) {
      auto e = DecodeEvent(seq, GetRaw(txn, events, seq));
      ASSERT_TRUE(e.ok());
      std::string payload = EncodePayload(e->payload);
      if (seq == 2) {
        JobSpec forged = Spec("j1");
        forged.argv = {"/bin/evil"};
        payload = EncodePayload(JobDefined{forged});
      }
      std::string value = EncodeEvent(e->type, e->time_us, e->actor, prev, payload);
      PutRaw(txn, events, seq, value);
      prev = HashEvent(seq, value);
    }
    std::string head;
    PutFixed64(&head, 5);
    head.append(reinterpret_cast<const char*>(prev.data()), prev.size());
    MDB_val k{4, const_cast<char*>("head")}, v{head.size(), head.data()};
    ASSERT_EQ(mdb_put(txn, meta, &k, &v, 0), 0);
  });
  auto log = OpenOrDie(tmp.path());
  auto snap = log->ReadSnapshot();
  EXPECT_TRUE(snap.status().IsCorruption()) << snap.status().ToString();
  VerifyReport report;
  EXPECT_TRUE(log->Verify(&report).IsCorruption());
}

TEST(EventLogTest, ResolvesTheDataDirectory) {
  EXPECT_EQ(ResolveDataDir("/x"), "/x");
  cg::testing::SetEnv("CHRONOGRAPH_DATA", "/from/env");
  EXPECT_EQ(ResolveDataDir(""), "/from/env");
  cg::testing::SetEnv("CHRONOGRAPH_DATA", "");
  EXPECT_EQ(ResolveDataDir(""), os::DefaultDataDir());
}

}  // namespace
}  // namespace cg::store
