//! Real clients against a real magpie-server process.

#![allow(clippy::unwrap_used)]

use magpie_tests::{read_some, Server};
use redis::Commands;
use std::io::Write;
use std::time::Duration;

#[test]
fn redis_crate_basic_strings() {
    for shards in ["1", "4"] {
        let server = Server::start(&["--shards", shards]);
        let mut con = server.connect();
        let _: () = con.set("greeting", "hello").unwrap();
        let v: String = con.get("greeting").unwrap();
        assert_eq!(v, "hello");
        let missing: Option<String> = con.get("nope").unwrap();
        assert_eq!(missing, None);
        let r: redis::RedisResult<()> = redis::cmd("SET")
            .arg("k")
            .arg("v")
            .arg("EX")
            .arg("0")
            .query(&mut con);
        let err = r.unwrap_err();
        assert!(
            err.to_string()
                .contains("invalid expire time in 'set' command"),
            "{err}"
        );
    }
}

#[test]
fn pipeline_of_100k_commands_answers_in_order() {
    for shards in ["1", "4"] {
        let server = Server::start(&["--shards", shards]);
        let mut con = server.connect();
        let mut pipe = redis::pipe();
        for i in 0..50_000 {
            pipe.cmd("SET").arg(format!("key:{i}")).arg(i).ignore();
        }
        for i in 0..50_000 {
            pipe.cmd("GET").arg(format!("key:{i}"));
        }
        let values: Vec<i64> = pipe.query(&mut con).unwrap();
        assert_eq!(values.len(), 50_000);
        for (i, v) in values.iter().enumerate() {
            assert_eq!(*v, i as i64);
        }
    }
}

#[test]
fn a_thousand_concurrent_connections() {
    let server = Server::start(&["--shards", "4"]);
    let mut conns: Vec<redis::Connection> = (0..1000).map(|_| server.connect()).collect();
    for (i, con) in conns.iter_mut().enumerate() {
        let _: () = con.set(format!("c{i}"), i).unwrap();
    }
    for (i, con) in conns.iter_mut().enumerate() {
        let v: usize = con.get(format!("c{}", (i + 1) % 1000)).unwrap();
        assert_eq!(v, (i + 1) % 1000);
    }
}

#[test]
fn sigterm_shuts_down_cleanly() {
    let mut server = Server::start(&[]);
    server.signal(15);
    assert_eq!(server.wait_exit(Duration::from_secs(5)), Some(0));
}

#[test]
fn malformed_requests_get_redis_errors_and_the_server_stays_up() {
    let server = Server::start(&["--shards", "2"]);
    let cases: &[(&[u8], &[u8])] = &[
        (
            b"*abc\r\n",
            b"-ERR Protocol error: invalid multibulk length\r\n",
        ),
        (
            b"*1\r\n$x\r\n",
            b"-ERR Protocol error: invalid bulk length\r\n",
        ),
        (
            b"*1\r\nfoo\r\n",
            b"-ERR Protocol error: expected '$', got 'f'\r\n",
        ),
    ];
    for (input, expected) in cases {
        let mut s = server.raw();
        s.write_all(input).unwrap();
        let got = read_some(&mut s);
        assert_eq!(
            String::from_utf8_lossy(&got),
            String::from_utf8_lossy(expected)
        );
    }
    // The server is still there for everyone else.
    let mut con = server.connect();
    let pong: String = redis::cmd("PING").query(&mut con).unwrap();
    assert_eq!(pong, "PONG");
}

#[test]
fn a_declared_huge_bulk_does_not_stall_others() {
    let server = Server::start(&["--shards", "1"]);
    let mut s = server.raw();
    // Declares 500 MB and sends a few bytes: the server must neither
    // allocate 500 MB up front nor stop serving other clients.
    s.write_all(b"*2\r\n$3\r\nGET\r\n$500000000\r\nabc")
        .unwrap();
    let mut con = server.connect();
    let _: () = con.set("x", "1").unwrap();
    let v: String = con.get("x").unwrap();
    assert_eq!(v, "1");
    let rss_kb = rss_kb(server.pid());
    assert!(
        rss_kb < 200_000,
        "rss {rss_kb} kB after a declared 500 MB bulk"
    );
}

