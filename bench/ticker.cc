// The start-lateness reference: a bare loop sleeping to absolute deadlines (each whole
// second of CLOCK_REALTIME, clock_nanosleep with TIMER_ABSTIME) for SECONDS seconds,
// printing its wake-up lateness per deadline: "DEADLINE_US LATENESS_US".
#include <time.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>

int main(int argc, char** argv) {
  int seconds = argc > 1 ? atoi(argv[1]) : 30;
  struct timespec now;
  clock_gettime(CLOCK_REALTIME, &now);
  time_t next = now.tv_sec + 1;
  for (int i = 0; i < seconds; ++i, ++next) {
    struct timespec dl {next, 0};
    while (clock_nanosleep(CLOCK_REALTIME, TIMER_ABSTIME, &dl, nullptr) == EINTR) {
    }
    struct timespec woke;
    clock_gettime(CLOCK_REALTIME, &woke);
    long long late = (static_cast<long long>(woke.tv_sec) - next) * 1000000 +
                     woke.tv_nsec / 1000;
    printf("%lld %lld\n", static_cast<long long>(next) * 1000000, late);
    fflush(stdout);
  }
  return 0;
}
