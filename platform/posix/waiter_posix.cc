// service/waiter.h on Linux: inotify on the data directory, and a self-pipe written by
// the signal handlers (libuv's src/unix/signal.c does the same; the handler does
// nothing else, unlike osquery's, which takes a mutex).
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <vector>

#include "service/time_util.h"
#include "service/waiter.h"

namespace cg {
namespace {

int g_signal_pipe_write = -1;  // the write end used by the handlers

void OnSignal(int signo) {
  int saved = errno;
  char c = signo == SIGCHLD ? 'C' : 'T';
  if (g_signal_pipe_write >= 0) {
    ssize_t ignored = write(g_signal_pipe_write, &c, 1);
    (void)ignored;
  }
  errno = saved;
}

class PosixWaiter final : public Waiter {
 public:
  PosixWaiter(int inotify_fd, int pipe_read, int pipe_write, int timer_fd)
      : inotify_fd_(inotify_fd), pipe_read_(pipe_read), pipe_write_(pipe_write),
        timer_fd_(timer_fd) {}
  ~PosixWaiter() override {
    if (g_signal_pipe_write == pipe_write_) g_signal_pipe_write = -1;
    if (timer_fd_ >= 0) close(timer_fd_);
    if (inotify_fd_ >= 0) close(inotify_fd_);
    close(pipe_read_);
    close(pipe_write_);
  }

  unsigned WaitUntil(int64_t deadline_us) override {
    unsigned reasons = 0;
    ArmTimer(deadline_us);
    for (;;) {
      int64_t now = NowMicros();
      int64_t left = deadline_us - now;
      if (left < 0) left = 0;
      struct timespec ts;
      ts.tv_sec = left / 1000000;
      ts.tv_nsec = (left % 1000000) * 1000;
      fds_.resize(3 + watched_.size());
      fds_[0] = {inotify_fd_, POLLIN, 0};
      fds_[1] = {pipe_read_, POLLIN, 0};
      fds_[2] = {timer_fd_, POLLIN, 0};
      for (size_t i = 0; i < watched_.size(); ++i) fds_[3 + i] = {watched_[i], POLLIN, 0};
      struct pollfd* fds = fds_.data();
      int n = ppoll(fds, fds_.size(), &ts, nullptr);
      if (n < 0 && errno == EINTR) continue;  // the self-pipe byte follows
      if (n > 0) {
        for (size_t i = 3; i < fds_.size(); ++i) {
          if (fds[i].revents & (POLLIN | POLLHUP | POLLERR | POLLNVAL)) {
            readable_.push_back(fds[i].fd);
            reasons |= kReadable;
          }
        }
        if (fds[0].revents & POLLIN) reasons |= DrainInotify();
        if (fds[1].revents & POLLIN) reasons |= DrainPipe();
        if (fds[2].revents & POLLIN) {
          // The wall-clock deadline passed, or the clock was set (ECANCELED): either
          // way the caller re-reads the clock and decides.
          uint64_t expirations;
          ssize_t ignored = read(timer_fd_, &expirations, sizeof(expirations));
          (void)ignored;
          return reasons | (shutdown_ ? static_cast<unsigned>(kShutdown) : 0u);
        }
      }
      if (shutdown_) reasons |= kShutdown;
      if (reasons != 0 || left == 0) return reasons;
      // A wake for a file other than the log: sleep on.
    }
  }

  bool shutdown_requested() const override { return shutdown_; }

  void RequestShutdown() override {
    shutdown_ = true;
    char c = 'T';
    ssize_t ignored = write(pipe_write_, &c, 1);
    (void)ignored;
  }

  void Watch(intptr_t handle) override {
    if (std::find(watched_.begin(), watched_.end(), static_cast<int>(handle)) == watched_.end()) {
      watched_.push_back(static_cast<int>(handle));
    }
  }

  void Unwatch(intptr_t handle) override {
    watched_.erase(std::remove(watched_.begin(), watched_.end(), static_cast<int>(handle)),
                   watched_.end());
    readable_.erase(std::remove(readable_.begin(), readable_.end(), handle), readable_.end());
  }