#[test]
fn a_client_that_stops_reading_does_not_stall_others() {
    let server = Server::start(&["--shards", "1"]);
    let mut con = server.connect();
    let big = "x".repeat(100_000);
    let _: () = con.set("big", &big).unwrap();
    // This client pipelines many GETs of a big value and never reads.
    let mut lazy = server.raw();
    let mut req = Vec::new();
    for _ in 0..2000 {
        req.extend_from_slice(b"*2\r\n$3\r\nGET\r\n$3\r\nbig\r\n");
    }
    let _ = lazy.set_write_timeout(Some(Duration::from_secs(2)));
    let _ = lazy.write_all(&req);
    // Everyone else is still served promptly.
    for i in 0..100 {
        let _: () = con.set(format!("k{i}"), i).unwrap();
    }
    let v: i64 = con.get("k99").unwrap();
    assert_eq!(v, 99);
}

fn rss_kb(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse().ok()))
        })
        .unwrap_or(0)
}

#[test]
fn random_garbage_never_takes_the_server_down() {
    let server = Server::start(&["--shards", "2"]);
    // A small deterministic generator: no extra crates, same bytes each run.
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let alphabet: &[u8] = b"*$:+-\r\n0123456789-abcSETGETHELLOCLIENT \"'\\x";
    for _ in 0..300 {
        let len = (next() % 200) as usize;
        let payload: Vec<u8> = (0..len)
            .map(|_| {
                let r = next();
                if r % 4 == 0 {
                    r as u8
                } else {
                    alphabet[(r as usize >> 8) % alphabet.len()]
                }
            })
            .collect();
        let mut s = server.raw();
        let _ = s.write_all(&payload);
        let _ = s.set_read_timeout(Some(Duration::from_millis(20)));
        let mut buf = [0u8; 4096];
        let _ = std::io::Read::read(&mut s, &mut buf);
    }
    let mut con = server.connect();
    let pong: String = redis::cmd("PING").query(&mut con).unwrap();
    assert_eq!(pong, "PONG");
}

/// CLIENT NO-TOUCH: a write leaves the key's LFU counter (and LRU clock)
/// alone too, as Redis's `lookupKey`; TOUCH still touches. With
/// lfu-log-factor 0 every touch adds one, so the counter counts touches.
#[test]
fn no_touch_holds_for_writes_and_touch_still_touches() {
    for shards in ["1", "4"] {
        let server = Server::start(&["--shards", shards]);
        let mut con = server.connect();
        for (k, v) in [
            ("maxmemory-policy", "allkeys-lfu"),
            ("lfu-log-factor", "0"),
            ("lfu-decay-time", "0"),
        ] {
            let _: () = redis::cmd("CONFIG")
                .arg(&["SET", k, v])
                .query(&mut con)
                .unwrap();
        }
        let freq = |con: &mut redis::Connection| -> i64 {
            redis::cmd("OBJECT").arg(&["FREQ", "l"]).query(con).unwrap()
        };
        let _: i64 = redis::cmd("RPUSH")
            .arg(&["l", "a"])
            .query(&mut con)
            .unwrap();
        let f0 = freq(&mut con);
        let _: () = redis::cmd("CLIENT")
            .arg(&["NO-TOUCH", "ON"])
            .query(&mut con)
            .unwrap();
        let _: i64 = redis::cmd("RPUSH")
            .arg(&["l", "b"])
            .query(&mut con)
            .unwrap();
        let _: String = redis::cmd("LPOP").arg("l").query(&mut con).unwrap();
        let _: Vec<String> = redis::cmd("LRANGE")
            .arg(&["l", "0", "-1"])
            .query(&mut con)
            .unwrap();
        assert_eq!(
            freq(&mut con),
            f0,
            "--shards {shards}: NO-TOUCH write touched"
        );
        let _: i64 = redis::cmd("TOUCH").arg("l").query(&mut con).unwrap();
        assert_eq!(
            freq(&mut con),
            f0 + 1,
            "--shards {shards}: TOUCH must touch"
        );
        let _: () = redis::cmd("CLIENT")
            .arg(&["NO-TOUCH", "OFF"])
            .query(&mut con)
            .unwrap();
        let _: i64 = redis::cmd("RPUSH")
            .arg(&["l", "c"])
            .query(&mut con)
            .unwrap();
        assert_eq!(freq(&mut con), f0 + 2, "--shards {shards}");
    }
}
