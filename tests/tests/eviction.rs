//! maxmemory and the eight eviction policies, over TCP, at 1 and 4 shards.
//!
//! Each test sets maxmemory a few megabytes above what the idle server
//! uses, writes well past it in pipelined batches, and checks what stays:
//! never more than 10% over maxmemory (INFO used_memory, after every
//! batch), which keys went and which survived. Nothing is timed; the LRU
//! test sleeps so that the one-second LRU clock can tell old keys from new.

#![allow(clippy::unwrap_used)]

use magpie_tests::Server;
use std::time::Duration;

const OOM: &str = "OOM command not allowed when used memory > 'maxmemory'.";

fn info_field(con: &mut redis::Connection, section: &str, field: &str) -> u64 {
    let text: String = redis::cmd("INFO").arg(section).query(con).unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{field}:")))
        .and_then(|v| v.trim().parse().ok())
        .unwrap()
}

fn used(con: &mut redis::Connection) -> u64 {
    info_field(con, "memory", "used_memory")
}

/// A server with maxmemory 8 MB above its idle usage and this policy.
fn setup(shards: &str, policy: &str) -> (Server, redis::Connection, u64) {
    let server = Server::start(&["--shards", shards]);
    let mut con = server.connect();
    let max = used(&mut con) + 8 * 1024 * 1024;
    let _: () = redis::cmd("CONFIG")
        .arg("SET")
        .arg("maxmemory")
        .arg(max)
        .arg("maxmemory-policy")
        .arg(policy)
        .query(&mut con)
        .unwrap();
    (server, con, max)
}

/// Writes `n` keys `prefix:i` with a 200-byte value (and `EX ttl` if
/// given) in one pipeline; returns the error replies' texts.
fn write_batch(
    con: &mut redis::Connection,
    prefix: &str,
    range: std::ops::Range<u32>,
    ttl: Option<u64>,
) -> Vec<String> {
    let val = vec![b'x'; 200];
    let mut pipe = redis::pipe();
    pipe.ignore_errors();
    for i in range {
        let c = pipe.cmd("SET").arg(format!("{prefix}:{i}")).arg(&val);
        if let Some(t) = ttl {
            c.arg("EX").arg(t);
        }
    }
    let replies: Vec<redis::Value> = pipe.query(con).unwrap();
    replies
        .into_iter()
        .filter_map(|v| match v {
            redis::Value::ServerError(e) => {
                Some(format!("{} {}", e.code(), e.details().unwrap_or_default()))
            }
            _ => None,
        })
        .collect()
}

fn exists(con: &mut redis::Connection, prefix: &str, n: u32) -> u32 {
    let mut pipe = redis::pipe();
    for i in 0..n {
        pipe.cmd("EXISTS").arg(format!("{prefix}:{i}"));
    }
    let r: Vec<u32> = pipe.query(con).unwrap();
    r.into_iter().sum()
}

/// Floods 60k keys (about 20 MB with overhead) and checks the bound after
/// every batch.
fn flood(con: &mut redis::Connection, max: u64, prefix: &str, ttl: Option<u64>) {
    for b in 0..60u32 {
        let errs = write_batch(con, prefix, b * 1000..(b + 1) * 1000, ttl);
        assert!(errs.is_empty(), "{:?}", errs.first());
        let u = used(con);
        assert!(u <= max + max / 10, "used {u} > maxmemory {max} + 10%");
    }
    assert!(info_field(con, "stats", "evicted_keys") > 0);
}

#[test]
fn allkeys_policies_stay_under_maxmemory() {
    for shards in ["1", "4"] {
        for policy in ["allkeys-lru", "allkeys-lfu", "allkeys-random"] {
            let (_s, mut con, max) = setup(shards, policy);
            flood(&mut con, max, "k", None);
            let n: u64 = redis::cmd("DBSIZE").query(&mut con).unwrap();
            assert!(n < 60_000 && n > 5_000, "{policy} {shards}: {n}");
        }
    }
}

#[test]
fn volatile_policies_never_drop_keys_without_ttl() {
    for shards in ["1", "4"] {
        for policy in [
            "volatile-lru",
            "volatile-lfu",
            "volatile-random",
            "volatile-ttl",
        ] {
            let (_s, mut con, max) = setup(shards, policy);
            assert!(write_batch(&mut con, "p", 0..2000, None).is_empty());
            flood(&mut con, max, "t", Some(100_000));
            assert_eq!(exists(&mut con, "p", 2000), 2000, "{policy} {shards}");
            // Only persistent keys left to write against: once the
            // volatile keys are gone, writes get OOM.
            let mut oom = Vec::new();
            for b in 0..100u32 {
                oom = write_batch(&mut con, "q", b * 1000..(b + 1) * 1000, None);
                if !oom.is_empty() {
                    break;
                }
            }
            assert_eq!(oom.first().map(String::as_str), Some(OOM));
            assert_eq!(exists(&mut con, "p", 2000), 2000, "{policy} {shards}");
        }
    }
}

