#!/usr/bin/python3
"""Compares chronograph's schedule expanders with independent implementations.

Usage: compare.py SCHEDULE_DUMP [--seed N] [--rrules N] [--crons N] [--fires N] [-v]

Generates random RRULEs (checked against python3-dateutil's rrule) and cron
expressions (checked against python3-croniter) with a fixed seed, in several time
zones, and compares the first fires at or after a random anchor. Run with Debian's
/usr/bin/python3, which has both packages.

The oracles work on naive ("floating") local times. This script maps their local
times to UTC with the DST rules of service/schedule.cc, independently, using the
standard library's zoneinfo:
  fixed-hour rules   a nonexistent local time fires at the transition instant
                     (gap_shifted), a repeated one at its first occurrence
                     (repeated_first_only), and a fire that coincides with an earlier
                     one is dropped;
  hourly or faster   every instant whose local reading the rule produces (both passes
                     of a repeated hour, nothing for nonexistent readings).

Known error classes of the oracles (shared TIME.md) are kept out of the generated
rules: BYDAY mixing plain and numbered days; sets that are empty at sub-daily
frequencies (dateutil loops until a time-out); out-of-range BYDAY ordinals;
croniter's reading of a '*'-prefixed day field such as '*/2' as restricted. Also kept
out, found while writing this: croniter reads a day field listing every day ("1-31",
"mon-sun") as unrestricted, where Vixie cron looks only for a leading '*'; croniter
raises on a restricted day-of-month that a restricted month never has ("0 0 30 2 5"
should fire on Fridays of February); croniter misreads day-of-week 7 when there is a
seconds field (Sundays are skipped) or a restricted day-of-month (it raises).
One more dateutil error class was found here: for FREQ=WEEKLY it builds the first
period from DTSTART's day to the end of that week, so BYSETPOS counts within a
shortened first week; RFC 5545 (and dateutil itself for MONTHLY and YEARLY periods)
counts within the whole period. For WEEKLY rules with BYSETPOS the oracle is dateutil
run from the start of DTSTART's week (see oracle_rrule_whole_first_week); rules where
that changes dateutil's answer are counted and shown as "oracle faults".

A rule we reject with "schedule never fires" agrees when the oracle finds nothing (or
loops until its time-out, ORACLE_SECONDS); such rules are counted as "empty on both
sides". A time-out on a rule we accept is counted as skipped, never as a pass.

date/tz reads the system TZif files without their POSIX-TZ footer, so it knows no
DST after the last listed transition (2037); zoneinfo does. Fires from 2037 on are
not compared in zones other than UTC.

Exit status: 0 when every rule agrees, 1 otherwise.
"""

import argparse
import itertools
import math
import random
import signal
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from croniter import croniter
from dateutil.rrule import rrulestr

UTC = timezone.utc
ZONES = [
    "UTC", "UTC", "Europe/Berlin", "Europe/Berlin", "America/New_York", "America/New_York",
    "Australia/Lord_Howe",   # 30-minute DST shift
    "America/Santiago",      # transitions at local midnight
    "Asia/Kolkata",          # +05:30, no DST
    "Pacific/Chatham",       # +12:45 / +13:45
    "America/Havana",        # transitions at local midnight
]
DST_LIMIT = datetime(2037, 1, 1, tzinfo=UTC)
WEEKDAYS = ["MO", "TU", "WE", "TH", "FR", "SA", "SU"]
CRON_MONTHS = ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV",
               "DEC"]
CRON_DAYS = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"]
ORACLE_SECONDS = 1.5  # per rule; dateutil loops on some empty rules


class OracleTimeout(Exception):
    pass


def _on_alarm(signum, frame):
    raise OracleTimeout()


# --- time-zone mapping (the DST rules, written independently of the C++) ---------------

def local_reading(u, zone):
    return u.astimezone(zone).replace(tzinfo=None)


