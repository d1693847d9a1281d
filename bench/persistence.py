#!/usr/bin/env python3
"""Snapshot benchmark: magpie-server against redis-server, 1M keys.

For each server: DEBUG POPULATE N keys, then
- SAVE: wall time of the command, file size;
- BGSAVE: wall time until it finished, the longest PING round trip seen
  while it ran (the pause clients see: magpie's serialization cut, Redis's
  fork), and the extra memory it took under a SET load (redis-benchmark in
  the background): magpie's peak RSS growth sampled every ms, Redis's
  `rdb_last_cow_size` (the fork's copy-on-write) plus the parent's growth;
- load: time from start to the first PONG on that file.

Usage: bench/persistence.py [--keys N] [--magpie PATH] [--shards 1,2]
"""

import argparse
import os
import shutil
import socket
import subprocess
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def cmd(port, *args, timeout=600):
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        out = b"*%d\r\n" % len(args)
        for a in args:
            a = a if isinstance(a, bytes) else str(a).encode()
            out += b"$%d\r\n%s\r\n" % (len(a), a)
        s.sendall(out)
        buf = b""
        while True:
            d = s.recv(1 << 20)
            if not d:
                break
            buf += d
            if buf[:1] in (b"+", b"-", b":") and buf.endswith(b"\r\n"):
                break
            if buf[:1] == b"$":
                n = int(buf[1:buf.index(b"\r\n")])
                if n < 0 or len(buf) >= buf.index(b"\r\n") + 2 + n + 2:
                    break
        return buf


def info(port, field):
    text = cmd(port, "INFO", "persistence").decode()
    for line in text.splitlines():
        if line.startswith(field + ":"):
            return line.split(":", 1)[1].strip()
    return None


def rss(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


def start(argv, port, d):
    p = subprocess.Popen(argv + ["--port", str(port), "--dir", d, "--save", ""],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    t0 = time.time()
    while True:
        try:
            if cmd(port, "PING", timeout=1).startswith(b"+PONG"):
                return p, time.time() - t0
        except OSError:
            time.sleep(0.001)
        if time.time() - t0 > 120:
            raise RuntimeError("no PONG")


def stop(p, port):
    try:
        cmd(port, "SHUTDOWN", "NOSAVE", timeout=5)
    except OSError:
        pass
    p.wait(timeout=30)


def measure(name, argv, keys):
    d = tempfile.mkdtemp(prefix="snapbench-")
    port = free_port()
    p, _ = start(argv, port, d)
    cmd(port, "DEBUG", "POPULATE", keys)
    t0 = time.time()
    cmd(port, "SAVE")
    save_s = time.time() - t0
    size = os.path.getsize(os.path.join(d, "dump.rdb"))

    # BGSAVE under a write load, pinging and sampling memory meanwhile.
    load = subprocess.Popen(["redis-benchmark", "-p", str(port), "-t", "set", "-r", str(keys),
                             "-n", "100000000", "-c", "8", "-P", "4", "-q"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(0.5)
    base = rss(p.pid)
    peak = [base]
    stop_flag = [False]

    def sampler():
        while not stop_flag[0]:
            peak[0] = max(peak[0], rss(p.pid))
            time.sleep(0.001)

    th = threading.Thread(target=sampler)
    th.start()
    worst = [0.0]

    def pinger():
        while not stop_flag[0]:
            t = time.time()
            cmd(port, "PING")
            worst[0] = max(worst[0], time.time() - t)
            time.sleep(0.001)

    pg = threading.Thread(target=pinger)
    pg.start()
    t0 = time.time()
    cmd(port, "BGSAVE")
    while info(port, "rdb_bgsave_in_progress") != "0":
        time.sleep(0.002)
    bg_s = time.time() - t0
    time.sleep(0.05)
    stop_flag[0] = True
    th.join()
    pg.join()
    load.kill()
    load.wait()
    cow = int(info(port, "rdb_last_cow_size") or 0)
    extra = peak[0] - base + cow
    stop(p, port)

    port = free_port()
    p, load_s = start(argv, port, d)
    dbsize = cmd(port, "DBSIZE").decode().strip()
    stop(p, port)
    shutil.rmtree(d, ignore_errors=True)
    print(f"| {name} | {save_s:.3f} s | {size / 1e6:.1f} MB | {bg_s:.3f} s | {worst[0] * 1000:.1f} ms "
          f"| {extra / 1e6:.1f} MB | {load_s:.3f} s ({dbsize}) |", flush=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--keys", type=int, default=1_000_000)
    ap.add_argument("--magpie", default=os.path.join(ROOT, "target/release/magpie-server"))
    ap.add_argument("--shards", default="1,2")
    a = ap.parse_args()
    print(f"{a.keys} keys (DEBUG POPULATE), rdbcompression yes")
    print("| server | SAVE | file | BGSAVE | worst PING during BGSAVE | extra memory during BGSAVE under SET load | load (start to PONG) |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    measure("redis-server 7.0", ["redis-server", "--appendonly", "no", "--enable-debug-command", "yes"], a.keys)
    for s in a.shards.split(","):
        measure(f"magpie --shards {s}", [a.magpie, "--shards", s, "--enable-debug-command", "yes"], a.keys)


if __name__ == "__main__":
    main()
