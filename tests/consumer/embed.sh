#!/bin/sh
# The subproject test: an outside project (embed/) embeds this source tree,
# with add_subdirectory and with FetchContent. Both configure with piperpc's
# defaults for a subproject (embed/CMakeLists.txt checks them) and must
# register none of piperpc's tests; the add_subdirectory one is built, with
# flags that make every file warn, and its two programs (one calling
# generated code) must run and succeed.
#
# usage: embed.sh SOURCE_DIR WORK_DIR CMAKE CC
set -eu
if [ $# -ne 4 ]; then
    echo "usage: $0 SOURCE_DIR WORK_DIR CMAKE CC" >&2
    exit 2
fi
src=$1 work=$2 cmake=$3 cc=$4
embed=$src/tests/consumer/embed
ctest=$(dirname "$cmake")/ctest
[ -x "$ctest" ] || ctest=ctest

test_name="subproject test"
. "$(dirname "$0")/common.sh"

rm -rf "$work"
mkdir -p "$work"

for how in subdirectory fetchcontent; do
    echo "== $how"
    logged "$work/$how-configure.log" "$cmake" -S "$embed" -B "$work/$how" -DEMBED="$how" \
        -DPIPERPC_SOURCE_DIR="$src" -DCONSUMER_DIR="$src/tests/consumer/project" \
        -DCMAKE_C_COMPILER="$cc"
    ntests=$(cd "$work/$how" && "$ctest" -N | sed -n 's/^Total Tests: *\([0-9]*\)$/\1/p')
    [ "$ntests" = 0 ] || fail "the embedding project ($how) registered $ntests of piperpc's tests"
done

b=$work/subdirectory
logged "$work/build.log" "$cmake" --build "$b" --target consumer_embedded consumer_embedded_gen -j2
grep -q "__TIMESTAMP__" "$work/build.log" ||
    fail "the build shows no warning: the check that -Werror is off proves nothing"
echo "-- consumer_embedded (add_subdirectory, piperpc::piperpc_static):"
"$b/consumer_embedded" || fail "consumer_embedded failed"
echo "-- consumer_embedded_gen (code from the embedded idlc):"
"$b/consumer_embedded_gen" || fail "consumer_embedded_gen failed"

echo "subproject test passed"
