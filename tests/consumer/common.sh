# Shell helpers of the consumer tests (run.sh, embed.sh), sourced by them
# after they set `test_name`.

fail() { echo "$test_name FAILED: $*" >&2; exit 1; }

# Runs a command with its output in a log, shown only when it fails.
logged() {
    log=$1; shift
    if ! "$@" >"$log" 2>&1; then
        cat "$log" >&2
        fail "$* (log: $log)"
    fi
}
