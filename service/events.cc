#include "service/events.h"

#include <algorithm>
#include <cstring>
#include <sstream>
#include <string_view>
#include <type_traits>
#include <utility>

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
Status PayloadError(const std::string& what) {
  return Status::Corruption(std::string("payload of ") +
                            EventTypeName(static_cast<uint16_t>(T::kType)) + " " + what);
}

// The reference decoder: cereal's InputArchive machinery over PayloadInputArchive. Kept
// for the tests and the fuzz target, which check that PayloadReader below reads every
// input exactly as this does.
template <typename T>
Result<EventPayload> DecodeWithCerealAs(const std::string& bytes) {
  T value;
  size_t left = 0;
  try {
    payload::PayloadInputArchive ar(bytes);
    ar(value);
    left = ar.left();
  } catch (const std::exception& e) {
    return PayloadError<T>(std::string("does not decode: ") + e.what());
  }
  if (left != 0) return PayloadError<T>("has trailing bytes");
  return EventPayload(std::move(value));
}

template <typename T>
struct IsVector : std::false_type {};
template <typename T, typename A>
struct IsVector<std::vector<T, A>> : std::true_type {};
template <typename T>
struct IsPair : std::false_type {};
template <typename A, typename B>
struct IsPair<std::pair<A, B>> : std::true_type {};

// Reads what cereal's PortableBinaryOutputArchive wrote for the event structs, straight
// from the payload's bytes, as cereal's InputArchive does over PayloadInputArchive (the
// reference above) but without its per-archive machinery (hash maps of class versions,
// shared pointers and base classes, built and freed for every event, were about a third
// of the payload decoding time). It walks the same serialize() member lists, and reads:
//  - the first byte: the stream's endianness (1: little);
//  - arithmetic values: their bytes, in the stream's byte order; a bool is one byte,
//    0 or 1 (any other value is an error here; the reference decoder made it an invalid
//    bool, undefined behaviour);
//  - enums: their underlying type, unchecked (as cereal's load_minimal);
//  - a class with a versioned member serialize: a uint32 class version the first time
//    the class occurs in this payload (cereal's loadClassVersion), then its members;
//  - std::string and std::vector: a uint64 count, then the elements (arithmetic
//    elements as one block); std::pair: first, then second.
// Any other type does not compile, so a field cereal would write differently cannot
// slip in unnoticed. Checks: every read is bounded by the bytes left, and a count must
// not exceed the bytes left (before anything is allocated), as PayloadInputArchive.
// Errors are recorded (the first one wins) instead of thrown.
class PayloadReader {
 public:
  explicit PayloadReader(std::string_view bytes) : data_(bytes.data()), left_(bytes.size()) {
    uint8_t stream_little_endian = 0;
    Read(&stream_little_endian, 1, 1);
    const uint16_t probe = 1;
    const bool host_little_endian = *reinterpret_cast<const uint8_t*>(&probe) == 1;
    swap_ = stream_little_endian != (host_little_endian ? 1 : 0);
  }

  template <typename... Ts>
  void operator()(Ts&... values) {
    (Load(values), ...);
  }

  bool failed() const { return !error_.empty(); }
  const std::string& error() const { return error_; }
  size_t left() const { return left_; }

 private:
  void Fail(std::string why) {
    if (error_.empty()) error_ = std::move(why);
  }

  // Inline (a fixed-size read compiles to a load); the rare paths are out of line.
  __attribute__((always_inline)) void Read(void* out, size_t n, size_t element_size) {
    if (failed()) return;
    if (n > left_) return FailTruncated(n);
    if (n == 0) return;  // an empty vector's data() may be null, not for memcpy
    std::memcpy(out, data_, n);
    data_ += n;
    left_ -= n;
    if (swap_ && element_size > 1) Swap(out, n, element_size);
  }
  __attribute__((noinline, cold)) void FailTruncated(size_t n) {
    Fail("truncated: " + std::to_string(n) + " bytes needed, " + std::to_string(left_) +
         " left");
  }
  __attribute__((noinline)) static void Swap(void* out, size_t n, size_t element_size) {
    auto* p = static_cast<uint8_t*>(out);
    for (size_t i = 0; i + element_size <= n; i += element_size) {
      std::reverse(p + i, p + i + element_size);
    }
  }

