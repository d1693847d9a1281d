//! Persistence end to end: magpie's dump.rdb files and DUMP payloads
//! against a real redis-server 7.0 and `redis-check-rdb`, restarts, BGSAVE
//! consistency under writes, and crash safety of saves.

#![allow(clippy::unwrap_used)]

use magpie_tests::{binary, free_port, Server};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A fresh scratch directory.
fn scratch(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!(
        "magpie-persist-{name}-{}-{}",
        std::process::id(),
        free_port()
    ));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// A reference redis-server, killed on drop.
struct Redis {
    port: u16,
    child: Child,
}

impl Redis {
    fn start(dir: &Path) -> Redis {
        let port = free_port();
        let child = Command::new("redis-server")
            .args([
                "--port",
                &port.to_string(),
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .arg("--dir")
            .arg(dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server must be installed");
        let r = Redis { port, child };
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(10) {
            if let Ok(mut c) = r.client().get_connection() {
                if redis::cmd("PING").query::<String>(&mut c).is_ok() {
                    return r;
                }
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("redis-server did not start");
    }
    fn client(&self) -> redis::Client {
        redis::Client::open(format!("redis://127.0.0.1:{}/", self.port)).unwrap()
    }
    fn connect(&self) -> redis::Connection {
        self.client().get_connection().unwrap()
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn magpie(dir: &Path, extra: &[&str]) -> Server {
    let mut args = vec![
        "--dir",
        dir.to_str().unwrap(),
        "--enable-debug-command",
        "yes",
    ];
    args.extend_from_slice(extra);
    Server::start(&args)
}

fn q(c: &mut redis::Connection, args: &[&[u8]]) -> redis::Value {
    let mut cmd = redis::cmd(std::str::from_utf8(args[0]).unwrap());
    for a in &args[1..] {
        cmd.arg(*a);
    }
    cmd.query(c).unwrap()
}

/// Keys of every type and encoding, TTLs, several databases. `hfe` adds
/// hashes with field TTLs (Redis 7.4; not in 7.0).
fn populate(c: &mut redis::Connection, hfe: bool) {
    let long = "abc".repeat(5000);
    let huge = "x".repeat(20000);
    let cmds: Vec<Vec<Vec<u8>>> = {
        let mut v: Vec<Vec<Vec<u8>>> = Vec::new();
        let w = |s: &[&str]| s.iter().map(|x| x.as_bytes().to_vec()).collect::<Vec<_>>();
        v.push(w(&["SET", "str:short", "hello"]));
        v.push(w(&["SET", "str:int", "12345"]));
        v.push(w(&["SET", "str:neg", "-42"]));
        v.push(w(&["SET", "str:i64", "9223372036854775807"]));
        v.push(w(&["SET", "str:long", &long]));
        v.push(vec![
            b"SET".to_vec(),
            b"str:bin\x00\xff".to_vec(),
            b"\x00\xff\r\n".to_vec(),
        ]);
        v.push(w(&["SET", "str:ttl", "v", "PXAT", "4102444800123"]));
        v.push(w(&["SET", "str:empty", ""]));
        v.push(w(&["RPUSH", "list:small", "a", "b", "1", "2", "-3", ""]));
        let mut big = w(&["RPUSH", "list:big"]);
        big.extend((0..1000).map(|i| format!("item-{i}").into_bytes()));
        v.push(big);
        v.push(w(&["RPUSH", "list:plain", "head", &huge, "tail"]));
        v.push(w(&[
            "SADD",
            "set:int",
            "1",
            "2",
            "-5",
            "70000",
            "5000000000",
        ]));
        v.push(w(&["SADD", "set:small", "a", "b", "c"]));
        let mut sb = w(&["SADD", "set:big"]);
        sb.extend((0..600).map(|i| format!("m{i}").into_bytes()));
        v.push(sb);
        let mut si = w(&["SADD", "set:bigint"]);
        si.extend((0..600).map(|i| format!("{}", i * 7).into_bytes()));
        v.push(si);
        v.push(w(&["HSET", "hash:small", "f", "v", "n", "1", "e", ""]));
        let mut hb = w(&["HSET", "hash:big"]);
        for i in 0..600 {
            hb.push(format!("field{i}").into_bytes());
            hb.push(format!("{i}").into_bytes());
        }
        v.push(hb);
        v.push(w(&["HSET", "hash:long", "f", &"L".repeat(100)]));
        v.push(w(&[
            "ZADD",
            "zset:small",
            "1",
            "a",
            "2.5",
            "b",
            "-inf",
            "c",
            "inf",
            "d",
            "0.1",
            "e",
        ]));
        let mut zb = w(&["ZADD", "zset:big"]);
        for i in 0..200 {
            zb.push(format!("{}", i as f64 / 3.0).into_bytes());
            zb.push(format!("member{i}").into_bytes());
        }
        v.push(zb);
        v.push(w(&["PEXPIREAT", "zset:small", "4102444800500"]));
        v.push(w(&["EXPIREAT", "list:small", "4102444801"]));
        if hfe {
            v.push(w(&["HSET", "hash:hfe", "a", "1", "b", "2"]));
            v.push(w(&[
                "HPEXPIREAT",
                "hash:hfe",
                "4102444800777",
                "FIELDS",
                "1",
                "a",
            ]));
            let mut hh = w(&["HSET", "hash:hfebig"]);
            for i in 0..600 {
                hh.push(format!("f{i}").into_bytes());
                hh.push(b"v".to_vec());
            }
            v.push(hh);
            v.push(w(&[
                "HPEXPIREAT",
                "hash:hfebig",
                "4102444800999",
                "FIELDS",
                "2",
                "f1",
                "f2",
            ]));
        }
        v.push(w(&["SELECT", "1"]));
        v.push(w(&["SET", "str:short", "db1"]));
        v.push(w(&["SELECT", "15"]));
        v.push(w(&["SADD", "db15set", "x"]));
        v.push(w(&["SELECT", "0"]));
        v
    };
    for cmd in cmds {
        let args: Vec<&[u8]> = cmd.iter().map(|a| &a[..]).collect();
        q(c, &args);
    }
}

type Dataset = BTreeMap<(u8, Vec<u8>), Vec<Vec<u8>>>;

/// Asserts two datasets are equal, naming the keys that differ.
fn same(got: &Dataset, want: &Dataset) {
    let mut bad = Vec::new();
    for (k, v) in want {
        match got.get(k) {
            None => bad.push(format!("missing {k:?}")),
            Some(g) if g != v => bad.push(format!(
                "differs {:?}: got {:?}.. want {:?}..",
                String::from_utf8_lossy(&k.1),
                g.iter()
                    .take(6)
                    .map(|x| String::from_utf8_lossy(x).to_string())
                    .collect::<Vec<_>>(),
                v.iter()
                    .take(6)
                    .map(|x| String::from_utf8_lossy(x).to_string())
                    .collect::<Vec<_>>()
            )),
            _ => {}
        }
    }
    for k in got.keys().filter(|k| !want.contains_key(*k)) {
        bad.push(format!("extra {k:?}"));
    }
    assert!(bad.is_empty(), "{}", bad.join("\n"));
}

fn bulks(v: redis::Value) -> Vec<Vec<u8>> {
    match v {
        redis::Value::Array(a) | redis::Value::Set(a) => a
            .into_iter()
            .flat_map(|x| match x {
                redis::Value::BulkString(b) => vec![b],
                redis::Value::Int(n) => vec![n.to_string().into_bytes()],
                redis::Value::Double(d) => vec![d.to_string().into_bytes()],
                other => vec![format!("{other:?}").into_bytes()],
            })
            .collect(),
        redis::Value::Map(m) => m
            .into_iter()
            .flat_map(|(k, v)| {
                [
                    bulks(redis::Value::Array(vec![k])),
                    bulks(redis::Value::Array(vec![v])),
                ]
                .concat()
            })
            .collect(),
        redis::Value::BulkString(b) => vec![b],
        redis::Value::SimpleString(s) => vec![s.into_bytes()],
        redis::Value::Int(n) => vec![n.to_string().into_bytes()],
        other => vec![format!("{other:?}").into_bytes()],
    }
}

fn pairs_sorted(v: Vec<Vec<u8>>) -> Vec<Vec<u8>> {
    let mut p: Vec<(Vec<u8>, Vec<u8>)> =
        v.chunks(2).map(|c| (c[0].clone(), c[1].clone())).collect();
    p.sort();
    p.into_iter().flat_map(|(a, b)| [a, b]).collect()
}

/// Every key of databases 0..16: type, value, absolute expiry.
fn dataset(c: &mut redis::Connection) -> Dataset {
    let mut out = BTreeMap::new();
    for db in 0..16u8 {
        q(c, &[b"SELECT", db.to_string().as_bytes()]);
        let keys = bulks(q(c, &[b"KEYS", b"*"]));
        for k in keys {
            let t = bulks(q(c, &[b"TYPE", &k])).remove(0);
            let mut rec = vec![t.clone()];
            let val = match &t[..] {
                b"string" => bulks(q(c, &[b"GET", &k])),
                b"list" => bulks(q(c, &[b"LRANGE", &k, b"0", b"-1"])),
                b"set" => {
                    let mut m = bulks(q(c, &[b"SMEMBERS", &k]));
                    m.sort();
                    m
                }
                b"hash" => pairs_sorted(bulks(q(c, &[b"HGETALL", &k]))),
                // Scores compared as numbers: Redis 7.0 prints %.17g, 7.4
                // (and magpie) the shortest text that round-trips.
                b"zset" => bulks(q(c, &[b"ZRANGE", &k, b"0", b"-1", b"WITHSCORES"]))
                    .chunks(2)
                    .flat_map(|p| {
                        let s: f64 = std::str::from_utf8(&p[1]).unwrap().parse().unwrap();
                        [p[0].clone(), format!("{s:?}").into_bytes()]
                    })
                    .collect(),
                other => panic!("type {other:?}"),
            };
            rec.extend(val);
            rec.extend(bulks(q(c, &[b"PEXPIRETIME", &k])));
            out.insert((db, k), rec);
        }
    }
    q(c, &[b"SELECT", b"0"]);
    out
}

fn field_ttls(c: &mut redis::Connection, key: &[u8], fields: &[&[u8]]) -> Vec<Vec<u8>> {
    let mut args: Vec<&[u8]> = vec![b"HPEXPIRETIME", key, b"FIELDS"];
    let n = fields.len().to_string();
    args.push(n.as_bytes());
    args.extend_from_slice(fields);
    bulks(q(c, &args))
}

#[test]
fn save_and_restart_keep_everything() {
    for shards in ["1", "4"] {
        let dir = scratch("restart");
        let before;
        {
            let s = magpie(&dir, &["--shards", shards]);
            let mut c = s.connect();
            populate(&mut c, true);
            before = dataset(&mut c);
            assert_eq!(q(&mut c, &[b"SAVE"]), redis::Value::Okay);
        }
        let s = magpie(&dir, &["--shards", shards]);
        let mut c = s.connect();
        same(&dataset(&mut c), &before);
        assert_eq!(
            field_ttls(&mut c, b"hash:hfe", &[b"a", b"b"]),
            vec![b"4102444800777".to_vec(), b"-1".to_vec()]
        );
        assert_eq!(
            field_ttls(&mut c, b"hash:hfebig", &[b"f1", b"f3"]),
            vec![b"4102444800999".to_vec(), b"-1".to_vec()]
        );
        let info = bulks(q(&mut c, &[b"INFO", b"persistence"])).remove(0);
        let keys = before.len();
        assert!(
            String::from_utf8_lossy(&info).contains(&format!("rdb_last_load_keys_loaded:{keys}")),
            "{}",
            String::from_utf8_lossy(&info)
        );
    }
}

#[test]
fn shutdown_and_sigterm_save_when_save_points_are_set() {
    let dir = scratch("shutdown");
    {
        let mut s = magpie(&dir, &["--save", "3600 1"]);
        let mut c = s.connect();
        q(&mut c, &[b"SET", b"a", b"1"]);
        let _ = redis::cmd("SHUTDOWN").query::<()>(&mut c);
        assert_eq!(s.wait_exit(Duration::from_secs(10)), Some(0));
    }
    {
        let mut s = magpie(&dir, &["--save", "3600 1"]);
        let mut c = s.connect();
        assert_eq!(bulks(q(&mut c, &[b"GET", b"a"])), vec![b"1".to_vec()]);
        q(&mut c, &[b"SET", b"b", b"2"]);
        s.signal(15);
        assert_eq!(s.wait_exit(Duration::from_secs(10)), Some(0));
    }
    {
        let mut s = magpie(&dir, &[]);
        let mut c = s.connect();
        assert_eq!(
            bulks(q(&mut c, &[b"MGET", b"a", b"b"])),
            vec![b"1".to_vec(), b"2".to_vec()]
        );
        // NOSAVE, and no save points: nothing written.
        q(&mut c, &[b"SET", b"c", b"3"]);
        let _ = redis::cmd("SHUTDOWN").query::<()>(&mut c);
        assert_eq!(s.wait_exit(Duration::from_secs(10)), Some(0));
    }
    let s = magpie(&dir, &[]);
    let mut c = s.connect();
    assert_eq!(q(&mut c, &[b"EXISTS", b"c"]), redis::Value::Int(0));
}

#[test]
fn redis_writes_magpie_loads() {
    let dir = scratch("r2m");
    let want;
    {
        let r = Redis::start(&dir);
        let mut c = r.connect();
        populate(&mut c, false);
        want = dataset(&mut c);
        q(&mut c, &[b"SAVE"]);
    }
    for shards in ["1", "4"] {
        let s = magpie(&dir, &["--shards", shards]);
        let mut c = s.connect();
        same(&dataset(&mut c), &want);
    }
}

#[test]
fn magpie_writes_redis_and_redis_check_rdb_load() {
    let dir = scratch("m2r");
    let want;
    {
        let s = magpie(&dir, &["--shards", "4"]);
        let mut c = s.connect();
        populate(&mut c, false);
        want = dataset(&mut c);
        q(&mut c, &[b"SAVE"]);
    }
    let out = Command::new("redis-check-rdb")
        .arg(dir.join("dump.rdb"))
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && text.contains("RDB looks OK"),
        "{text}"
    );
    let r = Redis::start(&dir);
    let mut c = r.connect();
    same(&dataset(&mut c), &want);
}

#[test]
fn dump_restore_between_magpie_and_redis() {
    let r = Redis::start(&scratch("dr-r"));
    let s = magpie(&scratch("dr-m"), &["--shards", "4"]);
    let (mut rc, mut mc) = (r.connect(), s.connect());
    populate(&mut rc, false);
    populate(&mut mc, false);
    let want = dataset(&mut rc);
    for ((db, k), _) in want.iter().filter(|((db, _), _)| *db == 0) {
        let _ = db;
        // Redis -> magpie and magpie -> Redis, with REPLACE.
        let p = bulks(q(&mut rc, &[b"DUMP", k])).remove(0);
        assert_eq!(
            q(&mut mc, &[b"RESTORE", k, b"0", &p, b"REPLACE"]),
            redis::Value::Okay,
            "{k:?}"
        );
        let p = bulks(q(&mut mc, &[b"DUMP", k])).remove(0);
        assert_eq!(
            q(&mut rc, &[b"RESTORE", k, b"0", &p, b"REPLACE"]),
            redis::Value::Okay,
            "{k:?}"
        );
    }
    // TTLs are not part of a payload: compare values only.
    let strip = |d: Dataset| -> Dataset {
        d.into_iter()
            .filter(|((db, _), _)| *db == 0)
            .map(|(k, mut v)| {
                v.pop();
                (k, v)
            })
            .collect()
    };
    same(&strip(dataset(&mut mc)), &strip(want.clone()));
    same(&strip(dataset(&mut rc)), &strip(want));
}

/// Starts magpie on `file` and expects it to exit 1 naming the problem.
fn refuses(file: &[u8], needle: &str) {
    let dir = scratch("bad");
    std::fs::write(dir.join("dump.rdb"), file).unwrap();
    let out = Command::new(binary())
        .args([
            "--port",
            &free_port().to_string(),
            "--dir",
            dir.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    let text =
        String::from_utf8_lossy(&out.stderr).to_string() + &String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains(needle), "{needle} not in {text}");
}

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(Path::new("/work/shared/fixtures/rdb").join(name))
        .or_else(|_| {
            std::fs::read(
                PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                    .join("../../../shared/fixtures/rdb")
                    .join(name),
            )
        })
        .unwrap()
}

#[test]
fn corrupt_truncated_and_stream_files_stop_startup() {
    let good = fixture("redis-7.0.15.rdb");
    let mut flipped = good.clone();
    let n = flipped.len();
    flipped[n - 3] ^= 0x40;
    refuses(&flipped, "checksum");
    refuses(&good[..good.len() / 2], "truncated");
    refuses(b"GARBAGE!!", "signature");
    refuses(&fixture("streams-redis-7.0.15.rdb"), "stream");
}

#[test]
fn fixtures_from_redis_7_4_and_valkey_load_at_startup() {
    for name in [
        "redis-7.4.1.rdb",
        "valkey-8.0.1.rdb",
        "redis-7.0.15-nocompress.rdb",
    ] {
        let dir = scratch("fix");
        std::fs::write(dir.join("dump.rdb"), fixture(name)).unwrap();
        let s = magpie(&dir, &["--shards", "4"]);
        let mut c = s.connect();
        assert_eq!(
            bulks(q(&mut c, &[b"GET", b"str:short"])),
            vec![b"hello world".to_vec()],
            "{name}"
        );
        assert_eq!(
            q(&mut c, &[b"LLEN", b"list:big"]),
            redis::Value::Int(1000),
            "{name}"
        );
        assert_eq!(
            q(&mut c, &[b"PEXPIRETIME", b"str:ttl:ms"]).clone(),
            q(&mut c, &[b"PEXPIRETIME", b"str:ttl:ms"])
        );
        if name == "redis-7.4.1.rdb" {
            assert_eq!(
                field_ttls(&mut c, b"hash:hfe:small", &[b"f1", b"f2"]),
                vec![b"4102444800000".to_vec(), b"-1".to_vec()]
            );
        }
    }
}

/// Reads the keys of a dump file (db 0) with the persistence crate.
fn file_keys(path: &Path) -> BTreeMap<Vec<u8>, Vec<u8>> {
    let data = std::fs::read(path).unwrap();
    let opts = persistence::LoadOptions {
        thresholds: storage::types::Thresholds::default(),
        now_ms: 0,
        databases: 16,
    };
    let mut out = BTreeMap::new();
    persistence::load(&data, &opts, |_, k, e| {
        if let storage::Value::Str(s) = &e.value {
            out.insert(k.to_vec(), s.to_bytes().to_vec());
        }
    })
    .unwrap();
    out
}

fn info_field(c: &mut redis::Connection, field: &str) -> String {
    let info = String::from_utf8(bulks(q(c, &[b"INFO", b"persistence"])).remove(0)).unwrap();
    info.lines()
        .find_map(|l| {
            l.strip_prefix(&format!("{field}:"))
                .map(|v| v.trim().to_string())
        })
        .unwrap()
}

#[test]
fn bgsave_under_concurrent_writes_is_one_cut() {
    let dir = scratch("cut");
    let s = magpie(&dir, &["--shards", "4"]);
    let mut c = s.connect();
    q(&mut c, &[b"DEBUG", b"POPULATE", b"50000"]);
    let stop = Arc::new(AtomicBool::new(false));
    let writers: Vec<_> = (0..3)
        .map(|t| {
            let mut wc = s.connect();
            let stop = stop.clone();
            std::thread::spawn(move || {
                let mut i = 0u64;
                while !stop.load(Ordering::Relaxed) && i < 1_000_000 {
                    // Sequential writes of one client, and an MSET whose
                    // keys span shards: the file must hold a prefix of the
                    // former and all or none of each of the latter.
                    let k = format!("w{t}:{i}");
                    q(&mut wc, &[b"SET", k.as_bytes(), i.to_string().as_bytes()]);
                    let m: Vec<String> = (0..4).map(|j| format!("m{t}:{i}:{j}")).collect();
                    q(
                        &mut wc,
                        &[
                            b"MSET",
                            m[0].as_bytes(),
                            b"x",
                            m[1].as_bytes(),
                            b"x",
                            m[2].as_bytes(),
                            b"x",
                            m[3].as_bytes(),
                            b"x",
                        ],
                    );
                    i += 1;
                }
                i
            })
        })
        .collect();
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(
        q(&mut c, &[b"BGSAVE"]),
        redis::Value::SimpleString("Background saving started".into())
    );
    let start = Instant::now();
    while info_field(&mut c, "rdb_bgsave_in_progress") != "0" {
        assert!(start.elapsed() < Duration::from_secs(30));
        std::thread::sleep(Duration::from_millis(10));
    }
    std::thread::sleep(Duration::from_millis(100));
    stop.store(true, Ordering::Relaxed);
    let totals: Vec<u64> = writers.into_iter().map(|w| w.join().unwrap()).collect();
    assert_eq!(info_field(&mut c, "rdb_last_bgsave_status"), "ok");
    let keys = file_keys(&dir.join("dump.rdb"));
    for (t, total) in totals.iter().enumerate() {
        let seen: Vec<u64> = (0..*total)
            .filter(|i| keys.contains_key(format!("w{t}:{i}").as_bytes()))
            .collect();
        let n = seen.len() as u64;
        assert!(
            n > 0 && n < *total,
            "writer {t}: {n} of {total} (cut not during writes)"
        );
        assert_eq!(
            seen.last().copied(),
            Some(n - 1),
            "writer {t}: not a prefix"
        );
        for i in 0..*total {
            let present = (0..4)
                .filter(|j| keys.contains_key(format!("m{t}:{i}:{j}").as_bytes()))
                .count();
            assert!(present == 0 || present == 4, "half an MSET in the file");
        }
    }
    assert_eq!(
        keys.keys().filter(|k| k.starts_with(b"key:")).count(),
        50000
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn kill_9_during_a_save_leaves_the_previous_file() {
    let dir = scratch("kill");
    for attempt in 0..5 {
        let mut s = magpie(&dir, &["--rdbcompression", "no"]);
        let mut c = s.connect();
        q(&mut c, &[b"FLUSHALL"]);
        q(
            &mut c,
            &[b"SET", b"generation", attempt.to_string().as_bytes()],
        );
        q(&mut c, &[b"SAVE"]);
        let before = std::fs::read(dir.join("dump.rdb")).unwrap();
        q(&mut c, &[b"DEBUG", b"POPULATE", b"400000", b"big", b"256"]);
        q(&mut c, &[b"BGSAVE"]);
        // Kill as soon as the temp file is being written.
        let start = Instant::now();
        let mut caught = false;
        while start.elapsed() < Duration::from_secs(5) {
            let temp = std::fs::read_dir(&dir)
                .unwrap()
                .flatten()
                .any(|e| e.file_name().to_string_lossy().starts_with("temp-"));
            if temp {
                s.signal(9);
                caught = true;
                break;
            }
            std::thread::sleep(Duration::from_micros(200));
        }
        s.wait_exit(Duration::from_secs(5));
        let after = std::fs::read(dir.join("dump.rdb")).unwrap();
        if caught && after == before {
            // The previous file is intact and loads.
            let keys = file_keys(&dir.join("dump.rdb"));
            assert_eq!(
                keys.get(&b"generation"[..]),
                Some(&attempt.to_string().into_bytes())
            );
            let _ = std::fs::remove_dir_all(&dir);
            return;
        }
        // The save finished first: the new file must be whole.
        assert_eq!(file_keys(&dir.join("dump.rdb")).len(), 400_001);
        for e in std::fs::read_dir(&dir).unwrap().flatten() {
            if e.file_name().to_string_lossy().starts_with("temp-") {
                let _ = std::fs::remove_file(e.path());
            }
        }
    }
    panic!("never caught a save in progress");
}

/// Every key of a dump file: (db, key) -> (deadline, value as debug text).
fn file_dataset(path: &Path) -> BTreeMap<(usize, Vec<u8>), (Option<u64>, String)> {
    let data = std::fs::read(path).unwrap();
    let opts = persistence::LoadOptions {
        thresholds: storage::types::Thresholds::default(),
        now_ms: 0,
        databases: 16,
    };
    let mut out = BTreeMap::new();
    persistence::load(&data, &opts, |db, k, e| {
        out.insert((db, k.to_vec()), (e.expire_at(), format!("{:?}", e.value)));
    })
    .unwrap();
    out
}

/// BGSAVE's copy-on-write walk: a SAVE records the dataset, a BGSAVE cuts
/// the same dataset, and the commands pipelined right behind it (so all
/// after the cut, while the shards still walk) overwrite, delete, mutate
/// in place, set and fire deadlines, rename, add keys, FLUSHALL and
/// refill. The BGSAVE file must hold exactly what the SAVE file holds.
#[test]
fn bgsave_file_is_the_dataset_at_the_cut_despite_churn() {
    for shards in ["1", "4"] {
        let dir = scratch("cow");
        let s = magpie(&dir, &["--shards", shards]);
        let mut c = s.connect();
        // Without 7.4's field TTLs: redis-check-rdb 7.0 checks the file.
        populate(&mut c, false);
        q(&mut c, &[b"DEBUG", b"POPULATE", b"200000"]);
        for i in 0..2000 {
            let k = format!("ttl:{i}");
            q(&mut c, &[b"SET", k.as_bytes(), b"v", b"EX", b"100000"]);
        }
        assert_eq!(q(&mut c, &[b"SAVE"]), redis::Value::Okay);
        let want = file_dataset(&dir.join("dump.rdb"));
        std::fs::rename(dir.join("dump.rdb"), dir.join("want.rdb")).unwrap();
        let mut p = redis::pipe();
        p.cmd("BGSAVE");
        for i in 0..20_000u32 {
            if i == 12_000 {
                p.cmd("FLUSHALL").ignore();
            }
            let k = |n: u32| format!("key:{n}");
            p.cmd("SET").arg(k(i * 5)).arg("changed").ignore();
            p.cmd("DEL").arg(k(i * 5 + 1)).ignore();
            p.cmd("PEXPIRE").arg(k(i * 5 + 2)).arg(100_000_000).ignore();
            p.cmd("PEXPIRE").arg(k(i * 5 + 3)).arg(0).ignore();
            p.cmd("APPEND").arg(k(i * 5 + 4)).arg("+").ignore();
            p.cmd("SET").arg(format!("fresh:{i}")).arg("x").ignore();
            p.cmd("PERSIST").arg(format!("ttl:{}", i % 2000)).ignore();
            if i % 1000 == 7 {
                p.cmd("RENAME")
                    .arg(k(i * 5 + 4))
                    .arg(format!("renamed:{i}"))
                    .ignore();
                p.cmd("HSET").arg("hash:small").arg("new").arg("f").ignore();
                p.cmd("RPUSH").arg("list:small").arg("more").ignore();
                p.cmd("SADD").arg("set:small").arg(777_777).ignore();
                p.cmd("ZADD").arg("zset:small").arg(1).arg("zz").ignore();
                p.cmd("SWAPDB").arg(0).arg(1).ignore();
                p.cmd("SWAPDB").arg(0).arg(1).ignore();
            }
        }
        let started: Vec<redis::Value> = p.query(&mut c).unwrap();
        assert_eq!(
            started,
            vec![redis::Value::SimpleString(
                "Background saving started".into()
            )]
        );
        let start = Instant::now();
        while info_field(&mut c, "rdb_bgsave_in_progress") != "0" {
            assert!(start.elapsed() < Duration::from_secs(60));
            std::thread::sleep(Duration::from_millis(10));
        }
        assert_eq!(info_field(&mut c, "rdb_last_bgsave_status"), "ok");
        let got = file_dataset(&dir.join("dump.rdb"));
        assert_eq!(got.len(), want.len(), "shards {shards}: key count");
        let differ: Vec<_> = want
            .iter()
            .filter(|(k, v)| got.get(*k) != Some(*v))
            .map(|(k, _)| String::from_utf8_lossy(&k.1).to_string())
            .take(10)
            .collect();
        assert!(differ.is_empty(), "shards {shards}: differ {differ:?}");
        // The file is a valid RDB for Redis too.
        let check = Command::new("redis-check-rdb")
            .arg(dir.join("dump.rdb"))
            .output()
            .unwrap();
        assert!(
            check.status.success(),
            "{}",
            String::from_utf8_lossy(&check.stdout)
        );
        drop(c);
        drop(s);
        let _ = std::fs::remove_dir_all(&dir);
    }
}

/// `stop-writes-on-bgsave-error yes` (the default): after a failed
/// background save, with save points set, writes and PING get Redis's
/// -MISCONF until a save succeeds; reads go on.
#[test]
fn failed_bgsave_stops_writes_until_a_save_succeeds() {
    const MISCONF: &str = "MISCONF Redis is configured to save RDB snapshots, but it's currently unable to persist to disk. Commands that may modify the data set are disabled, because this instance is configured to report errors during writes if RDB snapshotting fails (stop-writes-on-bgsave-error option). Please check the Redis logs for details about the RDB error.";
    let dir = scratch("misconf");
    let s = magpie(&dir, &[]);
    let mut c = s.connect();
    let err = |c: &mut redis::Connection, args: &[&str]| -> String {
        let mut cmd = redis::cmd(args[0]);
        for a in &args[1..] {
            cmd.arg(*a);
        }
        match cmd.query::<redis::Value>(c) {
            Err(e) => format!("{} {}", e.code().unwrap_or(""), e.detail().unwrap_or("")),
            Ok(v) => format!("ok {v:?}"),
        }
    };
    q(&mut c, &[b"CONFIG", b"SET", b"save", b"3600 1"]);
    q(&mut c, &[b"SET", b"a", b"1"]);
    std::fs::remove_dir_all(&dir).unwrap();
    q(&mut c, &[b"BGSAVE"]);
    let start = Instant::now();
    while info_field(&mut c, "rdb_bgsave_in_progress") != "0" {
        assert!(start.elapsed() < Duration::from_secs(30));
        std::thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(info_field(&mut c, "rdb_last_bgsave_status"), "err");
    assert_eq!(err(&mut c, &["SET", "b", "1"]), MISCONF);
    assert_eq!(err(&mut c, &["PING"]), MISCONF);
    assert_eq!(err(&mut c, &["FLUSHALL"]), MISCONF);
    assert_eq!(
        q(&mut c, &[b"GET", b"a"]),
        redis::Value::BulkString(b"1".to_vec())
    );
    // Inside MULTI the write is refused and the transaction aborted.
    q(&mut c, &[b"MULTI"]);
    assert_eq!(err(&mut c, &["SET", "b", "1"]), MISCONF);
    assert!(err(&mut c, &["EXEC"]).starts_with("EXECABORT"));
    // The directive and the save points both gate.
    assert_eq!(
        bulks(q(
            &mut c,
            &[b"CONFIG", b"GET", b"stop-writes-on-bgsave-error"]
        )),
        vec![b"stop-writes-on-bgsave-error".to_vec(), b"yes".to_vec()]
    );
    q(
        &mut c,
        &[b"CONFIG", b"SET", b"stop-writes-on-bgsave-error", b"no"],
    );
    assert_eq!(q(&mut c, &[b"SET", b"b", b"1"]), redis::Value::Okay);
    q(
        &mut c,
        &[b"CONFIG", b"SET", b"stop-writes-on-bgsave-error", b"yes"],
    );
    assert_eq!(err(&mut c, &["SET", "b", "2"]), MISCONF);
    q(&mut c, &[b"CONFIG", b"SET", b"save", b""]);
    assert_eq!(q(&mut c, &[b"SET", b"b", b"3"]), redis::Value::Okay);
    q(&mut c, &[b"CONFIG", b"SET", b"save", b"3600 1"]);
    assert_eq!(err(&mut c, &["SET", "b", "4"]), MISCONF);
    // A successful save clears the error.
    std::fs::create_dir_all(&dir).unwrap();
    assert_eq!(q(&mut c, &[b"SAVE"]), redis::Value::Okay);
    assert_eq!(info_field(&mut c, "rdb_last_bgsave_status"), "ok");
    assert_eq!(q(&mut c, &[b"SET", b"b", b"5"]), redis::Value::Okay);
    assert_eq!(
        q(&mut c, &[b"PING"]),
        redis::Value::SimpleString("PONG".into())
    );
    q(&mut c, &[b"CONFIG", b"SET", b"save", b""]);
    let _ = std::fs::remove_dir_all(&dir);
}
