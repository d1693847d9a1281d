//! MULTI/EXEC/WATCH against a real magpie-server with the `redis` crate:
//! atomic pipelines, the WATCH retry loop under contention, no observer
//! seeing half of an EXEC across shards, blocked clients served after EXEC
//! (never in the middle), and EXEC in the command statistics.

#![allow(clippy::unwrap_used)]

use magpie_tests::Server;
use redis::Commands;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;

/// Keys that fall on four different shards with `--shards 4`.
const SPREAD: [&str; 4] = ["a", "b", "c", "d"];

#[test]
fn atomic_pipeline_runs_everything_and_returns_each_reply() {
    for shards in ["1", "4"] {
        let server = Server::start(&["--shards", shards]);
        let mut con = server.connect();
        let (a, b, n): (i64, String, Vec<Option<String>>) = redis::pipe()
            .atomic()
            .set("a", 1)
            .ignore()
            .incr("a", 5)
            .set("b", "x")
            .ignore()
            .append("b", "yz")
            .ignore()
            .get("b")
            .mget(&SPREAD)
            .query(&mut con)
            .unwrap();
        assert_eq!(a, 6);
        assert_eq!(b, "xyz");
        assert_eq!(n, vec![Some("6".into()), Some("xyz".into()), None, None]);
        // A run-time error is a reply inside the array; the rest still runs.
        let r: redis::RedisResult<(i64, i64)> = redis::pipe()
            .atomic()
            .incr("b", 1)
            .incr("c", 1)
            .query(&mut con);
        assert!(r.is_err());
        let c: i64 = con.get("c").unwrap();
        assert_eq!(c, 1);
    }
}

/// Many clients increment counters on every shard with the WATCH/MULTI
/// retry pattern; no increment is lost.
#[test]
fn watch_retry_loop_loses_no_update() {
    for shards in ["1", "4"] {
        let server = Server::start(&["--shards", shards]);
        let workers: Vec<_> = (0..4)
            .map(|_| {
                let mut con = server.connect();
                thread::spawn(move || {
                    for _ in 0..50 {
                        let _: () = redis::transaction(&mut con, &SPREAD, |con, pipe| {
                            let vals: Vec<Option<i64>> = con.mget(&SPREAD)?;
                            for (k, v) in SPREAD.iter().zip(vals) {
                                pipe.set(*k, v.unwrap_or(0) + 1).ignore();
                            }
                            pipe.query(con)
                        })
                        .unwrap();
                    }
                })
            })
            .collect();
        for w in workers {
            w.join().unwrap();
        }
        let mut con = server.connect();
        let vals: Vec<i64> = con.mget(&SPREAD).unwrap();
        assert_eq!(vals, vec![200; 4], "shards {shards}");
    }
}

/// Transactions move one unit between keys on different shards; readers
/// (MGET, and a read-only EXEC) must always see the same total.
#[test]
fn no_observer_sees_half_of_an_exec() {
    let server = Server::start(&["--shards", "4"]);
    let mut con = server.connect();
    let _: () = con
        .mset(&[("a", 100), ("b", 100), ("c", 100), ("d", 100)])
        .unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let writers: Vec<_> = (0..3)
        .map(|w| {
            let mut con = server.connect();
            thread::spawn(move || {
                for i in 0..300 {
                    let from = SPREAD[(i + w) % 4];
                    let to = SPREAD[(i + w + 1) % 4];
                    let _: (i64, i64) = redis::pipe()
                        .atomic()
                        .decr(from, 1)
                        .incr(to, 1)
                        .query(&mut con)
                        .unwrap();
                }
            })
        })
        .collect();
    let readers: Vec<_> = (0..2)
        .map(|r| {
            let mut con = server.connect();
            let stop = stop.clone();
            thread::spawn(move || {
                let mut seen = 0;
                while !stop.load(Ordering::Relaxed) || seen == 0 {
                    let vals: Vec<i64> = if r == 0 {
                        con.mget(&SPREAD).unwrap()
                    } else {
                        let (a, b, c, d): (i64, i64, i64, i64) = redis::pipe()
                            .atomic()
                            .get("a")
                            .get("b")
                            .get("c")
                            .get("d")
                            .query(&mut con)
                            .unwrap();
                        vec![a, b, c, d]
                    };
                    assert_eq!(vals.iter().sum::<i64>(), 400, "saw {vals:?}");
                    seen += 1;
                }
            })
        })
        .collect();
    for w in writers {
        w.join().unwrap();
    }
    stop.store(true, Ordering::Relaxed);
    for r in readers {
        r.join().unwrap();
    }
}

