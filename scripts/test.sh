#!/usr/bin/env bash
# Sets up, builds and runs every test (ctest). The README's test command; .ci/run runs it.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/build.sh
cd build
ctest --output-on-failure -j"$(nproc)" --timeout 300
