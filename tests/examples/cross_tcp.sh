#!/usr/bin/env bash
# Across systems over TCP on loopback: the Windows example programs (under
# Wine) and the Linux ones call each other.
#   1. Windows kv_server.exe  <- Linux kv_client (every command) and kv_watch
#   2. Linux kv_server        <- Windows kv_client.exe and kv_watch.exe
#   3. Windows calc_server.exe <- Linux calc_client, and the reverse
# Servers listen on tcp:127.0.0.1:0 and the port is read from their output;
# they run with --stop-on-eof and are stopped by closing their stdin, and
# must then exit 0. Every program runs under a timeout; whatever is still
# running when the script ends is killed.
#
# usage: cross_tcp.sh LINUX_EXAMPLES_DIR WINDOWS_BIN_DIR
#   LINUX_EXAMPLES_DIR holds calculator/ and kvstore/ of a Linux build's
#   examples; WINDOWS_BIN_DIR the .exe files of the Windows build. Wine's
#   settings (WINEPREFIX, WINEDEBUG...) come from the environment; without
#   WINEPREFIX the Windows build tree's own prefix (beside bin/) is used.
set -uo pipefail
linux=$1 win=$2
for f in "$linux/kvstore/kv_server" "$linux/kvstore/kv_client" "$linux/kvstore/kv_watch" \
         "$linux/calculator/calc_server" "$linux/calculator/calc_client" \
         "$win/kv_server.exe" "$win/kv_client.exe" "$win/kv_watch.exe" \
         "$win/calc_server.exe" "$win/calc_client.exe"; do
    [ -f "$f" ] || { echo "cross_tcp: missing $f" >&2; exit 2; }
done
command -v wine >/dev/null || { echo "cross_tcp: wine is needed" >&2; exit 2; }
if [ -z "${WINEPREFIX:-}" ]; then
    WINEPREFIX=$(cd "$win/.." && pwd)/wineprefix
    export WINEPREFIX WINEDEBUG=${WINEDEBUG:--all} WINEDLLOVERRIDES=${WINEDLLOVERRIDES:-mscoree,mshtml=}
    unset DISPLAY WAYLAND_DISPLAY
fi

