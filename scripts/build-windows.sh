#!/usr/bin/env bash
# Cross-compiles chronograph for Windows x64 into ./build-win (the .exes, their tests,
# and the MSI in build-win/installer/msi/). Needs scripts/setup.sh first.
set -euo pipefail
cd "$(dirname "$0")/.."
cmake -S . -B build-win -DCMAKE_TOOLCHAIN_FILE=cmake/mingw-w64.cmake \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build-win -j"$(nproc)"
