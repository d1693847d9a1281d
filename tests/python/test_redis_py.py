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
