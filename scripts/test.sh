#!/usr/bin/env bash
# The test command: installs what is missing, then configures, builds and
# runs every test piperpc has, in these stages:
#
#   setup     scripts/setup.sh (Debian packages)
#   asan      build/asan:     ASan+UBSan build, every test
#   tsan      build/tsan:     ThreadSanitizer build, tests labelled `threads`
#   fuzz      build/fuzz:     clang + libFuzzer + ASan+UBSan, tests labelled
#                             `fuzz`, each fuzzing for PIPERPC_FUZZ_SECONDS
#   valgrind  build/valgrind: memcheck variants of the unit tests
#   windows   build/windows:  mingw-w64 cross build with -Werror (code generated
#                             by a host idlc in build/host-tools), every
#                             Windows-capable test run under Wine, then the
#                             Windows and Linux examples calling each other
#                             over TCP (tests/examples/cross_tcp.sh)
#   release   build/release:  the normal build with -Werror, every test
#
# Any failure stops the run with a message naming the stage. The release
# stage comes last so that the last line printed is its ctest summary.
#
# Environment:
#   PIPERPC_FUZZ_SECONDS  seconds each fuzzer runs (default 60; lower it for a
#                         quick local run, never in CI)
#   PIPERPC_STAGES        the stages to run, space-separated (default: all);
#                         for local use, e.g. PIPERPC_STAGES="asan release"
#   PIPERPC_BUILD_ROOT    where the build directories go (default: build)
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

# Tests run on every processor. The few that bound how long something may
# take, or load the machine themselves, are marked RUN_SERIAL in their
# CMakeLists.txt, and ctest runs each of them alone.
jobs=$(nproc)
ctest_jobs=$jobs
fuzz_seconds=${PIPERPC_FUZZ_SECONDS:-60}
stages=${PIPERPC_STAGES:-"setup asan tsan fuzz valgrind windows release"}
build_root=${PIPERPC_BUILD_ROOT:-build}

if ! [[ $fuzz_seconds =~ ^[1-9][0-9]*$ ]]; then
    echo "test.sh: PIPERPC_FUZZ_SECONDS must be a positive whole number, not '$fuzz_seconds'" >&2
    exit 2
fi

# Sanitizer reports fail the test that triggers them, with a stack trace.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:strict_string_checks=1:detect_stack_use_after_return=1:check_initialization_order=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
export TSAN_OPTIONS=${TSAN_OPTIONS:-halt_on_error=1:second_deadlock_stack=1}

current_stage=""
run_start=$SECONDS
timings=()
last_log=""

on_exit() {
    local rc=$?
    if ((rc != 0)) && [[ -n $current_stage ]]; then
        echo >&2
        echo "test.sh: FAILED in stage '$current_stage' (exit status $rc) after $((SECONDS - stage_start))s;" \
             "total $((SECONDS - run_start))s" >&2
    fi
}
trap on_exit EXIT

wants() { [[ " $stages " == *" $1 "* ]]; }

banner() { printf '\n===== %s\n' "$*"; }

configure() { # configure DIR [cmake args...]
    local dir=$1
    shift
    cmake -S "$root" -B "$dir" "$@" </dev/null
}

build() { # build DIR
    cmake --build "$1" -j"$jobs" </dev/null
}

count_tests() { # count_tests DIR [ctest args...] -> number of tests ctest would run
    local dir=$1
    shift
    ctest --test-dir "$dir" -N "$@" | sed -n 's/^Total Tests: *\([0-9]*\)$/\1/p'
}

run_ctest() { # run_ctest DIR [ctest args...]; output also kept in $last_log
    local dir=$1
    shift
    last_log="$dir/test-output.log"
    ctest --test-dir "$dir" --output-on-failure -j"$ctest_jobs" "$@" </dev/null 2>&1 | tee "$last_log"
}

stage() { # stage NAME FUNCTION: runs one stage and records its time
    current_stage=$1
    stage_start=$SECONDS
    banner "[$1] start"
    "$2"
    local took=$((SECONDS - stage_start))
    timings+=("$(printf '%-9s %5ds' "$1" "$took")")
    banner "[$1] passed in ${took}s"
    current_stage=""
}

stage_setup() {
    bash "$root/scripts/setup.sh"
    cmake --version | head -n 1
    cc --version | head -n 1
    if command -v clang >/dev/null 2>&1; then clang --version | head -n 1; fi
}

stage_asan() {
    local dir=$build_root/asan
    configure "$dir" -DPIPERPC_SANITIZE=address -DPIPERPC_WERROR=ON
    build "$dir"
    run_ctest "$dir" --no-tests=error
}

stage_tsan() {
    local dir=$build_root/tsan n
    configure "$dir" -DPIPERPC_SANITIZE=thread -DPIPERPC_WERROR=ON
    n=$(count_tests "$dir" -L threads)
    if [[ ${n:-0} == 0 ]]; then
        echo "no test is labelled 'threads' yet: nothing to run under TSan"
        return 0
    fi
    build "$dir"
    run_ctest "$dir" -L threads
}

