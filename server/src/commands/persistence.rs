//! Persistence commands: SAVE, BGSAVE, LASTSAVE, DUMP, RESTORE.
//!
//! SAVE and BGSAVE take a consistent cut of every shard (see `persist`);
//! DUMP and RESTORE are plain shard handlers using the RDB value encoding
//! of the `persistence` crate, with payloads Redis 7.0 and 7.4 accept
//! (version 10) and payloads from them (versions up to 12) accepted here.

use crate::command::args::is;
use crate::command::flags::*;
use crate::command::{row, CmdFuture, CommandSpec, Exec, KeySpec, ShardCtx, KEY1};
use crate::conn::ConnCtx;
use crate::persist::SaveError;
use bytes::Bytes;
use persistence::dump::RestoreError;
use std::sync::atomic::Ordering;
use storage::db::{lru_clock, LRU_CLOCK_MAX};
use storage::{CmdError, CmdResult, Entry, Reply};

const ADMIN_ACL: &[&str] = &["admin", "slow", "dangerous"];

/// The persistence family's rows.
pub static COMMANDS: &[CommandSpec] = &[
    row("save", 1, ADMIN | NOSCRIPT | NO_ASYNC_LOADING | NO_MULTI, KEYS_NONE, Exec::Coord(save))
        .acl(ADMIN_ACL)
        .doc("server", "1.0.0", "Synchronously saves the database(s) to disk.", "O(N) where N is the total number of keys in all databases"),
    row("bgsave", -1, ADMIN | NOSCRIPT | NO_ASYNC_LOADING, KEYS_NONE, Exec::Coord(bgsave))
        .history(&[("3.2.2", "Added the `SCHEDULE` option.")])
        .acl(ADMIN_ACL)
        .doc("server", "1.0.0", "Asynchronously saves the database(s) to disk.", "O(1)"),
    row("lastsave", 1, LOADING | STALE | FAST, KEYS_NONE, Exec::Coord(lastsave))
        .acl(&["admin", "fast", "dangerous"])
        .tips(&["nondeterministic_output"])
        .doc("server", "1.0.0", "Returns the Unix timestamp of the last successful save to disk.", "O(1)"),
    row("dump", 2, READONLY, KEY1, Exec::Shard(dump))
        .key_specs(&[KeySpec::at(&["RO", "access"], 1)])
        .acl(&["keyspace", "read", "slow"])
        .tips(&["nondeterministic_output"])
        .doc("generic", "2.6.0", "Returns a serialized representation of the value stored at a key.", "O(1) to access the key and additional O(N*M) to serialize it, where N is the number of Redis objects composing the value and M their average size. For small string values the time complexity is thus O(1)+O(1*M) where M is small, so simply O(1)."),
    row("restore", -4, WRITE | DENYOOM, KEY1, Exec::Shard(restore))
        .key_specs(&[KeySpec::at(&["OW", "update"], 1)])
        .history(&[
            ("3.0.0", "Added the `REPLACE` modifier."),
            ("5.0.0", "Added the `ABSTTL` modifier."),
            ("5.0.0", "Added the `IDLETIME` and `FREQ` options."),
        ])
        .acl(&["keyspace", "write", "slow", "dangerous"])
        .doc("generic", "2.6.0", "Creates a key from the serialized representation of a value.", "O(1) to create the new key and additional O(N*M) to reconstruct the serialized value, where N is the number of Redis objects composing the value and M their average size. For small string values the time complexity is thus O(1)+O(1*M) where M is small, so simply O(1). However for sorted set values the complexity is O(N*M*log(N)) because inserting values into sorted sets is O(log(N))."),
];

const KEYS_NONE: crate::command::Keys = crate::command::Keys::None;

fn save(ctx: &mut ConnCtx, _argv: Vec<Bytes>) -> CmdFuture<'_> {
    Box::pin(async move {
        match crate::persist::save(&ctx.worker.shared).await {
            Ok(()) => Ok(Reply::Ok),
            Err(SaveError::InProgress) => {
                Err(CmdError::msg("ERR Background save already in progress"))
            }
            Err(SaveError::Failed) => Err(CmdError::msg("ERR")),
        }
    })
}

/// BGSAVE [SCHEDULE]. With no AOF rewrite to wait for, SCHEDULE starts a
/// save at once, as in Redis when no child process is active.
fn bgsave(ctx: &mut ConnCtx, argv: Vec<Bytes>) -> CmdFuture<'_> {
    Box::pin(async move {
        if argv.len() > 2 || (argv.len() == 2 && !is(&argv[1], "schedule")) {
            return Err(CmdError::Syntax);
        }
        match crate::persist::bgsave(&ctx.worker.shared).await {
            Ok(()) => Ok(Reply::Status("Background saving started".into())),
            Err(SaveError::InProgress) => {
                Err(CmdError::msg("ERR Background save already in progress"))
            }
            Err(SaveError::Failed) => Err(CmdError::msg("ERR")),
        }
    })
}

