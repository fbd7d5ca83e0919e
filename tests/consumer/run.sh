#!/bin/sh
# The install + consumer test. Installs the build tree into a fresh prefix,
# then builds the outside project in project/ against it twice: with
# find_package(piperpc CONFIG) (shared and static targets) and with a plain
# compiler command line from pkg-config (piperpc and piperpc-static). Every
# program built must run and succeed. (embed.sh tests the source tree
# embedded as a subproject.)
#
# usage: run.sh BUILD_DIR PROJECT_DIR WORK_DIR CMAKE CC PKG_CONFIG
# (PROJECT_DIR is tests/consumer/project; the source tree is two levels up.)
set -eu
if [ $# -ne 6 ]; then
    echo "usage: $0 BUILD_DIR PROJECT_DIR WORK_DIR CMAKE CC PKG_CONFIG" >&2
    exit 2
fi
build=$1 project=$2 work=$3 cmake=$4 cc=$5 pkgconfig=$6
prefix=$work/prefix

test_name="consumer test"
. "$(dirname "$0")/common.sh"

rm -rf "$work"
mkdir -p "$work"

echo "== cmake --install into $prefix"
logged "$work/install.log" "$cmake" --install "$build" --prefix "$prefix"
pcfile=$(find "$prefix" -name piperpc.pc -path '*/pkgconfig/*' | head -n 1)
[ -n "$pcfile" ] || fail "no piperpc.pc was installed"
pcdir=$(dirname "$pcfile")
libdir=$(dirname "$pcdir")
for f in "$prefix/include/piperpc/piperpc.h" "$libdir/libpiperpc.so" "$libdir/libpiperpc.a" \
         "$pcdir/piperpc-static.pc" "$libdir/cmake/piperpc/piperpcConfig.cmake" \
         "$libdir/cmake/piperpc/piperpcConfigVersion.cmake" \
         "$libdir/cmake/piperpc/piperpcTargets.cmake"; do
    [ -e "$f" ] || fail "not installed: $f"
done
# The .pc files must point at the prefix given to --install, not the
# configured one.
grep -q "^prefix=$prefix\$" "$pcfile" || fail "piperpc.pc does not name prefix $prefix"

# idlc, when it is part of the build, must run from the prefix.
if [ -e "$prefix/bin/idlc" ]; then
    echo "-- $("$prefix/bin/idlc" --version </dev/null | head -n 1)"
    "$prefix/bin/idlc" --version >/dev/null </dev/null || fail "the installed idlc --version failed"
fi

echo "== find_package(piperpc CONFIG)"
logged "$work/cmake-configure.log" "$cmake" -S "$project" -B "$work/cmake-build" \
    -DCMAKE_PREFIX_PATH="$prefix" -DEXPECT_PREFIX="$prefix" -DCMAKE_C_COMPILER="$cc" \
    -DCMAKE_BUILD_TYPE=Release
logged "$work/cmake-build.log" "$cmake" --build "$work/cmake-build"
echo "-- consumer_shared (find_package, piperpc::piperpc):"
"$work/cmake-build/consumer_shared" || fail "consumer_shared (CMake, shared library) failed"
echo "-- consumer_static (find_package, piperpc::piperpc_static):"
"$work/cmake-build/consumer_static" || fail "consumer_static (CMake, static library) failed"
if [ -e "$work/cmake-build/consumer_gen" ]; then
    echo "-- consumer_gen (piperpc_generate with the installed idlc):"
    "$work/cmake-build/consumer_gen" || fail "consumer_gen (generated code) failed"
elif [ -e "$libdir/cmake/piperpc/PiperpcGenerate.cmake" ]; then
    fail "PiperpcGenerate.cmake is installed but consumer_gen was not built"
fi

# The static program must not need libpiperpc.so at run time.
if command -v readelf >/dev/null 2>&1; then
    if readelf -d "$work/cmake-build/consumer_static" | grep -q 'NEEDED.*libpiperpc'; then
        fail "consumer_static depends on libpiperpc.so"
    fi
    readelf -d "$work/cmake-build/consumer_shared" | grep -q 'NEEDED.*libpiperpc\.so\.0\.2' ||
        fail "consumer_shared does not record the SONAME libpiperpc.so.0.2"
fi

echo "== pkg-config"
PKG_CONFIG_PATH="$pcdir${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}"
export PKG_CONFIG_PATH
flags=$("$pkgconfig" --cflags --libs piperpc) || fail "pkg-config --cflags --libs piperpc"
echo "pkg-config --cflags --libs piperpc: $flags"
# shellcheck disable=SC2086 # the flags are meant to be split into words
logged "$work/pc-shared.log" "$cc" -std=c11 -Wall -Wextra -Werror "$project/main.c" $flags \
    -o "$work/pc_shared"
echo "-- pc_shared (pkg-config piperpc, LD_LIBRARY_PATH):"
LD_LIBRARY_PATH="$libdir${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" "$work/pc_shared" ||
    fail "pc_shared (pkg-config piperpc) failed"

sflags=$("$pkgconfig" --cflags --libs piperpc-static) || fail "pkg-config --cflags --libs piperpc-static"
echo "pkg-config --cflags --libs piperpc-static: $sflags"
# shellcheck disable=SC2086
logged "$work/pc-static.log" "$cc" -std=c11 -Wall -Wextra -Werror -DCONSUMER_EXPECT_STATIC \
    "$project/main.c" $sflags -o "$work/pc_static"
echo "-- pc_static (pkg-config piperpc-static):"
"$work/pc_static" || fail "pc_static (pkg-config piperpc-static) failed"

echo "consumer test passed"
