#!/usr/bin/env bash
# ctest msi_install: the MSI under wine, in a throw-away prefix of its own.
#   test_msi.sh MSI VERSION CHRONOGRAPHD_EXE CHRONOTOOL_EXE TZDATA_DIR [STRIP]
# (the arguments after VERSION are build_msi.sh's, to build the newer MSI for the
# upgrade step).
#
#  1. the MSI's tables (msiinfo, no wine): version, upgrade code, service, PATH row;
#  2. msiexec /i: files under Program Files\Chronograph, the service RUNNING, the product
#     registered, chronotool on the system PATH;
#  3. a job that writes a file, run through the installed service (run --wait);
#  4. msiexec /i of the same build as VERSION with the patch number + 1 (a major
#     upgrade): one product left, the service RUNNING again, `chronotool verify` passes,
#     the job is still there;
#  5. msiexec /x: the service and Program Files\Chronograph are gone, the PATH entry
#     too, and %ProgramData%\Chronograph (the event log) remains and verifies, with a
#     ServiceStopped event for each of the two times the installer stopped the service.
# A failed msiexec ends the test at once (printing its log); a failed check is reported
# and the test goes on, to say as much as it can, then fails at the end. The prefix
# and its wineserver are removed at the end, also on failure.
# shellcheck disable=SC2015,SC1003  # "check && check || fail" is meant; Windows paths
set -uo pipefail

