// The job the lateness and run-now benchmarks run: records when it started
// (CLOCK_REALTIME, read first thing) and when it was scheduled for
// (CHRONOGRAPH_SCHEDULED_FOR, RFC 3339 UTC with microseconds), one line per run,
// appended with O_APPEND to the file named by argv[1]:
//   START_US SCHEDULED_US JOB
// SCHEDULED_US is 0 when the variable is absent (the posix_spawn reference).
#include <fcntl.h>
#include <time.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>

static long long ParseRfc3339Us(const char* s) {
  // 2026-11-27T11:50:31.123456Z (the fraction optional)
  struct tm tm {};
  int frac_digits = 0;
  long long frac = 0;
  if (sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour,
             &tm.tm_min, &tm.tm_sec) != 6) {
    return -1;
  }
  tm.tm_year -= 1900;
  tm.tm_mon -= 1;
  const char* p = s + 19;
  if (*p == '.') {
    ++p;
    while (*p >= '0' && *p <= '9') {
      if (frac_digits < 6) { frac = frac * 10 + (*p - '0'); ++frac_digits; }
      ++p;
    }
  }
  while (frac_digits < 6) { frac *= 10; ++frac_digits; }
  if (*p != 'Z') return -1;
  return static_cast<long long>(timegm(&tm)) * 1000000 + frac;
}

int main(int argc, char** argv) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  const long long start_us = static_cast<long long>(ts.tv_sec) * 1000000 + ts.tv_nsec / 1000;
  if (argc < 2) return 2;
  const char* sched = getenv("CHRONOGRAPH_SCHEDULED_FOR");
  const char* job = getenv("CHRONOGRAPH_JOB");
  long long sched_us = sched ? ParseRfc3339Us(sched) : 0;
  char line[256];
  int n = snprintf(line, sizeof line, "%lld %lld %s\n", start_us, sched_us, job ? job : "-");
  int fd = open(argv[1], O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  if (fd < 0) return 1;
  ssize_t w = write(fd, line, static_cast<size_t>(n));
  close(fd);
  return w == n ? 0 : 1;
}
