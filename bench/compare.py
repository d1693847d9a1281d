#!/usr/bin/env python3
"""Side-by-side benchmark: magpie-server against redis-server.

Runs the same redis-benchmark workloads against both servers, alternating
magpie and redis for each workload, with the server pinned to core 0 and
redis-benchmark to core 1. Reports throughput (ops/s) and server CPU time
per request (from /proc/PID/stat), the fair comparison on a 2-core machine
where the benchmark client is often the bottleneck.

Usage: bench/compare.py [--requests N] [--shards N] [--tests set,get,...] [--magpie PATH]

`--tests publish1,publish50` measures PUBLISH to a channel with 1 and 50
subscribers (redis-cli processes on the client's core, reading everything).
`--tests set-evict` measures SET while evicting (maxmemory 50mb,
allkeys-lru, 100-byte values over 10M keys).
"""

import argparse
import csv
import hashlib
import io
import os
import shutil
import socket
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TICK = os.sysconf("SC_CLK_TCK")


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def wait_pong(port, limit=10.0):
    start = time.time()
    while time.time() - start < limit:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5) as s:
                s.sendall(b"PING\r\n")
                if s.recv(16).startswith(b"+PONG"):
                    return time.time() - start
        except OSError:
            time.sleep(0.001)
    raise RuntimeError(f"server on port {port} did not answer PING")


