//! Server administration: TIME, DEBUG, SHUTDOWN, SLOWLOG, LATENCY, WAIT,
//! ROLE, LOLWUT.

use crate::command::args::is;
use crate::command::flags::*;
use crate::command::{row, CmdFuture, CommandSpec, Exec, Keys};
use crate::commands::client::{help_reply, parse_timeout_ms, subcommand_syntax_error};
use crate::conn::ConnCtx;
use crate::dispatch::on_all_shards;
use bytes::Bytes;
use std::sync::atomic::Ordering;
use std::time::Duration;
use storage::{CmdError, CmdResult, Reply, Value};

const ADMIN_ACL: &[&str] = &["admin", "slow", "dangerous"];
const LS: u32 = LOADING | STALE;

static SLOWLOG_SUBS: &[CommandSpec] = &[
    row("get", -2, ADMIN | LS, Keys::None, Exec::Coord(slowlog_get))
        .history(&[(
            "4.0.0",
            "Added client IP address, port and name to the reply.",
        )])
        .acl(ADMIN_ACL)
        .tips(&["request_policy:all_nodes", "nondeterministic_output"])
        .doc(
            "server",
            "2.2.12",
            "Returns the slow log's entries.",
            "O(N) where N is the number of entries returned",
        ),
    row("help", 2, LS, Keys::None, Exec::Coord(slowlog_help))
        .acl(&["slow"])
        .doc(
            "server",
            "6.2.0",
            "Show helpful text about the different subcommands",
            "O(1)",
        ),
    row("len", 2, ADMIN | LS, Keys::None, Exec::Coord(slowlog_len))
        .acl(ADMIN_ACL)
        .tips(&[
            "request_policy:all_nodes",
            "response_policy:agg_sum",
            "nondeterministic_output",
        ])
        .doc(
            "server",
            "2.2.12",
            "Returns the number of entries in the slow log.",
            "O(1)",
        ),
    row(
        "reset",
        2,
        ADMIN | LS,
        Keys::None,
        Exec::Coord(slowlog_reset),
    )
    .acl(ADMIN_ACL)
    .tips(&["request_policy:all_nodes", "response_policy:all_succeeded"])
    .doc(
        "server",
        "2.2.12",
        "Clears all entries from the slow log.",
        "O(N) where N is the number of entries in the slowlog",
    ),
];

const LATENCY_TIPS: &[&str] = &[
    "nondeterministic_output",
    "request_policy:all_nodes",
    "response_policy:special",
];

static LATENCY_SUBS: &[CommandSpec] = &[
    row("help", 2, LS, Keys::None, Exec::Coord(latency_help))
        .acl(&["slow"])
        .doc(
            "server",
            "2.8.13",
            "Returns helpful text about the different subcommands.",
            "O(1)",
        ),
    row(
        "history",
        3,
        ADMIN | NOSCRIPT | LS,
        Keys::None,
        Exec::Coord(latency_history),
    )
    .acl(ADMIN_ACL)
    .tips(LATENCY_TIPS)
    .doc(
        "server",
        "2.8.13",
        "Returns timestamp-latency samples for an event.",
        "O(1)",
    ),
    row(
        "latest",
        2,
        ADMIN | NOSCRIPT | LS,
        Keys::None,
        Exec::Coord(latency_latest),
    )
    .acl(ADMIN_ACL)
    .tips(LATENCY_TIPS)
    .doc(
        "server",
        "2.8.13",
        "Returns the latest latency samples for all events.",
        "O(1)",
    ),
    row(
        "reset",
        -2,
        ADMIN | NOSCRIPT | LS,
        Keys::None,
        Exec::Coord(latency_reset),
    )
    .acl(ADMIN_ACL)
    .tips(&["request_policy:all_nodes", "response_policy:agg_sum"])
    .doc(
        "server",
        "2.8.13",
        "Resets the latency data for one or more events.",
        "O(1)",
    ),
];

