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
// The same into *e, reusing its strings' buffers and the payload object when it is of
// the same type (the replay decodes every event into one Event). On an error *e is
// unspecified.
Status DecodeEventInto(uint64_t seq, std::string_view value, Event* e);

// The link of the hash chain: SHA-256 of the key (big-endian seq) and the value bytes.
Hash HashEvent(uint64_t seq, std::string_view value);

}  // namespace cg::store
