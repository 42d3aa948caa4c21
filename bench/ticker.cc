// The start-lateness reference: a bare loop sleeping to absolute deadlines (each whole
// second of CLOCK_REALTIME, clock_nanosleep with TIMER_ABSTIME) for SECONDS seconds,
// printing its wake-up lateness per deadline: "DEADLINE_US LATENESS_US".
// With `N PROGRAM ARG`, it also posix_spawns N copies of PROGRAM ARG at each deadline
// (CHRONOGRAPH_SCHEDULED_FOR set to the deadline), without waiting for them: the
// machine's floor for starting N processes at one instant (PROGRAM is bench/stamp).
#include <spawn.h>
#include <sys/wait.h>
#include <time.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <string>

extern char** environ;

int main(int argc, char** argv) {
  int seconds = argc > 1 ? atoi(argv[1]) : 30;
  int spawn_n = argc > 4 ? atoi(argv[2]) : 0;
  struct timespec now;
  clock_gettime(CLOCK_REALTIME, &now);
  time_t next = now.tv_sec + 1;
  for (int i = 0; i < seconds; ++i, ++next) {
    struct timespec dl {next, 0};
    while (clock_nanosleep(CLOCK_REALTIME, TIMER_ABSTIME, &dl, nullptr) == EINTR) {
    }
    struct timespec woke;
    clock_gettime(CLOCK_REALTIME, &woke);
    if (spawn_n > 0) {
      char when[64];
      struct tm tm;
      gmtime_r(&next, &tm);
      strftime(when, sizeof when, "CHRONOGRAPH_SCHEDULED_FOR=%Y-%m-%dT%H:%M:%S.000000Z", &tm);
      char* envp[] = {when, nullptr};
      char* args[] = {argv[3], argv[4], nullptr};
      for (int j = 0; j < spawn_n; ++j) {
        pid_t pid;
        posix_spawn(&pid, argv[3], nullptr, nullptr, args, envp);
      }
      while (waitpid(-1, nullptr, WNOHANG) > 0) {
      }
    }
    long long late = (static_cast<long long>(woke.tv_sec) - next) * 1000000 +
                     woke.tv_nsec / 1000;
    printf("%lld %lld\n", static_cast<long long>(next) * 1000000, late);
    fflush(stdout);
  }
  return 0;
}
