// The projection snapshot's encoding: a State (the fold up to some event) as bytes,
// so that the service can start from the snapshot in the log's meta database and fold
// only the events after it (DESIGN.md: "a snapshot in meta may shorten start-up; it is
// only a cache and is checked against the log"). The encoding is deterministic, so
// `verify` can compare a snapshot with a fresh fold byte for byte.
#pragma once

#include <string>
#include <string_view>

#include "service/state.h"
#include "service/status.h"

namespace cg {

// Bumped whenever State's fields change; a snapshot of another version is not used.
// 2: jobs without their whole spec; 3: runs in id order without a map's keys.
constexpr uint32_t kStateSnapshotVersion = 3;

// Everything the fold produced (not touched_jobs, which is not part of the record).
std::string EncodeStateSnapshot(const State& state);
// Errors: NotSupported (another snapshot version), Corruption (bytes that do not
// decode, or trailing bytes).
Result<State> DecodeStateSnapshot(std::string_view bytes);

}  // namespace cg
