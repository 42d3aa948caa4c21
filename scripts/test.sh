#!/usr/bin/env bash
# Sets up, builds and runs every test: the Linux suite (build/), the Windows suite
# (build-win/, cross-compiled with mingw-w64 and run under wine), the Linux suite under
# ASan+UBSan and its threaded part under TSan (scripts/sanitize.sh), and a short fuzz
# run of every fuzz target (scripts/fuzz.sh; FUZZ_SECONDS each, default 15). The
# README's test command; .ci/run runs it.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/build.sh
scripts/build-windows.sh
jobs="$(nproc)"
status=0
echo "=== Linux tests (build/)"
(cd build && ctest --output-on-failure -j"$jobs" --timeout 300) || status=1
echo "=== Windows tests under wine (build-win/)"
# One persistent wineserver for the whole run, started before ctest discovers the
# tests, so no wine process holds ctest's pipes open (WINDOWS.md).
cmake/wine-server.sh start
(cd build-win && ctest --output-on-failure -j"$jobs" --timeout 300) || status=1
cmake/wine-server.sh stop
echo "=== Sanitizers (build-asan/, build-tsan/)"
scripts/sanitize.sh asan tsan || status=1
echo "=== Fuzzing, ${FUZZ_SECONDS:-15}s per target (build-fuzz/)"
scripts/fuzz.sh "${FUZZ_SECONDS:-15}" || status=1
exit $status
