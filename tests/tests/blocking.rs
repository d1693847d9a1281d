//! Blocking list commands against a real magpie-server: fairness,
//! timeouts, disconnects, keys on several shards, BLMOVE atomicity and
//! CLIENT UNBLOCK. Timing is only bounded generously.

#![allow(clippy::unwrap_used)]

use magpie_tests::Server;
use redis::Commands;
use std::io::Write;
use std::thread;
use std::time::{Duration, Instant};

/// Waits until exactly `n` clients are blocked (CLIENT LIST flag `b`).
fn wait_blocked(con: &mut redis::Connection, n: usize) {
    let start = Instant::now();
    loop {
        let list: String = redis::cmd("CLIENT").arg("LIST").query(con).unwrap();
        let blocked = list
            .lines()
            .filter(|l| {
                l.split(' ')
                    .any(|f| f.starts_with("flags=") && f.contains('b'))
            })
            .count();
        if blocked == n {
            return;
        }
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "expected {n} blocked clients, have {blocked}"
        );
        thread::sleep(Duration::from_millis(5));
    }
}

fn blpop_in_thread(
    server: &Server,
    args: &'static [&'static str],
) -> thread::JoinHandle<redis::Value> {
    let mut con = server.connect();
    thread::spawn(move || redis::cmd("BLPOP").arg(args).query(&mut con).unwrap())
}

fn bulk(v: &redis::Value) -> Vec<u8> {
    match v {
        redis::Value::BulkString(b) => b.clone(),
        other => panic!("not a bulk string: {other:?}"),
    }
}

fn pair(v: redis::Value) -> (Vec<u8>, Vec<u8>) {
    match v {
        redis::Value::Array(a) if a.len() == 2 => (bulk(&a[0]), bulk(&a[1])),
        other => panic!("not a pair: {other:?}"),
    }
}

#[test]
fn waiters_are_served_first_come_first_served() {
    for shards in ["1", "4"] {
        let server = Server::start(&["--shards", shards]);
        let mut con = server.connect();
        let mut handles = Vec::new();
        for i in 0..5 {
            handles.push(blpop_in_thread(&server, &["fifo", "0"]));
            wait_blocked(&mut con, i + 1);
        }
        // One push feeds all five in arrival order; the list is left empty.
        let n: i64 = con.rpush("fifo", &["e0", "e1", "e2", "e3", "e4"]).unwrap();
        assert_eq!(n, 5);
        let len: i64 = con.llen("fifo").unwrap();
        assert_eq!(
            len, 0,
            "the waiters took the elements before the next command"
        );
        for (i, h) in handles.into_iter().enumerate() {
            let (k, v) = pair(h.join().unwrap());
            assert_eq!(k, b"fifo");
            assert_eq!(v, format!("e{i}").into_bytes());
        }
    }
}

#[test]
fn a_push_that_feeds_a_waiter_leaves_no_intermediate_state() {
    for shards in ["1", "4"] {
        let server = Server::start(&["--shards", shards]);
        let mut con = server.connect();
        let h = blpop_in_thread(&server, &["l", "0"]);
        wait_blocked(&mut con, 1);
        let n: i64 = con.rpush("l", "a").unwrap();
        assert_eq!(n, 1);
        let exists: i64 = con.exists("l").unwrap();
        assert_eq!(exists, 0);
        assert_eq!(pair(h.join().unwrap()), (b"l".to_vec(), b"a".to_vec()));
    }
}

#[test]
fn timeout_answers_nil_and_errors_are_redis_texts() {
    let server = Server::start(&["--shards", "4"]);
    let mut con = server.connect();
    let start = Instant::now();
    let v: redis::Value = redis::cmd("BLPOP")
        .arg("none")
        .arg("0.2")
        .query(&mut con)
        .unwrap();
    assert_eq!(v, redis::Value::Nil);
    let took = start.elapsed();
    assert!(
        took >= Duration::from_millis(150) && took < Duration::from_secs(5),
        "{took:?}"
    );
    let v: redis::Value = redis::cmd("BLMOVE")
        .arg(&["none", "x", "LEFT", "RIGHT", "0.05"])
        .query(&mut con)
        .unwrap();
    assert_eq!(v, redis::Value::Nil);
    let e = redis::cmd("BLPOP")
        .arg(&["l", "-1"])
        .query::<redis::Value>(&mut con)
        .unwrap_err();
    assert!(e.to_string().contains("timeout is negative"), "{e}");
    let e = redis::cmd("BLPOP")
        .arg(&["l", "x"])
        .query::<redis::Value>(&mut con)
        .unwrap_err();
    assert!(
        e.to_string()
            .contains("timeout is not a float or out of range"),
        "{e}"
    );
}

