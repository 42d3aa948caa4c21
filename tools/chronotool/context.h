// What chronotool's commands share.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <ostream>
#include <string>

#include <CLI/CLI.hpp>

#include "service/state.h"
#include "service/status.h"
#include "store/event_log.h"

namespace cg::tool {

struct Context {
  std::string data;  // --data; empty: $CHRONOGRAPH_DATA or the default
  bool json = false;
  std::ostream& out;
  std::ostream& err;
};

// Prints the error and returns the exit status for it: 2 for invalid input, else 1.
int Fail(Context& ctx, const Status& st);
// Opens the data directory's log; `write` creates it when missing.
Result<std::unique_ptr<store::EventLog>> OpenLog(const Context& ctx, bool write);
// Opens the log and folds it, for commands that only read.
Status LoadState(const Context& ctx, State* state);
Status UnknownJob(const std::string& name);

// In one transaction: checks that `name` is a valid name of an existing job and appends
// the event make(job) returns (nothing when it returns nullopt). Leaves the opened log
// in *log and the current state in *state. Returns the event's sequence number, 0 when
// nothing was appended. Errors: InvalidArgument for a bad or unknown name; the log's.
Result<uint64_t> AppendAboutJob(const Context& ctx, const std::string& name,
                                const std::function<std::optional<EventPayload>(const JobState&)>& make,
                                std::unique_ptr<store::EventLog>* log, State* state);

// Registers run, run-due, runs, log, clean, status and calendar; each sets *rc.
void AddRunCommands(CLI::App* app, Context* ctx, int* rc);

}  // namespace cg::tool
