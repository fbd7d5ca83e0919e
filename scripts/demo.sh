#!/usr/bin/env bash
# The demo command: installs what is missing, builds piperpc (build/release)
# and runs the demo: the calculator example's server on pipe:calculator-demo,
# a client making calls (results, an IDL error, a call that times out), and
# a clean stop of the server.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
dir=${PIPERPC_BUILD_ROOT:-build}/release

fail() { echo "demo.sh: $*" >&2; exit 1; }

bash scripts/setup.sh || fail "installing the Debian packages failed"
cmake -S . -B "$dir" </dev/null || fail "configuring $dir failed"
cmake --build "$dir" -j"$(nproc)" </dev/null || fail "building $dir failed"

echo
echo "== examples/calculator"
bash examples/calculator/demo.sh "$dir/examples/calculator/calc_server" \
    "$dir/examples/calculator/calc_client" || fail "the calculator demo failed"