stage_fuzz() {
    local dir=$build_root/fuzz n
    if ! command -v clang >/dev/null 2>&1; then
        echo "clang is needed for the fuzz stage (scripts/setup.sh installs it)" >&2
        return 1
    fi
    configure "$dir" -DCMAKE_C_COMPILER=clang -DPIPERPC_BUILD_FUZZERS=ON \
        -DPIPERPC_SANITIZE=address -DPIPERPC_WERROR=ON -DPIPERPC_FUZZ_SECONDS="$fuzz_seconds"
    build "$dir"
    n=$(count_tests "$dir" -L fuzz)
    if [[ ${n:-0} == 0 ]]; then
        if [[ -f $root/tests/fuzz/CMakeLists.txt ]]; then
            echo "tests/fuzz exists but registers no test labelled 'fuzz'" >&2
            return 1
        fi
        echo "no fuzz target exists yet: nothing to fuzz"
        return 0
    fi
    echo "running $n fuzz test(s), ${fuzz_seconds}s of fuzzing each"
    run_ctest "$dir" -L fuzz
}

stage_valgrind() {
    local dir=$build_root/valgrind n
    configure "$dir" -DPIPERPC_VALGRIND=ON -DPIPERPC_WERROR=ON
    n=$(count_tests "$dir" -L valgrind)
    if [[ ${n:-0} == 0 ]]; then
        echo "no unit test exists yet: nothing to run under valgrind"
        return 0
    fi
    build "$dir"
    run_ctest "$dir" -L valgrind
}

stage_windows() {
    local host=$build_root/host-tools dir=$build_root/windows tool
    for tool in x86_64-w64-mingw32-gcc wine; do
        if ! command -v "$tool" >/dev/null 2>&1; then
            echo "$tool is needed for the windows stage (scripts/setup.sh installs it)" >&2
            return 1
        fi
    done
    # The code generator runs on the build machine: a host build of idlc,
    # and of the example programs that the Windows ones call across systems.
    configure "$host" -DPIPERPC_BUILD_TESTS=OFF -DPIPERPC_BUILD_EXAMPLES=ON \
        -DPIPERPC_INSTALL=OFF -DPIPERPC_WERROR=ON >/dev/null
    cmake --build "$host" -j"$jobs" --target idlc kv_server kv_client kv_watch calc_server \
        calc_client </dev/null >/dev/null
    # msgpack-c and cmocka for Windows, from Debian's sources (once per checkout).
    bash "$root/scripts/win-deps.sh"
    configure "$dir" -DCMAKE_TOOLCHAIN_FILE="$root/cmake/toolchains/mingw-w64-x86_64.cmake" \
        -DIDLC_EXECUTABLE="$(cd "$host" && pwd)/idlc/idlc" -DPIPERPC_WERROR=ON
    build "$dir"
    # Wine runs headless in the build tree's own prefix (the toolchain file
    # gives ctest the same settings). The prefix is created here, once, so
    # that no test's timeout pays for it.
    (
        unset DISPLAY WAYLAND_DISPLAY
        WINEPREFIX=$(cd "$dir" && pwd)/wineprefix
        export WINEPREFIX WINEDEBUG=-all WINEDLLOVERRIDES=mscoree,mshtml=
        # One Wine server for the whole run rather than one started and
        # stopped per test; stopped (with every Wine process of this prefix)
        # when the stage ends, and by itself 60 s after its last program in
        # any case. Its output must not hold the caller's pipe open.
        mkdir -p "$WINEPREFIX"
        wineserver -p60 </dev/null >/dev/null 2>&1
        trap 'wineserver -k </dev/null >/dev/null 2>&1 || true' EXIT
        wineboot -i </dev/null >/dev/null 2>&1 || { echo "wineboot failed in $WINEPREFIX" >&2; exit 1; }
        run_ctest "$dir" --no-tests=error
        # Across systems: Windows programs under Wine and Linux programs
        # call each other over TCP on loopback; a failed check fails the stage.
        banner "[windows] Windows <-> Linux examples over TCP"
        bash "$root/tests/examples/cross_tcp.sh" "$host/examples" "$dir/bin" </dev/null
    )
    last_log="$dir/test-output.log"
}

stage_release() {
    local dir=$build_root/release
    configure "$dir" -DPIPERPC_WERROR=ON
    build "$dir"
    run_ctest "$dir" --no-tests=error
}

for s in $stages; do
    case $s in
        setup | asan | tsan | fuzz | valgrind | windows | release) ;;
        *) echo "test.sh: unknown stage '$s' in PIPERPC_STAGES" >&2; exit 2 ;;
    esac
done

for s in setup asan tsan fuzz valgrind windows release; do
    if wants "$s"; then
        stage "$s" "stage_$s"
    fi
done

banner "all stages passed in $((SECONDS - run_start))s"
printf '%s\n' "${timings[@]}"
# The last stage's ctest summary, repeated so that it is the final line.
if [[ -n $last_log ]] && summary=$(grep -E '^[0-9]+% tests passed' "$last_log" | tail -n 1); then
    echo
    echo "$summary"
fi
