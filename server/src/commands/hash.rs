//! Hash commands (Redis's `t_hash.c`), with Redis 7.4's field expiry:
//! HEXPIRE, HPEXPIRE, HEXPIREAT, HPEXPIREAT, HTTL, HPTTL, HEXPIRETIME,
//! HPEXPIRETIME, HPERSIST.
//!
//! The data structure and its encodings live in `storage::types::hash`;
//! handlers parse arguments in Redis's order (which decides the error a
//! client sees), look the key up, and call it. A read that meets an expired
//! field deletes it (and the key, if it was the last field), as Redis 7.4
//! does; an emptied hash is always deleted.

use crate::command::args::is;
use crate::command::flags::*;
use crate::command::{row, BeginSearch, CommandSpec, Exec, FindKeys, KeySpec, ShardCtx, KEY1};
use crate::commands::keys::parse_scan_cursor;
use crate::config::notify::{GENERIC, HASH};
use bytes::Bytes;
use storage::glob::glob_match;
use storage::numfmt::{self, LongDouble};
use storage::types::hash::{ExpireCond, FieldTtl, FieldValue, Got, Hash};
use storage::KeyEvent;
use storage::{CmdError, CmdResult, Db, Reply, Value};

const fn key1_spec(flags: &'static [&'static str]) -> KeySpec {
    KeySpec {
        notes: "",
        flags,
        begin: BeginSearch::Index(1),
        find: FindKeys::Range {
            lastkey: 0,
            keystep: 1,
            limit: 0,
        },
    }
}

const RW_UPDATE: &[KeySpec] = &[key1_spec(&["RW", "update"])];
const RW_INSERT: &[KeySpec] = &[key1_spec(&["RW", "insert"])];
const RW_DELETE: &[KeySpec] = &[key1_spec(&["RW", "delete"])];
const RO: &[KeySpec] = &[key1_spec(&["RO"])];

const HFE_SET_COMPLEXITY: &str = "O(N) where N is the number of specified fields";
const WRITE_HASH_FAST: &[&str] = &["write", "hash", "fast"];
const READ_HASH_FAST: &[&str] = &["read", "hash", "fast"];
const READ_HASH_SLOW: &[&str] = &["read", "hash", "slow"];