if [ $# -lt 5 ] || [ $# -gt 6 ]; then
  echo "usage: test_msi.sh MSI VERSION CHRONOGRAPHD_EXE CHRONOTOOL_EXE TZDATA_DIR [STRIP]" >&2
  exit 2
fi
msi=$(realpath "$1")
version=$2
build_inputs=("$3" "$4" "$5")    # CHRONOGRAPHD_EXE CHRONOTOOL_EXE TZDATA_DIR
strip=${6:-}
build_tool=$(realpath "$4")      # the build's chronotool.exe, for after the uninstall
here=$(cd "$(dirname "$0")" && pwd)
IFS=. read -r v_major v_minor v_patch <<<"$version"
upgrade_version=$v_major.$v_minor.$((v_patch + 1))

tmp=$(mktemp -d /tmp/chronograph-msi-test.XXXXXX)
export WINEPREFIX=$tmp/prefix
export WINEDEBUG=-all
export WINEDLLOVERRIDES="mscoree,mshtml="   # no Mono/Gecko prompts
export WINEARCH=win64
unset DISPLAY                               # headless
drive_c=$WINEPREFIX/drive_c
progfiles="$drive_c/Program Files/Chronograph"
data=$drive_c/ProgramData/Chronograph
tool_exe='C:\Program Files\Chronograph\chronotool.exe'
env_key='HKLM\System\CurrentControlSet\Control\Session Manager\Environment'
uninstall_key='HKLM\Software\Microsoft\Windows\CurrentVersion\Uninstall'

cleanup() {
  if [ -d "$WINEPREFIX" ]; then
    wineserver -k >/dev/null 2>&1
    wineserver -w >/dev/null 2>&1
  fi
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

failures=0
check_fail() { echo "FAIL: $*" >&2; failures=$((failures + 1)); }
step() { printf '== %-60s (%ds)\n' "$*" "$SECONDS"; }
service_log() {
  if [ -f "$data/logs/chronographd.log" ]; then
    echo "--- %ProgramData%\\Chronograph\\logs\\chronographd.log" >&2
    tail -n 30 "$data/logs/chronographd.log" >&2
  fi
}
fatal() {
  echo "FAIL: $*" >&2
  service_log
  exit 1
}

# Every wine command: stdin from /dev/null, a time limit below ctest's, and its output
# into a file (never a pipe that a wine background process could hold open).
wine_to() {  # OUTFILE PROGRAM ARGS...
  local out=$1
  shift
  timeout 60 wine "$@" </dev/null >"$out" 2>&1
}
tool() {  # OUTFILE ARGS...: the installed chronotool
  local out=$1
  shift
  wine_to "$out" "$tool_exe" "$@"
}
# msiexec with a verbose log; any non-zero exit is a failure (they arrive modulo 256:
# 1603 as 67, 1627 as 91), and the log is printed.
msiexec_run() {  # LOGNAME ARGS...
  local log=$1 rc
  shift
  (cd "$tmp" && timeout 90 wine msiexec "$@" /qn /l*v "$log" </dev/null >"$tmp/$log.out" 2>&1)
  rc=$?
  if [ "$rc" -ne 0 ]; then
    echo "--- msiexec $* exited $rc; its log:" >&2
    tr -d '\r' <"$tmp/$log" >&2 2>/dev/null || cat "$tmp/$log.out" >&2
    fatal "msiexec $* exited $rc"
  fi
}
# Waits up to 20 s for `sc query chronographd` to say RUNNING.
wait_running() {
  local i
  for ((i = 0; i < 40; i++)); do
    wine_to "$tmp/sc.out" sc query chronographd && grep -q RUNNING "$tmp/sc.out" && return 0
    sleep 0.5
  done
  cat "$tmp/sc.out" >&2
  return 1
}
# The chronograph products registered (their DisplayVersion lines).
registered_versions() {
  wine_to "$tmp/reg.out" reg query "$uninstall_key" /s
  tr -d '\r' <"$tmp/reg.out" | awk '
    /^HKEY_/ { name = ""; }
    /DisplayName/ && / chronograph$/ { name = "chronograph"; }
    /DisplayVersion/ { ver = $NF; }
    /^$/ { if (name == "chronograph") print ver; name = ""; ver = ""; }
    END { if (name == "chronograph") print ver; }'
}
system_path() {
  wine_to "$tmp/path.out" reg query "$env_key" /v PATH
  tr -d '\r' <"$tmp/path.out" | grep -E '^ +PATH ' | sed -E 's/^ +PATH +REG_[A-Z_]+ +//'
}

# --- 1. the package itself -----------------------------------------------------------
step "MSI tables ($(basename "$msi"))"
[ -f "$msi" ] || fatal "no MSI at $msi (cmake --build BUILD --target msi)"
cp "$msi" "$tmp/chronograph.msi"
msi_table() { msiinfo export "$tmp/chronograph.msi" "$1" | tr -d '\r'; }
msi_table Property | grep -qx "ProductVersion	$version" || check_fail "ProductVersion is not $version"
msi_table Property | grep -qx "UpgradeCode	{15AC8602-C441-449C-AF12-BD5DA1AC7A9A}" ||
  check_fail "the UpgradeCode changed: upgrades from earlier versions would not remove them"
# ServiceInstall: own process (16), automatic start (2), LocalSystem.
msi_table ServiceInstall | grep -Eq $'^S\\.chronographd\tchronographd\t[^\t]*\t16\t2\t1\t\t\tLocalSystem\t' ||
  check_fail "ServiceInstall row: $(msi_table ServiceInstall | tail -n 1)"
# ServiceControl 163 = start on install (1) + stop on install (2) and uninstall (32) +
# delete on uninstall (128).
msi_table ServiceControl | grep -Eq $'^SC\\.chronographd\tchronographd\t163\t' ||
  check_fail "ServiceControl row: $(msi_table ServiceControl | tail -n 1)"
msi_table Environment | grep -qF $'E.path\t=-*PATH\t[~];[INSTALLDIR]\tC.chronotool' ||
  check_fail "no system PATH entry in the Environment table"
for action in WriteEnvironmentStrings RemoveEnvironmentStrings RemoveExistingProducts; do
  msi_table InstallExecuteSequence | grep -q "^$action	" || check_fail "no $action action"
done
for f in chronographd.exe chronotool.exe version windowsZones.xml europe; do
  msi_table File | cut -f3 | grep -qx "$f" || check_fail "$f is not in the File table"
done

# --- 2. install ------------------------------------------------------------------------
step "prefix $WINEPREFIX"
mkdir -p "$WINEPREFIX"
timeout 60 wineboot -i </dev/null >"$tmp/wineboot.out" 2>&1 || {
  cat "$tmp/wineboot.out" >&2
  fatal "wineboot -i"
}
# wineboot leaves its wineserver running a few seconds; let it go, then start the
# persistent one that keeps the service alive between our separate wine commands.
wineserver -w
wineserver -p >/dev/null 2>&1 || fatal "wineserver -p"
wine_to "$tmp/cmd.out" cmd.exe /c echo hi && grep -q '^hi' "$tmp/cmd.out" || fatal "cmd.exe does not run under wine"

step "msiexec /i chronograph.msi ($version)"
msiexec_run install.log /i chronograph.msi
for f in chronographd.exe chronotool.exe tzdata/version tzdata/windowsZones.xml tzdata/europe; do
  [ -f "$progfiles/$f" ] || check_fail "Program Files\\Chronograph\\$f is missing"
done
wait_running || fatal "the chronographd service is not RUNNING after the install"
echo "service RUNNING"
[ "$(registered_versions)" = "$version" ] || check_fail "registered products: '$(registered_versions)', expected $version"
case "$(system_path)" in
  *'C:\Program Files\Chronograph\'*) ;;
  *) check_fail "the system PATH lacks C:\\Program Files\\Chronograph: $(system_path)" ;;
esac
# A new process sees the new system PATH: chronotool by its bare name.
wine_to "$tmp/version.out" cmd.exe /c chronotool --version && grep -q "$version" "$tmp/version.out" ||
  check_fail "chronotool is not found on the PATH: $(cat "$tmp/version.out")"
[ -f "$data/data.mdb" ] || check_fail "the service did not create %ProgramData%\\Chronograph\\data.mdb"

# --- 3. a job through the installed service ---------------------------------------------
step "chronotool job add + run --wait"
# cmd.exe by its full path: the job's PATH is not the system's (run_shim.cc gives every
# job a fixed base environment).
tool "$tmp/add.out" job add msi-test --schedule @yearly \
  -- 'C:\windows\system32\cmd.exe' /c 'echo hi> C:\msi-test.txt && echo done' || {
  cat "$tmp/add.out" >&2
  check_fail "chronotool job add"
}
tool "$tmp/run.out" run msi-test --wait
rc=$?
if [ "$rc" -ne 0 ]; then
  cat "$tmp/run.out" >&2
  check_fail "chronotool run msi-test --wait exited $rc"
  service_log
else
  grep -q 'done' "$tmp/run.out" || check_fail "run output: $(cat "$tmp/run.out")"
  grep -q '^hi' "$drive_c/msi-test.txt" 2>/dev/null ||
    check_fail "the job did not write C:\\msi-test.txt"
  echo "run succeeded"
fi
# The run's shim (chronographd.exe --shim) records the end of the run, then exits. An
# upgrade that starts while it is still exiting finds chronographd.exe in use and ends
# with 3010 (reboot required; seen as 194). Let it go first (at most 10 s).
for ((i = 0; i < 50; i++)); do
  pgrep -f 'chronographd\.exe --shim' >/dev/null || break
  sleep 0.2
done

# --- 4. major upgrade -------------------------------------------------------------------
step "msiexec /i chronograph-upgrade.msi ($upgrade_version)"
/bin/bash "$here/build_msi.sh" "$upgrade_version" "${build_inputs[@]}" \
  "$tmp/chronograph-upgrade.msi" ${strip:+"$strip"} >"$tmp/build_msi.out" 2>&1 || {
  cat "$tmp/build_msi.out" >&2
  fatal "build_msi.sh $upgrade_version"
}
msiexec_run upgrade.log /i chronograph-upgrade.msi
grep -q 'RemoveExistingProducts' "$tmp/upgrade.log" || check_fail "the upgrade did not run RemoveExistingProducts"
[ "$(registered_versions)" = "$upgrade_version" ] ||
  check_fail "registered products after the upgrade: '$(registered_versions)', expected only $upgrade_version"
wait_running || fatal "the chronographd service is not RUNNING after the upgrade"
echo "service RUNNING"
tool "$tmp/verify.out" verify || check_fail "chronotool verify after the upgrade: $(cat "$tmp/verify.out")"
tool "$tmp/list.out" job list && grep -q '^msi-test ' "$tmp/list.out" ||
  check_fail "the job is gone after the upgrade: $(cat "$tmp/list.out")"

# --- 5. uninstall -----------------------------------------------------------------------
step "msiexec /x chronograph-upgrade.msi"
msiexec_run uninstall.log /x chronograph-upgrade.msi
if wine_to "$tmp/sc.out" sc query chronographd; then
  check_fail "the service still exists: $(cat "$tmp/sc.out")"
fi
[ ! -e "$progfiles" ] || check_fail "Program Files\\Chronograph remains: $(ls -R "$progfiles")"
[ -z "$(registered_versions)" ] || check_fail "still registered: $(registered_versions)"
case "$(system_path)" in
  *Chronograph*) check_fail "the system PATH still names Chronograph: $(system_path)" ;;