tmp=$(mktemp -d)
pids=()
fails=0
cleanup() {
    # TERM first: `timeout` passes it on to the program it runs (a KILL
    # would end `timeout` alone); KILL whatever is left after 3 s.
    local p alive
    for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null; done
    for _ in $(seq 30); do
        alive=0
        for p in "${pids[@]}"; do kill -0 "$p" 2>/dev/null && alive=1; done
        [ "$alive" -eq 0 ] && break
        sleep 0.1
    done
    for p in "${pids[@]}"; do kill -KILL "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

# forget PID: a process already waited for is no longer ours to kill.
forget() {
    local p keep=()
    for p in "${pids[@]}"; do [ "$p" != "$1" ] && keep+=("$p"); done
    pids=("${keep[@]}")
}

ok() { echo "  ok   $*"; }
bad() { echo "  FAIL $*"; fails=$((fails + 1)); }
# Wine writes the Windows programs' text output with \r\n.
crlf() { tr -d '\r'; }

STEP=60 # seconds any one program may take (Wine starts slowly on a busy machine)

# start_server NAME COMMAND...: starts a server with --stop-on-eof on
# tcp:127.0.0.1:0 and sets $endpoint from the line it prints. Its stdin is
# a fifo whose only writer is a `sleep` of its own: killing that closes the
# server's input. (Were the writer this shell, every program started later,
# Wine's helper processes included, would inherit it and keep it open.)
declare -A server_pid holder_pid
start_server() {
    local name=$1
    shift
    mkfifo "$tmp/$name.in"
    timeout -k 5 $((STEP * 5)) "$@" --stop-on-eof tcp:127.0.0.1:0 <"$tmp/$name.in" \
        >"$tmp/$name.out" 2>"$tmp/$name.err" &
    server_pid[$name]=$!
    pids+=($!)
    sleep $((STEP * 5)) >"$tmp/$name.in" &
    holder_pid[$name]=$!
    pids+=($!)
    endpoint=
    for _ in $(seq $((STEP * 10))); do
        endpoint=$(crlf <"$tmp/$name.out" | sed -n 's/^.*: listening on \(tcp:127\.0\.0\.1:[0-9][0-9]*\)$/\1/p' | head -n 1)
        [ -n "$endpoint" ] && break
        kill -0 "${server_pid[$name]}" 2>/dev/null || break
        sleep 0.1
    done
    if [ -z "$endpoint" ]; then
        bad "$name did not start: $(cat "$tmp/$name.out" "$tmp/$name.err")"
        return 1
    fi
    ok "$name listens on $endpoint"
}

# stop_server NAME: closes its stdin; it must drain and exit 0.
stop_server() {
    local name=$1 rc
    kill "${holder_pid[$name]}" 2>/dev/null
    wait "${holder_pid[$name]}" 2>/dev/null
    forget "${holder_pid[$name]}"
    wait "${server_pid[$name]}"
    rc=$?
    forget "${server_pid[$name]}"
    if [ "$rc" -eq 0 ] && crlf <"$tmp/$name.out" | grep -q "end of input"; then
        ok "$name stopped cleanly when its stdin closed"
    else
        bad "$name: status $rc, output: $(cat "$tmp/$name.out" "$tmp/$name.err")"
    fi
}

# show ARGS...: the arguments for a message, long ones abbreviated.
show() {
    local a out=()
    for a in "$@"; do
        if [ ${#a} -gt 40 ]; then out+=("${a:0:8}...(${#a} bytes)"); else out+=("$a"); fi
    done
    echo "${out[*]}"
}

# expect CLIENT STATUS WANT_OUTPUT ARGS...: runs the client, compares both.
expect() {
    local client=$1 want_rc=$2 want_out=$3 out rc
    shift 3
    out=$(timeout -k 5 $STEP "$client" "$@" 2>"$tmp/err" </dev/null | crlf)
    rc=${PIPESTATUS[0]}
    if [ "$rc" -eq "$want_rc" ] && [ "$out" == "$want_out" ]; then
        ok "$(basename "$client") $(show "$@") -> $rc ${out:+"'$out'"}"
    else
        bad "$(basename "$client") $(show "$@"): status $rc (want $want_rc), output '$out' (want '$want_out'), stderr: $(cat "$tmp/err")"
    fi
}

# kv_calls CLIENT WATCH ENDPOINT: every kv_client command against a fresh
# server, with WATCH receiving the events of the user/ writes.
kv_calls() {
    local client=$1 watch=$2 ep=$3 wpid key rc want
    timeout -k 5 $STEP "$watch" --count 3 --timeout 30000 "$ep" user/ >"$tmp/watch.out" 2>&1 </dev/null &
    wpid=$!
    pids+=($wpid)
    for _ in $(seq $((STEP * 10))); do crlf <"$tmp/watch.out" | grep -q '^watching' && break; sleep 0.1; done
    expect "$client" 0 1 "$ep" put user/ann "Ann"
    expect "$client" 0 1 "$ep" put other/x "x"
    expect "$client" 0 2 "$ep" put user/ann "Ann Smith"
    expect "$client" 0 "" "$ep" set-quiet user/bob "Bob"
    expect "$client" 0 "Ann Smith" "$ep" get user/ann
    expect "$client" 1 "" "$ep" get user/nobody
    expect "$client" 0 "$(printf 'user/ann 2 Ann Smith\nuser/bob 1 Bob')" "$ep" list user/
    expect "$client" 0 3 "$ep" count
    expect "$client" 0 "3 13" "$ep" stats
    key=$(printf 'k%.0s' $(seq 257))
    expect "$client" 1 "" "$ep" put "$key" v
    expect "$client" 0 1 "$ep" put "${key:1}" v
    expect "$client" 0 true "$ep" remove "${key:1}"
    expect "$client" 0 false "$ep" remove user/nobody
    wait "$wpid"
    rc=$?
    forget "$wpid"
    if [ "$rc" -eq 0 ]; then
        want=$(printf 'watching user/\nchanged user/ann version 1\nchanged user/ann version 2\nchanged user/bob version 1')
        if [ "$(crlf <"$tmp/watch.out")" == "$want" ]; then
            ok "$(basename "$watch") received the three user/ changes in order"
        else
            bad "$(basename "$watch") printed: $(cat "$tmp/watch.out")"
        fi
    else
        bad "$(basename "$watch") status $rc: $(cat "$tmp/watch.out")"
    fi
}

echo "== Windows kv_server.exe (Wine) <- Linux kv_client, kv_watch"
if start_server win_kv wine "$win/kv_server.exe"; then
    kv_calls "$linux/kvstore/kv_client" "$linux/kvstore/kv_watch" "$endpoint"
    stop_server win_kv
fi

echo "== Linux kv_server <- Windows kv_client.exe, kv_watch.exe (Wine)"
# Wine runs a program given by its Unix path; wrappers keep expect generic.
printf '#!/bin/sh\nexec wine "%s" "$@"\n' "$win/kv_client.exe" >"$tmp/kv_client.exe"
printf '#!/bin/sh\nexec wine "%s" "$@"\n' "$win/kv_watch.exe" >"$tmp/kv_watch.exe"
printf '#!/bin/sh\nexec wine "%s" "$@"\n' "$win/calc_client.exe" >"$tmp/calc_client.exe"
chmod +x "$tmp"/*.exe
if start_server linux_kv "$linux/kvstore/kv_server"; then
    kv_calls "$tmp/kv_client.exe" "$tmp/kv_watch.exe" "$endpoint"
    stop_server linux_kv
fi

echo "== Windows calc_server.exe (Wine) <- Linux calc_client, and the reverse"
# calc_client exits 0 when results, IDL errors and the timeout all came as
# expected; its output is long, so only the status is compared here.
calc() { # calc CLIENT ENDPOINT
    local out rc
    out=$(timeout -k 5 $STEP "$1" "$2" 2>&1 </dev/null | crlf)
    rc=${PIPESTATUS[0]}
    if [ "$rc" -eq 0 ] && grep -q "DIVIDE_BY_ZERO" <<<"$out"; then
        ok "$(basename "$1") $2: every call as expected"
    else
        bad "$(basename "$1") $2: status $rc: $out"
    fi
}
if start_server win_calc wine "$win/calc_server.exe"; then
    calc "$linux/calculator/calc_client" "$endpoint"
    stop_server win_calc
fi
if start_server linux_calc "$linux/calculator/calc_server"; then
    calc "$tmp/calc_client.exe" "$endpoint"
    stop_server linux_calc
fi

if [ "$fails" -ne 0 ]; then
    echo "cross_tcp: $fails check(s) failed"
    exit 1
fi
echo "cross_tcp: all checks passed"
