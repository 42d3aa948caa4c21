// What the scale, idle and heartbeat benchmarks read about other processes, from /proc
// (Linux): CPU time, memory and context switches, and a sd_notify socket to hear READY.
#pragma once

#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

extern char** environ;

namespace bench {

inline double Mono() {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

inline int64_t NowUs() {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return int64_t{ts.tv_sec} * 1000000 + ts.tv_nsec / 1000;
}

[[noreturn]] inline void Die(const std::string& what) {
  fprintf(stderr, "bench: %s\n", what.c_str());
  exit(1);
}

// CPU and wake-up counters of one process, all its threads together.
struct Cpu {
  bool ok = false;
  long long ticks = 0;       // utime + stime from /proc/PID/stat, in clock ticks
  long long run_ns = 0;      // time on a CPU from /proc/PID/task/*/schedstat (ns)
  long long voluntary = 0;   // voluntary context switches (sleeps: each is a wake-up)
  long long involuntary = 0;
};

inline std::string ReadFile(const std::string& path) {
  std::ifstream f(path);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

// The value of "Key:" in /proc/PID/status (kB for the memory lines), -1 when absent.
inline long long StatusField(const std::string& status, const std::string& key) {
  size_t at = status.find("\n" + key + ":");
  if (at == std::string::npos) return -1;
  return atoll(status.c_str() + at + key.size() + 2);
}

inline Cpu ReadCpu(long pid) {
  Cpu c;
  std::string base = "/proc/" + std::to_string(pid);
  std::string stat = ReadFile(base + "/stat");
  size_t paren = stat.rfind(')');
  if (stat.empty() || paren == std::string::npos) return c;
  // Fields after "(comm)": 3 state ... 14 utime 15 stime (1-based in proc(5)).
  std::istringstream in(stat.substr(paren + 2));
  std::string f;
  for (int i = 3; i <= 15 && in >> f; ++i) {
    if (i == 14 || i == 15) c.ticks += atoll(f.c_str());
  }
  std::string status = ReadFile(base + "/status");
  c.voluntary = StatusField(status, "voluntary_ctxt_switches");
  c.involuntary = StatusField(status, "nonvoluntary_ctxt_switches");
  if (DIR* d = opendir((base + "/task").c_str())) {
    while (struct dirent* e = readdir(d)) {
      if (e->d_name[0] == '.') continue;
      std::string s = ReadFile(base + "/task/" + e->d_name + "/schedstat");
      c.run_ns += atoll(s.c_str());
    }
    closedir(d);
  }
  c.ok = c.voluntary >= 0;
  return c;
}

inline Cpu Sum(const std::vector<long>& pids, int* alive = nullptr) {
  Cpu total;
  total.ok = true;
  int n = 0;
  for (long p : pids) {
    Cpu c = ReadCpu(p);
    if (!c.ok) continue;
    ++n;
    total.ticks += c.ticks;
    total.run_ns += c.run_ns;
    total.voluntary += c.voluntary;
    total.involuntary += c.involuntary;
  }
  if (alive) *alive = n;
  return total;
}

inline double TickSeconds() { return 1.0 / sysconf(_SC_CLK_TCK); }

// posix_spawn with extra environment entries ("K=V"); the pid. With `output_file`, its
// stdout and stderr are appended there.
inline pid_t Spawn(const std::vector<std::string>& argv, const std::vector<std::string>& extra_env,
                   const std::string& output_file = "") {
  std::vector<std::string> env_s;
  for (char** e = environ; *e; ++e) env_s.push_back(*e);
  for (const auto& kv : extra_env) env_s.push_back(kv);
  std::vector<char*> av, ev;
  for (const auto& a : argv) av.push_back(const_cast<char*>(a.c_str()));
  av.push_back(nullptr);
  for (const auto& e : env_s) ev.push_back(const_cast<char*>(e.c_str()));
  ev.push_back(nullptr);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  if (!output_file.empty()) {
    posix_spawn_file_actions_addopen(&fa, 1, output_file.c_str(), O_WRONLY | O_CREAT | O_APPEND,
                                     0600);
    posix_spawn_file_actions_adddup2(&fa, 1, 2);
  }
  pid_t pid;
  int rc = posix_spawn(&pid, av[0], &fa, nullptr, av.data(), ev.data());
  posix_spawn_file_actions_destroy(&fa);
  if (rc != 0) Die("spawn " + argv[0] + ": " + strerror(rc));
  return pid;
}

// A bound unix datagram socket, as systemd's $NOTIFY_SOCKET.
class NotifySocket {
 public:
  explicit NotifySocket(const std::string& path) : path_(path) {
    unlink(path.c_str());
    fd_ = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    struct sockaddr_un addr;
    memset(&addr, 0, sizeof addr);
    addr.sun_family = AF_UNIX;
    strncpy(addr.sun_path, path.c_str(), sizeof(addr.sun_path) - 1);
    if (fd_ < 0 || bind(fd_, reinterpret_cast<struct sockaddr*>(&addr), sizeof addr) != 0) {
      Die("notify socket " + path + ": " + strerror(errno));
    }
  }
  ~NotifySocket() {
    close(fd_);
    unlink(path_.c_str());
  }
  // The next datagram within `seconds`, "" on timeout.
  std::string Receive(double seconds) {
    struct pollfd p = {fd_, POLLIN, 0};
    if (poll(&p, 1, static_cast<int>(seconds * 1000)) <= 0) return "";
    char buf[1024];
    ssize_t n = recv(fd_, buf, sizeof buf, 0);
    return n > 0 ? std::string(buf, n) : "";
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  int fd_ = -1;
};

// Sends SIGTERM and waits (our child) up to `seconds`, then SIGKILL.
inline int StopChild(pid_t pid, double seconds = 30) {
  kill(pid, SIGTERM);
  double end = Mono() + seconds;
  int st = 0;
  while (Mono() < end) {
    pid_t r = waitpid(pid, &st, WNOHANG);
    if (r == pid) return st;
    usleep(10000);
  }
  kill(pid, SIGKILL);
  waitpid(pid, &st, 0);
  return st;
}

}  // namespace bench
