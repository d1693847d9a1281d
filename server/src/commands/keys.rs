//! Generic keyspace commands: DEL, UNLINK, EXISTS, TYPE, TOUCH, RENAME,
//! RENAMENX, COPY, MOVE, OBJECT, and the global ones: KEYS, DBSIZE,
//! RANDOMKEY, FLUSHDB, FLUSHALL, SWAPDB, SCAN.
//!
//! Keyed commands are plain shard handlers: dispatch gathers keys that
//! span shards into one scratch shard, so they are written as in Redis.
//! The global commands coordinate: KEYS, DBSIZE, FLUSH* and SWAPDB run on
//! every shard at one consistent point; RANDOMKEY samples a shard weighted
//! by its key count; SCAN walks one shard after the other, its cursor
//! naming the shard and the position within it (see [`ScanCursor`]).

use crate::command::args::{is, Args};
use crate::command::flags::*;
use crate::command::{
    row, CmdFuture, CommandSpec, Exec, KeySpec, Keys, ShardCtx, ALL_KEYS, KEY1, KEY1_2,
};
use crate::config::notify::GENERIC;
use crate::conn::ConnCtx;
use crate::dispatch::{on_all_shards, run_inline};
use crate::worker::ShardEnv;
use bytes::Bytes;
use storage::db::lru_clock;
use storage::glob::glob_match;
use storage::{CmdError, CmdResult, RandomPick, Reply, Shard, Str, Value};

/// The key of OBJECT's subcommands (`OBJECT ENCODING key`).
const KEY2: Keys = Keys::Range {
    first: 2,
    last: 2,
    step: 1,
};

const MULTI_SHARD_SUM: &[&str] = &["request_policy:multi_shard", "response_policy:agg_sum"];

/// The OBJECT container's subcommands.
static OBJECT_SUBCOMMANDS: &[CommandSpec] = &[
    row("encoding", 3, READONLY, KEY2, Exec::Shard(object_encoding))
        .key_specs(&[KeySpec::at(&["RO"], 2)])
        .acl(&["keyspace", "read", "slow"])
        .tips(&["nondeterministic_output"])
        .doc(
            "generic",
            "2.2.3",
            "Returns the internal encoding of a Redis object.",
            "O(1)",
        ),
    row("freq", 3, READONLY, KEY2, Exec::Shard(object_freq))
        .key_specs(&[KeySpec::at(&["RO"], 2)])
        .acl(&["keyspace", "read", "slow"])
        .tips(&["nondeterministic_output"])
        .doc(
            "generic",
            "4.0.0",
            "Returns the logarithmic access frequency counter of a Redis object.",
            "O(1)",
        ),
    row(
        "help",
        2,
        LOADING | STALE,
        Keys::None,
        Exec::Coord(object_help),
    )
    .acl(&["keyspace", "slow"])
    .doc(
        "generic",
        "6.2.0",
        "Returns helpful text about the different subcommands.",
        "O(1)",
    ),
    row("idletime", 3, READONLY, KEY2, Exec::Shard(object_idletime))
        .key_specs(&[KeySpec::at(&["RO"], 2)])
        .acl(&["keyspace", "read", "slow"])
        .tips(&["nondeterministic_output"])
        .doc(
            "generic",
            "2.2.3",
            "Returns the time since the last access to a Redis object.",
            "O(1)",
        ),
    row("refcount", 3, READONLY, KEY2, Exec::Shard(object_refcount))
        .key_specs(&[KeySpec::at(&["RO"], 2)])
        .acl(&["keyspace", "read", "slow"])
        .tips(&["nondeterministic_output"])
        .doc(
            "generic",
            "2.2.3",
            "Returns the reference count of a value of a key.",
            "O(1)",
        ),
];

