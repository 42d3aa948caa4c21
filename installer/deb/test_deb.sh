#!/usr/bin/env bash
# ctest deb_package: builds the .deb with CPack from a configured and built build
# directory into a temporary directory and checks it with dpkg-deb. It never installs
# the package.
#   test_deb.sh BUILD_DIR VERSION
set -euo pipefail

build=$(cd "${1:?usage: test_deb.sh BUILD_DIR VERSION}" && pwd)
version=${2:?usage: test_deb.sh BUILD_DIR VERSION}
src=$(cd "$(dirname "$0")/.." && pwd)   # installer/

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
failures=0
fail() { echo "FAIL: $*" >&2; failures=$((failures + 1)); }

# -B puts the package and CPack's staging tree in $tmp, not in the build directory.
if ! cpack -G DEB --config "$build/CPackConfig.cmake" -B "$tmp/out" >"$tmp/cpack.log" 2>&1; then
  cat "$tmp/cpack.log" >&2
  echo "FAIL: cpack -G DEB" >&2
  exit 1
fi
shopt -s nullglob
debs=("$tmp"/out/*.deb)
if [ ${#debs[@]} -ne 1 ]; then
  cat "$tmp/cpack.log" >&2
  echo "FAIL: expected one .deb in $tmp/out, found ${#debs[@]}" >&2
  exit 1
fi
deb=${debs[0]}
echo "built $(basename "$deb")"
arch=$(dpkg --print-architecture)
[ "$(basename "$deb")" = "chronograph_${version}_${arch}.deb" ] ||
  fail "file name $(basename "$deb"), expected chronograph_${version}_${arch}.deb"

# Control fields.
dpkg-deb -I "$deb"
field() { dpkg-deb -f "$deb" "$1"; }
[ "$(field Package)" = chronograph ] || fail "Package: $(field Package)"
[ "$(field Version)" = "$version" ] || fail "Version: $(field Version), expected $version"
[ "$(field Architecture)" = "$arch" ] || fail "Architecture: $(field Architecture)"
[ "$(field Section)" = admin ] || fail "Section: $(field Section)"
[ -n "$(field Maintainer)" ] || fail "no Maintainer"
[ -n "$(field Description)" ] || fail "no Description"
depends=$(field Depends)
for dep in libc6 liblmdb0 libsystemd0 libspdlog; do
  case "$depends" in *"$dep"*) ;; *) fail "Depends lacks $dep: $depends" ;; esac
done

# Contents: paths, owners and modes.
dpkg-deb -c "$deb" | tee "$tmp/contents"
has() {  # MODE PATH
  grep -Eq "^$1 root/root .* \./$2\$" "$tmp/contents" || fail "no $2 with mode $1, root/root"
}
has '-rwxr-xr-x' usr/bin/chronographd
has '-rwxr-xr-x' usr/bin/chronotool
has '-rw-r--r--' lib/systemd/system/chronographd.service
if grep -Eq '\./(usr/(local|lib/chronograph)|var|etc|home|root|tmp)/' "$tmp/contents"; then
  fail "unexpected paths in the package"
fi

# Maintainer scripts: present, executable, valid sh.
dpkg-deb -e "$deb" "$tmp/control"
for script in postinst prerm postrm; do
  f="$tmp/control/$script"
  if [ ! -f "$f" ]; then fail "no $script"; continue; fi
  [ -x "$f" ] || fail "$script is not executable"
  sh -n "$f" || fail "$script: sh syntax error"
  cmp -s "$f" "$src/deb/$script" || fail "$script differs from installer/deb/$script"
done
# shellcheck disable=SC2016  # a literal $DATA
grep -q 'install -d -o root -g root -m 0700 "\$DATA"' "$tmp/control/postinst" ||
  fail "postinst does not create the data directory"
grep -q 'deb-systemd-helper enable' "$tmp/control/postinst" || fail "postinst does not enable the unit"
grep -q '/run/systemd/system' "$tmp/control/postinst" || fail "postinst does not check for systemd"
grep -q 'deb-systemd-invoke stop' "$tmp/control/prerm" || fail "prerm does not stop the service"

# The files themselves: the unit as in the checkout, and binaries that run.
dpkg-deb -x "$deb" "$tmp/root"
cmp -s "$tmp/root/lib/systemd/system/chronographd.service" "$src/systemd/chronographd.service" ||
  fail "the packaged unit differs from installer/systemd/chronographd.service"
grep -q '^ExecStart=/usr/bin/chronographd ' "$tmp/root/lib/systemd/system/chronographd.service" ||
  fail "the unit does not start /usr/bin/chronographd"
for exe in chronographd chronotool; do
  out=$("$tmp/root/usr/bin/$exe" --version 2>&1) || fail "$exe --version exited $?: $out"
  case "$out" in *"$version"*) echo "$exe --version: $out" ;; *) fail "$exe --version: '$out', expected $version" ;; esac
done
# The packaged chronotool works on a data directory, not just --version.
"$tmp/root/usr/bin/chronotool" --data "$tmp/data" job add hello --schedule @daily -- /bin/true >/dev/null ||
  fail "packaged chronotool job add"
"$tmp/root/usr/bin/chronotool" --data "$tmp/data" verify >/dev/null || fail "packaged chronotool verify"

if [ "$failures" -ne 0 ]; then
  echo "$failures check(s) failed" >&2
  exit 1
fi
echo "deb_package: all checks passed"
