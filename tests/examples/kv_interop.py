#!/usr/bin/env python3
"""Interoperability: a msgpack-rpc client written with python3-msgpack alone
(no piperpc code) talks to kv_server over a byte-mode unix socket and over
TCP: every kv.Store method, IDL errors, limits at the limit and one past,
pipelined requests, a notification, events, and malformed input.

usage: kv_interop.py PATH/TO/kv_server
"""
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

import msgpack

TIMEOUT = 10.0


class Peer:
    """One msgpack-rpc connection over a byte stream."""

    def __init__(self, sock):
        self.sock = sock
        self.sock.settimeout(TIMEOUT)
        self.unpacker = msgpack.Unpacker(raw=False, max_buffer_size=8 << 20)
        self.msgid = 0
        self.events = []
        self.replies = {}

    def send(self, obj):
        self.sock.sendall(msgpack.packb(obj, use_bin_type=True))

    def request(self, method, params):
        self.msgid += 1
        self.send([0, self.msgid, method, params])
        return self.msgid

    def read_one(self):
        while True:
            for msg in self.unpacker:
                return msg
            data = self.sock.recv(1 << 16)
            if not data:
                raise EOFError("the server closed the connection")
            self.unpacker.feed(data)

    def wait_reply(self, msgid):
        while msgid not in self.replies:
            msg = self.read_one()
            if msg[0] == 1:
                assert len(msg) == 4, msg
                assert msg[1] not in self.replies, "duplicate reply %r" % (msg,)
                self.replies[msg[1]] = (msg[2], msg[3])
            elif msg[0] == 2:
                self.events.append((msg[1], msg[2]))
            else:
                raise AssertionError("unexpected message %r" % (msg,))
        return self.replies.pop(msgid)

    def call(self, method, *params):
        return self.wait_reply(self.request(method, list(params)))

    def ok(self, method, *params):
        err, result = self.call(method, *params)
        assert err is None, "%s%r failed: %r" % (method, params, err)
        return result

    def wait_events(self, n):
        deadline = time.monotonic() + TIMEOUT
        while len(self.events) < n:
            assert time.monotonic() < deadline, "timed out waiting for events"
            msg = self.read_one()
            assert msg[0] == 2, "unexpected %r" % (msg,)
            self.events.append((msg[1], msg[2]))
        got, self.events = self.events[:n], self.events[n:]
        return got

    def close(self):
        self.sock.close()


def check(cond, what):
    if not cond:
        raise AssertionError(what)
    print("  ok   " + what)