/// The keyspace family's rows.
pub static COMMANDS: &[CommandSpec] = &[
    row("del", -2, WRITE, ALL_KEYS, Exec::Shard(del))
        .key_specs(&[KeySpec::range(&["RM", "delete"], 1, -1, 1)])
        .acl(&["keyspace", "write", "slow"])
        .tips(MULTI_SHARD_SUM)
        .doc(
            "generic",
            "1.0.0",
            "Deletes one or more keys.",
            "O(N) where N is the number of keys that will be removed. When a key to remove holds a value other than a string, the individual complexity for this key is O(M) where M is the number of elements in the list, set, sorted set or hash. Removing a single key that holds a string value is O(1).",
        ),
    row("unlink", -2, WRITE | FAST, ALL_KEYS, Exec::Shard(del))
        .key_specs(&[KeySpec::range(&["RM", "delete"], 1, -1, 1)])
        .acl(&["keyspace", "write", "fast"])
        .tips(MULTI_SHARD_SUM)
        .doc(
            "generic",
            "4.0.0",
            "Asynchronously deletes one or more keys.",
            "O(1) for each key removed regardless of its size. Then the command does O(N) work in a different thread in order to reclaim memory, where N is the number of allocations the deleted objects where composed of.",
        ),
    row("exists", -2, READONLY | FAST, ALL_KEYS, Exec::Shard(exists))
        .history(&[
            ("3.0.3", "Accepts multiple `key` arguments."),
        ])
        .key_specs(&[KeySpec::range(&["RO"], 1, -1, 1)])
        .acl(&["keyspace", "read", "fast"])
        .tips(MULTI_SHARD_SUM)
        .doc(
            "generic",
            "1.0.0",
            "Determines whether one or more keys exist.",
            "O(N) where N is the number of keys to check.",
        ),
    row("type", 2, READONLY | FAST, KEY1, Exec::Shard(type_cmd))
        .key_specs(&[KeySpec::at(&["RO"], 1)])
        .acl(&["keyspace", "read", "fast"])
        .doc(
            "generic",
            "1.0.0",
            "Determines the type of value stored at a key.",
            "O(1)",
        ),
    row("touch", -2, READONLY | FAST, ALL_KEYS, Exec::Shard(touch))
        .key_specs(&[KeySpec::range(&["RO"], 1, -1, 1)])
        .acl(&["keyspace", "read", "fast"])
        .tips(MULTI_SHARD_SUM)
        .doc(
            "generic",
            "3.2.1",
            "Returns the number of existing keys out of those specified after updating the time they were last accessed.",
            "O(N) where N is the number of keys that will be touched.",
        ),
    row("rename", 3, WRITE, KEY1_2, Exec::Shard(rename))
        .key_specs(&[
            KeySpec::at(&["RW", "access", "delete"], 1),
            KeySpec::at(&["OW", "update"], 2),
        ])
        .acl(&["keyspace", "write", "slow"])
        .doc(
            "generic",
            "1.0.0",
            "Renames a key and overwrites the destination.",
            "O(1)",
        ),
    row("renamenx", 3, WRITE | FAST, KEY1_2, Exec::Shard(renamenx))
        .history(&[
            ("3.2.0", "The command no longer returns an error when source and destination names are the same."),
        ])
        .key_specs(&[
            KeySpec::at(&["RW", "access", "delete"], 1),
            KeySpec::at(&["OW", "insert"], 2),
        ])
        .acl(&["keyspace", "write", "fast"])
        .doc(
            "generic",
            "1.0.0",
            "Renames a key only when the target key name doesn't exist.",
            "O(1)",
        ),
    row("copy", -3, WRITE | DENYOOM, KEY1_2, Exec::Shard(copy))
        .key_specs(&[KeySpec::at(&["RO", "access"], 1), KeySpec::at(&["OW", "update"], 2)])
        .acl(&["keyspace", "write", "slow"])
        .doc(
            "generic",
            "6.2.0",
            "Copies the value of a key to a new key.",
            "O(N) worst case for collections, where N is the number of nested items. O(1) for string values.",
        ),
    row("move", 3, WRITE | FAST, KEY1, Exec::Shard(move_cmd))
        .key_specs(&[KeySpec::at(&["RW", "access", "update"], 1)])
        .acl(&["keyspace", "write", "fast"])
        .doc("generic", "1.0.0", "Moves a key to another database.", "O(1)"),
    row("object", -2, 0, Keys::None, Exec::Container)
        .acl(&["slow"])
        .doc(
            "generic",
            "2.2.3",
            "A container for object introspection commands.",
            "Depends on subcommand.",
        )
        .subs(OBJECT_SUBCOMMANDS),
    row("keys", 2, READONLY, Keys::None, Exec::Coord(keys))
        .acl(&["keyspace", "read", "slow", "dangerous"])
        .tips(&["request_policy:all_shards", "nondeterministic_output_order"])
        .doc(
            "generic",
            "1.0.0",
            "Returns all key names that match a pattern.",
            "O(N) with N being the number of keys in the database, under the assumption that the key names in the database and the given pattern have limited length.",
        ),
    row("dbsize", 1, READONLY | FAST, Keys::None, Exec::Coord(dbsize))
        .acl(&["keyspace", "read", "fast"])
        .tips(&["request_policy:all_shards", "response_policy:agg_sum"])
        .doc(
            "server",
            "1.0.0",
            "Returns the number of keys in the database.",
            "O(1)",
        ),
    row("randomkey", 1, READONLY, Keys::None, Exec::Coord(randomkey))
        .acl(&["keyspace", "read", "slow"])
        .tips(&[
            "request_policy:all_shards",
            "response_policy:special",
            "nondeterministic_output",
        ])
        .doc(
            "generic",
            "1.0.0",
            "Returns a random key name from the database.",
            "O(1)",
        ),
    row("flushdb", -1, WRITE, Keys::None, Exec::Coord(flushdb))
        .history(&[
            ("4.0.0", "Added the `ASYNC` flushing mode modifier."),
            ("6.2.0", "Added the `SYNC` flushing mode modifier."),
        ])
        .acl(&["keyspace", "write", "slow", "dangerous"])
        .tips(&["request_policy:all_shards", "response_policy:all_succeeded"])
        .doc(
            "server",
            "1.0.0",
            "Remove all keys from the current database.",
            "O(N) where N is the number of keys in the selected database",
        ),
    row("flushall", -1, WRITE, Keys::None, Exec::Coord(flushall))
        .history(&[
            ("4.0.0", "Added the `ASYNC` flushing mode modifier."),
            ("6.2.0", "Added the `SYNC` flushing mode modifier."),
        ])
        .acl(&["keyspace", "write", "slow", "dangerous"])
        .tips(&["request_policy:all_shards", "response_policy:all_succeeded"])
        .doc(
            "server",
            "1.0.0",
            "Removes all keys from all databases.",
            "O(N) where N is the total number of keys in all databases",
        ),
    row("swapdb", 3, WRITE | FAST, Keys::None, Exec::Coord(swapdb))
        .acl(&["keyspace", "write", "fast", "dangerous"])
        .doc(
            "server",
            "4.0.0",
            "Swaps two Redis databases.",
            "O(N) where N is the count of clients watching or blocking on keys from both databases.",
        ),
    row("scan", -2, READONLY, Keys::None, Exec::Coord(scan))
        .history(&[
            ("6.0.0", "Added the `TYPE` subcommand."),
        ])
        .acl(&["keyspace", "read", "slow"])
        .tips(&[
            "nondeterministic_output",
            "request_policy:special",
            "response_policy:special",
        ])
        .doc(
            "generic",
            "2.8.0",
            "Iterates over the key names in the database.",
            "O(1) for every call. O(N) for a complete iteration, including enough command calls for the cursor to return back to 0. N is the number of elements inside the collection.",
        ),
];

/// Redis's `sameobjecterr`.
const SAME_OBJECT: &str = "ERR source and destination objects are the same";

