#!/usr/bin/env bash
# Installs everything chronograph needs to build and test, from Debian's packages.
# Idempotent: quiet and fast when all is present. Run as root (or with sudo available).
set -euo pipefail

packages=(
  build-essential cmake pkg-config       # the compiler and the build
  liblmdb-dev liblmdb++-dev              # the event log (LMDB, through lmdbxx)
  libcereal-dev                          # event payload encoding
  libspdlog-dev libfmt-dev               # service logging
  libcli11-dev                           # chronotool's command line
  nlohmann-json3-dev                     # --json output
  libhowardhinnant-date-dev              # IANA time zones (date/tz)
  libssl-dev                             # SHA-256 for the hash chain (libcrypto)
  libsystemd-dev                         # sd_notify for Type=notify
  libgtest-dev googletest                # tests
  libbenchmark-dev                       # micro benchmarks (bench/, scripts/bench.sh)
  python3 python3-dateutil python3-croniter  # independent schedule oracles for tests
  g++-mingw-w64-x86-64 wine wine64       # the Windows build, tested under wine
  msitools wixl wixl-data                # the Windows installer (MSI)
  unicode-cldr-core                      # windowsZones.xml for time zones on Windows
  dpkg-dev                               # apt-get source; dpkg-deb for the .deb test
  cron                                   # the benchmark's comparison with Debian's cron (bench.sh --only cron)
  strace                                 # the idle benchmark counts the service's wake-ups (bench.sh --only scale)
  clang-14 libclang-rt-14-dev            # libFuzzer and its sanitizer runtimes (scripts/fuzz.sh)
  llvm-14                                # llvm-symbolizer-14: symbolized fuzzer crash reports
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}" >&2
  SUDO=""
  if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
"$(dirname "$0")/fetch-windows-deps.sh"
