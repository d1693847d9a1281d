//! Expiry commands: EXPIRE, PEXPIRE, EXPIREAT, PEXPIREAT (with NX, XX, GT,
//! LT), TTL, PTTL, EXPIRETIME, PEXPIRETIME, PERSIST.
//!
//! Deadlines are absolute Unix milliseconds. Setting one that is already
//! past deletes the key at once, as a plain deletion (Redis replicates it
//! as DEL and does not count it in `expired_keys`).

use crate::command::flags::*;
use crate::command::{row, CommandSpec, Exec, KeySpec, ShardCtx, KEY1};
use crate::config::notify::GENERIC;
use bytes::Bytes;
use storage::{CmdError, CmdResult, Reply};

/// The expiry family's rows.
pub static COMMANDS: &[CommandSpec] = &[
    row("expire", -3, WRITE | FAST, KEY1, Exec::Shard(expire))
        .history(&[("7.0.0", "Added options: `NX`, `XX`, `GT` and `LT`.")])
        .key_specs(&[KeySpec::at(&["RW", "update"], 1)])
        .acl(&["keyspace", "write", "fast"])
        .doc(
            "generic",
            "1.0.0",
            "Sets the expiration time of a key in seconds.",
            "O(1)",
        ),
    row("pexpire", -3, WRITE | FAST, KEY1, Exec::Shard(pexpire))
        .history(&[("7.0.0", "Added options: `NX`, `XX`, `GT` and `LT`.")])
        .key_specs(&[KeySpec::at(&["RW", "update"], 1)])
        .acl(&["keyspace", "write", "fast"])
        .doc(
            "generic",
            "2.6.0",
            "Sets the expiration time of a key in milliseconds.",
            "O(1)",
        ),
    row("expireat", -3, WRITE | FAST, KEY1, Exec::Shard(expireat))
        .history(&[("7.0.0", "Added options: `NX`, `XX`, `GT` and `LT`.")])
        .key_specs(&[KeySpec::at(&["RW", "update"], 1)])
        .acl(&["keyspace", "write", "fast"])
        .doc(
            "generic",
            "1.2.0",
            "Sets the expiration time of a key to a Unix timestamp.",
            "O(1)",
        ),
    row("pexpireat", -3, WRITE | FAST, KEY1, Exec::Shard(pexpireat))
        .history(&[("7.0.0", "Added options: `NX`, `XX`, `GT` and `LT`.")])
        .key_specs(&[KeySpec::at(&["RW", "update"], 1)])
        .acl(&["keyspace", "write", "fast"])
        .doc(
            "generic",
            "2.6.0",
            "Sets the expiration time of a key to a Unix milliseconds timestamp.",
            "O(1)",
        ),
    row("ttl", 2, READONLY | FAST, KEY1, Exec::Shard(ttl))
        .history(&[("2.8.0", "Added the -2 reply.")])
        .key_specs(&[KeySpec::at(&["RO", "access"], 1)])
        .acl(&["keyspace", "read", "fast"])
        .tips(&["nondeterministic_output"])
        .doc(
            "generic",
            "1.0.0",
            "Returns the expiration time in seconds of a key.",
            "O(1)",
        ),
    row("pttl", 2, READONLY | FAST, KEY1, Exec::Shard(pttl))
        .history(&[("2.8.0", "Added the -2 reply.")])
        .key_specs(&[KeySpec::at(&["RO", "access"], 1)])
        .acl(&["keyspace", "read", "fast"])
        .tips(&["nondeterministic_output"])
        .doc(
            "generic",
            "2.6.0",
            "Returns the expiration time in milliseconds of a key.",
            "O(1)",
        ),
    row(
        "expiretime",
        2,
        READONLY | FAST,
        KEY1,
        Exec::Shard(expiretime),
    )
    .key_specs(&[KeySpec::at(&["RO", "access"], 1)])
    .acl(&["keyspace", "read", "fast"])
    .doc(
        "generic",
        "7.0.0",
        "Returns the expiration time of a key as a Unix timestamp.",
        "O(1)",
    ),
    row(
        "pexpiretime",
        2,
        READONLY | FAST,
        KEY1,
        Exec::Shard(pexpiretime),
    )
    .key_specs(&[KeySpec::at(&["RO", "access"], 1)])
    .acl(&["keyspace", "read", "fast"])
    .doc(
        "generic",
        "7.0.0",
        "Returns the expiration time of a key as a Unix milliseconds timestamp.",
        "O(1)",
    ),
    row("persist", 2, WRITE | FAST, KEY1, Exec::Shard(persist))
        .key_specs(&[KeySpec::at(&["RW", "update"], 1)])
        .acl(&["keyspace", "write", "fast"])
        .doc(
            "generic",
            "2.2.0",
            "Removes the expiration time of a key.",
            "O(1)",
        ),
];

fn expire(ctx: &mut ShardCtx<'_>, argv: &[Bytes]) -> CmdResult<Reply> {
    expire_generic(ctx, argv, "expire", true, true)
}

