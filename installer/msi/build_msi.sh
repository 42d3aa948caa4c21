#!/usr/bin/env bash
# Builds the chronograph MSI with wixl from installer/msi/chronograph.wxs.
#   build_msi.sh VERSION CHRONOGRAPHD_EXE CHRONOTOOL_EXE TZDATA_DIR OUTPUT_MSI [STRIP]
# The exes (stripped with STRIP when given) and the tzdata folder are copied into a
# staging folder next to OUTPUT_MSI, because wixl takes Source= paths relative to the
# folder it runs in. wixl 0.101 has no <Environment> element, so the row that puts the
# install folder on the system PATH and the two actions that apply it are added
# afterwards with msibuild (msitools).
set -euo pipefail

if [ $# -lt 5 ] || [ $# -gt 6 ]; then
  echo "usage: build_msi.sh VERSION CHRONOGRAPHD_EXE CHRONOTOOL_EXE TZDATA_DIR OUTPUT_MSI [STRIP]" >&2
  exit 2
fi
version=$1 daemon=$2 tool=$3 tzdata=$4 output=$5 strip=${6:-}
wxs=$(cd "$(dirname "$0")" && pwd)/chronograph.wxs

# MSI's ProductVersion is major.minor.build, each a number (major < 256, minor < 256,
# build < 65536).
if ! [[ $version =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]]; then
  echo "build_msi.sh: version '$version' is not MAJOR.MINOR.PATCH" >&2
  exit 2
fi

case "$output" in
  *.msi) ;;
  *) echo "build_msi.sh: the output '$output' does not end in .msi" >&2; exit 2 ;;
esac
for f in "$daemon" "$tool"; do
  [ -f "$f" ] || { echo "build_msi.sh: no file $f" >&2; exit 2; }
done
[ -f "$tzdata/version" ] || { echo "build_msi.sh: $tzdata is not a tzdata folder" >&2; exit 2; }
if [ -n "$strip" ] && [ ! -x "$strip" ]; then
  echo "build_msi.sh: $strip is not an executable" >&2
  exit 2
fi

mkdir -p "$(dirname "$output")"
outdir=$(cd "$(dirname "$output")" && pwd)
output=$outdir/$(basename "$output")
stage=$(mktemp -d "$outdir/.msi-stage.XXXXXX")
trap 'rm -rf "$stage"' EXIT
mkdir "$stage/tzdata"
cp "$daemon" "$stage/chronographd.exe"
cp "$tool" "$stage/chronotool.exe"
cp "$tzdata"/* "$stage/tzdata/"
if [ -n "$strip" ]; then
  "$strip" "$stage/chronographd.exe" "$stage/chronotool.exe"
fi
cp "$wxs" "$stage/chronograph.wxs"

# Name "=-*PATH": a system variable (*), set on install (=), and our part removed on
# uninstall (-); Value "[~];[INSTALLDIR]": appended to what is there. The sequence
# numbers are the standard ones (Windows Installer's documentation).
printf '%s\n' \
  $'Environment\tName\tValue\tComponent_' \
  $'s72\tl255\tL255\ts72' \
  $'Environment\tEnvironment' \
  $'E.path\t=-*PATH\t[~];[INSTALLDIR]\tC.chronotool' >"$stage/Environment.idt"

(
  cd "$stage"
  wixl -a x64 -D "Version=$version" -o chronograph.msi chronograph.wxs
  msibuild chronograph.msi -i Environment.idt \
    -q "INSERT INTO \`InstallExecuteSequence\` (\`Action\`, \`Sequence\`) VALUES ('RemoveEnvironmentStrings', 3300)" \
    -q "INSERT INTO \`InstallExecuteSequence\` (\`Action\`, \`Sequence\`) VALUES ('WriteEnvironmentStrings', 5200)"
)
mv -f "$stage/chronograph.msi" "$output"
echo "built $output"