def classify(local, zone):
    """('unique', u) | ('ambiguous', first, second) | ('gap', transition)."""
    u0 = local.replace(tzinfo=zone, fold=0).astimezone(UTC)
    u1 = local.replace(tzinfo=zone, fold=1).astimezone(UTC)
    if u0 == u1:
        return ("unique", u0)
    ok0 = local_reading(u0, zone) == local
    ok1 = local_reading(u1, zone) == local
    if ok0 and ok1:
        return ("ambiguous", min(u0, u1), max(u0, u1))
    # In a gap: the offset changes somewhere in (lo, hi]; find the first instant with
    # the later offset.
    lo, hi = min(u0, u1), max(u0, u1)
    after = hi.astimezone(zone).utcoffset()
    while (hi - lo) > timedelta(seconds=1):
        mid = lo + timedelta(seconds=math.floor((hi - lo).total_seconds() / 2))
        if mid.astimezone(zone).utcoffset() == after:
            hi = mid
        else:
            lo = mid
    return ("gap", hi)


def expected_fires(locals_list, exhausted, zone, rhythmic, anchor):
    """Fires (utc, local, adjust) at or after `anchor` from the oracle's local times,
    and the instant before which that list is complete."""
    fires = []
    if rhythmic:
        for local in locals_list:
            c = classify(local, zone)
            if c[0] == "unique":
                fires.append((c[1], local, "none"))
            elif c[0] == "ambiguous":
                fires.append((c[1], local, "none"))
                fires.append((c[2], local, "none"))
        fires.sort(key=lambda f: f[0])
        # Later local times can land up to the length of a fold (<= 1 h) earlier.
        slack = timedelta(hours=2)
    else:
        last = None
        for local in locals_list:
            c = classify(local, zone)
            adjust = {"unique": "none", "ambiguous": "repeated_first_only",
                      "gap": "gap_shifted"}[c[0]]
            u = c[1]
            if last is not None and u <= last:
                continue  # coincides with an earlier fire: one fire only
            fires.append((u, local, adjust))
            last = u
        slack = timedelta(0)
    if exhausted or not fires:
        complete_before = datetime.max.replace(tzinfo=UTC) if exhausted else anchor
    else:
        last_local = locals_list[-1]
        complete_before = classify(last_local, zone)[1] - slack
    fires = [f for f in fires if f[0] >= anchor]
    return fires, complete_before


# --- RRULE generation -------------------------------------------------------------------

def pick(rng, values, k_max=3):
    k = rng.randint(1, k_max)
    return sorted(set(rng.choice(values) for _ in range(k)))


def join(values):
    return ",".join(str(v) for v in values)


