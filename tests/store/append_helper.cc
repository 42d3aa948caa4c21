// A writer process for the concurrency tests: appends COUNT job definitions named
// LABEL-0..LABEL-(COUNT-1), each in its own transaction, with PAD bytes of description.
// usage: append_helper DIR COUNT LABEL [PAD] [INITIAL_MAP_BYTES]
#include <cstdio>
#include <cstdlib>
#include <string>

#include "store/event_log.h"

int main(int argc, char** argv) {
  if (argc < 4) {
    std::fprintf(stderr, "usage: append_helper DIR COUNT LABEL [PAD] [INITIAL_MAP_BYTES]\n");
    return 2;
  }
  cg::store::Options options;
  options.program = "append_helper";
  if (argc > 5) options.initial_map_size = std::strtoull(argv[5], nullptr, 10);
  size_t pad = argc > 4 ? std::strtoull(argv[4], nullptr, 10) : 0;
  auto log = cg::store::EventLog::Open(argv[1], options);
  if (!log.ok()) {
    std::fprintf(stderr, "%s\n", log.status().ToString().c_str());
    return 1;
  }
  cg::State state;
  int count = std::atoi(argv[2]);
  for (int i = 0; i < count; ++i) {
    cg::JobSpec spec;
    spec.name = std::string(argv[3]) + "-" + std::to_string(i);
    spec.argv = {"/bin/true"};
    spec.schedule = "* * * * *";
    spec.description = std::string(pad, 'x');
    auto seq = (*log)->Append(&state, cg::JobDefined{spec});
    if (!seq.ok()) {
      std::fprintf(stderr, "%s\n", seq.status().ToString().c_str());
      return 1;
    }
  }
  return 0;
}
