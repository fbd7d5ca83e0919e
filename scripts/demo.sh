#!/usr/bin/env bash
# The demo command: installs what is missing, builds piperpc (build/release)
# and runs the demos:
#   1. the codec round trip (examples/roundtrip): a msgpack-rpc request, its
#      reply and an error reply are encoded, shown byte by byte, parsed back
#      and checked;
#   2. the calculator (examples/calculator), when it is part of the tree: a
#      real server process on a local pipe, a client process calling it, and
#      a clean stop.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
dir=${PIPERPC_BUILD_ROOT:-build}/release

fail() { echo "demo.sh: $*" >&2; exit 1; }

bash scripts/setup.sh || fail "installing the Debian packages failed"
cmake -S . -B "$dir" </dev/null || fail "configuring $dir failed"
cmake --build "$dir" -j"$(nproc)" </dev/null || fail "building $dir failed"

echo
echo "== examples/roundtrip"
"$dir/examples/roundtrip/roundtrip" || fail "the round-trip example failed"

calc=$dir/examples/calculator
if [[ -f examples/calculator/demo.sh && -x $calc/calc_server && -x $calc/calc_client ]]; then
    echo
    echo "== examples/calculator"
    bash examples/calculator/demo.sh "$calc/calc_server" "$calc/calc_client" </dev/null ||
        fail "the calculator demo failed"
fi