/// A watched key modified by a transaction on another connection (keys on
/// other shards) aborts EXEC with a null reply.
#[test]
fn watched_key_modified_by_another_exec_aborts() {
    let server = Server::start(&["--shards", "4"]);
    let mut c1 = server.connect();
    let mut c2 = server.connect();
    let _: () = redis::cmd("WATCH").arg("c").query(&mut c1).unwrap();
    let _: (i64, i64) = redis::pipe()
        .atomic()
        .incr("a", 1)
        .incr("c", 1)
        .query(&mut c2)
        .unwrap();
    let _: () = redis::cmd("MULTI").query(&mut c1).unwrap();
    let _: () = redis::cmd("SET").arg("d").arg("1").query(&mut c1).unwrap();
    let r: redis::Value = redis::cmd("EXEC").query(&mut c1).unwrap();
    assert_eq!(r, redis::Value::Nil);
    let d: Option<String> = c1.get("d").unwrap();
    assert_eq!(d, None);
}

/// A client blocked on a list is served after the EXEC that pushed to it,
/// not in the middle: LLEN inside the transaction still sees the element.
#[test]
fn blocked_client_is_served_after_exec() {
    for shards in ["1", "4"] {
        let server = Server::start(&["--shards", shards]);
        let mut waiter = server.connect();
        let t = thread::spawn(move || {
            let v: (String, String) = redis::cmd("BLPOP")
                .arg("l")
                .arg(0)
                .query(&mut waiter)
                .unwrap();
            v
        });
        let mut con = server.connect();
        loop {
            let list: String = redis::cmd("CLIENT").arg("LIST").query(&mut con).unwrap();
            if list
                .lines()
                .any(|l| l.contains("cmd=blpop") && l.contains("flags=b"))
            {
                break;
            }
            thread::sleep(std::time::Duration::from_millis(5));
        }
        let (len, len2): (i64, i64) = redis::pipe()
            .atomic()
            .rpush("l", "x")
            .llen("l")
            .query(&mut con)
            .unwrap();
        assert_eq!((len, len2), (1, 1));
        assert_eq!(t.join().unwrap(), ("l".to_string(), "x".to_string()));
        let n: i64 = con.llen("l").unwrap();
        assert_eq!(n, 0);
    }
}

#[test]
fn exec_counts_in_commandstats() {
    let server = Server::start(&["--shards", "4"]);
    let mut con = server.connect();
    let _: () = redis::cmd("CONFIG")
        .arg("RESETSTAT")
        .query(&mut con)
        .unwrap();
    let _: (i64, i64, i64) = redis::pipe()
        .atomic()
        .incr("a", 1)
        .incr("b", 1)
        .incr("c", 1)
        .query(&mut con)
        .unwrap();
    let info: String = redis::cmd("INFO")
        .arg("commandstats")
        .query(&mut con)
        .unwrap();
    assert!(info.contains("cmdstat_exec:calls=1,"), "{info}");
    assert!(info.contains("cmdstat_multi:calls=1,"), "{info}");
    assert!(info.contains("cmdstat_incrby:calls=3,"), "{info}");
}

#[test]
fn info_counts_watching_clients_and_keys() {
    let server = Server::start(&["--shards", "4"]);
    let mut c1 = server.connect();
    let mut c2 = server.connect();
    let _: () = redis::cmd("WATCH").arg(&SPREAD).query(&mut c1).unwrap();
    let _: () = redis::cmd("WATCH")
        .arg("a")
        .arg("k1")
        .query(&mut c2)
        .unwrap();
    let info: String = redis::cmd("INFO").arg("clients").query(&mut c1).unwrap();
    assert!(info.contains("watching_clients:2\r\n"), "{info}");
    assert!(info.contains("total_watched_keys:5\r\n"), "{info}");
    let list: String = redis::cmd("CLIENT").arg("INFO").query(&mut c1).unwrap();
    assert!(list.contains(" watch=4 "), "{list}");
    let _: () = redis::cmd("UNWATCH").query(&mut c1).unwrap();
    let _: () = redis::cmd("MULTI").query(&mut c2).unwrap();
    let _: redis::Value = redis::cmd("EXEC").query(&mut c2).unwrap();
    let info: String = redis::cmd("INFO").arg("clients").query(&mut c1).unwrap();
    assert!(info.contains("watching_clients:0\r\n"), "{info}");
    assert!(info.contains("total_watched_keys:0\r\n"), "{info}");
}
