#include "store/event_codec.h"

#include <gtest/gtest.h>

#include <map>

#include "service/os.h"
#include "store/coding.h"
#include "store/crc32c.h"

namespace cg::store {
namespace {

constexpr int64_t kTime = 1795774524123456;  // 2026-11-27T10:15:24.123456Z

Actor TestActor() { return Actor{"root", "chronotool", 4242, "vm"}; }

Hash TestPrev() {
  Hash h;
  for (size_t i = 0; i < h.size(); ++i) h[i] = static_cast<uint8_t>(i);
  return h;
}

JobSpec TestSpec() {
  JobSpec s;
  s.name = "backup";
  s.argv = {"/usr/bin/backup", "--all"};
  s.schedule = "0 3 * * *";
  s.time_zone = "Europe/Berlin";
  s.working_dir = "/srv";
  s.env = {{"A", "1"}};
  s.timeout_ms = 3600000;
  s.overlap = OverlapPolicy::kQueue;
  s.missed = MissedPolicy::kAll;
  s.run_as_user = "backup";
  s.fail_on_stderr = true;
  s.description = "nightly";
  return s;
}

// One sample of every event type, with every field set.
std::vector<EventPayload> Samples() {
  RunFinished fin;
  fin.run_id = 7;
  fin.job = "backup";
  fin.started_at_us = kTime;
  fin.ended_at_us = kTime + 1500000;
  fin.outcome = RunOutcome::kTimedOut;
  fin.exit_code = -1;
  fin.signal = 9;
  fin.stdout_bytes = 2000000;
  fin.stderr_bytes = 12;
  fin.stdout_kept = 1048576;
  fin.stderr_kept = 12;
  fin.output_digest = "ab";
  fin.reason = "timeout";
  return {
      JobDefined{TestSpec()},
      JobChanged{TestSpec(), {"timeout", "env"}},
      JobEnabled{"backup"},
      JobDisabled{"backup"},
      JobRemoved{"backup"},
      RunRequested{"backup"},
      RunScheduled{"backup", kTime, Trigger::kCatchUp, 0, 1},
      RunSkipped{"backup", kTime, SkipReason::kDst, "repeated local time", 3},
      RunStarted{7, "backup", kTime, kTime + 2000, 31337, "vm", "/var/lib/chronograph/locks/x"},
      fin,
      RunAbandoned{7, "backup", "lock file stale", kTime},
      OutputPurged{{7, 9}, kTime},
      ServiceStarted{100, "vm", "0.1.0"},
      ServiceStopped{100, "SIGTERM"},
  };
}

std::string Hex(const std::string& s) {
  return os::HexOf(reinterpret_cast<const uint8_t*>(s.data()), s.size());
}

std::string Encode(const EventPayload& p) {
  return EncodeEvent(PayloadType(p), kTime, TestActor(), TestPrev(), EncodePayload(p));
}

// Golden bytes of version 1 of every event type. These are on disk in every log that
// was ever written: a change here is a format change and needs a new version.
const std::map<uint16_t, std::string>& Golden() {
  static const auto* golden = new std::map<uint16_t, std::string>{
#include "tests/store/event_codec_golden.inc"
  };
  return *golden;
}

TEST(EventCodecTest, GoldenBytesOfEveryTypeVersion1) {
  auto samples = Samples();
  ASSERT_EQ(samples.size(), 14u) << "every event type has a sample";
  for (const auto& p : samples) {
    uint16_t type = PayloadType(p);
    auto it = Golden().find(type);
    // On a mismatch the line to paste into the .inc is printed, for a new version only.
    std::string line = "{" + std::to_string(type) + ", \"" + Hex(Encode(p)) + "\"},";
    if (it == Golden().end()) {
      ADD_FAILURE() << EventTypeName(type) << " has no golden bytes\n" << line;
      continue;
    }
    EXPECT_EQ(Hex(Encode(p)), it->second) << EventTypeName(type) << "\n" << line;
  }
}

TEST(EventCodecTest, RoundTripsEveryType) {
  for (const auto& p : Samples()) {
    std::string bytes = Encode(p);
    auto e = DecodeEvent(12, bytes);
    ASSERT_TRUE(e.ok()) << e.status().ToString();
    EXPECT_EQ(e->seq, 12u);
    EXPECT_EQ(e->type, PayloadType(p));
    EXPECT_EQ(e->time_us, kTime);
    EXPECT_EQ(e->actor.user, "root");
    EXPECT_EQ(e->actor.program, "chronotool");
    EXPECT_EQ(e->actor.pid, 4242);
    EXPECT_EQ(e->prev, TestPrev());
    EXPECT_EQ(EncodePayload(e->payload), EncodePayload(p)) << EventTypeName(e->type);
  }
  auto e = DecodeEvent(1, Encode(JobDefined{TestSpec()}));
  EXPECT_EQ(std::get<JobDefined>(e->payload).spec, TestSpec());
}

TEST(EventCodecTest, EveryFlippedByteIsDetected) {
  std::string good = Encode(JobDefined{TestSpec()});
  for (size_t i = 0; i < good.size(); ++i) {
    std::string bad = good;
    bad[i] = static_cast<char>(bad[i] + 1);
    auto e = DecodeEvent(5, bad);
    ASSERT_FALSE(e.ok()) << "byte " << i;
    EXPECT_TRUE(e.status().IsCorruption());
    EXPECT_EQ(e.status().message().rfind("event 5: ", 0), 0u) << e.status().message();
  }
}

TEST(EventCodecTest, TruncatedAndExtendedEventsAreCorruption) {
  std::string good = Encode(JobEnabled{"x"});
  for (size_t n = 0; n < good.size(); ++n) {
    EXPECT_TRUE(DecodeEvent(3, good.substr(0, n)).status().IsCorruption()) << n;
  }
  EXPECT_TRUE(DecodeEvent(3, good + "x").status().IsCorruption());
}

// Re-encodes `bytes` after changing the type field, with a valid checksum.
std::string WithType(std::string bytes, uint16_t type) {
  bytes[5] = static_cast<char>(type & 0xff);
  bytes[6] = static_cast<char>(type >> 8);
  std::string crc;
  PutFixed32(&crc, crc32c::Mask(crc32c::Value(bytes.data() + 4, bytes.size() - 4)));
  bytes.replace(0, 4, crc);
  return bytes;
}

TEST(EventCodecTest, UnknownTypesAreSkippedOnlyWithTheSafeToIgnoreBit) {
  std::string good = Encode(JobEnabled{"x"});
  auto ignorable = DecodeEvent(3, WithType(good, 0x8042));
  ASSERT_TRUE(ignorable.ok()) << ignorable.status().ToString();
  EXPECT_TRUE(std::holds_alternative<std::monostate>(ignorable->payload));
  auto unknown = DecodeEvent(3, WithType(good, 0x0042));
  EXPECT_TRUE(unknown.status().IsCorruption());
  EXPECT_NE(unknown.status().message().find("event 3"), std::string::npos);
  // A known type whose payload is another type's is corruption, not a silent misread.
  EXPECT_TRUE(DecodeEvent(3, WithType(good, 10)).status().IsCorruption());
}

// A length inside a payload larger than the bytes left is corruption, found before any
// allocation (it used to resize a string to 2^60 bytes: fuzz/event_decode_fuzz.cc).
TEST(EventCodecTest, PayloadLengthBeyondTheBytesIsCorruption) {
  std::string ok = EncodePayload(JobRemoved{"ab"});
  ASSERT_TRUE(DecodePayload(static_cast<uint16_t>(EventType::kJobRemoved), ok).ok());
  // ok = endianness byte, class version (4 bytes), the name's length (8 bytes), "ab".
  ASSERT_EQ(ok.size(), 1u + 4 + 8 + 2);
  for (uint64_t length : {uint64_t{3}, uint64_t{1} << 60, ~uint64_t{0}}) {
    std::string bad = ok;
    for (int i = 0; i < 8; ++i) bad[5 + i] = static_cast<char>(length >> (8 * i));
    auto r = DecodePayload(static_cast<uint16_t>(EventType::kJobRemoved), bad);
    ASSERT_FALSE(r.ok()) << length;
    EXPECT_TRUE(r.status().IsCorruption());
    EXPECT_NE(r.status().message().find("does not decode"), std::string::npos)
        << r.status().message();
  }
}

TEST(EventCodecTest, UnknownEnvelopeVersionIsCorruption) {
  std::string bytes = Encode(JobEnabled{"x"});
  bytes[4] = 2;
  std::string crc;
  PutFixed32(&crc, crc32c::Mask(crc32c::Value(bytes.data() + 4, bytes.size() - 4)));
  bytes.replace(0, 4, crc);
  auto e = DecodeEvent(1, bytes);
  EXPECT_NE(e.status().message().find("unknown envelope version 2"), std::string::npos);
}

TEST(EventCodecTest, HashCoversKeyAndValue) {
  std::string v = Encode(JobEnabled{"x"});
  EXPECT_NE(HashEvent(1, v), HashEvent(2, v));
  EXPECT_NE(HashEvent(1, v), HashEvent(1, v + "y"));
  EXPECT_EQ(HashEvent(1, v), HashEvent(1, v));
}

TEST(EventCodecTest, Crc32cKnownValues) {
  // RFC 3720 B.4 test vectors.
  std::string zeros(32, '\0'), ones(32, '\xff');
  EXPECT_EQ(crc32c::Value(zeros.data(), zeros.size()), 0x8a9136aau);
  EXPECT_EQ(crc32c::Value(ones.data(), ones.size()), 0x62a8ab43u);
  EXPECT_EQ(crc32c::Unmask(crc32c::Mask(0x12345678u)), 0x12345678u);
}

TEST(EventCodecTest, Crc32cHardwareAndTableAgree) {
  std::string data;
  for (int i = 0; i < 4096; ++i) data += static_cast<char>((i * 131 + 7) & 0xff);
  for (size_t start : {0, 1, 3, 7}) {
    for (size_t len : {0, 1, 7, 8, 9, 63, 64, 1000, 4000}) {
      if (start + len > data.size()) continue;
      EXPECT_EQ(crc32c::Value(data.data() + start, len),
                crc32c::internal::ExtendPortableForTest(0, data.data() + start, len))
          << start << "+" << len;
      EXPECT_EQ(crc32c::Extend(0x1234u, data.data() + start, len),
                crc32c::internal::ExtendPortableForTest(0x1234u, data.data() + start, len));
    }
  }
}


// The payload decoder (PayloadReader) against the one it replaced (cereal's InputArchive
// over PayloadInputArchive), input by input: the same verdict, the same message, and
// what decodes re-encodes to the same bytes. Existing logs must read identically.
void ExpectSameAsCereal(uint16_t type, const std::string& bytes, const std::string& what) {
  auto ours = DecodePayload(type, bytes);
  if (!ours.ok() && ours.status().message().find("a bool of value") != std::string::npos) {
    // The reference made an invalid bool of this (undefined behaviour): not comparable.
    EXPECT_TRUE(ours.status().IsCorruption()) << what;
    return;
  }
  auto ref = internal::DecodePayloadWithCereal(type, bytes);
  ASSERT_EQ(ours.ok(), ref.ok()) << what << ": " << ours.status().ToString() << " vs "
                                 << ref.status().ToString();
  if (ours.ok()) {
    EXPECT_EQ(ours->index(), ref->index()) << what;
    EXPECT_EQ(EncodePayload(*ours), EncodePayload(*ref)) << what;
  } else {
    EXPECT_TRUE(ours.status().IsCorruption()) << what;
    EXPECT_EQ(ours.status().message(), ref.status().message()) << what;
  }
}

TEST(EventCodecTest, PayloadDecoderReadsAsCerealDid) {
  for (const auto& p : Samples()) {
    const uint16_t type = PayloadType(p);
    const std::string good = EncodePayload(p);
    {
      auto decoded = DecodePayload(type, good);
      ASSERT_TRUE(decoded.ok()) << decoded.status().ToString();
      EXPECT_EQ(EncodePayload(*decoded), good) << EventTypeName(type);
    }
    ExpectSameAsCereal(type, good, EventTypeName(type));
    // Every truncation, and trailing bytes.
    for (size_t n = 0; n < good.size(); ++n) {
      ExpectSameAsCereal(type, good.substr(0, n), EventTypeName(type) + " cut at " +
                                                      std::to_string(n));
    }
    ExpectSameAsCereal(type, good + "x", EventTypeName(type) + " + 1 byte");
    // Every byte changed a few ways (the endianness byte, class versions, lengths, enum
    // values and bools out of range included), and read as every other type.
    for (size_t i = 0; i < good.size(); ++i) {
      for (int flip : {0x01, 0x80, 0xff, 0x17}) {
        std::string bad = good;
        bad[i] = static_cast<char>(bad[i] ^ flip);
        ExpectSameAsCereal(type, bad, EventTypeName(type) + " byte " + std::to_string(i) +
                                          " ^ " + std::to_string(flip));
      }
    }
    for (uint16_t other = 1; other <= 15; ++other) {
      ExpectSameAsCereal(other, good, EventTypeName(type) + " read as " + EventTypeName(other));
    }
    ExpectSameAsCereal(0x8042, good, "safe-to-ignore type");
  }
}

// A bool is written as 0 or 1; anything else is corruption, not an invalid bool.
TEST(EventCodecTest, BoolOtherThanZeroOrOneIsCorruption) {
  std::string good = EncodePayload(JobDefined{TestSpec()});
  // The last fields: fail_on_stderr (bool, 1 byte), description (8-byte length + text).
  const size_t at = good.size() - 8 - TestSpec().description.size() - 1;
  ASSERT_EQ(good[at], '\x01');  // TestSpec() has fail_on_stderr = true
  for (int byte : {0, 1, 2, 0x80, 0xff}) {
    std::string bytes = good;
    bytes[at] = static_cast<char>(byte);
    auto r = DecodePayload(static_cast<uint16_t>(EventType::kJobDefined), bytes);
    if (byte <= 1) {
      ASSERT_TRUE(r.ok()) << byte;
      EXPECT_EQ(std::get<JobDefined>(*r).spec.fail_on_stderr, byte == 1);
      continue;
    }
    ASSERT_FALSE(r.ok()) << byte;
    EXPECT_TRUE(r.status().IsCorruption());
    EXPECT_EQ(r.status().message(), "payload of JobDefined does not decode: a bool of value " +
                                        std::to_string(byte) + " (only 0 and 1 are written)");
  }
}

TEST(EventCodecTest, PayloadInABigEndianStreamIsSwapped) {
  // cereal writes a flag byte (1: little-endian); a 0 there means big-endian values.
  std::string be;
  be.push_back('\0');
  for (int i = 3; i >= 0; --i) be.push_back(static_cast<char>((1u >> (8 * i)) & 0xff));
  for (int i = 7; i >= 0; --i) be.push_back(static_cast<char>((uint64_t{2} >> (8 * i)) & 0xff));
  be += "ab";
  auto r = DecodePayload(static_cast<uint16_t>(EventType::kJobRemoved), be);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(std::get<JobRemoved>(*r).job, "ab");
  ExpectSameAsCereal(static_cast<uint16_t>(EventType::kJobRemoved), be, "big-endian");
}

// Decoding into an object that holds the same type (the replay reuses one Event) gives
// what a fresh decode gives: every field is overwritten, containers shrink.
TEST(EventCodecTest, DecodingIntoAReusedPayloadOverwritesEveryField) {
  auto samples = Samples();
  // The same types with other (mostly shorter, some longer) contents.
  JobSpec other_spec;
  other_spec.name = "x";
  other_spec.command_kind = CommandKind::kShell;
  other_spec.shell = "echo a much longer command line than the sample has, past SSO";
  std::vector<EventPayload> others = {
      JobDefined{other_spec},
      JobChanged{other_spec, {}},
      JobEnabled{""},
      JobDisabled{"a-job-name-longer-than-fifteen-bytes"},
      JobRemoved{"y"},
      RunRequested{"z"},
      RunScheduled{"q", 1, Trigger::kRequest, 99, 0},
      RunSkipped{"q", 2, SkipReason::kOverlap, "", 0},
      RunStarted{1, "q", 3, 4, 5, "", ""},
      RunFinished{},
      RunAbandoned{2, "", "", 0},
      OutputPurged{{}, 0},
      ServiceStarted{1, "", ""},
      ServiceStopped{2, ""},
  };
  ASSERT_EQ(others.size(), samples.size());
  for (size_t i = 0; i < samples.size(); ++i) {
    for (const auto& [from, to] : {std::pair{samples[i], others[i]}, {others[i], samples[i]}}) {
      const uint16_t type = PayloadType(to);
      ASSERT_EQ(PayloadType(from), type);
      EventPayload reused = from;
      ASSERT_TRUE(DecodePayloadInto(type, EncodePayload(to), &reused).ok());
      EXPECT_EQ(EncodePayload(reused), EncodePayload(to)) << EventTypeName(type);
    }
  }
  // And into an Event that held another type, and envelope strings of other lengths.
  Event e;
  for (int round = 0; round < 2; ++round) {
    for (const auto& p : samples) {
      Actor actor = TestActor();
      if (round == 1) actor.host = "a-host-name-past-the-small-string-buffer.example";
      std::string bytes =
          EncodeEvent(PayloadType(p), kTime, actor, TestPrev(), EncodePayload(p));
      ASSERT_TRUE(DecodeEventInto(9, bytes, &e).ok());
      auto fresh = DecodeEvent(9, bytes);
      ASSERT_TRUE(fresh.ok());
      EXPECT_EQ(e.seq, 9u);
      EXPECT_EQ(e.type, fresh->type);
      EXPECT_EQ(e.time_us, fresh->time_us);
      EXPECT_EQ(e.prev, fresh->prev);
      EXPECT_EQ(e.actor.user, fresh->actor.user);
      EXPECT_EQ(e.actor.program, fresh->actor.program);
      EXPECT_EQ(e.actor.pid, fresh->actor.pid);
      EXPECT_EQ(e.actor.host, actor.host);
      EXPECT_EQ(EncodePayload(e.payload), EncodePayload(fresh->payload));
    }
  }
}


// For the fold the actor is not copied, but its bytes are still checked.
TEST(EventCodecTest, DecodingForTheFoldLeavesTheActorOutAndChecksItsBytes) {
  for (const auto& p : Samples()) {
    std::string bytes = Encode(p);
    Event full, fold;
    fold.actor = Actor{"stale", "stale", 1, "stale"};
    ASSERT_TRUE(DecodeEventInto(4, bytes, &full).ok());
    ASSERT_TRUE(DecodeEventInto(4, bytes, &fold, EventFields::kForFold).ok());
    EXPECT_EQ(full.actor.user, "root");
    EXPECT_EQ(fold.actor.user, "");
    EXPECT_EQ(fold.actor.program, "");
    EXPECT_EQ(fold.actor.host, "");
    EXPECT_EQ(fold.actor.pid, 0);
    EXPECT_EQ(fold.seq, full.seq);
    EXPECT_EQ(fold.type, full.type);
    EXPECT_EQ(fold.time_us, full.time_us);
    EXPECT_EQ(fold.prev, full.prev);
    EXPECT_EQ(EncodePayload(fold.payload), EncodePayload(full.payload));
    // Every truncation (checksum fixed up) is the same error either way.
    for (size_t n = 4; n < bytes.size(); ++n) {
      std::string cut = bytes.substr(0, n);
      std::string crc;
      PutFixed32(&crc, crc32c::Mask(crc32c::Value(cut.data() + 4, cut.size() - 4)));
      cut.replace(0, 4, crc);
      Status a = DecodeEventInto(4, cut, &full);
      Status b = DecodeEventInto(4, cut, &fold, EventFields::kForFold);
      ASSERT_FALSE(a.ok()) << n;
      EXPECT_EQ(a.ToString(), b.ToString()) << n;
    }
  }
}

// The stream decoder reads a mixed stream as DecodeEvent reads each event, errors too.
TEST(EventCodecTest, StreamDecoderReadsEachEventAsDecodeEvent) {
  auto samples = Samples();
  std::vector<std::string> stream;
  for (int round = 0; round < 3; ++round) {
    for (size_t i = 0; i < samples.size(); ++i) {
      stream.push_back(Encode(samples[(i * 5 + round) % samples.size()]));
    }
  }
  std::string corrupt = stream[3];
  corrupt[corrupt.size() - 1] ^= 0x40;
  stream.insert(stream.begin() + 20, corrupt);
  stream.push_back("");
  stream.push_back(std::string("\x01\x02\x03\x04\x05\x06", 6));
  EventStreamDecoder all(EventFields::kAll), fold(EventFields::kForFold);
  for (size_t i = 0; i < stream.size(); ++i) {
    auto expected = DecodeEvent(i + 1, stream[i]);
    Status a = all.Decode(i + 1, stream[i]);
    Status b = fold.Decode(i + 1, stream[i]);
    ASSERT_EQ(a.ok(), expected.ok()) << i;
    ASSERT_EQ(b.ok(), expected.ok()) << i;
    if (!expected.ok()) {
      EXPECT_EQ(a.ToString(), expected.status().ToString()) << i;
      EXPECT_EQ(b.ToString(), expected.status().ToString()) << i;
      continue;
    }
    EXPECT_EQ(all.event().seq, i + 1);
    EXPECT_EQ(all.event().type, expected->type);
    EXPECT_EQ(all.event().actor.host, expected->actor.host);
    EXPECT_EQ(EncodePayload(all.event().payload), EncodePayload(expected->payload)) << i;
    EXPECT_EQ(fold.event().type, expected->type);
    EXPECT_EQ(EncodePayload(fold.event().payload), EncodePayload(expected->payload)) << i;
  }
}


TEST(EventCodecTest, DecoderReadsLittleEndianFixedWidths) {
  const std::string bytes("\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a\x0b\x0c\x0d\x0e", 14);
  Decoder d(bytes);
  uint16_t a;
  uint32_t b;
  uint64_t c;
  ASSERT_TRUE(d.GetFixed16(&a));
  ASSERT_TRUE(d.GetFixed32(&b));
  ASSERT_TRUE(d.GetFixed64(&c));
  EXPECT_EQ(a, 0x0201u);
  EXPECT_EQ(b, 0x06050403u);
  EXPECT_EQ(c, 0x0e0d0c0b0a090807u);
  EXPECT_EQ(d.remaining(), 0u);
  EXPECT_FALSE(d.GetFixed16(&a));
  Decoder short_input(std::string_view(bytes.data(), 7));
  EXPECT_FALSE(short_input.GetFixed64(&c));
  EXPECT_EQ(short_input.remaining(), 7u);  // a failed read consumes nothing
}

}  // namespace
}  // namespace cg::store
