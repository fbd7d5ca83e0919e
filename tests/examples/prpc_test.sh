#!/usr/bin/env bash
# Tests of the prpc command-line tool against real kv_server and calc_server
# processes: every subcommand, the JSON mapping (binary, exact 64-bit
# integers) and every exit status (0 success, 1 error reply, 2 usage,
# 3 connection failure or timeout).
#
# usage: prpc_test.sh PRPC KV_SERVER CALC_SERVER PYTHON3
set -uo pipefail
prpc=$1 kv_server=$2 calc_server=$3 python=$4
tmp=$(mktemp -d)
kv=pipe:prpc-test-prpc-kv-$$
calc=pipe:prpc-test-prpc-calc-$$
fails=0
pids=()
cleanup() {
    # Whatever is still running (the foreign server, a failed test's servers).
    for p in "${pids[@]}"; do kill -KILL "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
    rm -rf "$tmp"
}
trap cleanup EXIT
ok() { echo "  ok   $*"; }
bad() { echo "  FAIL $*"; fails=$((fails + 1)); }

# expect STATUS WANT_STDOUT ARGS...: runs prpc ARGS and checks both.
expect() {
    local want_rc=$1 want_out=$2
    shift 2
    local out rc
    out=$("$prpc" "$@" 2>"$tmp/err")
    rc=$?
    if [ "$rc" -eq "$want_rc" ] && [ "$out" == "$want_out" ]; then
        ok "prpc $* -> $rc ${out:+"'$out'"}"
    else
        bad "prpc $*: status $rc (want $want_rc), stdout '$out' (want '$want_out'), stderr: $(cat "$tmp/err")"
    fi
}
start() { # start NAME PROGRAM ENDPOINT
    "$2" "$3" >"$tmp/$1.out" 2>&1 &
    pids+=($!)
    for _ in $(seq 200); do grep -q "listening on" "$tmp/$1.out" && return 0; sleep 0.05; done
    echo "$1 did not start: $(cat "$tmp/$1.out")"; exit 1
}
start kv "$kv_server" "$kv"
start calc "$calc_server" "$calc"

echo "== usage errors (2)"
expect 2 ""
expect 2 "" frobnicate "$kv"
expect 2 "" ping
expect 2 "" --timeout abc ping "$kv"
expect 2 "" call "$kv"
expect 2 "" call "$kv" kv.Store.get '["unterminated'
expect 2 "" call "$kv" kv.Store.put '["k", {"$bin":"not base64!"}]'
expect 2 "" call "$kv" kv.Store.put '[{"$int":"12x"}]'
expect 2 "" ping "bogus:endpoint"
expect 0 "" --help >/dev/null

echo "== ping"
out=$("$prpc" ping "$kv"); rc=$?
[ "$rc" -eq 0 ] && [[ "$out" == pong* ]] && ok "ping -> 0 '$out'" || bad "ping: $rc '$out'"
expect 3 "" --timeout 200 ping "pipe:prpc-test-prpc-nobody-$$"

echo "== describe"
out=$("$prpc" describe "$kv"); rc=$?
if [ "$rc" -eq 0 ] && grep -q '^interface kv.Store 1.0 hash 0x[0-9a-f]\{16\}$' <<<"$out" &&
   grep -q '^  method kv.Store.put  *u64 put(in string key, in bytes value) raises (kv.Error)$' <<<"$out" &&
   grep -q '^  event  kv.Store.changed  *event changed(string key, u64 version)$' <<<"$out"; then
    ok "describe lists the interface, its methods and its event"
else
    bad "describe: $rc '$out'"
fi
out=$("$prpc" describe "$calc")
grep -q 'kv.Store' <<<"$out" && bad "calc describes kv" || true
grep -q 'calc.Calculator.slow_add .*\[timeout 300 ms\]' <<<"$out" && ok "describe shows [timeout]" || bad "describe calc: '$out'"
"$prpc" --json describe "$kv" >"$tmp/d.json" && "$python" -c '
import json, sys
d = json.load(open(sys.argv[1]))
assert d[0]["name"] == "kv.Store" and len(d[0]["methods"]) == 8 and d[0]["events"][0]["name"] == "kv.Store.changed"
assert isinstance(d[0]["hash"], int)' "$tmp/d.json" && ok "describe --json is valid JSON with the interface" || bad "describe --json: $(cat "$tmp/d.json")"

echo "== call"
expect 0 1 call "$kv" kv.Store.put '["a", {"$bin":"aGVsbG8="}]'
expect 0 2 call "$kv" kv.Store.put '["a", {"$bin":"aGVsbG8gd29ybGQ="}]'
expect 0 '{"$bin":"aGVsbG8gd29ybGQ="}' call "$kv" kv.Store.get '["a"]'
expect 0 '{"$bin":"aGVsbG8gd29ybGQ="}' call "$kv" kv.Store.get '"a"'
expect 0 1 call "$kv" kv.Store.put '["b", {"$bin":""}]'
expect 0 '[["a",{"$bin":"aGVsbG8gd29ybGQ="},2],["b",{"$bin":""},1]]' call "$kv" kv.Store.list '["", 10]'
expect 0 '[2,11]' call "$kv" kv.Store.stats
expect 0 2 call "$kv" kv.Store.count '[]'
expect 1 "" call "$kv" kv.Store.get '["missing"]'
grep -q "error 1: no such key" "$tmp/err" && ok "the IDL error is shown with code and message" || bad "stderr: $(cat "$tmp/err")"
expect 1 "" call "$kv" kv.Store.nope
grep -q "error -8" "$tmp/err" && ok "an unknown method is error -8" || bad "stderr: $(cat "$tmp/err")"
expect 1 "" call "$kv" kv.Store.get '[1]'
expect 1 "" call "$kv" kv.Store.put '["only one"]'
expect 0 9223372036854775807 call "$calc" calc.Calculator.add '[{"$int":"9223372036854775806"}, 1]'
expect 0 -9223372036854775808 call "$calc" calc.Calculator.add '[{"$int":"-9223372036854775807"}, -1]'
expect 1 "" call "$calc" calc.Calculator.divide '[{"$int":"-9223372036854775808"}, -1]'
expect 1 "" call "$calc" calc.Calculator.divide '[1, 0]'
grep -q "error 1: division by zero" "$tmp/err" && ok "divide by zero: error 1" || bad "stderr: $(cat "$tmp/err")"
expect 1 "" call "$calc" calc.Calculator.add '[1.5, 2]'
expect 0 3 call "$calc" calc.Calculator.slow_add '[1, 2, 10]'
expect 3 "" --timeout 200 call "$calc" calc.Calculator.slow_add '[1, 2, 3000]'
grep -q "timed out" "$tmp/err" && ok "a call past --timeout reports the timeout" || bad "stderr: $(cat "$tmp/err")"