#[test]
fn a_disconnected_waiter_is_forgotten() {
    for shards in ["1", "4"] {
        let server = Server::start(&["--shards", shards]);
        let mut con = server.connect();
        let mut raw = server.raw();
        raw.write_all(b"*3\r\n$5\r\nBLPOP\r\n$1\r\nq\r\n$1\r\n0\r\n")
            .unwrap();
        wait_blocked(&mut con, 1);
        drop(raw);
        wait_blocked(&mut con, 0);
        let _: i64 = con.rpush("q", "kept").unwrap();
        let len: i64 = con.llen("q").unwrap();
        assert_eq!(len, 1, "nobody should have taken the element");
    }
}

#[test]
fn keys_on_several_shards() {
    let server = Server::start(&["--shards", "4"]);
    let mut con = server.connect();
    // a, b, c, d fall on four different shards.
    let h = blpop_in_thread(&server, &["a", "b", "c", "0"]);
    wait_blocked(&mut con, 1);
    let _: i64 = con.rpush("c", "from-c").unwrap();
    assert_eq!(pair(h.join().unwrap()), (b"c".to_vec(), b"from-c".to_vec()));
    // The registrations on a and b were cancelled.
    let _: i64 = con.rpush("a", "x").unwrap();
    let _: i64 = con.rpush("b", "y").unwrap();
    let (la, lb): (i64, i64) = (con.llen("a").unwrap(), con.llen("b").unwrap());
    assert_eq!((la, lb), (1, 1));
    // Served at once from the first non-empty key, in argument order.
    let v = redis::cmd("BLPOP")
        .arg(&["d", "b", "a", "0"])
        .query(&mut con)
        .unwrap();
    assert_eq!(pair(v), (b"b".to_vec(), b"y".to_vec()));
}

#[test]
fn blmove_across_shards_is_atomic_and_loses_nothing() {
    for shards in ["1", "4"] {
        let server = Server::start(&["--shards", shards]);
        let mut con = server.connect();
        let n = 20;
        let mut handles = Vec::new();
        for i in 0..n {
            let mut c = server.connect();
            handles.push(thread::spawn(move || {
                let v: redis::Value = redis::cmd("BLMOVE")
                    .arg(&["a", "b", "LEFT", "RIGHT", "0"])
                    .query(&mut c)
                    .unwrap();
                bulk(&v)
            }));
            wait_blocked(&mut con, i + 1);
        }
        for i in 0..n {
            let _: i64 = con.rpush("a", format!("v{i}")).unwrap();
        }
        let mut got: Vec<Vec<u8>> = handles.into_iter().map(|h| h.join().unwrap()).collect();
        got.sort();
        let mut want: Vec<Vec<u8>> = (0..n).map(|i| format!("v{i}").into_bytes()).collect();
        want.sort();
        assert_eq!(got, want);
        let la: i64 = con.llen("a").unwrap();
        let mut moved: Vec<Vec<u8>> = con.lrange("b", 0, -1).unwrap();
        moved.sort();
        assert_eq!(la, 0);
        assert_eq!(moved, want);
    }
}

#[test]
fn client_unblock_timeout_and_error() {
    let server = Server::start(&["--shards", "4"]);
    let mut con = server.connect();
    let mut waiter = server.connect();
    let id: i64 = redis::cmd("CLIENT").arg("ID").query(&mut waiter).unwrap();
    let h = thread::spawn(move || {
        let r1 = redis::cmd("BLPOP")
            .arg(&["u", "0"])
            .query::<redis::Value>(&mut waiter);
        let r2 = redis::cmd("BLPOP")
            .arg(&["u", "0"])
            .query::<redis::Value>(&mut waiter);
        (r1, r2)
    });
    wait_blocked(&mut con, 1);
    let n: i64 = redis::cmd("CLIENT")
        .arg("UNBLOCK")
        .arg(id)
        .query(&mut con)
        .unwrap();
    assert_eq!(n, 1);
    wait_blocked(&mut con, 1);
    let n: i64 = redis::cmd("CLIENT")
        .arg(&["UNBLOCK", &id.to_string(), "ERROR"])
        .query(&mut con)
        .unwrap();
    assert_eq!(n, 1);
    let (r1, r2) = h.join().unwrap();
    assert_eq!(r1.unwrap(), redis::Value::Nil);
    let e = r2.unwrap_err();
    assert!(
        e.to_string()
            .contains("client unblocked via CLIENT UNBLOCK"),
        "{e}"
    );
    let n: i64 = redis::cmd("CLIENT")
        .arg(&["UNBLOCK", &id.to_string()])
        .query(&mut con)
        .unwrap();
    assert_eq!(n, 0);
}

/// `{a}` and `{b}` hash to different shards at `--shards 4`.
const SRC: &str = "{a}src";
const DST: &str = "{b}dst";

fn blmove_in_thread(server: &Server) -> thread::JoinHandle<redis::Value> {
    let mut c = server.connect();
    thread::spawn(move || {
        redis::cmd("BLMOVE")
            .arg(&[SRC, DST, "LEFT", "RIGHT", "0"])
            .query(&mut c)
            .unwrap_or_else(|e| redis::Value::SimpleString(format!("error {e}")))
    })
}

