#!/usr/bin/env python3
"""Runs docs/tutorial.md: every ```sh block in order in one bash process
(with set -e), every block marked <!-- file: NAME --> saved as NAME in the
shell's current directory at that point, and every ```text block marked
<!-- output --> checked against the output of the sh block before it (its
lines must appear in that order; lines from the background server may come
in between).

Two departures, both marked in the document: the block marked
<!-- test: skip ... --> (installing packages and building piperpc) is not
run, and the install command installs the test suite's own build directory
instead of build/tutorial. HOME and XDG_RUNTIME_DIR point into a fresh
temporary directory, so ~/piperpc, ~/greeter and pipe:greeter are private
to the test.

usage: tutorial_test.py TUTORIAL.md SOURCE_DIR BUILD_DIR [SANITIZE]
"""
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile

DELIM = "PRPC_TUTORIAL_EOF"


def parse(path):
    steps = []
    marker = None
    lines = open(path, encoding="utf-8").read().split("\n")
    i = 0
    while i < len(lines):
        line = lines[i]
        m = re.match(r"<!-- (file: (\S+)|output|test: skip.*) -->$", line)
        if m:
            marker = ("file", m.group(2)) if m.group(2) else (("output",) if m.group(1) == "output" else ("skip",))
            i += 1
            continue
        m = re.match(r"```(\w*)$", line)
        if m:
            lang = m.group(1)
            body = []
            i += 1
            while lines[i] != "```":
                body.append(lines[i])
                i += 1
            text = "\n".join(body) + "\n"
            if marker and marker[0] == "skip":
                steps.append(("skip", text))
            elif marker and marker[0] == "file":
                steps.append(("file", marker[1], text))
            elif marker and marker[0] == "output":
                assert steps and steps[-1][0] == "sh", "an output block must follow a sh block"
                steps[-1] = ("sh", steps[-1][1], text)
            elif lang == "sh":
                steps.append(("sh", text, None))
            marker = None
        elif line.strip():
            marker = None  # a marker belongs to the block right after it
        i += 1
    return steps


def main():
    if len(sys.argv) not in (4, 5):
        print(__doc__)
        return 2
    doc, source, build = sys.argv[1:4]
    sanitize = sys.argv[4] if len(sys.argv) == 5 else ""
    steps = parse(doc)
    nsh = sum(1 for s in steps if s[0] == "sh")
    nfiles = sum(1 for s in steps if s[0] == "file")
    assert nsh >= 5 and nfiles >= 4, "the tutorial lost its blocks (%d sh, %d files)" % (nsh, nfiles)

    script = ["set -e", "cd %s" % sh_quote(source)]
    expected = {}
    for n, s in enumerate(steps):
        if s[0] == "skip":
            print("-- skipped (the suite's build stands in):\n" + s[1])
        elif s[0] == "file":
            assert DELIM not in s[2]
            script.append("cat > %s <<'%s'\n%s%s" % (sh_quote(s[1]), DELIM, s[2], DELIM))
        else:
            code = s[1]
            if "cmake --install build/tutorial" in code:
                code = code.replace("build/tutorial", sh_quote(build))
            script.append("echo '@@begin %d@@'\n%s\necho '@@end %d@@'" % (n, code.rstrip("\n"), n))
            if s[2] is not None:
                expected[n] = [l for l in s[2].split("\n") if l]

    tmp = tempfile.mkdtemp(prefix="prpc-tutorial-")
    run_dir = os.path.join(tmp, "run")
    os.mkdir(run_dir, 0o700)
    env = dict(os.environ, HOME=tmp, XDG_RUNTIME_DIR=run_dir)
    if sanitize == "address":
        # The installed library is instrumented: so must the programs be.
        flags = "-fsanitize=address,undefined"
        env["CFLAGS"] = flags
        env["LDFLAGS"] = flags
    proc = subprocess.Popen(["bash", "-c", "\n".join(script)], env=env, stdout=subprocess.PIPE,
                            text=True, start_new_session=True)
    try:
        out, _ = proc.communicate(timeout=540)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, _ = proc.communicate()
        print(out)
        print("FAIL: the tutorial timed out")
        return 1
    finally:
        try:
            os.killpg(proc.pid, signal.SIGKILL)  # a server left running
        except ProcessLookupError:
            pass
    print(out)
    failures = 0
    if proc.returncode != 0:
        print("FAIL: a tutorial command failed (bash exit status %d)" % proc.returncode)
        failures += 1
    for n, want in expected.items():
        m = re.search(r"@@begin %d@@\n(.*?)@@end %d@@" % (n, n), out, re.S)
        got = m.group(1).split("\n") if m else []
        k = 0
        for line in got:
            if k < len(want) and line == want[k]:
                k += 1
        if k == len(want):
            print("ok   block %d printed what the tutorial shows" % n)
        else:
            print("FAIL block %d: expected %r, got %r" % (n, want, got))
            failures += 1
    shutil.rmtree(tmp, ignore_errors=True)
    return 1 if failures else 0


def sh_quote(s):
    return "'" + s.replace("'", "'\\''") + "'"


if __name__ == "__main__":
    sys.exit(main())
