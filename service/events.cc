#include "service/events.h"

#include <algorithm>
#include <cstring>
#include <sstream>
#include <type_traits>

#include <cereal/archives/portable_binary.hpp>

namespace cg::payload {
class PayloadInputArchive;
}
// Which output archive's save functions PayloadInputArchive's loads mirror (cereal checks
// that a type's load_minimal and save_minimal agree; enums use them).
namespace cereal::traits::detail {
template <>
struct get_output_from_input<cg::payload::PayloadInputArchive> {
  using type = cereal::PortableBinaryOutputArchive;
};
}  // namespace cereal::traits::detail

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

// Named (not anonymous) so that cereal finds the load functions by argument-dependent
// lookup and the traits specialisation above names the same class.
namespace payload {

// Reads what PortableBinaryOutputArchive wrote, straight from the payload's bytes, with
// one check PortableBinaryInputArchive lacks: a container's element count must not
// exceed the bytes left (every element takes at least one byte). Without it a corrupt
// (or crafted) count made std::string/std::vector::resize try to allocate up to 2^64
// bytes before reading a single element (found by fuzz/event_decode_fuzz.cc).
// Written against cereal's archive interface: InputArchive, and load functions for
// arithmetic values, names (NameValuePair), sizes (SizeTag) and BinaryData.
class PayloadInputArchive
    : public cereal::InputArchive<PayloadInputArchive, cereal::AllowEmptyClassElision> {
 public:
  explicit PayloadInputArchive(const std::string& bytes)
      : InputArchive(this), data_(bytes.data()), left_(bytes.size()) {
    uint8_t stream_little_endian = 0;
    Read(&stream_little_endian, 1, 1);
    const uint16_t probe = 1;
    const bool host_little_endian = *reinterpret_cast<const uint8_t*>(&probe) == 1;
    swap_ = stream_little_endian != (host_little_endian ? 1 : 0);
  }

  // Reads `n` bytes as values of `element_size` bytes each, in the host's byte order.
  void Read(void* out, size_t n, size_t element_size) {
    if (n > left_) {
      throw cereal::Exception("truncated: " + std::to_string(n) + " bytes needed, " +
                              std::to_string(left_) + " left");
    }
    if (n == 0) return;  // an empty vector's data() may be null, not for memcpy
    std::memcpy(out, data_, n);
    data_ += n;
    left_ -= n;
    if (swap_ && element_size > 1) {
      auto* p = static_cast<uint8_t*>(out);
      for (size_t i = 0; i + element_size <= n; i += element_size) {
        std::reverse(p + i, p + i + element_size);
      }
    }
  }
  size_t left() const { return left_; }

 private:
  const char* data_;
  size_t left_;
  bool swap_ = false;
};

template <class T>
typename std::enable_if<std::is_arithmetic<T>::value, void>::type CEREAL_LOAD_FUNCTION_NAME(
    PayloadInputArchive& ar, T& t) {
  ar.Read(std::addressof(t), sizeof(t), sizeof(t));
}

template <class T>
void CEREAL_LOAD_FUNCTION_NAME(PayloadInputArchive& ar, cereal::NameValuePair<T>& t) {
  ar(t.value);
}

template <class T>
void CEREAL_LOAD_FUNCTION_NAME(PayloadInputArchive& ar, cereal::SizeTag<T>& t) {
  uint64_t n = 0;
  ar(n);
  if (n > ar.left()) {
    throw cereal::Exception("a length of " + std::to_string(n) + " with only " +
                            std::to_string(ar.left()) + " bytes left");
  }
  t.size = static_cast<typename std::remove_reference<decltype(t.size)>::type>(n);
}

template <class T>
void CEREAL_LOAD_FUNCTION_NAME(PayloadInputArchive& ar, cereal::BinaryData<T>& bd) {
  using Element = typename std::remove_pointer<T>::type;
  ar.Read(bd.data, static_cast<size_t>(bd.size), sizeof(Element));
}

}  // namespace payload

namespace {

template <typename T>
Result<EventPayload> DecodeAs(const std::string& bytes) {
  T value;
  size_t left = 0;
  try {
    payload::PayloadInputArchive ar(bytes);
    ar(value);
    left = ar.left();
  } catch (const std::exception& e) {
    return Status::Corruption(std::string("payload of ") +
                              EventTypeName(static_cast<uint16_t>(T::kType)) +
                              " does not decode: " + e.what());
  }
  if (left != 0) {
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
