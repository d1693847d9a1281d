//! Connection commands: PING, ECHO, SELECT, QUIT, HELLO, AUTH.

use crate::command::args::Args;
use crate::command::flags::*;
use crate::command::{row, CmdFuture, CommandSpec, Exec, Keys};
use crate::conn::ConnCtx;
use crate::protocol::encode::Resp;
use bytes::Bytes;
use std::sync::atomic::Ordering;
use storage::{CmdError, CmdResult, Reply};

/// The connection family's rows.
pub static COMMANDS: &[CommandSpec] = &[
    row("ping", -1, FAST | SENTINEL, Keys::None, Exec::Coord(ping))
        .acl(&["fast", "connection"])
        .tips(&["request_policy:all_shards", "response_policy:all_succeeded"])
        .doc(
            "connection",
            "1.0.0",
            "Returns the server's liveliness response.",
            "O(1)",
        ),
    row(
        "echo",
        2,
        LOADING | STALE | FAST,
        Keys::None,
        Exec::Coord(echo),
    )
    .acl(&["fast", "connection"])
    .doc("connection", "1.0.0", "Returns the given string.", "O(1)"),
    row(
        "select",
        2,
        LOADING | STALE | FAST,
        Keys::None,
        Exec::Coord(select),
    )
    .acl(&["fast", "connection"])
    .doc(
        "connection",
        "2.0.0",
        "Changes the selected database.",
        "O(1)",
    ),
    row(
        "quit",
        -1,
        ALLOW_BUSY | NOSCRIPT | LOADING | STALE | FAST | NO_AUTH,
        Keys::None,
        Exec::Coord(quit),
    )
    .acl(&["fast", "connection"])
    .doc("connection", "1.0.0", "Closes the connection.", "O(1)"),
    row(
        "hello",
        -1,
        NOSCRIPT | LOADING | STALE | FAST | NO_AUTH | SENTINEL | ALLOW_BUSY,
        Keys::None,
        Exec::Coord(hello),
    )
        .history(&[
            ("6.2.0", "`protover` made optional; when called without arguments the command reports the current connection's context."),
        ])
    .acl(&["fast", "connection"])
    .doc(
        "connection",
        "6.0.0",
        "Handshakes with the Redis server.",
        "O(1)",
    ),
    row(
        "auth",
        -2,
        NOSCRIPT | LOADING | STALE | FAST | NO_AUTH | SENTINEL | ALLOW_BUSY,
        Keys::None,
        Exec::Coord(auth),
    )
        .history(&[
            ("6.0.0", "Added ACL style (username and password)."),
        ])
    .acl(&["fast", "connection"])
    .doc(
        "connection",
        "1.0.0",
        "Authenticates the connection.",
        "O(N) where N is the number of passwords defined for the user",
    ),
];

fn ping(ctx: &mut ConnCtx, argv: Vec<Bytes>) -> CmdFuture<'_> {
    Box::pin(async move {
        // A RESP2 subscriber gets a message-shaped reply (Redis).
        if ctx.client.resp == Resp::V2 && ctx.client.subs.active() && argv.len() <= 2 {
            let arg = argv.get(1).cloned().unwrap_or_default();
            return Ok(Reply::Array(vec![
                Reply::bulk_static("pong"),
                Reply::Bulk(arg),
            ]));
        }
        match argv.len() {
            1 => Ok(Reply::status("PONG")),
            2 => Ok(Reply::Bulk(argv[1].clone())),
            _ => Err(CmdError::WrongArity("ping".into())),
        }
    })
}

fn echo(_ctx: &mut ConnCtx, argv: Vec<Bytes>) -> CmdFuture<'_> {
    Box::pin(async move { Ok(Reply::Bulk(argv[1].clone())) })
}

fn select(ctx: &mut ConnCtx, argv: Vec<Bytes>) -> CmdFuture<'_> {
    Box::pin(async move {
        let idx = Args::new(&argv).i64()?;
        let databases = ctx.worker.env.borrow().limits.databases as i64;
        if idx < 0 || idx >= databases {
            return Err(CmdError::DbIndexOutOfRange);
        }
        ctx.client.db = idx as usize;
        ctx.client.info.db.store(idx as usize, Ordering::Relaxed);
        Ok(Reply::Ok)
    })
}