/// The hash family's rows.
pub static COMMANDS: &[CommandSpec] = &[
    row("hset", -4, WRITE | DENYOOM | FAST, KEY1, Exec::Shard(hset))
        .acl(WRITE_HASH_FAST)
        .key_specs(RW_UPDATE)
        .doc(
            "hash",
            "2.0.0",
            "Creates or modifies the value of a field in a hash.",
            "O(1) for each field/value pair added, so O(N) to add N field/value pairs when the command is called with multiple field/value pairs.",
        ),
    row("hsetnx", 4, WRITE | DENYOOM | FAST, KEY1, Exec::Shard(hsetnx))
        .acl(WRITE_HASH_FAST)
        .key_specs(RW_INSERT)
        .doc(
            "hash",
            "2.0.0",
            "Sets the value of a field in a hash only when the field doesn't exist.",
            "O(1)",
        ),
    row("hmset", -4, WRITE | DENYOOM | FAST, KEY1, Exec::Shard(hmset))
        .acl(WRITE_HASH_FAST)
        .key_specs(RW_UPDATE)
        .doc(
            "hash",
            "2.0.0",
            "Sets the values of multiple fields.",
            "O(N) where N is the number of fields being set.",
        ),
    row("hget", 3, READONLY | FAST, KEY1, Exec::Shard(hget))
        .acl(READ_HASH_FAST)
        .doc(
            "hash",
            "2.0.0",
            "Returns the value of a field in a hash.",
            "O(1)",
        ),
    row("hmget", -3, READONLY | FAST, KEY1, Exec::Shard(hmget))
        .acl(READ_HASH_FAST)
        .doc(
            "hash",
            "2.0.0",
            "Returns the values of all fields in a hash.",
            "O(N) where N is the number of fields being requested.",
        ),
    row("hdel", -3, WRITE | FAST, KEY1, Exec::Shard(hdel))
        .acl(WRITE_HASH_FAST)
        .key_specs(RW_DELETE)
        .doc(
            "hash",
            "2.0.0",
            "Deletes one or more fields and their values from a hash. Deletes the hash if no fields remain.",
            "O(N) where N is the number of fields to be removed.",
        ),
    row("hlen", 2, READONLY | FAST, KEY1, Exec::Shard(hlen))
        .acl(READ_HASH_FAST)
        .key_specs(RO)
        .doc(
            "hash",
            "2.0.0",
            "Returns the number of fields in a hash.",
            "O(1)",
        ),
    row("hexists", 3, READONLY | FAST, KEY1, Exec::Shard(hexists))
        .acl(READ_HASH_FAST)
        .key_specs(RO)
        .doc(
            "hash",
            "2.0.0",
            "Determines whether a field exists in a hash.",
            "O(1)",
        ),
    row("hkeys", 2, READONLY, KEY1, Exec::Shard(hkeys))
        .acl(READ_HASH_SLOW)
        .tips(&["nondeterministic_output_order"])
        .doc(
            "hash",
            "2.0.0",
            "Returns all fields in a hash.",
            "O(N) where N is the size of the hash.",
        ),
    row("hvals", 2, READONLY, KEY1, Exec::Shard(hvals))
        .acl(READ_HASH_SLOW)
        .tips(&["nondeterministic_output_order"])
        .doc(
            "hash",
            "2.0.0",
            "Returns all values in a hash.",
            "O(N) where N is the size of the hash.",
        ),
    row("hgetall", 2, READONLY, KEY1, Exec::Shard(hgetall))
        .acl(READ_HASH_SLOW)
        .tips(&["nondeterministic_output_order"])
        .doc(
            "hash",
            "2.0.0",
            "Returns all fields and values in a hash.",
            "O(N) where N is the size of the hash.",
        ),
    row("hincrby", 4, WRITE | DENYOOM | FAST, KEY1, Exec::Shard(hincrby))
        .acl(WRITE_HASH_FAST)
        .doc(
            "hash",
            "2.0.0",
            "Increments the integer value of a field in a hash by a number. Uses 0 as initial value if the field doesn't exist.",
            "O(1)",
        ),
    row(
        "hincrbyfloat",
        4,
        WRITE | DENYOOM | FAST,
        KEY1,
        Exec::Shard(hincrbyfloat),
    )
    .acl(WRITE_HASH_FAST)
    .doc(
        "hash",
        "2.6.0",
        "Increments the floating point value of a field by a number. Uses 0 as initial value if the field doesn't exist.",
        "O(1)",
    ),
    row("hstrlen", 3, READONLY | FAST, KEY1, Exec::Shard(hstrlen))
        .acl(READ_HASH_FAST)
        .key_specs(RO)
        .doc(
            "hash",
            "3.2.0",
            "Returns the length of the value of a field.",
            "O(1)",
        ),
    row("hrandfield", -2, READONLY, KEY1, Exec::Shard(hrandfield))
        .acl(READ_HASH_SLOW)
        .tips(&["nondeterministic_output"])
        .doc(
            "hash",
            "6.2.0",
            "Returns one or more random fields from a hash.",
            "O(N) where N is the number of fields returned",
        ),
    row("hscan", -3, READONLY, KEY1, Exec::Shard(hscan))
        .acl(READ_HASH_SLOW)
        .tips(&["nondeterministic_output"])
        .doc(
            "hash",
            "2.8.0",
            "Iterates over fields and values of a hash.",
            "O(1) for every call. O(N) for a complete iteration, including enough command calls for the cursor to return back to 0. N is the number of elements inside the collection.",
        ),
    row("hexpire", -6, WRITE | DENYOOM | FAST, KEY1, Exec::Shard(hexpire))
        .acl(WRITE_HASH_FAST)
        .key_specs(RW_UPDATE)
        .doc(
            "hash",
            "7.4.0",
            "Set expiry for hash field using relative time to expire (seconds)",
            HFE_SET_COMPLEXITY,
        ),
    row("hpexpire", -6, WRITE | DENYOOM | FAST, KEY1, Exec::Shard(hpexpire))
        .acl(WRITE_HASH_FAST)
        .key_specs(RW_UPDATE)
        .doc(
            "hash",
            "7.4.0",
            "Set expiry for hash field using relative time to expire (milliseconds)",
            HFE_SET_COMPLEXITY,
        ),
    row(
        "hexpireat",
        -6,
        WRITE | DENYOOM | FAST,
        KEY1,
        Exec::Shard(hexpireat),
    )
    .acl(WRITE_HASH_FAST)
    .key_specs(RW_UPDATE)
    .doc(
        "hash",
        "7.4.0",
        "Set expiry for hash field using an absolute Unix timestamp (seconds)",
        HFE_SET_COMPLEXITY,
    ),
    row(
        "hpexpireat",
        -6,
        WRITE | DENYOOM | FAST,
        KEY1,
        Exec::Shard(hpexpireat),
    )
    .acl(WRITE_HASH_FAST)
    .key_specs(RW_UPDATE)
    .doc(
        "hash",
        "7.4.0",
        "Set expiry for hash field using an absolute Unix timestamp (milliseconds)",
        HFE_SET_COMPLEXITY,
    ),
    row("httl", -5, READONLY | FAST, KEY1, Exec::Shard(httl))
        .acl(READ_HASH_FAST)
        .tips(&["nondeterministic_output"])
        .doc(
            "hash",
            "7.4.0",
            "Returns the TTL in seconds of a hash field.",
            HFE_SET_COMPLEXITY,
        ),
    row("hpttl", -5, READONLY | FAST, KEY1, Exec::Shard(hpttl))
        .acl(READ_HASH_FAST)
        .tips(&["nondeterministic_output"])
        .doc(
            "hash",
            "7.4.0",
            "Returns the TTL in milliseconds of a hash field.",
            HFE_SET_COMPLEXITY,
        ),
    row(
        "hexpiretime",
        -5,
        READONLY | FAST,
        KEY1,
        Exec::Shard(hexpiretime),
    )
    .acl(READ_HASH_FAST)
    .doc(
        "hash",
        "7.4.0",
        "Returns the expiration time of a hash field as a Unix timestamp, in seconds.",
        HFE_SET_COMPLEXITY,
    ),
    row(
        "hpexpiretime",
        -5,
        READONLY | FAST,
        KEY1,
        Exec::Shard(hpexpiretime),
    )
    .acl(READ_HASH_FAST)
    .doc(
        "hash",
        "7.4.0",
        "Returns the expiration time of a hash field as a Unix timestamp, in msec.",
        HFE_SET_COMPLEXITY,
    ),
    row("hpersist", -5, WRITE | FAST, KEY1, Exec::Shard(hpersist))
        .acl(WRITE_HASH_FAST)
        .key_specs(RW_UPDATE)
        .doc(
            "hash",
            "7.4.0",
            "Removes the expiration time for each specified field",
            HFE_SET_COMPLEXITY,
        ),
];

