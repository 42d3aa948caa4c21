#!/usr/bin/env bash
# Builds the benchmarks (build-bench/, -j2) and runs them, printing for each figure ours,
# a reference measured in the same run, and their ratio (issue 5; bench/RESULTS.md).
# Compiles first, then measures: nothing is built while a benchmark runs.
#   BENCH_JOBS=20 BENCH_SECONDS=30 BENCH_EVENTS=1000000 scripts/bench.sh
# Options: --no-build (use build-bench as it is), --only "lateness runnow eventlog
# throughput micro scale heartbeat cron" (the default runs the first five; scale,
# heartbeat and cron take minutes each and cron needs root: name them).
#   scale:     BENCH_SCALE_JOBS="10000 100000", BENCH_IDLE_SECONDS=60,
#              BENCH_SCALE_HISTORY=8 (finished runs per job behind the largest; 0: skip)
#   heartbeat: BENCH_HB_RUNS=1000, BENCH_HB_WINDOW=15
#   cron:      BENCH_CRON_MINUTES=3
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
BUILD="$ROOT/build-bench"
B="$BUILD/bin"
JOBS=${BENCH_JOBS:-50}            # jobs on a one-second schedule (as the issue)
SECONDS_LATE=${BENCH_SECONDS:-30} # lateness window (the issue says 60)
EVENTS=${BENCH_EVENTS:-1000000}   # events replayed
THRU_SECONDS=${BENCH_THROUGHPUT_SECONDS:-20}
THRU_JOBS=${BENCH_THROUGHPUT_JOBS:-16}  # runs in flight (one outstanding request per job)
SCALE_JOBS=${BENCH_SCALE_JOBS:-"10000 100000"}
SCALE_HISTORY=${BENCH_SCALE_HISTORY:-8}
IDLE_SECONDS=${BENCH_IDLE_SECONDS:-60}
HB_RUNS=${BENCH_HB_RUNS:-1000}
HB_WINDOW=${BENCH_HB_WINDOW:-15}
CRON_MINUTES=${BENCH_CRON_MINUTES:-3}
STATS="python3 $ROOT/bench/stats.py"

build=1
only="lateness runnow eventlog throughput micro"
while [ $# -gt 0 ]; do
  case "$1" in
    --no-build) build=0 ;;
    --only) only="$2"; shift ;;
    *) echo "usage: scripts/bench.sh [--no-build] [--only \"lateness runnow ...\"]" >&2; exit 2 ;;
  esac
  shift
done

if [ "$build" = 1 ]; then
  echo "== build (build-bench, RelWithDebInfo, -j2)"
  cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCHRONOGRAPH_BENCH=ON \
    -DCHRONOGRAPH_TESTS=OFF >/dev/null
  cmake --build "$BUILD" -j2 >/dev/null
fi

TMP="$(mktemp -d /tmp/chronograph-bench.XXXXXX)"
SVC_PID=""
CRON_PID=""             # a cron this script started (only when none was running)
CRON_FILE=/etc/cron.d/chronograph-bench
cleanup() {
  if [ -n "$SVC_PID" ]; then kill -TERM "$SVC_PID" 2>/dev/null || true; wait "$SVC_PID" 2>/dev/null || true; fi
  if [ -f "$CRON_FILE" ] && grep -q "chronograph-bench" "$CRON_FILE"; then rm -f "$CRON_FILE"; fi
  if [ -n "$CRON_PID" ]; then kill -TERM "$CRON_PID" 2>/dev/null || true; wait "$CRON_PID" 2>/dev/null || true; fi
  rm -rf "$TMP"
}
trap cleanup EXIT

now_us() { date +%s%6N; }

# start_service DATA: chronographd in the background, waiting until it has replayed.
start_service() {
  "$B/chronographd" --data "$1" --log-level warn 2>"$1.log" &
  SVC_PID=$!
  for _ in $(seq 100); do
    if "$B/chronotool" --data "$1" status 2>/dev/null | grep -q "^service: *running"; then return 0; fi
    sleep 0.1
  done
  echo "chronographd did not start" >&2; cat "$1.log" >&2; exit 1
}
stop_service() {
  kill -TERM "$SVC_PID"; wait "$SVC_PID" || true; SVC_PID=""
}

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(uname -r)"
echo "date:    $(date -u +%Y-%m-%dT%H:%M:%SZ)"

