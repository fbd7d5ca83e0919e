#!/usr/bin/env bash
# Installs the Debian packages listed in scripts/debian-packages.txt that are
# not installed yet. Idempotent and silent when everything is present; runs
# `apt-get update` only when something is missing; works as root without a
# terminal (CI) and uses sudo only when not root.
#
# Set PIPERPC_SKIP_SETUP=1 to skip it (for example on a machine where the
# packages come from somewhere else).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
list="$here/debian-packages.txt"

if [[ ${PIPERPC_SKIP_SETUP:-0} == 1 ]]; then
    exit 0
fi
if ! command -v dpkg-query >/dev/null 2>&1; then
    echo "setup: not a Debian system; install the equivalents of the packages in $list yourself" >&2
    exit 0
fi

mapfile -t wanted < <(sed -e 's/#.*//' -e 's/[[:space:]]//g' "$list" | grep -v '^$')

missing=()
for pkg in "${wanted[@]}"; do
    status=$(dpkg-query -W -f='${db:Status-Status}' "$pkg" 2>/dev/null || true)
    if [[ $status != installed ]]; then
        missing+=("$pkg")
    fi
done
if ((${#missing[@]} == 0)); then
    exit 0
fi

echo "setup: installing missing Debian packages: ${missing[*]}"
if ((EUID == 0)); then
    as_root=(env)
elif command -v sudo >/dev/null 2>&1; then
    as_root=(sudo env)
else
    echo "setup: need root (or sudo) to install: ${missing[*]}" >&2
    exit 1
fi
apt_env=(DEBIAN_FRONTEND=noninteractive NEEDRESTART_MODE=a)
if ! "${as_root[@]}" "${apt_env[@]}" apt-get update -q </dev/null; then
    echo "setup: apt-get update failed" >&2
    exit 1
fi
if ! "${as_root[@]}" "${apt_env[@]}" apt-get install -y -q --no-install-recommends \
        "${missing[@]}" </dev/null; then
    echo "setup: apt-get install failed for: ${missing[*]}" >&2
    exit 1
fi
echo "setup: done"
