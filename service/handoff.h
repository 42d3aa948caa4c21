// How chronographd hands runs to its run shims (where there are channels: POSIX). The
// service records each run's start and end in its own scheduling passes, many runs' in
// one commit (group commit), instead of each shim committing its own; a shim carries
// one run after another (no process start per run). Messages go over an os::Channel as
// frames: one type byte, a 4-byte little-endian length, the payload.
//
//   service -> shim  kRun    carry this run (RunOrder): the shim keeps its lock fresh
//   service -> shim  kGo     RunStarted is durable; payload: the start time (8 bytes LE)
//   service -> shim  kNo     the run is not this shim's to start (exit, nothing done)
//   shim -> service  kEnd    the run's end: RunFinished and the output record
//   service -> shim  kAck    RunFinished is durable (the shim may go)
//
// A shim acts only on what is durable: it starts the command after kGo and drops its
// lock file after kAck; then it waits for the next kRun. When the stream ends first
// (the service is gone), the shim reads the log and carries its run on alone
// (run_shim.h); an idle shim whose stream ends exits.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "service/events.h"
#include "service/state.h"
#include "service/status.h"

namespace cg::handoff {

enum class Msg : char { kRun = 'R', kGo = 'G', kNo = 'N', kEnd = 'E', kAck = 'A' };

// Frames larger than this are refused as corrupt (an output record is at most twice
// the capture cap, 1 MiB per stream by default, plus a little).
constexpr size_t kMaxFrame = size_t{256} << 20;

std::string Frame(Msg type, std::string_view payload = {});

struct Message {
  Msg type;
  std::string payload;
};
// Takes the first whole frame off the front of *buf; nullopt when none is whole yet.
// Corruption for an unknown type or a length beyond kMaxFrame.
Result<std::optional<Message>> TakeFrame(std::string* buf);

// A run to carry: what the shim needs of it, read by the service.
struct RunOrder {
  uint64_t run_id = 0;
  int64_t scheduled_for_us = 0;
  JobSpec spec;           // the job's definition (event spec_seq), `enabled` as now
  std::string lock_file;  // created by the service; kept fresh, removed by the shim
};
std::string EncodeRun(const RunOrder& order);
Result<RunOrder> DecodeRun(std::string_view payload);

std::string EncodeStart(int64_t started_at_us);
Result<int64_t> DecodeStart(std::string_view payload);

// A run's end as the shim hands it over.
struct End {
  RunFinished fin;
  std::string output_record;  // store::EncodeOutputRecord
  bool leaving = false;       // the shim was asked to stop: it takes no further run
};
std::string EncodeEnd(const End& end);
Result<End> DecodeEnd(std::string_view payload);

// Whether the end of run `run_id` is to be recorded now: it runs, or it was taken for
// abandoned (its end then recorded as late), or, in a bounded state, it may have been
// forgotten. False when its end is already recorded (or it never was a run).
bool EndIsRecordable(const State& state, uint64_t run_id);

}  // namespace cg::handoff
