// The parts of service/os.h that are the same on every OS.
#include "service/os.h"

namespace cg::os {

std::array<uint8_t, 32> Sha256Of(const void* data, size_t n) {
  Sha256 h;
  h.Update(data, n);
  return h.Final();
}

std::string HexOf(const uint8_t* data, size_t n) {
  static const char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(n * 2);
  for (size_t i = 0; i < n; ++i) {
    out += kHex[data[i] >> 4];
    out += kHex[data[i] & 15];
  }
  return out;
}

}  // namespace cg::os
