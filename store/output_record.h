// The captured output of a run, as stored in the `outputs` database:
//   record := "CGO1" | varint32 length + stdout bytes | varint32 length + stderr bytes
// RunFinished carries the hex SHA-256 of the whole record, so output that was purged
// (or altered) can still be proven against the log.
#pragma once

#include <string>

#include "service/status.h"

namespace cg::store {

struct OutputRecord {
  std::string out;
  std::string err;
};

std::string EncodeOutputRecord(const OutputRecord& r);
// Corruption when the bytes are not a record.
Result<OutputRecord> DecodeOutputRecord(const std::string& bytes);
// Hex SHA-256 of the encoded record.
std::string OutputDigest(const std::string& encoded);

}  // namespace cg::store
