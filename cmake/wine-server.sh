#!/usr/bin/env bash
# The Windows tests' wine server: `start` makes the prefix (once; about 8 s) and starts
# a persistent wineserver, `stop` ends it. The prefix is the one cmake/wine-run.sh uses.
set -euo pipefail
export WINEPREFIX="${WINEPREFIX:-${CG_WINEPREFIX:-$HOME/.wine-chronograph}}"
export WINEDEBUG=-all
export WINEDLLOVERRIDES="mscoree,mshtml="
case "${1:-}" in
  start)
    # Every wine process here gets the null device for stdio: the persistent server
    # must not hold ctest's pipes (nor any other descriptor of ours) open.
    mkdir -p "$(dirname "$WINEPREFIX")"
    if [ ! -f "$WINEPREFIX/system.reg" ]; then
      wineboot -i >/dev/null 2>&1 </dev/null
    fi
    # Fails harmlessly when a server already runs (it is then left as it is).
    wineserver -p >/dev/null 2>&1 </dev/null || true
    wine cmd /c exit >/dev/null 2>&1 </dev/null || true
    ;;
  stop)
    wineserver -k 2>/dev/null || true
    ;;
  *)
    echo "usage: $0 start|stop" >&2
    exit 2
    ;;
esac
