#!/usr/bin/env bash
# End-to-end test of examples/kvstore with real processes: kv_server on a
# message-mode pipe and a unix socket, kv_client commands and their exit
# statuses, kv_watch printing the changes another client makes, a second
# server refused on a live name, a clean stop on SIGINT, and the clean stop
# of kv_server --stop-on-eof when its standard input ends.
#
# usage: kvstore_test.sh KV_SERVER KV_CLIENT KV_WATCH
set -uo pipefail
server=$1 client=$2 watch=$3
tmp=$(mktemp -d)
name=prpc-test-kv-$$
pipe=pipe:$name
unix="unix:$tmp/kv.sock"
fails=0
spid=
cleanup() {
    [ -n "$spid" ] && kill -KILL "$spid" 2>/dev/null
    rm -rf "$tmp"
}
trap cleanup EXIT

ok() { echo "  ok   $*"; }
bad() { echo "  FAIL $*"; fails=$((fails + 1)); }
# expect STATUS WANT_OUTPUT COMMAND...: runs kv_client, compares both.
expect() {
    local want_rc=$1 want_out=$2
    shift 2
    local out rc
    out=$("$client" "$@" 2>"$tmp/err")
    rc=$?
    if [ "$rc" -eq "$want_rc" ] && [ "$out" == "$want_out" ]; then
        ok "kv_client $* -> $rc ${out:+"'$out'"}"
    else
        bad "kv_client $*: status $rc (want $want_rc), output '$out' (want '$want_out'), stderr: $(cat "$tmp/err")"
    fi
}

"$server" "$pipe" "$unix" >"$tmp/server.out" 2>"$tmp/server.err" &
spid=$!
for _ in $(seq 200); do
    [ "$(grep -c 'listening on' "$tmp/server.out")" -eq 2 ] && break
    sleep 0.05
done
if [ "$(grep -c 'listening on' "$tmp/server.out")" -ne 2 ]; then
    echo "kv_server did not start"; cat "$tmp/server.out" "$tmp/server.err"; exit 1
fi
ok "kv_server printed one line per endpoint"

"$watch" --count 3 --timeout 10000 "$pipe" "user/" >"$tmp/watch.out" 2>&1 &
wpid=$!
for _ in $(seq 200); do grep -q '^watching' "$tmp/watch.out" && break; sleep 0.05; done

expect 0 1 "$pipe" put user/ann "Ann"
expect 0 1 "$unix" put other/x "x"
expect 0 2 "$unix" put user/ann "Ann Smith"
expect 0 "" "$pipe" set-quiet user/bob "Bob"
expect 0 "Ann Smith" "$pipe" get user/ann
expect 0 "Bob" "$unix" get user/bob
expect 1 "" "$pipe" get user/nobody
grep -q "NOT_FOUND (1)" "$tmp/err" && ok "NOT_FOUND is reported by name" || bad "NOT_FOUND message: $(cat "$tmp/err")"
expect 0 "$(printf 'user/ann 2 Ann Smith\nuser/bob 1 Bob')" "$pipe" list user/
expect 0 "user/ann 2 Ann Smith" "$pipe" list user/ 1
expect 0 3 "$pipe" count
expect 0 "3 13" "$pipe" stats
expect 1 "" "$pipe" put "$(printf 'k%.0s' $(seq 257))" v
expect 0 1 "$pipe" put "$(printf 'k%.0s' $(seq 256))" v
expect 0 true "$pipe" remove "$(printf 'k%.0s' $(seq 256))"
expect 0 false "$pipe" remove user/nobody
expect 2 "" "$pipe" frobnicate
expect 2 "" "$pipe" get
expect 3 "" "pipe:prpc-test-kv-nobody-$$" count

if wait "$wpid"; then ok "kv_watch exited 0 after 3 events"; else bad "kv_watch status $?"; fi
want_watch=$(printf 'watching user/\nchanged user/ann version 1\nchanged user/ann version 2\nchanged user/bob version 1')
if [ "$(cat "$tmp/watch.out")" == "$want_watch" ]; then ok "kv_watch printed the user/ changes in order"; else bad "kv_watch printed: $(cat "$tmp/watch.out")"; fi

"$watch" --count 1 --timeout 300 "$pipe" nothing/ >/dev/null 2>&1
rc=$?
[ "$rc" -eq 3 ] && ok "kv_watch --timeout before --count exits 3" || bad "kv_watch timeout status $rc"

"$server" "$pipe" >/dev/null 2>"$tmp/second.err"
rc=$?
[ "$rc" -ne 0 ] && grep -q "cannot listen" "$tmp/second.err" && ok "a second server on a live name is refused: $(head -1 "$tmp/second.err")" || bad "second server: status $rc"

kill -INT "$spid"
wait "$spid"
rc=$?
spid=
[ "$rc" -eq 0 ] && ok "kv_server exits 0 on SIGINT" || bad "kv_server status $rc on SIGINT: $(cat "$tmp/server.err")"
grep -q "shutdown signal received, draining" "$tmp/server.out" && ok "kv_server said it drained" || bad "no drain message"

# --stop-on-eof: the server stops cleanly when its stdin ends (how a parent
# that cannot send signals, a Windows test say, stops it).
mkfifo "$tmp/in"
"$server" --stop-on-eof "$pipe-eof" <"$tmp/in" >"$tmp/eof.out" 2>&1 &
spid=$!
exec 7>"$tmp/in" # the server's stdin stays open while this shell holds it
echo "input the server reads and drops" >&7
for _ in $(seq 200); do grep -q 'listening on' "$tmp/eof.out" && break; sleep 0.05; done
expect 0 1 "$pipe-eof" put k v
kill -0 "$spid" 2>/dev/null && ok "kv_server --stop-on-eof keeps serving while its stdin is open" || bad "kv_server --stop-on-eof exited early: $(cat "$tmp/eof.out")"
exec 7>&-
for _ in $(seq 200); do kill -0 "$spid" 2>/dev/null || break; sleep 0.05; done
if kill -0 "$spid" 2>/dev/null; then
    bad "kv_server --stop-on-eof still runs 10 s after its stdin ended"
else
    wait "$spid"
    rc=$?
    [ "$rc" -eq 0 ] && grep -q "end of input, draining" "$tmp/eof.out" &&
        ok "kv_server --stop-on-eof exits 0 when its stdin ends" || bad "kv_server --stop-on-eof: status $rc: $(cat "$tmp/eof.out")"
fi
spid=

if [ "$fails" -ne 0 ]; then echo "$fails check(s) failed"; exit 1; fi
echo "all checks passed"