  // A container's element count; false (and failed) when it exceeds the bytes left.
  bool ReadCount(size_t* count) {
    uint64_t n = 0;
    Read(&n, sizeof(n), sizeof(n));
    if (failed()) return false;
    if (n > left_) {
      FailLength(n);
      return false;
    }
    *count = static_cast<size_t>(n);
    return true;
  }

  __attribute__((noinline, cold)) void FailBool(uint8_t byte) {
    Fail("a bool of value " + std::to_string(byte) + " (only 0 and 1 are written)");
  }

  __attribute__((noinline, cold)) void FailLength(uint64_t n) {
    Fail("a length of " + std::to_string(n) + " with only " + std::to_string(left_) +
         " bytes left");
  }

  template <typename T>
  static const void* TypeTag() {
    static const char tag = 0;
    return &tag;
  }

  template <typename T>
  uint32_t ClassVersion() {
    const void* tag = TypeTag<T>();
    for (size_t i = 0; i < versions_seen_; ++i) {
      if (versions_[i].tag == tag) return versions_[i].version;
    }
    uint32_t version = 0;
    Read(&version, sizeof(version), sizeof(version));
    // The event structs nest at most two versioned classes (JobChanged, JobSpec).
    static_assert(kMaxVersioned >= 2, "room for the nested classes");
    if (versions_seen_ < kMaxVersioned) versions_[versions_seen_++] = {tag, version};
    return version;
  }

  template <typename T>
  __attribute__((always_inline)) void Load(T& value) {
    if (failed()) return;
    if constexpr (std::is_same_v<T, bool>) {
      // cereal writes a bool as one byte, 0 or 1. Any other byte is corruption: copied
      // into a bool as is (what PayloadInputArchive did), it was an invalid bool, whose
      // every later use was undefined (UBSan: "load of value 129 ... for type 'bool'").
      uint8_t byte = 0;
      Read(&byte, 1, 1);
      if (failed()) return;
      if (byte > 1) return FailBool(byte);
      value = byte == 1;
    } else if constexpr (std::is_arithmetic_v<T>) {
      Read(std::addressof(value), sizeof(value), sizeof(value));
    } else if constexpr (std::is_enum_v<T>) {
      std::underlying_type_t<T> raw{};
      Read(&raw, sizeof(raw), sizeof(raw));
      value = static_cast<T>(raw);
    } else if constexpr (std::is_same_v<T, std::string>) {
      size_t n;
      if (!ReadCount(&n)) return;
      value.assign(data_, n);  // n <= left_: checked by ReadCount
      data_ += n;
      left_ -= n;
    } else if constexpr (IsVector<T>::value) {
      using E = typename T::value_type;
      static_assert(!std::is_same_v<E, bool>, "cereal writes vector<bool> bit by bit");
      size_t n;
      if (!ReadCount(&n)) return;
      value.resize(n);
      if constexpr (std::is_arithmetic_v<E>) {
        Read(value.data(), n * sizeof(E), sizeof(E));
      } else {
        for (auto& element : value) {
          Load(element);
          if (failed()) return;
        }
      }
    } else if constexpr (IsPair<T>::value) {
      Load(value.first);
      Load(value.second);
    } else {
      // A class: only a versioned member serialize is read like cereal does.
      const uint32_t version = ClassVersion<T>();
      if (failed()) return;
      value.serialize(*this, version);
    }
  }

  static constexpr size_t kMaxVersioned = 4;
  struct Seen {
    const void* tag;
    uint32_t version;
  };
  const char* data_;
  size_t left_;
  bool swap_ = false;
  Seen versions_[kMaxVersioned];
  size_t versions_seen_ = 0;
  std::string error_;
};

