// service/service_host.h under systemd: sd_notify (READY, STOPPING, WATCHDOG).
// Outside systemd (no $NOTIFY_SOCKET) every call does nothing.
#include <systemd/sd-daemon.h>

#include "service/service_host.h"

namespace cg {
namespace {

class SystemdNotifier final : public ServiceNotifier {
 public:
  SystemdNotifier() {
    uint64_t usec = 0;
    if (sd_watchdog_enabled(0, &usec) > 0) watchdog_us_ = static_cast<int64_t>(usec);
  }
  void Ready(const std::string& status) override {
    sd_notifyf(0, "READY=1\nSTATUS=%s", status.c_str());
  }
  void Stopping() override { sd_notify(0, "STOPPING=1"); }
  void Watchdog() override { sd_notify(0, "WATCHDOG=1"); }
  int64_t WatchdogIntervalUs() const override { return watchdog_us_; }

 private:
  int64_t watchdog_us_ = 0;
};

}  // namespace

std::unique_ptr<ServiceNotifier> NewServiceNotifier() {
  return std::make_unique<SystemdNotifier>();
}

}  // namespace cg
