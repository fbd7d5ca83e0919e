#!/bin/bash
# Runs a Windows test program under Wine for ctest (the cross build's
# CMAKE_CROSSCOMPILING_EMULATOR): "wine-run.sh WINE PROGRAM ARGS...".
#
# The exit code alone cannot be trusted there: a program that faults on a
# pool thread, or calls a function Wine does not implement, can end with
# code 0, and ctest would count it as passed. So the output is passed
# through as it comes and also scanned, and Wine's crash reports fail the
# run whatever the code.
log=$(mktemp "${TMPDIR:-/tmp}/wine-run.XXXXXX") || exit 1
trap 'rm -f "$log"' EXIT
"$@" 2>&1 | tee "$log"
rc=${PIPESTATUS[0]}
if grep -Eq 'Unhandled (exception|page fault)|unimplemented function|starting debugger' "$log"; then
    echo "wine-run: Wine reported a crash or an unimplemented function (exit code was $rc)" >&2
    [ "$rc" -eq 0 ] && rc=1
fi
exit "$rc"