def cpu_seconds(pid):
    """utime + stime of all threads, from /proc/PID/stat."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def start(kind, magpie, shards, extra=()):
    port = free_port()
    if kind == "redis":
        cmd = ["redis-server", "--port", str(port), "--save", "", "--appendonly", "no"]
    else:
        cmd = [magpie, "--port", str(port), "--save", "", "--shards", str(shards)]
    cmd += list(extra)
    t0 = time.time()
    proc = subprocess.Popen(["taskset", "-c", "0"] + cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_pong(port)
    startup = time.time() - t0
    return proc, port, startup


# Workloads that redis-benchmark has no -t name for: a command line with
# __rand_int__ placeholders.
# A one-call Lua script (EVALSHA / EVAL of a GET), loaded before the run.
SCRIPT = "return redis.call('get', KEYS[1])"
SCRIPT_SHA = hashlib.sha1(SCRIPT.encode()).hexdigest()

CUSTOM = {
    "evalsha": ["EVALSHA", SCRIPT_SHA, "1", "key:__rand_int__"],
    "eval": ["EVAL", SCRIPT, "1", "key:__rand_int__"],
    "zincrby": ["ZINCRBY", "board", "1", "player:__rand_int__"],
    "zrevrange10": ["ZREVRANGE", "board", "0", "9", "WITHSCORES"],
}


def publish_test(test):
    """`publish1`, `publish50`: PUBLISH to a channel with that many subscribers."""
    if test.startswith("publish") and test[7:].isdigit():
        return int(test[7:])
    return None


def numsub(port, channel):
    with socket.create_connection(("127.0.0.1", port), timeout=2) as s:
        s.sendall(f"PUBSUB NUMSUB {channel}\r\n".encode())
        reply = s.recv(256).split(b"\r\n")
        return int(reply[3][1:])


def start_subscribers(port, n):
    """n redis-cli subscribers (on the client's core) that read everything."""
    subs = [subprocess.Popen(["taskset", "-c", "1", "redis-cli", "-p", str(port), "subscribe", "bench:chan"],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) for _ in range(n)]
    deadline = time.time() + 10
    while numsub(port, "bench:chan") < n:
        if time.time() > deadline:
            raise RuntimeError("subscribers did not subscribe")
        time.sleep(0.01)
    return subs


# Workloads under maxmemory: (redis-benchmark arguments, server arguments).
# SET of 100-byte values over 10M random keys overflows 50 MB, so the
# servers evict all along.
EVICT = {
    "set-evict": (["-t", "set", "-d", "100"],
                  ["--maxmemory", "50mb", "--maxmemory-policy", "allkeys-lru"]),
}


def run_benchmark(port, test, pipeline, requests, clients=50, keyspace=100000):
    if publish_test(test) is not None:
        what = ["PUBLISH", "bench:chan", "__rand_int__"]
    elif test in EVICT:
        what, keyspace = EVICT[test][0], 10000000
    else:
        what = CUSTOM[test] if test in CUSTOM else ["-t", test]
    cmd = ["taskset", "-c", "1", "redis-benchmark", "-p", str(port), "-P", str(pipeline),
           "-c", str(clients), "-n", str(requests), "-r", str(keyspace), "--csv"] + what
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    rows = list(csv.reader(io.StringIO(out)))
    for r in rows[1:]:
        if r:
            return float(r[1])
    raise RuntimeError(f"no result from redis-benchmark: {out!r}")


def measure(kind, magpie, shards, test, pipeline, requests):
    proc, port, startup = start(kind, magpie, shards, EVICT.get(test, ((), ()))[1])
    try:
        # A short warm-up fills the keyspace so GETs hit (and the
        # leaderboard, for the sorted-set reads); under maxmemory, it
        # fills memory past the limit so the measured run evicts.
        if test in EVICT:
            run_benchmark(port, test, 16, 600000)
        else:
            run_benchmark(port, "set", 16, min(requests, 200000))
        if test.startswith("z"):
            run_benchmark(port, "zincrby", 16, min(requests, 200000))
        if test.startswith("eval"):
            subprocess.run(["redis-cli", "-p", str(port), "SCRIPT", "LOAD", SCRIPT],
                           capture_output=True, check=True)
        subs = start_subscribers(port, publish_test(test) or 0)
        try:
            before = cpu_seconds(proc.pid)
            rps = run_benchmark(port, test, pipeline, requests)
            cpu = cpu_seconds(proc.pid) - before
        finally:
            for s in subs:
                s.terminate()
                s.wait()
        return rps, cpu / requests * 1e6, startup
    finally:
        proc.terminate()
        proc.wait()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--requests", type=int, default=1000000)
    ap.add_argument("--shards", type=int, default=1)
    ap.add_argument("--tests", default="set,get,incr,mset")
    ap.add_argument("--pipelines", default="1,16")
    ap.add_argument("--magpie", default=os.path.join(ROOT, "target", "release", "magpie-server"))
    args = ap.parse_args()
    for tool in ("redis-server", "redis-benchmark", "taskset"):
        if not shutil.which(tool):
            sys.exit(f"{tool} not found: apt-get install -y redis-server redis-tools util-linux")
    if not os.path.exists(args.magpie):
        sys.exit(f"{args.magpie} not found: cargo build --release -p magpie-server")
    print(f"magpie --shards {args.shards} vs redis-server {subprocess.run(['redis-server', '--version'], capture_output=True, text=True).stdout.split()[2]}; "
          f"{args.requests} requests, 50 clients, random keys over 100k; server on core 0, client on core 1")
    print(f"{'workload':<12}{'redis ops/s':>14}{'magpie ops/s':>14}{'ratio':>8}{'redis us/req':>14}{'magpie us/req':>15}{'cpu ratio':>11}")
    startups = {"redis": [], "magpie": []}
    for test in args.tests.split(","):
        for p in [int(x) for x in args.pipelines.split(",")]:
            r_rps, r_cpu, r_start = measure("redis", args.magpie, args.shards, test, p, args.requests)
            m_rps, m_cpu, m_start = measure("magpie", args.magpie, args.shards, test, p, args.requests)
            startups["redis"].append(r_start)
            startups["magpie"].append(m_start)
            name = f"{test.upper()} -P {p}"
            print(f"{name:<12}{r_rps:>14.0f}{m_rps:>14.0f}{m_rps / r_rps:>8.2f}{r_cpu:>14.3f}{m_cpu:>15.3f}{r_cpu / m_cpu:>11.2f}", flush=True)
    for k, v in startups.items():
        print(f"start to first PONG, {k}: median {sorted(v)[len(v) // 2] * 1000:.1f} ms")


if __name__ == "__main__":
    main()
