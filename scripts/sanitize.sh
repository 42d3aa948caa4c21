#!/usr/bin/env bash
# Builds and tests chronograph under gcc's sanitizers (README "Bad input: fuzzing and
# sanitizers"):
#   asan  build-asan/: AddressSanitizer + UndefinedBehaviorSanitizer (UB is fatal, leaks
#         are reported), the whole Linux suite.
#   tsan  build-tsan/: ThreadSanitizer, the tests that run threads or signal handlers
#         in one process (TSan sees only threads within a process): see TSAN_TESTS.
# Usage: scripts/sanitize.sh [asan] [tsan]   (default: both)
# Every process the tests start (chronotool, chronographd, run shims) is instrumented
# too; each writes its sanitizer reports to build-*/sanitizer-logs/, and any report
# there fails the stage even when the test that started the process passed.
set -euo pipefail
cd "$(dirname "$0")/.."

# The threaded parts: process_launcher_test launches from 4 threads at once (fork from a
# multithreaded process); service_e2e_test runs chronographd and its run shims with
# their signal handlers (SIGTERM, SIGCHLD through the self-pipe in waiter_posix.cc);
# the event log's concurrent-writer test has writer processes racing on one LMDB.
TSAN_TESTS='^(ProcessLauncherTest\.|ServiceTest\.|EventLogTest\.(ConcurrentWriterProcesses|DecodingAhead))'
TSAN_TARGETS=(process_launcher_test service_e2e_test event_log_test)

stages=("$@")
[ ${#stages[@]} -gt 0 ] || stages=(asan tsan)
jobs="$(nproc)"
status=0

run_stage() {  # name build-dir sanitizers "targets to build (empty: all)" ctest-args...
  local name="$1" dir="$2" san="$3" targets="$4"
  shift 4
  echo "=== $name ($dir, -fsanitize=$san)"
  # -O1 -g1: the sanitizers' usual choice (readable stacks with file:line, asserts on),
  # and quicker to compile than -O2 -g, which matters on CI's two cores.
  cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=Debug -DCMAKE_CXX_FLAGS_DEBUG="-O1 -g1" \
    -DCMAKE_C_FLAGS_DEBUG="-O1 -g1" -DCHRONOGRAPH_SANITIZE="$san" >/dev/null
  # shellcheck disable=SC2086  # $targets is a list
  nice -n 10 cmake --build "$dir" -j"$jobs" ${targets:+--target $targets}
  local logs="$PWD/$dir/sanitizer-logs"
  rm -rf "$logs" && mkdir -p "$logs"
  local common="halt_on_error=1:abort_on_error=0:print_stacktrace=1:log_path=$logs/report"
  local rc=0
  (cd "$dir" &&
   ASAN_OPTIONS="$common:detect_leaks=1:strict_string_checks=1:detect_stack_use_after_return=1" \
   LSAN_OPTIONS="$common" UBSAN_OPTIONS="$common" \
   TSAN_OPTIONS="$common:second_deadlock_stack=1" \
   ctest --output-on-failure -j"$jobs" --timeout 600 "$@") || rc=1
  if compgen -G "$logs/report*" >/dev/null; then
    echo "=== $name: sanitizer reports:"
    for f in "$logs"/report*; do echo "--- $f"; cat "$f"; done
    rc=1
  fi
  [ $rc -eq 0 ] && echo "=== $name: passed" || echo "=== $name: FAILED"
  return $rc
}

for s in "${stages[@]}"; do
  case "$s" in
    asan) run_stage "ASan+UBSan" build-asan address,undefined "" || status=1 ;;
    tsan) run_stage "TSan" build-tsan thread "${TSAN_TARGETS[*]}" -R "$TSAN_TESTS" || status=1 ;;
    *) echo "usage: scripts/sanitize.sh [asan] [tsan]" >&2; exit 2 ;;
  esac
done
exit $status
