#include "service/output_capture.h"

#include <gtest/gtest.h>

#include <chrono>
#include <string>

namespace cg {
namespace {

std::string Marker(uint64_t omitted) {
  return "\n[... chronograph: " + std::to_string(omitted) + " bytes omitted ...]\n";
}

// "0123456789abcdef..." repeated: every position is recognisable.
std::string Pattern(size_t n, size_t offset = 0) {
  static const char kDigits[] = "0123456789abcdefghijklmnopqrstuvwxyz";
  std::string s(n, '\0');
  for (size_t i = 0; i < n; ++i) s[i] = kDigits[(i + offset) % 36];
  return s;
}

void AppendString(CappedOutput* out, const std::string& s) { out->Append(s.data(), s.size()); }

TEST(CappedOutputTest, EmptyHasNoText) {
  CappedOutput out(10);
  EXPECT_EQ(out.Text(), "");
  EXPECT_EQ(out.total(), 0u);
  EXPECT_EQ(out.kept(), 0u);
  EXPECT_FALSE(out.truncated());
}

TEST(CappedOutputTest, KeepsEverythingUpToTheCap) {
  CappedOutput out(10);
  AppendString(&out, "abc");
  AppendString(&out, "defg");
  AppendString(&out, "hij");
  EXPECT_EQ(out.Text(), "abcdefghij");
  EXPECT_EQ(out.total(), 10u);
  EXPECT_EQ(out.kept(), 10u);
  EXPECT_FALSE(out.truncated());
}

TEST(CappedOutputTest, KeepsHeadAndTailWithAMarkerPastTheCap) {
  CappedOutput out(10);
  AppendString(&out, "abcdefghijk");  // one byte too many: "f" is dropped
  EXPECT_EQ(out.Text(), "abcde" + Marker(1) + "ghijk");
  EXPECT_EQ(out.total(), 11u);
  EXPECT_EQ(out.kept(), 10u);
  EXPECT_TRUE(out.truncated());
}

TEST(CappedOutputTest, SmallAppendsWrapTheTailRing) {
  const std::string input = Pattern(1000);
  CappedOutput out(64);
  for (char c : input) out.Append(&c, 1);
  EXPECT_EQ(out.Text(), input.substr(0, 32) + Marker(1000 - 64) + input.substr(1000 - 32));
}

TEST(CappedOutputTest, AnyChunkingGivesTheSameText) {
  const std::string input = Pattern(5000);
  const std::string expected = input.substr(0, 50) + Marker(5000 - 100) + input.substr(4950);
  for (size_t chunk : {1u, 3u, 49u, 50u, 51u, 99u, 100u, 101u, 777u, 5000u}) {
    CappedOutput out(100);
    for (size_t i = 0; i < input.size(); i += chunk) {
      out.Append(input.data() + i, std::min(chunk, input.size() - i));
    }
    EXPECT_EQ(out.Text(), expected) << "chunk " << chunk;
    EXPECT_EQ(out.total(), 5000u);
    EXPECT_EQ(out.kept(), 100u);
  }
}

TEST(CappedOutputTest, OddCapGivesTheTailTheExtraByte) {
  CappedOutput out(5);
  AppendString(&out, "abcdefgh");
  EXPECT_EQ(out.Text(), "ab" + Marker(3) + "fgh");
  EXPECT_EQ(out.kept(), 5u);
}

TEST(CappedOutputTest, ZeroCapKeepsOnlyTheCount) {
  CappedOutput out(0);
  AppendString(&out, "abc");
  EXPECT_EQ(out.Text(), Marker(3));
  EXPECT_EQ(out.kept(), 0u);
  EXPECT_TRUE(out.truncated());
}

TEST(CappedOutputTest, BinaryAndInvalidUtf8AreKeptAsIs) {
  std::string bytes;
  for (int i = 0; i < 256; ++i) bytes.push_back(static_cast<char>(i));
  bytes += "\xc3\x28\xff\xfe\x00\xe2\x82";  // invalid sequences, a NUL, a cut-off char
  bytes.push_back('\0');
  CappedOutput whole(1024);
  AppendString(&whole, bytes);
  EXPECT_EQ(whole.Text(), bytes);

  CappedOutput capped(100);
  AppendString(&capped, bytes);
  EXPECT_EQ(capped.Text(),
            bytes.substr(0, 50) + Marker(bytes.size() - 100) + bytes.substr(bytes.size() - 50));
}

TEST(CappedOutputTest, DefaultCapIsOneMebibyte) {
  CappedOutput out;
  const std::string input = Pattern(3 << 20);
  AppendString(&out, input);
  EXPECT_EQ(out.kept(), 1u << 20);
  EXPECT_EQ(out.Text(), input.substr(0, 512 << 10) + Marker((3 << 20) - (1 << 20)) +
                            input.substr(input.size() - (512 << 10)));
}

TEST(CappedOutputTest, HundredMegabytesInPipeSizedChunksIsFast) {
  // What Pump does with a chatty job: 64 KiB reads.
  const std::string chunk = Pattern(64 << 10);
  const uint64_t kChunks = 1600;  // 100 MiB + change
  CappedOutput out;
  auto start = std::chrono::steady_clock::now();
  for (uint64_t i = 0; i < kChunks; ++i) AppendString(&out, chunk);
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_LT(seconds, 2.0);  // O(n): a few tens of milliseconds in practice
  EXPECT_EQ(out.total(), kChunks * chunk.size());
  EXPECT_EQ(out.kept(), 1u << 20);
  std::string text = out.Text();
  // Whole chunks fit both halves exactly, so head and tail are 8 copies each.
  std::string eight;
  for (int i = 0; i < 8; ++i) eight += chunk;
  EXPECT_EQ(text, eight + Marker(kChunks * chunk.size() - (1 << 20)) + eight);
}

TEST(CappedOutputTest, OddSizedChunksKeepTheExactTail) {
  const size_t kCap = 1000;
  CappedOutput out(kCap);
  std::string all;
  for (size_t i = 0; i < 300; ++i) {
    std::string piece = Pattern(i % 17 + 1, i);
    all += piece;
    AppendString(&out, piece);
  }
  EXPECT_EQ(out.total(), all.size());
  EXPECT_EQ(out.Text(),
            all.substr(0, 500) + Marker(all.size() - kCap) + all.substr(all.size() - 500));
}

}  // namespace
}  // namespace cg