/// The administration family's rows.
pub static COMMANDS: &[CommandSpec] = &[
    row("time", 1, LS | FAST, Keys::None, Exec::Coord(time))
        .acl(&["fast"])
        .tips(&["nondeterministic_output"])
        .doc("server", "2.6.0", "Returns the server time.", "O(1)"),
    row("debug", -2, ADMIN | NOSCRIPT | LS, Keys::None, Exec::Coord(debug))
        .doc_flags(&["syscmd"])
        .acl(ADMIN_ACL)
        .doc("server", "1.0.0", "A container for debugging commands.", "Depends on subcommand."),
    row(
        "shutdown",
        -1,
        ADMIN | NOSCRIPT | LS | NO_MULTI | ALLOW_BUSY,
        Keys::None,
        Exec::Coord(shutdown),
    )
        .history(&[
            ("7.0.0", "Added the `NOW`, `FORCE` and `ABORT` modifiers."),
        ])
    .acl(ADMIN_ACL)
    .doc(
        "server",
        "1.0.0",
        "Synchronously saves the database(s) to disk and shuts down the Redis server.",
        "O(N) when saving, where N is the total number of keys in all databases when saving data, otherwise O(1)",
    ),
    row("slowlog", -2, 0, Keys::None, Exec::Container)
        .acl(&["slow"])
        .doc("server", "2.2.12", "A container for slow log commands.", "Depends on subcommand.")
        .subs(SLOWLOG_SUBS),
    row("latency", -2, 0, Keys::None, Exec::Container)
        .acl(&["slow"])
        .doc("server", "2.8.13", "A container for latency diagnostics commands.", "Depends on subcommand.")
        .subs(LATENCY_SUBS),
    row("wait", 3, BLOCKING, Keys::None, Exec::Coord(wait))
        .acl(&["slow", "blocking", "connection"])
        .tips(&["request_policy:all_shards", "response_policy:agg_min"])
        .doc(
            "generic",
            "3.0.0",
            "Blocks until the asynchronous replication of all preceding write commands sent by the connection is completed.",
            "O(1)",
        ),
    row(
        "role",
        1,
        NOSCRIPT | LS | FAST | SENTINEL,
        Keys::None,
        Exec::Coord(role),
    )
    .acl(&["admin", "fast", "dangerous"])
    .doc("server", "2.8.12", "Returns the replication role.", "O(1)"),
    row("lolwut", -1, READONLY | FAST, Keys::None, Exec::Coord(lolwut))
        .acl(&["read", "fast"])
        .doc("server", "5.0.0", "Displays computer art and the Redis version", ""),
];

/// ROLE: magpie is always a master without replicas, at offset 0.
fn role(_ctx: &mut ConnCtx, _argv: Vec<Bytes>) -> CmdFuture<'_> {
    Box::pin(async move {
        Ok(Reply::Array(vec![
            Reply::bulk_static("master"),
            Reply::Int(0),
            Reply::Array(Vec::new()),
        ]))
    })
}

fn unix_now() -> Duration {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
}

fn time(_ctx: &mut ConnCtx, _argv: Vec<Bytes>) -> CmdFuture<'_> {
    Box::pin(async move {
        let now = unix_now();
        Ok(Reply::Array(vec![
            Reply::Bulk(Bytes::from(now.as_secs().to_string())),
            Reply::Bulk(Bytes::from(now.subsec_micros().to_string())),
        ]))
    })
}

/// C's `strtod` on a prefix: the longest leading number, or 0.
fn strtod_prefix(b: &[u8]) -> f64 {
    let s = String::from_utf8_lossy(b);
    let s = s.trim_start();
    let mut best = 0.0;
    for end in (1..=s.len()).rev() {
        if let Some(p) = s.get(..end) {
            if let Ok(v) = p.parse::<f64>() {
                if !p.ends_with(|c: char| c.is_alphabetic() && c != 'e' && c != 'E') {
                    best = v;
                    break;
                }
            }
        }
    }
    if best.is_finite() {
        best
    } else {
        0.0
    }
}