#[test]
fn noeviction_answers_oom_and_keeps_every_key() {
    for shards in ["1", "4"] {
        let (_s, mut con, max) = setup(shards, "noeviction");
        let mut ok = 0u64;
        let mut errs = Vec::new();
        for b in 0..100u32 {
            errs = write_batch(&mut con, "k", b * 1000..(b + 1) * 1000, None);
            ok += 1000 - errs.len() as u64;
            if !errs.is_empty() {
                break;
            }
        }
        assert_eq!(errs.first().map(String::as_str), Some(OOM));
        let n: u64 = redis::cmd("DBSIZE").query(&mut con).unwrap();
        assert_eq!(n, ok);
        assert_eq!(info_field(&mut con, "stats", "evicted_keys"), 0);
        assert!(used(&mut con) <= max + max / 10);
        // Reads and deletes still work at the limit.
        let v: Option<Vec<u8>> = redis::cmd("GET").arg("k:0").query(&mut con).unwrap();
        assert_eq!(v.map(|v| v.len()), Some(200));
        let d: u64 = redis::cmd("DEL").arg("k:0").query(&mut con).unwrap();
        assert_eq!(d, 1);
    }
}

#[test]
fn volatile_ttl_drops_the_nearest_deadlines_first() {
    for shards in ["1", "4"] {
        let (_s, mut con, _max) = setup(shards, "volatile-ttl");
        assert!(write_batch(&mut con, "short", 0..6000, Some(10_000)).is_empty());
        assert!(write_batch(&mut con, "long", 0..6000, Some(10_000_000)).is_empty());
        // Persistent keys push memory over the limit until about 3000
        // volatile keys have gone.
        let mut b = 0u32;
        while info_field(&mut con, "stats", "evicted_keys") < 3000 {
            assert!(write_batch(&mut con, "p", b * 500..(b + 1) * 500, None).is_empty());
            b += 1;
            assert!(b < 200);
        }
        let short = exists(&mut con, "short", 6000);
        let long = exists(&mut con, "long", 6000);
        assert!(long >= 5700, "shards {shards}: long {long}, short {short}");
        assert!(short <= 3500, "shards {shards}: long {long}, short {short}");
    }
}

#[test]
fn allkeys_lfu_keeps_the_frequently_read_set() {
    for shards in ["1", "4"] {
        let (_s, mut con, max) = setup(shards, "allkeys-lfu");
        let _: () = redis::cmd("CONFIG")
            .arg("SET")
            .arg("lfu-log-factor")
            .arg(0)
            .query(&mut con)
            .unwrap();
        assert!(write_batch(&mut con, "hot", 0..200, None).is_empty());
        for _ in 0..10 {
            exists(&mut con, "hot", 200);
            let mut pipe = redis::pipe();
            for i in 0..200 {
                pipe.cmd("GET").arg(format!("hot:{i}")).ignore();
            }
            let _: () = pipe.query(&mut con).unwrap();
        }
        let f: i64 = redis::cmd("OBJECT")
            .arg("FREQ")
            .arg("hot:7")
            .query(&mut con)
            .unwrap();
        assert!(f >= 10, "{f}");
        flood(&mut con, max, "cold", None);
        let hot = exists(&mut con, "hot", 200);
        // At 4 shards this once failed under CPU contention: ties between
        // new keys always fell on shard 0, which was drained, then the
        // round's batch took its hot keys ahead of other shards' unoffered
        // cold ones (fixed by `choose_wins`).
        let bound = 190;
        assert!(hot >= bound, "shards {shards}: {hot} of 200 hot keys left");
    }
}

