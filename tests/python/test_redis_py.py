"""redis-py 8 with its defaults (RESP3) against magpie.

Run through `cargo test -p magpie-tests --test redis_py`, which starts the
server and passes its port in MAGPIE_PORT.
"""

import os

import redis

PORT = int(os.environ["MAGPIE_PORT"])


def client(**kw):
    return redis.Redis(host="127.0.0.1", port=PORT, **kw)


def test_defaults_speak_resp3():
    r = client()
    hello = r.execute_command("HELLO")
    # redis-py 8 negotiates RESP3 by default; the HELLO map says so.
    assert hello[b"proto"] == 3
    assert hello[b"server"] == b"redis"
    assert hello[b"version"] == b"7.4.0"


def test_strings_round_trip():
    r = client(decode_responses=True)
    assert r.set("py:k", "v") is True
    assert r.get("py:k") == "v"
    assert r.get("py:missing") is None
    assert r.set("py:k", "w", nx=True) is None
    assert r.set("py:k", "w", xx=True, get=True) == "v"


def test_pipeline_without_transaction():
    r = client()
    with r.pipeline(transaction=False) as p:
        for i in range(1000):
            p.set(f"py:p{i}", i)
        for i in range(1000):
            p.get(f"py:p{i}")
        out = p.execute()
    assert out[:1000] == [True] * 1000
    assert out[1000:] == [str(i).encode() for i in range(1000)]


def test_resp2_still_works():
    r = client(protocol=2, decode_responses=True)
    assert r.ping() is True
    assert r.set("py:r2", "x") is True
    assert r.get("py:r2") == "x"


def test_errors_carry_redis_text():
    r = client()
    try:
        r.execute_command("SET", "k", "v", "EX", "0")
    except redis.ResponseError as e:
        assert "invalid expire time in 'set' command" in str(e)
    else:
        raise AssertionError("expected an error")


def test_transactional_pipeline():
    r = client(decode_responses=True)
    r.delete("a", "b", "c", "d")
    with r.pipeline(transaction=True) as p:
        p.set("a", 1).incr("a").mset({"b": "x", "c": "y"}).mget("a", "b", "c", "d")
        assert p.execute() == [True, 2, True, ["2", "x", "y", None]]
    # A run-time error is raised after the whole transaction ran.
    with r.pipeline(transaction=True) as p:
        p.incr("b").set("d", "ran")
        try:
            p.execute()
            raise AssertionError("expected a ResponseError")
        except redis.ResponseError:
            pass
    assert r.get("d") == "ran"


def test_watch_retry_with_transaction_helper():
    r = client(decode_responses=True)
    r.set("py:bal", 10)
    other = client()
    calls = []

    def move(pipe):
        bal = int(pipe.get("py:bal"))
        if not calls:
            # Another client changes the watched key: the first EXEC fails
            # and redis-py retries the whole function.
            other.incr("py:bal", 5)
        calls.append(bal)
        pipe.multi()
        pipe.set("py:bal", bal - 1)
        pipe.incr("py:spent")

    r.delete("py:spent")
    r.transaction(move, "py:bal")
    assert calls == [10, 15]
    assert r.get("py:bal") == "14"
    assert r.get("py:spent") == "1"


def test_watch_error_on_changed_key():
    r = client()
    r.set("py:w", 1)
    with r.pipeline() as p:
        p.watch("py:w")
        client().set("py:w", 2)
        p.multi()
        p.get("py:w")
        try:
            p.execute()
            raise AssertionError("expected a WatchError")
        except redis.WatchError:
            pass
