// Fixed-width little-endian and varint encodings, after leveldb's util/coding.h.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

// The decoder's small reads are on the replay's path once per field: inlined always
// (GCC otherwise kept them as calls inside the larger DecodeEventInto).
#define CG_CODING_INLINE inline __attribute__((always_inline))

namespace cg::store {

inline void PutFixed16(std::string* dst, uint16_t v) {
  dst->push_back(static_cast<char>(v & 0xff));
  dst->push_back(static_cast<char>(v >> 8));
}
inline void PutFixed32(std::string* dst, uint32_t v) {
  for (int i = 0; i < 4; ++i) dst->push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}
inline void PutFixed64(std::string* dst, uint64_t v) {
  for (int i = 0; i < 8; ++i) dst->push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}
inline void PutVarint32(std::string* dst, uint32_t v) {
  while (v >= 0x80) {
    dst->push_back(static_cast<char>(v | 0x80));
    v >>= 7;
  }
  dst->push_back(static_cast<char>(v));
}
inline void PutLengthPrefixed(std::string* dst, std::string_view s) {
  PutVarint32(dst, static_cast<uint32_t>(s.size()));
  dst->append(s.data(), s.size());
}

// Big-endian u64: the events key, so that memcmp order is sequence order.
inline std::string EncodeKey(uint64_t seq) {
  std::string k(8, '\0');
  for (int i = 0; i < 8; ++i) k[i] = static_cast<char>((seq >> (56 - 8 * i)) & 0xff);
  return k;
}
inline bool DecodeKey(std::string_view k, uint64_t* seq) {
  if (k.size() != 8) return false;
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = (v << 8) | static_cast<unsigned char>(k[i]);
  *seq = v;
  return true;
}

// A reader over a byte string; every Get returns false when the input is too short.
class Decoder {
 public:
  explicit Decoder(std::string_view in) : in_(in) {}
  CG_CODING_INLINE bool GetFixed16(uint16_t* v) {
    uint64_t x;
    if (!GetLE<2>(&x)) return false;
    *v = static_cast<uint16_t>(x);
    return true;
  }
  CG_CODING_INLINE bool GetFixed32(uint32_t* v) {
    uint64_t x;
    if (!GetLE<4>(&x)) return false;
    *v = static_cast<uint32_t>(x);
    return true;
  }
  CG_CODING_INLINE bool GetFixed64(uint64_t* v) { return GetLE<8>(v); }
  CG_CODING_INLINE bool GetByte(uint8_t* v) {
    if (in_.empty()) return false;
    *v = static_cast<uint8_t>(in_[0]);
    in_.remove_prefix(1);
    return true;
  }
  CG_CODING_INLINE bool GetVarint32(uint32_t* v) {
    uint32_t result = 0;
    for (int shift = 0; shift <= 28; shift += 7) {
      if (in_.empty()) return false;
      uint32_t byte = static_cast<unsigned char>(in_[0]);
      in_.remove_prefix(1);
      result |= (byte & 0x7f) << shift;
      if (!(byte & 0x80)) {
        *v = result;
        return true;
      }
    }
    return false;
  }
  CG_CODING_INLINE bool GetBytes(size_t n, std::string_view* out) {
    if (in_.size() < n) return false;
    *out = in_.substr(0, n);
    in_.remove_prefix(n);
    return true;
  }
  CG_CODING_INLINE bool GetLengthPrefixed(std::string* out) {
    std::string_view s;
    if (!GetLengthPrefixed(&s)) return false;
    out->assign(s.data(), s.size());
    return true;
  }
  // The bytes themselves, not a copy: valid as long as the input is.
  CG_CODING_INLINE bool GetLengthPrefixed(std::string_view* out) {
    uint32_t n;
    return GetVarint32(&n) && GetBytes(n, out);
  }
  size_t remaining() const { return in_.size(); }

 private:
  // A width known at compile time: one load on a little-endian CPU (the compiler's
  // predefined byte-order macro; bytes assembled one by one on any other).
  template <size_t n>
  CG_CODING_INLINE bool GetLE(uint64_t* v) {
    if (in_.size() < n) return false;
    uint64_t x = 0;
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    std::memcpy(&x, in_.data(), n);
#else
    for (size_t i = n; i-- > 0;) x = (x << 8) | static_cast<unsigned char>(in_[i]);
#endif
    in_.remove_prefix(n);
    *v = x;
    return true;
  }
  std::string_view in_;
};

}  // namespace cg::store
