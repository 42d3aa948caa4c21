// Fuzzes chronotool's command line (tools/chronotool/commands.cc, run_commands.cc):
// CLI11 parsing, then the command itself, against a throwaway data directory.
//
// Input: the arguments after "chronotool", one per line. Every iteration gets a fresh
// copy of a template data directory holding two jobs ("backup", argv; "nightly",
// shell, disabled), so edit/enable/rm/show/runs/state... reach real code. For safety,
// an argument starting with "--data" is dropped (the harness sets --data itself), and
// "run"/"run-due" become "status": those start run shims, and fuzzing must not start
// processes.
// Properties: no crash; the exit status is 0, 1 or 2; a non-zero status comes with a
// message on stderr; status 2 (invalid input) leaves the log exactly as it was.
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz/fuzz_check.h"
#include "store/event_log.h"
#include "tools/chronotool/commands.h"

namespace fs = std::filesystem;

namespace {

int RunTool(std::vector<std::string> args, std::string* err_text) {
  args.insert(args.begin(), "chronotool");
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  std::ostringstream out, err;
  int rc = cg::tool::Main(static_cast<int>(args.size()), argv.data(), out, err);
  if (err_text) *err_text = err.str();
  return rc;
}

uint64_t LastSeq(const std::string& dir) {
  cg::store::Options options;
  options.create_if_missing = false;
  auto log = cg::store::EventLog::Open(dir, options);
  if (!log.ok()) return 0;
  auto seq = (*log)->LastSeq();
  return seq.ok() ? *seq : 0;
}

struct Dirs {
  fs::path root, tmpl, work;
  uint64_t tmpl_seq = 0;
  Dirs() {
    const char* tmp = getenv("TMPDIR");
    std::string pattern = std::string(tmp && *tmp ? tmp : "/tmp") + "/cg-fuzz-tool-XXXXXX";
    std::vector<char> buf(pattern.begin(), pattern.end());
    buf.push_back('\0');
    if (!mkdtemp(buf.data())) std::abort();
    root = buf.data();
    tmpl = root / "template";
    work = root / "work";
    setenv("CHRONOGRAPH_DATA", work.c_str(), 1);
    std::string err;
    int rc = RunTool({"--data", tmpl.string(), "job", "add", "backup", "--schedule",
                      "0 3 * * *", "--tz", "Europe/Berlin", "--timeout", "1h", "--env",
                      "A=1", "--", "/bin/true", "--all"},
                     &err);
    FUZZ_CHECK(rc == 0, "setting up the template: %s", err.c_str());
    rc = RunTool({"--data", tmpl.string(), "job", "add", "nightly", "--schedule",
                  "FREQ=DAILY;BYHOUR=2", "--shell", "echo hi", "--disabled"},
                 &err);
    FUZZ_CHECK(rc == 0, "setting up the template: %s", err.c_str());
    tmpl_seq = LastSeq(tmpl.string());
  }
  ~Dirs() {
    std::error_code ec;
    fs::remove_all(root, ec);
  }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > 4096) return 0;
  static Dirs dirs;
  std::vector<std::string> args = {"--data", dirs.work.string()};
  std::string_view rest(reinterpret_cast<const char*>(data), size);
  while (!rest.empty()) {
    size_t nl = rest.find('\n');
    std::string a(rest.substr(0, nl));
    rest = nl == std::string_view::npos ? std::string_view() : rest.substr(nl + 1);
    if (a.rfind("--data", 0) == 0) continue;
    if (a == "run" || a == "run-due") a = "status";
    args.push_back(a);
  }
  std::error_code ec;
  fs::remove_all(dirs.work, ec);
  fs::copy(dirs.tmpl, dirs.work, fs::copy_options::recursive, ec);
  FUZZ_CHECK(!ec, "copying the template: %s", ec.message().c_str());

  std::string err;
  int rc = RunTool(args, &err);
  FUZZ_CHECK(rc == 0 || rc == 1 || rc == 2, "exit status %d", rc);
  if (rc != 0) FUZZ_CHECK(!err.empty(), "exit status %d without a message", rc);
  if (rc == 2) {
    FUZZ_CHECK(LastSeq(dirs.work.string()) == dirs.tmpl_seq,
               "invalid input (status 2) wrote to the log: %s", err.c_str());
  }
  return 0;
}