// ----- helpers -----

fn as_hash(v: &mut Value) -> CmdResult<&mut Hash> {
    match v {
        Value::Hash(h) => Ok(h),
        _ => Err(CmdError::WrongType),
    }
}

/// The part of an option argument Redis compares with `strcasecmp`: its C
/// string, up to the first NUL byte.
fn c_word(a: &[u8]) -> &[u8] {
    match a.iter().position(|&b| b == 0) {
        Some(i) => &a[..i],
        None => a,
    }
}

fn word_is(a: &[u8], w: &str) -> bool {
    is(c_word(a), w)
}

/// After a read that lazily deleted `expired` fields: counts them and
/// deletes the key if the hash is now empty.
fn after_lazy_expiry(db: &mut Db, key: &[u8], expired: u64, empty: bool) {
    count_lazy_expiry(db, key, expired);
    if empty {
        db.remove(key);
        if db.log_events {
            // `hexpired` then `del` (Redis's hashTypeGetValue).
            db.events.push((KeyEvent::Deleted, key.into()));
        }
    }
}

/// Counts fields deleted by lazy expiry and logs Redis's `hexpired` event
/// (emitted by the server, see `crate::notify`).
fn count_lazy_expiry(db: &mut Db, key: &[u8], expired: u64) {
    db.stats.expired_subkeys += expired;
    if expired > 0 && db.log_events {
        db.events.push((KeyEvent::HExpired, key.into()));
    }
}

/// The hash at `key` for writing, created empty if absent (the caller adds
/// a field before returning, so an empty hash is never left behind).
fn hash_for_write<'a>(db: &'a mut Db, key: &[u8], now: u64) -> CmdResult<&'a mut Hash> {
    let exists = match db.lookup_write(key, now) {
        Some(e) => {
            as_hash(&mut e.value)?;
            true
        }
        None => false,
    };
    if !exists {
        db.insert(key, Value::Hash(Hash::default()), now);
    }
    match db.lookup_write(key, now) {
        Some(e) => as_hash(&mut e.value),
        None => Err(CmdError::msg("ERR no such key")),
    }
}

/// WRONGTYPE if `key` holds something other than a hash (write lookup:
/// lazy key expiry, no statistics). Returns whether it exists.
fn check_hash_write(db: &mut Db, key: &[u8], now: u64) -> CmdResult<bool> {
    match db.lookup_write(key, now) {
        Some(e) => as_hash(&mut e.value).map(|_| true),
        None => Ok(false),
    }
}

// ----- HSET family -----

/// HSET key field value [field value ...]
fn hset(ctx: &mut ShardCtx<'_>, argv: &[Bytes]) -> CmdResult<Reply> {
    hset_generic(ctx, argv, "hset").map(Reply::Int)
}

/// HMSET key field value [field value ...]
fn hmset(ctx: &mut ShardCtx<'_>, argv: &[Bytes]) -> CmdResult<Reply> {
    hset_generic(ctx, argv, "hmset").map(|_| Reply::Ok)
}

fn hset_generic(ctx: &mut ShardCtx<'_>, argv: &[Bytes], name: &str) -> CmdResult<i64> {
    if argv.len() % 2 == 1 {
        return Err(CmdError::WrongArity(name.to_string()));
    }
    let th = ctx.limits.thresholds;
    let now = ctx.shard.now_ms();
    let db = &mut ctx.shard.dbs[ctx.db];
    let h = hash_for_write(db, &argv[1], now)?;
    let pairs = (argv.len() - 2) / 2;
    h.convert_for_args(pairs, argv[2..].iter().map(|b| &b[..]), &th);
    let mut created = 0;
    for pair in argv[2..].chunks_exact(2) {
        if h.set(&pair[0], &pair[1], &th) {
            created += 1;
        }
    }
    ctx.notify(HASH, "hset", &argv[1]);
    Ok(created)
}

