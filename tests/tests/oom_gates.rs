//! The OOM gate of EXEC and scripts (issue 6) over TCP, at 1 and 4
//! shards: a server filled past a small maxmemory under noeviction keeps
//! refusing what Redis refuses (EXEC of a denyoom queue, flagged scripts,
//! denyoom calls inside scripts) and keeps serving reads, deletes and
//! `allow-oom` scripts.

#![allow(clippy::unwrap_used)]

use magpie_tests::Server;

const OOM: &str = "OOM command not allowed when used memory > 'maxmemory'.";

fn err_text<T: std::fmt::Debug>(r: redis::RedisResult<T>) -> String {
    match r {
        Err(e) => format!("{} {}", e.code().unwrap_or(""), e.detail().unwrap_or("")),
        Ok(v) => panic!("expected an error, got {v:?}"),
    }
}

fn used(con: &mut redis::Connection) -> u64 {
    let text: String = redis::cmd("INFO").arg("memory").query(con).unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix("used_memory:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap()
}

/// A server 1 MB over a maxmemory set 1 MB above its idle usage.
fn over_limit(shards: &str) -> (Server, redis::Connection) {
    let server = Server::start(&["--shards", shards]);
    let mut con = server.connect();
    let max = used(&mut con) + (1 << 20);
    let val = vec![b'x'; 1000];
    let mut pipe = redis::pipe();
    for i in 0..2500 {
        pipe.cmd("SET").arg(format!("fill:{i}")).arg(&val).ignore();
    }
    let _: () = pipe.query(&mut con).unwrap();
    let _: () = redis::cmd("CONFIG")
        .arg("SET")
        .arg("maxmemory-policy")
        .arg("noeviction")
        .arg("maxmemory")
        .arg(max)
        .query(&mut con)
        .unwrap();
    (server, con)
}

#[test]
fn exec_and_scripts_are_gated_over_maxmemory() {
    for shards in ["1", "4"] {
        let (server, mut con) = over_limit(shards);
        let oom = format!("OOM {}", OOM.trim_start_matches("OOM "));
        // A plain write.
        assert_eq!(
            err_text(redis::cmd("SET").arg("a").arg("1").query::<()>(&mut con)),
            oom
        );
        // EXEC of a queue made on another connection before the limit
        // would be refused: queue with the limit lifted, then restore it.
        let mut other = server.connect();
        let max: Vec<String> = redis::cmd("CONFIG")
            .arg("GET")
            .arg("maxmemory")
            .query(&mut other)
            .unwrap();
        let _: () = redis::cmd("CONFIG")
            .arg("SET")
            .arg("maxmemory")
            .arg(0)
            .query(&mut other)
            .unwrap();
        let _: () = redis::cmd("MULTI").query(&mut con).unwrap();
        let _: String = redis::cmd("SET")
            .arg("fill:1")
            .arg("new")
            .query(&mut con)
            .unwrap();
        let _: () = redis::cmd("CONFIG")
            .arg("SET")
            .arg("maxmemory")
            .arg(&max[1])
            .query(&mut other)
            .unwrap();
        assert_eq!(
            err_text(redis::cmd("EXEC").query::<redis::Value>(&mut con)),
            format!("EXECABORT Transaction discarded because of: {OOM}")
        );
        // The transaction is gone and nothing was written.
        assert_eq!(
            err_text(redis::cmd("EXEC").query::<redis::Value>(&mut con)),
            "ERR EXEC without MULTI"
        );
        let v: String = redis::cmd("GET").arg("fill:1").query(&mut con).unwrap();
        assert_eq!(v.len(), 1000);
        // Inside MULTI, even a read is refused and marks the transaction.
        let _: () = redis::cmd("MULTI").query(&mut con).unwrap();
        assert_eq!(
            err_text(redis::cmd("GET").arg("x").query::<()>(&mut con)),
            oom
        );
        assert!(err_text(redis::cmd("EXEC").query::<redis::Value>(&mut con))
            .starts_with("EXECABORT Transaction discarded because of previous errors"));

        // Scripts: a flagged one is refused up front, a plain one fails at
        // its denyoom call (over keys on every shard), reads and deletes
        // work, allow-oom writes.
        assert_eq!(
            err_text(
                redis::cmd("EVAL")
                    .arg("#!lua\nreturn 1")
                    .arg(0)
                    .query::<()>(&mut con)
            ),
            oom
        );
        let e = err_text(
            redis::cmd("EVAL")
                .arg("redis.call('get', KEYS[2]) return redis.call('set', KEYS[1], 'v')")
                .arg(2)
                .arg("fill:3")
                .arg("fill:7")
                .query::<()>(&mut con),
        );
        assert!(e.starts_with(&oom), "{e}");
        let n: i64 = redis::cmd("EVAL")
            .arg("return redis.call('del', KEYS[1], KEYS[2])")
            .arg(2)
            .arg("fill:3")
            .arg("fill:7")
            .query(&mut con)
            .unwrap();
        assert_eq!(n, 2);
        let ok: String = redis::cmd("EVAL")
            .arg("#!lua flags=allow-oom\nreturn redis.call('set', KEYS[1], 'written')")
            .arg(1)
            .arg("fill:3")
            .query(&mut con)
            .unwrap();
        assert_eq!(ok, "OK");
        let v: String = redis::cmd("GET").arg("fill:3").query(&mut con).unwrap();
        assert_eq!(v, "written");
    }
}
