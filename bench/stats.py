#!/usr/bin/env python3
"""Figures for scripts/bench.sh from the raw files the benchmark programs write."""
import sys


def pct(xs, p):
    xs = sorted(xs)
    if not xs:
        return float("nan")
    k = (len(xs) - 1) * p / 100.0
    lo = int(k)
    hi = min(lo + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (k - lo)


def ms(us):
    return us / 1000.0


def ratio(a, b):
    return a / b if b else float("inf")


def percentile_table(ours, ref, ref_name):
    """p50, p99 and max of two lists of lateness (µs), in ms, with ratio and difference."""
    w = max(15, len(ref_name))
    print(f"  {'':10} {'ours (ms)':>12} {ref_name:>{w}} {'ratio':>8} {'diff (ms)':>10}")
    for name, p in (("p50", 50), ("p99", 99), ("max", 100)):
        a, b = ms(pct(ours, p)), ms(pct(ref, p))
        print(f"  {name:10} {a:12.3f} {b:{w}.3f} {ratio(a, b):8.1f} {a - b:10.3f}")


def lateness(stamps, ticker, w0, w1, jobs, seconds, floor=None):
    """Start lateness of the service's runs (stamps: START SCHED JOB) with scheduled
    time in [w0, w1), and of the bare clock_nanosleep loop (ticker: DEADLINE LATE).
    floor: stamps of a bare loop spawning `jobs` processes at each second."""
    ours = []
    for line in open(stamps):
        start, sched, _job = line.split()
        start, sched = int(start), int(sched)
        if w0 <= sched < w1:
            ours.append(start - sched)
    ref = [int(l.split()[1]) for l in open(ticker) if l.strip()]
    expected = jobs * seconds
    print(f"  runs started: {len(ours)} of {expected} slots in the window "
          f"({expected - len(ours)} not run)")
    percentile_table(ours, ref, "bare loop (ms)")
    d = ms(pct(ours, 99)) - ms(pct(ref, 99))
    print(f"  goal p99 within 2 ms of the bare loop: {'MET' if d <= 2 else 'MISSED'} "
          f"(p99 difference {d:.3f} ms)")
    if floor:
        fl = []
        for line in open(floor):
            start, sched, _job = line.split()
            fl.append(int(start) - int(sched))
        print(f"  floor: a bare loop posix_spawning {jobs} stamps at each second "
              f"({len(fl)} starts, run after the service)")
        percentile_table(ours, fl, "bare spawner (ms)")


def runnow(pairs, t0s, stamps):
    """pairs: RETURN START (service); t0s: one spawn instant per line, stamps the
    matching starts (reference)."""
    ours = [int(b) - int(a) for a, b in (l.split() for l in open(pairs) if l.strip())]
    t0 = [int(l) for l in open(t0s) if l.strip()]
    st = [int(l.split()[0]) for l in open(stamps) if l.strip()]
    ref = [s - t for s, t in zip(st, t0)]
    print(f"  n = {len(ours)} (service), {len(ref)} (posix_spawn)")
    print(f"  {'':10} {'ours (ms)':>12} {'posix_spawn (ms)':>17} {'ratio':>8}")
    for name, p in (("p50", 50), ("p99", 99), ("max", 100)):
        a, b = ms(pct(ours, p)), ms(pct(ref, p))
        print(f"  {name:10} {a:12.3f} {b:17.3f} {ratio(a, b):8.1f}")
    p99 = ms(pct(ours, 99))
    print(f"  goal p99 under 50 ms: {'MET' if p99 < 50 else 'MISSED'} ({p99:.3f} ms)")


def median_rate(*files):
    rates = [float(open(f).read().split()[0]) for f in files]
    return sorted(rates)[len(rates) // 2]


def kv(path):
    """key=value lines (several per line allowed) -> dict of strings."""
    d = {}
    for line in open(path):
        for tok in line.split():
            if "=" in tok:
                k, v = tok.split("=", 1)
                d[k] = v
    return d


def med(xs):
    xs = sorted(xs)
    return xs[len(xs) // 2] if xs else float("nan")


def scale(tmp, ns, idle_n):
    """Start-up, memory (from three starts per size) and idle cost (one start of the
    largest size), with their references; files as scripts/bench.sh names them."""
    print(f"  {'jobs':>7} {'events':>8} {'start-up (ms)':>14} {'open+scan (ms)':>15} {'ratio':>7}"
          f" {'replay (ms)':>12} {'VmRSS (MB)':>11} {'VmHWM (MB)':>11} {'RssAnon (MB)':>13}")
    base_rss = None
    rows = {}
    for n in ns:
        runs = [kv(f"{tmp}/scale{n}.start{i}") for i in (1, 2, 3)]
        scans = [kv(f"{tmp}/scale{n}.scan{i}") for i in (1, 2, 3)]
        replays = [kv(f"{tmp}/scale{n}.replay{i}") for i in (1, 2, 3)]
        fill = kv(f"{tmp}/scale{n}.fill")
        up = med([float(r["startup_s"]) for r in runs]) * 1000
        sc = med([float(r["wall_s"]) for r in scans]) * 1000
        rp = med([float(r["wall_s"]) for r in replays]) * 1000
        rss = med([int(r["VmRSS_kb"]) for r in runs]) / 1024
        hwm = med([int(r["VmHWM_kb"]) for r in runs]) / 1024
        anon = med([int(r["RssAnon_kb"]) for r in runs]) / 1024
        rows[n] = (up, sc, rss, hwm)
        if n == 0:
            base_rss = rss
        print(f"  {n:>7} {fill.get('events', '?'):>8} {up:14.1f} {sc:15.1f} {ratio(up, sc):7.1f}"
              f" {rp:12.1f} {rss:11.1f} {hwm:11.1f} {anon:13.1f}")
    sl = kv(f"{tmp}/sleep.rss")
    sleep_mb = int(sl["maxrss_kb"]) / 1024
    big = max(ns)
    up, sc, rss, hwm = rows[big]
    print(f"  reference for memory: `sleep` peak RSS {sleep_mb:.1f} MB; chronographd with 0 jobs"
          f" {base_rss:.1f} MB")
    if base_rss is not None and big:
        print(f"  per job above the empty service: {(hwm - base_rss) * 1048576 / big:,.0f} bytes"
              f" (VmHWM), {(rss - base_rss) * 1048576 / big:,.0f} bytes (VmRSS)")
    print(f"  goal start-up < 1 s with {big} jobs: {'MET' if up < 1000 else 'MISSED'} ({up:.0f} ms)")
    print(f"  goal resident < 50 MB with {big} jobs: {'MET' if max(rss, hwm) < 50 else 'MISSED'}"
          f" (VmRSS {rss:.1f} MB, peak VmHWM {hwm:.1f} MB)")
    idle = kv(f"{tmp}/scale{idle_n}.idle")
    w = float(idle["idle_window_s"])
    print(f"  idle window: {w:.1f} s, {idle_n} jobs defined, none due; watchdog pings heard:"
          f" {idle['watchdog_pings']} (WATCHDOG_USEC=30 s, so one every 15 s)")
    print(f"  {'':26} {'CPU (ms)':>9} {'CPU %':>8} {'wake-ups':>9} {'wake-ups/s':>11}")
    for who, label in (("service", "chronographd"), ("sleep", "reference: idle sleep"),
                       ("ticker", "reference: 1 Hz loop")):
        ns_ = int(idle[f"{who}_cpu_ns"])
        wk = int(idle[f"{who}_wakeups"])
        print(f"  {label:26} {ns_ / 1e6:9.2f} {100 * ns_ / 1e9 / w:8.4f} {wk:9d} {wk / w:11.2f}")
    cpu = 100 * int(idle["service_cpu_ns"]) / 1e9 / w
    print(f"  goal idle CPU < 0.1%: {'MET' if cpu < 0.1 else 'MISSED'} ({cpu:.4f}%)")


def heartbeat(path):
    d = kv(path)
    w = float(d["window_s"])
    n = int(d["runs"])
    print(f"  runs: {n}; running when measured: {d['shims_alive_start']} -> {d['shims_alive_end']};"
          f" all started {d['all_started_s']} s after the service was spawned")
    print(f"  {'':34} {'CPU ms/s':>9} {'% of 1 core':>12} {'wake-ups/s':>11}")
    rows = {}
    for who, label in (("shims", f"{n} run shims (ours)"), ("service", "chronographd"),
                       ("sleeps", f"reference: {n} bare sleep"),
                       ("toucher", f"reference: {n} utimensat/s, 1 process")):
        c = int(d[f"{who}_cpu_ns"]) / 1e6 / w
        wk = int(d[f"{who}_wakeups"]) / w
        rows[who] = c
        print(f"  {label:34} {c:9.2f} {c / 10:12.3f} {wk:11.1f}")
    ours = rows["shims"] + rows["service"]
    print(f"  ours (shims + service) vs 1 process doing the same utimensat calls: "
          f"{ours:.2f} vs {rows['toucher']:.2f} ms/s, ratio {ratio(ours, rows['toucher']):.1f}")
    print(f"  per run: {rows['shims'] / n * 1000:.1f} us CPU per second;"
          f" shims' memory: Pss {int(d['shims_pss_kb']) / 1024:.1f} MB in all,"
          f" private dirty {int(d['shims_private_dirty_kb']) / n:.0f} kB per shim")
    print(f"  afterwards: {d['recorded_stopped']} runs recorded as stopped,"
          f" {d['recorded_abandoned']} abandoned")


def cron(cron_stamps, cg_stamps, ticker, w0, w1):
    """Lateness of Debian cron's and chronograph's one-minute jobs (slots in [w0, w1)),
    and of the bare clock_nanosleep loop in the same run."""
    def load(path, minute_floor):
        out = []
        for line in open(path):
            start, sched, _job = line.split()
            start, sched = int(start), int(sched)
            if minute_floor or sched == 0:
                sched = start // 60000000 * 60000000
            if w0 <= sched < w1:
                out.append(start - sched)
        return out
    cr = load(cron_stamps, True)
    cg = load(cg_stamps, False)
    ref = [int(l.split()[1]) for l in open(ticker) if l.strip()]
    print(f"  samples: cron {len(cr)}, chronograph {len(cg)} (one per minute), bare loop {len(ref)}"
          f" (one per second)")
    print(f"  {'':6} {'chronograph (ms)':>17} {'cron (ms)':>11} {'bare loop (ms)':>15}"
          f" {'ours/cron':>10} {'ours/bare':>10}")
    for name, p in (("p50", 50), ("p99", 99), ("max", 100)):
        a, c, b = ms(pct(cg, p)), ms(pct(cr, p)), ms(pct(ref, p))
        print(f"  {name:6} {a:17.3f} {c:11.3f} {b:15.3f} {ratio(a, c):10.3f} {ratio(a, b):10.1f}")


def main():
    cmd = sys.argv[1]
    a = sys.argv[2:]
    if cmd == "lateness":
        lateness(a[0], a[1], int(a[2]), int(a[3]), int(a[4]), int(a[5]),
                 a[6] if len(a) > 6 else None)
    elif cmd == "runnow":
        runnow(a[0], a[1], a[2])
    elif cmd == "row":  # LABEL OURS REF UNIT: one table row with the ratio
        label, ours, ref, unit = a[0], float(a[1]), float(a[2]), a[3]
        print(f"  {label:34} {ours:14.1f} {ref:14.1f} {ratio(ours, ref):8.3f}  {unit}")
    elif cmd == "scale":  # TMP IDLE_N N...
        scale(a[0], [int(x) for x in a[2:]], int(a[1]))
    elif cmd == "heartbeat":
        heartbeat(a[0])
    elif cmd == "cron":
        cron(a[0], a[1], a[2], int(a[3]), int(a[4]))
    elif cmd == "median":
        print(median_rate(*a))
    else:
        sys.exit("unknown command")


if __name__ == "__main__":
    main()