fn pexpire(ctx: &mut ShardCtx<'_>, argv: &[Bytes]) -> CmdResult<Reply> {
    expire_generic(ctx, argv, "pexpire", true, false)
}

fn expireat(ctx: &mut ShardCtx<'_>, argv: &[Bytes]) -> CmdResult<Reply> {
    expire_generic(ctx, argv, "expireat", false, true)
}

fn pexpireat(ctx: &mut ShardCtx<'_>, argv: &[Bytes]) -> CmdResult<Reply> {
    expire_generic(ctx, argv, "pexpireat", false, false)
}

/// The NX / XX / GT / LT conditions.
#[derive(Default, Debug, PartialEq)]
struct Conditions {
    nx: bool,
    xx: bool,
    gt: bool,
    lt: bool,
}

/// Parses the conditions after the amount, with Redis's errors.
fn parse_conditions(opts: &[Bytes]) -> CmdResult<Conditions> {
    let mut c = Conditions::default();
    for opt in opts {
        match opt.to_ascii_lowercase().as_slice() {
            b"nx" => c.nx = true,
            b"xx" => c.xx = true,
            b"gt" => c.gt = true,
            b"lt" => c.lt = true,
            _ => {
                // Redis prints the option as a C string.
                let end = opt.iter().position(|&b| b == 0).unwrap_or(opt.len());
                return Err(CmdError::Other(
                    format!(
                        "ERR Unsupported option {}",
                        String::from_utf8_lossy(&opt[..end])
                    )
                    .into(),
                ));
            }
        }
    }
    if c.nx && (c.xx || c.gt || c.lt) {
        return Err(CmdError::msg(
            "ERR NX and XX, GT or LT options at the same time are not compatible",
        ));
    }
    if c.gt && c.lt {
        return Err(CmdError::msg(
            "ERR GT and LT options at the same time are not compatible",
        ));
    }
    Ok(c)
}

/// The absolute deadline in ms for an amount, with Redis's overflow checks.
/// May be zero or negative: that means "already expired".
fn deadline(amount: i64, seconds: bool, basetime: i64, cmd: &str) -> CmdResult<i64> {
    let err = || CmdError::InvalidExpire(cmd.to_string());
    let ms = if seconds {
        amount.checked_mul(1000).ok_or_else(err)?
    } else {
        amount
    };
    if ms > i64::MAX - basetime {
        return Err(err());
    }
    Ok(ms + basetime)
}

/// Whether the conditions let a key with `current` deadline get `when`.
fn conditions_allow(c: &Conditions, current: Option<i64>, when: i64) -> bool {
    if c.nx && current.is_some() {
        return false;
    }
    if c.xx && current.is_none() {
        return false;
    }
    // No deadline counts as an infinite one.
    if c.gt && current.is_none_or(|cur| when <= cur) {
        return false;
    }
    if c.lt && current.is_some_and(|cur| when >= cur) {
        return false;
    }
    true
}

/// EXPIRE and its relatives: `relative` adds the current time, `seconds`
/// scales the amount.
fn expire_generic(
    ctx: &mut ShardCtx<'_>,
    argv: &[Bytes],
    cmd: &str,
    relative: bool,
    seconds: bool,
) -> CmdResult<Reply> {
    let cond = parse_conditions(&argv[3..])?;
    let amount = storage::numfmt::parse_i64(&argv[2]).ok_or(CmdError::NotInteger)?;
    let now = ctx.shard.now_ms();
    let basetime = if relative {
        i64::try_from(now).unwrap_or(i64::MAX)
    } else {
        0
    };
    let when = deadline(amount, seconds, basetime, cmd)?;
    let key = &argv[1];
    let db = &mut ctx.shard.dbs[ctx.db];
    let Some(entry) = db.lookup_write(key, now) else {
        return Ok(Reply::Int(0));
    };
    let current = entry
        .expire_at()
        .map(|t| i64::try_from(t).unwrap_or(i64::MAX));
    if !conditions_allow(&cond, current, when) {
        return Ok(Reply::Int(0));
    }
    match u64::try_from(when) {
        Ok(w) if w > now => {
            db.set_expire(key, Some(w));
            ctx.notify(GENERIC, "expire", key);
        }
        _ => {
            // A deadline already past deletes the key (Redis's
            // deleteExpiredKeyFromOverwriteAndPropagate: a `del`).
            db.remove(key);
            ctx.notify(GENERIC, "del", key);
        }
    }
    Ok(Reply::Int(1))
}