if [[ " $only " == *" lateness "* ]]; then
  echo
  echo "== 1. start lateness: $JOBS jobs on '* * * * * *' for $SECONDS_LATE s, vs a bare clock_nanosleep(TIMER_ABSTIME) loop"
  D="$TMP/late"
  for i in $(seq 1 "$JOBS"); do
    "$B/chronotool" --data "$D" job add "j$i" --schedule "* * * * * *" -- "$B/bench_stamp" "$TMP/late.stamps" >/dev/null
  done
  start_service "$D"
  sleep 3  # past start-up and the first catch-up runs
  w0=$(( ($(now_us) / 1000000 + 1) * 1000000 ))
  "$B/bench_ticker" "$SECONDS_LATE" >"$TMP/ticker.txt" &
  TICK=$!
  wait "$TICK"
  w1=$(( w0 + SECONDS_LATE * 1000000 ))
  sleep 2  # let the last slots' runs start
  stop_service
  # The floor: the same number of process starts at each second from a bare loop.
  "$B/bench_ticker" 10 "$JOBS" "$B/bench_stamp" "$TMP/floor.stamps" >/dev/null
  sleep 1
  $STATS lateness "$TMP/late.stamps" "$TMP/ticker.txt" "$w0" "$w1" "$JOBS" "$SECONDS_LATE" \
    "$TMP/floor.stamps"
fi

if [[ " $only " == *" runnow "* ]]; then
  echo
  echo "== 2. run-now latency: 50 x 'chronotool run' (no --wait), return -> job start, vs posix_spawn -> start"
  D="$TMP/runnow"
  "$B/chronotool" --data "$D" job add idle --schedule "0 0 1 1 *" -- "$B/bench_stamp" "$TMP/runnow.stamps" >/dev/null
  start_service "$D"
  sleep 1
  "$B/bench_runnow" "$B/chronotool" "$D" idle "$TMP/runnow.stamps" 50 300 >"$TMP/runnow.txt"
  stop_service
  "$B/bench_spawnref" stamp "$B/bench_stamp" "$TMP/spawn.stamps" 50 >"$TMP/spawn.t0"
  $STATS runnow "$TMP/runnow.txt" "$TMP/spawn.t0" "$TMP/spawn.stamps"
fi

if [[ " $only " == *" eventlog "* ]]; then
  echo
  echo "== 3. event log (durable: one LMDB write transaction + fsync per append)"
  E="$B/bench_eventlog"
  $E append "$TMP/ev-a1" 5 1 >"$TMP/a1"
  $E raw-append "$TMP/ev-r1" 5 1 >"$TMP/r1"
  $E append "$TMP/ev-a4" 5 4 >"$TMP/a4"
  $E raw-append "$TMP/ev-r4" 5 4 >"$TMP/r4"
  $E fill "$TMP/ev-fill" "$EVENTS" >/dev/null
  for i in 1 2 3; do
    $E replay "$TMP/ev-fill" >"$TMP/replay$i"
    $E replay-service "$TMP/ev-fill" >"$TMP/sreplay$i"
    $E rawscan "$TMP/ev-fill" >"$TMP/scan$i"
  done
  replay=$($STATS median "$TMP"/replay?)
  sreplay=$($STATS median "$TMP"/sreplay?)
  scan=$($STATS median "$TMP"/scan?)
  printf "  %-34s %14s %14s %8s\n" "" "ours" "reference" "ratio"
  $STATS row "append, 1 process (events/s)" "$(cut -d' ' -f1 "$TMP/a1")" "$(cut -d' ' -f1 "$TMP/r1")" "vs raw LMDB put+commit"
  $STATS row "append, 4 processes (events/s)" "$(cut -d' ' -f1 "$TMP/a4")" "$(cut -d' ' -f1 "$TMP/r4")" "vs raw LMDB put+commit"
  $STATS row "replay, full fold (events/s)" "$replay" "$scan" "chronotool: every run kept; vs raw cursor scan (median of 3)"
  $STATS row "replay, service's fold (events/s)" "$sreplay" "$scan" "chronographd's start: active runs only; same scan"
  python3 - "$replay" "$sreplay" "$scan" <<'PY'
