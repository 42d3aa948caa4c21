#!/usr/bin/env bash
# Builds the libFuzzer targets in fuzz/ with clang (ASan + UBSan, build-fuzz/) and runs
# each for SECONDS (default 300), one after another.
# Usage: scripts/fuzz.sh [SECONDS_PER_TARGET] [TARGET...]
#   targets: event_decode schedule time job_spec chronotool (default: all)
# The corpus each run grows lives in build-fuzz/corpus/<target>/ (kept between runs,
# never committed); the committed seeds fuzz/corpus/<target>/ and the regressions
# fuzz/regressions/<target>/ are read, not written. A crash, hang, leak or failed
# property leaves its input in build-fuzz/artifacts/<target>/ and fails the script;
# fix the bug, then commit the input to fuzz/regressions/<target>/ (the fuzz_replay_*
# tests replay it in every build from then on). To add coverage-increasing inputs to
# the committed seeds, minimised:
#   build-fuzz/bin/<target>_fuzz -merge=1 fuzz/corpus/<target> build-fuzz/corpus/<target>
set -euo pipefail
cd "$(dirname "$0")/.."

seconds="${1:-300}"
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(event_decode schedule time job_spec chronotool)

CC=clang-14 CXX=clang++-14 cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=Debug \
  -DCMAKE_CXX_FLAGS_DEBUG="-O1 -g1" -DCMAKE_C_FLAGS_DEBUG="-O1 -g1" \
  -DCHRONOGRAPH_FUZZ=ON -DCHRONOGRAPH_SANITIZE=address,undefined -DCHRONOGRAPH_TESTS=OFF \
  >/dev/null
nice -n 10 cmake --build build-fuzz -j"$(nproc)" --target "${targets[@]/%/_fuzz}"

# Symbolized stack traces in reports (llvm-symbolizer-14 is in llvm-14).
export ASAN_SYMBOLIZER_PATH=/usr/bin/llvm-symbolizer-14
export ASAN_OPTIONS="halt_on_error=1:detect_leaks=1:symbolize=1"
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1:symbolize=1"
status=0
for t in "${targets[@]}"; do
  corpus="build-fuzz/corpus/$t"
  artifacts="build-fuzz/artifacts/$t"
  mkdir -p "$corpus" "$artifacts"
  echo "=== fuzz $t for ${seconds}s"
  # -timeout: one input taking longer than 10 s is a hang (a bug: every parser here
  # bounds its work). -rss_limit_mb / -malloc_limit_mb: 2 GB is an out-of-memory bug.
  if ! nice -n 10 "build-fuzz/bin/${t}_fuzz" -max_total_time="$seconds" -timeout=10 \
      -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$artifacts/" \
      "$corpus" "fuzz/corpus/$t" "fuzz/regressions/$t" >"build-fuzz/$t.log" 2>&1; then
    status=1
    echo "=== fuzz $t: FAILED; the end of build-fuzz/$t.log:"
    tail -n 60 "build-fuzz/$t.log"
    echo "=== inputs: $(ls "$artifacts")"
  else
    grep -E '^(stat::number_of_executed_units|stat::new_units_added)' "build-fuzz/$t.log" |
      tr '\n' ' '
    echo "corpus: $(find "$corpus" -type f | wc -l) inputs"
  fi
done
exit $status
