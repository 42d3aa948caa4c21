// The LMDB environment of a data directory:
//   events   key: seq as big-endian u64, value: event (event_codec.cc); MDB_APPEND only
//   meta     "magic" -> fixed32 kMagic, "format_version" -> fixed32,
//            "head" -> fixed64 seq + 32-byte hash of the last event (the chain's tip)
//   outputs  key: run id as big-endian u64, value: the run's captured output record
// LMDB errors are translated into Status here, once.
#include "store/event_log.h"

#include <errno.h>

#include <lmdb++.h>

#include <condition_variable>
#include <cstring>
#include <deque>
#include <filesystem>
#include <mutex>
#include <optional>
#include <system_error>
#include <thread>

#include "service/os.h"
#include "service/state_codec.h"
#include "service/time_util.h"
#include "store/coding.h"
#include "store/event_codec.h"

namespace cg::store {
namespace {

constexpr uint64_t kReadChunk = 8192;  // events per read transaction (lmdb.h: keep readers short)
constexpr size_t kMaxGrowStep = size_t{1} << 30;
constexpr char kSnapshotKey[] = "snapshot";
// Less free space than this on the data directory's filesystem counts as a full disk.
constexpr uintmax_t kFullDiskBytes = uintmax_t{1} << 20;

std::string_view View(const lmdb::val& v) { return std::string_view(v.data(), v.size()); }

Status Translate(const std::string& dir, const lmdb::error& e) {
  int rc = e.code();
  std::string msg = "LMDB environment '" + dir + "': " + e.what();
  switch (rc) {
    case EACCES:
    case EPERM:
    case EROFS:
      return Status::PermissionDenied(msg);
    case ENOENT:
      return Status::NotFound(msg);
    case MDB_CORRUPTED:
    case MDB_PAGE_NOTFOUND:
    case MDB_INVALID:
      return Status::Corruption(msg);
    case MDB_VERSION_MISMATCH:
      return Status::NotSupported(msg);
    case ENOSPC:
      return Status::IOError(msg + " (the disk is full)");
    case EIO: {
      // LMDB reports a write cut short by a full disk as EIO, not ENOSPC.
      std::error_code ec;
      auto space = std::filesystem::space(dir, ec);
      if (!ec && space.available < kFullDiskBytes) {
        return Status::IOError(msg + " (the disk is full: " + std::to_string(space.available) +
                               " bytes free)");
      }
      return Status::IOError(msg);
    }
    default:
      return Status::IOError(msg);
  }
}

// Thrown inside a transaction body to abort it with a Status.
struct Abort {
  Status status;
};

// A transaction handle that is aborted unless committed. lmdbxx's lmdb::txn cannot be
// used here: when mdb_txn_commit() fails (MDB_MAP_FULL while saving the free list, a
// full disk), LMDB has already freed the transaction, but lmdb::txn::commit() keeps
// the handle and its destructor aborts it a second time.
class Txn {
 public:
  Txn(MDB_env* env, unsigned flags) { lmdb::txn_begin(env, nullptr, flags, &handle_); }
  ~Txn() {
    if (handle_) mdb_txn_abort(handle_);
  }
  Txn(const Txn&) = delete;
  Txn& operator=(const Txn&) = delete;
  operator MDB_txn*() const { return handle_; }  // NOLINT: used like lmdb::txn
  void Commit() {
    MDB_txn* h = handle_;
    handle_ = nullptr;  // freed by LMDB whatever the outcome
    int rc = mdb_txn_commit(h);
    if (rc != 0) lmdb::error::raise("mdb_txn_commit", rc);
  }

 private:
  MDB_txn* handle_ = nullptr;
};

}  // namespace

struct EventLog::Impl {
  lmdb::env env = lmdb::env::create();
  MDB_dbi events = 0, meta = 0, outputs = 0;
  Options options;
  Actor actor;
  std::mutex mu;

  // Runs body(txn) in a transaction, retrying after growing a full map or adopting a
  // map that another process grew. body must be idempotent up to its commit.
  template <typename Body>
  Status Run(const std::string& dir, unsigned flags, Body&& body) {
    for (int attempt = 0;; ++attempt) {
      try {
        Txn txn(env, flags);
        body(txn);
        if (!(flags & MDB_RDONLY)) txn.Commit();
        return Status::OK();
      } catch (const Abort& a) {
        return a.status;
      } catch (const lmdb::map_full_error&) {
        if (attempt > 40) return Status::IOError("LMDB map cannot grow any further");
        CG_RETURN_IF_ERROR(Grow(dir));
      } catch (const lmdb::error& e) {
        if (e.code() == MDB_MAP_RESIZED && attempt < 40) {
          // Another process grew the map: adopt its size (no transaction is open).
          mdb_env_set_mapsize(env, 0);
          continue;
        }
        return Translate(dir, e);
      } catch (const std::exception& e) {
        return Status::IOError("LMDB environment '" + dir + "': " + e.what());
      }
    }
  }