fn quit(ctx: &mut ConnCtx, _argv: Vec<Bytes>) -> CmdFuture<'_> {
    Box::pin(async move {
        ctx.client.close_after_reply = true;
        Ok(Reply::Ok)
    })
}

/// Checks a password against requirepass; Redis's errors for the two forms.
fn check_password(ctx: &mut ConnCtx, user: Option<&[u8]>, pass: &[u8]) -> CmdResult<()> {
    let required = ctx
        .worker
        .shared
        .config()
        .requirepass()
        .map(|p| p.to_vec())
        .unwrap_or_default();
    if user.is_none() && required.is_empty() {
        return Err(CmdError::msg(
            "ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?",
        ));
    }
    let user_ok = user.map(|u| u == b"default").unwrap_or(true);
    let pass_ok = required.is_empty() || pass == required.as_slice();
    if user_ok && pass_ok {
        ctx.client.authenticated = true;
        Ok(())
    } else {
        Err(CmdError::msg(
            "WRONGPASS invalid username-password pair or user is disabled.",
        ))
    }
}

fn auth(ctx: &mut ConnCtx, argv: Vec<Bytes>) -> CmdFuture<'_> {
    Box::pin(async move {
        match argv.len() {
            2 => check_password(ctx, None, &argv[1])?,
            3 => check_password(ctx, Some(&argv[1]), &argv[2])?,
            _ => return Err(CmdError::Syntax),
        }
        Ok(Reply::Ok)
    })
}

fn hello(ctx: &mut ConnCtx, argv: Vec<Bytes>) -> CmdFuture<'_> {
    Box::pin(async move {
        let mut args = Args::new(&argv);
        let mut proto = None;
        if !args.is_done() {
            let v = storage::numfmt::parse_i64(args.bytes()?).ok_or_else(|| {
                CmdError::msg("ERR Protocol version is not an integer or out of range")
            })?;
            if !(2..=3).contains(&v) {
                return Err(CmdError::msg("NOPROTO unsupported protocol version"));
            }
            proto = Some(v);
        }
        let mut setname = None;
        while !args.is_done() {
            let opt = args.bytes()?;
            if opt.eq_ignore_ascii_case(b"AUTH") && args.remaining() >= 2 {
                let user = args.bytes()?.clone();
                let pass = args.bytes()?.clone();
                check_password(ctx, Some(&user), &pass)?;
            } else if opt.eq_ignore_ascii_case(b"SETNAME") && args.remaining() >= 1 {
                let name = args.bytes()?.clone();
                crate::commands::connection::validate_name(&name)?;
                setname = Some(name);
            } else {
                return Err(CmdError::Other(
                    format!(
                        "ERR Syntax error in HELLO option '{}'",
                        String::from_utf8_lossy(opt)
                    )
                    .into(),
                ));
            }
        }
        if !ctx.client.authenticated {
            return Err(CmdError::msg(
                "NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO <proto> AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time",
            ));
        }
        if let Some(name) = setname {
            if let Ok(mut n) = ctx.client.info.names.lock() {
                n.name = String::from_utf8_lossy(&name).into_owned();
            }
        }
        if let Some(p) = proto {
            ctx.client.resp = if p == 3 { Resp::V3 } else { Resp::V2 };
            ctx.client.info.resp.store(p as u8, Ordering::Relaxed);
        }
        let proto_now = if ctx.client.resp == Resp::V3 { 3 } else { 2 };
        Ok(Reply::Map(vec![
            (Reply::bulk_static("server"), Reply::bulk_static("redis")),
            (
                Reply::bulk_static("version"),
                Reply::bulk_static(crate::REDIS_VERSION),
            ),
            (Reply::bulk_static("proto"), Reply::Int(proto_now)),
            (Reply::bulk_static("id"), Reply::Int(ctx.client.id as i64)),
            (Reply::bulk_static("mode"), Reply::bulk_static("standalone")),
            (Reply::bulk_static("role"), Reply::bulk_static("master")),
            (Reply::bulk_static("modules"), Reply::Array(vec![])),
        ]))
    })
}

/// Redis's rule for connection names: no spaces, newlines or other
/// characters outside '!'..='~'.
pub fn validate_name(name: &[u8]) -> CmdResult<()> {
    if name.iter().any(|&c| !(b'!'..=b'~').contains(&c)) {
        return Err(CmdError::msg(
            "ERR Client names cannot contain spaces, newlines or special characters.",
        ));
    }
    Ok(())
}