echo "== notify"
expect 0 "" notify "$kv" kv.Store.set_quiet '["q", {"$bin":"cXVpZXQ="}]'
expect 0 '{"$bin":"cXVpZXQ="}' call "$kv" kv.Store.get '["q"]'
expect 2 "" notify "$kv" kv.Store.set_quiet '[nope]'
expect 3 "" --timeout 200 notify "pipe:prpc-test-prpc-nobody-$$" x

echo "== watch"
"$prpc" --count 3 --timeout 10000 watch "$kv" kv.Store.watch '["w/"]' >"$tmp/watch.out" 2>"$tmp/watch.err" &
wpid=$!
for _ in $(seq 200); do grep -q "watching" "$tmp/watch.err" && break; sleep 0.05; done
"$prpc" call "$kv" kv.Store.put '["w/1", {"$bin":""}]' >/dev/null
"$prpc" call "$kv" kv.Store.put '["x/1", {"$bin":""}]' >/dev/null
"$prpc" notify "$kv" kv.Store.set_quiet '["w/2", {"$bin":""}]'
"$prpc" call "$kv" kv.Store.put '["w/1", {"$bin":""}]' >/dev/null
wait "$wpid"; rc=$?
want=$(printf '%s\n' '{"event":"kv.Store.changed","params":["w/1",1]}' \
    '{"event":"kv.Store.changed","params":["w/2",1]}' '{"event":"kv.Store.changed","params":["w/1",2]}')
[ "$rc" -eq 0 ] && [ "$(cat "$tmp/watch.out")" == "$want" ] && ok "watch --count 3 printed the three matching events and exited 0" ||
    bad "watch: $rc '$(cat "$tmp/watch.out")' stderr: $(cat "$tmp/watch.err")"
expect 3 "" --count 1 --timeout 300 watch "$kv" kv.Store.watch '["none/"]'
expect 0 "" --timeout 300 watch "$kv"
expect 1 "" --timeout 300 watch "$kv" kv.Store.watch "[\"$(printf 'p%.0s' $(seq 257))\"]"
expect 3 "" --timeout 300 watch "pipe:prpc-test-prpc-nobody-$$"

echo "== a msgpack-rpc server that is not piperpc (answers rpc.ping with an error)"
"$python" -c '
import socket, sys, threading, msgpack
l = socket.socket(); l.bind(("127.0.0.1", 0)); l.listen(4)
print(l.getsockname()[1], flush=True)
def serve(c):
    u = msgpack.Unpacker(raw=False)
    while True:
        d = c.recv(65536)
        if not d:
            return
        u.feed(d)
        for m in u:
            if m[0] == 0 and m[2] == "sum":
                c.sendall(msgpack.packb([1, m[1], None, sum(m[3])]))
            elif m[0] == 0:
                c.sendall(msgpack.packb([1, m[1], "no such method", None]))
while True:
    c, _ = l.accept()
    threading.Thread(target=serve, args=(c,), daemon=True).start()
' >"$tmp/foreign.port" 2>"$tmp/foreign.err" </dev/null &
pids+=($!)
for _ in $(seq 100); do [ -s "$tmp/foreign.port" ] && break; sleep 0.05; done
foreign=tcp:127.0.0.1:$(cat "$tmp/foreign.port")
expect 0 6 call "$foreign" sum '[1, 2, 3]'
expect 1 "" call "$foreign" product '[1, 2, 3]'
grep -q "no such method" "$tmp/err" && ok "the foreign error object (a string) is shown" || bad "stderr: $(cat "$tmp/err")"

echo "== a server that goes away"
"$prpc" --timeout 20000 watch "$kv" >/dev/null 2>"$tmp/gone.err" &
wpid=$!
for _ in $(seq 200); do grep -q "watching" "$tmp/gone.err" && break; sleep 0.05; done
kill -TERM "${pids[0]}"; wait "${pids[0]}"
wait "$wpid"; rc=$?
[ "$rc" -eq 3 ] && ok "watch exits 3 when the server stops" || bad "watch after server stop: $rc"

kill -TERM "${pids[1]}"
wait "${pids[1]}" 2>/dev/null; rc=$?
[ "$rc" -eq 0 ] && ok "calc_server stops cleanly" || bad "calc_server status $rc"

if [ "$fails" -ne 0 ]; then echo "$fails check(s) failed"; exit 1; fi
echo "all checks passed"