// Decodes a payload of type T into *out, reusing the object it holds when it already
// holds a T (every member is in serialize(), so every member is overwritten; on an
// error *out is left holding a partly read T).
template <typename T>
Status DecodeAs(std::string_view bytes, EventPayload* out) {
  T* value = std::get_if<T>(out);
  if (value == nullptr) value = &out->emplace<T>();
  PayloadReader reader(bytes);
  reader(*value);
  if (reader.failed()) return PayloadError<T>("does not decode: " + reader.error());
  if (reader.left() != 0) return PayloadError<T>("has trailing bytes");
  return Status::OK();
}

}  // namespace

Status DecodePayloadInto(uint16_t type, std::string_view bytes, EventPayload* out) {
  switch (static_cast<EventType>(type)) {
    case EventType::kJobDefined: return DecodeAs<JobDefined>(bytes, out);
    case EventType::kJobChanged: return DecodeAs<JobChanged>(bytes, out);
    case EventType::kJobEnabled: return DecodeAs<JobEnabled>(bytes, out);
    case EventType::kJobDisabled: return DecodeAs<JobDisabled>(bytes, out);
    case EventType::kJobRemoved: return DecodeAs<JobRemoved>(bytes, out);
    case EventType::kRunRequested: return DecodeAs<RunRequested>(bytes, out);
    case EventType::kRunScheduled: return DecodeAs<RunScheduled>(bytes, out);
    case EventType::kRunSkipped: return DecodeAs<RunSkipped>(bytes, out);
    case EventType::kRunStarted: return DecodeAs<RunStarted>(bytes, out);
    case EventType::kRunFinished: return DecodeAs<RunFinished>(bytes, out);
    case EventType::kRunAbandoned: return DecodeAs<RunAbandoned>(bytes, out);
    case EventType::kOutputPurged: return DecodeAs<OutputPurged>(bytes, out);
    case EventType::kServiceStarted: return DecodeAs<ServiceStarted>(bytes, out);
    case EventType::kServiceStopped: return DecodeAs<ServiceStopped>(bytes, out);
  }
  if (type & kSafeToIgnoreBit) {
    out->emplace<std::monostate>();
    return Status::OK();
  }
  return Status::Corruption("unknown event type " + EventTypeName(type) +
                            " without the safe-to-ignore bit");
}

Result<EventPayload> DecodePayload(uint16_t type, std::string_view bytes) {
  EventPayload payload;
  Status st = DecodePayloadInto(type, bytes, &payload);
  if (!st.ok()) return st;
  return payload;
}

namespace internal {

Result<EventPayload> DecodePayloadWithCereal(uint16_t type, const std::string& bytes) {
  switch (static_cast<EventType>(type)) {
    case EventType::kJobDefined: return DecodeWithCerealAs<JobDefined>(bytes);
    case EventType::kJobChanged: return DecodeWithCerealAs<JobChanged>(bytes);
    case EventType::kJobEnabled: return DecodeWithCerealAs<JobEnabled>(bytes);
    case EventType::kJobDisabled: return DecodeWithCerealAs<JobDisabled>(bytes);
    case EventType::kJobRemoved: return DecodeWithCerealAs<JobRemoved>(bytes);
    case EventType::kRunRequested: return DecodeWithCerealAs<RunRequested>(bytes);
    case EventType::kRunScheduled: return DecodeWithCerealAs<RunScheduled>(bytes);
    case EventType::kRunSkipped: return DecodeWithCerealAs<RunSkipped>(bytes);
    case EventType::kRunStarted: return DecodeWithCerealAs<RunStarted>(bytes);
    case EventType::kRunFinished: return DecodeWithCerealAs<RunFinished>(bytes);
    case EventType::kRunAbandoned: return DecodeWithCerealAs<RunAbandoned>(bytes);
    case EventType::kOutputPurged: return DecodeWithCerealAs<OutputPurged>(bytes);
    case EventType::kServiceStarted: return DecodeWithCerealAs<ServiceStarted>(bytes);
    case EventType::kServiceStopped: return DecodeWithCerealAs<ServiceStopped>(bytes);
  }
  if (type & kSafeToIgnoreBit) return EventPayload(std::monostate{});
  return Status::Corruption("unknown event type " + EventTypeName(type) +
                            " without the safe-to-ignore bit");
}

}  // namespace internal

}  // namespace cg
