#include "store/output_record.h"

#include "service/os.h"
#include "store/coding.h"

namespace cg::store {

static const char kOutputMagic[] = "CGO1";

std::string EncodeOutputRecord(const OutputRecord& r) {
  std::string out(kOutputMagic, 4);
  PutLengthPrefixed(&out, r.out);
  PutLengthPrefixed(&out, r.err);
  return out;
}

Result<OutputRecord> DecodeOutputRecord(const std::string& bytes) {
  Decoder d(bytes);
  std::string_view magic;
  OutputRecord r;
  if (!d.GetBytes(4, &magic) || magic != std::string_view(kOutputMagic, 4) ||
      !d.GetLengthPrefixed(&r.out) || !d.GetLengthPrefixed(&r.err) || d.remaining() != 0) {
    return Status::Corruption("malformed output record");
  }
  return r;
}

std::string OutputDigest(const std::string& encoded) {
  auto h = os::Sha256Of(encoded.data(), encoded.size());
  return os::HexOf(h.data(), h.size());
}

}  // namespace cg::store