/// HSETNX key field value
fn hsetnx(ctx: &mut ShardCtx<'_>, argv: &[Bytes]) -> CmdResult<Reply> {
    let (key, field, value) = (&argv[1], &argv[2], &argv[3]);
    let th = ctx.limits.thresholds;
    let now = ctx.shard.now_ms();
    let db = &mut ctx.shard.dbs[ctx.db];
    let (expired, emptied) = match db.lookup_write(key, now) {
        Some(e) => {
            let h = as_hash(&mut e.value)?;
            match h.get_live(field, now) {
                Got::Value(_) => return Ok(Reply::Int(0)),
                Got::Missing => (0, false),
                Got::Expired => (1, h.is_empty()),
            }
        }
        None => (0, false),
    };
    // The expired field was the last one: Redis deletes the hash and
    // creates a new one.
    after_lazy_expiry(db, key, expired, emptied);
    let h = hash_for_write(db, key, now)?;
    h.convert_for_args(1, [&field[..], &value[..]].into_iter(), &th);
    h.set(field, value, &th);
    ctx.notify(HASH, "hset", key);
    Ok(Reply::Int(1))
}

// ----- reads -----

/// HGET key field
fn hget(ctx: &mut ShardCtx<'_>, argv: &[Bytes]) -> CmdResult<Reply> {
    let (key, field) = (&argv[1], &argv[2]);
    let now = ctx.shard.now_ms();
    let touch = ctx.touch;
    let db = &mut ctx.shard.dbs[ctx.db];
    let Some(e) = db.lookup_read(key, now, touch) else {
        return Ok(Reply::Nil);
    };
    let h = as_hash(&mut e.value)?;
    let (reply, expired, empty) = match h.get_live(field, now) {
        Got::Value(v) => (Reply::Bulk(v.to_bytes()), 0, false),
        Got::Missing => (Reply::Nil, 0, false),
        Got::Expired => (Reply::Nil, 1, h.is_empty()),
    };
    after_lazy_expiry(db, key, expired, empty);
    Ok(reply)
}

/// HMGET key field [field ...]: nil for missing fields; a missing key is
/// an empty hash.
fn hmget(ctx: &mut ShardCtx<'_>, argv: &[Bytes]) -> CmdResult<Reply> {
    let key = &argv[1];
    let now = ctx.shard.now_ms();
    let touch = ctx.touch;
    let db = &mut ctx.shard.dbs[ctx.db];
    let Some(e) = db.lookup_read(key, now, touch) else {
        return Ok(Reply::Array(vec![Reply::Nil; argv.len() - 2]));
    };
    let h = as_hash(&mut e.value)?;
    let mut out = Vec::with_capacity(argv.len() - 2);
    let mut expired = 0;
    for field in &argv[2..] {
        // Once the last field expired the hash is gone: the rest are nil.
        if h.is_empty() {
            out.push(Reply::Nil);
            continue;
        }
        out.push(match h.get_live(field, now) {
            Got::Value(v) => Reply::Bulk(v.to_bytes()),
            Got::Missing => Reply::Nil,
            Got::Expired => {
                expired += 1;
                Reply::Nil
            }
        });
    }
    let empty = h.is_empty();
    after_lazy_expiry(db, key, expired, empty);
    Ok(Reply::Array(out))
}

/// HEXISTS key field
fn hexists(ctx: &mut ShardCtx<'_>, argv: &[Bytes]) -> CmdResult<Reply> {
    field_read(ctx, argv, |v| Reply::Int(i64::from(v.is_some())))
}

/// HSTRLEN key field
fn hstrlen(ctx: &mut ShardCtx<'_>, argv: &[Bytes]) -> CmdResult<Reply> {
    field_read(ctx, argv, |v| Reply::Int(v.map_or(0, |v| v.len() as i64)))
}

