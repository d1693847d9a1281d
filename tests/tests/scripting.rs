//! Lua scripting against a real magpie-server: long scripts and -BUSY,
//! SCRIPT KILL / FUNCTION KILL / UNKILLABLE / SHUTDOWN NOSAVE, atomicity
//! across shards (declared and undeclared keys), and hostile scripts that
//! must never take the server down. No timing assertion is tight: waits
//! poll with generous limits.

#![allow(clippy::unwrap_used)]

use magpie_tests::Server;
use std::thread;
use std::time::{Duration, Instant};

fn query(con: &mut redis::Connection, args: &[&str]) -> redis::RedisResult<redis::Value> {
    let mut cmd = redis::cmd(args[0]);
    for a in &args[1..] {
        cmd.arg(*a);
    }
    cmd.query(con)
}

fn err_text(r: redis::RedisResult<redis::Value>) -> String {
    match r {
        Err(e) => {
            let code = e.code().unwrap_or("").to_string();
            let detail = e.detail().unwrap_or("").to_string();
            if code.is_empty() {
                e.to_string()
            } else {
                format!("{code} {detail}")
            }
        }
        Ok(v) => panic!("expected an error, got {v:?}"),
    }
}

/// Polls until a command on a fresh connection answers -BUSY.
fn wait_busy(server: &Server) -> String {
    let start = Instant::now();
    loop {
        let mut con = server.connect();
        if let Err(e) = query(&mut con, &["GET", "probe"]) {
            if e.code() == Some("BUSY") {
                return err_text(Err(e));
            }
        }
        assert!(start.elapsed() < Duration::from_secs(20), "never saw -BUSY");
        thread::sleep(Duration::from_millis(20));
    }
}

fn busy_flow(shards: &str) {
    let mut server = Server::start(&["--shards", shards, "--busy-reply-threshold", "50"]);
    let mut con = server.connect();
    assert_eq!(
        err_text(query(&mut con, &["SCRIPT", "KILL"])),
        "NOTBUSY No scripts in execution right now."
    );
    // A read-only infinite loop: BUSY for others, then SCRIPT KILL.
    let mut runner = server.connect();
    let h =
        thread::spawn(move || err_text(query(&mut runner, &["EVAL", "while true do end", "0"])));
    assert_eq!(
        wait_busy(&server),
        "BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE."
    );
    eprintln!("step 1");
    // The same connection that asked before the script started still works
    // for allow-busy commands.
    assert_eq!(
        err_text(query(&mut con, &["FUNCTION", "KILL"])),
        "BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE."
    );
    assert_eq!(
        query(&mut con, &["SCRIPT", "KILL"]).unwrap(),
        redis::Value::Okay
    );
    let killed = h.join().unwrap();
    assert!(
        killed.starts_with("ERR Script killed by user with SCRIPT KILL... script: "),
        "{killed}"
    );
    assert_eq!(
        query(&mut con, &["PING"]).unwrap(),
        redis::Value::SimpleString("PONG".into())
    );

    // A function: FUNCTION KILL.
    query(
        &mut con,
        &[
            "FUNCTION",
            "LOAD",
            "#!lua name=spin\nredis.register_function('spin', function() while true do end end)",
        ],
    )
    .unwrap();
    let mut runner = server.connect();
    let h = thread::spawn(move || err_text(query(&mut runner, &["FCALL", "spin", "0"])));
    assert_eq!(
        wait_busy(&server),
        "BUSY Redis is busy running a script. You can only call FUNCTION KILL or SHUTDOWN NOSAVE."
    );
    eprintln!("step 2");
    let mut other = server.connect();
    let stats = query(&mut other, &["FUNCTION", "STATS"]).unwrap();
    assert!(format!("{stats:?}").contains("spin"), "{stats:?}");
    assert_eq!(
        query(&mut other, &["FUNCTION", "KILL"]).unwrap(),
        redis::Value::Okay
    );
    let killed = h.join().unwrap();
    assert!(killed.starts_with("ERR Script killed by user"), "{killed}");

    // A script that wrote cannot be killed; SHUTDOWN NOSAVE still works.
    let mut runner = server.connect();
    let h = thread::spawn(move || {
        query(
            &mut runner,
            &[
                "EVAL",
                "redis.call('set', KEYS[1], 1) while true do end",
                "1",
                "w",
            ],
        )
    });
    wait_busy(&server);
    eprintln!("step unkillable");
    let mut other = server.connect();
    assert_eq!(
        err_text(query(&mut other, &["SCRIPT", "KILL"])),
        "UNKILLABLE Sorry the script already executed write commands against the dataset. You can either wait the script termination or kill the server in a hard way using the SHUTDOWN NOSAVE command."
    );
    let _ = query(&mut other, &["SHUTDOWN", "NOSAVE"]);
    assert!(h.join().unwrap().is_err());
    assert_eq!(server.wait_exit(Duration::from_secs(10)), Some(0));
}

#[test]
fn busy_kill_and_shutdown_one_shard() {
    busy_flow("1");
}

#[test]
fn busy_kill_and_shutdown_four_shards() {
    busy_flow("4");
}