def exercise(connect, label, prefix):
    print("== " + label)
    a = Peer(connect())
    b = Peer(connect())
    k = prefix + "key"

    check(a.ok("rpc.ping") is None, "rpc.ping answers nil")
    check(a.ok("kv.Store.put", k, b"v1") == 1, "put of a new key returns 1")
    check(a.ok("kv.Store.put", k, b"v2") == 2, "put again returns 2")
    got = a.ok("kv.Store.get", k)
    check(got == b"v2" and isinstance(got, bytes), "get returns the bytes as bin")

    err, res = a.call("kv.Store.get", prefix + "absent")
    check(isinstance(err, list) and err[0] == 1 and isinstance(err[1], str) and res is None,
          "get of a missing key raises [1, message] (NOT_FOUND): %r" % (err,))

    # Limits, at the limit and one past.
    check(a.ok("kv.Store.put", "k" * 256, b"x") >= 1, "a 256-byte key is accepted")
    err, _ = a.call("kv.Store.put", "k" * 257, b"x")
    check(isinstance(err, list) and err[0] == 2, "a 257-byte key raises TOO_LARGE (2)")
    check(a.ok("kv.Store.put", prefix + "big", b"\xab" * (1 << 20)) >= 1,
          "a 1 MiB value is accepted")
    check(a.ok("kv.Store.get", prefix + "big") == b"\xab" * (1 << 20), "and read back whole")
    err, _ = a.call("kv.Store.put", prefix + "big", b"\xab" * ((1 << 20) + 1))
    check(isinstance(err, list) and err[0] == 2, "a value of 1 MiB + 1 raises TOO_LARGE (2)")
    check(a.ok("kv.Store.remove", "k" * 256) is True, "remove of an existing key returns true")
    check(a.ok("kv.Store.remove", "k" * 256) is False, "remove of a missing key returns false")
    check(a.ok("kv.Store.remove", prefix + "big") is True, "remove of the big value")

    # Wrong arguments get a framework error (negative code); the connection lives.
    err, _ = a.call("kv.Store.put", k)
    check(isinstance(err, list) and err[0] < 0, "put with one parameter: framework error %r" % (err,))
    err, _ = a.call("kv.Store.get", 42)
    check(isinstance(err, list) and err[0] < 0, "get with an int key: framework error %r" % (err,))
    err, _ = a.call("kv.Store.nope")
    check(isinstance(err, list) and err[0] < 0, "an unknown method: framework error %r" % (err,))

    # list, count, stats.
    for i in range(5):
        a.ok("kv.Store.put", prefix + "list/%d" % (4 - i), b"%d" % i)
    entries = a.ok("kv.Store.list", prefix + "list/", 3)
    check([e[0] for e in entries] == [prefix + "list/0", prefix + "list/1", prefix + "list/2"],
          "list is sorted by key and honours the limit")
    check(entries[0] == [prefix + "list/0", b"4", 1], "an Entry is [key, value, version]")
    check(a.ok("kv.Store.list", prefix + "list/", 0) == [], "list with limit 0 is empty")
    count = a.ok("kv.Store.count")
    stats = a.ok("kv.Store.stats")
    check(isinstance(stats, list) and len(stats) == 2 and stats[0] == count,
          "stats is [count, bytes] and agrees with count (%d)" % count)

    # Events: b watches, a writes.
    check(b.ok("kv.Store.watch", prefix + "w/") is True, "watch returns true")
    a.ok("kv.Store.put", prefix + "w/1", b"x")
    a.ok("kv.Store.put", prefix + "other", b"x")
    a.ok("kv.Store.put", prefix + "w/1", b"y")
    # A notification: no reply comes; a request behind it is answered after it ran.
    a.send([2, "kv.Store.set_quiet", [prefix + "w/2", b"quiet"]])
    check(a.ok("kv.Store.get", prefix + "w/2") == b"quiet", "set_quiet (a notification) stored the value")
    ev = b.wait_events(3)
    want = [("kv.Store.changed", [prefix + "w/1", 1]),
            ("kv.Store.changed", [prefix + "w/1", 2]),
            ("kv.Store.changed", [prefix + "w/2", 1])]
    check(ev == want,
          "the watcher got changed [key, version] for matching keys only: %r" % (ev,))
    check(a.events == [], "the writer, not watching, got no event")

    # Pipelining: 200 requests written at once, replies matched by msgid.
    ids = {}
    buf = bytearray()
    for i in range(200):
        a.msgid += 1
        if i % 2 == 0:
            buf += msgpack.packb([0, a.msgid, "kv.Store.put", [prefix + "p/%d" % i, b"%d" % i]], use_bin_type=True)
            ids[a.msgid] = ("put", i)
        else:
            buf += msgpack.packb([0, a.msgid, "kv.Store.get", [prefix + "p/%d" % (i + 1000)]], use_bin_type=True)
            ids[a.msgid] = ("get", i)
    a.sock.sendall(bytes(buf))
    good = 0
    for msgid, (kind, i) in ids.items():
        err, res = a.wait_reply(msgid)
        if kind == "put" and err is None and res == 1:
            good += 1
        elif kind == "get" and isinstance(err, list) and err[0] == 1:
            good += 1
    check(good == 200, "200 pipelined requests each got their own reply")
    check(a.ok("kv.Store.list", prefix + "p/", 1000).__len__() == 100, "the 100 pipelined puts are stored")

    # A request split into single bytes still works (a byte stream has no framing).
    a.msgid += 1
    raw = msgpack.packb([0, a.msgid, "kv.Store.count", []])
    for byte in raw:
        a.sock.sendall(bytes([byte]))
        time.sleep(0.001)
    err, res = a.wait_reply(a.msgid)
    check(err is None and isinstance(res, int), "a request sent byte by byte is answered")

    # Concurrent writers on separate connections (the server runs them on
    # its pool threads): every put of one key gets its own version.
    versions = []
    vlock = threading.Lock()
    errors = []

    def writer(n):
        try:
            w = Peer(connect())
            mine = [w.ok("kv.Store.put", prefix + "shared", b"%d" % i) for i in range(150)]
            w.close()
            with vlock:
                versions.extend(mine)
        except Exception as e:  # reported below, not lost in the thread
            errors.append(e)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(TIMEOUT * 3)
    check(not errors and sorted(versions) == list(range(1, 1201)),
          "8 connections x 150 concurrent puts of one key got versions 1..1200 once each")

    # Malformed msgpack closes only that connection.
    c = Peer(connect())
    c.sock.sendall(b"\xc1\xc1\xc1\xc1")
    closed = False
    try:
        c.read_one()
    except (EOFError, ConnectionResetError):
        closed = True
    check(closed, "malformed msgpack: the server closes that connection")
    c.close()
    check(a.ok("kv.Store.get", k) == b"v2", "the other connections keep working")
    a.close()
    b.close()


