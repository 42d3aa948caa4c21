#!/usr/bin/env bash
# Fetches the sources the Windows build compiles itself, from Debian's source packages
# (never committed): LMDB's C sources, date/tz's tz.cpp and the IANA text tzdata that
# tz.cpp reads on Windows, and CLDR's windowsZones.xml. Also makes a private folder of
# links to the header-only libraries, so /usr/include is not on the mingw include path.
# Idempotent: does nothing when build-deps/windows is complete.
set -euo pipefail
cd "$(dirname "$0")/.."
out="$PWD/build-deps/windows"
stamp="$out/.complete-v2"
[ -f "$stamp" ] && exit 0
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

src_list=/etc/apt/sources.list.d/chronograph-src.sources
if [ ! -f "$src_list" ]; then
  # The same mirrors and suites as the machine's deb entries, for source packages.
  $SUDO tee "$src_list" >/dev/null <<'SRC'
Types: deb-src
URIs: http://deb.debian.org/debian
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
  $SUDO apt-get update -qq
fi

rm -rf "$out" && mkdir -p "$out/download"
(cd "$out/download" && apt-get source -qq --download-only lmdb howardhinnant-date tzdata 2>/dev/null)

mkdir -p "$out/lmdb" "$out/date" "$out/tzdata" "$out/include"
tar -xzf "$out"/download/lmdb_*.orig.tar.gz -C "$out/lmdb" --strip-components=3 \
  --wildcards '*/libraries/liblmdb/mdb.c' '*/libraries/liblmdb/midl.c' \
  '*/libraries/liblmdb/lmdb.h' '*/libraries/liblmdb/midl.h'
tar -xJf "$out"/download/howardhinnant-date_*.orig.tar.xz -C "$out/date" --strip-components=1 \
  --wildcards '*/src/tz.cpp' '*/include/date/*'
tar -xzf "$out"/download/tzdata_*.orig.tar.gz -C "$out/tzdata" \
  africa antarctica asia australasia europe northamerica southamerica etcetera backward version
# date/tz 3.0.1's parser takes indented comments (such as tzdata's "#STDOFF" notes)
# for data and complains on stderr: drop whole-line comments, which carry no data.
for f in "$out"/tzdata/*; do
  [ "$(basename "$f")" = version ] || sed -i -E '/^[[:space:]]+#/d' "$f"
done
cp /usr/share/unicode/cldr/common/supplemental/windowsZones.xml "$out/tzdata/"

# Header-only libraries from Debian's -dev packages, linked one by one.
for h in cereal spdlog fmt CLI nlohmann lmdb++.h; do ln -s "/usr/include/$h" "$out/include/$h"; done
ln -s "$out/lmdb/lmdb.h" "$out/include/lmdb.h"
ln -s "$out/date/include/date" "$out/include/date"
rm -rf "$out/download"
touch "$stamp"