// ---------------------------------------------------------------------------
// Keyed commands
// ---------------------------------------------------------------------------

/// DEL and UNLINK (memory is freed at once either way).
fn del(ctx: &mut ShardCtx<'_>, argv: &[Bytes]) -> CmdResult<Reply> {
    let now = ctx.shard.now_ms();
    let mut deleted = 0;
    for key in &argv[1..] {
        let db = &mut ctx.shard.dbs[ctx.db];
        // peek first: an expired key is deleted as expired, not counted here.
        if db.peek(key, now).is_some() && db.remove(key).is_some() {
            deleted += 1;
            ctx.notify(GENERIC, "del", key);
        }
    }
    Ok(Reply::Int(deleted))
}

/// EXISTS counts every argument that names a live key, duplicates included.
fn exists(ctx: &mut ShardCtx<'_>, argv: &[Bytes]) -> CmdResult<Reply> {
    let now = ctx.shard.now_ms();
    let db = &mut ctx.shard.dbs[ctx.db];
    let count = argv[1..]
        .iter()
        .filter(|k| db.lookup_read(k, now, false).is_some())
        .count();
    Ok(Reply::Int(count as i64))
}

fn type_cmd(ctx: &mut ShardCtx<'_>, argv: &[Bytes]) -> CmdResult<Reply> {
    let now = ctx.shard.now_ms();
    let name = match ctx.shard.dbs[ctx.db].lookup_read(&argv[1], now, false) {
        Some(e) => e.value.type_name(),
        None => "none",
    };
    Ok(Reply::status(name))
}

/// TOUCH refreshes the access time even for a CLIENT NO-TOUCH connection.
fn touch(ctx: &mut ShardCtx<'_>, argv: &[Bytes]) -> CmdResult<Reply> {
    let now = ctx.shard.now_ms();
    let db = &mut ctx.shard.dbs[ctx.db];
    let count = argv[1..]
        .iter()
        .filter(|k| db.lookup_read(k, now, true).is_some())
        .count();
    Ok(Reply::Int(count as i64))
}

fn rename(ctx: &mut ShardCtx<'_>, argv: &[Bytes]) -> CmdResult<Reply> {
    rename_generic(ctx, argv, false)
}

fn renamenx(ctx: &mut ShardCtx<'_>, argv: &[Bytes]) -> CmdResult<Reply> {
    rename_generic(ctx, argv, true)
}

fn rename_generic(ctx: &mut ShardCtx<'_>, argv: &[Bytes], nx: bool) -> CmdResult<Reply> {
    let (src, dst) = (&argv[1], &argv[2]);
    let now = ctx.shard.now_ms();
    let db = &mut ctx.shard.dbs[ctx.db];
    if db.lookup_write(src, now).is_none() {
        return Err(CmdError::NoSuchKey);
    }
    if src == dst {
        return Ok(if nx { Reply::Int(0) } else { Reply::Ok });
    }
    if db.lookup_write(dst, now).is_some() {
        if nx {
            return Ok(Reply::Int(0));
        }
        db.remove(dst);
    }
    if let Some(entry) = db.remove(src) {
        db.insert_entry(dst, entry);
    }
    ctx.notify(GENERIC, "rename_from", src);
    ctx.notify(GENERIC, "rename_to", dst);
    Ok(if nx { Reply::Int(1) } else { Reply::Ok })
}

/// Redis's getIntFromObjectOrReply: an integer that fits a C int. With
/// `msg`, that text is the error for both failures; without, Redis's two
/// texts (not an integer; out of the int range).
fn parse_int(arg: &[u8], msg: Option<&'static str>) -> CmdResult<i64> {
    let err = |default: CmdError| msg.map_or(default, CmdError::msg);
    let v = storage::numfmt::parse_i64(arg).ok_or_else(|| err(CmdError::NotInteger))?;
    if i32::try_from(v).is_err() {
        return Err(err(CmdError::msg(
            "ERR value is out of range, value must between -2147483648 and 2147483647",
        )));
    }
    Ok(v)
}

/// A database index given by a client: an int, then in range.
fn parse_db_index(arg: &[u8], databases: usize) -> CmdResult<usize> {
    let id = parse_int(arg, None)?;
    if id < 0 || id as usize >= databases {
        return Err(CmdError::DbIndexOutOfRange);
    }
    Ok(id as usize)
}

/// COPY source destination [DB destination-db] [REPLACE]
fn copy(ctx: &mut ShardCtx<'_>, argv: &[Bytes]) -> CmdResult<Reply> {
    let mut dst_db = ctx.db;
    let mut replace = false;
    let mut args = Args::at(argv, 3);
    while let Ok(opt) = args.bytes() {
        if is(opt, "replace") {
            replace = true;
        } else if is(opt, "db") && !args.is_done() {
            dst_db = parse_db_index(args.bytes()?, ctx.shard.dbs.len())?;
        } else {
            return Err(CmdError::Syntax);
        }
    }
    let (src, dst) = (&argv[1], &argv[2]);
    if dst_db == ctx.db && src == dst {
        return Err(CmdError::msg(SAME_OBJECT));
    }
    let now = ctx.shard.now_ms();
    let touch = ctx.touch;
    let Some(entry) = ctx.shard.dbs[ctx.db].lookup_read(src, now, touch) else {
        return Ok(Reply::Int(0));
    };
    // A copy is a new object: same value and deadline, a fresh access time.
    let mut copy = entry.clone();
    copy.lru = lru_clock(now);
    let target = &mut ctx.shard.dbs[dst_db];
    if target.lookup_write(dst, now).is_some() {
        if !replace {
            return Ok(Reply::Int(0));
        }
        target.remove(dst);
    }
    target.insert_entry(dst, copy);
    ctx.key_modified_in(dst_db, dst);
    ctx.event_in(dst_db, GENERIC, "copy_to", dst);
    Ok(Reply::Int(1))
}

