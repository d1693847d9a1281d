#!/usr/bin/env python3
"""Bytes per entry: magpie-server against redis-server.

For each workload, starts a fresh server, loads it through `redis-cli --pipe`,
and reports (used_memory after - before) / entries and the RSS growth per
entry, for both servers side by side.

Usage: bench/memory.py [--scale 1.0] [--shards 1] [--magpie PATH] [--only NAME]
"""

import argparse
import os
import socket
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def resp(*args):
    out = [f"*{len(args)}\r\n".encode()]
    for a in args:
        a = a if isinstance(a, bytes) else str(a).encode()
        out.append(b"$%d\r\n%s\r\n" % (len(a), a))
    return b"".join(out)


def workloads(scale):
    n_str = int(1_000_000 * scale)
    n_obj = int(100_000 * scale)
    n_zset = int(1_000_000 * scale)
    return [
        ("small strings", n_str, lambda: (resp("SET", f"key:{i:012d}", "xxx") for i in range(n_str))),
        ("small hashes (5 fields)", n_obj,
         lambda: (resp("HSET", f"h:{i}", "f1", "v1", "f2", "v2", "f3", "v3", "f4", "v4", "f5", "v5") for i in range(n_obj))),
        ("small sets (5 members)", n_obj,
         lambda: (resp("SADD", f"s:{i}", "alpha", "beta", "gamma", "delta", "epsilon") for i in range(n_obj))),
        ("sorted set members", n_zset,
         lambda: (resp("ZADD", "board", i * 1.5, f"player:{i}") for i in range(n_zset))),
    ]


def info_memory(port):
    out = subprocess.run(["redis-cli", "-p", str(port), "INFO", "memory"], capture_output=True, text=True).stdout
    vals = {}
    for line in out.splitlines():
        if ":" in line:
            k, v = line.split(":", 1)
            vals[k] = v.strip()
    return int(vals.get("used_memory", 0)), int(vals.get("used_memory_rss", 0))


def wait_pong(port):
    for _ in range(500):
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5) as s:
                s.sendall(b"PING\r\n")
                if s.recv(16).startswith(b"+PONG"):
                    return
        except OSError:
            time.sleep(0.01)
    raise RuntimeError("server did not start")


def measure(kind, magpie, shards, gen, n):
    port = free_port()
    if kind == "redis":
        cmd = ["redis-server", "--port", str(port), "--save", "", "--appendonly", "no"]
    else:
        cmd = [magpie, "--port", str(port), "--save", "", "--shards", str(shards)]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_pong(port)
        used0, rss0 = info_memory(port)
        pipe = subprocess.Popen(["redis-cli", "-p", str(port), "--pipe"], stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        for chunk in gen():
            pipe.stdin.write(chunk)
        pipe.stdin.close()
        out = pipe.stdout.read().decode()
        pipe.wait()
        if "errors: 0" not in out:
            return None, None
        time.sleep(0.5)
        used1, rss1 = info_memory(port)
        return (used1 - used0) / n, (rss1 - rss0) / n
    finally:
        proc.terminate()
        proc.wait()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--scale", type=float, default=1.0)
    ap.add_argument("--shards", type=int, default=1)
    ap.add_argument("--magpie", default=os.path.join(ROOT, "target", "release", "magpie-server"))
    ap.add_argument("--only", default="", help="run only workloads whose name contains this")
    args = ap.parse_args()
    if not os.path.exists(args.magpie):
        sys.exit(f"{args.magpie} not found: cargo build --release -p magpie-server")
    print(f"{'workload':<26}{'entries':>10}{'redis B/entry':>15}{'magpie B/entry':>16}{'ratio':>8}{'redis rss/e':>13}{'magpie rss/e':>14}")
    for name, n, gen in workloads(args.scale):
        if args.only not in name:
            continue
        r_used, r_rss = measure("redis", args.magpie, args.shards, gen, n)
        m_used, m_rss = measure("magpie", args.magpie, args.shards, gen, n)
        if r_used is None or m_used is None:
            print(f"{name:<26}{n:>10}{'n/a':>15}{'n/a':>16}")
            continue
        print(f"{name:<26}{n:>10}{r_used:>15.1f}{m_used:>16.1f}{m_used / r_used:>8.2f}{r_rss:>13.1f}{m_rss:>14.1f}", flush=True)


if __name__ == "__main__":
    main()
