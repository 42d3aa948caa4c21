#include "service/events.h"

#include <sstream>

#include <cereal/archives/portable_binary.hpp>

namespace cg {

std::string EventTypeName(uint16_t type) {
  switch (static_cast<EventType>(type)) {
    case EventType::kJobDefined: return "JobDefined";
    case EventType::kJobChanged: return "JobChanged";
    case EventType::kJobEnabled: return "JobEnabled";
    case EventType::kJobDisabled: return "JobDisabled";
    case EventType::kJobRemoved: return "JobRemoved";
    case EventType::kRunRequested: return "RunRequested";
    case EventType::kRunScheduled: return "RunScheduled";
    case EventType::kRunSkipped: return "RunSkipped";
    case EventType::kRunStarted: return "RunStarted";
    case EventType::kRunFinished: return "RunFinished";
    case EventType::kRunAbandoned: return "RunAbandoned";
    case EventType::kOutputPurged: return "OutputPurged";
    case EventType::kServiceStarted: return "ServiceStarted";
    case EventType::kServiceStopped: return "ServiceStopped";
  }
  char buf[32];
  snprintf(buf, sizeof(buf), "Unknown(0x%04x)", type);
  return buf;
}

const char* TriggerName(Trigger t) {
  switch (t) {
    case Trigger::kSchedule: return "schedule";
    case Trigger::kRequest: return "request";
    case Trigger::kCatchUp: return "catch-up";
  }
  return "unknown";
}

const char* SkipReasonName(SkipReason r) {
  switch (r) {
    case SkipReason::kOverlap: return "overlap";
    case SkipReason::kMissed: return "missed";
    case SkipReason::kDisabled: return "disabled";
    case SkipReason::kDst: return "dst";
    case SkipReason::kRemoved: return "removed";
    case SkipReason::kEnded: return "no-such-job";
  }
  return "unknown";
}

const char* RunOutcomeName(RunOutcome o) {
  switch (o) {
    case RunOutcome::kSucceeded: return "succeeded";
    case RunOutcome::kFailed: return "failed";
    case RunOutcome::kTimedOut: return "timed_out";
    case RunOutcome::kStopped: return "stopped";
  }
  return "unknown";
}

uint16_t PayloadType(const EventPayload& p) {
  return std::visit(
      [](const auto& v) -> uint16_t {
        using T = std::decay_t<decltype(v)>;
        if constexpr (std::is_same_v<T, std::monostate>) {
          return 0;
        } else {
          return static_cast<uint16_t>(T::kType);
        }
      },
      p);
}

std::string EncodePayload(const EventPayload& payload) {
  std::ostringstream out(std::ios::binary);
  {
    cereal::PortableBinaryOutputArchive ar(out);
    std::visit(
        [&](const auto& v) {
          using T = std::decay_t<decltype(v)>;
          if constexpr (!std::is_same_v<T, std::monostate>) ar(v);
        },
        payload);
  }
  return out.str();
}

namespace {

// A read-only stream buffer over bytes that stay owned by the caller.
class ViewBuf : public std::streambuf {
 public:
  void Reset(const std::string& bytes) {
    char* begin = const_cast<char*>(bytes.data());
    setg(begin, begin, begin + bytes.size());
  }
};

// One stream per thread, reset for each payload: building an istringstream (a copy
// of the bytes and a locale) for every event was a tenth of a replay's time.
struct PayloadStream {
  ViewBuf buf;
  std::istream in{&buf};
};

template <typename T>
Result<EventPayload> DecodeAs(const std::string& bytes) {
  thread_local PayloadStream stream;
  stream.buf.Reset(bytes);
  stream.in.clear();
  std::istream& in = stream.in;
  T value;
  try {
    cereal::PortableBinaryInputArchive ar(in);
    ar(value);
  } catch (const std::exception& e) {
    return Status::Corruption(std::string("payload of ") +
                              EventTypeName(static_cast<uint16_t>(T::kType)) +
                              " does not decode: " + e.what());
  }
  if (in.peek() != std::char_traits<char>::eof()) {
    return Status::Corruption(std::string("payload of ") +
                              EventTypeName(static_cast<uint16_t>(T::kType)) +
                              " has trailing bytes");
  }
  return EventPayload(std::move(value));
}

}  // namespace

Result<EventPayload> DecodePayload(uint16_t type, const std::string& bytes) {
  switch (static_cast<EventType>(type)) {
    case EventType::kJobDefined: return DecodeAs<JobDefined>(bytes);
    case EventType::kJobChanged: return DecodeAs<JobChanged>(bytes);
    case EventType::kJobEnabled: return DecodeAs<JobEnabled>(bytes);
    case EventType::kJobDisabled: return DecodeAs<JobDisabled>(bytes);
    case EventType::kJobRemoved: return DecodeAs<JobRemoved>(bytes);
    case EventType::kRunRequested: return DecodeAs<RunRequested>(bytes);
    case EventType::kRunScheduled: return DecodeAs<RunScheduled>(bytes);
    case EventType::kRunSkipped: return DecodeAs<RunSkipped>(bytes);
    case EventType::kRunStarted: return DecodeAs<RunStarted>(bytes);
    case EventType::kRunFinished: return DecodeAs<RunFinished>(bytes);
    case EventType::kRunAbandoned: return DecodeAs<RunAbandoned>(bytes);
    case EventType::kOutputPurged: return DecodeAs<OutputPurged>(bytes);
    case EventType::kServiceStarted: return DecodeAs<ServiceStarted>(bytes);
    case EventType::kServiceStopped: return DecodeAs<ServiceStopped>(bytes);
  }
  if (type & kSafeToIgnoreBit) return EventPayload(std::monostate{});
  return Status::Corruption("unknown event type " + EventTypeName(type) +
                            " without the safe-to-ignore bit");
}

}  // namespace cg
