// The fold's runs: one RunRecord per claimed or skipped slot, kept by id in a table
// made for a fold that keeps every run (chronotool, verify): records sit in chunks in
// the order of their ids, with no node or heap block of their own, because the memory
// a full fold takes for each run (and the page faults of taking it) was its largest cost
// (bench/RESULTS.md section 14).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <iterator>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "service/events.h"

namespace cg {

enum class RunStatus : uint8_t {
  kScheduled,  // slot claimed, not started yet
  kRunning,
  kSucceeded,
  kFailed,
  kTimedOut,
  kStopped,    // stopped by `replace` or shutdown of a run-now
  kAbandoned,  // its run shim went away without finishing
  kSkipped,    // a slot that was not run; `reason` says why
};

// A run's output digest as the log holds it: the hex SHA-256 of the stored output
// record (RunFinished::output_digest). Lowercase hex of 32 bytes, which is all
// chronograph writes, is kept as the 32 bytes; any other text is kept as it came, so
// str() always gives back exactly what was assigned.
class HexDigest {
 public:
  HexDigest() = default;
  HexDigest(const HexDigest& o) { *this = o; }
  HexDigest& operator=(const HexDigest& o);
  HexDigest(HexDigest&& o) noexcept { *this = std::move(o); }
  HexDigest& operator=(HexDigest&& o) noexcept {
    bytes_ = o.bytes_;
    kind_ = o.kind_;
    text_ = std::move(o.text_);
    o.Clear();
    return *this;
  }

  void Assign(std::string_view text);
  void Clear() {
    kind_ = Kind::kEmpty;
    text_.reset();
  }
  std::string str() const;
  bool empty() const { return kind_ == Kind::kEmpty; }
  bool operator==(std::string_view text) const;
  bool operator!=(std::string_view text) const { return !(*this == text); }

 private:
  enum class Kind : uint8_t { kEmpty, kBytes, kText };
  std::array<uint8_t, 32> bytes_{};
  Kind kind_ = Kind::kEmpty;
  std::unique_ptr<std::string> text_;  // Kind::kText
};

// A run's fixed-size fields (RunRecord's base: reset in one assignment).
struct RunFacts {
  uint64_t id = 0;  // sequence number of its RunScheduled (or RunSkipped) event
  // defined_seq of the job when the run was claimed: a job removed and defined again
  // under the same name is another job, whose runs these are not.
  uint64_t job_seq = 0;
  int64_t scheduled_for_us = 0;
  uint64_t request_seq = 0;
  int64_t claimed_at_us = 0;
  int64_t started_at_us = 0;
  int64_t ended_at_us = 0;
  int64_t pid = 0;
  uint64_t stdout_bytes = 0;
  uint64_t stderr_bytes = 0;
  int32_t exit_code = -1;
  int32_t signal = 0;
  Trigger trigger = Trigger::kSchedule;
  uint8_t dst_adjust = 0;
  RunStatus status = RunStatus::kScheduled;
  bool output_purged = false;
  // A RunFinished that arrived after the run was marked abandoned: kept for the
  // record, without reviving the run.
  bool finished_late = false;
};

struct RunRecord : RunFacts {
  std::string job;
  std::string reason;
  std::string host;
  // The run's lock file while it is scheduled or running. Emptied when the run ends
  // (its shim removes the file): the log's RunStarted still names it.
  std::string lock_file;
  HexDigest output_digest;
};

// Runs by id, ascending. Ids grow with the log (a run's id is the sequence number of
// the event that claimed it), so a new run goes after every run held, a lookup is a
// binary search, and an erased run leaves a hole. Records never move: a pointer to one
// stays valid until that run is erased. A chunk whose runs are all erased is freed.
// Unlike a std::map's, iterators are invalidated by any Erase or Append.
class RunTable {
 public:
  class const_iterator;
  using const_reverse_iterator = std::reverse_iterator<const_iterator>;

  RunTable() = default;
  RunTable(const RunTable& o);
  RunTable& operator=(const RunTable& o) {
    RunTable copy(o);
    swap(copy);
    return *this;
  }
  RunTable(RunTable&& o) noexcept { swap(o); }
  RunTable& operator=(RunTable&& o) noexcept {
    RunTable taken(std::move(o));
    swap(taken);
    return *this;
  }
  void swap(RunTable& o) noexcept;

  // A new, default run with this id; nullptr (and nothing added) unless CanAppend(id).
  RunRecord* Append(uint64_t id);
  // `id` is greater than every id appended so far.
  bool CanAppend(uint64_t id) const { return id > last_id_; }
  const RunRecord* Find(uint64_t id) const;
  RunRecord* Find(uint64_t id) {
    return const_cast<RunRecord*>(static_cast<const RunTable*>(this)->Find(id));
  }
  bool contains(uint64_t id) const { return Find(id) != nullptr; }
  // Erases run `id` if it is held.
  void Erase(uint64_t id);

  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  const_iterator begin() const;
  const_iterator end() const;
  const_reverse_iterator rbegin() const;
  const_reverse_iterator rend() const;

 private:
  // 16 runs (about 4.5 KB) a chunk: a run that stays while the runs around it come and
  // go (the service keeps only the runs in flight) holds its whole chunk. Measured
  // against 64 and 8: a full fold no slower (bench/RESULTS.md section 14).
  static constexpr uint32_t kChunkRuns = 16;
  struct Chunk {
    std::array<RunRecord, kChunkRuns> runs;
    std::array<uint64_t, kChunkRuns> ids{};  // runs[i].id, packed for the search
    std::array<bool, kChunkRuns> live{};
    uint32_t used = 0;  // slots appended to, live or erased since
    uint32_t live_count = 0;
  };
  // The chunk and slot of run `id`, or false.
  bool Locate(uint64_t id, size_t* chunk, uint32_t* slot) const;

  std::vector<std::unique_ptr<Chunk>> chunks_;
  // The id in each chunk's first slot, beside chunks_: the search reads these rather
  // than one cache line in each chunk.
  std::vector<uint64_t> first_ids_;
  std::unique_ptr<Chunk> spare_;  // the last chunk freed, for the next one needed
  size_t size_ = 0;
  uint64_t last_id_ = 0;

  friend class const_iterator;
};

class RunTable::const_iterator {
 public:
  using iterator_category = std::bidirectional_iterator_tag;
  using value_type = RunRecord;
  using difference_type = std::ptrdiff_t;
  using pointer = const RunRecord*;
  using reference = const RunRecord&;

  const_iterator() = default;
  reference operator*() const { return t_->chunks_[chunk_]->runs[slot_]; }
  pointer operator->() const { return &**this; }
  const_iterator& operator++();
  const_iterator& operator--();
  const_iterator operator++(int) {
    const_iterator old = *this;
    ++*this;
    return old;
  }
  const_iterator operator--(int) {
    const_iterator old = *this;
    --*this;
    return old;
  }
  bool operator==(const const_iterator& o) const {
    return chunk_ == o.chunk_ && slot_ == o.slot_;
  }
  bool operator!=(const const_iterator& o) const { return !(*this == o); }

 private:
  friend class RunTable;
  const_iterator(const RunTable* t, size_t chunk, uint32_t slot)
      : t_(t), chunk_(chunk), slot_(slot) {}
  const RunTable* t_ = nullptr;
  size_t chunk_ = 0;  // chunks_.size() with slot 0: end()
  uint32_t slot_ = 0;
};

}  // namespace cg