/// C's `atoi`: leading integer, or 0.
fn atoi(b: &[u8]) -> i64 {
    let s = String::from_utf8_lossy(b);
    let s = s.trim_start();
    let end = s
        .char_indices()
        .take_while(|(i, c)| c.is_ascii_digit() || (*i == 0 && (*c == '-' || *c == '+')))
        .count();
    s[..end].parse().unwrap_or(0)
}

/// Whether DEBUG may run for this connection (enable-debug-command).
fn debug_allowed(ctx: &ConnCtx) -> bool {
    let cfg = ctx.worker.shared.config();
    match crate::knobs::enable_debug_command(&cfg) {
        "yes" => true,
        "local" => ctx.client.info.addr.ip().is_loopback(),
        _ => false,
    }
}

fn debug(ctx: &mut ConnCtx, argv: Vec<Bytes>) -> CmdFuture<'_> {
    Box::pin(async move {
        if !debug_allowed(ctx) {
            return Err(CmdError::msg(
                "ERR DEBUG command not allowed. If the enable-debug-command option is set to \"local\", you can run it from a local connection, otherwise you need to set this option in the configuration file, and then restart the server.",
            ));
        }
        let sub = &argv[1];
        if is(sub, "sleep") && argv.len() == 3 {
            let secs = strtod_prefix(&argv[2]).max(0.0);
            let dur = Duration::try_from_secs_f64(secs).unwrap_or_default();
            // Like Redis, the whole server stops for the duration.
            crate::dispatch::on_all_shards(ctx, move |_| std::thread::sleep(dur)).await;
            return Ok(Reply::Ok);
        }
        if is(sub, "set-active-expire") && argv.len() == 3 {
            let on = atoi(&argv[2]) != 0;
            crate::dispatch::on_all_shards(ctx, move |env| env.shard.active_expire_enabled = on)
                .await;
            return Ok(Reply::Ok);
        }
        if is(sub, "object") && argv.len() == 3 {
            return debug_object(ctx, argv[2].clone()).await;
        }
        if is(sub, "populate") && (3..=5).contains(&argv.len()) {
            return debug_populate(ctx, &argv).await;
        }
        if is(sub, "reload") {
            let (mut save, mut flush) = (true, true);
            for a in &argv[2..] {
                if is(a, "merge") || is(a, "noflush") {
                    flush = false;
                } else if is(a, "nosave") {
                    save = false;
                } else {
                    return Err(CmdError::msg(
                        "ERR DEBUG RELOAD only supports the MERGE, NOFLUSH and NOSAVE options.",
                    ));
                }
            }
            return match crate::persist::debug_reload(&ctx.worker.shared, save, flush).await {
                Ok(()) => Ok(Reply::Ok),
                Err(e) => {
                    tracing::warn!("DEBUG RELOAD: {e}");
                    Err(CmdError::msg(
                        "ERR Error trying to load the RDB dump, check server logs.",
                    ))
                }
            };
        }
        Err(subcommand_syntax_error(sub, "DEBUG"))
    })
}

/// Redis's RDB length prefix size.
fn rdb_len_size(n: usize) -> usize {
    if n < 1 << 6 {
        1
    } else if n < 1 << 14 {
        2
    } else if n <= u32::MAX as usize {
        5
    } else {
        9
    }
}

/// Size of an integer in RDB's integer string encoding, if it has one.
fn rdb_int_size(n: i64) -> Option<usize> {
    if (-(1 << 7)..(1 << 7)).contains(&n) {
        Some(2)
    } else if (-(1 << 15)..(1 << 15)).contains(&n) {
        Some(3)
    } else if (-(1i64 << 31)..(1i64 << 31)).contains(&n) {
        Some(5)
    } else {
        None
    }
}