/// MOVE key db
fn move_cmd(ctx: &mut ShardCtx<'_>, argv: &[Bytes]) -> CmdResult<Reply> {
    let key = &argv[1];
    let dst_db = parse_db_index(&argv[2], ctx.shard.dbs.len())?;
    if dst_db == ctx.db {
        return Err(CmdError::msg(SAME_OBJECT));
    }
    let now = ctx.shard.now_ms();
    if ctx.shard.dbs[ctx.db].lookup_write(key, now).is_none() {
        return Ok(Reply::Int(0));
    }
    if ctx.shard.dbs[dst_db].lookup_write(key, now).is_some() {
        return Ok(Reply::Int(0));
    }
    if let Some(entry) = ctx.shard.dbs[ctx.db].remove(key) {
        ctx.shard.dbs[dst_db].insert_entry(key, entry);
    }
    ctx.notify(GENERIC, "move_from", key);
    // Redis signals the key in both databases (WATCH on either).
    if ctx.shard.log_modified {
        ctx.shard
            .modified
            .push((dst_db, Bytes::copy_from_slice(key)));
    }
    ctx.event_in(dst_db, GENERIC, "move_to", key);
    Ok(Reply::Int(1))
}

// ---------------------------------------------------------------------------
// OBJECT
// ---------------------------------------------------------------------------

/// OBJECT's lookup: lazy expiry and hit/miss statistics, but never a
/// refresh of the access time (Redis's LOOKUP_NOTOUCH).
fn object_lookup<'a>(ctx: &'a mut ShardCtx<'_>, key: &[u8]) -> Option<&'a storage::Entry> {
    let now = ctx.shard.now_ms();
    ctx.shard.dbs[ctx.db]
        .lookup_read(key, now, false)
        .map(|e| &*e)
}

fn object_encoding(ctx: &mut ShardCtx<'_>, argv: &[Bytes]) -> CmdResult<Reply> {
    Ok(match object_lookup(ctx, &argv[2]) {
        Some(e) => Reply::bulk_static(e.value.encoding()),
        None => Reply::Nil,
    })
}

/// Redis shares the integers 0..10000 between keys, and reports them with
/// this count, unless a maxmemory with an LRU or LFU policy needs a clock
/// per key (MAXMEMORY_FLAG_NO_SHARED_INTEGERS).
const OBJ_SHARED_REFCOUNT: i64 = i32::MAX as i64;
const OBJ_SHARED_INTEGERS: i64 = 10_000;

fn object_refcount(ctx: &mut ShardCtx<'_>, argv: &[Bytes]) -> CmdResult<Reply> {
    use storage::evict::Policy;
    let m = ctx.limits.memory;
    let shared = m.maxmemory == 0
        || !matches!(
            m.policy,
            Policy::AllkeysLru | Policy::VolatileLru | Policy::AllkeysLfu | Policy::VolatileLfu
        );
    Ok(match object_lookup(ctx, &argv[2]) {
        Some(e) => Reply::Int(match &e.value {
            Value::Str(Str::Int(n)) if shared && (0..OBJ_SHARED_INTEGERS).contains(n) => {
                OBJ_SHARED_REFCOUNT
            }
            _ => 1,
        }),
        None => Reply::Nil,
    })
}

fn object_idletime(ctx: &mut ShardCtx<'_>, argv: &[Bytes]) -> CmdResult<Reply> {
    let now = ctx.shard.now_ms();
    let lfu = ctx.limits.memory.policy.is_lfu();
    match object_lookup(ctx, &argv[2]) {
        None => Ok(Reply::Nil),
        Some(_) if lfu => Err(CmdError::msg(
            "ERR An LFU maxmemory policy is selected, idle time not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust.",
        )),
        Some(e) => Ok(Reply::Int(idle_seconds(lru_clock(now), e.lru) as i64)),
    }
}

/// Seconds between an access clock and now, on the 24-bit clock that wraps.
fn idle_seconds(now_clock: u32, lru: u32) -> u32 {
    if now_clock >= lru {
        now_clock - lru
    } else {
        now_clock + (storage::db::LRU_CLOCK_MAX - lru)
    }
}

/// The access frequency is tracked only under an LFU maxmemory-policy.
fn object_freq(ctx: &mut ShardCtx<'_>, argv: &[Bytes]) -> CmdResult<Reply> {
    let now = ctx.shard.now_ms();
    let lfu = ctx.limits.memory;
    match object_lookup(ctx, &argv[2]) {
        None => Ok(Reply::Nil),
        Some(e) if lfu.policy.is_lfu() => Ok(Reply::Int(
            storage::evict::lfu_decr_and_return(e.lru, now, lfu.lfu.decay_time) as i64,
        )),
        Some(_) => Err(CmdError::msg(
            "ERR An LFU maxmemory policy is not selected, access frequency not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust.",
        )),
    }
}

const OBJECT_HELP: &[&str] = &[
    "OBJECT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "ENCODING <key>",
    "    Return the kind of internal representation used in order to store the value",
    "    associated with a <key>.",
    "FREQ <key>",
    "    Return the access frequency index of the <key>. The returned integer is",
    "    proportional to the logarithm of the recent access frequency of the key.",
    "IDLETIME <key>",
    "    Return the idle time of the <key>, that is the approximated number of",
    "    seconds elapsed since the last access to the key.",
    "REFCOUNT <key>",
    "    Return the number of references of the value associated with the specified",
    "    <key>.",
    "HELP",
    "    Print this help.",
];

fn object_help(_ctx: &mut ConnCtx, _argv: Vec<Bytes>) -> CmdFuture<'_> {
    Box::pin(async move {
        Ok(Reply::Array(
            OBJECT_HELP.iter().map(|&l| Reply::status(l)).collect(),
        ))
    })
}

