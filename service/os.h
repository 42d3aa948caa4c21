// The few facts about the OS that the core, the store and chronotool need.
// One implementation per platform (platform/posix/os_posix.cc, platform/windows/...),
// chosen by CMake, like leveldb's Env::Default().
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

#include "service/status.h"

namespace cg::os {

// The name of the user this process runs as ("root"; "uid 1234" when it has no name).
std::string CurrentUserName();
// This machine's host name.
std::string HostName();
int64_t CurrentPid();
// The value of an environment variable, UTF-8.
std::optional<std::string> GetEnv(const std::string& name);
// /var/lib/chronograph; %ProgramData%\Chronograph on Windows.
std::string DefaultDataDir();
// Creates `path` (and missing parents) with owner-only permissions on the leaf.
// An existing directory is accepted as it is. Errors: IOError/PermissionDenied.
Status CreatePrivateDirectory(const std::string& path);
// True when `path` exists and is a directory.
bool DirectoryExists(const std::string& path);

// SHA-256, incremental. Not thread-safe; one per thread.
class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;
  void Update(const void* data, size_t n);
  std::array<uint8_t, 32> Final();

 private:
  struct Impl;
  Impl* impl_;
};

std::array<uint8_t, 32> Sha256Of(const void* data, size_t n);
std::string HexOf(const uint8_t* data, size_t n);

}  // namespace cg::os
