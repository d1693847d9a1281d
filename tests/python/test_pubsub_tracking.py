"""Pub/sub, keyspace notifications and client-side caching with redis-py 8.

Run through `cargo test -p magpie-tests --test redis_py` (MAGPIE_PORT).
"""

import os
import time

import redis
from redis.cache import CacheConfig

PORT = int(os.environ["MAGPIE_PORT"])


def client(**kw):
    return redis.Redis(host="127.0.0.1", port=PORT, **kw)


def wait_message(p, timeout=5.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        m = p.get_message(ignore_subscribe_messages=True, timeout=0.1)
        if m is not None:
            return m
    raise AssertionError("no message")


def test_client_side_cache_never_serves_a_stale_value():
    # redis-py's own cache: CLIENT TRACKING over RESP3, invalidation pushes.
    cached = client(protocol=3, cache_config=CacheConfig(), decode_responses=True)
    writer = client(decode_responses=True)
    for i in range(50):
        key = f"csc:{i % 7}"
        writer.set(key, f"v{i}")
        assert cached.get(key) == f"v{i}"
        # served from the local cache until another client changes it
        assert cached.get(key) == f"v{i}"
        writer.set(key, f"w{i}")
        assert cached.get(key) == f"w{i}"
        writer.delete(key)
        assert cached.get(key) is None
    # FLUSHALL invalidates everything (a null invalidation)
    writer.set("csc:f", "1")
    assert cached.get("csc:f") == "1"
    writer.flushall()
    assert cached.get("csc:f") is None
    # expiry invalidates too
    writer.set("csc:e", "1", px=30)
    assert cached.get("csc:e") == "1"
    deadline = time.monotonic() + 5
    while cached.get("csc:e") is not None:
        assert time.monotonic() < deadline, "expired key still served"
        time.sleep(0.02)


def test_invalidation_bus_many_subscribers():
    # Writers publish the keys they change; each subscriber drops its copy.
    writer = client(decode_responses=True)
    readers = []
    for _ in range(20):
        c = client(decode_responses=True)
        p = c.pubsub()
        p.subscribe("bus:invalidate")
        wait_subscribed(p)
        readers.append((c, p, {}))
    for i in range(10):
        writer.set(f"bus:{i}", "old")
    for c, _, cache in readers:
        for i in range(10):
            cache[f"bus:{i}"] = c.get(f"bus:{i}")
    for i in range(10):
        writer.set(f"bus:{i}", "new")
        assert writer.publish("bus:invalidate", f"bus:{i}") == len(readers)
    for c, p, cache in readers:
        for _ in range(10):
            m = wait_message(p)
            cache.pop(m["data"], None)
        assert cache == {}
        for i in range(10):
            assert cache.get(f"bus:{i}") or c.get(f"bus:{i}") == "new"
        p.close()


def wait_subscribed(p):
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        m = p.get_message(timeout=0.1)
        if m and m["type"] == "subscribe":
            return
    raise AssertionError("no subscribe confirmation")


def test_keyspace_notifications_through_redis_py():
    r = client(decode_responses=True)
    r.config_set("notify-keyspace-events", "KEA")
    try:
        p = r.pubsub()
        p.psubscribe("__keyspace@0__:py:ks*")
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            m = p.get_message(timeout=0.1)
            if m and m["type"] == "psubscribe":
                break
        r.set("py:ks", "1")
        r.incr("py:ks")
        r.delete("py:ks")
        events = [wait_message(p)["data"] for _ in range(3)]
        assert events == ["set", "incrby", "del"]
        p.close()
    finally:
        r.config_set("notify-keyspace-events", "")


def test_resp3_subscriber_runs_commands_between_messages():
    r = client(protocol=3, decode_responses=True)
    p = r.pubsub()
    p.subscribe("py:ch")
    wait_subscribed(p)
    assert client().publish("py:ch", "hello") == 1
    assert wait_message(p)["data"] == "hello"
    assert r.pubsub_numsub("py:ch") == [("py:ch", 1)]
    p.close()