  Status Grow(const std::string& dir) {
    size_t cur = MapSize();
    size_t next = cur + std::min(cur, kMaxGrowStep);
    if (options.max_map_size != 0 && next > options.max_map_size) {
      if (cur >= options.max_map_size) {
        return Status::IOError("LMDB environment '" + dir + "': the event log is full (its map " +
                               "reached the maximum of " + std::to_string(options.max_map_size) +
                               " bytes); nothing was written");
      }
      next = options.max_map_size;
    }
    int rc = mdb_env_set_mapsize(env, next);
    if (rc != 0) {
      return Status::IOError("LMDB environment '" + dir + "': cannot grow the map to " +
                             std::to_string(next) + " bytes: " + mdb_strerror(rc));
    }
    return Status::OK();
  }

  size_t MapSize() {
    MDB_envinfo info;
    mdb_env_info(env, &info);
    return info.me_mapsize;
  }

  // The snapshot record in meta, checked against the event it was taken at.
  static std::optional<SnapshotRecord> ReadSnapshotIn(MDB_txn* txn, MDB_dbi meta,
                                                      MDB_dbi events);

  // The chain's tip recorded in meta.
  static bool ReadHead(MDB_txn* txn, MDB_dbi meta, uint64_t* seq, Hash* hash) {
    lmdb::val k("head", 4), v;
    if (!lmdb::dbi_get(txn, meta, k, v)) {
      *seq = 0;
      hash->fill(0);
      return true;
    }
    Decoder d(View(v));
    std::string_view h;
    if (!d.GetFixed64(seq) || !d.GetBytes(32, &h) || d.remaining() != 0) return false;
    std::copy(h.begin(), h.end(), hash->begin());
    return true;
  }

  // Calls fn for each event with seq >= from, in txn, until fn returns false.
  //
  // The cursor runs up to kReadAhead entries ahead of fn: the entries are collected in
  // a tight loop, then handed to fn one by one. Walking the cursor is a chain of cache
  // misses (each node is read to find the next one); with decoding and folding between
  // two steps the CPU cannot overlap them and every event waited for memory (a third of
  // the replay's time in `perf`), while the tight loop overlaps them as a raw scan does,
  // and the values are then in the cache when fn reads them. Entries read ahead past
  // the point where fn stops are not looked at; a malformed key is reported when fn
  // would have been called for it, not before.
  template <typename Fn>
  static void ForEach(MDB_txn* txn, MDB_dbi events, uint64_t from, Fn&& fn) {
    constexpr size_t kReadAhead = 32;
    constexpr size_t kPrefetchBytes = 1024;  // of each value (events are ~100-300 bytes)
    struct Entry {
      std::string_view key, value;
    };
    Entry ahead[kReadAhead];
    auto cursor = lmdb::cursor::open(txn, events);
    std::string start = EncodeKey(from);
    lmdb::val k(start.data(), start.size()), v;
    bool found = cursor.get(k, v, MDB_SET_RANGE);
    while (found) {
      size_t n = 0;
      do {
        ahead[n++] = {View(k), View(v)};
        // The node's first line is in the cache now (the cursor read its header); ask
        // for the value's next lines too, so that they come in parallel, not one by one
        // as the checksum reaches them. A hint only (a compiler builtin: no fault, no
        // effect on the result).
        for (size_t at = 64; at < v.size() && at < kPrefetchBytes; at += 64) {
          __builtin_prefetch(v.data() + at);
        }
        // LMDB fills a leaf page from its end down, so the nodes that follow this one
        // (the cursor's next steps) lie just below it: ask for the lines 384 to 768
        // bytes down, two to four events ahead. (Measured: replay-service 5.17 ->
        // 5.51 M/s, median of 7; a wrong guess costs a wasted hint, nothing more.)
        const auto here = reinterpret_cast<uintptr_t>(k.data());  // may leave the map
        for (uintptr_t line = 6; line <= 12; ++line) {
          __builtin_prefetch(reinterpret_cast<const void*>(here - 64 * line));
        }
        found = cursor.get(k, v, MDB_NEXT);
      } while (found && n < kReadAhead);
      for (size_t i = 0; i < n; ++i) {
        uint64_t seq;
        if (!DecodeKey(ahead[i].key, &seq)) {
          throw Abort{Status::Corruption("events database has a key of " +
                                         std::to_string(ahead[i].key.size()) + " bytes")};
        }
        if (!fn(seq, ahead[i].value)) return;
      }
    }
  }

