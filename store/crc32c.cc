#include "store/crc32c.h"

#include <array>
#include <cstring>

namespace cg::store::crc32c {
namespace {

// Table for the reflected Castagnoli polynomial, built once at compile time.
constexpr std::array<uint32_t, 256> MakeTable() {
  std::array<uint32_t, 256> t{};
  for (uint32_t i = 0; i < 256; ++i) {
    uint32_t c = i;
    for (int k = 0; k < 8; ++k) c = (c & 1) ? (c >> 1) ^ 0x82f63b78u : c >> 1;
    t[i] = c;
  }
  return t;
}
constexpr std::array<uint32_t, 256> kTable = MakeTable();

uint32_t ExtendPortable(uint32_t c, const unsigned char* p, size_t n) {
  for (size_t i = 0; i < n; ++i) c = kTable[(c ^ p[i]) & 0xff] ^ (c >> 8);
  return c;
}

#if HAVE_SSE42_CRC32
// The SSE4.2 crc32 instruction computes exactly this CRC (Castagnoli, reflected), 8
// bytes at a time: every read checks a checksum, so it is on the replay's hot path.
__attribute__((target("sse4.2"))) uint32_t ExtendSse42(uint32_t c, const unsigned char* p,
                                                        size_t n) {
  uint64_t c64 = c;
  for (; n >= 8; n -= 8, p += 8) {
    uint64_t word;
    memcpy(&word, p, 8);
    c64 = __builtin_ia32_crc32di(c64, word);
  }
  c = static_cast<uint32_t>(c64);
  for (; n > 0; --n, ++p) c = __builtin_ia32_crc32qi(c, *p);
  return c;
}

bool CpuHasSse42() {
  static const bool has = __builtin_cpu_supports("sse4.2");
  return has;
}
#endif

}  // namespace

uint32_t Extend(uint32_t init_crc, const char* data, size_t n) {
  uint32_t c = init_crc ^ 0xffffffffu;
  const auto* p = reinterpret_cast<const unsigned char*>(data);
#if HAVE_SSE42_CRC32
  if (CpuHasSse42()) return ExtendSse42(c, p, n) ^ 0xffffffffu;
#endif
  return ExtendPortable(c, p, n) ^ 0xffffffffu;
}

namespace internal {
uint32_t ExtendPortableForTest(uint32_t init_crc, const char* data, size_t n) {
  return ExtendPortable(init_crc ^ 0xffffffffu, reinterpret_cast<const unsigned char*>(data), n) ^
         0xffffffffu;
}
}  // namespace internal

}  // namespace cg::store::crc32c