/// The serialized length DEBUG OBJECT reports: RDB's string encoding
/// without LZF compression (Redis compresses strings over 20 bytes when it
/// saves space, so compressible long strings report less there).
fn serialized_len(v: &Value) -> usize {
    match v {
        Value::Str(s) => {
            let b = s.to_bytes();
            let as_int = (b.len() <= 11)
                .then(|| storage::numfmt::parse_i64(&b))
                .flatten()
                .and_then(rdb_int_size);
            as_int.unwrap_or(rdb_len_size(b.len()) + b.len())
        }
        #[allow(unreachable_patterns)]
        _ => 0,
    }
}

fn debug_object(ctx: &mut ConnCtx, key: Bytes) -> CmdFuture<'_> {
    Box::pin(async move {
        let db = ctx.client.db;
        let owner = crate::slot::shard_of(&key, ctx.worker.shared.nshards);
        let describe = move |shard: &mut storage::Shard| -> CmdResult<Reply> {
            let now = shard.now_ms();
            let d = shard.dbs.get_mut(db).ok_or(CmdError::NoSuchKey)?;
            let e = d.peek(&key, now).ok_or(CmdError::NoSuchKey)?;
            let refcount: i64 = match &e.value {
                Value::Str(storage::Str::Int(n)) if (0..10000).contains(n) => 2147483647,
                _ => 1,
            };
            let idle = storage::db::lru_clock(now).wrapping_sub(e.lru) & storage::db::LRU_CLOCK_MAX;
            Ok(Reply::Status(
                format!(
                    "Value at:{:p} refcount:{} encoding:{} serializedlength:{} lru:{} lru_seconds_idle:{}",
                    e as *const storage::Entry,
                    refcount,
                    e.value.encoding(),
                    serialized_len(&e.value),
                    e.lru,
                    idle
                )
                .into(),
            ))
        };
        if owner == ctx.worker.id {
            crate::dispatch::run_inline(ctx, |sctx| describe(sctx.shard)).await
        } else {
            crate::dispatch::run_on_shard(ctx, owner, move |env| describe(&mut env.shard))
                .await
                .unwrap_or_else(|| Err(CmdError::msg("ERR server is shutting down")))
        }
    })
}

/// Redis's `getPositiveLongFromObjectOrReply` with its default message.
fn positive_long(b: &[u8]) -> CmdResult<u64> {
    match storage::numfmt::parse_i64(b) {
        Some(n) if n >= 0 => Ok(n as u64),
        _ => Err(CmdError::msg("ERR value is out of range, must be positive")),
    }
}

/// The most keys DEBUG POPULATE accepts. Redis first sizes its hash table
/// for `count` keys and fails (or dies) when that allocation does; past
/// 2^32 keys no real machine has the memory.
const POPULATE_MAX: u64 = 1 << 32;

/// The `j`th key and value of DEBUG POPULATE: `prefix:j` (Redis formats it
/// into a 128-byte buffer, so at most 127 bytes, and the prefix is a C
/// string) and `value:j`, zero-padded or cut to `size` when `size > 0`.
fn populate_pair(prefix: &[u8], j: u64, size: usize) -> (Vec<u8>, Vec<u8>) {
    let mut key = Vec::with_capacity(prefix.len() + 21);
    key.extend_from_slice(prefix);
    key.push(b':');
    key.extend_from_slice(j.to_string().as_bytes());
    key.truncate(127);
    let text = format!("value:{j}").into_bytes();
    let value = if size == 0 {
        text
    } else {
        let mut v = vec![0u8; size];
        let n = size.min(text.len());
        v[..n].copy_from_slice(&text[..n]);
        v
    };
    (key, value)
}