def until(attempt, pause):
    """Calls attempt() every `pause` seconds until it returns something true
    or TIMEOUT has passed; returns its last result. For what the server does
    on its own time, such as releasing the watches of a closed connection."""
    deadline = time.monotonic() + TIMEOUT
    while True:
        got = attempt()
        if got or time.monotonic() >= deadline:
            return got
        time.sleep(pause)


def watch_limit(connect):
    """The store holds at most 4096 watches; those of closed connections are
    released once the server has seen them close, and count no more."""
    print("== watch limit")

    # The watches of the connections closed above (and of a failed attempt
    # here) go once the server has seen those connections close.
    def full_set():
        a = Peer(connect())
        ids = [a.request("kv.Store.watch", ["lim/%d" % i]) for i in range(4096)]
        if sum(1 for i in ids if a.wait_reply(i) == (None, True)) == 4096:
            return a
        a.close()
        return None

    a = until(full_set, 0.05)
    check(a is not None, "4096 watches are accepted")
    err, _ = a.call("kv.Store.watch", "lim/one-more")
    check(isinstance(err, list) and err[0] == 2, "the 4097th raises TOO_LARGE (2)")
    check(a.ok("kv.Store.watch", "lim/7") is True, "watching a prefix again is no new watch")
    a.close()
    b = Peer(connect())

    def watch_again():
        err, result = b.call("kv.Store.watch", "lim/again")
        return err is None and result is True

    check(until(watch_again, 0.01), "after that connection closed its watches were released")
    b.close()


def main():
    if len(sys.argv) != 2:
        print(__doc__)
        return 2
    server = sys.argv[1]
    tmp = tempfile.mkdtemp(prefix="kv-interop-")
    sock_path = os.path.join(tmp, "kv.sock")
    proc = subprocess.Popen([server, "unix:%s?mode=byte" % sock_path, "tcp:127.0.0.1:0"],
                            stdout=subprocess.PIPE, text=True)
    try:
        endpoints = []
        # Blocking reads: the test's own timeout bounds a server that hangs.
        while len(endpoints) < 2:
            line = proc.stdout.readline()
            assert line, "kv_server exited: %r" % proc.wait()
            if "listening on" in line:
                endpoints.append(line.split("listening on ", 1)[1].strip())
        tcp = [e for e in endpoints if e.startswith("tcp:")][0]
        host, port = tcp[4:].rsplit(":", 1)

        def unix_connect():
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.connect(sock_path)
            return s

        def tcp_connect():
            return socket.create_connection((host, int(port)), timeout=TIMEOUT)

        exercise(unix_connect, "unix byte mode: " + sock_path, "u/")
        exercise(tcp_connect, "tcp: %s:%s" % (host, port), "t/")

        watch_limit(unix_connect)

        proc.send_signal(signal.SIGTERM)
        rc = proc.wait(timeout=TIMEOUT)
        check(rc == 0, "kv_server exits 0 after SIGTERM")
        return 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