// ---------------------------------------------------------------------------
// Global commands
// ---------------------------------------------------------------------------

fn keys(ctx: &mut ConnCtx, argv: Vec<Bytes>) -> CmdFuture<'_> {
    Box::pin(async move {
        let db = ctx.client.db;
        let pattern = argv[1].clone();
        let parts = on_all_shards(ctx, move |env: &mut ShardEnv| {
            let now = env.shard.now_ms();
            let all = pattern.as_ref() == b"*";
            env.shard.dbs.get(db).map_or_else(Vec::new, |d| {
                d.iter_live(now)
                    .filter(|(k, _)| all || glob_match(&pattern, k, false))
                    .map(|(k, _)| Reply::bulk(k))
                    .collect::<Vec<_>>()
            })
        })
        .await;
        Ok(Reply::Array(parts.into_iter().flatten().collect()))
    })
}

fn dbsize(ctx: &mut ConnCtx, _argv: Vec<Bytes>) -> CmdFuture<'_> {
    Box::pin(async move {
        let db = ctx.client.db;
        let sizes = on_all_shards(ctx, move |env: &mut ShardEnv| {
            env.shard.dbs.get(db).map_or(0, |d| d.len())
        })
        .await;
        Ok(Reply::Int(sizes.iter().sum::<usize>() as i64))
    })
}

/// FLUSHDB/FLUSHALL take an optional SYNC or ASYNC; memory is freed at
/// once either way.
fn check_flush_args(argv: &[Bytes]) -> CmdResult<()> {
    match argv.len() {
        1 => Ok(()),
        2 if is(&argv[1], "sync") || is(&argv[1], "async") => Ok(()),
        _ => Err(CmdError::Syntax),
    }
}

fn flushdb(ctx: &mut ConnCtx, argv: Vec<Bytes>) -> CmdFuture<'_> {
    Box::pin(async move {
        check_flush_args(&argv)?;
        let db = ctx.client.db;
        on_all_shards(ctx, move |env: &mut ShardEnv| {
            crate::watch::touch_db(env, db, None);
            if let Some(d) = env.shard.dbs.get_mut(db) {
                d.clear();
            }
        })
        .await;
        // Hook (tracking): every tracking client drops its whole cache.
        let hub = ctx.worker.shared.hub.clone();
        hub.tracking.flush_all(&hub, ctx.client.id);
        Ok(Reply::Ok)
    })
}

fn flushall(ctx: &mut ConnCtx, argv: Vec<Bytes>) -> CmdFuture<'_> {
    Box::pin(async move {
        check_flush_args(&argv)?;
        on_all_shards(ctx, |env: &mut ShardEnv| {
            for db in 0..env.shard.dbs.len() {
                crate::watch::touch_db(env, db, None);
            }
            for d in &mut env.shard.dbs {
                d.clear();
            }
        })
        .await;
        let hub = ctx.worker.shared.hub.clone();
        hub.tracking.flush_all(&hub, ctx.client.id);
        // Redis saves the now empty dataset when save points are set, so a
        // restart does not bring the data back.
        let shared = ctx.worker.shared.clone();
        if !shared.config().save_points().is_empty() {
            crate::persist::wait_idle(&shared).await;
            let _ = crate::persist::save(&shared).await;
        }
        Ok(Reply::Ok)
    })
}

fn swapdb(ctx: &mut ConnCtx, argv: Vec<Bytes>) -> CmdFuture<'_> {
    Box::pin(async move {
        let a = parse_int(&argv[1], Some("ERR invalid first DB index"))?;
        let b = parse_int(&argv[2], Some("ERR invalid second DB index"))?;
        let databases = ctx.worker.env.borrow().limits.databases as i64;
        if !(0..databases).contains(&a) || !(0..databases).contains(&b) {
            return Err(CmdError::DbIndexOutOfRange);
        }
        if a != b {
            let (a, b) = (a as usize, b as usize);
            on_all_shards(ctx, move |env: &mut ShardEnv| {
                if a < env.shard.dbs.len() && b < env.shard.dbs.len() {
                    crate::watch::touch_db(env, a, Some(b));
                    crate::watch::touch_db(env, b, Some(a));
                    env.shard.dbs.swap(a, b);
                }
            })
            .await;
        }
        Ok(Reply::Ok)
    })
}

/// The index `i` whose slice of `0..sum(weights)` holds `r`: a pick
/// weighted by `weights` when `r` is uniform. `None` when `r` is past the end.
pub fn pick_weighted(weights: &[usize], mut r: usize) -> Option<usize> {
    for (i, &w) in weights.iter().enumerate() {
        if r < w {
            return Some(i);
        }
        r -= w;
    }
    None
}

/// RANDOMKEY: uniform over the keys of all shards. A shard is chosen with
/// probability proportional to its number of stored keys, then a key in it;
/// an expired pick is deleted and the draw repeated (rejection sampling, as
/// Redis's dbRandomKey), so live keys are equally likely.
fn randomkey(ctx: &mut ConnCtx, _argv: Vec<Bytes>) -> CmdFuture<'_> {
    Box::pin(async move {
        let db = ctx.client.db;
        let nshards = ctx.worker.shared.nshards;
        let key = if nshards == 1 {
            run_inline(ctx, |sctx| loop {
                let now = sctx.shard.now_ms();
                let shard = &mut *sctx.shard;
                match shard.dbs[db].random_pick(now, &mut shard.rng) {
                    RandomPick::Empty => break None,
                    RandomPick::Live(k) => break Some(k),
                    RandomPick::Expired => {}
                }
            })
            .await
        } else {
            // Hold every shard so the counts stay true while we draw.
            let tx = crate::dispatch::freeze(ctx, (0..nshards).collect()).await;
            let mut counts = tx
                .run_all(move |env: &mut ShardEnv| env.shard.dbs.get(db).map_or(0, |d| d.len()))
                .await;
            loop {
                let total: usize = counts.iter().sum();
                if total == 0 {
                    break None;
                }
                let Some(s) = pick_weighted(&counts, rand::random_range(0..total)) else {
                    break None;
                };
                let pick = tx
                    .run(tx.shards()[s], move |env: &mut ShardEnv| {
                        let now = env.shard.now_ms();
                        let shard = &mut env.shard;
                        match shard.dbs.get_mut(db) {
                            Some(d) => d.random_pick(now, &mut shard.rng),
                            None => RandomPick::Empty,
                        }
                    })
                    .await
                    .unwrap_or(RandomPick::Empty);
                match pick {
                    RandomPick::Live(k) => break Some(k),
                    RandomPick::Expired => counts[s] = counts[s].saturating_sub(1),
                    RandomPick::Empty => counts[s] = 0,
                }
            }
        };
        Ok(match key {
            Some(k) => Reply::bulk(&k),
            None => Reply::Nil,
        })
    })
}