/// A one-field read with lazy expiry whose reply for a missing key is 0.
fn field_read(
    ctx: &mut ShardCtx<'_>,
    argv: &[Bytes],
    reply: impl FnOnce(Option<FieldValue<'_>>) -> Reply,
) -> CmdResult<Reply> {
    let (key, field) = (&argv[1], &argv[2]);
    let now = ctx.shard.now_ms();
    let touch = ctx.touch;
    let db = &mut ctx.shard.dbs[ctx.db];
    let Some(e) = db.lookup_read(key, now, touch) else {
        return Ok(Reply::Int(0));
    };
    let h = as_hash(&mut e.value)?;
    let (r, expired, empty) = match h.get_live(field, now) {
        Got::Value(v) => (reply(Some(v)), 0, false),
        Got::Missing => (reply(None), 0, false),
        Got::Expired => (reply(None), 1, h.is_empty()),
    };
    after_lazy_expiry(db, key, expired, empty);
    Ok(r)
}

/// HLEN key: the stored fields, including expired ones not deleted yet.
fn hlen(ctx: &mut ShardCtx<'_>, argv: &[Bytes]) -> CmdResult<Reply> {
    let now = ctx.shard.now_ms();
    let touch = ctx.touch;
    match ctx.shard.dbs[ctx.db].lookup_read(&argv[1], now, touch) {
        Some(e) => Ok(Reply::Int(as_hash(&mut e.value)?.len() as i64)),
        None => Ok(Reply::Int(0)),
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Part {
    Keys,
    Values,
    Both,
}

/// HKEYS, HVALS, HGETALL: the live fields in the hash's order.
fn getall_generic(ctx: &mut ShardCtx<'_>, argv: &[Bytes], part: Part) -> CmdResult<Reply> {
    let now = ctx.shard.now_ms();
    let touch = ctx.touch;
    let Some(e) = ctx.shard.dbs[ctx.db].lookup_read(&argv[1], now, touch) else {
        return Ok(match part {
            Part::Both => Reply::Map(Vec::new()),
            _ => Reply::Array(Vec::new()),
        });
    };
    let h = as_hash(&mut e.value)?;
    let n = h.live_len(now);
    Ok(match part {
        Part::Both => {
            let mut out = Vec::with_capacity(n);
            h.for_each_live(now, |f, v| {
                out.push((Reply::Bulk(f.to_bytes()), Reply::Bulk(v.to_bytes())))
            });
            Reply::Map(out)
        }
        Part::Keys | Part::Values => {
            let mut out = Vec::with_capacity(n);
            h.for_each_live(now, |f, v| {
                let x = if part == Part::Keys { f } else { v };
                out.push(Reply::Bulk(x.to_bytes()))
            });
            Reply::Array(out)
        }
    })
}

/// HKEYS key
fn hkeys(ctx: &mut ShardCtx<'_>, argv: &[Bytes]) -> CmdResult<Reply> {
    getall_generic(ctx, argv, Part::Keys)
}

/// HVALS key
fn hvals(ctx: &mut ShardCtx<'_>, argv: &[Bytes]) -> CmdResult<Reply> {
    getall_generic(ctx, argv, Part::Values)
}

/// HGETALL key: a map in RESP3.
fn hgetall(ctx: &mut ShardCtx<'_>, argv: &[Bytes]) -> CmdResult<Reply> {
    getall_generic(ctx, argv, Part::Both)
}

// ----- writes -----

/// HDEL key field [field ...]: deletes fields (expired or not); the key
/// goes with its last field.
fn hdel(ctx: &mut ShardCtx<'_>, argv: &[Bytes]) -> CmdResult<Reply> {
    let key = &argv[1];
    let now = ctx.shard.now_ms();
    let db = &mut ctx.shard.dbs[ctx.db];
    let Some(e) = db.lookup_write(key, now) else {
        return Ok(Reply::Int(0));
    };
    let h = as_hash(&mut e.value)?;
    let mut deleted = 0;
    for field in &argv[2..] {
        if h.remove(field) {
            deleted += 1;
            if h.is_empty() {
                break;
            }
        }
    }
    let empty = h.is_empty();
    if deleted > 0 {
        ctx.notify(HASH, "hdel", key);
    }
    if empty {
        ctx.shard.dbs[ctx.db].remove(key);
        ctx.notify(GENERIC, "del", key);
    }
    Ok(Reply::Int(deleted))
}

/// The current value of a field for HINCRBY/HINCRBYFLOAT, with lazy
/// expiry: `f` reads a live value; absent or expired reads as `None`.
/// Returns the hash, re-created if the expired field was its last.
fn incr_target<'a, T>(
    db: &'a mut Db,
    key: &[u8],
    field: &[u8],
    now: u64,
    f: impl FnOnce(FieldValue<'_>) -> CmdResult<T>,
) -> CmdResult<(Option<T>, &'a mut Hash)> {
    let (cur, expired, emptied) = match db.lookup_write(key, now) {
        Some(e) => {
            let h = as_hash(&mut e.value)?;
            match h.get_live(field, now) {
                Got::Value(v) => (Some(f(v)?), 0, false),
                Got::Missing => (None, 0, false),
                Got::Expired => (None, 1, h.is_empty()),
            }
        }
        None => (None, 0, false),
    };
    after_lazy_expiry(db, key, expired, emptied);
    Ok((cur, hash_for_write(db, key, now)?))
}

/// HINCRBY key field increment
fn hincrby(ctx: &mut ShardCtx<'_>, argv: &[Bytes]) -> CmdResult<Reply> {
    let (key, field) = (&argv[1], &argv[2]);
    let incr = numfmt::parse_i64(&argv[3]).ok_or(CmdError::NotInteger)?;
    let th = ctx.limits.thresholds;
    let now = ctx.shard.now_ms();
    let db = &mut ctx.shard.dbs[ctx.db];
    let (cur, h) = incr_target(db, key, field, now, |v| {
        v.as_i64()
            .ok_or(CmdError::msg("ERR hash value is not an integer"))
    })?;
    let old = cur.unwrap_or(0);
    let Some(new) = old.checked_add(incr) else {
        // Only an existing field can overflow, so the hash is not empty.
        return Err(CmdError::msg("ERR increment or decrement would overflow"));
    };
    let mut text = Vec::with_capacity(20);
    numfmt::format_i64(new, &mut text);
    h.set_keep_ttl(field, &text, &th);
    ctx.notify(HASH, "hincrby", key);
    Ok(Reply::Int(new))
}

/// HINCRBYFLOAT key field increment, in 80-bit long double like Redis.
fn hincrbyfloat(ctx: &mut ShardCtx<'_>, argv: &[Bytes]) -> CmdResult<Reply> {
    let (key, field) = (&argv[1], &argv[2]);
    let incr = LongDouble::parse(&argv[3]).ok_or(CmdError::NotFloat)?;
    if !incr.is_finite() {
        return Err(CmdError::msg("ERR value is NaN or Infinity"));
    }
    let th = ctx.limits.thresholds;
    let now = ctx.shard.now_ms();
    let db = &mut ctx.shard.dbs[ctx.db];
    let (cur, h) = incr_target(db, key, field, now, |v| match v {
        FieldValue::Int(n) => Ok(LongDouble::from_i64(n)),
        FieldValue::Bytes(b) => {
            LongDouble::parse(b).ok_or(CmdError::msg("ERR hash value is not a float"))
        }
    })?;
    let sum = cur.unwrap_or(LongDouble::from_i64(0)) + incr;
    if !sum.is_finite() {
        return Err(CmdError::msg("ERR increment would produce NaN or Infinity"));
    }
    let text = sum.to_human_string();
    h.set_keep_ttl(field, text.as_bytes(), &th);
    ctx.notify(HASH, "hincrbyfloat", key);
    Ok(Reply::Bulk(Bytes::from(text)))
}

// ----- HRANDFIELD -----

/// The most elements a HRANDFIELD reply may hold: Redis streams any count
/// into the client's output buffer; magpie builds the reply first, so a
/// count whose reply could not fit in memory is refused up front rather
/// than allocated.
fn max_reply_elements(proto_max_bulk_len: u64) -> u64 {
    (proto_max_bulk_len / 64).max(1 << 20)
}

/// HRANDFIELD key [count [WITHVALUES]]
fn hrandfield(ctx: &mut ShardCtx<'_>, argv: &[Bytes]) -> CmdResult<Reply> {
    let key = &argv[1];
    let mut count: Option<(i64, bool)> = None;
    if argv.len() >= 3 {
        let l = numfmt::parse_i64(&argv[2]).ok_or(CmdError::NotInteger)?;
        if l == i64::MIN {
            return Err(CmdError::msg(
                "ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807",
            ));
        }
        if argv.len() > 4 || (argv.len() == 4 && !word_is(&argv[3], "withvalues")) {
            return Err(CmdError::Syntax);
        }
        let withvalues = argv.len() == 4;
        if withvalues && !(-(i64::MAX / 2)..=i64::MAX / 2).contains(&l) {
            return Err(CmdError::msg("ERR value is out of range"));
        }
        count = Some((l, withvalues));
    }
    let now = ctx.shard.now_ms();
    let touch = ctx.touch;
    let limit = max_reply_elements(ctx.limits.proto_max_bulk_len);
    let shard = &mut *ctx.shard;
    let db = &mut shard.dbs[ctx.db];
    let empty_reply = if count.is_some() {
        Reply::Array(Vec::new())
    } else {
        Reply::Nil
    };
    let Some(e) = db.lookup_read(key, now, touch) else {
        return Ok(empty_reply);
    };
    let h = as_hash(&mut e.value)?;
    // Redis deletes the expired fields first, then picks among the rest.
    let expired = h.expire_if_needed(now) as u64;
    if h.is_empty() {
        after_lazy_expiry(db, key, expired, true);
        return Ok(empty_reply);
    }
    let rng = &mut shard.rng;
    let reply = match count {
        None => h.random_field(rng).map_or(Reply::Nil, Reply::Bulk),
        Some((0, _)) => Reply::Array(Vec::new()),
        Some((l, withvalues)) => {
            let picks = if l < 0 {
                let n = l.unsigned_abs();
                if n > limit {
                    count_lazy_expiry(db, key, expired);
                    return Err(CmdError::msg("ERR value is out of range"));
                }
                h.random_with_repeats(n as usize, withvalues, rng)
            } else {
                let n = usize::try_from(l).unwrap_or(usize::MAX);
                h.random_distinct(n, withvalues, rng)
            };
            if withvalues {
                Reply::Pairs(
                    picks
                        .into_iter()
                        .map(|(f, v)| (Reply::Bulk(f), Reply::Bulk(v.unwrap_or_default())))
                        .collect(),
                )
            } else {
                Reply::Array(picks.into_iter().map(|(f, _)| Reply::Bulk(f)).collect())
            }
        }
    };
    count_lazy_expiry(db, key, expired);
    Ok(reply)
}

// ----- HSCAN -----

/// HSCAN key cursor [MATCH pattern] [COUNT count] [NOVALUES]
fn hscan(ctx: &mut ShardCtx<'_>, argv: &[Bytes]) -> CmdResult<Reply> {
    let key = &argv[1];
    let cursor = parse_scan_cursor(&argv[2]).ok_or_else(|| CmdError::msg("ERR invalid cursor"))?;
    let now = ctx.shard.now_ms();
    let touch = ctx.touch;
    let Some(e) = ctx.shard.dbs[ctx.db].lookup_read(key, now, touch) else {
        return Ok(scan_reply(0, Vec::new()));
    };
    let h = as_hash(&mut e.value)?;
    // Options are parsed after the key lookup, as Redis does.
    let mut count = 10usize;
    let mut pattern: Option<&[u8]> = None;
    let mut novalues = false;
    let mut i = 3;
    while i < argv.len() {
        let has_value = argv.len() - i >= 2;
        let opt = &argv[i];
        if word_is(opt, "count") && has_value {
            let n = numfmt::parse_i64(&argv[i + 1]).ok_or(CmdError::NotInteger)?;
            if n < 1 {
                return Err(CmdError::Syntax);
            }
            count = usize::try_from(n).unwrap_or(usize::MAX);
            i += 2;
        } else if word_is(opt, "match") && has_value {
            let p = &argv[i + 1][..];
            pattern = (p != b"*").then_some(p);
            i += 2;
        } else if word_is(opt, "novalues") {
            novalues = true;
            i += 1;
        } else {
            return Err(CmdError::Syntax);
        }
    }
    let mut items = Vec::new();
    let mut scratch = Vec::new();
    let next = h.scan(cursor, count, now, |f, v| {
        if let Some(p) = pattern {
            scratch.clear();
            f.write_to(&mut scratch);
            if !glob_match(p, &scratch, false) {
                return;
            }
        }
        items.push(Reply::Bulk(f.to_bytes()));
        if !novalues {
            items.push(Reply::Bulk(v.to_bytes()));
        }
    });
    Ok(scan_reply(next, items))
}

fn scan_reply(cursor: u64, items: Vec<Reply>) -> Reply {
    Reply::Array(vec![
        Reply::Bulk(Bytes::from(cursor.to_string())),
        Reply::Array(items),
    ])
}

// ----- field expiry (Redis 7.4) -----

/// The largest deadline Redis accepts for a field, in Unix milliseconds
/// (`EB_EXPIRE_TIME_MAX >> 2`).
const HFE_MAX_ABS_TIME_MSEC: i64 = 0x0000_FFFF_FFFF_FFFF >> 2;

const FIELDS_MISSING: &str =
    "ERR Mandatory argument FIELDS is missing or not at the right position";
const NUMFIELDS_MISMATCH: &str = "ERR The `numfields` parameter must match the number of arguments";

/// Reads `FIELDS numfields field...` starting at `at` (the FIELDS word).
/// `bad_count` is the command's error for a count that is not a positive
/// integer.
fn parse_fields<'a>(
    argv: &'a [Bytes],
    at: usize,
    bad_count: &'static str,
) -> CmdResult<&'a [Bytes]> {
    if !word_is(&argv[at], "FIELDS") {
        return Err(CmdError::msg(FIELDS_MISSING));
    }
    let n = argv
        .get(at + 1)
        .and_then(|b| numfmt::parse_i64(b))
        .filter(|&n| n >= 1)
        .ok_or(CmdError::msg(bad_count))?;
    let rest = &argv[at + 2..];
    if u64::try_from(n).ok() != Some(rest.len() as u64) {
        return Err(CmdError::msg(NUMFIELDS_MISMATCH));
    }
    Ok(rest)
}

fn ints(v: impl Iterator<Item = i64>) -> Reply {
    Reply::Array(v.map(Reply::Int).collect())
}

/// HEXPIRE, HPEXPIRE, HEXPIREAT, HPEXPIREAT:
/// `key time [NX | XX | GT | LT] FIELDS numfields field [field ...]`.
fn hexpire_generic(
    ctx: &mut ShardCtx<'_>,
    argv: &[Bytes],
    name: &str,
    seconds: bool,
    relative: bool,
) -> CmdResult<Reply> {
    let key = &argv[1];
    let now = ctx.shard.now_ms();
    let db = &mut ctx.shard.dbs[ctx.db];
    let exists = check_hash_write(db, key, now)?;
    let mut at = numfmt::parse_i64(&argv[2]).ok_or(CmdError::NotInteger)?;
    if at < 0 {
        return Err(CmdError::msg("ERR invalid expire time, must be >= 0"));
    }
    let bad_time = || CmdError::InvalidExpire(name.to_string());
    if seconds {
        if at > HFE_MAX_ABS_TIME_MSEC / 1000 {
            return Err(bad_time());
        }
        at *= 1000;
    }
    let base = if relative {
        i64::try_from(now).unwrap_or(i64::MAX)
    } else {
        0
    };
    if at > HFE_MAX_ABS_TIME_MSEC - base {
        return Err(bad_time());
    }
    let at = (at + base) as u64;
    let opt = &argv[3];
    let (cond, fields_at) = if word_is(opt, "nx") {
        (ExpireCond::Nx, 4)
    } else if word_is(opt, "xx") {
        (ExpireCond::Xx, 4)
    } else if word_is(opt, "gt") {
        (ExpireCond::Gt, 4)
    } else if word_is(opt, "lt") {
        (ExpireCond::Lt, 4)
    } else {
        (ExpireCond::Always, 3)
    };
    let fields = parse_fields(
        argv,
        fields_at,
        "ERR Parameter `numFields` should be greater than 0",
    )?;
    if !exists {
        return Ok(ints(fields.iter().map(|_| -2)));
    }
    let Some(e) = db.lookup_write(key, now) else {
        return Ok(ints(fields.iter().map(|_| -2)));
    };
    let h = as_hash(&mut e.value)?;
    h.prepare_field_ttls();
    let mut out = Vec::with_capacity(fields.len());
    let mut deleted = 0;
    let mut updated = 0;
    for f in fields {
        let r = h.set_field_ttl(f, at, cond, now);
        match r {
            storage::types::hash::SetTtl::Deleted => deleted += 1,
            storage::types::hash::SetTtl::Set => updated += 1,
            _ => {}
        }
        out.push(Reply::Int(r as i64));
    }
    let empty = h.is_empty();
    let has_ttls = h.has_field_ttls();
    db.stats.expired_subkeys += deleted;
    if empty {
        db.remove(key);
    } else if has_ttls {
        db.note_field_ttls(key);
    }
    // Redis's hashTypeSetExDone: `hdel` when fields went (and `del` with
    // the last one), `hexpire` otherwise.
    if deleted > 0 {
        ctx.notify(HASH, "hdel", key);
        if empty {
            ctx.notify(GENERIC, "del", key);
        }
    } else if updated > 0 {
        ctx.notify(HASH, "hexpire", key);
    }
    Ok(Reply::Array(out))
}

/// HEXPIRE key seconds [NX | XX | GT | LT] FIELDS numfields field [field ...]
fn hexpire(ctx: &mut ShardCtx<'_>, argv: &[Bytes]) -> CmdResult<Reply> {
    hexpire_generic(ctx, argv, "hexpire", true, true)
}

/// HPEXPIRE key milliseconds [NX | XX | GT | LT] FIELDS numfields field [field ...]
fn hpexpire(ctx: &mut ShardCtx<'_>, argv: &[Bytes]) -> CmdResult<Reply> {
    hexpire_generic(ctx, argv, "hpexpire", false, true)
}

/// HEXPIREAT key unix-time-seconds [NX | XX | GT | LT] FIELDS numfields field [field ...]
fn hexpireat(ctx: &mut ShardCtx<'_>, argv: &[Bytes]) -> CmdResult<Reply> {
    hexpire_generic(ctx, argv, "hexpireat", true, false)
}

/// HPEXPIREAT key unix-time-milliseconds [NX | XX | GT | LT] FIELDS numfields field [field ...]
fn hpexpireat(ctx: &mut ShardCtx<'_>, argv: &[Bytes]) -> CmdResult<Reply> {
    hexpire_generic(ctx, argv, "hpexpireat", false, false)
}

/// HTTL, HPTTL, HEXPIRETIME, HPEXPIRETIME: `key FIELDS numfields field...`.
fn httl_generic(
    ctx: &mut ShardCtx<'_>,
    argv: &[Bytes],
    seconds: bool,
    relative: bool,
) -> CmdResult<Reply> {
    let key = &argv[1];
    let now = ctx.shard.now_ms();
    let touch = ctx.touch;
    let db = &mut ctx.shard.dbs[ctx.db];
    let found = match db.lookup_read(key, now, touch) {
        Some(e) => {
            as_hash(&mut e.value)?;
            true
        }
        None => false,
    };
    let fields = parse_fields(argv, 2, "ERR Number of fields must be a positive integer")?;
    let h = match db.peek(key, now) {
        Some(storage::Entry {
            value: Value::Hash(h),
            ..
        }) if found => h,
        _ => return Ok(ints(fields.iter().map(|_| -2))),
    };
    let base = if relative { now } else { 0 };
    Ok(ints(fields.iter().map(|f| match h.field_ttl(f, now) {
        FieldTtl::NoField => -2,
        FieldTtl::NoTtl => -1,
        FieldTtl::At(at) => {
            let left = at.saturating_sub(base);
            let v = if seconds { left.div_ceil(1000) } else { left };
            i64::try_from(v).unwrap_or(i64::MAX)
        }
    })))
}

/// HTTL key FIELDS numfields field [field ...]
fn httl(ctx: &mut ShardCtx<'_>, argv: &[Bytes]) -> CmdResult<Reply> {
    httl_generic(ctx, argv, true, true)
}

/// HPTTL key FIELDS numfields field [field ...]
fn hpttl(ctx: &mut ShardCtx<'_>, argv: &[Bytes]) -> CmdResult<Reply> {
    httl_generic(ctx, argv, false, true)
}

/// HEXPIRETIME key FIELDS numfields field [field ...]
fn hexpiretime(ctx: &mut ShardCtx<'_>, argv: &[Bytes]) -> CmdResult<Reply> {
    httl_generic(ctx, argv, true, false)
}

/// HPEXPIRETIME key FIELDS numfields field [field ...]
fn hpexpiretime(ctx: &mut ShardCtx<'_>, argv: &[Bytes]) -> CmdResult<Reply> {
    httl_generic(ctx, argv, false, false)
}

/// HPERSIST key FIELDS numfields field [field ...]
fn hpersist(ctx: &mut ShardCtx<'_>, argv: &[Bytes]) -> CmdResult<Reply> {
    let key = &argv[1];
    let now = ctx.shard.now_ms();
    let db = &mut ctx.shard.dbs[ctx.db];
    let exists = check_hash_write(db, key, now)?;
    let fields = parse_fields(argv, 2, "ERR Number of fields must be a positive integer")?;
    let Some(e) = db.lookup_write(key, now).filter(|_| exists) else {
        return Ok(ints(fields.iter().map(|_| -2)));
    };
    let h = as_hash(&mut e.value)?;
    let results: Vec<i64> = fields
        .iter()
        .map(|f| h.persist_field(f, now) as i64)
        .collect();
    if results.contains(&1) {
        ctx.notify(HASH, "hpersist", key);
    }
    Ok(ints(results.into_iter()))
}