esac
[ -f "$data/data.mdb" ] || check_fail "the uninstall removed the data (%ProgramData%\\Chronograph\\data.mdb)"
# The data as left: the build's chronotool (the installed one is gone) verifies it.
wine_to "$tmp/verify2.out" "$build_tool" --data 'C:\ProgramData\Chronograph' verify ||
  check_fail "verify after the uninstall: $(cat "$tmp/verify2.out")"
wine_to "$tmp/list2.out" "$build_tool" --data 'C:\ProgramData\Chronograph' job list &&
  grep -q '^msi-test ' "$tmp/list2.out" || check_fail "the job is gone after the uninstall"
# Both stops by the installer (upgrade, uninstall) went through the service's own
# shutdown path, which records ServiceStopped.
wine_to "$tmp/replay.out" "$build_tool" --data 'C:\ProgramData\Chronograph' replay --json
started=$(grep -c '"ServiceStarted"' "$tmp/replay.out")
stopped=$(grep -c '"ServiceStopped"' "$tmp/replay.out")
[ "$started" -eq 2 ] && [ "$stopped" -eq 2 ] ||
  check_fail "expected 2 ServiceStarted and 2 ServiceStopped events, got $started and $stopped"

step "done"
if [ "$failures" -ne 0 ]; then
  echo "$failures check(s) failed" >&2
  exit 1
fi
echo "msi_install: all checks passed"
