#!/usr/bin/env python3
"""Records expected results for the library cases from a real redis-server.

Usage: gen_reference.py PORT FILE...   (FILE: testdata/<lib>.cases)

Each non-comment line of a cases file is `expr<TAB>expected`; the expected
column is rewritten with what Redis returns for the case run through
harness.lua. A case containing `return` is a function body, otherwise an
expression returned from one.
"""
import socket
import sys
from pathlib import Path


def command(sock, *args):
    out = b"*%d\r\n" % len(args)
    for a in args:
        a = a if isinstance(a, bytes) else str(a).encode()
        out += b"$%d\r\n%s\r\n" % (len(a), a)
    sock.sendall(out)
    f = sock.makefile("rb")
    line = f.readline()
    if line.startswith(b"$"):
        n = int(line[1:])
        return f.read(n + 2)[:-2]
    if line.startswith(b"-"):
        return b"REDIS-ERROR " + line[1:].rstrip()
    return line.rstrip()


def case_fn(expr):
    if "return" in expr:
        return "function() " + expr + " end"
    # Not a tail call: Redis keeps the caller's line in C errors either way,
    # magpie only outside tail position (see libs/mod.rs).
    return "function() local r = pk(" + expr + ") return unpack(r, 1, r.n) end"


def main():
    port = int(sys.argv[1])
    harness = (Path(__file__).parent / "harness.lua").read_text()
    sock = socket.create_connection(("127.0.0.1", port))
    for name in sys.argv[2:]:
        path = Path(name)
        lines = []
        for line in path.read_text().splitlines():
            if not line.strip() or line.startswith("#"):
                lines.append(line)
                continue
            expr = line.split("\t")[0]
            script = harness.replace("CASE", case_fn(expr))
            got = command(sock, "EVAL", script, 0).decode("latin-1")
            lines.append(expr + "\t" + got)
        path.write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
