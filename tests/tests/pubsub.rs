//! Pub/sub, keyspace notifications, MONITOR and output-buffer limits
//! against a real magpie-server process.

#![allow(clippy::unwrap_used)]

use magpie_tests::{read_some, Server};
use std::io::{Read, Write};
use std::time::Duration;

/// Resident memory of a process, in KiB.
fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}

fn info_field(con: &mut redis::Connection, section: &str, field: &str) -> String {
    let info: String = redis::cmd("INFO").arg(section).query(con).unwrap();
    info.lines()
        .find_map(|l| l.strip_prefix(&format!("{field}:")))
        .unwrap_or_default()
        .to_string()
}

/// Reads until the server closes the connection; true if it did.
fn reads_to_eof(s: &mut std::net::TcpStream) -> bool {
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        match s.read(&mut buf) {
            Ok(0) => return true,
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return true,
            Err(_) => return false,
        }
    }
}

#[test]
fn a_subscriber_that_never_reads_is_disconnected_and_memory_stays_bounded() {
    for shards in ["1", "2"] {
        let server = Server::start(&["--shards", shards]);
        let mut sub = server.raw();
        sub.write_all(b"SUBSCRIBE big\r\n").unwrap();
        assert!(read_some(&mut sub).starts_with(b"*3\r\n$9\r\nsubscribe\r\n"));
        let mut publisher = server.connect();
        let start = rss_kib(server.pid());
        let mut peak = start;
        let payload = vec![b'x'; 1 << 20];
        let mut delivered = 0i64;
        // 200 MB published to a subscriber that reads nothing.
        for _ in 0..200 {
            let n: i64 = redis::cmd("PUBLISH")
                .arg("big")
                .arg(&payload)
                .query(&mut publisher)
                .unwrap();
            delivered += n;
            peak = peak.max(rss_kib(server.pid()));
        }
        // Dropped at the pubsub class's 32 MB hard limit, long before the end.
        assert!(
            delivered < 100,
            "delivered {delivered} with --shards {shards}"
        );
        assert!(
            peak - start < 100 * 1024,
            "memory grew by {} KiB with --shards {shards}",
            peak - start
        );
        assert_eq!(
            info_field(
                &mut publisher,
                "stats",
                "client_output_buffer_limit_disconnections"
            ),
            "1"
        );
        assert!(reads_to_eof(&mut sub), "the subscriber was not closed");
        // Everyone else is served as before.
        let n: i64 = redis::cmd("PUBLISH")
            .arg("big")
            .arg("x")
            .query(&mut publisher)
            .unwrap();
        assert_eq!(n, 0);
    }
}

#[test]
fn output_buffer_limits_from_the_command_line_and_config_set() {
    let server = Server::start(&["--client-output-buffer-limit", "pubsub 1mb 512kb 60"]);
    let mut con = server.connect();
    let v: Vec<String> = redis::cmd("CONFIG")
        .arg("GET")
        .arg("client-output-buffer-limit")
        .query(&mut con)
        .unwrap();
    assert_eq!(
        v[1],
        "normal 0 0 0 slave 268435456 67108864 60 pubsub 1048576 524288 60"
    );
    let _: () = redis::cmd("CONFIG")
        .arg("SET")
        .arg("client-output-buffer-limit")
        .arg("pubsub 64kb 0 0")
        .query(&mut con)
        .unwrap();
    let mut sub = server.raw();
    sub.write_all(b"SUBSCRIBE c\r\n").unwrap();
    read_some(&mut sub);
    let payload = vec![b'y'; 100 * 1024];
    for _ in 0..200 {
        let _: i64 = redis::cmd("PUBLISH")
            .arg("c")
            .arg(&payload)
            .query(&mut con)
            .unwrap();
    }
    assert!(reads_to_eof(&mut sub));
    assert_eq!(
        info_field(
            &mut con,
            "stats",
            "client_output_buffer_limit_disconnections"
        ),
        "1"
    );
}