/// TTL and its relatives: `ms` for milliseconds, `absolute` for the deadline
/// itself rather than the time left.
fn ttl_generic(
    ctx: &mut ShardCtx<'_>,
    argv: &[Bytes],
    ms: bool,
    absolute: bool,
) -> CmdResult<Reply> {
    let now = ctx.shard.now_ms();
    let Some(entry) = ctx.shard.dbs[ctx.db].lookup_read(&argv[1], now, false) else {
        return Ok(Reply::Int(-2));
    };
    let Some(at) = entry.expire_at() else {
        return Ok(Reply::Int(-1));
    };
    let at = i64::try_from(at).unwrap_or(i64::MAX);
    let left = if absolute {
        at
    } else {
        at.saturating_sub(i64::try_from(now).unwrap_or(i64::MAX))
    }
    .max(0);
    // Rounded to the nearest second without overflow: Redis answers
    // 9223372036854776 for a deadline of i64::MAX ms.
    Ok(Reply::Int(if ms {
        left
    } else {
        ((i128::from(left) + 500) / 1000) as i64
    }))
}

fn ttl(ctx: &mut ShardCtx<'_>, argv: &[Bytes]) -> CmdResult<Reply> {
    ttl_generic(ctx, argv, false, false)
}

fn pttl(ctx: &mut ShardCtx<'_>, argv: &[Bytes]) -> CmdResult<Reply> {
    ttl_generic(ctx, argv, true, false)
}

fn expiretime(ctx: &mut ShardCtx<'_>, argv: &[Bytes]) -> CmdResult<Reply> {
    ttl_generic(ctx, argv, false, true)
}

fn pexpiretime(ctx: &mut ShardCtx<'_>, argv: &[Bytes]) -> CmdResult<Reply> {
    ttl_generic(ctx, argv, true, true)
}

fn persist(ctx: &mut ShardCtx<'_>, argv: &[Bytes]) -> CmdResult<Reply> {
    let now = ctx.shard.now_ms();
    let db = &mut ctx.shard.dbs[ctx.db];
    let had = match db.lookup_write(&argv[1], now) {
        Some(e) => e.expire_at().is_some(),
        None => false,
    };
    if had {
        db.set_expire(&argv[1], None);
        ctx.notify(GENERIC, "persist", &argv[1]);
    }
    Ok(Reply::Int(i64::from(had)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(words: &[&str]) -> Vec<Bytes> {
        words
            .iter()
            .map(|w| Bytes::copy_from_slice(w.as_bytes()))
            .collect()
    }

    #[test]
    fn conditions_parse_with_redis_errors() {
        assert_eq!(
            parse_conditions(&opts(&["nx"])),
            Ok(Conditions {
                nx: true,
                ..Default::default()
            })
        );
        assert!(parse_conditions(&opts(&["XX", "gt"])).is_ok());
        let e = |w: &[&str]| parse_conditions(&opts(w)).map_err(|e| e.message().into_owned());
        assert_eq!(
            e(&["nx", "xx"]),
            Err("ERR NX and XX, GT or LT options at the same time are not compatible".into())
        );
        assert_eq!(
            e(&["lt", "nx"]),
            Err("ERR NX and XX, GT or LT options at the same time are not compatible".into())
        );
        assert_eq!(
            e(&["gt", "lt"]),
            Err("ERR GT and LT options at the same time are not compatible".into())
        );
        assert_eq!(e(&["foo"]), Err("ERR Unsupported option foo".into()));
    }

    #[test]
    fn deadlines_check_overflow() {
        assert_eq!(deadline(10, true, 1000, "expire"), Ok(11_000));
        assert_eq!(deadline(-10, false, 0, "pexpireat"), Ok(-10));
        assert!(deadline(i64::MAX / 1000 + 1, true, 0, "expire").is_err());
        assert!(deadline(i64::MIN / 1000 - 1, true, 0, "expire").is_err());
        assert!(deadline(i64::MAX, false, 1, "pexpire").is_err());
        assert_eq!(deadline(i64::MAX, false, 0, "pexpireat"), Ok(i64::MAX));
        assert_eq!(
            deadline(i64::MAX, false, 1, "pexpire").map_err(|e| e.message().into_owned()),
            Err("ERR invalid expire time in 'pexpire' command".into())
        );
    }

    #[test]
    fn conditions_compare_like_redis() {
        let c = |w: &[&str]| parse_conditions(&opts(w)).expect("valid");
        assert!(conditions_allow(&c(&[]), Some(5), 1));
        assert!(!conditions_allow(&c(&["nx"]), Some(5), 10));
        assert!(conditions_allow(&c(&["nx"]), None, 10));
        assert!(!conditions_allow(&c(&["xx"]), None, 10));
        // GT: no deadline is infinite, so GT never applies to it.
        assert!(!conditions_allow(&c(&["gt"]), None, 10));
        assert!(conditions_allow(&c(&["gt"]), Some(5), 10));
        assert!(!conditions_allow(&c(&["gt"]), Some(10), 10));
        // LT: always applies to a key without deadline.
        assert!(conditions_allow(&c(&["lt"]), None, 10));
        assert!(conditions_allow(&c(&["lt"]), Some(11), 10));
        assert!(!conditions_allow(&c(&["lt"]), Some(10), 10));
        assert!(!conditions_allow(&c(&["xx", "lt"]), None, 10));
    }
}
