// chronotool end to end: the real binary on temporary data directories.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <nlohmann/json.hpp>

#include "tests/util/tool_fixture.h"

namespace cg {
namespace {

using nlohmann::json;
using testing::RunOutput;

class ChronotoolTest : public testing::ToolTest {
 protected:
  // The number of events in the log (0 when it does not exist yet).
  size_t EventCount() {
    if (!std::filesystem::exists(data_)) return 0;
    RunOutput r = Tool({"replay", "--json"});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return std::count(r.out.begin(), r.out.end(), '\n');
  }
  void AddSample() {
    Ok({"job", "add", "backup", "--schedule", "0 3 * * *", "--tz", "Europe/Berlin", "--timeout",
        "1h30m", "--overlap", "queue", "--missed", "all", "--cwd", "/srv", "--env", "A=1",
        "--env", "B=x=y", "--fail-on-stderr", "--description", "nightly backup", "--",
        "/usr/bin/backup", "--all", "-v"});
  }
};

// The README's example: the program's own options after "--" when --env comes last
// (CLI11 used to let the multi-value --env eat the "--" and then reject "--all").
TEST_F(ChronotoolTest, ProgramOptionsAfterDashesFollowingEnv) {
  Ok({"job", "add", "backup", "--schedule", "0 3 * * *", "--env", "TARGET=/srv", "--",
      "/usr/local/bin/backup", "--all", "-v"});
  json j = json::parse(Ok({"job", "show", "backup", "--json"}));
  EXPECT_EQ(j["command"], json({"/usr/local/bin/backup", "--all", "-v"}));
  EXPECT_EQ(j["env"], json::parse(R"([{"name":"TARGET","value":"/srv"}])"));
  Ok({"job", "edit", "backup", "--env", "A=1", "--", "/bin/echo", "--verbose"});
  j = json::parse(Ok({"job", "show", "backup", "--json"}));
  EXPECT_EQ(j["command"], json({"/bin/echo", "--verbose"}));
  EXPECT_EQ(j["env"], json::parse(R"([{"name":"A","value":"1"}])"));
}

TEST_F(ChronotoolTest, AddShowsEveryFieldInJson) {
  AddSample();
  json j = json::parse(Ok({"job", "show", "backup", "--json"}));
  EXPECT_EQ(j["name"], "backup");
  EXPECT_EQ(j["command"], json({"/usr/bin/backup", "--all", "-v"}));
  EXPECT_TRUE(j["shell"].is_null());
  EXPECT_EQ(j["schedule"], "0 3 * * *");
  EXPECT_EQ(j["time_zone"], "Europe/Berlin");
  EXPECT_EQ(j["timeout_ms"], 5400000);
  EXPECT_EQ(j["overlap"], "queue");
  EXPECT_EQ(j["missed"], "all");
  EXPECT_EQ(j["working_dir"], "/srv");
  EXPECT_EQ(j["env"], json::parse(R"([{"name":"A","value":"1"},{"name":"B","value":"x=y"}])"));
  EXPECT_EQ(j["fail_on_stderr"], true);
  EXPECT_EQ(j["enabled"], true);
  EXPECT_EQ(j["description"], "nightly backup");
  EXPECT_TRUE(j["last_run"].is_null());
  // The next run is 03:00 Berlin time, i.e. 01:00 or 02:00 UTC, in RFC 3339.
  std::string next = j["next_run"];
  EXPECT_TRUE(next.find("T02:00:00.000000Z") != std::string::npos ||
              next.find("T01:00:00.000000Z") != std::string::npos)
      << next;
}

TEST_F(ChronotoolTest, ShellJobsAndTheTable) {
  Ok({"job", "add", "report", "--schedule", "*/5 * * * *", "--shell", "echo hi | wc -c"});
  AddSample();
  std::string table = Ok({"job", "list"});
  EXPECT_NE(table.find("NAME"), std::string::npos);
  EXPECT_NE(table.find("report"), std::string::npos);
  EXPECT_NE(table.find("echo hi | wc -c"), std::string::npos);
  EXPECT_NE(table.find("/usr/bin/backup --all -v"), std::string::npos);
  json list = json::parse(Ok({"job", "list", "--json"}));
  ASSERT_EQ(list.size(), 2u);
  EXPECT_EQ(list[1]["name"], "report");
  EXPECT_EQ(list[1]["shell"], "echo hi | wc -c");
}

TEST_F(ChronotoolTest, EditChangesOnlyWhatIsGiven) {
  AddSample();
  std::string out = Ok({"job", "edit", "backup", "--timeout", "5m", "--overlap", "skip"});
  EXPECT_NE(out.find("timeout, overlap"), std::string::npos) << out;
  json j = json::parse(Ok({"job", "show", "backup", "--json"}));
  EXPECT_EQ(j["timeout_ms"], 300000);
  EXPECT_EQ(j["overlap"], "skip");
  EXPECT_EQ(j["missed"], "all");
  EXPECT_EQ(j["command"][0], "/usr/bin/backup");
  Ok({"job", "edit", "backup", "--shell", "tar czf /tmp/x.tgz /srv", "--fail-on-stderr=false"});
  j = json::parse(Ok({"job", "show", "backup", "--json"}));
  EXPECT_EQ(j["shell"], "tar czf /tmp/x.tgz /srv");
  EXPECT_TRUE(j["command"].is_null());
  EXPECT_EQ(j["fail_on_stderr"], false);
  // Nothing changed: no event.
  size_t before = EventCount();
  EXPECT_NE(Ok({"job", "edit", "backup", "--timeout", "5m"}).find("unchanged"), std::string::npos);
  EXPECT_EQ(EventCount(), before);
  // The JobChanged event names what changed.
  RunOutput r = Tool({"replay", "--json", "--job", "backup"});
  std::string last = r.out.substr(r.out.rfind('\n', r.out.size() - 2) + 1);
  json ev = json::parse(last);
  EXPECT_EQ(ev["type"], "JobChanged");
  EXPECT_EQ(ev["changed"], json({"command", "fail_on_stderr"}));
}

TEST_F(ChronotoolTest, EnableDisableRemoveAndRun) {
  AddSample();
  Ok({"job", "disable", "backup"});
  EXPECT_EQ(json::parse(Ok({"job", "show", "backup", "--json"}))["enabled"], false);
  EXPECT_NE(Ok({"job", "disable", "backup"}).find("already disabled"), std::string::npos);
  Ok({"job", "enable", "backup"});
  EXPECT_EQ(json::parse(Ok({"job", "show", "backup", "--json"}))["enabled"], true);
  json run = json::parse(Ok({"run", "backup", "--json"}));
  EXPECT_EQ(run["job"], "backup");
  Ok({"job", "rm", "backup"});
  EXPECT_EQ(Tool({"job", "show", "backup"}).exit_code, 2);
  // Its history stays.
  std::string replay = Ok({"replay"});
  for (const char* type : {"JobDefined", "JobDisabled", "JobEnabled", "RunRequested", "JobRemoved"}) {
    EXPECT_NE(replay.find(type), std::string::npos) << type;
  }
}

TEST_F(ChronotoolTest, ReplayJsonLinesCarryEnvelopeAndPayload) {
  AddSample();
  Ok({"run", "backup"});
  RunOutput r = Tool({"replay", "--json"});
  ASSERT_EQ(r.exit_code, 0);
  std::istringstream lines(r.out);
  std::string line;
  std::vector<json> events;
  while (std::getline(lines, line)) events.push_back(json::parse(line));
  // Without a service, chronotool serves the request itself: the run follows.
  ASSERT_GE(events.size(), 3u);
  EXPECT_EQ(events[2]["type"], "RunScheduled");
  EXPECT_EQ(events[2]["trigger"], "request");
  EXPECT_EQ(events[2]["request_seq"], 2);
  EXPECT_EQ(events[0]["seq"], 1);
  EXPECT_EQ(events[0]["type"], "JobDefined");
  EXPECT_EQ(events[0]["job"], "backup");
  EXPECT_EQ(events[0]["definition"]["schedule"], "0 3 * * *");
  EXPECT_EQ(events[0]["actor"]["program"], "chronotool");
  EXPECT_FALSE(events[0]["actor"]["user"].get<std::string>().empty());
  std::string time = events[0]["time"];
  EXPECT_EQ(time.size(), 27u) << time;  // 2026-11-27T10:15:24.123456Z
  EXPECT_EQ(time.back(), 'Z');
  EXPECT_EQ(events[1]["type"], "RunRequested");
  // --from / --to by sequence and by time.
  EXPECT_EQ(Ok({"replay", "--from", "2"}).find("#1 "), std::string::npos);
  EXPECT_NE(Ok({"replay", "--from", "2"}).find("#2 "), std::string::npos);
  EXPECT_EQ(Ok({"replay", "--to", "1"}).find("#2 "), std::string::npos);
  EXPECT_EQ(Ok({"replay", "--from", "+1h"}), "");
  EXPECT_NE(Ok({"replay", "--from", time}).find("#1 "), std::string::npos);
  EXPECT_EQ(Ok({"replay", "--job", "other"}), "");
}

TEST_F(ChronotoolTest, VerifyReportsASummary) {
  AddSample();
  RunOutput r = Tool({"verify"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("OK: 1 events"), std::string::npos) << r.out;
  json j = json::parse(Ok({"verify", "--json"}));
  EXPECT_EQ(j["ok"], true);
  EXPECT_EQ(j["events"], 1);
  EXPECT_EQ(j["jobs"], 1);
}

TEST_F(ChronotoolTest, VerifyNamesTheFirstBadEventAndExitsOne) {
  AddSample();
  Ok({"job", "disable", "backup"});
  Ok({"job", "enable", "backup"});
  // Flip one byte of event 2's value in the data file. Find it by its job name, which
  // appears in event 1 (the definition) and event 2 and 3 (the payloads).
  std::string file = data_ + "/data.mdb";
  std::string bytes;
  {
    std::ifstream in(file, std::ios::binary);
    bytes.assign(std::istreambuf_iterator<char>(in), {});
  }
  // Event values are written in order; flip the actor name of the JobDisabled event,
  // found as the second of three "chronotool" strings.
  size_t pos = 0;
  for (int i = 0; i < 2; ++i) pos = bytes.find("chronotool", pos) + 1;
  ASSERT_NE(pos, std::string::npos + 1);
  bytes[pos] ^= 0x20;
  {
    std::ofstream out(file, std::ios::binary | std::ios::trunc);
    out.write(bytes.data(), bytes.size());
  }
  RunOutput r = Tool({"verify"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.out.find("FAILED: event 2: checksum mismatch"), std::string::npos) << r.out << r.err;
  EXPECT_EQ(Tool({"job", "list"}).exit_code, 1);
}

TEST_F(ChronotoolTest, StateAtShowsThePast) {
  AddSample();
  json first = json::parse(Ok({"replay", "--json"}));
  std::string defined_at = first["time"];
  Ok({"job", "edit", "backup", "--timeout", "5m"});
  Ok({"job", "add", "later", "--schedule", "@daily", "--", "/bin/true"});
  json then = json::parse(Ok({"state", "--at", defined_at, "--json"}));
  ASSERT_EQ(then["jobs"].size(), 1u);
  EXPECT_EQ(then["jobs"][0]["timeout_ms"], 5400000);
  EXPECT_EQ(then["last_seq"], 1);
  json now = json::parse(Ok({"state", "--at", "now", "--json"}));
  EXPECT_EQ(now["jobs"].size(), 2u);
  EXPECT_EQ(now["jobs"][0]["timeout_ms"], 300000);
  json before = json::parse(Ok({"state", "--at", "2000-01-01T00:00:00Z", "--json"}));
  EXPECT_TRUE(before["jobs"].empty());
}

// Every invalid input: exit 2, a message naming what was wrong, no event appended.
TEST_F(ChronotoolTest, InvalidInputIsRefusedAndWritesNothing) {
  AddSample();
  const size_t before = EventCount();
  ASSERT_EQ(before, 1u);
  struct Case {
    std::vector<std::string> args;
    std::string message;
  };
  const std::vector<Case> cases = {
      {{"job", "add", "backup", "--schedule", "@daily", "--", "/bin/true"}, "already exists"},
      {{"job", "add", "bad name", "--schedule", "@daily", "--", "/bin/true"}, "invalid character"},
      {{"job", "add", std::string(101, 'n'), "--schedule", "@daily", "--", "/bin/true"}, "101"},
      {{"job", "add", "x", "--schedule", "@daily"}, "command is empty"},
      {{"job", "add", "x", "--schedule", "@daily", "--shell", ""}, "shell command is empty"},
      {{"job", "add", "x", "--schedule", "@daily", "--shell", "a", "--", "b"}, "not both"},
      {{"job", "add", "x", "--schedule", "", "--", "/bin/true"}, "schedule is empty"},
      {{"job", "add", "x", "--schedule", "61 * * * *", "--", "/bin/true"}, "61"},
      {{"job", "add", "x", "--schedule", "FREQ=SOMETIMES", "--", "/bin/true"}, "SOMETIMES"},
      {{"job", "add", "x", "--schedule", "@daily", "--tz", "Mars/Base", "--", "/bin/true"},
       "Mars/Base"},
      {{"job", "add", "x", "--schedule", "@daily", "--timeout", "-5s", "--", "/bin/true"},
       "negative"},
      {{"job", "add", "x", "--schedule", "@daily", "--timeout", "5 parsecs", "--", "/bin/true"},
       "invalid duration"},
      {{"job", "add", "x", "--schedule", "@daily", "--overlap", "maybe", "--", "/bin/true"},
       "maybe"},
      {{"job", "add", "x", "--schedule", "@daily", "--missed", "some", "--", "/bin/true"}, "some"},
      {{"job", "add", "x", "--schedule", "@daily", "--env", "NOVALUE", "--", "/bin/true"},
       "NOVALUE"},
      {{"job", "add", "x", "--schedule", "@daily", "--bogus", "--", "/bin/true"}, "--bogus"},
      // Each --env takes one K=V; a second value is not taken as the program, and the
      // message names it (CLI11's named /bin/true, after --).
      {{"job", "add", "x", "--schedule", "@daily", "--env", "A=1", "B=2", "--", "/bin/true"},
       "unexpected argument 'B=2': each --env takes one K=V"},
      {{"job", "add", "x", "--schedule", "@daily", "--env=A=1", "B=2", "--", "/bin/true"},
       "unexpected argument 'B=2'"},
      {{"job", "add", "x", "--schedule", "@daily", "/bin/true"}, "go after --"},
      {{"job", "add", "x", "--", "/bin/true"}, "--schedule"},
      {{"job", "edit", "nope", "--timeout", "5s"}, "no job named 'nope'"},
      {{"job", "edit", "backup", "--schedule", "* * *"}, "schedule"},
      {{"job", "edit", "backup", "--tz", "Nowhere/City"}, "Nowhere/City"},
      {{"job", "enable", "nope"}, "no job named 'nope'"},
      {{"job", "disable", "nope"}, "no job named 'nope'"},
      {{"job", "rm", "nope"}, "no job named 'nope'"},
      {{"run", "nope"}, "no job named 'nope'"},
      {{"job", "frobnicate"}, "frobnicate"},
      {{"replay", "--from", "yesterday"}, "yesterday"},
      {{"state", "--at", "2026-02-30T00:00:00Z"}, "2026-02-30"},
      {{"state"}, "--at"},
      {{"clean", "weeks", "30000000"}, "too large"},
      {{"clean", "fortnights", "1"}, "fortnights"},
  };
  for (const Case& c : cases) {
    RunOutput r = Tool(c.args);
    std::string cmd;
    for (const auto& a : c.args) cmd += a + " ";
    EXPECT_EQ(r.exit_code, 2) << cmd << "\n" << r.out << r.err;
    EXPECT_NE(r.err.find(c.message), std::string::npos) << cmd << "\nstderr: " << r.err;
  }
  EXPECT_EQ(EventCount(), before);
}

// The check that names a stray K=V after an --env value leaves a job's name there alone
// (a name has no '=').
TEST_F(ChronotoolTest, AJobNameMayFollowAnEnvValue) {
  Ok({"job", "add", "--env", "A=1", "--env=B=2", "late", "--schedule", "@daily", "--",
      "/bin/true"});
  RunOutput show = Tool({"job", "show", "late", "--json"});
  ASSERT_EQ(show.exit_code, 0) << show.err;
  EXPECT_NE(show.out.find("\"A\""), std::string::npos) << show.out;
  EXPECT_NE(show.out.find("\"B\""), std::string::npos) << show.out;
}

TEST_F(ChronotoolTest, ReadingAMissingDataDirectoryCreatesNothing) {
  RunOutput r = Tool({"job", "list"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("no chronograph data directory"), std::string::npos) << r.err;
  EXPECT_FALSE(std::filesystem::exists(data_));
  EXPECT_EQ(Tool({"job", "edit", "x", "--timeout", "5s"}).exit_code, 1);
  EXPECT_FALSE(std::filesystem::exists(data_));
  // Nor in an existing, empty directory.
  std::filesystem::create_directory(data_);
  RunOutput empty = Tool({"runs"});
  EXPECT_EQ(empty.exit_code, 1);
  EXPECT_NE(empty.err.find("no chronograph event log"), std::string::npos) << empty.err;
  EXPECT_TRUE(std::filesystem::is_empty(data_));
}

TEST_F(ChronotoolTest, DataDirectoryFromTheEnvironment) {
  testing::SetEnv("CHRONOGRAPH_DATA", data_);
  RunOutput r = testing::RunProgram({testing::BinPath("chronotool"), "job", "add", "e",
                                     "--schedule", "@hourly", "--", "/bin/true"});
  testing::SetEnv("CHRONOGRAPH_DATA", "");
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(Ok({"job", "list"}).find("@hourly"), std::string::npos);
}

TEST_F(ChronotoolTest, HelpNamesEveryKnob) {
  RunOutput r = Tool({"job", "add", "--help"});
  EXPECT_EQ(r.exit_code, 0);
  for (const char* knob : {"--schedule", "--tz", "--timeout", "--overlap", "--missed", "--cwd",
                           "--env", "--user", "--fail-on-stderr", "--disabled", "--description",
                           "--shell", "default: UTC"}) {
    EXPECT_NE(r.out.find(knob), std::string::npos) << knob;
  }
}

}  // namespace
}  // namespace cg
