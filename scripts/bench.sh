#!/usr/bin/env bash
# The benchmark command: installs what is missing, builds piperpc
# (build/release) and runs the benchmark programs of tests/bench/. Each
# prints piperpc's figures beside a raw baseline measured in the same run
# over the same socket type, as ratios; docs/performance.md explains them.
# Not a pass/fail test: the machine's load moves absolute times.
#
# Arguments are passed to bench_rpc (e.g. `bash scripts/bench.sh pipe`).
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
dir=${PIPERPC_BUILD_ROOT:-build}/release

fail() { echo "bench.sh: $*" >&2; exit 1; }

bash scripts/setup.sh || fail "installing the Debian packages failed"
cmake -S . -B "$dir" </dev/null || fail "configuring $dir failed"
cmake --build "$dir" -j"$(nproc)" --target bench_rpc bench_transport </dev/null ||
    fail "building the benchmarks failed"

echo "== tests/bench/bench_rpc: calls through generated stubs vs a raw ping-pong"
"$dir/tests/bench/bench_rpc" "$@" </dev/null
echo
echo "== tests/bench/bench_transport: the transport layer alone vs a raw ping-pong"
"$dir/tests/bench/bench_transport" </dev/null
