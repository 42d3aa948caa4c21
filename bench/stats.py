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
    print(f"  {'':10} {'ours (ms)':>12} {'bare loop (ms)':>15} {'ratio':>8} {'diff (ms)':>10}")
    for name, p in (("p50", 50), ("p99", 99), ("max", 100)):
        a, b = ms(pct(ours, p)), ms(pct(ref, p))
        print(f"  {name:10} {a:12.3f} {b:15.3f} {ratio(a, b):8.1f} {a - b:10.3f}")
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
        print(f"  {'':10} {'ours (ms)':>12} {'bare spawner (ms)':>18} {'ratio':>8} {'diff (ms)':>10}")
        for name, p in (("p50", 50), ("p99", 99), ("max", 100)):
            a, b = ms(pct(ours, p)), ms(pct(fl, p))
            print(f"  {name:10} {a:12.3f} {b:18.3f} {ratio(a, b):8.1f} {a - b:10.3f}")


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
    elif cmd == "median":
        print(median_rate(*a))
    else:
        sys.exit("unknown command")


if __name__ == "__main__":
    main()
