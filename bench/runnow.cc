// Run-now latency: N times, with the service idle, run `CHRONOTOOL --data DATA run JOB`
// (no --wait), note the instant it returned, wait for the job's stamp line (the job is
// bench/stamp appending to STAMPFILE) and print "RETURN_US START_US". Waits GAP_MS
// after each run so the service is idle again.
#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

extern char** environ;

static long long NowUs() {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<long long>(ts.tv_sec) * 1000000 + ts.tv_nsec / 1000;
}

static std::vector<std::string> Lines(const char* path) {
  std::vector<std::string> v;
  std::ifstream in(path);
  std::string l;
  while (std::getline(in, l)) v.push_back(l);
  return v;
}

int main(int argc, char** argv) {
  if (argc < 6) {
    fprintf(stderr, "usage: runnow CHRONOTOOL DATA JOB STAMPFILE N [GAP_MS]\n");
    return 2;
  }
  int n = atoi(argv[5]);
  int gap_ms = argc > 6 ? atoi(argv[6]) : 300;
  char data_flag[] = "--data", run[] = "run";
  for (int i = 0; i < n; ++i) {
    size_t before = Lines(argv[4]).size();
    char* args[] = {argv[1], data_flag, argv[2], run, argv[3], nullptr};
    pid_t pid;
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    int rc = posix_spawn(&pid, argv[1], &fa, nullptr, args, environ);
    posix_spawn_file_actions_destroy(&fa);
    if (rc != 0) return 1;
    int st;
    waitpid(pid, &st, 0);
    long long ret = NowUs();
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) { fprintf(stderr, "run failed\n"); return 1; }
    std::vector<std::string> l;
    long long deadline = ret + 10000000;
    while ((l = Lines(argv[4])).size() <= before && NowUs() < deadline) usleep(500);
    if (l.size() <= before) { fprintf(stderr, "no start within 10 s\n"); return 1; }
    long long start = atoll(l[before].c_str());
    printf("%lld %lld\n", ret, start);
    fflush(stdout);
    usleep(gap_ms * 1000);
  }
  return 0;
}
