// event :=
//    crc: fixed32          // masked crc32c of every byte after this field
//    version: uint8        // encoding version of this envelope, 1
//    type: fixed16         // EventType; bit 15 set = safe to ignore if unknown
//    time_us: fixed64      // UTC wall clock, microseconds since the Unix epoch (signed)
//    prev: 32 bytes        // SHA-256 of the previous event's key and value; zeros for 1
//    actor_user: varint32 length + bytes (UTF-8)
//    actor_program: varint32 length + bytes
//    actor_pid: fixed64
//    actor_host: varint32 length + bytes
//    payload_length: varint32
//    payload: bytes        // cereal PortableBinaryArchive of the event struct,
//                          // versioned with CEREAL_CLASS_VERSION
// Fixed-width fields are little-endian. Nothing may follow the payload.
#include "store/event_codec.h"

#include <cstring>
#include <iterator>

#include "service/os.h"
#include "store/coding.h"
#include "store/crc32c.h"

namespace cg::store {

std::string EncodeEvent(uint16_t type, int64_t time_us, const Actor& actor, const Hash& prev,
                        std::string_view payload_bytes) {
  std::string out;
  out.reserve(64 + payload_bytes.size() + actor.user.size() + actor.program.size() +
              actor.host.size());
  PutFixed32(&out, 0);  // crc, filled in below
  out.push_back(static_cast<char>(kEventEncodingVersion));
  PutFixed16(&out, type);
  PutFixed64(&out, static_cast<uint64_t>(time_us));
  out.append(reinterpret_cast<const char*>(prev.data()), prev.size());
  PutLengthPrefixed(&out, actor.user);
  PutLengthPrefixed(&out, actor.program);
  PutFixed64(&out, static_cast<uint64_t>(actor.pid));
  PutLengthPrefixed(&out, actor.host);
  PutLengthPrefixed(&out, payload_bytes);
  uint32_t crc = crc32c::Mask(crc32c::Value(out.data() + 4, out.size() - 4));
  std::string crc_bytes;
  PutFixed32(&crc_bytes, crc);
  out.replace(0, 4, crc_bytes);
  return out;
}

Status DecodeEventInto(uint64_t seq, std::string_view value, Event* e, EventFields fields) {
  auto bad = [seq](const std::string& why) {
    return Status::Corruption("event " + std::to_string(seq) + ": " + why);
  };
  Decoder d(value);
  uint32_t stored_crc;
  if (!d.GetFixed32(&stored_crc)) return bad("truncated (no checksum)");
  uint32_t actual = crc32c::Value(value.data() + 4, value.size() - 4);
  if (crc32c::Unmask(stored_crc) != actual) return bad("checksum mismatch");

  e->seq = seq;
  uint64_t time_bits, pid_bits;
  std::string_view prev, payload;
  if (!d.GetByte(&e->version)) return bad("truncated envelope");
  if (e->version != kEventEncodingVersion) {
    return bad("unknown envelope version " + std::to_string(e->version));
  }
  if (!d.GetFixed16(&e->type) || !d.GetFixed64(&time_bits) || !d.GetBytes(32, &prev)) {
    return bad("truncated envelope");
  }
  if (fields == EventFields::kAll) {
    if (!d.GetLengthPrefixed(&e->actor.user) || !d.GetLengthPrefixed(&e->actor.program) ||
        !d.GetFixed64(&pid_bits) || !d.GetLengthPrefixed(&e->actor.host)) {
      return bad("truncated envelope");
    }
    e->actor.pid = static_cast<int64_t>(pid_bits);
  } else {
    std::string_view user, program, host;  // checked, not copied
    if (!d.GetLengthPrefixed(&user) || !d.GetLengthPrefixed(&program) ||
        !d.GetFixed64(&pid_bits) || !d.GetLengthPrefixed(&host)) {
      return bad("truncated envelope");
    }
    e->actor.user.clear();
    e->actor.program.clear();
    e->actor.host.clear();
    e->actor.pid = 0;
  }
  if (!d.GetLengthPrefixed(&payload)) return bad("truncated envelope");
  if (d.remaining() != 0) return bad("trailing bytes after the payload");
  e->time_us = static_cast<int64_t>(time_bits);
  std::memcpy(e->prev.data(), prev.data(), e->prev.size());  // prev.size() == 32: checked
  // The payload is decoded from the value's bytes in place (no copy of it).
  Status st = DecodePayloadInto(e->type, payload, &e->payload);
  if (!st.ok()) return bad(st.message());
  return Status::OK();
}

Result<Event> DecodeEvent(uint64_t seq, std::string_view value) {
  Event e;
  Status st = DecodeEventInto(seq, value, &e);
  if (!st.ok()) return st;
  return e;
}

Status EventStreamDecoder::Decode(uint64_t seq, std::string_view value) {
  // Only to pick the Event to reuse: DecodeEventInto checks everything, and decodes
  // correctly into any Event.
  size_t slot = 0;
  if (value.size() >= 7) {
    uint16_t type = static_cast<uint16_t>(static_cast<unsigned char>(value[5]) |
                                          (static_cast<unsigned char>(value[6]) << 8));
    if (type < std::size(by_type_)) slot = type;
  }
  last_ = &by_type_[slot];
  return DecodeEventInto(seq, value, &by_type_[slot], fields_);
}

Hash HashEvent(uint64_t seq, std::string_view value) {
  std::string key = EncodeKey(seq);
  os::Sha256 h;
  h.Update(key.data(), key.size());
  h.Update(value.data(), value.size());
  return h.Final();
}

}  // namespace cg::store