/// DEBUG POPULATE count [prefix] [size]: each shard adds the keys it owns
/// in the client's database, skipping keys that exist.
fn debug_populate<'a>(ctx: &'a mut ConnCtx, argv: &[Bytes]) -> CmdFuture<'a> {
    let count = positive_long(&argv[2]);
    let mut prefix: Vec<u8> = match argv.get(3) {
        Some(p) => p.to_vec(),
        None => b"key".to_vec(),
    };
    if let Some(nul) = prefix.iter().position(|&b| b == 0) {
        prefix.truncate(nul);
    }
    let size = match argv.get(4) {
        Some(s) => positive_long(s),
        None => Ok(0),
    };
    Box::pin(async move {
        let count = count?;
        if count > POPULATE_MAX {
            return Err(CmdError::msg("ERR OOM in dictTryExpand"));
        }
        let size = usize::try_from(size?)
            .map_err(|_| CmdError::msg("ERR value is out of range, must be positive"))?;
        // The values are allocated for real, as in Redis; refuse sizes that
        // could not be allocated rather than abort.
        if size > ctx.worker.env.borrow().limits.proto_max_bulk_len as usize {
            return Err(CmdError::msg(
                "ERR string exceeds maximum allowed size (proto-max-bulk-len)",
            ));
        }
        let db = ctx.client.db;
        let nshards = ctx.worker.shared.nshards;
        let prefix = std::sync::Arc::new(prefix);
        on_all_shards(ctx, move |env| {
            let id = env.shard.id;
            let now = env.shard.now_ms();
            let Some(d) = env.shard.dbs.get_mut(db) else {
                return;
            };
            for j in 0..count {
                let (key, value) = populate_pair(&prefix, j, 0);
                if crate::slot::shard_of(&key, nshards) != id || d.contains(&key, now) {
                    continue;
                }
                let value = if size == 0 {
                    value
                } else {
                    populate_pair(&prefix, j, size).1
                };
                d.insert(&key, Value::Str(storage::Str::from_bytes(&value)), now);
            }
        })
        .await;
        Ok(Reply::Ok)
    })
}

fn shutdown(ctx: &mut ConnCtx, argv: Vec<Bytes>) -> CmdFuture<'_> {
    Box::pin(async move {
        let (mut save, mut nosave, mut abort, mut other) = (false, false, false, false);
        let mut force = false;
        for a in &argv[1..] {
            if is(a, "nosave") {
                nosave = true;
            } else if is(a, "save") {
                save = true;
            } else if is(a, "now") {
                other = true;
            } else if is(a, "force") {
                other = true;
                force = true;
            } else if is(a, "abort") {
                abort = true;
            } else {
                return Err(CmdError::Syntax);
            }
        }
        if (abort && (save || nosave || other)) || (save && nosave) {
            return Err(CmdError::Syntax);
        }
        if abort {
            return Err(CmdError::msg("ERR No shutdown in progress."));
        }
        // Save when asked, or when save points are set (unless NOSAVE);
        // a failed save keeps the server up unless FORCE. Then stop: the
        // listener wakes, the process exits 0 and every connection closes;
        // like Redis, the caller gets no reply.
        let shared = ctx.worker.shared.clone();
        tracing::warn!("User requested shutdown...");
        if !nosave && (save || !shared.config().save_points().is_empty()) {
            crate::persist::wait_idle(&shared).await;
            tracing::warn!("Saving the final RDB snapshot before exiting.");
            if crate::persist::save(&shared).await.is_err() && !force {
                tracing::warn!("Error trying to save the DB, can't exit.");
                return Err(CmdError::msg("ERR Errors trying to SHUTDOWN. Check logs."));
            }
        }
        shared.shutting_down.store(true, Ordering::Relaxed);
        shared.shutdown.notify_one();
        std::future::pending::<()>().await;
        Ok(Reply::Ok)
    })
}

fn slowlog_get(ctx: &mut ConnCtx, argv: Vec<Bytes>) -> CmdFuture<'_> {
    Box::pin(async move {
        if argv.len() > 3 {
            return Err(subcommand_syntax_error(&argv[1], "SLOWLOG"));
        }
        let count = match argv.get(2) {
            None => Some(10),
            Some(a) => match storage::numfmt::parse_i64(a) {
                Some(-1) => None,
                Some(n) if n >= 0 => Some(n as usize),
                _ => {
                    return Err(CmdError::msg(
                        "ERR count should be greater than or equal to -1",
                    ))
                }
            },
        };
        let entries = ctx.worker.shared.slowlog.get(count);
        Ok(Reply::Array(
            entries
                .into_iter()
                .map(|e| {
                    Reply::Array(vec![
                        Reply::Int(e.id as i64),
                        Reply::Int(e.time),
                        Reply::Int(e.duration_us as i64),
                        Reply::Array(e.args.into_iter().map(Reply::Bulk).collect()),
                        Reply::Bulk(Bytes::from(e.peer)),
                        Reply::Bulk(Bytes::from(e.name)),
                    ])
                })
                .collect(),
        ))
    })
}

