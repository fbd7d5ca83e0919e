#!/usr/bin/env bash
# The calculator demo: starts calc_server, runs calc_client against it, then
# stops the server with SIGTERM and checks that both exited with status 0.
#
# usage: demo.sh CALC_SERVER CALC_CLIENT [ENDPOINT]
set -euo pipefail
server=$1
client=$2
endpoint=${3:-pipe:calculator-demo}

out=$(mktemp)
trap 'rm -f "$out"' EXIT
"$server" "$endpoint" >"$out" &
pid=$!
# The server prints one line per endpoint once it accepts connections.
for _ in $(seq 100); do
    grep -q "listening on" "$out" && break
    kill -0 "$pid" 2>/dev/null || { cat "$out"; echo "demo: calc_server failed to start" >&2; exit 1; }
    sleep 0.05
done
cat "$out"
status=0
"$client" "$endpoint" || status=$?
kill -TERM "$pid"
server_status=0
wait "$pid" || server_status=$?
tail -n +2 "$out"
if [ "$status" -ne 0 ] || [ "$server_status" -ne 0 ]; then
    echo "demo: failed (client $status, server $server_status)" >&2
    exit 1
fi
echo "demo: calculator ok, server stopped cleanly"
