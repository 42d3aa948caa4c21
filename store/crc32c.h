// CRC-32C (Castagnoli), with leveldb's masking for CRCs stored next to the data.
#pragma once

#include <cstddef>
#include <cstdint>

namespace cg::store::crc32c {

// The CRC of concat(A, data[0,n-1]) where init_crc is the CRC of A.
uint32_t Extend(uint32_t init_crc, const char* data, size_t n);
inline uint32_t Value(const char* data, size_t n) { return Extend(0, data, n); }

namespace internal {
// The table-driven computation, always (Extend uses the CPU's crc32 instruction where
// there is one); for tests that compare the two.
uint32_t ExtendPortableForTest(uint32_t init_crc, const char* data, size_t n);
}  // namespace internal

// A CRC of a string that itself contains CRCs is weak, so stored CRCs are masked.
inline uint32_t Mask(uint32_t crc) { return ((crc >> 15) | (crc << 17)) + 0xa282ead8u; }
inline uint32_t Unmask(uint32_t masked) {
  uint32_t rot = masked - 0xa282ead8u;
  return (rot >> 17) | (rot << 15);
}

}  // namespace cg::store::crc32c