fn slowlog_len(ctx: &mut ConnCtx, _argv: Vec<Bytes>) -> CmdFuture<'_> {
    Box::pin(async move { Ok(Reply::Int(ctx.worker.shared.slowlog.len() as i64)) })
}

fn slowlog_reset(ctx: &mut ConnCtx, _argv: Vec<Bytes>) -> CmdFuture<'_> {
    Box::pin(async move {
        ctx.worker.shared.slowlog.reset();
        Ok(Reply::Ok)
    })
}

const SLOWLOG_HELP: &[&str] = &[
    "SLOWLOG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "GET [<count>]",
    "    Return top <count> entries from the slowlog (default: 10, -1 mean all).",
    "    Entries are made of:",
    "    id, timestamp, time in microseconds, arguments array, client IP and port,",
    "    client name",
    "LEN",
    "    Return the length of the slowlog.",
    "RESET",
    "    Reset the slowlog.",
    "HELP",
    "    Print this help.",
];

fn slowlog_help(_ctx: &mut ConnCtx, _argv: Vec<Bytes>) -> CmdFuture<'_> {
    Box::pin(async move { Ok(help_reply(SLOWLOG_HELP)) })
}

const LATENCY_HELP: &[&str] = &[
    "LATENCY <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "DOCTOR",
    "    Return a human readable latency analysis report.",
    "GRAPH <event>",
    "    Return an ASCII latency graph for the <event> class.",
    "HISTORY <event>",
    "    Return time-latency samples for the <event> class.",
    "LATEST",
    "    Return the latest latency samples for all events.",
    "RESET [<event> ...]",
    "    Reset latency data of one or more <event> classes.",
    "    (default: reset all data for all event classes)",
    "HISTOGRAM [COMMAND ...]",
    "    Return a cumulative distribution of latencies in the format of a histogram for the specified command names.",
    "    If no commands are specified then all histograms are replied.",
    "HELP",
    "    Print this help.",
];

fn latency_help(_ctx: &mut ConnCtx, _argv: Vec<Bytes>) -> CmdFuture<'_> {
    Box::pin(async move { Ok(help_reply(LATENCY_HELP)) })
}

fn latency_latest(ctx: &mut ConnCtx, _argv: Vec<Bytes>) -> CmdFuture<'_> {
    Box::pin(async move {
        let events = ctx.worker.shared.latency.events();
        Ok(Reply::Array(
            events
                .into_iter()
                .filter_map(|(name, ev)| {
                    let &(t, ms) = ev.samples.back()?;
                    Some(Reply::Array(vec![
                        Reply::Bulk(Bytes::from(name)),
                        Reply::Int(t),
                        Reply::Int(ms as i64),
                        Reply::Int(ev.max as i64),
                    ]))
                })
                .collect(),
        ))
    })
}

fn latency_history(ctx: &mut ConnCtx, argv: Vec<Bytes>) -> CmdFuture<'_> {
    Box::pin(async move {
        let events = ctx.worker.shared.latency.events();
        let name = String::from_utf8_lossy(&argv[2]);
        let samples = events
            .get(&*name)
            .map(|ev| {
                ev.samples
                    .iter()
                    .map(|&(t, ms)| Reply::Array(vec![Reply::Int(t), Reply::Int(ms as i64)]))
                    .collect()
            })
            .unwrap_or_default();
        Ok(Reply::Array(samples))
    })
}

