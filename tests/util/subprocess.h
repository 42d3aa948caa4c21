// Runs a program and captures what it prints, for end-to-end tests.
#pragma once

#include <string>
#include <vector>

namespace cg::testing {

struct RunOutput {
  int exit_code = -1;  // -1 when killed by a signal
  std::string out;
  std::string err;
};

// Runs argv[0] (a path) with the arguments, stdin from /dev/null, and waits.
RunOutput RunProgram(const std::vector<std::string>& argv);

// Starts argv[0] without waiting; returns an id for WaitProgram.
long StartProgram(const std::vector<std::string>& argv);
// Waits for a program started by StartProgram; its exit code (-1: killed by a signal).
int WaitProgram(long id);

// Sets (or, with an empty value, removes) a variable of this process's environment.
void SetEnv(const std::string& name, const std::string& value);

// $CG_BIN_DIR/name: the programs built by this tree (".exe" added on Windows).
std::string BinPath(const std::string& name);

// A fresh, empty directory under the system's temp dir, removed by the destructor.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  std::string Sub(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

}  // namespace cg::testing