#[test]
fn allkeys_lru_keeps_the_recently_read_set_and_random_does_not() {
    for shards in ["1", "4"] {
        for (policy, keeps) in [("allkeys-lru", true), ("allkeys-random", false)] {
            let (_s, mut con, max) = setup(shards, policy);
            let _: () = redis::cmd("CONFIG")
                .arg("SET")
                .arg("maxmemory-samples")
                .arg(10)
                .query(&mut con)
                .unwrap();
            // Old keys: about 6.5 MB, then let the one-second clock move on.
            for b in 0..20u32 {
                assert!(write_batch(&mut con, "old", b * 1000..(b + 1) * 1000, None).is_empty());
            }
            std::thread::sleep(Duration::from_millis(2100));
            assert!(write_batch(&mut con, "hot", 0..200, None).is_empty());
            // New writes (less than the old volume), reading the hot set
            // between batches.
            for b in 0..14u32 {
                assert!(write_batch(&mut con, "new", b * 1000..(b + 1) * 1000, None).is_empty());
                exists(&mut con, "hot", 200);
                assert!(used(&mut con) <= max + max / 10);
            }
            let evicted = info_field(&mut con, "stats", "evicted_keys");
            assert!(evicted > 2000, "{policy} {shards}: {evicted}");
            let hot = exists(&mut con, "hot", 200);
            if keeps {
                assert!(hot >= 195, "{policy} {shards}: {hot} of 200 hot keys left");
            } else {
                assert!(hot < 200, "{policy} {shards}: random kept every hot key");
            }
        }
    }
}

#[test]
fn lowering_maxmemory_evicts_at_once() {
    for shards in ["1", "4"] {
        let server = Server::start(&["--shards", shards]);
        let mut con = server.connect();
        let base = used(&mut con);
        for b in 0..30u32 {
            assert!(write_batch(&mut con, "k", b * 1000..(b + 1) * 1000, None).is_empty());
        }
        let max = base + 2 * 1024 * 1024;
        let _: () = redis::cmd("CONFIG")
            .arg("SET")
            .arg("maxmemory-policy")
            .arg("allkeys-random")
            .arg("maxmemory")
            .arg(max)
            .query(&mut con)
            .unwrap();
        let n: u64 = redis::cmd("DBSIZE").query(&mut con).unwrap();
        assert!(n < 15_000, "{n}");
        assert!(used(&mut con) <= max + max / 10);
    }
}

#[test]
fn memory_usage_and_object_freq_idletime() {
    let server = Server::start(&["--shards", "2"]);
    let mut con = server.connect();
    let _: () = redis::cmd("SET")
        .arg("k")
        .arg(vec![b'x'; 1000])
        .query(&mut con)
        .unwrap();
    let n: u64 = redis::cmd("MEMORY")
        .arg("USAGE")
        .arg("k")
        .query(&mut con)
        .unwrap();
    assert!((1000..1300).contains(&n), "{n}");
    let n: u64 = redis::cmd("MEMORY")
        .arg("USAGE")
        .arg("k")
        .arg("SAMPLES")
        .arg(0)
        .query(&mut con)
        .unwrap();
    assert!((1000..1300).contains(&n), "{n}");
    let stats: redis::Value = redis::cmd("MEMORY").arg("STATS").query(&mut con).unwrap();
    assert!(format!("{stats:?}").contains("keys.count"));
    let _: () = redis::cmd("CONFIG")
        .arg("SET")
        .arg("maxmemory-policy")
        .arg("allkeys-lfu")
        .query(&mut con)
        .unwrap();
    let _: () = redis::cmd("SET").arg("f").arg(1).query(&mut con).unwrap();
    let f: i64 = redis::cmd("OBJECT")
        .arg("FREQ")
        .arg("f")
        .query(&mut con)
        .unwrap();
    assert_eq!(f, 5);
    let e = redis::cmd("OBJECT")
        .arg("IDLETIME")
        .arg("f")
        .query::<i64>(&mut con)
        .unwrap_err();
    assert!(e
        .to_string()
        .contains("An LFU maxmemory policy is selected"));
}

/// Every evicted key is announced as an `evicted` keyspace event (and so
/// reaches subscribers on any shard), as Redis does.
#[test]
fn evictions_emit_evicted_events() {
    for shards in ["1", "4"] {
        let (server, mut con, _) = setup(shards, "allkeys-lru");
        let _: () = redis::cmd("CONFIG")
            .arg("SET")
            .arg("notify-keyspace-events")
            .arg("Ee")
            .query(&mut con)
            .unwrap();
        let mut sub_con = server.connect();
        let mut sub = sub_con.as_pubsub();
        sub.subscribe("__keyevent@0__:evicted").unwrap();
        for round in 0..6 {
            write_batch(&mut con, "ev", round * 10_000..(round + 1) * 10_000, None);
        }
        let evicted = info_field(&mut con, "stats", "evicted_keys");
        assert!(evicted > 0, "shards {shards}: nothing evicted");
        sub.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let mut seen = 0u64;
        while seen < evicted {
            let msg = sub.get_message().unwrap();
            let key: String = msg.get_payload().unwrap();
            assert!(key.starts_with("ev:"), "{key}");
            seen += 1;
        }
        assert_eq!(seen, evicted, "shards {shards}");
    }
}