fn latency_reset(ctx: &mut ConnCtx, argv: Vec<Bytes>) -> CmdFuture<'_> {
    Box::pin(async move {
        Ok(Reply::Int(
            ctx.worker.shared.latency.reset(&argv[2..]) as i64
        ))
    })
}

fn wait(ctx: &mut ConnCtx, argv: Vec<Bytes>) -> CmdFuture<'_> {
    Box::pin(async move {
        let numreplicas = storage::numfmt::parse_i64(&argv[1]).ok_or(CmdError::NotInteger)?;
        let timeout = parse_timeout_ms(&argv[2])?;
        // No replicas: enough acknowledgements only when none are asked for;
        // otherwise wait out the timeout (0: forever), as Redis does. Never
        // inside EXEC or a script (a hold): Redis denies blocking there.
        if numreplicas > 0 && ctx.hold.is_none() {
            let info = ctx.client.info.clone();
            let killed = info.kill_notify.notified();
            if timeout == 0 {
                killed.await;
            } else {
                tokio::select! {
                    _ = tokio::time::sleep(Duration::from_millis(timeout)) => {}
                    _ = killed => {}
                }
            }
        }
        Ok(Reply::Int(0))
    })
}

fn lolwut(_ctx: &mut ConnCtx, argv: Vec<Bytes>) -> CmdFuture<'_> {
    Box::pin(async move {
        let mut args: &[Bytes] = &argv[1..];
        let mut version = crate::REDIS_VERSION
            .split('.')
            .next()
            .and_then(|v| v.parse::<i64>().ok())
            .unwrap_or(7);
        if args.len() >= 2 && is(&args[0], "version") {
            version = storage::numfmt::parse_i64(&args[1]).ok_or(CmdError::NotInteger)?;
            args = &args[2..];
        }
        let text = match version {
            5 => crate::commands::lolwut::schotter(args)?,
            6 => crate::commands::lolwut::skyline(args)?,
            _ => format!("Redis ver. {}\n", crate::REDIS_VERSION),
        };
        Ok(Reply::Verbatim("txt", Bytes::from(text)))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn populate_pairs() {
        assert_eq!(
            populate_pair(b"key", 7, 0),
            (b"key:7".to_vec(), b"value:7".to_vec())
        );
        // Padded with zero bytes, or cut.
        assert_eq!(populate_pair(b"p", 1, 10).1, b"value:1\0\0\0".to_vec());
        assert_eq!(populate_pair(b"p", 12, 3).1, b"val".to_vec());
        // The key fits Redis's 128-byte buffer.
        let long = vec![b'x'; 200];
        assert_eq!(populate_pair(&long, 0, 0).0, vec![b'x'; 127]);
    }

    #[test]
    fn populate_counts() {
        assert_eq!(positive_long(b"0").ok(), Some(0));
        assert_eq!(positive_long(b"12").ok(), Some(12));
        for bad in [&b"-1"[..], b"1.5", b"+1", b" 1", b"", b"x"] {
            assert!(positive_long(bad).is_err());
        }
    }

    #[test]
    fn c_number_prefixes() {
        assert_eq!(strtod_prefix(b"0.5"), 0.5);
        assert_eq!(strtod_prefix(b"abc"), 0.0);
        assert_eq!(strtod_prefix(b"1.5x"), 1.5);
        assert_eq!(atoi(b"2"), 2);
        assert_eq!(atoi(b"abc"), 0);
        assert_eq!(atoi(b"-3z"), -3);
    }

    #[test]
    fn rdb_sizes() {
        assert_eq!(
            serialized_len(&Value::Str(storage::Str::from_bytes(b"v"))),
            2
        );
        assert_eq!(
            serialized_len(&Value::Str(storage::Str::from_bytes(b"123"))),
            2
        );
        assert_eq!(
            serialized_len(&Value::Str(storage::Str::from_bytes(b"1234"))),
            3
        );
        assert_eq!(
            serialized_len(&Value::Str(storage::Str::from_bytes(&[b'a'; 70]))),
            72
        );
    }
}
