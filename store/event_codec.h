// The envelope of an event in the `events` database. Grammar in event_codec.cc and
// store/FORMAT.md.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "service/events.h"
#include "service/status.h"

namespace cg::store {

constexpr uint8_t kEventEncodingVersion = 1;

// Encodes an event value. `payload_bytes` is EncodePayload(payload) of a payload of
// type `type`.
std::string EncodeEvent(uint16_t type, int64_t time_us, const Actor& actor, const Hash& prev,
                        std::string_view payload_bytes);

// Decodes an event value stored under `seq`: checks the checksum first, then the
// envelope, then decodes the payload. Errors: Corruption("event SEQ: ...").
Result<Event> DecodeEvent(uint64_t seq, std::string_view value);
// What DecodeEventInto fills in. kForFold leaves e->actor empty (its fields are still
// bounds-checked, and the checksum covers them): Apply does not read the actor, and the
// replay spent a fifth of its decoding time copying those three strings.
enum class EventFields { kAll, kForFold };

// The same into *e, reusing its strings' buffers and the payload object when it is of
// the same type (the replay decodes every event into one Event). On an error *e is
// unspecified.
Status DecodeEventInto(uint64_t seq, std::string_view value, Event* e,
                       EventFields fields = EventFields::kAll);

// Decodes a stream of events (a replay) with one Event per event type, so that each
// type's payload object, and its strings' buffers, is reused from one event of that type
// to the next instead of being built and freed for every event (the replay's events
// alternate between types: one Event for all would change its payload's type each time).
class EventStreamDecoder {
 public:
  explicit EventStreamDecoder(EventFields fields) : fields_(fields) {}
  // As DecodeEventInto; then event() is the event, until the next call.
  Status Decode(uint64_t seq, std::string_view value);
  const Event& event() const { return *last_; }

 private:
  EventFields fields_;
  const Event* last_ = nullptr;
  Event by_type_[16];  // known types at their number; all others share [0]
};

// The link of the hash chain: SHA-256 of the key (big-endian seq) and the value bytes.
Hash HashEvent(uint64_t seq, std::string_view value);

}  // namespace cg::store
