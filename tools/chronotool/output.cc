#include "tools/chronotool/output.h"

#include <algorithm>
#include <sstream>

#include "service/os.h"
#include "service/schedule.h"
#include "service/time_util.h"

namespace cg::tool {

using nlohmann::json;

namespace {

// Display width of a UTF-8 string: code points, a fair estimate for a terminal.
size_t Width(const std::string& s) {
  size_t n = 0;
  for (unsigned char c : s) n += (c & 0xc0) != 0x80;
  return n;
}

std::string Quote(const std::string& s) {
  if (!s.empty() && s.find_first_of(" \t\"'\\=") == std::string::npos) return s;
  return Dump(json(s));
}

}  // namespace

void Table::Print(std::ostream& out) const {
  std::vector<size_t> widths;
  for (const auto& row : rows_) {
    if (widths.size() < row.size()) widths.resize(row.size(), 0);
    for (size_t i = 0; i < row.size(); ++i) widths[i] = std::max(widths[i], Width(row[i]));
  }
  for (const auto& row : rows_) {
    std::string line;
    for (size_t i = 0; i < row.size(); ++i) {
      line += row[i];
      if (i + 1 < row.size()) line += std::string(widths[i] - Width(row[i]) + 2, ' ');
    }
    out << line << "\n";
  }
}

json TimeJson(int64_t us) { return us == 0 ? json(nullptr) : json(FormatRfc3339(us)); }

json JobSpecJson(const JobSpec& spec) {
  json j;
  j["name"] = spec.name;
  if (spec.command_kind == CommandKind::kShell) {
    j["shell"] = spec.shell;
    j["command"] = nullptr;
  } else {
    j["shell"] = nullptr;
    j["command"] = spec.argv;
  }
  j["schedule"] = spec.schedule;
  j["time_zone"] = spec.time_zone;
  j["working_dir"] = spec.working_dir.empty() ? json(nullptr) : json(spec.working_dir);
  json env = json::array();
  for (const auto& [k, v] : spec.env) env.push_back({{"name", k}, {"value", v}});
  j["env"] = env;
  j["timeout_ms"] = spec.timeout_ms == 0 ? json(nullptr) : json(spec.timeout_ms);
  j["overlap"] = OverlapPolicyName(spec.overlap);
  j["missed"] = MissedPolicyName(spec.missed);
  j["enabled"] = spec.enabled;
  j["run_as_user"] = spec.run_as_user.empty() ? json(nullptr) : json(spec.run_as_user);
  j["fail_on_stderr"] = spec.fail_on_stderr;
  j["description"] = spec.description;
  return j;
}

int64_t NextRun(const JobState& job, int64_t now_us) {
  auto schedule =
      sched::ParseSchedule(job.schedule, job.time_zone, job.schedule_anchor_us);
  if (!schedule.ok()) return 0;
  auto fire = (*schedule)->NextAfter(now_us);
  return fire ? fire->at_us : 0;
}

json JobStateJson(const JobState& job, const State& state, int64_t now_us) {
  json j = JobSpecJson(job.spec());
  j["defined_at"] = TimeJson(job.defined_at_us);
  j["changed_at"] = TimeJson(job.changed_at_us);
  j["next_run"] = job.enabled ? TimeJson(NextRun(job, now_us)) : json(nullptr);
  const RunRecord* last = state.FindRun(job.last_run_id);
  j["last_run"] = last ? RunJson(*last) : json(nullptr);
  return j;
}

json RunJson(const RunRecord& r) {
  return {
      {"id", r.id},
      {"job", r.job},
      {"scheduled_for", TimeJson(r.scheduled_for_us)},
      {"trigger", TriggerName(r.trigger)},
      {"started_at", TimeJson(r.started_at_us)},
      {"ended_at", TimeJson(r.ended_at_us)},
      {"status", RunStatusName(r.status)},
      {"exit_code", r.ended_at_us && r.exit_code >= 0 ? json(r.exit_code) : json(nullptr)},
      {"signal", r.signal ? json(r.signal) : json(nullptr)},
      {"reason", r.reason.empty() ? json(nullptr) : json(r.reason)},
      {"host", r.host.empty() ? json(nullptr) : json(r.host)},
      {"pid", r.pid ? json(r.pid) : json(nullptr)},
      {"lock_file", r.lock_file.empty() ? json(nullptr) : json(r.lock_file)},
      {"stdout_bytes", r.stdout_bytes},
      {"stderr_bytes", r.stderr_bytes},
      {"output_digest", r.output_digest.empty() ? json(nullptr) : json(r.output_digest.str())},
      {"output_purged", r.output_purged},
      {"finished_late", r.finished_late},
  };
}

namespace {

// The payload's fields, with times as RFC 3339.
json PayloadJson(const EventPayload& payload) {
  return std::visit(
      [](const auto& p) -> json {
        using T = std::decay_t<decltype(p)>;
        if constexpr (std::is_same_v<T, std::monostate>) {
          return json::object();
        } else if constexpr (std::is_same_v<T, JobDefined>) {
          return {{"job", p.spec.name}, {"definition", JobSpecJson(p.spec)}};
        } else if constexpr (std::is_same_v<T, JobChanged>) {
          return {{"job", p.spec.name}, {"definition", JobSpecJson(p.spec)},
                  {"changed", p.changed}};
        } else if constexpr (std::is_same_v<T, JobEnabled> || std::is_same_v<T, JobDisabled> ||
                             std::is_same_v<T, JobRemoved> || std::is_same_v<T, RunRequested>) {
          return {{"job", p.job}};
        } else if constexpr (std::is_same_v<T, RunScheduled>) {
          return {{"job", p.job},
                  {"scheduled_for", TimeJson(p.scheduled_for_us)},
                  {"trigger", TriggerName(p.trigger)},
                  {"request_seq", p.request_seq ? json(p.request_seq) : json(nullptr)},
                  {"dst_adjust", sched::FireAdjustName(static_cast<sched::FireAdjust>(p.dst_adjust))}};
        } else if constexpr (std::is_same_v<T, RunSkipped>) {
          return {{"job", p.job},
                  {"scheduled_for", TimeJson(p.scheduled_for_us)},
                  {"reason", SkipReasonName(p.reason)},
                  {"detail", p.detail},
                  {"request_seq", p.request_seq ? json(p.request_seq) : json(nullptr)}};
        } else if constexpr (std::is_same_v<T, RunStarted>) {
          return {{"run_id", p.run_id},          {"job", p.job},
                  {"scheduled_for", TimeJson(p.scheduled_for_us)},
                  {"started_at", TimeJson(p.started_at_us)},
                  {"pid", p.pid},                {"host", p.host},
                  {"lock_file", p.lock_file}};
        } else if constexpr (std::is_same_v<T, RunFinished>) {
          return {{"run_id", p.run_id},
                  {"job", p.job},
                  {"started_at", TimeJson(p.started_at_us)},
                  {"ended_at", TimeJson(p.ended_at_us)},
                  {"status", RunOutcomeName(p.outcome)},
                  {"exit_code", p.exit_code >= 0 ? json(p.exit_code) : json(nullptr)},
                  {"signal", p.signal ? json(p.signal) : json(nullptr)},
                  {"stdout_bytes", p.stdout_bytes},
                  {"stderr_bytes", p.stderr_bytes},
                  {"stdout_kept", p.stdout_kept},
                  {"stderr_kept", p.stderr_kept},
                  {"output_digest", p.output_digest},
                  {"reason", p.reason}};
        } else if constexpr (std::is_same_v<T, RunAbandoned>) {
          return {{"run_id", p.run_id},
                  {"job", p.job},
                  {"reason", p.reason},
                  {"last_heartbeat", TimeJson(p.last_heartbeat_us)}};
        } else if constexpr (std::is_same_v<T, OutputPurged>) {
          return {{"run_ids", p.run_ids}, {"older_than", TimeJson(p.older_than_us)}};
        } else if constexpr (std::is_same_v<T, ServiceStarted>) {
          return {{"pid", p.pid}, {"host", p.host}, {"version", p.version}};
        } else {
          static_assert(std::is_same_v<T, ServiceStopped>);
          return {{"pid", p.pid}, {"reason", p.reason}};
        }
      },
      payload);
}

}  // namespace

json EventJson(const Event& e) {
  json j = {
      {"seq", e.seq},
      {"time", FormatRfc3339(e.time_us)},
      {"type", EventTypeName(e.type)},
      {"actor",
       {{"user", e.actor.user}, {"program", e.actor.program}, {"pid", e.actor.pid},
        {"host", e.actor.host}}},
  };
  json payload = PayloadJson(e.payload);  // items() does not extend a temporary's life
  for (auto& [k, v] : payload.items()) j[k] = v;
  return j;
}

std::string EventJob(const Event& e) {
  json p = PayloadJson(e.payload);
  auto it = p.find("job");
  return it != p.end() && it->is_string() ? it->get<std::string>() : "";
}

std::string EventLine(const Event& e) {
  std::ostringstream out;
  out << "#" << e.seq << "  " << FormatHuman(e.time_us) << "  " << EventTypeName(e.type)
      << "  by " << e.actor.user << "/" << e.actor.program;
  json p = PayloadJson(e.payload);
  for (auto& [k, v] : p.items()) {
    if (v.is_null()) continue;
    if (k == "definition") {
      const JobSpec* spec = nullptr;
      if (auto* d = std::get_if<JobDefined>(&e.payload)) spec = &d->spec;
      if (auto* c = std::get_if<JobChanged>(&e.payload)) spec = &c->spec;
      if (spec) {
        out << "  schedule=" << Quote(spec->schedule) << " tz=" << spec->time_zone
            << " command=" << Quote(spec->CommandLine());
        if (!spec->enabled) out << " disabled";
      }
      continue;
    }
    out << "  " << k << "=";
    if (v.is_string()) {
      out << Quote(v.get<std::string>());
    } else if (v.is_array()) {
      std::string joined;
      for (const auto& x : v) {
        if (!joined.empty()) joined += ",";
        joined += x.is_string() ? x.get<std::string>() : Dump(x);
      }
      out << joined;
    } else {
      out << Dump(v);
    }
  }
  return out.str();
}

}  // namespace cg::tool
