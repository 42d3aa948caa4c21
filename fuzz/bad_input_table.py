#!/usr/bin/env python3
# Runs chronotool with every bad input of the README table "What bad input gets" and
# prints the table (input, exit status, first line of the message) as Markdown.
# Usage: fuzz/bad_input_table.py build/bin/chronotool
import subprocess, os, tempfile, sys
tool = sys.argv[1]
d = tempfile.mkdtemp()
data = os.path.join(d, 'data')
env = dict(os.environ, ASAN_OPTIONS='detect_leaks=0')
def run(args):
    r = subprocess.run([tool, '--data', data] + args, capture_output=True, env=env)
    return r.returncode, r.stdout.decode('utf-8', 'replace'), r.stderr.decode('utf-8', 'replace')
rc, o, e = run(['job','add','backup','--schedule','0 3 * * *','--','/bin/true'])
assert rc == 0, e
A = ['job','add','x','--schedule']
cases = [
 ('cron: minute out of range', A+['61 * * * *','--','/bin/true']),
 ('cron: 4 fields', A+['* * * *','--','/bin/true']),
 ('cron: 7 fields', A+['0 0 0 * * * *','--','/bin/true']),
 ('cron: bad month name', A+['0 3 * FOO *','--','/bin/true']),
 ('cron: step 0', A+['*/0 * * * *','--','/bin/true']),
 ('cron: reversed range', A+['0 5-2 * * *','--','/bin/true']),
 ('cron: weekday 8', A+['0 3 * * 8','--','/bin/true']),
 ('cron: never fires (Feb 30)', A+['0 0 30 2 *','--','/bin/true']),
 ('cron: unknown macro', A+['@fortnightly','--','/bin/true']),
 ('cron: empty list item', A+['1,,2 * * * *','--','/bin/true']),
 ('RRULE: unknown FREQ', A+['FREQ=SOMETIMES','--','/bin/true']),
 ('RRULE: no FREQ', A+['RRULE:INTERVAL=2','--','/bin/true']),
 ('RRULE: unknown part', A+['FREQ=DAILY;FREQQ=2','--','/bin/true']),
 ('RRULE: BYDAY XX', A+['FREQ=WEEKLY;BYDAY=XX','--','/bin/true']),
 ('RRULE: BYMONTHDAY 0', A+['FREQ=MONTHLY;BYMONTHDAY=0','--','/bin/true']),
 ('RRULE: INTERVAL 0', A+['FREQ=DAILY;INTERVAL=0','--','/bin/true']),
 ('RRULE: COUNT and UNTIL', A+['FREQ=DAILY;COUNT=3;UNTIL=20270101T000000Z','--','/bin/true']),
 ('RRULE: COUNT too large', A+['FREQ=DAILY;COUNT=99999999999','--','/bin/true']),
 ('RRULE: BYWEEKNO with MONTHLY', A+['FREQ=MONTHLY;BYWEEKNO=3','--','/bin/true']),
 ('RRULE: bad DTSTART', A+['DTSTART=20261340T000000;FREQ=DAILY','--','/bin/true']),
 ('RRULE: never fires', A+['FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=30','--','/bin/true']),
 ('seed form: bad param', A+['HOURLY interval:x','--','/bin/true']),
 ('seed form: unknown key', A+['DAILY byfoo:1','--','/bin/true']),
 ('empty schedule', A+['','--','/bin/true']),
 ('unknown time zone', A+['@daily','--tz','Mars/Base','--','/bin/true']),
 ('--timeout negative', A+['@daily','--timeout','-5s','--','/bin/true']),
 ('--timeout unknown unit', A+['@daily','--timeout','5 parsecs','--','/bin/true']),
 ('--timeout units not decreasing', A+['@daily','--timeout','5m1h','--','/bin/true']),
 ('--timeout overflow', A+['@daily','--timeout','99999999999999999w','--','/bin/true']),
 ('--overlap bad', A+['@daily','--overlap','maybe','--','/bin/true']),
 ('--env without =', A+['@daily','--env','NOVALUE','--','/bin/true']),
 ('job name with space', ['job','add','bad name','--schedule','@daily','--','/bin/true']),
 ('job name with /', ['job','add','a/b','--schedule','@daily','--','/bin/true']),
 ('job name 101 chars', ['job','add','n'*101,'--schedule','@daily','--','/bin/true']),
 ('job name empty', ['job','add','','--schedule','@daily','--','/bin/true']),
 ('job name emoji', ['job','add','job\U0001F600','--schedule','@daily','--','/bin/true']),
 ('duplicate job', ['job','add','backup','--schedule','@daily','--','/bin/true']),
 ('no command', A+['@daily']),
 ('empty shell command', A+['@daily','--shell','  ']),
 ('--shell and a program', A+['@daily','--shell','a','--','b']),
 ('program before --', A+['@daily','/bin/true']),
 ('invalid UTF-8 in description', A+['@daily','--description',b'caf\xe9'.decode('latin-1'),'--','/bin/true']),
 ('invalid UTF-8 in job name', ['job','add','caf\xe9','--schedule','@daily','--','/bin/true']),
 ('invalid UTF-8 in an argument', A+['@daily','--','/bin/echo','caf\xe9']),
 ('invalid UTF-8 in --env', A+['@daily','--env','K=caf\xe9','--','/bin/true']),
 ('two values after --env', A+['@daily','--env','A=1','B=2','--','/bin/true']),
 ('unknown flag', A+['@daily','--bogus','--','/bin/true']),
 ('unknown subcommand', ['job','frobnicate']),
 ('missing subcommand', ['job']),
 ('edit unknown job', ['job','edit','nope','--timeout','5s']),
 ('state --at impossible date', ['state','--at','2026-02-30T00:00:00Z']),
 ('state --at garbage', ['state','--at','yesterday']),
 ('state --at bad offset', ['state','--at','2026-01-01T00:00:00+25:00']),
 ('state --at relative overflow', ['state','--at','+9223372036854s']),
 ('state --at before year 0', ['state','--at','0000-01-01T00:00:00+01:00']),
 ('replay --from garbage', ['replay','--from','yesterday']),
 ('runs --status bad', ['runs','--status','weird']),
 ('runs --limit not a number', ['runs','--limit','ten']),
 ('log: not a run id', ['log','abc']),
 ('clean: unit', ['clean','fortnights','1']),
 ('clean: too large', ['clean','weeks','30000000']),
 ('calendar: bad spec', ['calendar','61 * * * *']),
 ('calendar: --count 0', ['calendar','@daily','--count','0']),
 ('calendar: --from garbage', ['calendar','@daily','--from','soon']),
]
def enc(a):
    # invalid UTF-8 arguments: pass bytes
    return a.encode('latin-1') if isinstance(a,str) and 'caf\xe9' in a else a
print('| Input | Exit | Message (stderr) |')
print('|---|---|---|')
for name, args in cases:
    args = [enc(a) for a in args]
    r = subprocess.run([tool.encode(), b'--data', data.encode()] + [a if isinstance(a,bytes) else a.encode() for a in args], capture_output=True, env=env)
    msg = (r.stderr or r.stdout).decode('utf-8','replace').strip().split('\n')[0]
    import shlex; shown = " ".join(shlex.quote(a.decode("latin-1") if isinstance(a,bytes) else a) for a in args)
    if len(shown) > 80: shown = shown[:77]+'...'
    shown = shown.replace('|','\\|').replace('\xe9','\\xE9')
    m = msg.replace("|", "\\|")
    print(f'| {name}: `{shown}` | {r.returncode} | {m} |')
# nothing written?
rc,o,e = run(['replay'])
events = o.count('\n')
print('\nevents in the log after all of the above:', events, '(1 expected)', file=sys.stderr)
import shutil
shutil.rmtree(d)
sys.exit(0 if events == 1 else 1)