import sys
r, sr, s = float(sys.argv[1]), float(sys.argv[2]), float(sys.argv[3])
for what, x in (("full fold", r), ("service's fold", sr)):
    ok = x >= 1e6 and x >= 0.3 * s
    print(f"  goal replay >= 1,000,000 events/s and >= 30% of the raw scan, {what}:"
          f" {'MET' if ok else 'MISSED'} ({x:,.0f}/s, {100 * x / s:.1f}% of the scan)")
PY
fi

if [[ " $only " == *" throughput "* ]]; then
  echo
  echo "== 4. launch throughput: run-now requests for /bin/true ($THRU_JOBS jobs, one request each outstanding) for $THRU_SECONDS s, vs bare posix_spawn+waitpid"
  D="$TMP/thru"
  for j in $(seq 0 $((THRU_JOBS - 1))); do
    "$B/chronotool" --data "$D" job add "t$j" --schedule "0 0 1 1 *" -- /bin/true >/dev/null
  done
  start_service "$D"
  sleep 1
  "$B/bench_throughput" "$D" "$THRU_SECONDS" "$THRU_JOBS" >"$TMP/thru.txt" 2>/dev/null
  stop_service
  "$B/bench_spawnref" true 5 1 >"$TMP/spawn1"
  "$B/bench_spawnref" true 5 2 >"$TMP/spawn2"
  read -r ours n _ failed <"$TMP/thru.txt"
  s1=$(cut -d' ' -f1 "$TMP/spawn1"); s2=$(cut -d' ' -f1 "$TMP/spawn2")
  echo "  runs finished in the window: $n ($failed not succeeded)"
  printf "  %-34s %14s %14s %8s\n" "" "ours" "reference" "ratio"
  $STATS row "runs/s vs bare, 1 in flight" "$ours" "$s1" ""
  $STATS row "runs/s vs bare, 2 in flight" "$ours" "$s2" ""
  python3 -c "import sys; o,s=float(sys.argv[1]),float(sys.argv[2]); print(f'  goal >= 50% of the bare rate with two in flight: {\"MET\" if o >= 0.5*s else \"MISSED\"} ({100*o/s:.1f}%)')" "$ours" "$s2"
fi

if [[ " $only " == *" micro "* ]]; then
  echo
  echo "== 5. micro benchmarks (Google Benchmark)"
  if [ -x "$B/bench_micro" ]; then
    "$B/bench_micro" --benchmark_min_time=0.2 2>&1 | sed 's/^/  /'
  else
    echo "  not built (libbenchmark-dev missing)"
  fi
fi

if [[ " $only " == *" scale "* ]]; then
  echo
  echo "== 6. scale and idle cost: 0, ${SCALE_JOBS// /, } jobs defined (none due); start-up to READY=1, memory, then $IDLE_SECONDS s idle"
  S="$B/bench_scale"
  largest=0
  for n in 0 $SCALE_JOBS; do
    [ "$n" -gt "$largest" ] && largest=$n
    D="$TMP/scale$n"
    $S fill "$D" "$n" 1800 >"$D.fill"   # nothing fires in the next 30 minutes
    for i in 1 2 3; do
      $S service "$B/chronographd" "$B/bench_ticker" "$D" 0 0 - >"$D.start$i"
      $S timed "$B/bench_eventlog" rawscan "$D" >"$D.scan$i"
      $S timed "$B/bench_eventlog" replay "$D" >"$D.replay$i"
    done
    echo "  $n jobs: $(cat "$D.fill"); service log: $(grep -o 'replayed.*ms' "$D.log" | tail -1)"
  done
  $S timed /bin/sleep 0.1 >"$TMP/sleep.rss"
  D="$TMP/scale$largest"
  $S service "$B/chronographd" "$B/bench_ticker" "$D" "$IDLE_SECONDS" 20 "$TMP/strace.txt" >"$D.idle"
  $STATS scale "$TMP" "$largest" 0 $SCALE_JOBS
  started=$(grep -c ": shim pid" "$D.log" || true)
  echo "  runs started while measured: $started (must be 0: nothing was due)"
  if [ "$SCALE_HISTORY" -gt 0 ]; then
    # The same jobs with a history: the service must not keep it in memory. Its
    # snapshot is from before the history, so the start folds all of it.
    H="$TMP/scale${largest}h"
    cp -r "$D" "$H"
    echo "  with $SCALE_HISTORY finished runs per job behind them: $($S history "$H" "$SCALE_HISTORY")"
    $S service "$B/chronographd" "$B/bench_ticker" "$H" 0 0 - >"$H.start"
    echo "    start-up $(grep -o 'startup_s=.*' "$H.start"); $(grep -o 'replayed.*ms' "$H.log" | tail -1)"
    echo "    $(grep -E '^(VmRSS|VmHWM|RssAnon|RssFile)_kb' "$H.start" | awk -F= '{sub(/_kb$/, "", $1); printf "%s %.1f MB  ", $1, $2/1024}')"
  fi
  echo "  strace -c -f -p over 20 s idle, after the window (every system call the service made; a watchdog ping every 15 s):"
  if [ -s "$TMP/strace.txt" ]; then sed "s/^/    /" "$TMP/strace.txt"; else echo "    no system calls at all (or strace not available)"; fi