// ---------------------------------------------------------------------------
// SCAN
// ---------------------------------------------------------------------------

/// Where a SCAN iteration stands: a shard, and within it the number of
/// positions still to visit (`None`: the shard is not started). Shards are
/// walked in order, each from its last position down (see `storage::db`),
/// so a key present for the whole iteration is returned at least once.
///
/// Encoding: the low bits name the shard (as many as `nshards` needs, none
/// with one shard), the high bits the remaining count, 0 for "not started".
/// Cursor 0 is therefore shard 0 not started: the start and the end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScanCursor {
    /// The shard being walked.
    pub shard: usize,
    /// Positions left to visit in it; `None` before its first step.
    pub remaining: Option<usize>,
}

impl ScanCursor {
    fn shard_bits(nshards: usize) -> u32 {
        if nshards <= 1 {
            0
        } else {
            usize::BITS - (nshards - 1).leading_zeros()
        }
    }

    /// The cursor value sent to the client.
    pub fn encode(self, nshards: usize) -> u64 {
        let bits = Self::shard_bits(nshards);
        let pos = self.remaining.unwrap_or(0) as u64;
        pos.checked_shl(bits).unwrap_or(0) | self.shard as u64
    }

    /// The position a client's cursor names; `None` for a cursor no
    /// iteration can produce (a shard number past the last), which then
    /// simply ends the iteration.
    pub fn decode(cursor: u64, nshards: usize) -> Option<ScanCursor> {
        let bits = Self::shard_bits(nshards);
        let shard = (cursor & ((1u64 << bits) - 1)) as usize;
        if shard >= nshards.max(1) {
            return None;
        }
        let pos = cursor.checked_shr(bits).unwrap_or(0);
        Some(ScanCursor {
            shard,
            remaining: (pos != 0).then(|| usize::try_from(pos).unwrap_or(usize::MAX)),
        })
    }
}

/// Redis 7.4's cursor parsing (string2ull): a strict integer, which must
/// not be negative, or else what strtoull accepts in full (leading
/// whitespace, a sign, digits, no overflow).
pub fn parse_scan_cursor(arg: &[u8]) -> Option<u64> {
    // Redis reads the argument as a C string.
    let s = match arg.iter().position(|&b| b == 0) {
        Some(i) => &arg[..i],
        None => arg,
    };
    if let Some(v) = storage::numfmt::parse_i64(s) {
        return u64::try_from(v).ok();
    }
    let mut i = 0;
    while i < s.len() && matches!(s[i], b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r') {
        i += 1;
    }
    let negative = match s.get(i) {
        Some(b'-') => {
            i += 1;
            true
        }
        Some(b'+') => {
            i += 1;
            false
        }
        _ => false,
    };
    let digits = &s[i..];
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let mut v: u64 = 0;
    for d in digits {
        v = v.checked_mul(10)?.checked_add(u64::from(d - b'0'))?;
    }
    Some(if negative { v.wrapping_neg() } else { v })
}

/// SCAN's options, parsed before any shard is visited.
#[derive(Clone)]
struct ScanOptions {
    count: usize,
    pattern: Option<Bytes>,
    /// `Some(None)`: a TYPE no value has, which matches nothing.
    type_filter: Option<Option<&'static str>>,
}

const TYPE_NAMES: &[&str] = &["string", "list", "set", "zset", "hash", "stream"];

fn parse_scan_options(argv: &[Bytes]) -> CmdResult<ScanOptions> {
    let mut o = ScanOptions {
        count: 10,
        pattern: None,
        type_filter: None,
    };
    let mut args = Args::at(argv, 2);
    while let Some(opt) = args.peek() {
        let has_value = args.remaining() >= 2;
        args.bytes()?;
        if is(opt, "count") && has_value {
            let n = args.i64()?;
            if n < 1 {
                return Err(CmdError::Syntax);
            }
            o.count = usize::try_from(n).unwrap_or(usize::MAX);
        } else if is(opt, "match") && has_value {
            let p = args.bytes()?;
            o.pattern = (p.as_ref() != b"*").then(|| p.clone());
        } else if is(opt, "type") && has_value {
            let t = args.bytes()?;
            o.type_filter = Some(TYPE_NAMES.iter().copied().find(|n| is(t, n)));
        } else if is(opt, "novalues") {
            return Err(CmdError::msg(
                "ERR NOVALUES option can only be used in HSCAN",
            ));
        } else {
            return Err(CmdError::Syntax);
        }
    }
    Ok(o)
}

/// What one step on one shard produced.
struct ScanStep {
    keys: Vec<Bytes>,
    /// Positions visited (the COUNT budget spent).
    visited: usize,
    /// Positions left in this shard; 0 when it is done.
    remaining: usize,
}