  std::vector<intptr_t> TakeReadable() override {
    std::vector<intptr_t> out;
    out.swap(readable_);
    return out;
  }

 private:
  // ppoll's timeout runs on the monotonic clock, which does not advance while the
  // machine sleeps and ignores a step of the wall clock; deadlines are wall-clock
  // times. A CLOCK_REALTIME timer armed at the absolute deadline (and cancelled when
  // the clock is set) wakes on time in both cases.
  void ArmTimer(int64_t deadline_us) {
    if (timer_fd_ < 0) return;
    struct itimerspec its;
    memset(&its, 0, sizeof(its));
    if (deadline_us > 0 && deadline_us < INT64_MAX / 2) {
      its.it_value.tv_sec = deadline_us / 1000000;
      its.it_value.tv_nsec = (deadline_us % 1000000) * 1000;
    }
    timerfd_settime(timer_fd_, TFD_TIMER_ABSTIME | TFD_TIMER_CANCEL_ON_SET, &its, nullptr);
  }

  unsigned DrainInotify() {
    alignas(struct inotify_event) char buf[4096];
    unsigned reasons = 0;
    for (;;) {
      ssize_t n = read(inotify_fd_, buf, sizeof(buf));
      if (n <= 0) break;
      for (char* p = buf; p < buf + n;) {
        auto* ev = reinterpret_cast<struct inotify_event*>(p);
        if (ev->len > 0 && strcmp(ev->name, "data.mdb") == 0) reasons |= kLogChanged;
        if (ev->mask & IN_Q_OVERFLOW) reasons |= kLogChanged;
        p += sizeof(struct inotify_event) + ev->len;
      }
    }
    return reasons;
  }

  unsigned DrainPipe() {
    char buf[256];
    unsigned reasons = 0;
    for (;;) {
      ssize_t n = read(pipe_read_, buf, sizeof(buf));
      if (n <= 0) break;
      for (ssize_t i = 0; i < n; ++i) {
        if (buf[i] == 'C') reasons |= kChildExited;
        if (buf[i] == 'T') {
          shutdown_ = true;
          reasons |= kShutdown;
        }
      }
    }
    return reasons;
  }

  int inotify_fd_, pipe_read_, pipe_write_, timer_fd_;
  std::vector<int> watched_;
  std::vector<intptr_t> readable_;
  std::vector<struct pollfd> fds_;  // reused by WaitUntil
  std::atomic<bool> shutdown_{false};
};

}  // namespace

Result<std::unique_ptr<Waiter>> NewWaiter(const std::string& data_dir, bool handle_signals) {
  int ino = -1;
  if (!data_dir.empty()) {
    ino = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    if (ino < 0) return Status::IOError(std::string("inotify_init1: ") + strerror(errno));
  }
  if (ino >= 0 && inotify_add_watch(ino, data_dir.c_str(), IN_MODIFY | IN_CLOSE_WRITE) < 0) {
    int err = errno;
    close(ino);
    return Status::IOError("cannot watch '" + data_dir + "': " + strerror(err));
  }
  int p[2];
  if (pipe2(p, O_CLOEXEC | O_NONBLOCK) != 0) {
    int err = errno;
    if (ino >= 0) close(ino);
    return Status::IOError(std::string("pipe2: ") + strerror(err));
  }
  int timer = timerfd_create(CLOCK_REALTIME, TFD_NONBLOCK | TFD_CLOEXEC);
  auto waiter = std::make_unique<PosixWaiter>(ino, p[0], p[1], timer);
  if (handle_signals) {
    g_signal_pipe_write = p[1];
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = OnSignal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART;
    sigaction(SIGTERM, &sa, nullptr);
    sigaction(SIGINT, &sa, nullptr);
    sa.sa_flags = SA_RESTART | SA_NOCLDSTOP;
    sigaction(SIGCHLD, &sa, nullptr);
    signal(SIGPIPE, SIG_IGN);
  }
  return std::unique_ptr<Waiter>(std::move(waiter));
}

}  // namespace cg
