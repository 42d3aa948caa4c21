// Fuzzes the event decoder: the envelope (store/event_codec.cc) and the cereal payload
// (DecodePayload in service/events.cc), then the fold (Apply) of what decoded.
//
// Input: an event value as stored in the log. The harness rewrites the first 4 bytes
// with the right checksum of the rest, so the fuzzer gets past the CRC to the envelope
// and payload (a wrong checksum is tested once per input too).
// Properties: decoding never crashes or throws; what decodes re-encodes to bytes that
// decode again to the same encoding (encode . decode is idempotent); the payload
// decoder reads every payload as the cereal InputArchive it replaced did (the same
// verdict and message, the same re-encoding), but for a bool byte other than 0 or 1,
// which it reports as corruption where the old one made an invalid bool.
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz/fuzz_check.h"
#include "service/events.h"
#include "service/state.h"
#include "store/coding.h"
#include "store/crc32c.h"
#include "store/event_codec.h"

namespace {

// The envelope's type and payload bytes, when the envelope parses (checksum not checked).
bool PayloadOf(const std::string& value, uint16_t* type, std::string* payload) {
  cg::store::Decoder d(value);
  uint32_t crc;
  uint8_t version;
  uint64_t time_bits, pid_bits;
  std::string_view prev, bytes;
  std::string user, program, host;
  if (!d.GetFixed32(&crc) || !d.GetByte(&version) || !d.GetFixed16(type) ||
      !d.GetFixed64(&time_bits) || !d.GetBytes(32, &prev) || !d.GetLengthPrefixed(&user) ||
      !d.GetLengthPrefixed(&program) || !d.GetFixed64(&pid_bits) ||
      !d.GetLengthPrefixed(&host) || !d.GetLengthPrefixed(&bytes)) {
    return false;
  }
  payload->assign(bytes.data(), bytes.size());
  return true;
}

void CheckSameAsCereal(uint16_t type, const std::string& payload) {
  auto ours = cg::DecodePayload(type, payload);
  if (!ours.ok() && ours.status().message().find("a bool of value") != std::string::npos) {
    return;  // the reference would make an invalid bool of it (undefined behaviour)
  }
  auto ref = cg::internal::DecodePayloadWithCereal(type, payload);
  FUZZ_CHECK(ours.ok() == ref.ok(), "decoders disagree: %s vs %s",
             ours.status().ToString().c_str(), ref.status().ToString().c_str());
  if (ours.ok()) {
    FUZZ_CHECK(cg::EncodePayload(*ours) == cg::EncodePayload(*ref),
               "decoders read different values");
  } else {
    FUZZ_CHECK(ours.status().message() == ref.status().message(),
               "decoders disagree: %s vs %s", ours.status().ToString().c_str(),
               ref.status().ToString().c_str());
  }
}

std::string Reencode(const cg::Event& e) {
  return cg::store::EncodeEvent(e.type, e.time_us, e.actor, e.prev,
                                cg::EncodePayload(e.payload));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string value(reinterpret_cast<const char*>(data), size);
  // The input itself as a payload of the type its first byte names.
  if (size > 0) CheckSameAsCereal(static_cast<uint16_t>(data[0] % 16), value.substr(1));
  // As given: almost always a checksum mismatch, which must be an error, not a crash.
  (void)cg::store::DecodeEvent(1, value);
  if (value.size() < 4) return 0;

  std::string crc;
  cg::store::PutFixed32(
      &crc, cg::store::crc32c::Mask(cg::store::crc32c::Value(value.data() + 4, value.size() - 4)));
  value.replace(0, 4, crc);
  uint16_t type;
  std::string payload;
  if (PayloadOf(value, &type, &payload)) CheckSameAsCereal(type, payload);
  auto decoded = cg::store::DecodeEvent(7, value);
  if (!decoded.ok()) {
    FUZZ_CHECK(decoded.status().IsCorruption(),
               "a bad event must be Corruption: %s", decoded.status().ToString().c_str());
    return 0;
  }
  const cg::Event& e = *decoded;
  FUZZ_CHECK(e.seq == 7, "seq");
  std::string once = Reencode(e);
  auto again = cg::store::DecodeEvent(7, once);
  FUZZ_CHECK(again.ok(), "re-encoded event does not decode: %s",
             again.status().ToString().c_str());
  std::string twice = Reencode(*again);
  FUZZ_CHECK(once == twice, "encode(decode(encode(decode(x)))) != encode(decode(x))");

  // The fold must take any decodable event without crashing (an error is fine).
  cg::State state;
  (void)cg::Apply(&state, e);
  (void)cg::Apply(&state, e);
  return 0;
}
