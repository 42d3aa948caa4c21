#!/usr/bin/env bash
# Sets up, builds, and starts chronograph in the foreground on ./var (inside the
# checkout) with a sample job that runs every 10 seconds. Ctrl-C stops the service;
# `build/bin/chronotool --data var runs` in another terminal shows what ran.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/build.sh
data="$PWD/var"
tool=build/bin/chronotool
if ! "$tool" --data "$data" job show hello >/dev/null 2>&1; then
  "$tool" --data "$data" job add hello --schedule "*/10 * * * * *" \
    --description "sample job: greets every 10 seconds" \
    --shell 'echo "hello from chronograph, run $CHRONOGRAPH_RUN_ID scheduled for $CHRONOGRAPH_SCHEDULED_FOR"'
fi
"$tool" --data "$data" job list
echo
echo "chronographd on $data (Ctrl-C to stop). In another terminal:"
echo "  $tool --data var runs        # what ran"
echo "  $tool --data var log RUN_ID  # its output"
echo "  $tool --data var status"
exec build/bin/chronographd --data "$data"