/// One SCAN step on a shard: visit up to `budget` positions, keep the keys
/// matching the pattern, then apply Redis's post-filters: with TYPE, a
/// no-touch read lookup (expiry, statistics) and a type check; without, the
/// expired keys met are deleted.
fn scan_shard(
    shard: &mut Shard,
    db: usize,
    remaining: Option<usize>,
    budget: usize,
    opts: &ScanOptions,
) -> ScanStep {
    let now = shard.now_ms();
    let Some(d) = shard.dbs.get_mut(db) else {
        return ScanStep {
            keys: Vec::new(),
            visited: 0,
            remaining: 0,
        };
    };
    let mut visited = 0;
    let mut met: Vec<(Bytes, bool)> = Vec::new();
    let left = d.scan_step_all(remaining, budget, |k, e| {
        visited += 1;
        if opts
            .pattern
            .as_ref()
            .is_none_or(|p| glob_match(p, k, false))
        {
            met.push((Bytes::copy_from_slice(k), e.is_expired_at(now)));
        }
    });
    let mut keys = Vec::with_capacity(met.len());
    for (k, expired) in met {
        match opts.type_filter {
            Some(want) => {
                let found = d.lookup_read(&k, now, false).map(|e| e.value.type_name());
                if found.is_some() && found == want {
                    keys.push(k);
                }
            }
            None if expired => {
                // Deletes it and counts it as expired.
                d.peek(&k, now);
            }
            None => keys.push(k),
        }
    }
    ScanStep {
        keys,
        visited,
        remaining: left,
    }
}

/// SCAN cursor [MATCH pattern] [COUNT count] [TYPE type]
///
/// Visits up to COUNT positions, moving on to the next shard when one is
/// finished within the budget. Each shard is visited on its own (no
/// multi-shard transaction is needed: SCAN's guarantees hold across steps).
fn scan(ctx: &mut ConnCtx, argv: Vec<Bytes>) -> CmdFuture<'_> {
    Box::pin(async move {
        let cursor =
            parse_scan_cursor(&argv[1]).ok_or_else(|| CmdError::msg("ERR invalid cursor"))?;
        let opts = parse_scan_options(&argv)?;
        let nshards = ctx.worker.shared.nshards;
        let db = ctx.client.db;
        let own = ctx.worker.id;
        let mut keys: Vec<Reply> = Vec::new();
        let mut at = match ScanCursor::decode(cursor, nshards) {
            Some(c) => c,
            None => return Ok(scan_reply(0, keys)),
        };
        let mut budget = opts.count;
        let next = loop {
            let step = if at.shard == own {
                let opts = &opts;
                run_inline(ctx, |sctx| {
                    scan_shard(sctx.shard, db, at.remaining, budget, opts)
                })
                .await
            } else {
                let opts = opts.clone();
                let remaining = at.remaining;
                crate::dispatch::run_on_shard(ctx, at.shard, move |env: &mut ShardEnv| {
                    scan_shard(&mut env.shard, db, remaining, budget, &opts)
                })
                .await
                .ok_or_else(|| CmdError::msg("ERR server is shutting down"))?
            };
            keys.extend(step.keys.into_iter().map(Reply::Bulk));
            budget = budget.saturating_sub(step.visited);
            if step.remaining > 0 {
                break ScanCursor {
                    shard: at.shard,
                    remaining: Some(step.remaining),
                }
                .encode(nshards);
            }
            at = ScanCursor {
                shard: at.shard + 1,
                remaining: None,
            };
            if at.shard >= nshards {
                break 0;
            }
            if budget == 0 {
                break at.encode(nshards);
            }
        };
        Ok(scan_reply(next, keys))
    })
}

/// SCAN over shards already at hand (a script holding every shard), with
/// the same cursor and steps as [`scan`]. A shard missing from `shards`
/// ends the iteration there.
pub fn scan_held(
    argv: &[Bytes],
    nshards: usize,
    db: usize,
    shards: &mut [(usize, Shard)],
) -> CmdResult<Reply> {
    let cursor = parse_scan_cursor(&argv[1]).ok_or_else(|| CmdError::msg("ERR invalid cursor"))?;
    let opts = parse_scan_options(argv)?;
    let mut keys: Vec<Reply> = Vec::new();
    let Some(mut at) = ScanCursor::decode(cursor, nshards) else {
        return Ok(scan_reply(0, keys));
    };
    let mut budget = opts.count;
    let next = loop {
        let Some((_, shard)) = shards.iter_mut().find(|(id, _)| *id == at.shard) else {
            break 0;
        };
        let step = scan_shard(shard, db, at.remaining, budget, &opts);
        keys.extend(step.keys.into_iter().map(Reply::Bulk));
        budget = budget.saturating_sub(step.visited);
        if step.remaining > 0 {
            break ScanCursor {
                shard: at.shard,
                remaining: Some(step.remaining),
            }
            .encode(nshards);
        }
        at = ScanCursor {
            shard: at.shard + 1,
            remaining: None,
        };
        if at.shard >= nshards {
            break 0;
        }
        if budget == 0 {
            break at.encode(nshards);
        }
    };
    Ok(scan_reply(next, keys))
}

