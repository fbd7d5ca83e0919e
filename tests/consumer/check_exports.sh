#!/bin/sh
# Checks that the shared library exports only the public API: every defined
# dynamic symbol starts with prpc_ (hidden visibility keeps prpc__ internals
# and everything else out).
#
# usage: check_exports.sh LIBRARY [NM]
set -eu
lib=$1
nm=${2:-nm}
syms=$("$nm" -D --defined-only "$lib" | awk '{ print $NF }')
[ -n "$syms" ] || { echo "no exported symbols in $lib" >&2; exit 1; }
bad=$(printf '%s\n' "$syms" | grep -v '^prpc_' | grep -v '^prpc__' || true)
internal=$(printf '%s\n' "$syms" | grep '^prpc__' || true)
if [ -n "$bad" ] || [ -n "$internal" ]; then
    echo "$lib exports symbols outside the public API:" >&2
    printf '%s\n' $bad $internal >&2
    exit 1
fi
echo "$lib exports $(printf '%s\n' "$syms" | wc -l) symbols, all prpc_*"
