#!/usr/bin/env bash
# The demo command: installs what is missing, builds piperpc (build/release)
# and runs the demo, the codec round trip: a msgpack-rpc request, its reply
# and an error reply are encoded, shown byte by byte, parsed back and checked.
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
