// What the service tells its supervisor (systemd's sd_notify; the Windows SCM).
// One implementation per OS.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

namespace cg {

class ServiceNotifier {
 public:
  virtual ~ServiceNotifier() = default;
  // The log is replayed and the scheduler runs.
  virtual void Ready(const std::string& status) = 0;
  virtual void Stopping() = 0;
  // A liveness ping; call at least every WatchdogIntervalUs().
  virtual void Watchdog() = 0;
  // How often to ping, 0 when no watchdog is configured.
  virtual int64_t WatchdogIntervalUs() const = 0;
};

std::unique_ptr<ServiceNotifier> NewServiceNotifier();  // defined once per platform

}  // namespace cg
