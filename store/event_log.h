// The event log: one LMDB environment per data directory, the only source of truth.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "service/events.h"
#include "service/state.h"
#include "service/status.h"

namespace cg::store {

constexpr uint32_t kMagic = 0x47524843;  // "CHRG" read as little-endian bytes
constexpr uint32_t kFormatVersion = 1;

struct Options {
  // Create the directory and the environment when they do not exist. When false, a
  // missing data directory is NotFound.
  bool create_if_missing = true;
  // Recorded as the actor's program in every event this process writes.
  std::string program = "chronotool";
  // The map starts at this size and doubles (by at most 1 GiB a step) when full.
  size_t initial_map_size = size_t{64} << 20;
  // The map never grows past this size (0: no limit but the address space). A write
  // that needs more fails with IOError saying the log is full; nothing is written.
  size_t max_map_size = 0;
  // Drop the map's pages from this process's resident memory after each chunk of
  // events (8,192) a catch-up reads (the service: a replay of a long log would
  // otherwise keep all of data.mdb resident). They stay in the OS's file cache.
  bool release_read_pages = false;
  // A catch-up longer than one chunk of events (8,192: a replay, not a pass) decodes
  // the rest on a second thread while the calling thread folds them. Decoding (the
  // checksum, the envelope, the payload) and the fold each take about half of a replay,
  // so on two cores a replay takes about half the time. The fold itself stays on the
  // calling thread, in order; the first error ends it, as without.
  bool decode_ahead = true;
};

// What one write transaction appends and stores besides the events.
struct Batch {
  std::vector<EventPayload> events;
  std::vector<std::pair<uint64_t, std::string>> put_outputs;  // run id -> output record
  std::vector<uint64_t> delete_outputs;                       // run ids
  bool empty() const {
    return events.empty() && put_outputs.empty() && delete_outputs.empty();
  }
};

// The projection snapshot as stored: the fold of events 1..seq, encoded.
struct SnapshotRecord {
  uint64_t seq = 0;
  std::string state;
};

struct VerifyReport {
  uint64_t events = 0;
  uint64_t ignored = 0;  // unknown types with the safe-to-ignore bit
  size_t jobs = 0;
  size_t runs = 0;
  int64_t first_time_us = 0;
  int64_t last_time_us = 0;
  uint64_t snapshot_seq = 0;  // the snapshot checked against the fold (0: none)
};

// Thread-safe: calls are serialized by an internal mutex. Several processes may open
// the same directory at once (LMDB's write lock serializes their transactions), but a
// process must open a directory only once, and must not use it across fork().
class EventLog {
 public:
  // Opens (or creates, per `options`) the log in directory `dir`.
  // Errors: NotFound (no directory and !create_if_missing), PermissionDenied,
  // NotSupported (an unknown format version), Corruption (not a chronograph
  // environment), IOError.
  static Result<std::unique_ptr<EventLog>> Open(const std::string& dir, const Options& options);
  ~EventLog();
  EventLog(const EventLog&) = delete;
  EventLog& operator=(const EventLog&) = delete;

  const std::string& dir() const { return dir_; }

  // Folds every committed event after state->last_seq into *state, in bounded read
  // transactions. Errors: Corruption naming the first bad event.
  Status CatchUp(State* state);

  // Calls fn(event) for each event with from <= seq <= to, in order, checking every
  // checksum; stops early when fn returns false. Errors: Corruption naming the event.
  Status Scan(uint64_t from, uint64_t to, const std::function<bool(const Event&)>& fn);

  // In one write transaction (the cross-process write lock held): folds events that
  // others appended into *state, calls decide(*state, &batch), checks that the fold
  // accepts the batch's events, appends them with MDB_APPEND, stores its outputs and
  // commits durably. The events are then part of *state. When decide returns an error,
  // nothing is written and that error is returned. A full map is grown and the
  // transaction retried (decide may then be called again).
  // Returns the sequence number of the first appended event, 0 when none.
  using Decide = std::function<Status(const State&, Batch*)>;
  Result<uint64_t> Transact(State* state, const Decide& decide);

  // Appends one event (a Transact whose decision is fixed). The fold must accept it.
  Result<uint64_t> Append(State* state, EventPayload payload);

  // The stored output record of run `run_id`, nullopt when there is none (never
  // stored, or purged).
  Result<std::optional<std::string>> GetOutput(uint64_t run_id);

  // Walks the whole log: checksums, sequence continuity, the hash chain, the head
  // recorded in meta, and that the fold accepts every event.
  // Errors: Corruption naming the first bad sequence number.
  Status Verify(VerifyReport* report);

  // Events folded since the log was opened that a second thread had decoded
  // (Options::decode_ahead): for tests and diagnostics. Read on the folding thread.
  uint64_t decoded_ahead() const { return decoded_ahead_; }

  // The projection snapshot in meta (FORMAT.md): `state_bytes` (EncodeStateSnapshot)
  // is the fold of events 1..seq. Replaces the previous snapshot. A cache only: the
  // service writes it so that it can start by folding the events after it.
  // Errors: InvalidArgument (no event `seq`), IOError.
  Status WriteSnapshot(uint64_t seq, const std::string& state_bytes);
  // The snapshot, nullopt when there is none. Errors: Corruption when it is malformed
  // or the event it was taken at is not in the log as it was (the log was altered).
  Result<std::optional<SnapshotRecord>> ReadSnapshot();

  // The sequence number of the last event, 0 for an empty log.
  Result<uint64_t> LastSeq();

  // The current map size in bytes (grows when the log fills it).
  size_t MapSize() const;

  // Drops the log's mapped pages from this process's resident memory (the service,
  // after folding the whole log or its snapshot at start: it reads only new events
  // afterwards). They stay in the OS's file cache. No transaction may be open.
  void ReleaseMappedPages();

 private:
  struct Impl;
  explicit EventLog(std::unique_ptr<Impl> impl, std::string dir);
  Status CatchUpLocked(State* state);  // REQUIRES: impl_->mu held
  // The rest of a long catch-up, its events decoded on a second thread while this one
  // folds them (Options::decode_ahead); nullopt, with nothing folded, when no thread
  // could be started. REQUIRES: impl_->mu held.
  std::optional<Status> CatchUpDecodingAhead(State* state);
  std::unique_ptr<Impl> impl_;
  std::string dir_;
  uint64_t decoded_ahead_ = 0;  // under impl_->mu
};

// The data directory: `flag` when given, else $CHRONOGRAPH_DATA, else the platform
// default (/var/lib/chronograph; %ProgramData%\Chronograph on Windows).
std::string ResolveDataDir(const std::string& flag);

}  // namespace cg::store
