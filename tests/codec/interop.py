"""Interoperability peer for test_interop: checks the messages piperpc
encoded (argv[1]) with Python's msgpack package, then writes messages the
way Python peers send them (argv[2]) for piperpc to decode."""
import struct
import sys

import msgpack


def main():
    src, dst = sys.argv[1], sys.argv[2]
    with open(src, "rb") as f:
        got = list(msgpack.Unpacker(f, raw=False, strict_map_key=False))
    want = [
        [0, 1, "kv.Store.put",
         ["key", b"\x00\x01\xff", [-1, 2**64 - 1, -2**63, 1.5, True, None], {"a": 1}, "h\u00e9llo"]],
        [2, "ev", [3.25, [1, "union"]]],
        [1, 7, None, [42, "out"]],
        [1, 8, [-9, "bad arguments"], None],
    ]
    if got != want:
        sys.exit("piperpc's messages decoded as %r, expected %r" % (got, want))

    out = b""
    out += msgpack.packb([0, 4294967295, "m.I.f",
                          ["s" * 40, b"b" * 300, 2**63, -2**63, 0.1, [], {}, msgpack.ExtType(5, b"xyz")]],
                         use_bin_type=True)
    out += msgpack.packb([1, 3, None, [1, 2, 3]])
    out += msgpack.packb([1, 4, "plain string error", None])
    out += msgpack.packb([2, "note", [{"k": [1, {"x": None}]}]])
    # An old-style peer: bytes travel as raw str.
    out += msgpack.packb([0, 5, "m", [b"raw bytes"]], use_bin_type=False)
    # A float 32 written by hand: Python itself only writes float 64.
    out += b"\x93\x02\xa1f\x91\xca" + struct.pack(">f", 0.5)
    with open(dst, "wb") as f:
        f.write(out)


main()
