#!/usr/bin/env bash
# Sets up, builds, and starts chronograph on ./var (inside the checkout) with a sample
# job. Until the service (chronographd) lands, this defines the sample job and shows it
# through chronotool.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/build.sh
export CHRONOGRAPH_DATA="$PWD/var"
tool=build/bin/chronotool
if ! "$tool" job show hello >/dev/null 2>&1; then
  "$tool" job add hello --schedule "*/10 * * * * *" \
    --description "sample job: greets every 10 seconds" -- /bin/echo "hello from chronograph"
fi
"$tool" job list
echo
"$tool" job show hello
echo
echo "data: $CHRONOGRAPH_DATA   (try: $tool --data var replay)"