#[test]
fn cross_shard_blmove_is_first_come_first_served_and_never_half_done() {
    let server = Server::start(&["--shards", "4"]);
    let mut con = server.connect();
    let mut observer = server.connect();
    for i in 0..20 {
        // A BLMOVE into another shard, then a BLPOP, both on the source.
        let mover = blmove_in_thread(&server);
        wait_blocked(&mut con, 1);
        let popper = blpop_in_thread(&server, &[SRC, "0"]);
        wait_blocked(&mut con, 2);
        let x = format!("x{i}");
        let n: i64 = con.rpush(SRC, &x).unwrap();
        assert_eq!(n, 1);
        // Anyone hearing of the push sees the element moved already.
        let moved: Vec<String> = observer.lrange(DST, -1, -1).unwrap();
        assert_eq!(moved, vec![x.clone()], "round {i}");
        let left: i64 = observer.llen(SRC).unwrap();
        assert_eq!(left, 0, "round {i}");
        // The first waiter got it; the second is still blocked.
        assert_eq!(bulk(&mover.join().unwrap()), x.as_bytes());
        wait_blocked(&mut con, 1);
        let _: i64 = con.rpush(SRC, "y").unwrap();
        assert_eq!(
            pair(popper.join().unwrap()),
            (SRC.as_bytes().to_vec(), b"y".to_vec())
        );
    }
    let all: i64 = con.llen(DST).unwrap();
    assert_eq!(all, 20);
}

#[test]
fn cross_shard_blmove_into_another_type_leaves_the_element() {
    for shards in ["1", "4"] {
        let server = Server::start(&["--shards", shards]);
        let mut con = server.connect();
        let _: () = con.set(DST, "str").unwrap();
        let mover = blmove_in_thread(&server);
        wait_blocked(&mut con, 1);
        let _: i64 = con.rpush(SRC, "w").unwrap();
        match mover.join().unwrap() {
            redis::Value::SimpleString(e) => assert!(e.contains("WRONGTYPE"), "{e}"),
            other => panic!("expected WRONGTYPE, got {other:?}"),
        }
        let left: Vec<String> = con.lrange(SRC, 0, -1).unwrap();
        assert_eq!(left, vec!["w".to_string()]);
    }
}

/// Serving a blocked client runs as that client (Redis re-runs its
/// command): with tracking NOLOOP it gets no invalidation for its own
/// BLMOVE's push, only for another client's write.
#[test]
fn a_served_client_is_the_caller_of_its_writes() {
    for shards in ["1", "4"] {
        let server = Server::start(&["--shards", shards]);
        let mut con = server.connect();
        // The invalidation channel's subscriber, over raw RESP2.
        let mut sub = server.raw();
        sub.write_all(b"CLIENT ID\r\nSUBSCRIBE __redis__:invalidate\r\n")
            .unwrap();
        let mut got = Vec::new();
        for _ in 0..30 {
            if got.windows(10).any(|w| w == b"invalidate") {
                break;
            }
            got.extend(magpie_tests::read_some(&mut sub));
        }
        let text = String::from_utf8_lossy(&got).to_string();
        let sub_id: i64 = text[1..text.find('\r').unwrap()].parse().unwrap();
        // The blocked client, also over raw RESP2 (inline commands).
        let mut x = server.raw();
        x.write_all(
            format!(
                "CLIENT TRACKING ON REDIRECT {sub_id} NOLOOP\r\nLRANGE {DST} 0 -1\r\nGET sentinel\r\nBLMOVE {SRC} {DST} LEFT RIGHT 0\r\n"
            )
            .as_bytes(),
        )
        .unwrap();
        wait_blocked(&mut con, 1);
        let _: i64 = con.rpush(SRC, "v").unwrap();
        let mut replies = Vec::new();
        for _ in 0..30 {
            if replies.ends_with(b"$1\r\nv\r\n") {
                break;
            }
            replies.extend(magpie_tests::read_some(&mut x));
        }
        assert!(
            replies.ends_with(b"$1\r\nv\r\n"),
            "{}",
            String::from_utf8_lossy(&replies)
        );
        let _: () = con.set("sentinel", "1").unwrap();
        let mut got = Vec::new();
        for _ in 0..30 {
            if got.windows(8).any(|w| w == b"sentinel") {
                break;
            }
            got.extend(magpie_tests::read_some(&mut sub));
        }
        assert!(
            got.windows(8).any(|w| w == b"sentinel"),
            "--shards {shards}: {}",
            String::from_utf8_lossy(&got)
        );
        assert!(
            !got.windows(7).any(|w| w == b"{b}dst"),
            "--shards {shards}: {}",
            String::from_utf8_lossy(&got)
        );
    }
}
