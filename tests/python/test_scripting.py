"""redis-py's Lua users against magpie: Lock (acquire, extend, release,
blocking), register_script (EVALSHA with the NOSCRIPT fallback), and
reply conversions as redis-py sees them (RESP3 by default).

Run through `cargo test -p magpie-tests --test redis_py`.
"""

import os
import threading
import time

import pytest
import redis
from redis.exceptions import LockError, LockNotOwnedError, ResponseError

PORT = int(os.environ["MAGPIE_PORT"])


def client(**kw):
    return redis.Redis(host="127.0.0.1", port=PORT, **kw)


def test_lock_acquire_extend_release():
    r = client()
    lock = r.lock("py:lock", timeout=10)
    assert lock.acquire(blocking=False)
    assert r.get("py:lock") == lock.local.token
    other = r.lock("py:lock", timeout=10)
    assert not other.acquire(blocking=False)
    assert lock.extend(5)
    assert r.pttl("py:lock") > 10_000
    assert lock.extend(30, replace_ttl=True)
    assert 20_000 < r.pttl("py:lock") <= 30_000
    assert lock.reacquire()
    assert lock.owned()
    lock.release()
    assert r.get("py:lock") is None
    with pytest.raises(LockError):
        lock.release()


def test_lock_not_owned():
    r = client()
    lock = r.lock("py:lock2", timeout=10)
    assert lock.acquire(blocking=False)
    r.set("py:lock2", "someone else")
    with pytest.raises(LockNotOwnedError):
        lock.release()
    again = r.lock("py:lock2", timeout=10)
    again.local.token = b"not the owner"
    with pytest.raises(LockNotOwnedError):
        again.extend(5)
    r.delete("py:lock2")


def test_lock_blocking_waits_for_release():
    r = client()
    first = r.lock("py:lock3", timeout=10)
    assert first.acquire()
    got = []

    def waiter():
        second = client().lock("py:lock3", timeout=10, blocking_timeout=10, sleep=0.01)
        got.append(second.acquire())
        second.release()

    t = threading.Thread(target=waiter)
    t.start()
    time.sleep(0.1)
    first.release()
    t.join(15)
    assert got == [True]


def test_lock_context_manager():
    r = client()
    with r.lock("py:lock4", timeout=5):
        assert r.exists("py:lock4") == 1
    assert r.exists("py:lock4") == 0


def test_register_script_and_noscript_fallback():
    r = client()
    incr_by = r.register_script(
        "local v = redis.call('incrby', KEYS[1], ARGV[1]) return {v, ARGV[2]}"
    )
    assert incr_by(keys=["py:cnt"], args=[5, "x"]) == [5, b"x"]
    r.script_flush()
    # EVALSHA fails with NOSCRIPT; redis-py loads the script and retries.
    assert incr_by(keys=["py:cnt"], args=[2, "y"]) == [7, b"y"]
    assert r.script_exists(incr_by.sha) == [True]


def test_register_script_in_pipeline():
    r = client()
    s = r.register_script("return redis.call('set', KEYS[1], ARGV[1])")
    r.script_flush()
    with r.pipeline(transaction=False) as p:
        s(keys=["py:a"], args=["1"], client=p)
        s(keys=["py:b"], args=["2"], client=p)
        assert p.execute() == [b"OK", b"OK"]
    assert r.mget("py:a", "py:b") == [b"1", b"2"]


def test_rate_limiter_script_across_keys():
    r = client()
    limiter = r.register_script(
        """
        local n = redis.call('incr', KEYS[1])
        if n == 1 then redis.call('pexpire', KEYS[1], ARGV[2]) end
        if n > tonumber(ARGV[1]) then return 0 end
        return 1
        """
    )
    allowed = [limiter(keys=["py:rl"], args=[3, 60000]) for _ in range(5)]
    assert allowed == [1, 1, 1, 0, 0]
    assert 0 < r.pttl("py:rl") <= 60000


def test_resp3_conversions():
    r = client()
    assert r.eval("redis.setresp(3) return {map={a=1}}", 0) == {b"a": 1}
    assert r.eval("redis.setresp(3) return {double=1.5}", 0) == 1.5
    assert r.eval("redis.setresp(3) return true", 0) is True
    assert r.eval("return {1, 'x', {ok='fine'}}", 0) == [1, b"x", b"fine"]
    with pytest.raises(ResponseError, match="Unknown Redis command called from script"):
        r.eval("return redis.call('nosuch')", 0)


def test_functions():
    r = client()
    r.function_flush()
    code = "#!lua name=pylib\nredis.register_function('pyf', function(keys, args) return args[1] .. keys[1] end)"
    assert r.function_load(code) == b"pylib"
    assert r.fcall("pyf", 1, "k", "v") == b"vk"
    assert b"pylib" in repr(r.function_list()).encode()
    r.function_flush()


def test_script_kill_of_a_busy_script():
    r = client()
    r.config_set("busy-reply-threshold", 50)
    try:
        errors = []

        def run():
            try:
                client().eval("while true do end", 0)
            except ResponseError as e:
                errors.append(str(e))

        t = threading.Thread(target=run)
        t.start()
        deadline = time.time() + 20
        killed = False
        while time.time() < deadline and not killed:
            try:
                client().script_kill()
                killed = True
            except ResponseError:
                time.sleep(0.02)
        t.join(20)
        assert killed
        assert errors and "Script killed by user with SCRIPT KILL" in errors[0]
    finally:
        r.config_set("busy-reply-threshold", 5000)
