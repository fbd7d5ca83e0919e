#!/usr/bin/env bash
# Builds the Windows (x86_64 mingw-w64) static libraries of msgpack-c and
# cmocka from Debian's own source packages, into .deps/win64 of the checkout.
# Nothing is downloaded except through apt from the machine's Debian mirror,
# using a private deb-src list so the system's apt configuration is untouched.
#
# Usage: scripts/win-deps.sh            (idempotent: quick when already built)
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
deps=$top/.deps
prefix=$deps/win64
# The stamp names the layout: a prefix built by an older version of this
# script is rebuilt.
stamp=$prefix/.built-msgpack-c-cmocka-static
if [ -f "$stamp" ]; then
  exit 0
fi

for tool in x86_64-w64-mingw32-gcc x86_64-w64-mingw32-g++ cmake; do
  command -v "$tool" >/dev/null || { echo "win-deps: $tool is missing (scripts/setup.sh installs it)" >&2; exit 2; }
done

apt_dir=$deps/apt
src_dir=$deps/src
mkdir -p "$apt_dir/sources" "$apt_dir/lists/partial" "$src_dir"

# The deb-src entries mirror the machine's own Debian sources (same hosts,
# same suites), whatever form they are written in.
{
  for f in /etc/apt/sources.list.d/*.sources; do
    [ -f "$f" ] && sed -e 's/^Types:.*/Types: deb-src/' "$f" && echo
  done
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [ -f "$f" ] && grep -E '^deb ' "$f" | sed -e 's/^deb /deb-src /'
  done
} > "$apt_dir/sources/piperpc-src.sources.tmp"
# apt reads *.list files as one-line entries and *.sources as deb822.
grep -E '^deb-src ' "$apt_dir/sources/piperpc-src.sources.tmp" > "$apt_dir/sources/piperpc-src.list" || true
grep -vE '^deb-src ' "$apt_dir/sources/piperpc-src.sources.tmp" > "$apt_dir/sources/piperpc-src.sources" || true
rm -f "$apt_dir/sources/piperpc-src.sources.tmp"

apt_opts=(-o Dir::Etc::SourceList=/dev/null -o "Dir::Etc::SourceParts=$apt_dir/sources"
          -o "Dir::State::Lists=$apt_dir/lists" -o APT::Sandbox::User=root)
echo "win-deps: fetching the msgpack-c and cmocka source packages" >&2
apt-get "${apt_opts[@]}" -qq update
(cd "$src_dir" && apt-get "${apt_opts[@]}" -qq source --download-only msgpack-c cmocka)

rm -rf "$src_dir/x" "$src_dir/build-msgpack" "$src_dir/build-cmocka" && mkdir -p "$src_dir/x"
tar -xf "$(ls "$src_dir"/msgpack-c_*.orig.tar.* | head -n1)" -C "$src_dir/x"
tar -xf "$(ls "$src_dir"/cmocka_*.orig.tar.* | head -n1)" -C "$src_dir/x"

toolchain=$top/cmake/toolchains/mingw-w64-x86_64.cmake
jobs=$(nproc 2>/dev/null || echo 2)

echo "win-deps: building msgpack-c for Windows" >&2
cmake -S "$src_dir"/x/msgpack-c-* -B "$src_dir/build-msgpack" -DCMAKE_TOOLCHAIN_FILE="$toolchain" \
  -DCMAKE_BUILD_TYPE=Release -DCMAKE_INSTALL_PREFIX="$prefix" \
  -DMSGPACK_ENABLE_SHARED=OFF -DMSGPACK_ENABLE_STATIC=ON \
  -DMSGPACK_BUILD_TESTS=OFF -DMSGPACK_BUILD_EXAMPLES=OFF >/dev/null
cmake --build "$src_dir/build-msgpack" -j"$jobs" >/dev/null
cmake --install "$src_dir/build-msgpack" >/dev/null

echo "win-deps: building cmocka for Windows" >&2
cmake -S "$src_dir"/x/cmocka-* -B "$src_dir/build-cmocka" -DCMAKE_TOOLCHAIN_FILE="$toolchain" \
  -DCMAKE_BUILD_TYPE=Release -DCMAKE_INSTALL_PREFIX="$prefix" \
  -DWITH_STATIC_LIB=ON -DWITH_EXAMPLES=OFF -DUNIT_TESTING=OFF >/dev/null
cmake --build "$src_dir/build-cmocka" -j"$jobs" >/dev/null
cmake --install "$src_dir/build-cmocka" >/dev/null
# Tests link cmocka statically (its header declares nothing dllimport), so
# they need no cmocka.dll at run time: pkg-config names the static archive.
sed -i -e 's/-lcmocka$/-lcmocka-static/' "$prefix/lib/pkgconfig/cmocka.pc"
grep -q -- '-lcmocka-static' "$prefix/lib/pkgconfig/cmocka.pc" || {
  echo "win-deps: could not point cmocka.pc at the static library" >&2; exit 1; }

touch "$stamp"
echo "win-deps: installed into $prefix" >&2