def gen_rrule(rng, dtstart, dst_hour=None):
    """A random RFC-valid RRULE outside dateutil's known error classes; with `dst_hour`
    (the local hour a nearby DST transition skips or repeats) often one that fires then.
    Returns (text, rhythmic)."""
    freq = rng.choice(["YEARLY", "YEARLY", "MONTHLY", "MONTHLY", "WEEKLY", "WEEKLY", "DAILY",
                       "DAILY", "HOURLY", "HOURLY", "MINUTELY", "MINUTELY", "SECONDLY"])
    if dst_hour is not None and rng.random() < 0.4:
        freq = rng.choice(["DAILY", "DAILY", "HOURLY", "MINUTELY"])
    parts = ["FREQ=" + freq]
    by = {}
    sub_daily = freq in ("HOURLY", "MINUTELY", "SECONDLY")
    interval = 1
    if sub_daily:
        interval = rng.choice({
            "HOURLY": [1, 1, 2, 3, 5, 7, 9, 13, 16, 25],
            "MINUTELY": [1, 1, 2, 5, 7, 10, 15, 20, 45, 90, 150],
            "SECONDLY": [1, 1, 2, 5, 7, 15, 30, 45, 90, 3601]}[freq])
    elif rng.random() < 0.35:
        interval = rng.randint(2, 4)
    if interval > 1:
        parts.append("INTERVAL=%d" % interval)

    time_limits = False
    if sub_daily:
        # Time limits only on values the INTERVAL grid reaches (else the set is empty,
        # which dateutil cannot handle).
        unit = {"HOURLY": 3600, "MINUTELY": 60, "SECONDLY": 1}[freq]
        step = interval * unit
        g = math.gcd(step, 86400)
        start_sod = (dtstart.hour * 3600 + dtstart.minute * 60 + dtstart.second) // unit * unit
        reachable = list(range(start_sod % g, 86400, g))
        if rng.random() < 0.4:
            time_limits = True
            chosen = [rng.choice(reachable) for _ in range(rng.randint(1, 3))]
            by["BYHOUR"] = sorted(set(s // 3600 for s in chosen))
            if freq in ("MINUTELY", "SECONDLY") and rng.random() < 0.6:
                by["BYMINUTE"] = sorted(set(s // 60 % 60 for s in chosen))
            if freq == "SECONDLY" and rng.random() < 0.6:
                by["BYSECOND"] = sorted(set(s % 60 for s in chosen))
        elif freq in ("MINUTELY", "SECONDLY") and rng.random() < 0.3:
            time_limits = True
            chosen = [rng.choice(reachable) for _ in range(rng.randint(1, 4))]
            by["BYMINUTE"] = sorted(set(s // 60 % 60 for s in chosen))
        # Expansions within the period.
        if freq == "HOURLY" and rng.random() < 0.5:
            by["BYMINUTE"] = pick(rng, range(60), 3)
        if freq == "HOURLY" and rng.random() < 0.3:
            by["BYSECOND"] = pick(rng, range(60), 2)
        if freq == "MINUTELY" and rng.random() < 0.4:
            by["BYSECOND"] = pick(rng, range(60), 3)
    else:
        if dst_hour is not None and rng.random() < 0.7:
            by["BYHOUR"] = sorted(set(pick(rng, range(24), 2) + [dst_hour]))
        elif rng.random() < 0.5:
            by["BYHOUR"] = pick(rng, range(24), 3)
        if rng.random() < 0.4:
            by["BYMINUTE"] = pick(rng, range(60), 2)
        if rng.random() < 0.3:
            by["BYSECOND"] = pick(rng, range(60), 2)

    # Day parts; with a time-limited sub-daily grid none (day and time residues of the
    # grid could never meet).
    if not (sub_daily and time_limits and interval > 1):
        p_day = 0.35 if sub_daily else 1.0
        if freq == "YEARLY":
            kind = rng.choice(["month", "monthday", "month+monthday", "month+day", "day",
                               "ordday", "month+ordday", "yearday", "weekno", "weekno+day",
                               "monthday+day", "none"])
            if "month" in kind.split("+"):
                by["BYMONTH"] = pick(rng, range(1, 13), 3)
            if "monthday" in kind.split("+"):
                by["BYMONTHDAY"] = pick(rng, list(range(1, 29)) + list(range(-28, 0)), 3)
            if "day" in kind.split("+"):
                by["BYDAY"] = pick(rng, WEEKDAYS, 3)
            if kind == "ordday":
                by["BYDAY"] = ["%d%s" % (rng.choice([1, 2, 3, 10, 20, 52, -1, -2, -10, -52]),
                                         rng.choice(WEEKDAYS)) for _ in range(rng.randint(1, 2))]
            if kind == "month+ordday":
                by["BYDAY"] = ["%d%s" % (rng.choice([1, 2, 3, 4, -1, -2]), rng.choice(WEEKDAYS))
                               for _ in range(rng.randint(1, 2))]
            if kind == "yearday":
                by["BYYEARDAY"] = pick(rng, list(range(1, 366)) + list(range(-365, 0)), 3)
            if kind.startswith("weekno"):
                by["BYWEEKNO"] = pick(rng, list(range(1, 53)) + [-1, -2, -10, -51], 2)
        elif freq == "MONTHLY":
            kind = rng.choice(["monthday", "day", "ordday", "monthday+day", "month+monthday",
                               "month+ordday", "none"])
            if "month" in kind.split("+"):
                by["BYMONTH"] = pick(rng, range(1, 13), 4)
            if "monthday" in kind.split("+"):
                by["BYMONTHDAY"] = pick(rng, list(range(1, 32)) + list(range(-31, 0)), 4)
            if "day" in kind.split("+"):
                by["BYDAY"] = pick(rng, WEEKDAYS, 3)
            if "ordday" in kind.split("+"):
                by["BYDAY"] = ["%d%s" % (rng.choice([1, 2, 3, 4, -1, -2, -4]), rng.choice(WEEKDAYS))
                               for _ in range(rng.randint(1, 3))]
        elif rng.random() < p_day:
            kind = rng.choice(["day", "month", "month+day", "monthday", "yearday", "none"])
            if "day" in kind.split("+"):
                by["BYDAY"] = pick(rng, WEEKDAYS, 4)
            if "month" in kind.split("+"):
                by["BYMONTH"] = pick(rng, range(1, 13), 6)
            if kind == "monthday" and freq != "WEEKLY":
                by["BYMONTHDAY"] = pick(rng, list(range(1, 29)) + list(range(-28, 0)), 4)
            if kind == "yearday" and sub_daily:
                by["BYYEARDAY"] = pick(rng, list(range(1, 366)) + list(range(-365, 0)), 6)

    if by and rng.random() < 0.25:
        if freq == "SECONDLY":
            by["BYSETPOS"] = [rng.choice([1, -1])]
        elif freq == "MINUTELY":
            n = len(by.get("BYSECOND", [0]))
            by["BYSETPOS"] = pick(rng, [i for i in range(-n, n + 1) if i], 2)
        elif freq == "HOURLY":
            n = len(by.get("BYMINUTE", [0])) * len(by.get("BYSECOND", [0]))
            by["BYSETPOS"] = pick(rng, [i for i in range(-n, n + 1) if i], 2)
        elif freq == "DAILY":
            n = len(by.get("BYHOUR", [0])) * len(by.get("BYMINUTE", [0])) * len(
                by.get("BYSECOND", [0]))
            by["BYSETPOS"] = pick(rng, [i for i in range(-n, n + 1) if i], 2)
        else:
            by["BYSETPOS"] = pick(rng, [1, 2, 3, -1, -2, -3], 2)
    if rng.random() < 0.2 and freq in ("WEEKLY", "YEARLY", "MONTHLY"):
        parts.append("WKST=" + rng.choice(WEEKDAYS))
    for key in ["BYMONTH", "BYWEEKNO", "BYYEARDAY", "BYMONTHDAY", "BYDAY", "BYHOUR", "BYMINUTE",
                "BYSECOND", "BYSETPOS"]:
        if key in by:
            parts.append("%s=%s" % (key, join(by[key])))
    r = rng.random()
    if r < 0.3:
        parts.append("COUNT=%d" % rng.randint(1, 40))
    elif r < 0.45:
        span = {"YEARLY": 3000, "MONTHLY": 400, "WEEKLY": 120, "DAILY": 30, "HOURLY": 3,
                "MINUTELY": 0.2, "SECONDLY": 0.01}[freq]
        until = dtstart + timedelta(days=rng.uniform(0, span))
        parts.append("UNTIL=" + until.strftime("%Y%m%dT%H%M%S"))
    rng.shuffle(parts)
    rhythmic = sub_daily and "BYHOUR" not in by
    return ";".join(parts), rhythmic


def oracle_rrule(text, dtstart, want):
    rule = rrulestr(text, dtstart=dtstart)
    out = []
    exhausted = True
    for occ in itertools.islice(rule, want + 1):
        out.append(occ)
        if occ.year > 2045:
            break
    if len(out) > want or (out and out[-1].year > 2045):
        exhausted = False
        out = out[:want]
    return out, exhausted


def oracle_rrule_whole_first_week(text, dtstart, want):
    """dateutil for FREQ=WEEKLY with BYSETPOS, its first period made whole: DTSTART moved
    back to the start of its week (same time of day, and its weekday made explicit as
    the default BYDAY), occurrences before the real DTSTART dropped and COUNT applied
    here."""
    parts = text.split(";")
    count = None
    wkst = 0
    keep = []
    for part in parts:
        if part.startswith("COUNT="):
            count = int(part[6:])
            continue
        if part.startswith("WKST="):
            wkst = WEEKDAYS.index(part[5:])
        keep.append(part)
    if not any(part.startswith("BYDAY=") for part in parts):
        keep.append("BYDAY=" + WEEKDAYS[dtstart.weekday()])
    start = dtstart - timedelta(days=(dtstart.weekday() - wkst) % 7)
    out = []
    exhausted = True
    for occ in rrulestr(";".join(keep), dtstart=start):
        if occ < dtstart:
            continue
        out.append(occ)
        if count is not None and len(out) == count:
            break
        if len(out) > want or occ.year > 2045:
            exhausted = False
            out = out[:want]
            break
    return out, exhausted


# --- cron generation --------------------------------------------------------------------

def cron_field(rng, lo, hi, names=None, star_weight=0.3, allow_star_step=True, field_max=None):
    """Returns (text, values). `hi` may be below the field's maximum `field_max`; then
    the open "N/S" form (which runs to the field's maximum) is not used."""
    def name(v):
        if names is None or rng.random() < 0.6:
            return str(v)
        n = names[v % len(names)] if names is CRON_DAYS else names[v - 1]
        return rng.choice([n, n.lower(), n.title()])
    top = hi
    r = rng.random()
    if r < star_weight:
        return "*", set(range(lo, hi + 1))
    r = rng.random()
    if allow_star_step and r < 0.2:
        step = rng.randint(1, max(1, (top - lo + 1) // 2 + 1))
        return "*/%d" % step, set(range(lo, hi + 1, step))
    if r < 0.45:
        v = rng.randint(lo, top)
        return name(v), {v}
    if r < 0.7:
        vals = sorted(set(rng.randint(lo, top) for _ in range(rng.randint(2, 4))))
        return ",".join(name(v) for v in vals), set(vals)
    a = rng.randint(lo, top)
    b = rng.randint(a, top)
    if r < 0.85:
        return "%s-%s" % (name(a), name(b)), set(range(a, b + 1))
    step = rng.randint(1, max(1, b - a + 1))
    if r < 0.93 or (field_max is not None and field_max != hi):
        return "%s-%s/%d" % (name(a), name(b), step), set(range(a, b + 1, step))
    return "%d/%d" % (a, step), set(range(a, hi + 1, step))


def gen_cron(rng, dst_hour=None):
    """A random cron expression outside croniter's known corners; with `dst_hour` often
    one that fires in the hour a nearby DST transition skips or repeats. Returns (ours,
    croniter's form, rhythmic)."""
    if rng.random() < 0.05:
        macro = rng.choice(["@yearly", "@annually", "@monthly", "@weekly", "@daily",
                            "@midnight", "@hourly"])
        return macro, macro, macro == "@hourly"
    six = rng.random() < 0.25
    second, _ = cron_field(rng, 0, 59, star_weight=0.15)
    minute, _ = cron_field(rng, 0, 59, star_weight=0.2 if six else 0.1)
    hour, hours = cron_field(rng, 0, 23, star_weight=0.35)
    if dst_hour is not None and hours != set(range(24)) and rng.random() < 0.7:
        hours = {dst_hour} | set(rng.sample(range(24), rng.randint(0, 2)))
        hour = ",".join(str(h) for h in sorted(hours))
    elif dst_hour is not None and rng.random() < 0.3:
        # Hourly or faster, sparse enough within the hour to reach the transition.
        hour, hours = "*", set(range(24))
        minute = ",".join(str(m) for m in sorted(set(rng.sample(range(60), rng.randint(1, 3)))))
    month, months = cron_field(rng, 1, 12, CRON_MONTHS, star_weight=0.6)
    # Day fields: '*' alone or no '*' prefix (croniter reads '*/2' as restricted).
    max_dom = 28 if month != "*" else 31
    dom, doms = cron_field(rng, 1, max_dom, star_weight=0.6, allow_star_step=False)
    # croniter misreads day-of-week 7 (and SUN closing a range) when the expression has
    # a seconds field (it skips Sundays) or a restricted day-of-month (it raises): use
    # 0..6 there.
    seven_ok = not six and dom == "*"
    dow, dows = cron_field(rng, 0, 7 if seven_ok else 6, CRON_DAYS, star_weight=0.6,
                           allow_star_step=False, field_max=7)
    if dow != "*" and rng.random() < 0.5:
        # Vary the day-of-week forms more: 7 and SUN at the end of ranges.
        forms = [("SUN", {0}), ("1-5", {1, 2, 3, 4, 5}), ("MON-FRI/2", {1, 3, 5}), (dow, dows)]
        if seven_ok:
            forms += [("7", {7}), ("mon-sun", set(range(1, 8))), ("5-7", {5, 6, 7}),
                      ("sat-sun", {6, 7})]
        dow, dows = rng.choice(forms)
    # croniter reads a day field that lists every day as unrestricted; Vixie cron (and
    # chronograph) only a field starting with '*'. Keep that corner out when the other
    # day field is restricted.
    dows = {d % 7 for d in dows}
    if dom != "*" and dow != "*":
        if doms >= set(range(1, 32)):
            dom = "*"
        if dows == set(range(7)):
            dow = "*"
    if six and rng.random() < 0.5:
        # Every-second expressions are costly for croniter; keep them within one hour.
        hour = str(rng.randint(0, 23))
        hours = {int(hour)}
    rhythmic = hours == set(range(24))
    fields = [minute, hour, dom, month, dow]
    ours = " ".join(([second] if six else []) + fields)
    theirs = " ".join(fields + ([second] if six else []))
    return ours, theirs, rhythmic


def oracle_cron(expr, start, want):
    it = croniter(expr, start)
    out = []
    exhausted = False
    while len(out) < want:
        occ = it.get_next(datetime)
        out.append(occ)
        if occ.year > 2045:
            break
    return out, exhausted


# --- driver -------------------------------------------------------------------------------

def random_anchor(rng, zone_name):
    zone = ZoneInfo(zone_name)
    year = rng.randint(2021, 2033)
    if rng.random() < 0.5 and zone_name not in ("UTC", "Asia/Kolkata"):
        # Near a transition: find the offset changes of that year, pick one.
        t = datetime(year, 1, 1, tzinfo=UTC)
        changes = []
        prev = t.astimezone(zone).utcoffset()
        for h in range(0, 366 * 24, 6):
            u = t + timedelta(hours=h)
            off = u.astimezone(zone).utcoffset()
            if off != prev:
                changes.append(u)
                prev = off
        if changes:
            # Refine to the second, then start a little before it.
            base = rng.choice(changes)
            lo, hi = base - timedelta(hours=6), base
            while hi - lo > timedelta(seconds=1):
                mid = lo + (hi - lo) / 2
                if mid.astimezone(zone).utcoffset() == base.astimezone(zone).utcoffset():
                    hi = mid
                else:
                    lo = mid
            transition = hi.replace(microsecond=0)
            if rng.random() < 0.5:
                u = transition + timedelta(seconds=rng.randint(-3 * 3600, 3600))
            else:
                u = transition + timedelta(seconds=rng.randint(-3 * 86400, 86400))
            # The local hour that the transition skips or repeats.
            before = local_reading(transition - timedelta(seconds=1), zone) + timedelta(seconds=1)
            after = local_reading(transition, zone)
            return u, min(before, after).hour
    return datetime(year, 1, 1, tzinfo=UTC) + timedelta(seconds=rng.randint(0, 365 * 86400)), None


def fmt_fire(f):
    return "%s/%s/%s" % (f[0].strftime("%Y-%m-%dT%H:%M:%SZ"), f[1].strftime("%Y-%m-%dT%H:%M:%S"),
                         f[2])


def parse_ours(line):
    cols = line.rstrip("\n").split("\t")
    if cols[0] == "ERR":
        return None, cols[1] if len(cols) > 1 else ""
    fires = []
    for c in cols[1:]:
        u, loc, adj = c.split("/")
        fires.append((datetime.strptime(u, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC),
                      datetime.strptime(loc, "%Y-%m-%dT%H:%M:%S"), adj))
    return fires, None


def compare(ours, exp, complete_before, ours_truncated):
    """Compares the fires before `complete_before` (where the oracle's list is complete).
    `ours_truncated`: our list stopped at the count asked for, not at the rule's end."""
    a = [f for f in exp if f[0] < complete_before]
    b = [f for f in ours if f[0] < complete_before]
    if ours_truncated and ours and ours[-1][0] < complete_before:
        return a[:len(b)] == b, a[:len(b)], b
    return a == b, a, b


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("dump")
    ap.add_argument("--seed", type=int, default=20260329)
    ap.add_argument("--rrules", type=int, default=400)
    ap.add_argument("--crons", type=int, default=400)
    ap.add_argument("--fires", type=int, default=30)
    ap.add_argument("-v", "--verbose", action="store_true")
    args = ap.parse_args()
    rng = random.Random(args.seed)
    n = args.fires
    started = time.time()
    signal.signal(signal.SIGALRM, _on_alarm)

    cases = []  # (kind, ours_spec, tz, anchor, oracle callable, rhythmic)
    for i in range(args.rrules):
        tz = rng.choice(ZONES)
        anchor, dst_hour = random_anchor(rng, tz)
        zone = ZoneInfo(tz)
        dtstart = local_reading(anchor, zone)
        text, rhythmic = gen_rrule(rng, dtstart, dst_hour)
        spec = text
        if rng.random() < 0.15:
            # Give DTSTART in the rule instead of through the anchor.
            dtstart = dtstart + timedelta(days=rng.randint(0, 3))
            form = rng.choice(["inline", "line"])
            stamp = dtstart.strftime("%Y%m%dT%H%M%S")
            spec = ("DTSTART=%s;%s" % (stamp, text) if form == "inline"
                    else "DTSTART:%s\\nRRULE:%s" % (stamp, text))
        want = 2 * n + 10

        def oracle(text=text, dtstart=dtstart, want=want):
            return oracle_rrule(text, dtstart, want)
        if "FREQ=WEEKLY" in text and "BYSETPOS" in text:
            # dateutil builds the first WEEKLY period from DTSTART's day to the end of
            # the week, so BYSETPOS counts in a shortened week; RFC 5545 counts in the
            # whole week, as dateutil itself does for MONTHLY and YEARLY periods.
            raw = oracle

            def oracle(text=text, dtstart=dtstart, want=want):
                return oracle_rrule_whole_first_week(text, dtstart, want)
            oracle.raw = raw
        cases.append(("rrule", spec, tz, anchor, oracle, rhythmic, text, dtstart))
    for i in range(args.crons):
        tz = rng.choice(ZONES)
        anchor, dst_hour = random_anchor(rng, tz)
        ours, theirs, rhythmic = gen_cron(rng, dst_hour)
        zone = ZoneInfo(tz)
        # Near a repeated hour, an hourly-or-faster rule fires in its second pass for
        # local readings before the anchor's: start two hours early there (the extra
        # fires are filtered out). Elsewhere, start just before the anchor's reading.
        early = timedelta(seconds=1)
        if rhythmic and (anchor - timedelta(hours=2)).astimezone(zone).utcoffset() != \
                (anchor + timedelta(hours=2)).astimezone(zone).utcoffset():
            early = timedelta(hours=2, seconds=1)
        start = local_reading(anchor - early, zone)
        want = 2 * n + 10 + int(early.total_seconds()) // (1 if ours.count(" ") == 5 else 60)

        def oracle(theirs=theirs, start=start, want=want):
            return oracle_cron(theirs, start, want)
        cases.append(("cron", ours, tz, anchor, oracle, rhythmic, theirs, None))

    stdin = "".join("%s\t%s\t%s\t%d\n" % (c[1], c[2], c[3].strftime("%Y-%m-%dT%H:%M:%SZ"), n)
                    for c in cases)
    proc = subprocess.run([args.dump], input=stdin, capture_output=True, text=True, check=True)
    lines = proc.stdout.splitlines()
    assert len(lines) == len(cases), (len(lines), len(cases))

    stats = {}
    mismatches = []
    faults = []
    for case, line in zip(cases, lines):
        kind, spec, tz, anchor, oracle, rhythmic, oracle_text, dtstart = case
        st = stats.setdefault(kind, {"compared": 0, "fires": 0, "agree": 0, "mismatch": 0,
                                     "empty_agreed": 0, "oracle_failed": 0, "oracle_fault": 0})
        zone = ZoneInfo(tz)
        ours, err = parse_ours(line)
        t0 = time.time()
        signal.setitimer(signal.ITIMER_REAL, ORACLE_SECONDS)
        try:
            locals_list, exhausted = oracle()
            oracle_error = None
        except OracleTimeout:
            oracle_error = "timeout"
        except Exception as e:  # croniter raises on rules it cannot expand
            oracle_error = "%s: %s" % (type(e).__name__, e)
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
            st["oracle_seconds"] = st.get("oracle_seconds", 0) + time.time() - t0
        if oracle_error is not None:
            if err == "schedule never fires" and oracle_error == "timeout":
                st["empty_agreed"] += 1
                if args.verbose:
                    print("empty on both sides (oracle timed out): %s [%s]" % (spec, tz))
            else:
                st["oracle_failed"] += 1
                if args.verbose:
                    print("oracle failed (%s): %s [%s] ours=%s" % (oracle_error, spec, tz,
                                                                  err or "ok"))
            continue
        exp, complete_before = expected_fires(locals_list, exhausted, zone, rhythmic, anchor)
        if tz != "UTC":
            complete_before = min(complete_before, DST_LIMIT)
        st["compared"] += 1
        if err is not None:
            if err == "schedule never fires" and not exp and exhausted:
                st["empty_agreed"] += 1
                st["compared"] -= 1
                continue
            st["mismatch"] += 1
            mismatches.append((kind, spec, tz, anchor, oracle_text, "ours: ERR " + err,
                               [fmt_fire(f) for f in exp[:5]]))
            continue
        ok, a, b = compare(ours, exp, complete_before, len(ours) == n)
        raw = getattr(oracle, "raw", None)
        if ok and raw is not None:
            raw_exp, raw_complete = expected_fires(*raw(), zone, rhythmic, anchor)
            raw_ok, raw_a, _ = compare(ours, raw_exp, min(raw_complete, complete_before),
                                       len(ours) == n)
            if not raw_ok:
                st["oracle_fault"] += 1
                faults.append((spec, tz, anchor, b[:1], raw_a[:1]))
        st["fires"] += len(b)
        for f in b:
            st[f[2]] = st.get(f[2], 0) + 1
        if rhythmic and len({f[1] for f in b}) < len(b):
            st["rhythmic_repeats"] = st.get("rhythmic_repeats", 0) + 1
        if ok:
            st["agree"] += 1
        else:
            st["mismatch"] += 1
            first = next((i for i in range(max(len(a), len(b)))
                          if i >= len(a) or i >= len(b) or a[i] != b[i]), 0)
            mismatches.append((kind, spec, tz, anchor, oracle_text,
                               "at fire #%d: ours %s, oracle %s" % (
                                   first, fmt_fire(b[first]) if first < len(b) else "-",
                                   fmt_fire(a[first]) if first < len(a) else "-"),
                               None))

    for kind in ("rrule", "cron"):
        st = stats.get(kind)
        if not st:
            continue
        print("%-5s: %d rules compared (%d fires), %d agree, %d mismatches, %d oracle faults; "
              "%d empty on both sides; %d skipped (oracle failed)" % (
                  kind, st["compared"], st["fires"], st["agree"], st["mismatch"],
                  st["oracle_fault"], st["empty_agreed"], st["oracle_failed"]))
        print("       DST cases among the fires compared: %d gap_shifted, %d repeated_first_only, "
              "%d hourly-or-faster rules firing in both passes of a repeated hour" % (
                  st.get("gap_shifted", 0), st.get("repeated_first_only", 0),
                  st.get("rhythmic_repeats", 0)))
    for spec, tz, anchor, ours_first, theirs_first in faults[:3]:
        print("ORACLE FAULT (dateutil's shortened first WEEKLY period for BYSETPOS) %r tz=%s "
              "anchor=%s: ours and corrected oracle %s, dateutil %s" % (spec, tz, anchor.strftime("%Y-%m-%dT%H:%M:%SZ"),
                               [fmt_fire(f) for f in ours_first],
                               [fmt_fire(f) for f in theirs_first]))
    for m in mismatches[:40]:
        kind, spec, tz, anchor, oracle_text, what, extra = m
        print("MISMATCH %s %r tz=%s anchor=%s (oracle: %r): %s%s" % (
            kind, spec, tz, anchor.strftime("%Y-%m-%dT%H:%M:%SZ"), oracle_text, what,
            (" oracle first: %s" % extra) if extra is not None else ""))
    print("%.1f s (oracles: %s)" % (time.time() - started, ", ".join(
        "%s %.1f s" % (k, v.get("oracle_seconds", 0)) for k, v in stats.items())))
    total_mismatch = sum(s["mismatch"] for s in stats.values())
    total_compared = sum(s["compared"] for s in stats.values())
    print("%d passed, %d failed" % (total_compared - total_mismatch, total_mismatch))
    return 1 if total_mismatch else 0


if __name__ == "__main__":
    sys.exit(main())