  // One read transaction's worth (kReadChunk events) of a catch-up: the events from
  // *next on, each of which must be *next (else Corruption "event N is missing"),
  // handed to fn(seq, value); *next moves past each one fn takes (returns true). *more:
  // the chunk was full; *inside_map: a value's address in the map (for
  // ReleaseMappedPages), unchanged when no event was read.
  template <typename Fn>
  Status ReadChunk(const std::string& dir, uint64_t* next, bool* more,
                   const void** inside_map, Fn&& fn) {
    return Run(dir, MDB_RDONLY, [&](Txn& txn) {
      uint64_t count = 0;
      *more = false;
      ForEach(txn, events, *next, [&](uint64_t seq, std::string_view value) {
        if (++count > kReadChunk) {
          *more = true;
          return false;
        }
        if (seq != *next) {
          throw Abort{Status::Corruption("event " + std::to_string(*next) +
                                         " is missing (next is " + std::to_string(seq) + ")")};
        }
        *inside_map = value.data();
        if (!fn(seq, value)) return false;
        ++*next;
        return true;
      });
    });
  }

  // Folds events after state->last_seq into *state inside txn.
  static void CatchUpIn(MDB_txn* txn, MDB_dbi events, State* state) {
    EventStreamDecoder decoder(EventFields::kForFold);  // reuses its buffers
    ForEach(txn, events, state->last_seq + 1, [&](uint64_t seq, std::string_view value) {
      if (seq != state->last_seq + 1) {
        throw Abort{Status::Corruption("event " + std::to_string(state->last_seq + 1) +
                                       " is missing (next is " + std::to_string(seq) + ")")};
      }
      Status st = decoder.Decode(seq, value);
      if (!st.ok()) throw Abort{st};
      st = Apply(state, decoder.event());
      if (!st.ok()) throw Abort{st};
      return true;
    });
  }
};

EventLog::EventLog(std::unique_ptr<Impl> impl, std::string dir)
    : impl_(std::move(impl)), dir_(std::move(dir)) {}

EventLog::~EventLog() = default;

std::string ResolveDataDir(const std::string& flag) {
  if (!flag.empty()) return flag;
  auto env = os::GetEnv("CHRONOGRAPH_DATA");
  if (env && !env->empty()) return *env;
  return os::DefaultDataDir();
}

Result<std::unique_ptr<EventLog>> EventLog::Open(const std::string& dir, const Options& options) {
  if (dir.empty()) return Status::InvalidArgument("empty data directory path");
  if (!os::DirectoryExists(dir)) {
    // Not there, or not ours to see: say which.
    auto probe = os::FileSize(dir);
    if (!probe.ok() && probe.status().code() == Status::Code::kPermissionDenied) {
      return probe.status();
    }
    if (!options.create_if_missing) {
      return Status::NotFound("no chronograph data directory at '" + dir + "'");
    }
    CG_RETURN_IF_ERROR(os::CreatePrivateDirectory(dir));
  } else if (!options.create_if_missing) {
    // A reader must not leave an empty environment behind in someone's directory.
    auto size = os::FileSize(dir + "/data.mdb");
    if (!size.ok()) {
      if (size.status().code() != Status::Code::kNotFound) return size.status();
      return Status::NotFound("no chronograph event log in '" + dir + "'");
    }
  }
  auto impl = std::make_unique<Impl>();
  impl->options = options;
  impl->actor.user = os::CurrentUserName();
  impl->actor.program = options.program;
  impl->actor.pid = os::CurrentPid();
  impl->actor.host = os::HostName();
  for (int attempt = 0;; ++attempt) {
    // Never ask for a map smaller than the file: on Windows, where the file is as large
    // as the map, that would try to truncate a file other processes have mapped.
    size_t map_size = options.initial_map_size;
    auto file_size = os::FileSize(dir + "/data.mdb");
    if (file_size.ok()) map_size = std::max<size_t>(map_size, *file_size);
    try {
      impl->env.set_max_dbs(4);
      impl->env.set_mapsize(map_size);
      impl->env.open(dir.c_str(), MDB_NOTLS, 0600);
      // A process killed inside a read transaction leaves a stale reader slot that pins
      // old pages (the file then only grows); clear those of dead processes.
      int dead = 0;
      mdb_reader_check(impl->env, &dead);
      break;
    } catch (const lmdb::error& e) {
      // Another process grew the map between the size read above and the open (seen
      // under wine: "File has a user-mapped section"): again with the new size, on a
      // new handle (a failed open leaves the old one unusable).
      auto now_size = os::FileSize(dir + "/data.mdb");
      if (attempt < 10 && now_size.ok() && *now_size > map_size) {
        impl->env = lmdb::env::create();
        continue;
      }
      return Translate(dir, e);
    }
  }
  Impl* p = impl.get();
  Status st = p->Run(dir, 0, [&](Txn& txn) {
    p->events = lmdb::dbi::open(txn, "events", MDB_CREATE).handle();
    p->meta = lmdb::dbi::open(txn, "meta", MDB_CREATE).handle();
    p->outputs = lmdb::dbi::open(txn, "outputs", MDB_CREATE).handle();
    lmdb::val mk("magic", 5), mv;
    if (!lmdb::dbi_get(txn, p->meta, mk, mv)) {
      std::string magic, version;
      PutFixed32(&magic, kMagic);
      PutFixed32(&version, kFormatVersion);
      lmdb::val magic_val(magic.data(), magic.size());
      lmdb::val vk("format_version", 14), version_val(version.data(), version.size());
      lmdb::dbi_put(txn, p->meta, mk, magic_val, 0);
      lmdb::dbi_put(txn, p->meta, vk, version_val, 0);
      return;
    }
    uint32_t magic = 0, version = 0;
    Decoder md(View(mv));
    if (!md.GetFixed32(&magic) || magic != kMagic) {
      throw Abort{Status::Corruption("'" + dir +
                                     "' holds an LMDB environment that is not chronograph's")};
    }
    lmdb::val vk("format_version", 14), vv;
    Decoder vd(lmdb::dbi_get(txn, p->meta, vk, vv) ? View(vv) : std::string_view());
    if (!vd.GetFixed32(&version)) {
      throw Abort{Status::Corruption("'" + dir + "': meta has no format version")};
    }
    if (version != kFormatVersion) {
      throw Abort{Status::NotSupported("'" + dir + "' has event-log format version " +
                                       std::to_string(version) + "; this build reads only " +
                                       std::to_string(kFormatVersion))};
    }
  });
  if (!st.ok()) return st;
  return std::unique_ptr<EventLog>(new EventLog(std::move(impl), dir));
}

Status EventLog::CatchUp(State* state) {
  std::lock_guard<std::mutex> lock(impl_->mu);
  return CatchUpLocked(state);
}

Status EventLog::CatchUpLocked(State* state) {
  EventStreamDecoder decoder(EventFields::kForFold);  // reuses its buffers
  uint64_t read = 0;  // events this catch-up read
  bool tried_ahead = false;
  for (;;) {
    uint64_t before = state->last_seq;
    uint64_t next = before + 1;
    bool more = false;
    const void* inside_map = nullptr;
    CG_RETURN_IF_ERROR(
        impl_->ReadChunk(dir_, &next, &more, &inside_map, [&](uint64_t seq, std::string_view value) {
          Status st = decoder.Decode(seq, value);
          if (!st.ok()) throw Abort{st};
          st = Apply(state, decoder.event());
          if (!st.ok()) throw Abort{st};
          return true;
        }));
    read += state->last_seq - before;
    // A replay (a chunk or more), not the few events of a pass.
    if (impl_->options.release_read_pages && inside_map && read >= kReadChunk) {
      os::ReleaseMappedPages(inside_map, dir_ + "/data.mdb");
    }
    if (!more || state->last_seq == before) return Status::OK();
    // One core: the second thread would only take turns with this one.
    if (impl_->options.decode_ahead && !tried_ahead && std::thread::hardware_concurrency() > 1) {
      tried_ahead = true;
      if (std::optional<Status> st = CatchUpDecodingAhead(state)) return *st;
      // No thread could be started: on alone.
    }
  }
}

std::optional<Status> EventLog::CatchUpDecodingAhead(State* state) {
  // Batches go round between the two threads: `empty` to the decoder, `full`
  // (in order) to the fold. The last one the decoder hands over carries how it
  // ended.
  struct Decoded {
    std::vector<Event> events;  // reused: each Event keeps its buffers for the next
    size_t n = 0;
    Status status;
    bool last = false;
  };
  constexpr size_t kBatchEvents = 1024;
  constexpr size_t kBatches = 4;
  std::vector<std::unique_ptr<Decoded>> batches;
  std::mutex mu;
  std::condition_variable cv;
  std::deque<Decoded*> empty, full;
  bool stop = false;  // the fold has ended (an error): the decoder stops
  for (size_t i = 0; i < kBatches; ++i) {
    batches.push_back(std::make_unique<Decoded>());
    batches.back()->events.resize(kBatchEvents);
    empty.push_back(batches.back().get());
  }
  auto take_empty = [&]() -> Decoded* {
    std::unique_lock<std::mutex> lock(mu);
    cv.wait(lock, [&] { return stop || !empty.empty(); });
    if (stop) return nullptr;
    Decoded* b = empty.front();
    empty.pop_front();
    b->n = 0;
    return b;
  };
  auto hand_over = [&](Decoded* b) {
    std::lock_guard<std::mutex> lock(mu);
    full.push_back(b);
    cv.notify_all();
  };
  const uint64_t from = state->last_seq + 1;
  std::thread decoder;
  try {
    decoder = std::thread([&] {
      Decoded* b = nullptr;
      uint64_t next = from;
      bool more = true, stopped = false;
      Status st;
      try {
        while (more && !stopped && st.ok()) {
          const void* inside_map = nullptr;
          st = impl_->ReadChunk(dir_, &next, &more, &inside_map,
                                [&](uint64_t seq, std::string_view value) {
                                  if (!b && !(b = take_empty())) {
                                    stopped = true;
                                    return false;
                                  }
                                  Status decoded = DecodeEventInto(seq, value, &b->events[b->n],
                                                                   EventFields::kForFold);
                                  if (!decoded.ok()) throw Abort{decoded};
                                  if (++b->n == kBatchEvents) {
                                    hand_over(b);
                                    b = nullptr;
                                  }
                                  return true;
                                });
          if (impl_->options.release_read_pages && inside_map) {
            os::ReleaseMappedPages(inside_map, dir_ + "/data.mdb");
          }
        }
        if (stopped || (!b && !(b = take_empty()))) return;
      } catch (const std::exception& e) {
        // As Impl::Run says it (a bad_alloc, a failed lock: nothing of LMDB's).
        st = Status::IOError("LMDB environment '" + dir_ + "': " + e.what());
        if (!b && !(b = take_empty())) return;
      }
      b->status = st;
      b->last = true;
      hand_over(b);
    });
  } catch (const std::system_error&) {
    return std::nullopt;
  }
  // Whatever happens here, the decoder is told to stop and is joined before the
  // batches it writes into go.
  struct Joiner {
    std::thread& t;
    std::mutex& mu;
    std::condition_variable& cv;
    bool& stop;
    ~Joiner() {
      {
        std::lock_guard<std::mutex> lock(mu);
        stop = true;
        cv.notify_all();
      }
      t.join();
    }
  } joiner{decoder, mu, cv, stop};
  for (;;) {
    Decoded* b;
    {
      std::unique_lock<std::mutex> lock(mu);
      cv.wait(lock, [&] { return !full.empty(); });
      b = full.front();
      full.pop_front();
    }
    Status st;
    try {
      for (size_t i = 0; i < b->n && st.ok(); ++i) st = Apply(state, b->events[i]);
    } catch (const std::exception& e) {  // as Impl::Run turns it into a status
      st = Status::IOError("LMDB environment '" + dir_ + "': " + e.what());
    }
    decoded_ahead_ += b->n;
    if (st.ok() && b->last) st = b->status;
    if (!st.ok() || b->last) return st;
    std::lock_guard<std::mutex> lock(mu);
    empty.push_back(b);
    cv.notify_all();
  }
}

Status EventLog::Scan(uint64_t from, uint64_t to, const std::function<bool(const Event&)>& fn) {
  std::lock_guard<std::mutex> lock(impl_->mu);
  uint64_t next = std::max<uint64_t>(from, 1);
  bool done = false;
  EventStreamDecoder decoder(EventFields::kAll);  // reuses its buffers
  while (!done && next <= to) {
    CG_RETURN_IF_ERROR(impl_->Run(dir_, MDB_RDONLY, [&](Txn& txn) {
      uint64_t count = 0;
      done = true;
      Impl::ForEach(txn, impl_->events, next, [&](uint64_t seq, std::string_view value) {
        if (seq > to) return false;
        if (++count > kReadChunk) {
          done = false;
          return false;
        }
        Status st = decoder.Decode(seq, value);
        if (!st.ok()) throw Abort{st};
        next = seq + 1;
        if (!fn(decoder.event())) return false;
        return true;
      });
    }));
  }
  return Status::OK();
}

Result<uint64_t> EventLog::Transact(State *state, const Decide &decide) {
  std::lock_guard<std::mutex> lock(impl_->mu);
  Impl* p = impl_.get();
  // Fold what is already committed in bounded read transactions first, so the write
  // transaction (LMDB's lock across processes) folds only the few newest events.
  CG_RETURN_IF_ERROR(CatchUpLocked(state));
  uint64_t first = 0;
  bool state_dirty = false;
  Status st = p->Run(dir_, 0, [&](Txn& txn) {
    first = 0;
    if (state_dirty) {
      // A previous attempt applied events that were then not committed (see below).
      *state = state->EmptyLike();
      state_dirty = false;
    }
    Impl::CatchUpIn(txn, p->events, state);
    uint64_t head_seq;
    Hash head_hash;
    if (!Impl::ReadHead(txn, p->meta, &head_seq, &head_hash)) {
      throw Abort{Status::Corruption("meta head record is malformed")};
    }
    if (head_seq != state->last_seq) {
      throw Abort{Status::Corruption("meta head names event " + std::to_string(head_seq) +
                                     " but the log ends at " +
                                     std::to_string(state->last_seq))};
    }
    Batch batch;
    Status decided;
    try {
      decided = decide(*state, &batch);
    } catch (const std::exception& e) {
      decided = Status::InvalidArgument(std::string("deciding what to append failed: ") + e.what());
    }
    if (!decided.ok()) throw Abort{decided};
    if (batch.empty()) throw Abort{Status::OK()};
    int64_t now = NowMicros();
    uint64_t seq = state->last_seq;
    first = batch.events.empty() ? 0 : seq + 1;
    for (EventPayload& payload : batch.events) {
      ++seq;
      Event e;
      e.seq = seq;
      e.version = kEventEncodingVersion;
      e.type = PayloadType(payload);
      e.time_us = now;
      e.actor = p->actor;
      e.prev = head_hash;
      std::string value = EncodeEvent(e.type, now, p->actor, head_hash, EncodePayload(payload));
      e.payload = std::move(payload);
      state_dirty = true;
      Status applied = Apply(state, e);
      if (!applied.ok()) {
        throw Abort{Status::InvalidArgument("refusing to append an event the fold rejects: " +
                                            applied.message())};
      }
      std::string key = EncodeKey(seq);
      lmdb::val kv(key.data(), key.size()), vv(value.data(), value.size());
      if (!lmdb::dbi_put(txn, p->events, kv, vv, MDB_APPEND)) {
        throw Abort{Status::Corruption("event " + std::to_string(seq) + " already exists")};
      }
      head_hash = HashEvent(seq, value);
    }
    for (const auto& [run_id, blob] : batch.put_outputs) {
      std::string key = EncodeKey(run_id);
      lmdb::val kv(key.data(), key.size()), vv(blob.data(), blob.size());
      lmdb::dbi_put(txn, p->outputs, kv, vv, 0);
    }
    for (uint64_t run_id : batch.delete_outputs) {
      std::string key = EncodeKey(run_id);
      lmdb::val kv(key.data(), key.size());
      lmdb::dbi_del(txn, p->outputs, kv, nullptr);
    }
    std::string head;
    PutFixed64(&head, seq);
    head.append(reinterpret_cast<const char*>(head_hash.data()), head_hash.size());
    lmdb::val hk("head", 4), hv(head.data(), head.size());
    lmdb::dbi_put(txn, p->meta, hk, hv, 0);
  });
  if (!st.ok() && state_dirty) {
    // Events applied to *state were not committed: rebuild it from the log (with the
    // same settings: the bound on the runs it keeps, whether it keeps specs). Notes that
    // are not part of the record (JobState::wake_us) are lost; the service relies on
    // this fold touching every job.
    *state = state->EmptyLike();
    Status rebuilt = CatchUpLocked(state);
    if (!rebuilt.ok()) return rebuilt;
  }
  if (!st.ok()) return st;
  return first;
}

Result<uint64_t> EventLog::Append(State* state, EventPayload payload) {
  return Transact(state, [&](const State&, Batch* batch) {
    batch->events.push_back(payload);
    return Status::OK();
  });
}

Result<std::optional<std::string>> EventLog::GetOutput(uint64_t run_id) {
  std::lock_guard<std::mutex> lock(impl_->mu);
  std::optional<std::string> out;
  CG_RETURN_IF_ERROR(impl_->Run(dir_, MDB_RDONLY, [&](Txn& txn) {
    std::string key = EncodeKey(run_id);
    lmdb::val kv(key.data(), key.size()), vv;
    if (lmdb::dbi_get(txn, impl_->outputs, kv, vv)) out = std::string(View(vv));
  }));
  return out;
}

Status EventLog::WriteSnapshot(uint64_t seq, const std::string& state_bytes) {
  std::lock_guard<std::mutex> lock(impl_->mu);
  return impl_->Run(dir_, 0, [&](Txn& txn) {
    std::string key = EncodeKey(seq);
    lmdb::val kv(key.data(), key.size()), vv;
    if (!lmdb::dbi_get(txn, impl_->events, kv, vv)) {
      throw Abort{Status::InvalidArgument("no event " + std::to_string(seq) +
                                          " to take a snapshot at")};
    }
    Hash hash = HashEvent(seq, View(vv));
    std::string value;
    PutFixed64(&value, seq);
    value.append(reinterpret_cast<const char*>(hash.data()), hash.size());
    value += state_bytes;
    lmdb::val sk(kSnapshotKey, sizeof(kSnapshotKey) - 1), sv(value.data(), value.size());
    lmdb::dbi_put(txn, impl_->meta, sk, sv, 0);
  });
}

Result<std::optional<SnapshotRecord>> EventLog::ReadSnapshot() {
  std::lock_guard<std::mutex> lock(impl_->mu);
  std::optional<SnapshotRecord> out;
  CG_RETURN_IF_ERROR(impl_->Run(dir_, MDB_RDONLY, [&](Txn& txn) {
    out = Impl::ReadSnapshotIn(txn, impl_->meta, impl_->events);
  }));
  return out;
}

// Throws Abort.
std::optional<SnapshotRecord> EventLog::Impl::ReadSnapshotIn(MDB_txn* txn, MDB_dbi meta,
                                                             MDB_dbi events) {
  lmdb::val sk(kSnapshotKey, sizeof(kSnapshotKey) - 1), sv;
  if (!lmdb::dbi_get(txn, meta, sk, sv)) return std::nullopt;
  std::string_view value = View(sv);
  SnapshotRecord rec;
  Decoder d(value);
  if (value.size() < 8 + 32 || !d.GetFixed64(&rec.seq)) {
    throw Abort{Status::Corruption("meta snapshot record is malformed")};
  }
  // The snapshot is of the fold up to event `seq`; the hash of that event commits to
  // every event before it (the chain), so a log altered below the snapshot shows here.
  std::string key = EncodeKey(rec.seq);
  lmdb::val kv(key.data(), key.size()), vv;
  Hash stored;
  memcpy(stored.data(), value.data() + 8, stored.size());
  if (!lmdb::dbi_get(txn, events, kv, vv) || HashEvent(rec.seq, View(vv)) != stored) {
    throw Abort{Status::Corruption("the snapshot in meta is of event " +
                                   std::to_string(rec.seq) +
                                   ", which is missing or not the event it was taken of")};
  }
  rec.state = std::string(value.substr(8 + 32));
  return rec;
}

Result<uint64_t> EventLog::LastSeq() {
  std::lock_guard<std::mutex> lock(impl_->mu);
  uint64_t last = 0;
  CG_RETURN_IF_ERROR(impl_->Run(dir_, MDB_RDONLY, [&](Txn& txn) {
    auto cursor = lmdb::cursor::open(txn, impl_->events);
    lmdb::val k, v;
    if (cursor.get(k, v, MDB_LAST) && !DecodeKey(View(k), &last)) {
      throw Abort{Status::Corruption("events database has a malformed last key")};
    }
  }));
  return last;
}

size_t EventLog::MapSize() const { return impl_->MapSize(); }

void EventLog::ReleaseMappedPages() {
  std::lock_guard<std::mutex> lock(impl_->mu);
  // Any value read in a read transaction points into the map.
  const void* inside = nullptr;
  (void)impl_->Run(dir_, MDB_RDONLY, [&](Txn& txn) {
    lmdb::val key("head", 4), value;
    if (lmdb::dbi_get(txn, impl_->meta, key, value)) inside = value.data();
  });
  if (inside) os::ReleaseMappedPages(inside, dir_ + "/data.mdb");
}

Status EventLog::Verify(VerifyReport* report) {
  std::lock_guard<std::mutex> lock(impl_->mu);
  *report = VerifyReport();
  State state;
  Hash prev{};  // the first event links to zeros
  uint64_t expected = 1;
  // The snapshot, if any, must equal the fold (under its bound) at its event.
  std::optional<SnapshotRecord> snapshot;
  CG_RETURN_IF_ERROR(impl_->Run(dir_, MDB_RDONLY, [&](Txn& txn) {
    snapshot = Impl::ReadSnapshotIn(txn, impl_->meta, impl_->events);
  }));
  State bounded;
  if (snapshot) {
    auto decoded = DecodeStateSnapshot(snapshot->state);
    if (!decoded.ok() && !decoded.status().IsNotSupported()) {
      return Status::Corruption("the snapshot in meta (event " + std::to_string(snapshot->seq) +
                                "): " + decoded.status().message());
    }
    if (decoded.ok()) {
      bounded.finished_runs_per_job = decoded->finished_runs_per_job;
      bounded.keep_specs = decoded->keep_specs;
    } else {
      snapshot.reset();  // another version's: not ours to judge
    }
  }
  bool more = true;
  uint64_t head_seq = 0;
  Hash head_hash{};
  bool head_ok = true;
  // The fold's fields, prev included; the actor's bytes are checked, not copied.
  EventStreamDecoder decoder(EventFields::kForFold);
  while (more) {
    CG_RETURN_IF_ERROR(impl_->Run(dir_, MDB_RDONLY, [&](Txn& txn) {
      uint64_t count = 0;
      more = false;
      Impl::ForEach(txn, impl_->events, expected, [&](uint64_t seq, std::string_view value) {
        if (++count > kReadChunk) {
          more = true;
          return false;
        }
        if (seq != expected) {
          throw Abort{Status::Corruption("event " + std::to_string(expected) +
                                         " is missing (the next event is " +
                                         std::to_string(seq) + ")")};
        }
        Status decoded_st = decoder.Decode(seq, value);
        if (!decoded_st.ok()) throw Abort{decoded_st};
        const Event* e = &decoder.event();
        if (e->prev != prev) {
          throw Abort{Status::Corruption("event " + std::to_string(seq) +
                                         ": hash chain broken (the previous event was altered, "
                                         "removed or reordered)")};
        }
        Status st = Apply(&state, *e);
        if (!st.ok()) throw Abort{st};
        if (snapshot && seq <= snapshot->seq) {
          st = Apply(&bounded, *e);
          if (!st.ok()) throw Abort{st};
          if (seq == snapshot->seq && EncodeStateSnapshot(bounded) != snapshot->state) {
            throw Abort{Status::Corruption(
                "event " + std::to_string(seq) +
                ": the snapshot in meta taken at this event does not match the fold of the "
                "log")};
          }
        }
        if (seq == 1) report->first_time_us = e->time_us;
        report->last_time_us = e->time_us;
        prev = HashEvent(seq, value);
        ++expected;
        return true;
      });
      // The tip recorded in meta catches a removed or replaced last event. It is read
      // in the same snapshot as the last events, so a concurrent append cannot make
      // the two disagree.
      if (!more) head_ok = Impl::ReadHead(txn, impl_->meta, &head_seq, &head_hash);
    }));
  }
  uint64_t last = expected - 1;
  if (!head_ok) return Status::Corruption("meta head record is malformed");
  if (head_seq != last) {
    return Status::Corruption("event " + std::to_string(std::min(head_seq, last) + 1) +
                              ": the log ends at event " + std::to_string(last) +
                              " but its recorded head is event " + std::to_string(head_seq));
  }
  if (head_hash != prev) {
    return Status::Corruption("event " + std::to_string(last) +
                              ": does not match the hash recorded as the log's head");
  }
  report->snapshot_seq = snapshot ? snapshot->seq : 0;
  report->events = state.events;
  report->ignored = state.ignored_events;
  report->jobs = state.jobs.size();
  report->runs = state.runs.size();
  return Status::OK();
}

}  // namespace cg::store