fi

if [[ " $only " == *" heartbeat "* ]]; then
  echo
  echo "== 7. heartbeat cost: $HB_RUNS concurrent runs of 'sleep', measured over $HB_WINDOW s once all run"
  ulimit -u unlimited 2>/dev/null || ulimit -u "$(ulimit -Hu)" 2>/dev/null || true
  ulimit -n 65536 2>/dev/null || true
  echo "  limits: max user processes $(ulimit -u), open files $(ulimit -n), pid_max $(cat /proc/sys/kernel/pid_max)"
  "$B/bench_heartbeat" "$B/chronographd" "$TMP/hb" "$HB_RUNS" 3600 "$HB_WINDOW" >"$TMP/hb.kv"
  $STATS heartbeat "$TMP/hb.kv"
  if [ -s "$TMP/hb.log" ]; then echo "  service log (warnings): $(wc -l <"$TMP/hb.log") lines"; head -3 "$TMP/hb.log" | sed 's/^/    /'; fi
fi

if [[ " $only " == *" cron "* ]]; then
  echo
  echo "== 8. one-minute job for $CRON_MINUTES minutes: chronograph and Debian's cron side by side, vs a bare clock_nanosleep loop"
  if ! command -v cron >/dev/null; then
    echo "  cron is not installed (scripts/setup.sh installs it)"
  elif [ "$(id -u)" -ne 0 ]; then
    echo "  needs root (a file in /etc/cron.d)"
  elif [ -e "$CRON_FILE" ]; then
    echo "  $CRON_FILE exists already: not touching it"
  else
    D="$TMP/cron"
    "$B/chronotool" --data "$D" job add minute --schedule "* * * * *" -- "$B/bench_stamp" "$TMP/cg-minute.stamps" >/dev/null
    # cron runs the line with /bin/sh; the stamp reads its clock first thing. The
    # scheduled time of a cron job is the start of its minute.
    printf '# chronograph-bench: scripts/bench.sh --only cron (removed when it ends)\n* * * * * root %s %s\n' \
      "$B/bench_stamp" "$TMP/cron-minute.stamps" >"$CRON_FILE"
    chmod 0644 "$CRON_FILE"
    if pgrep -x cron >/dev/null; then
      echo "  using the cron already running (pid $(pgrep -x cron | head -1))"
    else
      cron -f >"$TMP/cron.out" 2>&1 &
      CRON_PID=$!
      echo "  started cron -f (pid $CRON_PID) for the measurement"
    fi
    start_service "$D"
    # The window: the next whole minute (at least 5 s away) and CRON_MINUTES after it.
    now=$(date +%s)
    w0=$(( (now / 60 + 1) * 60 )); [ $(( w0 - now )) -lt 5 ] && w0=$(( w0 + 60 ))
    sleep $(( w0 - now - 2 ))
    "$B/bench_ticker" $(( CRON_MINUTES * 60 + 1 )) >"$TMP/cron-ticker.txt"
    sleep 5  # the last minute's runs
    stop_service
    rm -f "$CRON_FILE"
    if [ -n "$CRON_PID" ]; then kill -TERM "$CRON_PID"; wait "$CRON_PID" || true; CRON_PID=""; echo "  stopped cron"; fi
    $STATS cron "$TMP/cron-minute.stamps" "$TMP/cg-minute.stamps" "$TMP/cron-ticker.txt" \
      "$(( w0 * 1000000 ))" "$(( (w0 + CRON_MINUTES * 60) * 1000000 ))"
  fi
fi