fn lastsave(ctx: &mut ConnCtx, _argv: Vec<Bytes>) -> CmdFuture<'_> {
    Box::pin(async move {
        Ok(Reply::Int(
            ctx.worker.shared.persist.last_save.load(Ordering::Relaxed) as i64,
        ))
    })
}

/// DUMP key: the value's payload, or nil.
fn dump(ctx: &mut ShardCtx<'_>, argv: &[Bytes]) -> CmdResult<Reply> {
    let now = ctx.shard.now_ms();
    let compress = ctx.limits.rdbcompression;
    let Some(e) = ctx.shard.dbs[ctx.db].lookup_read(&argv[1], now, ctx.touch) else {
        return Ok(Reply::Nil);
    };
    let payload =
        crate::persist::with_encoder(compress, |enc| persistence::dump::dump(enc, &e.value, now));
    Ok(payload.map_or(Reply::Nil, |p| Reply::Bulk(Bytes::from(p))))
}

/// RESTORE key ttl serialized-value [REPLACE] [ABSTTL] [IDLETIME seconds]
/// [FREQ frequency], checked in Redis's order: options, existing key,
/// TTL, payload footer, payload body.
fn restore(ctx: &mut ShardCtx<'_>, argv: &[Bytes]) -> CmdResult<Reply> {
    let (mut replace, mut absttl) = (false, false);
    let (mut idle, mut freq): (Option<i64>, Option<i64>) = (None, None);
    let mut j = 4;
    while j < argv.len() {
        let more = argv.len() - j - 1;
        let a = &argv[j];
        if is(a, "replace") {
            replace = true;
        } else if is(a, "absttl") {
            absttl = true;
        } else if is(a, "idletime") && more >= 1 && freq.is_none() {
            let v = storage::numfmt::parse_i64(&argv[j + 1]).ok_or(CmdError::NotInteger)?;
            if v < 0 {
                return Err(CmdError::msg("ERR Invalid IDLETIME value, must be >= 0"));
            }
            idle = Some(v);
            j += 1;
        } else if is(a, "freq") && more >= 1 && idle.is_none() {
            let v = storage::numfmt::parse_i64(&argv[j + 1]).ok_or(CmdError::NotInteger)?;
            if !(0..=255).contains(&v) {
                return Err(CmdError::msg(
                    "ERR Invalid FREQ value, must be >= 0 and <= 255",
                ));
            }
            freq = Some(v);
            j += 1;
        } else {
            return Err(CmdError::Syntax);
        }
        j += 1;
    }
    let key = &argv[1];
    let now = ctx.shard.now_ms();
    let exists = ctx.shard.dbs[ctx.db].lookup_write(key, now).is_some();
    if exists && !replace {
        return Err(CmdError::msg("BUSYKEY Target key name already exists."));
    }
    let ttl = storage::numfmt::parse_i64(&argv[2]).ok_or(CmdError::NotInteger)?;
    if ttl < 0 {
        return Err(CmdError::msg("ERR Invalid TTL value, must be >= 0"));
    }
    let opts = persistence::LoadOptions {
        thresholds: ctx.limits.thresholds,
        now_ms: now,
        databases: ctx.limits.databases,
    };
    let value = persistence::dump::restore(&argv[3], &opts).map_err(|e| match e {
        RestoreError::VersionOrChecksum => {
            CmdError::msg("ERR DUMP payload version or checksum are wrong")
        }
        RestoreError::BadFormat => CmdError::msg("ERR Bad data format"),
    })?;
    let db = &mut ctx.shard.dbs[ctx.db];
    if replace {
        db.remove(key);
    }
    let deadline = match ttl {
        0 => None,
        t if absttl => Some(t as u64),
        t => Some(now.saturating_add(t as u64)),
    };
    // A deadline already passed: the key is not created (an existing one
    // was deleted by REPLACE), as Redis's checkAlreadyExpired.
    if deadline.is_some_and(|d| d <= now) {
        return Ok(Reply::Ok);
    }
    // Redis's objectSetLRUOrLFU: under an LFU policy FREQ sets the
    // counter (IDLETIME is ignored), under any other IDLETIME sets the
    // clock (FREQ is ignored); otherwise a new key's value.
    let access = ctx.limits.memory.access();
    let lru = match (access.lfu.is_some(), freq, idle) {
        (true, Some(f), _) => storage::evict::lfu_pack(now, f as u8),
        (false, _, Some(secs)) => {
            lru_clock(now).wrapping_sub(secs.min(LRU_CLOCK_MAX as i64) as u32)
        }
        _ => access.initial(now),
    };
    db.insert_entry(key, Entry::with_expire(value, deadline, lru));
    Ok(Reply::Ok)
}
