// The events of the log. Type numbers and field meanings are written to disk and must
// never change or be reused (store/FORMAT.md). A retired number keeps a comment.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include <cereal/cereal.hpp>
#include <cereal/types/string.hpp>
#include <cereal/types/utility.hpp>
#include <cereal/types/vector.hpp>

#include "service/job.h"
#include "service/status.h"

namespace cg {

enum class EventType : uint16_t {
  kJobDefined = 1,
  kJobChanged = 2,
  kJobEnabled = 3,
  kJobDisabled = 4,
  kJobRemoved = 5,
  kRunRequested = 6,
  kRunScheduled = 7,
  kRunSkipped = 8,
  kRunStarted = 9,
  kRunFinished = 10,
  kRunAbandoned = 11,
  kOutputPurged = 12,
  kServiceStarted = 13,
  kServiceStopped = 14,
};

// Bit 15 of a type number: a reader that does not know the type may skip the event.
// Any other unknown type is corruption (RocksDB's kRecordTypeSafeIgnoreMask).
constexpr uint16_t kSafeToIgnoreBit = 0x8000;

// Name used in `replay` ("JobDefined"); "Unknown(0x8042)" for others.
std::string EventTypeName(uint16_t type);

// Why a run was claimed. Stored as numbers.
enum class Trigger : uint8_t { kSchedule = 0, kRequest = 1, kCatchUp = 2 };
const char* TriggerName(Trigger t);

// Why a slot did not run. Stored as numbers.
enum class SkipReason : uint8_t {
  kOverlap = 1,     // the previous run was still going (overlap=skip)
  kMissed = 2,      // the slot passed while the service was down (missed=skip/once)
  kDisabled = 3,    // the job was disabled at the slot's time
  kDst = 4,         // a repeated local time (fall-back) already ran
  kRemoved = 5,     // the job was removed before a queued run could start
  kEnded = 6,       // a run request for a job that no longer exists
};
const char* SkipReasonName(SkipReason r);

// Outcome recorded by RunFinished. Stored as numbers.
enum class RunOutcome : uint8_t { kSucceeded = 0, kFailed = 1, kTimedOut = 2, kStopped = 3 };
const char* RunOutcomeName(RunOutcome o);

struct JobDefined {
  static constexpr EventType kType = EventType::kJobDefined;
  JobSpec spec;
  template <class A> void serialize(A& ar, std::uint32_t const) { ar(spec); }
};

// The full new definition, plus the names of the fields that changed (for people).
struct JobChanged {
  static constexpr EventType kType = EventType::kJobChanged;
  JobSpec spec;
  std::vector<std::string> changed;
  template <class A> void serialize(A& ar, std::uint32_t const) { ar(spec, changed); }
};

struct JobEnabled {
  static constexpr EventType kType = EventType::kJobEnabled;
  std::string job;
  template <class A> void serialize(A& ar, std::uint32_t const) { ar(job); }
};

struct JobDisabled {
  static constexpr EventType kType = EventType::kJobDisabled;
  std::string job;
  template <class A> void serialize(A& ar, std::uint32_t const) { ar(job); }
};

struct JobRemoved {
  static constexpr EventType kType = EventType::kJobRemoved;
  std::string job;
  template <class A> void serialize(A& ar, std::uint32_t const) { ar(job); }
};

// "Run now". The request's id is its sequence number.
struct RunRequested {
  static constexpr EventType kType = EventType::kRunRequested;
  std::string job;
  template <class A> void serialize(A& ar, std::uint32_t const) { ar(job); }
};

// A claimed slot. The run's id is this event's sequence number.
struct RunScheduled {
  static constexpr EventType kType = EventType::kRunScheduled;
  std::string job;
  int64_t scheduled_for_us = 0;
  Trigger trigger = Trigger::kSchedule;
  uint64_t request_seq = 0;  // kRequest: the RunRequested it answers
  uint8_t dst_adjust = 0;    // sched::FireAdjust applied to this slot
  template <class A> void serialize(A& ar, std::uint32_t const) {
    ar(job, scheduled_for_us, trigger, request_seq, dst_adjust);
  }
};

struct RunSkipped {
  static constexpr EventType kType = EventType::kRunSkipped;
  std::string job;
  int64_t scheduled_for_us = 0;
  SkipReason reason = SkipReason::kOverlap;
  std::string detail;
  uint64_t request_seq = 0;  // non-zero: this answers that RunRequested, not a slot
  template <class A> void serialize(A& ar, std::uint32_t const) {
    ar(job, scheduled_for_us, reason, detail, request_seq);
  }
};

struct RunStarted {
  static constexpr EventType kType = EventType::kRunStarted;
  uint64_t run_id = 0;
  std::string job;
  int64_t scheduled_for_us = 0;
  // When the command is to start: the time of writing, or the slot itself for a run
  // whose shim claimed it ahead of the slot. RunFinished has the measured start.
  int64_t started_at_us = 0;
  int64_t pid = 0;
  std::string host;
  std::string lock_file;
  template <class A> void serialize(A& ar, std::uint32_t const) {
    ar(run_id, job, scheduled_for_us, started_at_us, pid, host, lock_file);
  }
};

struct RunFinished {
  static constexpr EventType kType = EventType::kRunFinished;
  uint64_t run_id = 0;
  std::string job;
  int64_t started_at_us = 0;  // measured just before the command started; 0: never
  int64_t ended_at_us = 0;
  RunOutcome outcome = RunOutcome::kSucceeded;
  int32_t exit_code = -1;  // -1 when ended by a signal or never started
  int32_t signal = 0;      // 0 when it exited
  uint64_t stdout_bytes = 0;  // everything the command wrote
  uint64_t stderr_bytes = 0;
  uint64_t stdout_kept = 0;   // what was stored (head + tail under the cap)
  uint64_t stderr_kept = 0;
  std::string output_digest;  // hex SHA-256 of the stored output record
  std::string reason;         // e.g. "exec failed: No such file or directory"
  template <class A> void serialize(A& ar, std::uint32_t const) {
    ar(run_id, job, started_at_us, ended_at_us, outcome, exit_code, signal, stdout_bytes,
       stderr_bytes, stdout_kept, stderr_kept, output_digest, reason);
  }
};

struct RunAbandoned {
  static constexpr EventType kType = EventType::kRunAbandoned;
  uint64_t run_id = 0;
  std::string job;
  std::string reason;
  int64_t last_heartbeat_us = 0;  // 0 when no lock file was found
  template <class A> void serialize(A& ar, std::uint32_t const) {
    ar(run_id, job, reason, last_heartbeat_us);
  }
};

struct OutputPurged {
  static constexpr EventType kType = EventType::kOutputPurged;
  std::vector<uint64_t> run_ids;
  int64_t older_than_us = 0;
  template <class A> void serialize(A& ar, std::uint32_t const) { ar(run_ids, older_than_us); }
};

struct ServiceStarted {
  static constexpr EventType kType = EventType::kServiceStarted;
  int64_t pid = 0;
  std::string host;
  std::string version;
  template <class A> void serialize(A& ar, std::uint32_t const) { ar(pid, host, version); }
};

struct ServiceStopped {
  static constexpr EventType kType = EventType::kServiceStopped;
  int64_t pid = 0;
  std::string reason;
  template <class A> void serialize(A& ar, std::uint32_t const) { ar(pid, reason); }
};

// std::monostate stands for an unknown type that carries the safe-to-ignore bit.
using EventPayload =
    std::variant<std::monostate, JobDefined, JobChanged, JobEnabled, JobDisabled, JobRemoved,
                 RunRequested, RunScheduled, RunSkipped, RunStarted, RunFinished, RunAbandoned,
                 OutputPurged, ServiceStarted, ServiceStopped>;

uint16_t PayloadType(const EventPayload& p);

// Who wrote an event.
struct Actor {
  std::string user;     // OS user name
  std::string program;  // "chronotool", "chronographd", "chronographd-shim"
  int64_t pid = 0;
  std::string host;
};

using Hash = std::array<uint8_t, 32>;

// An event as read from the log.
struct Event {
  uint64_t seq = 0;
  uint8_t version = 0;
  uint16_t type = 0;
  int64_t time_us = 0;
  Actor actor;
  Hash prev{};
  EventPayload payload;
};

// cereal PortableBinaryArchive of the payload (with class versions).
std::string EncodePayload(const EventPayload& payload);
// Corruption when the bytes do not decode as `type`. An unknown type with the
// safe-to-ignore bit decodes to std::monostate; any other unknown type is Corruption.
Result<EventPayload> DecodePayload(uint16_t type, std::string_view bytes);
// The same into *out, reusing the object *out holds when it is already of that type
// (the replay decodes every event into one Event). On an error *out is unspecified.
// The decoder walks the structs' serialize() lists: every member must be in the list
// (it is also what EncodePayload writes), or a reused object would keep a stale value.
Status DecodePayloadInto(uint16_t type, std::string_view bytes, EventPayload* out);

namespace internal {
// The previous decoder, through cereal's InputArchive: the reference that tests and
// fuzz/event_decode_fuzz.cc compare DecodePayload with, input by input. They agree on
// every input but one kind: a bool byte other than 0 or 1, which DecodePayload reports
// as corruption and this decoder stored into a bool (undefined behaviour: do not call
// it on such input).
Result<EventPayload> DecodePayloadWithCereal(uint16_t type, const std::string& bytes);
}  // namespace internal

}  // namespace cg

CEREAL_CLASS_VERSION(cg::JobSpec, 1)
CEREAL_CLASS_VERSION(cg::JobDefined, 1)
CEREAL_CLASS_VERSION(cg::JobChanged, 1)
CEREAL_CLASS_VERSION(cg::JobEnabled, 1)
CEREAL_CLASS_VERSION(cg::JobDisabled, 1)
CEREAL_CLASS_VERSION(cg::JobRemoved, 1)
CEREAL_CLASS_VERSION(cg::RunRequested, 1)
CEREAL_CLASS_VERSION(cg::RunScheduled, 1)
CEREAL_CLASS_VERSION(cg::RunSkipped, 1)
CEREAL_CLASS_VERSION(cg::RunStarted, 1)
CEREAL_CLASS_VERSION(cg::RunFinished, 1)
CEREAL_CLASS_VERSION(cg::RunAbandoned, 1)
CEREAL_CLASS_VERSION(cg::OutputPurged, 1)
CEREAL_CLASS_VERSION(cg::ServiceStarted, 1)
CEREAL_CLASS_VERSION(cg::ServiceStopped, 1)
