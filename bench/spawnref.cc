// Bare-process references, measured in the same run as the service's figures.
//   spawnref stamp STAMP FILE N   posix_spawn STAMP FILE N times (one at a time) and print
//                                 each spawn's start instant "T0_US"; STAMP appends its
//                                 own start to FILE, so start - T0 is spawn-to-start.
//   spawnref true SECONDS K       posix_spawn + waitpid of /bin/true with K in flight for
//                                 SECONDS; prints "RATE_PER_S COUNT".
#include <spawn.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>

extern char** environ;

static long long NowUs(clockid_t c) {
  struct timespec ts;
  clock_gettime(c, &ts);
  return static_cast<long long>(ts.tv_sec) * 1000000 + ts.tv_nsec / 1000;
}

int main(int argc, char** argv) {
  if (argc >= 5 && strcmp(argv[1], "stamp") == 0) {
    int n = atoi(argv[4]);
    for (int i = 0; i < n; ++i) {
      char* args[] = {argv[2], argv[3], nullptr};
      pid_t pid;
      long long t0 = NowUs(CLOCK_REALTIME);
      if (posix_spawn(&pid, argv[2], nullptr, nullptr, args, environ) != 0) return 1;
      int st;
      waitpid(pid, &st, 0);
      printf("%lld\n", t0);
      usleep(20000);
    }
    return 0;
  }
  if (argc >= 4 && strcmp(argv[1], "true") == 0) {
    double seconds = atof(argv[2]);
    int k = atoi(argv[3]);
    char prog[] = "/bin/true";
    char* args[] = {prog, nullptr};
    long long start = NowUs(CLOCK_MONOTONIC), end = start + static_cast<long long>(seconds * 1e6);
    long long count = 0;
    int inflight = 0;
    for (;;) {
      bool more = NowUs(CLOCK_MONOTONIC) < end;
      while (more && inflight < k) {
        pid_t pid;
        if (posix_spawn(&pid, prog, nullptr, nullptr, args, environ) != 0) return 1;
        ++inflight;
      }
      if (inflight == 0) break;
      int st;
      if (waitpid(-1, &st, 0) > 0) { --inflight; ++count; }
    }
    double el = (NowUs(CLOCK_MONOTONIC) - start) / 1e6;
    printf("%.1f %lld\n", count / el, count);
    return 0;
  }
  fprintf(stderr, "usage: spawnref stamp STAMP FILE N | spawnref true SECONDS K\n");
  return 2;
}