#[test]
fn hash_field_expiry_events() {
    // Redis 7.4 only (the compat suite's reference is 7.0).
    for shards in ["1", "4"] {
        let server = Server::start(&["--shards", shards, "--notify-keyspace-events", "Kh"]);
        let mut con = server.connect();
        let v: Vec<String> = redis::cmd("CONFIG")
            .arg("GET")
            .arg("notify-keyspace-events")
            .query(&mut con)
            .unwrap();
        assert_eq!(v[1], "hK");
        let mut sub = server.raw();
        sub.write_all(b"PSUBSCRIBE __keyspace@0__:h\r\n").unwrap();
        read_some(&mut sub);
        let run = |con: &mut redis::Connection, args: &[&str]| {
            let _: redis::Value = redis::cmd(args[0]).arg(&args[1..]).query(con).unwrap();
        };
        run(&mut con, &["HSET", "h", "f", "1", "g", "2"]);
        run(&mut con, &["HEXPIRE", "h", "100", "FIELDS", "1", "f"]);
        run(&mut con, &["HEXPIRE", "h", "100", "NX", "FIELDS", "1", "f"]);
        run(&mut con, &["HPERSIST", "h", "FIELDS", "1", "f"]);
        run(&mut con, &["HPERSIST", "h", "FIELDS", "1", "f"]);
        run(&mut con, &["HPEXPIRE", "h", "1", "FIELDS", "1", "g"]);
        std::thread::sleep(Duration::from_millis(20));
        // Deleted by lazy or active expiry: one `hexpired` either way.
        run(&mut con, &["HGET", "h", "g"]);
        run(&mut con, &["HPEXPIREAT", "h", "1", "FIELDS", "1", "f"]);
        let got = String::from_utf8_lossy(&read_some(&mut sub)).into_owned();
        let events: Vec<&str> = got
            .split("\r\n")
            .collect::<Vec<_>>()
            .windows(2)
            .filter(|w| w[0].starts_with('$'))
            .map(|w| w[1])
            .filter(|l| !l.starts_with("__keyspace") && *l != "pmessage")
            .collect();
        assert_eq!(
            events,
            ["hset", "hexpire", "hpersist", "hexpire", "hexpired", "hdel"],
            "--shards {shards}: {got}"
        );
    }
}

#[test]
fn monitor_streams_commands_in_redis_format() {
    let server = Server::start(&["--shards", "4"]);
    // Connected first: the client's own set-up commands are not part of it.
    let mut con = server.connect();
    let mut mon = server.raw();
    mon.write_all(b"MONITOR\r\n").unwrap();
    assert_eq!(read_some(&mut mon), b"+OK\r\n");
    let _: () = redis::cmd("SET")
        .arg("k")
        .arg("a \"b\"\n")
        .query(&mut con)
        .unwrap();
    // Admin commands are not shown.
    let _: redis::Value = redis::cmd("CONFIG")
        .arg("GET")
        .arg("maxclients")
        .query(&mut con)
        .unwrap();
    let _: Option<String> = redis::cmd("GET").arg("d").query(&mut con).unwrap();
    let got = String::from_utf8(read_some(&mut mon)).unwrap();
    let lines: Vec<&str> = got.split("\r\n").filter(|l| !l.is_empty()).collect();
    assert_eq!(lines.len(), 2, "{got}");
    for (line, args) in lines
        .iter()
        .zip([r#""SET" "k" "a \"b\"\n""#, r#""GET" "d""#])
    {
        let (stamp, rest) = line.split_once(' ').unwrap();
        let (secs, micros) = stamp.trim_start_matches('+').split_once('.').unwrap();
        assert!(secs.parse::<u64>().is_ok() && micros.len() == 6, "{line}");
        assert!(rest.starts_with("[0 127.0.0.1:"), "{line}");
        assert!(rest.ends_with(&format!("] {args}")), "{line}");
    }
    // A second MONITOR answers nothing; RESET ends monitoring.
    mon.write_all(b"MONITOR\r\nRESET\r\n").unwrap();
    assert_eq!(read_some(&mut mon), b"+RESET\r\n");
    let _: Option<String> = redis::cmd("GET").arg("d").query(&mut con).unwrap();
    assert!(read_some(&mut mon).is_empty());
}

#[test]
fn publish_counts_receivers_across_shards_and_patterns() {
    let server = Server::start(&["--shards", "4"]);
    let mut subs: Vec<_> = (0..8).map(|_| server.raw()).collect();
    for (i, s) in subs.iter_mut().enumerate() {
        if i % 2 == 0 {
            s.write_all(b"SUBSCRIBE news\r\n").unwrap();
        } else {
            s.write_all(b"PSUBSCRIBE n*\r\n").unwrap();
        }
        read_some(s);
    }
    let mut con = server.connect();
    let n: i64 = redis::cmd("PUBLISH")
        .arg("news")
        .arg("hi")
        .query(&mut con)
        .unwrap();
    assert_eq!(n, 8);
    for (i, s) in subs.iter_mut().enumerate() {
        let want: &[u8] = if i % 2 == 0 {
            b"*3\r\n$7\r\nmessage\r\n$4\r\nnews\r\n$2\r\nhi\r\n"
        } else {
            b"*4\r\n$8\r\npmessage\r\n$2\r\nn*\r\n$4\r\nnews\r\n$2\r\nhi\r\n"
        };
        assert_eq!(read_some(s), want);
    }
    drop(subs);
    // Disconnected subscribers leave the registry.
    for _ in 0..200 {
        let v: Vec<redis::Value> = redis::cmd("PUBSUB")
            .arg("NUMSUB")
            .arg("news")
            .query(&mut con)
            .unwrap();
        if v[1] == redis::Value::Int(0) {
            return;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    panic!("subscribers still registered after disconnecting");
}