fn scan_reply(cursor: u64, keys: Vec<Reply>) -> Reply {
    Reply::Array(vec![
        Reply::Bulk(Bytes::from(cursor.to_string())),
        Reply::Array(keys),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursor_round_trips() {
        for nshards in [1usize, 2, 3, 4, 7, 8, 64, 100] {
            for shard in 0..nshards {
                for remaining in [None, Some(1), Some(2), Some(12345), Some(1 << 40)] {
                    let c = ScanCursor { shard, remaining };
                    let v = c.encode(nshards);
                    assert_eq!(ScanCursor::decode(v, nshards), Some(c), "{nshards} {c:?}");
                }
            }
        }
    }

    #[test]
    fn cursor_zero_is_the_start() {
        for nshards in [1usize, 4, 5] {
            let start = ScanCursor {
                shard: 0,
                remaining: None,
            };
            assert_eq!(start.encode(nshards), 0);
            assert_eq!(ScanCursor::decode(0, nshards), Some(start));
        }
        // Any cursor other than the start is non-zero.
        let c = ScanCursor {
            shard: 0,
            remaining: Some(1),
        };
        assert_ne!(c.encode(4), 0);
        let c = ScanCursor {
            shard: 3,
            remaining: None,
        };
        assert_ne!(c.encode(4), 0);
    }

    #[test]
    fn cursor_with_a_shard_past_the_last_is_rejected() {
        // 3 shards use 2 bits: shard number 3 does not exist.
        assert_eq!(ScanCursor::decode(3, 3), None);
        assert_eq!(ScanCursor::decode(7, 3), None);
        assert!(ScanCursor::decode(u64::MAX, 1).is_some());
        assert!(ScanCursor::decode(u64::MAX, 4).is_some());
    }

    #[test]
    fn cursor_parsing_follows_redis_7_4() {
        assert_eq!(parse_scan_cursor(b"0"), Some(0));
        assert_eq!(parse_scan_cursor(b"42"), Some(42));
        assert_eq!(parse_scan_cursor(b" 1"), Some(1));
        assert_eq!(parse_scan_cursor(b"\t\n 7"), Some(7));
        assert_eq!(parse_scan_cursor(b"007"), Some(7));
        assert_eq!(parse_scan_cursor(b"+5"), Some(5));
        assert_eq!(parse_scan_cursor(b"-0"), Some(0));
        assert_eq!(parse_scan_cursor(b"18446744073709551615"), Some(u64::MAX));
        assert_eq!(parse_scan_cursor(b" -1"), Some(u64::MAX));
        assert_eq!(parse_scan_cursor(b"-1"), None);
        assert_eq!(parse_scan_cursor(b""), None);
        assert_eq!(parse_scan_cursor(b" "), None);
        assert_eq!(parse_scan_cursor(b"1 "), None);
        assert_eq!(parse_scan_cursor(b"abc"), None);
        assert_eq!(parse_scan_cursor(b"0x10"), None);
        assert_eq!(parse_scan_cursor(b"18446744073709551616"), None);
        assert_eq!(parse_scan_cursor(b"1\x00junk"), Some(1));
    }

    #[test]
    fn weighted_pick_covers_each_weight_exactly() {
        let weights = [3usize, 0, 5, 1, 0, 7];
        let total: usize = weights.iter().sum();
        let mut counts = [0usize; 6];
        for r in 0..total {
            let i = pick_weighted(&weights, r).expect("in range");
            counts[i] += 1;
        }
        assert_eq!(counts, weights);
        assert_eq!(pick_weighted(&weights, total), None);
        assert_eq!(pick_weighted(&[], 0), None);
        assert_eq!(pick_weighted(&[0, 0], 0), None);
    }

    #[test]
    fn idle_time_wraps_with_the_clock() {
        assert_eq!(idle_seconds(100, 40), 60);
        assert_eq!(idle_seconds(5, storage::db::LRU_CLOCK_MAX - 5), 10);
    }

    fn shard_with(keys: &[(&str, Option<u64>)]) -> Shard {
        let mut shard = Shard::new(0, 16);
        let now = shard.refresh_time();
        for (k, ttl) in keys {
            let deadline = ttl.map(|t| now.saturating_sub(1_000_000) + t);
            shard.dbs[0].insert_with_expire(
                k.as_bytes(),
                Value::Str(Str::from_bytes(b"v")),
                deadline,
                now,
            );
        }
        shard
    }

    fn all_opts() -> ScanOptions {
        ScanOptions {
            count: 10,
            pattern: None,
            type_filter: None,
        }
    }

    #[test]
    fn scan_shard_deletes_expired_and_filters() {
        // "gone" has a deadline in the past.
        let mut shard = shard_with(&[("a1", None), ("a2", None), ("b1", None), ("gone", Some(1))]);
        let step = scan_shard(&mut shard, 0, None, 100, &all_opts());
        let mut got: Vec<_> = step.keys.iter().map(|k| k.to_vec()).collect();
        got.sort();
        assert_eq!(got, vec![b"a1".to_vec(), b"a2".to_vec(), b"b1".to_vec()]);
        assert_eq!(step.visited, 4);
        assert_eq!(step.remaining, 0);
        assert_eq!(shard.dbs[0].len(), 3);
        assert_eq!(shard.stats().expired_keys, 1);

        let opts = ScanOptions {
            pattern: Some(Bytes::from_static(b"a*")),
            ..all_opts()
        };
        let step = scan_shard(&mut shard, 0, None, 100, &opts);
        assert_eq!(step.keys.len(), 2);

        let opts = ScanOptions {
            type_filter: Some(Some("string")),
            ..all_opts()
        };
        assert_eq!(scan_shard(&mut shard, 0, None, 100, &opts).keys.len(), 3);
        let opts = ScanOptions {
            type_filter: Some(None),
            ..all_opts()
        };
        assert_eq!(scan_shard(&mut shard, 0, None, 100, &opts).keys.len(), 0);
    }

    #[test]
    fn scan_shard_steps_through_every_key() {
        let names: Vec<String> = (0..95).map(|i| format!("k{i}")).collect();
        let keys: Vec<(&str, Option<u64>)> = names.iter().map(|n| (n.as_str(), None)).collect();
        let mut shard = shard_with(&keys);
        let mut seen = std::collections::HashSet::new();
        let mut remaining = None;
        let mut steps = 0;
        loop {
            let step = scan_shard(&mut shard, 0, remaining, 10, &all_opts());
            steps += 1;
            seen.extend(step.keys);
            if step.remaining == 0 {
                break;
            }
            remaining = Some(step.remaining);
        }
        assert_eq!(steps, 10);
        assert_eq!(seen.len(), 95);
    }
}