/// Scripts over keys on every shard, declared or not, are atomic: a
/// concurrent reader never sees half of a script's writes.
#[test]
fn scripts_are_atomic_across_shards() {
    let server = Server::start(&["--shards", "4"]);
    let keys = ["a", "b", "c", "d", "k1", "k2", "k3", "k4"];
    let mut con = server.connect();
    for k in keys {
        query(&mut con, &["SET", k, "0"]).unwrap();
    }
    let writer = {
        let mut con = server.connect();
        thread::spawn(move || {
            for i in 1..=200 {
                let v = i.to_string();
                // Declared keys (every shard) and undeclared keys.
                let declared = [
                    &[
                        "EVAL",
                        "for i, k in ipairs(KEYS) do redis.call('set', k, ARGV[1]) end",
                        "4",
                        "a",
                        "b",
                        "c",
                        "d",
                    ][..],
                    &[&v],
                ]
                .concat();
                query(&mut con, &declared).unwrap();
                let undeclared = ["EVAL", "for _, k in ipairs({'k1','k2','k3','k4'}) do redis.call('set', k, ARGV[1]) end", "0", &v];
                query(&mut con, &undeclared).unwrap();
            }
        })
    };
    let mut reader = server.connect();
    for _ in 0..200 {
        let v: Vec<String> = redis::cmd("MGET")
            .arg(&keys[..4])
            .query(&mut reader)
            .unwrap();
        assert!(v.iter().all(|x| *x == v[0]), "half-visible script: {v:?}");
        let v: Vec<String> = redis::cmd("EVAL")
            .arg("return redis.call('mget', 'k1', 'k2', 'k3', 'k4')")
            .arg(0)
            .query(&mut reader)
            .unwrap();
        assert!(v.iter().all(|x| *x == v[0]), "half-visible script: {v:?}");
    }
    writer.join().unwrap();
    let v: Vec<String> = redis::cmd("MGET").arg(&keys[..]).query(&mut con).unwrap();
    assert!(v.iter().all(|x| x == "200"), "{v:?}");
}

/// Hostile scripts get an error and the server stays up.
#[test]
fn hostile_scripts_do_not_crash_the_server() {
    let server = Server::start(&["--shards", "2", "--busy-reply-threshold", "50"]);
    let mut con = server.connect();
    let cases: &[(&str, &str)] = &[
        ("return string.rep('x', 2^30)", "memory"),
        ("local t = {} for i = 1, 1e9 do t[i] = i end", "ERR"),
        (
            "local function f() return 1 + f() end return f()",
            "stack overflow",
        ),
        ("local t = {} t[1] = t return t", ""),
        ("return loadstring(string.dump(function() end))", ""),
        (
            "return io.open('/etc/passwd')",
            "nonexistent global variable 'io'",
        ),
        (
            "return require('os')",
            "nonexistent global variable 'require'",
        ),
        (
            "return dofile('/etc/passwd')",
            "nonexistent global variable 'dofile'",
        ),
        (
            "return os.execute('true')",
            "attempt to call field 'execute'",
        ),
        ("redis = nil", "Attempt to modify a readonly table"),
        (
            "getmetatable('').__index = {}",
            "Attempt to modify a readonly table",
        ),
        (
            "setmetatable(_G, nil)",
            "Attempt to modify a readonly table",
        ),
        (
            "return debug.getinfo(1)",
            "nonexistent global variable 'debug'",
        ),
        (
            "return coroutine.wrap(function() while true do end end)()",
            "",
        ),
    ];
    for (body, want) in cases {
        let mut killer = server.connect();
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let stop2 = stop.clone();
        // Anything that loops forever is killed after it turns busy.
        let k = thread::spawn(move || {
            while !stop2.load(std::sync::atomic::Ordering::Relaxed) {
                let _ = query(&mut killer, &["SCRIPT", "KILL"]);
                thread::sleep(Duration::from_millis(100));
            }
        });
        // A fresh connection per case: the self-referencing table's deep
        // reply is more nesting than the client library parses.
        let mut one = server.connect();
        let r = query(&mut one, &["EVAL", body, "0"]);
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        k.join().unwrap();
        if !want.is_empty() {
            let e = err_text(r);
            assert!(e.contains(want), "{body}: {e}");
        }
        assert_eq!(
            query(&mut con, &["PING"]).unwrap(),
            redis::Value::SimpleString("PONG".into()),
            "after {body}"
        );
    }
    // The engine still works afterwards.
    let v: i64 = redis::cmd("EVAL")
        .arg("return 7")
        .arg(0)
        .query(&mut con)
        .unwrap();
    assert_eq!(v, 7);
}

/// EVALSHA works from any connection (any worker) once a script is loaded.
#[test]
fn script_cache_is_process_wide() {
    let server = Server::start(&["--shards", "4"]);
    let mut a = server.connect();
    let sha: String = redis::cmd("SCRIPT")
        .arg("LOAD")
        .arg("return ARGV[1]")
        .query(&mut a)
        .unwrap();
    for _ in 0..8 {
        let mut c = server.connect();
        let v: String = redis::cmd("EVALSHA")
            .arg(&sha)
            .arg(0)
            .arg("hi")
            .query(&mut c)
            .unwrap();
        assert_eq!(v, "hi");
    }
    let _: () = redis::cmd("SCRIPT").arg("FLUSH").query(&mut a).unwrap();
    let mut c = server.connect();
    let e = err_text(query(&mut c, &["EVALSHA", &sha, "0"]));
    assert_eq!(e, "NOSCRIPT No matching script. Please use EVAL.");
}
