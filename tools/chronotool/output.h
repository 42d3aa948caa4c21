// Presentation for chronotool: tables for people, JSON for machines.
#pragma once

#include <ostream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "service/events.h"
#include "service/job.h"
#include "service/state.h"

namespace cg::tool {

// A plain text table: a header row, then rows; columns padded to their widest cell.
class Table {
 public:
  explicit Table(std::vector<std::string> header) : rows_{std::move(header)} {}
  void Add(std::vector<std::string> row) { rows_.push_back(std::move(row)); }
  void Print(std::ostream& out) const;

 private:
  std::vector<std::vector<std::string>> rows_;
};

// JSON text. Bytes that are not UTF-8 (they come from the OS: a command's output, an
// error message naming a path) become U+FFFD instead of failing the command.
inline std::string Dump(const nlohmann::json& j, int indent = -1) {
  return j.dump(indent, ' ', false, nlohmann::json::error_handler_t::replace);
}

// RFC 3339 UTC, or null for 0.
nlohmann::json TimeJson(int64_t us);

// The job definition with stable field names.
nlohmann::json JobSpecJson(const JobSpec& spec);
// A job as the state knows it, with its next run (null when it has none).
nlohmann::json JobStateJson(const JobState& job, const State& state, int64_t now_us);
nlohmann::json RunJson(const RunRecord& run);
// One event as a JSON Lines object: seq, time, type, actor, and the payload's fields.
nlohmann::json EventJson(const Event& e);
// One event on one line for people.
std::string EventLine(const Event& e);
// The job an event concerns, "" when none.
std::string EventJob(const Event& e);

// The next fire time after now_us, or 0 when none (or the schedule does not parse).
int64_t NextRun(const JobState& job, int64_t now_us);

}  // namespace cg::tool
