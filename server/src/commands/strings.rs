//! String commands.

use crate::command::args::Args;
use crate::command::flags::*;
use crate::command::{row, CommandSpec, Exec, ShardCtx, KEY1};
use bytes::Bytes;
use storage::{CmdError, CmdResult, Reply, Str, Value};

/// The string family's rows.
pub static COMMANDS: &[CommandSpec] = &[
    row("get", 2, READONLY | FAST, KEY1, Exec::Shard(get))
        .acl(&["read", "string", "fast"])
        .doc("string", "1.0.0", "Returns the string value of a key.", "O(1)"),
    row("set", -3, WRITE | DENYOOM, KEY1, Exec::Shard(set))
        .acl(&["write", "string", "slow"])
        .doc("string", "1.0.0", "Sets the string value of a key, ignoring its type. The key is created if it doesn't exist.", "O(1)"),
];

/// The string at `key` for reading: `None` if absent, WRONGTYPE if not a string.
pub fn read_str<'a>(ctx: &'a mut ShardCtx<'_>, key: &[u8]) -> CmdResult<Option<&'a Str>> {
    let now = ctx.shard.now_ms();
    let touch = ctx.touch;
    match ctx.shard.dbs[ctx.db].lookup_read(key, now, touch) {
        None => Ok(None),
        Some(e) => match &e.value {
            Value::Str(s) => Ok(Some(s)),
            #[allow(unreachable_patterns)]
            _ => Err(CmdError::WrongType),
        },
    }
}

fn get(ctx: &mut ShardCtx<'_>, argv: &[Bytes]) -> CmdResult<Reply> {
    Ok(match read_str(ctx, &argv[1])? {
        Some(s) => Reply::Bulk(s.to_bytes()),
        None => Reply::Nil,
    })
}

/// The condition and expiry options shared by SET and its relatives.
#[derive(Default)]
struct SetOptions {
    nx: bool,
    xx: bool,
    get: bool,
    keepttl: bool,
    /// Absolute deadline in ms.
    expire_at: Option<u64>,
}

/// Parses SET's options (Redis's parseExtendedStringArgumentsOrReply).
fn parse_set_options(args: &mut Args<'_>, now_ms: u64) -> CmdResult<SetOptions> {
    let mut o = SetOptions::default();
    let mut has_expire = false;
    while !args.is_done() {
        let a = args.bytes()?;
        let up = a.to_ascii_uppercase();
        match up.as_slice() {
            b"NX" if !o.xx => o.nx = true,
            b"XX" if !o.nx => o.xx = true,
            b"GET" => o.get = true,
            b"KEEPTTL" if !has_expire => o.keepttl = true,
            b"EX" | b"PX" | b"EXAT" | b"PXAT" if !o.keepttl && !has_expire && !args.is_done() => {
                has_expire = true;
                let v = args.i64()?;
                o.expire_at = Some(expire_deadline(&up, v, now_ms, "set")?);
            }
            _ => return Err(CmdError::Syntax),
        }
    }
    Ok(o)
}

/// Converts an EX/PX/EXAT/PXAT amount into an absolute deadline in ms,
/// with Redis's checks (positive, no overflow).
pub fn expire_deadline(unit: &[u8], v: i64, now_ms: u64, cmd: &str) -> CmdResult<u64> {
    let err = || CmdError::InvalidExpire(cmd.to_string());
    if v <= 0 {
        return Err(err());
    }
    let seconds = unit.eq_ignore_ascii_case(b"EX") || unit.eq_ignore_ascii_case(b"EXAT");
    let relative = unit.eq_ignore_ascii_case(b"EX") || unit.eq_ignore_ascii_case(b"PX");
    let mut ms = if seconds {
        v.checked_mul(1000).ok_or_else(err)?
    } else {
        v
    };
    if relative {
        ms = ms.checked_add(now_ms as i64).ok_or_else(err)?;
    }
    if ms <= 0 {
        return Err(err());
    }
    Ok(ms as u64)
}

fn set(ctx: &mut ShardCtx<'_>, argv: &[Bytes]) -> CmdResult<Reply> {
    let now = ctx.shard.now_ms();
    let mut args = Args::at(argv, 3);
    let o = parse_set_options(&mut args, now)?;
    let key = &argv[1];
    let old = if o.get {
        Some(match read_str(ctx, key)? {
            Some(s) => Reply::Bulk(s.to_bytes()),
            None => Reply::Nil,
        })
    } else {
        None
    };
    let db = &mut ctx.shard.dbs[ctx.db];
    let existing = db.lookup_write(key, now);
    let found = existing.is_some();
    if (o.nx && found) || (o.xx && !found) {
        return Ok(old.unwrap_or(Reply::Nil));
    }
    let keep = if o.keepttl {
        existing.and_then(|e| e.expire_at())
    } else {
        None
    };
    let value = Value::Str(Str::from_bytes(&argv[2]));
    db.insert_with_expire(key, value, o.expire_at.or(keep), now);
    Ok(old.unwrap_or(Reply::Ok))
}
