//! Tests of the public behaviour. Expected texts were taken from a real
//! `redis-server` (7.0.15 locally, with the version banner and the 7.2+
//! `loglevel nothing` adjusted to 7.4).

#![allow(clippy::unwrap_used)]

use super::*;
use std::sync::atomic::{AtomicUsize, Ordering};

/// A fresh directory for one test.
fn scratch() -> PathBuf {
    static N: AtomicUsize = AtomicUsize::new(0);
    let dir = std::env::temp_dir().join(format!(
        "magpie-config-test-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::canonicalize(dir).unwrap()
}

fn fresh(dir: &Path) -> Config {
    Config::with_defaults(dir.to_path_buf(), 4)
}

fn cli_in(dir: &Path, args: &[&str], stdin: &str) -> Result<Config, StartupError> {
    let mut cfg = fresh(dir);
    let argv: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    cfg.load_command_line(&argv, &mut stdin.as_bytes())?;
    Ok(cfg)
}

fn cli(args: &[&str]) -> Result<Config, StartupError> {
    cli_in(&scratch(), args, "")
}

fn get1(cfg: &Config, name: &str) -> String {
    let pairs = cfg.get(&[name.as_bytes()]);
    assert_eq!(pairs.len(), 1, "{name}");
    String::from_utf8(pairs[0].1.clone()).unwrap()
}

fn fatal(line: Option<(usize, &str)>, message: &str) -> StartupError {
    StartupError::Fatal {
        line: line.map(|(n, s)| (n, s.to_string())),
        message: message.to_string(),
    }
}

fn set(cfg: &mut Config, args: &[&str]) -> Result<Vec<Id>, String> {
    let args: Vec<&[u8]> = args.iter().map(|a| a.as_bytes()).collect();
    cfg.set_args(&args, Origin::Remote)
}

// ---- startup errors --------------------------------------------------------

#[test]
fn fatal_block_is_redis_format() {
    let mut cfg = fresh(&scratch());
    let err = cfg.load_str(b"port 7777\nfoo \"bar\"\n").unwrap_err();
    // Display leaves out the final newline: `eprintln!("{err}")` prints
    // exactly Redis's bytes.
    assert_eq!(
        format!("{err}\n"),
        "\n*** FATAL CONFIG FILE ERROR (Redis 7.4.0) ***\n\
         Reading the configuration file, at line 2\n\
         >>> 'foo \"bar\"'\n\
         Bad directive or wrong number of arguments\n"
    );
    assert_eq!(err.exit_code(), 1);
    assert!(!err.to_stdout());
}

#[test]
fn command_line_errors_name_the_generated_line() {
    // `redis-server --port 7777 --loglevel foo`
    assert_eq!(
        cli(&["--port", "7777", "--loglevel", "foo"]).unwrap_err(),
        fatal(
            Some((3, "loglevel \"foo\"")),
            "argument(s) must be one of the following: debug, verbose, notice, warning, nothing"
        )
    );
    assert_eq!(
        cli(&["--port", "7777", "--foo", "bar"]).unwrap_err(),
        fatal(
            Some((3, "foo \"bar\"")),
            "Bad directive or wrong number of arguments"
        )
    );
    assert_eq!(
        cli(&["--port", "abc"]).unwrap_err(),
        fatal(
            Some((2, "port \"abc\"")),
            "argument couldn't be parsed into an integer"
        )
    );
    assert_eq!(
        cli(&["--port", "70000"]).unwrap_err(),
        fatal(
            Some((2, "port \"70000\"")),
            "argument must be between 0 and 65535 inclusive"
        )
    );
    assert_eq!(
        cli(&["--daemonize", "maybe"]).unwrap_err(),
        fatal(
            Some((2, "daemonize \"maybe\"")),
            "argument must be 'yes' or 'no'"
        )
    );
    assert_eq!(
        cli(&["--maxmemory", "1x"]).unwrap_err(),
        fatal(
            Some((2, "maxmemory \"1x\"")),
            "argument must be a memory value"
        )
    );
    assert_eq!(
        cli(&["--save", "1"]).unwrap_err(),
        fatal(Some((2, "save \"1\"")), "Invalid save parameters")
    );
    assert_eq!(
        cli(&["--port"]).unwrap_err(),
        fatal(Some((2, "port")), "wrong number of arguments")
    );
    assert_eq!(
        cli(&["--port", "1", "2"]).unwrap_err(),
        fatal(Some((2, "port \"1\" \"2\"")), "wrong number of arguments")
    );
    assert_eq!(
        cli(&["--dir", "/nonexistent-magpie"]).unwrap_err(),
        fatal(
            Some((2, "dir \"/nonexistent-magpie\"")),
            "No such file or directory"
        )
    );
    assert_eq!(
        cli(&["--notify-keyspace-events", "q"]).unwrap_err(),
        fatal(
            Some((2, "notify-keyspace-events \"q\"")),
            "Invalid event class character. Use 'Ag$lshzxeKEtmdn'."
        )
    );
    assert_eq!(
        cli(&["--client-output-buffer-limit", "normal", "1"]).unwrap_err(),
        fatal(
            Some((2, "client-output-buffer-limit \"normal\" \"1\"")),
            "Wrong number of arguments in buffer limit configuration."
        )
    );
    assert_eq!(
        cli(&["--enable-debug-command", "maybe"]).unwrap_err(),
        fatal(
            Some((2, "enable-debug-command \"maybe\"")),
            "argument(s) must be one of the following: no, yes, local"
        )
    );
    assert_eq!(
        cli(&["--requirepass"]).unwrap_err(),
        fatal(Some((2, "requirepass")), "wrong number of arguments")
    );
    assert_eq!(
        cli(&["--logfile", "/nonexistent-magpie/x.log"]).unwrap_err(),
        fatal(None, "Can't open the log file: No such file or directory")
    );
    let many: Vec<&str> = std::iter::once("--bind").chain(["1"; 17]).collect();
    assert!(matches!(
        cli(&many).unwrap_err(),
        StartupError::Fatal { message, .. } if message == "Too many bind addresses specified."
    ));
}

#[test]
fn file_errors() {
    let dir = scratch();
    let conf = dir.join("bad.conf");
    std::fs::write(&conf, "port \"7777\n").unwrap();
    assert_eq!(
        cli_in(&dir, &[conf.to_str().unwrap()], "").unwrap_err(),
        fatal(
            Some((1, "port \"7777")),
            "Unbalanced quotes in configuration line"
        )
    );

    let missing = dir.join("missing.conf");
    let err = cli_in(&dir, &[missing.to_str().unwrap()], "").unwrap_err();
    let text = err.to_string();
    assert!(err.to_stdout());
    assert_eq!(err.exit_code(), 1);
    assert!(text.contains(":C "), "{text}");
    assert!(
        text.ends_with(&format!(
            " # Fatal error, can't open config file '{}': No such file or directory",
            missing.display()
        )),
        "{text}"
    );

    // An error in an included file names the included file's line.
    std::fs::write(dir.join("sub.conf"), "# comment\nport x\n").unwrap();
    std::fs::write(dir.join("main.conf"), "include sub.conf\n").unwrap();
    let main = dir.join("main.conf");
    assert_eq!(
        cli_in(&dir, &[main.to_str().unwrap()], "").unwrap_err(),
        fatal(
            Some((2, "port x")),
            "argument couldn't be parsed into an integer"
        )
    );
    // A missing include is reported with the name as written.
    std::fs::write(&main, "include nope.conf\n").unwrap();
    let text = cli_in(&dir, &[main.to_str().unwrap()], "")
        .unwrap_err()
        .to_string();
    assert!(text.ends_with("can't open config file 'nope.conf': No such file or directory"));

    // Directives only a file has.
    let mut cfg = fresh(&dir);
    assert_eq!(
        cfg.load_str(b"sentinel monitor x").unwrap_err(),
        fatal(
            Some((1, "sentinel monitor x")),
            "sentinel directive while not in sentinel mode"
        )
    );
    assert_eq!(
        cfg.load_str(b"mymod.opt").unwrap_err(),
        fatal(
            Some((1, "mymod.opt")),
            "Module config specified without value"
        )
    );
    assert!(cfg
        .load_str(b"list-max-ziplist-entries 5\nsentinel\nlua-replicate-commands yes")
        .is_ok());
    assert_eq!(
        cfg.load_str(b"lua-replicate-commands").unwrap_err(),
        fatal(
            Some((1, "lua-replicate-commands")),
            "Bad directive or wrong number of arguments"
        )
    );
}

#[test]
fn version_and_help() {
    let v = cli(&["--version"]).unwrap_err();
    assert_eq!(v.exit_code(), 0);
    assert!(v.to_stdout());
    assert!(v
        .to_string()
        .starts_with("Redis server v=7.4.0 sha=00000000:0 malloc=jemalloc-5.3.0 bits=64 build="));
    assert!(v
        .to_string()
        .ends_with(&format!(" magpie={}", env!("CARGO_PKG_VERSION"))));
    assert_eq!(cli(&["-v"]).unwrap_err(), v);
    let h = cli(&["-h"]).unwrap_err();
    assert_eq!(h.exit_code(), 1);
    assert!(!h.to_stdout());
    assert!(h
        .to_string()
        .starts_with("Usage: ./magpie-server [/path/to/redis.conf] [options] [-]\n"));
    assert!(h.to_string().ends_with("--loglevel verbose"));
    assert_eq!(cli(&["--help"]).unwrap_err(), h);
}

// ---- command line and files -------------------------------------------------

#[test]
fn command_line_options() {
    let cfg = cli(&[
        "--port",
        "7777",
        "--save",
        "900",
        "1",
        "300",
        "10",
        "--requirepass",
        "a b",
    ])
    .unwrap();
    assert_eq!(cfg.port(), 7777);
    assert_eq!(
        cfg.save_points(),
        &[
            SavePoint {
                seconds: 900,
                changes: 1
            },
            SavePoint {
                seconds: 300,
                changes: 10
            }
        ]
    );
    assert_eq!(cfg.requirepass(), Some(&b"a b"[..]));

    // One word holding name and value.
    assert_eq!(cli(&["--port 7000"]).unwrap().port(), 7000);
    // A bare name takes the next word as its value, even one with dashes.
    assert_eq!(
        cli(&["--requirepass", "--port"]).unwrap().requirepass(),
        Some(&b"--port"[..])
    );
    // Names are case-insensitive, later settings win.
    assert_eq!(cli(&["--PORT", "1", "--port", "2"]).unwrap().port(), 2);
}

#[test]
fn a_multi_argument_directive_in_one_argument_is_split() {
    // redis-server 7.0.15 accepts `--client-output-buffer-limit "pubsub 1mb 512kb 60"`.
    let cfg = cli(&["--client-output-buffer-limit", "pubsub 1mb 512kb 60"]).unwrap();
    assert_eq!(cfg.client_output_buffer_limit(2).hard_bytes, 1 << 20);
    assert_eq!(cfg.client_output_buffer_limit(2).soft_bytes, 512 << 10);
    assert_eq!(cfg.client_output_buffer_limit(2).soft_seconds, 60);
    assert_eq!(
        get1(&cli(&["--save", "900 1 60 5"]).unwrap(), "save"),
        "900 1 60 5"
    );
}

#[test]
fn save_on_the_command_line() {
    let save = |args: &[&str]| get1(&cli(args).unwrap(), "save");
    // Observed with redis-server 7.0.15.
    assert_eq!(
        save(&["--save", "900", "1", "--save", "60", "5"]),
        "900 1 60 5"
    );
    assert_eq!(save(&["--save", "900", "1", "--save", ""]), "");
    assert_eq!(save(&["--save", "", "--save", "60", "5"]), "60 5");
    assert_eq!(save(&["--save", "60", "5", "--save"]), "");
    let cfg = cli(&["--save", "--port", "7778"]).unwrap();
    assert_eq!(get1(&cfg, "save"), "");
    assert_eq!(cfg.port(), 7778);
    assert_eq!(save(&[]), "3600 1 300 100 60 10000");
    assert_eq!(save(&["--port", "1"]), "3600 1 300 100 60 10000");
}

#[test]
fn file_then_stdin_then_options() {
    let dir = scratch();
    let conf = dir.join("redis.conf");
    std::fs::write(
        &conf,
        "# comment\n\
         \x20  PORT 1000   \n\
         requirepass 'it\\'s'\n\
         maxmemory 1gb\n\
         hash-max-ziplist-entries 99\n\
         lua-time-limit 42\n\
         save 10 1\n\
         save 20 2\n\
         notify-keyspace-events \"KEA\"\n\
         client-output-buffer-limit replica 1mb 2mb 3\n\
         bind 0.0.0.0 -::\n",
    )
    .unwrap();
    let cfg = cli_in(
        &dir,
        &[conf.to_str().unwrap(), "--maxmemory", "2mb", "-"],
        "maxmemory 5\nport 2000\n",
    )
    .unwrap();
    assert_eq!(cfg.config_file(), Some(conf.as_path()));
    assert_eq!(cfg.port(), 2000);
    assert_eq!(cfg.maxmemory(), 2 * 1024 * 1024);
    assert_eq!(cfg.requirepass(), Some(&b"it's"[..]));
    assert_eq!(cfg.hash_max_listpack_entries(), 99);
    assert_eq!(cfg.busy_reply_threshold_ms(), 42);
    assert_eq!(get1(&cfg, "save"), "10 1 20 2");
    assert_eq!(get1(&cfg, "notify-keyspace-events"), "AKE");
    assert_eq!(
        cfg.notify_keyspace_events(),
        notify::ALL | notify::KEYSPACE | notify::KEYEVENT
    );
    assert_eq!(
        get1(&cfg, "client-output-buffer-limit"),
        "normal 0 0 0 slave 1048576 2097152 3 pubsub 33554432 8388608 60"
    );
    assert_eq!(
        cfg.bind(),
        vec![
            BindAddr {
                addr: "0.0.0.0".into(),
                optional: false
            },
            BindAddr {
                addr: "::".into(),
                optional: true
            }
        ]
    );

    // `-` first reads stdin before the options.
    let cfg = cli_in(&dir, &["-", "--port", "3"], "port 4\n").unwrap();
    assert_eq!(cfg.port(), 3);
    assert!(cfg.config_file().is_none());
}

#[test]
fn include_dir_and_glob() {
    let dir = scratch();
    let sub = dir.join("conf.d");
    std::fs::create_dir(&sub).unwrap();
    std::fs::write(sub.join("b.conf"), "port 2\n").unwrap();
    std::fs::write(sub.join("a.conf"), "port 1\ndatabases 3\n").unwrap();
    std::fs::write(sub.join(".hidden.conf"), "port 9\n").unwrap();
    std::fs::write(
        dir.join("main.conf"),
        "port 5\ninclude conf.d/*.conf\ninclude nomatch/*.conf\n",
    )
    .unwrap();
    let cfg = cli_in(&dir, &[dir.join("main.conf").to_str().unwrap()], "").unwrap();
    assert_eq!(cfg.port(), 2, "b.conf sorts after a.conf");
    assert_eq!(cfg.databases(), 3);

    // `dir` moves where later relative paths resolve.
    std::fs::write(sub.join("c.conf"), "maxclients 7\n").unwrap();
    let mut cfg = fresh(&dir);
    cfg.load_str(b"dir conf.d\ninclude c.conf\ndbfilename x.rdb")
        .unwrap();
    assert_eq!(cfg.dir(), sub.as_path());
    assert_eq!(cfg.maxclients(), 7);
    assert_eq!(cfg.rdb_path(), sub.join("x.rdb"));
    assert_eq!(get1(&cfg, "dir"), sub.to_str().unwrap());
}

#[test]
fn hz_is_clamped() {
    let mut cfg = fresh(&scratch());
    cfg.load_str(b"hz 1000").unwrap();
    assert_eq!(cfg.hz(), 500);
    set(&mut cfg, &["hz", "0"]).unwrap();
    assert_eq!(get1(&cfg, "hz"), "1");
    assert_eq!(
        set(&mut cfg, &["hz", "-5"]).unwrap_err(),
        "ERR CONFIG SET failed (possibly related to argument 'hz') - argument must be between 0 and 2147483647 inclusive"
    );
}

// ---- CONFIG GET ------------------------------------------------------------

#[test]
fn get_patterns() {
    let cfg = fresh(&scratch());
    // An exact name answers under the client's spelling.
    assert_eq!(
        cfg.get(&[b"MAXMEMORY"]),
        vec![("MAXMEMORY".to_string(), b"0".to_vec())]
    );
    assert_eq!(cfg.get(&[b"maxmemory", b"MAXMEMORY"]).len(), 1);
    assert!(cfg.get(&[b"nonexistent"]).is_empty());

    let names =
        |pats: &[&[u8]]| -> Vec<String> { cfg.get(pats).into_iter().map(|(n, _)| n).collect() };
    let mut mm = names(&[b"MAXMEM*"]);
    mm.sort();
    assert_eq!(
        mm,
        [
            "maxmemory",
            "maxmemory-clients",
            "maxmemory-eviction-tenacity",
            "maxmemory-policy",
            "maxmemory-samples"
        ]
    );
    assert_eq!(names(&[b"maxmemory*", b"maxmemory"]).len(), 5);
    assert_eq!(
        names(&[b"lua*", b"busy*"]),
        ["lua-time-limit", "busy-reply-threshold"]
    );
    let mut hash = names(&[b"hash-max-*"]);
    hash.sort();
    assert_eq!(
        hash,
        [
            "hash-max-listpack-entries",
            "hash-max-listpack-value",
            "hash-max-ziplist-entries",
            "hash-max-ziplist-value"
        ]
    );
    // Hidden rows: only by exact name.
    assert!(names(&[b"*"]).iter().all(|n| n != "watchdog-period"));
    assert_eq!(names(&[b"watchdog-period"]), ["watchdog-period"]);
    // Our own directive is listed.
    assert_eq!(get1(&cfg, "shards"), "4");
    assert!(names(&[b"*"]).contains(&"shards".to_string()));
}

#[test]
fn get_default_values_match_redis() {
    let cfg = fresh(Path::new("/tmp"));
    let expect = [
        ("bind", "127.0.0.1 -::1"),
        ("port", "6379"),
        ("protected-mode", "yes"),
        ("requirepass", ""),
        ("databases", "16"),
        ("maxclients", "10000"),
        ("timeout", "0"),
        ("tcp-keepalive", "300"),
        ("tcp-backlog", "511"),
        ("dir", "/tmp"),
        ("dbfilename", "dump.rdb"),
        ("save", "3600 1 300 100 60 10000"),
        ("loglevel", "notice"),
        ("logfile", ""),
        ("daemonize", "no"),
        ("pidfile", ""),
        ("enable-debug-command", "no"),
        ("proto-max-bulk-len", "536870912"),
        ("client-query-buffer-limit", "1073741824"),
        ("hz", "10"),
        ("dynamic-hz", "yes"),
        ("maxmemory", "0"),
        ("maxmemory-policy", "noeviction"),
        ("maxmemory-samples", "5"),
        ("maxmemory-eviction-tenacity", "10"),
        ("lfu-log-factor", "10"),
        ("lfu-decay-time", "1"),
        ("notify-keyspace-events", ""),
        ("busy-reply-threshold", "5000"),
        ("lua-time-limit", "5000"),
        ("slowlog-log-slower-than", "10000"),
        ("slowlog-max-len", "128"),
        ("latency-monitor-threshold", "0"),
        ("active-expire-effort", "1"),
        ("lazyfree-lazy-user-del", "no"),
        ("appendonly", "no"),
        ("rdbcompression", "yes"),
        ("rdbchecksum", "yes"),
        ("stop-writes-on-bgsave-error", "yes"),
        ("io-threads", "1"),
        ("hash-max-listpack-entries", "512"),
        ("hash-max-listpack-value", "64"),
        ("list-max-listpack-size", "-2"),
        ("list-max-ziplist-size", "-2"),
        ("set-max-intset-entries", "512"),
        ("set-max-listpack-entries", "128"),
        ("set-max-listpack-value", "64"),
        ("zset-max-listpack-entries", "128"),
        ("zset-max-listpack-value", "64"),
        (
            "client-output-buffer-limit",
            "normal 0 0 0 slave 268435456 67108864 60 pubsub 33554432 8388608 60",
        ),
        ("tracking-table-max-keys", "1000000"),
        ("unixsocket", ""),
        ("unixsocketperm", "0"),
        ("replicaof", ""),
        ("slaveof", ""),
        ("oom-score-adj-values", "0 200 800"),
        ("latency-tracking-info-percentiles", "50 99 99.9"),
        ("shutdown-on-sigint", "default"),
        ("proc-title-template", "{title} {listen-addr} {server-mode}"),
        ("syslog-facility", "local0"),
        ("acl-pubsub-default", "resetchannels"),
        ("appendfsync", "everysec"),
        ("maxmemory-clients", "0"),
    ];
    for (name, value) in expect {
        assert_eq!(get1(&cfg, name), value, "{name}");
    }
}

// ---- CONFIG SET ------------------------------------------------------------

#[test]
fn set_errors_match_redis() {
    let mut cfg = fresh(&scratch());
    let cases: &[(&[&str], &str)] = &[
        (&["daemonize", "yes"], "ERR CONFIG SET failed (possibly related to argument 'daemonize') - can't set immutable config"),
        (&["DAEMONIZE", "yes"], "ERR CONFIG SET failed (possibly related to argument 'DAEMONIZE') - can't set immutable config"),
        (&["shards", "2"], "ERR CONFIG SET failed (possibly related to argument 'shards') - can't set immutable config"),
        (&["foo", "bar"], "ERR Unknown option or number of arguments for CONFIG SET - 'foo'"),
        (&["maxmemory", "1x"], "ERR CONFIG SET failed (possibly related to argument 'maxmemory') - argument must be a memory value"),
        (&["maxmemory", "10", "maxmemory", "20"], "ERR CONFIG SET failed (possibly related to argument 'maxmemory') - duplicate parameter"),
        (&["maxmemory", "1", "MAXMEMORY", "2"], "ERR CONFIG SET failed (possibly related to argument 'MAXMEMORY') - duplicate parameter"),
        (&["maxmemory", "10", "maxmemory"], "ERR syntax error"),
        (&["LUA-TIME-LIMIT", "abc"], "ERR CONFIG SET failed (possibly related to argument 'lua-time-limit') - argument couldn't be parsed into an integer"),
        (&["foo", "1", "daemonize", "yes"], "ERR Unknown option or number of arguments for CONFIG SET - 'foo'"),
        (&["daemonize", "yes", "foo", "1"], "ERR CONFIG SET failed (possibly related to argument 'daemonize') - can't set immutable config"),
        (&["maxmemory", "1x", "foo", "1"], "ERR Unknown option or number of arguments for CONFIG SET - 'foo'"),
        (&["maxmemory", "5", "hz", "x"], "ERR CONFIG SET failed (possibly related to argument 'hz') - argument couldn't be parsed into an integer"),
        (&["dbfilename", "a/b"], "ERR CONFIG SET failed (possibly related to argument 'dbfilename') - can't set protected config"),
        (&["dir", "/tmp"], "ERR CONFIG SET failed (possibly related to argument 'dir') - can't set protected config"),
        (&["loglevel", "notice warning"], "ERR CONFIG SET failed (possibly related to argument 'loglevel') - argument(s) must be one of the following: debug, verbose, notice, warning, nothing"),
        (&["save", "100"], "ERR CONFIG SET failed (possibly related to argument 'save') - Invalid save parameters"),
        (&["save", "  "], "ERR CONFIG SET failed (possibly related to argument 'save') - Invalid save parameters"),
        (&["notify-keyspace-events", "K E"], "ERR CONFIG SET failed (possibly related to argument 'notify-keyspace-events') - Invalid event class character. Use 'Ag$lshzxeKEtmdn'."),
        (&["client-output-buffer-limit", "master 1 1 1"], "ERR CONFIG SET failed (possibly related to argument 'client-output-buffer-limit') - Invalid client class specified in buffer limit configuration."),
        (&["maxclients", "0"], "ERR CONFIG SET failed (possibly related to argument 'maxclients') - argument must be between 1 and 4294967295 inclusive"),
        (&["timeout", "-1"], "ERR CONFIG SET failed (possibly related to argument 'timeout') - argument must be between 0 and 2147483647 inclusive"),
        (&["replicaof", "no one"], "ERR CONFIG SET failed (possibly related to argument 'replicaof') - can't set immutable config"),
    ];
    for (args, want) in cases {
        assert_eq!(set(&mut cfg, args).unwrap_err(), *want, "{args:?}");
    }
    // Nothing changed.
    assert_eq!(get1(&cfg, "maxmemory"), "0");
}

#[test]
fn set_is_all_or_nothing_and_reports_changes() {
    let mut cfg = fresh(&scratch());
    assert!(set(&mut cfg, &["maxmemory", "5", "hz", "x"]).is_err());
    assert_eq!(cfg.maxmemory(), 0);

    let changed = set(
        &mut cfg,
        &[
            "maxmemory",
            "1mb",
            "port",
            "6379",
            "save",
            "10 1",
            "loglevel",
            "WARNING",
        ],
    )
    .unwrap();
    assert_eq!(changed, vec![Id::Maxmemory, Id::Save, Id::Loglevel]);
    assert_eq!(cfg.maxmemory(), 1 << 20);
    assert_eq!(cfg.loglevel(), LogLevel::Warning);
    assert_eq!(get1(&cfg, "save"), "10 1");
    assert_eq!(set(&mut cfg, &["save", ""]).unwrap(), vec![Id::Save]);
    assert!(cfg.save_points().is_empty());

    // An alias and its directive are not duplicates: the last one wins.
    set(
        &mut cfg,
        &["lua-time-limit", "1", "busy-reply-threshold", "2"],
    )
    .unwrap();
    assert_eq!(get1(&cfg, "busy-reply-threshold"), "2");

    // client-output-buffer-limit only changes the classes given.
    set(&mut cfg, &["client-output-buffer-limit", "pubsub 1kb 2 3"]).unwrap();
    assert_eq!(
        cfg.client_output_buffer_limit(2),
        OutputBufferLimit {
            hard_bytes: 1024,
            soft_bytes: 2,
            soft_seconds: 3
        }
    );
    assert_eq!(cfg.client_output_buffer_limit(1).hard_bytes, 256 << 20);
    assert!(set(&mut cfg, &["client-output-buffer-limit", ""])
        .unwrap()
        .is_empty());

    // Protected configs follow enable-protected-configs.
    let mut open = fresh(&scratch());
    open.load_str(b"enable-protected-configs local").unwrap();
    let tmp = std::fs::canonicalize(std::env::temp_dir()).unwrap();
    let pairs: [(&[u8], &[u8]); 1] = [(b"dir", tmp.to_str().unwrap().as_bytes())];
    assert!(open.set(&pairs, Origin::Remote).is_err());
    assert_eq!(open.set(&pairs, Origin::Local).unwrap(), vec![Id::Dir]);
    assert_eq!(open.dir(), tmp.as_path());
    let bad: [(&[u8], &[u8]); 1] = [(b"dbfilename", b"a/b")];
    assert_eq!(
        open.set(&bad, Origin::Local).unwrap_err(),
        "ERR CONFIG SET failed (possibly related to argument 'dbfilename') - dbfilename can't be a path, just a filename"
    );
    assert_eq!(
        Config::apply_error(Id::Port, "Unable to listen on this port. Check server logs."),
        "ERR CONFIG SET failed (possibly related to argument 'port') - Unable to listen on this port. Check server logs."
    );
}

// ---- CONFIG REWRITE --------------------------------------------------------

#[test]
fn rewrite_without_file() {
    assert_eq!(
        fresh(&scratch()).rewrite().unwrap_err(),
        "ERR The server is running without a config file"
    );
}

/// The file and commands of a session run against redis-server 7.0.15,
/// whose result is reproduced line for line except the appended block's
/// order (Redis appends in hash order; magpie in table order) and the
/// `user`/`latency-tracking-info-percentiles` lines noted below.
#[test]
fn rewrite_keeps_structure_like_redis() {
    let dir = scratch();
    let conf = dir.join("r.conf");
    std::fs::write(
        &conf,
        "# top comment\n\
         port 7779\n\
         \x20  \n\
         daemonize no\n\
         save 900 1\n\
         save 300 10\n\
         hash-max-ziplist-entries 100\n\
         lua-time-limit 4000\n\
         slave-read-only yes\n\
         Maxmemory 10mb\n\
         \n\
         # trailing comment\n\
         requirepass \"pa ss\"\n\
         client-output-buffer-limit slave 256mb 64mb 60\n\
         client-output-buffer-limit pubsub 32mb 8mb 60\n\
         bind 127.0.0.1\n\
         logfile \"\"\n",
    )
    .unwrap();
    let mut cfg = cli_in(&dir, &[conf.to_str().unwrap()], "").unwrap();
    set(
        &mut cfg,
        &[
            "maxmemory",
            "3000000",
            "hash-max-listpack-entries",
            "200",
            "busy-reply-threshold",
            "100",
            "loglevel",
            "warning",
            "notify-keyspace-events",
            "KEA",
        ],
    )
    .unwrap();
    set(&mut cfg, &["requirepass", "x\"y\\z"]).unwrap();
    set(
        &mut cfg,
        &["client-output-buffer-limit", "normal 1mb 1025 0"],
    )
    .unwrap();
    set(&mut cfg, &["save", "10 1"]).unwrap();
    set(&mut cfg, &["timeout", "5"]).unwrap();
    cfg.rewrite().unwrap();
    let got = std::fs::read_to_string(&conf).unwrap();
    let want = format!(
        "# top comment\n\
         port 7779\n\
         \n\
         daemonize no\n\
         save 10 1\n\
         \n\
         hash-max-listpack-entries 200\n\
         busy-reply-threshold 100\n\
         replica-read-only yes\n\
         maxmemory 3000000\n\
         \n\
         # trailing comment\n\
         requirepass \"x\\\"y\\\\z\"\n\
         client-output-buffer-limit normal 1mb 1025 0\n\
         client-output-buffer-limit replica 256mb 64mb 60\n\
         bind 127.0.0.1\n\
         logfile \"\"\n\
         \n\
         # Generated by CONFIG REWRITE\n\
         timeout 5\n\
         loglevel warning\n\
         dir \"{}\"\n\
         latency-tracking-info-percentiles 50 99 99.9\n\
         notify-keyspace-events \"AKE\"\n",
        dir.display()
    );
    assert_eq!(got, want);

    // Loading the result gives the same configuration.
    let again = cli_in(&dir, &[conf.to_str().unwrap()], "").unwrap();
    assert_eq!(again.get(&[b"*"]), cfg.get(&[b"*"]));
    // Like Redis, a rewrite keeps the empty last "line" after the final
    // newline, so the file then ends in a blank line, and stays so.
    again.rewrite().unwrap();
    assert_eq!(std::fs::read_to_string(&conf).unwrap(), format!("{want}\n"));
    again.rewrite().unwrap();
    assert_eq!(std::fs::read_to_string(&conf).unwrap(), format!("{want}\n"));
}

#[test]
fn rewrite_special_lines() {
    let dir = scratch();
    std::fs::write(dir.join("inc.conf"), "port 7779\n").unwrap();
    let conf = dir.join("r2.conf");
    std::fs::write(
        &conf,
        format!(
            "include {}\n\
             hash-max-ziplist-entries 100\n\
             hash-max-listpack-entries 100\n\
             save \"\"\n\
             bind 127.0.0.1\n\
             rename-command FOO BAR\n\
             mymod.opt 1\n",
            dir.join("inc.conf").display()
        ),
    )
    .unwrap();
    let mut cfg = cli_in(&dir, &[conf.to_str().unwrap()], "").unwrap();
    assert_eq!(
        cfg.file_directives().rename_commands,
        vec![(b"FOO".to_vec(), b"BAR".to_vec())]
    );
    set(&mut cfg, &["bind", "127.0.0.1 -::1"]).unwrap();
    cfg.rewrite().unwrap();
    let got = std::fs::read_to_string(&conf).unwrap();
    assert_eq!(
        got,
        format!(
            "include {}\n\
             hash-max-listpack-entries 100\n\
             \n\
             save \"\"\n\
             \n\
             rename-command FOO BAR\n\
             # ??? mymod.opt 1\n\
             \n\
             # Generated by CONFIG REWRITE\n\
             port 7779\n\
             dir \"{}\"\n\
             latency-tracking-info-percentiles 50 99 99.9\n",
            dir.join("inc.conf").display(),
            dir.display()
        )
    );
}

#[test]
fn rewrite_creates_a_missing_file_and_round_trips_everything() {
    let dir = scratch();
    let conf = dir.join("new.conf");
    std::fs::write(&conf, "").unwrap();
    let mut cfg = cli_in(&dir, &[conf.to_str().unwrap()], "").unwrap();
    std::fs::remove_file(&conf).unwrap();
    set(
        &mut cfg,
        &[
            "maxmemory",
            "2gb",
            "maxmemory-clients",
            "10%",
            "bind",
            "",
            "save",
            "1 1 2 2",
            "client-output-buffer-limit",
            "pubsub 1 2 3",
            "oom-score-adj-values",
            "1 2 3",
            "shutdown-on-sigterm",
            "nosave now",
            "latency-tracking-info-percentiles",
            "",
            "requirepass",
            "a\tb\n",
            "notify-keyspace-events",
            "Ex",
            "list-max-listpack-size",
            "-5",
        ],
    )
    .unwrap();
    cfg.rewrite().unwrap();
    let text = std::fs::read_to_string(&conf).unwrap();
    assert!(
        text.starts_with("# Generated by CONFIG REWRITE\n"),
        "{text}"
    );
    for want in [
        "save 1 1\nsave 2 2\n",
        "maxmemory 2gb\n",
        "maxmemory-clients 10%\n",
        "bind \"\"\n",
        "client-output-buffer-limit pubsub 1 2 3\n",
        "oom-score-adj-values 1 2 3\n",
        "shutdown-on-sigterm nosave now\n",
        "latency-tracking-info-percentiles \"\"\n",
        "requirepass \"a\\tb\\n\"\n",
        "notify-keyspace-events \"xE\"\n",
        "list-max-listpack-size -5\n",
    ] {
        assert!(text.contains(want), "missing {want:?} in\n{text}");
    }
    let again = cli_in(&dir, &[conf.to_str().unwrap()], "").unwrap();
    assert_eq!(again.get(&[b"*"]), cfg.get(&[b"*"]));
}

#[test]
fn rewrite_reports_io_errors() {
    let dir = scratch();
    let conf = dir.join("sub").join("x.conf");
    let mut cfg = fresh(&dir);
    cfg.config_file = Some(conf);
    assert_eq!(
        cfg.rewrite().unwrap_err(),
        "ERR Rewriting config file: No such file or directory"
    );
}

#[test]
fn pidfile_and_directory_config() {
    let dir = scratch();
    let mut cfg = cli_in(&dir, &["--daemonize", "yes"], "").unwrap();
    assert_eq!(cfg.pidfile(), None);
    assert_eq!(
        cfg.startup_pidfile(),
        Some(PathBuf::from("/var/run/redis.pid"))
    );
    assert_eq!(get1(&cfg, "pidfile"), "/var/run/redis.pid");
    let mut cfg = cli_in(&dir, &["--pidfile", "x.pid"], "").unwrap();
    assert_eq!(cfg.startup_pidfile(), Some(dir.join("x.pid")));
    assert_eq!(cli_in(&dir, &[], "").unwrap().startup_pidfile(), None);

    // A directory given as the config file reads as empty, as in Redis.
    let cfg = cli_in(&dir, &[dir.to_str().unwrap(), "--port", "9"], "").unwrap();
    assert_eq!(cfg.port(), 9);
}

#[test]
fn multi_arg_directive_in_one_quoted_argument_is_split() {
    let cfg =
        Config::from_command_line(&["--save".to_string(), "3600 1 60 5".to_string()]).unwrap();
    assert_eq!(
        cfg.save_points(),
        &[
            SavePoint {
                seconds: 3600,
                changes: 1
            },
            SavePoint {
                seconds: 60,
                changes: 5
            }
        ]
    );
}
