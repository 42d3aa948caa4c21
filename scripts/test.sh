#!/usr/bin/env bash
# Sets up, builds and runs every test: the Linux suite (build/) and the Windows suite
# (build-win/, cross-compiled with mingw-w64 and run under wine). The README's test
# command; .ci/run runs it.
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
exit $status
