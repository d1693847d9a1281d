//! CLIENT and RESET: the connection's own state and the registry of
//! connected clients (see `clients.rs`).

use crate::clients::ClientInfo;
use crate::command::args::is;
use crate::command::flags::*;
use crate::command::{row, CmdFuture, CommandSpec, Exec, Keys};
use crate::conn::{ConnCtx, ReplyMode};
use crate::pause::PauseMode;
use crate::protocol::encode::Resp;
use bytes::Bytes;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};
use storage::{CmdError, CmdResult, Reply};

const CONN: &[&str] = &["slow", "connection"];
const ADMIN_CONN: &[&str] = &["admin", "slow", "dangerous", "connection"];
const SUB: u32 = NOSCRIPT | LOADING | STALE;

/// CLIENT's subcommands.
static CLIENT_SUBS: &[CommandSpec] = &[
    row(
        "caching",
        3,
        SUB,
        Keys::None,
        Exec::Coord(crate::commands::tracking::caching),
    )
    .acl(CONN)
    .doc(
        "connection",
        "6.0.0",
        "Instructs the server whether to track the keys in the next request.",
        "O(1)",
    ),
    row("getname", 2, SUB, Keys::None, Exec::Coord(getname))
        .acl(CONN)
        .doc(
            "connection",
            "2.6.9",
            "Returns the name of the connection.",
            "O(1)",
        ),
    row(
        "getredir",
        2,
        SUB,
        Keys::None,
        Exec::Coord(crate::commands::tracking::getredir),
    )
    .acl(CONN)
    .doc(
        "connection",
        "6.0.0",
        "Returns the client ID to which the connection's tracking notifications are redirected.",
        "O(1)",
    ),
    row("help", 2, LOADING | STALE, Keys::None, Exec::Coord(help))
        .acl(CONN)
        .doc(
            "connection",
            "5.0.0",
            "Returns helpful text about the different subcommands.",
            "O(1)",
        ),
    row("id", 2, SUB, Keys::None, Exec::Coord(id))
        .acl(CONN)
        .doc(
            "connection",
            "5.0.0",
            "Returns the unique client ID of the connection.",
            "O(1)",
        ),
    row("info", 2, SUB, Keys::None, Exec::Coord(info))
        .acl(CONN)
        .tips(&["nondeterministic_output"])
        .doc(
            "connection",
            "6.2.0",
            "Returns information about the connection.",
            "O(1)",
        ),
    row("kill", -3, ADMIN | SUB, Keys::None, Exec::Coord(kill))
        .history(&[
            ("2.8.12", "Added new filter format."),
            ("2.8.12", "`ID` option."),
            ("3.2.0", "Added `master` type in for `TYPE` option."),
            ("5.0.0", "Replaced `slave` `TYPE` with `replica`. `slave` still supported for backward compatibility."),
            ("6.2.0", "`LADDR` option."),
        ])
        .acl(ADMIN_CONN)
        .doc(
            "connection",
            "2.4.0",
            "Terminates open connections.",
            "O(N) where N is the number of client connections",
        ),
    row("list", -2, ADMIN | SUB, Keys::None, Exec::Coord(list))
        .history(&[
            ("2.8.12", "Added unique client `id` field."),
            ("5.0.0", "Added optional `TYPE` filter."),
            ("6.0.0", "Added `user` field."),
            ("6.2.0", "Added `argv-mem`, `tot-mem`, `laddr` and `redir` fields and the optional `ID` filter."),
            ("7.0.0", "Added `resp`, `multi-mem`, `rbs` and `rbp` fields."),
            ("7.0.3", "Added `ssub` field."),
            ("7.2.0", "Added `lib-name` and `lib-ver` fields."),
            ("7.4.0", "Added `watch` field."),
        ])
        .acl(ADMIN_CONN)
        .tips(&["nondeterministic_output"])
        .doc(
            "connection",
            "2.4.0",
            "Lists open connections.",
            "O(N) where N is the number of client connections",
        ),
    row(
        "no-evict",
        3,
        ADMIN | SUB,
        Keys::None,
        Exec::Coord(no_evict),
    )
    .acl(ADMIN_CONN)
    .doc(
        "connection",
        "7.0.0",
        "Sets the client eviction mode of the connection.",
        "O(1)",
    ),
    row("no-touch", 3, SUB, Keys::None, Exec::Coord(no_touch))
        .acl(CONN)
        .doc(
            "connection",
            "7.2.0",
            "Controls whether commands sent by the client affect the LRU/LFU of accessed keys.",
            "O(1)",
        ),
    row("pause", -3, ADMIN | SUB, Keys::None, Exec::Coord(pause))
        .history(&[
            ("6.2.0", "`CLIENT PAUSE WRITE` mode added along with the `mode` option."),
        ])
        .acl(ADMIN_CONN)
        .doc(
            "connection",
            "3.0.0",
            "Suspends commands processing.",
            "O(1)",
        ),
    row("reply", 3, SUB, Keys::None, Exec::Coord(reply))
        .acl(CONN)
        .doc(
            "connection",
            "3.2.0",
            "Instructs the server whether to reply to commands.",
            "O(1)",
        ),
    row("setinfo", 4, SUB, Keys::None, Exec::Coord(setinfo))
        .acl(CONN)
        .tips(&["request_policy:all_nodes", "response_policy:all_succeeded"])
        .doc(
            "connection",
            "7.2.0",
            "Sets information specific to the client or connection.",
            "O(1)",
        ),
    row("setname", 3, SUB, Keys::None, Exec::Coord(setname))
        .acl(CONN)
        .tips(&["request_policy:all_nodes", "response_policy:all_succeeded"])
        .doc("connection", "2.6.9", "Sets the connection name.", "O(1)"),
    row(
        "tracking",
        -3,
        SUB,
        Keys::None,
        Exec::Coord(crate::commands::tracking::tracking),
    )
    .acl(CONN)
    .doc(
        "connection",
        "6.0.0",
        "Controls server-assisted client-side caching for the connection.",
        "O(1). Some options may introduce additional complexity.",
    ),
    row(
        "trackinginfo",
        2,
        SUB,
        Keys::None,
        Exec::Coord(crate::commands::tracking::trackinginfo),
    )
    .acl(CONN)
    .doc(
        "connection",
        "6.2.0",
        "Returns information about server-assisted client-side caching for the connection.",
        "O(1)",
    ),
    row("unblock", -3, ADMIN | SUB, Keys::None, Exec::Coord(unblock))
        .acl(ADMIN_CONN)
        .doc(
            "connection",
            "5.0.0",
            "Unblocks a client blocked by a blocking command from a different connection.",
            "O(log N) where N is the number of client connections",
        ),
    row("unpause", 2, ADMIN | SUB, Keys::None, Exec::Coord(unpause))
        .acl(ADMIN_CONN)
        .doc(
            "connection",
            "6.2.0",
            "Resumes processing commands from paused clients.",
            "O(N) Where N is the number of paused clients",
        ),
];

/// The CLIENT container and RESET.
pub static COMMANDS: &[CommandSpec] = &[
    row("client", -2, 0, Keys::None, Exec::Container)
        .acl(&["slow"])
        .doc(
            "connection",
            "2.4.0",
            "A container for client connection commands.",
            "Depends on subcommand.",
        )
        .subs(CLIENT_SUBS),
    row(
        "reset",
        1,
        NOSCRIPT | LOADING | STALE | FAST | NO_AUTH | ALLOW_BUSY,
        Keys::None,
        Exec::Coord(reset),
    )
    .acl(&["fast", "connection"])
    .doc("connection", "6.2.0", "Resets the connection.", "O(1)"),
];

fn id(ctx: &mut ConnCtx, _argv: Vec<Bytes>) -> CmdFuture<'_> {
    Box::pin(async move { Ok(Reply::Int(ctx.client.id as i64)) })
}

fn getname(ctx: &mut ConnCtx, _argv: Vec<Bytes>) -> CmdFuture<'_> {
    Box::pin(async move {
        let name = ctx.client.info.name();
        Ok(if name.is_empty() {
            Reply::Nil
        } else {
            Reply::Bulk(Bytes::from(name))
        })
    })
}

fn setname(ctx: &mut ConnCtx, argv: Vec<Bytes>) -> CmdFuture<'_> {
    Box::pin(async move {
        let name = &argv[2];
        crate::commands::connection::validate_name(name)?;
        if let Ok(mut n) = ctx.client.info.names.lock() {
            n.name = String::from_utf8_lossy(name).into_owned();
        }
        Ok(Reply::Ok)
    })
}

fn setinfo(ctx: &mut ConnCtx, argv: Vec<Bytes>) -> CmdFuture<'_> {
    Box::pin(async move {
        let attr = &argv[2];
        let val = &argv[3];
        let lib_name = is(attr, "lib-name");
        if !lib_name && !is(attr, "lib-ver") {
            return Err(CmdError::Other(
                format!(
                    "ERR Unrecognized option '{}'",
                    String::from_utf8_lossy(attr)
                )
                .into(),
            ));
        }
        if val.iter().any(|&c| !(b'!'..=b'~').contains(&c)) {
            return Err(CmdError::Other(
                format!(
                    "ERR {} cannot contain spaces, newlines or special characters.",
                    String::from_utf8_lossy(attr)
                )
                .into(),
            ));
        }
        let v = String::from_utf8_lossy(val).into_owned();
        if let Ok(mut n) = ctx.client.info.names.lock() {
            if lib_name {
                n.lib_name = v;
            } else {
                n.lib_ver = v;
            }
        }
        Ok(Reply::Ok)
    })
}

/// The line of the current connection, which shows the running command
/// as dispatch noted it (EXEC while inside a transaction, as Redis's
/// `lastcmd`).
fn own_line(ctx: &ConnCtx, _cmd: &str) -> String {
    ctx.client.info.describe(None)
}

fn info(ctx: &mut ConnCtx, _argv: Vec<Bytes>) -> CmdFuture<'_> {
    Box::pin(async move {
        let mut s = own_line(ctx, "client|info");
        s.push('\n');
        Ok(Reply::Verbatim("txt", Bytes::from(s)))
    })
}

/// Redis's client types, for LIST TYPE and KILL TYPE.
#[derive(Clone, Copy, PartialEq, Eq)]
enum ClientType {
    Normal,
    Replica,
    Master,
    PubSub,
}

fn client_type(name: &[u8]) -> CmdResult<ClientType> {
    let t = if is(name, "normal") {
        ClientType::Normal
    } else if is(name, "slave") || is(name, "replica") {
        ClientType::Replica
    } else if is(name, "master") {
        ClientType::Master
    } else if is(name, "pubsub") {
        ClientType::PubSub
    } else {
        return Err(CmdError::Other(
            format!(
                "ERR Unknown client type '{}'",
                String::from_utf8_lossy(name)
            )
            .into(),
        ));
    };
    Ok(t)
}

/// The type of a connected client (Redis's getClientType): `pubsub`
/// while it has subscriptions, `normal` otherwise (no replication here).
fn type_of(c: &ClientInfo) -> ClientType {
    if c.pubsub_active() {
        ClientType::PubSub
    } else {
        ClientType::Normal
    }
}

fn line_of(ctx: &ConnCtx, c: &ClientInfo) -> String {
    if c.id == ctx.client.id {
        own_line(ctx, "client|list")
    } else {
        c.describe(None)
    }
}

fn list(ctx: &mut ConnCtx, argv: Vec<Bytes>) -> CmdFuture<'_> {
    Box::pin(async move {
        let clients = ctx.worker.shared.clients.snapshot();
        let mut out = String::new();
        if argv.len() == 4 && is(&argv[2], "type") {
            let t = client_type(&argv[3])?;
            for c in clients.iter().filter(|c| type_of(c) == t) {
                out.push_str(&line_of(ctx, c));
                out.push('\n');
            }
        } else if argv.len() > 3 && is(&argv[2], "id") {
            let mut ids = Vec::with_capacity(argv.len() - 3);
            for a in &argv[3..] {
                let id =
                    storage::numfmt::parse_i64(a).ok_or(CmdError::msg("ERR Invalid client ID"))?;
                ids.push(id);
            }
            for id in ids {
                if let Some(c) = clients.iter().find(|c| c.id as i64 == id) {
                    out.push_str(&line_of(ctx, c));
                    out.push('\n');
                }
            }
        } else if argv.len() != 2 {
            return Err(CmdError::Syntax);
        } else {
            for c in &clients {
                out.push_str(&line_of(ctx, c));
                out.push('\n');
            }
        }
        Ok(Reply::Verbatim("txt", Bytes::from(out)))
    })
}

/// CLIENT KILL's filters.
#[derive(Default)]
struct KillFilter {
    id: Option<u64>,
    ctype: Option<ClientType>,
    addr: Option<Bytes>,
    laddr: Option<Bytes>,
    max_age: Option<u64>,
    skipme: bool,
}

impl KillFilter {
    fn matches(&self, c: &ClientInfo, me: u64) -> bool {
        if self.skipme && c.id == me {
            return false;
        }
        if self.id.is_some_and(|id| id != c.id) {
            return false;
        }
        if self.ctype.is_some_and(|t| t != type_of(c)) {
            return false;
        }
        if let Some(a) = &self.addr {
            if a.as_ref() != c.addr.to_string().as_bytes() {
                return false;
            }
        }
        if let Some(a) = &self.laddr {
            if a.as_ref() != c.laddr.to_string().as_bytes() {
                return false;
            }
        }
        if let Some(max) = self.max_age {
            if c.age_secs() <= max {
                return false;
            }
        }
        true
    }
}

fn parse_kill_filter(args: &[Bytes]) -> CmdResult<KillFilter> {
    let mut f = KillFilter {
        skipme: true,
        ..KillFilter::default()
    };
    let mut i = 0;
    while i < args.len() {
        let opt = &args[i];
        let Some(val) = args.get(i + 1) else {
            return Err(CmdError::Syntax);
        };
        if is(opt, "id") {
            match storage::numfmt::parse_i64(val) {
                Some(n) if n >= 1 => f.id = Some(n as u64),
                _ => return Err(CmdError::msg("ERR client-id should be greater than 0")),
            }
        } else if is(opt, "type") {
            f.ctype = Some(client_type(val)?);
        } else if is(opt, "addr") {
            f.addr = Some(val.clone());
        } else if is(opt, "laddr") {
            f.laddr = Some(val.clone());
        } else if is(opt, "user") {
            // Only the default user exists; every connection uses it.
            if val.as_ref() != b"default" {
                return Err(CmdError::Other(
                    format!("ERR No such user '{}'", String::from_utf8_lossy(val)).into(),
                ));
            }
        } else if is(opt, "skipme") {
            if is(val, "yes") {
                f.skipme = true;
            } else if is(val, "no") {
                f.skipme = false;
            } else {
                return Err(CmdError::Syntax);
            }
        } else if is(opt, "maxage") {
            let n = storage::numfmt::parse_i64(val).ok_or(CmdError::msg(
                "ERR maxage is not an integer or out of range",
            ))?;
            if n <= 0 {
                return Err(CmdError::msg("ERR maxage should be greater than 0"));
            }
            f.max_age = Some(n as u64);
        } else {
            return Err(CmdError::Syntax);
        }
        i += 2;
    }
    Ok(f)
}

fn kill_one(ctx: &mut ConnCtx, c: &Arc<ClientInfo>) {
    if c.id == ctx.client.id {
        // Killing ourselves: answer first, then close.
        ctx.client.close_after_reply = true;
    } else {
        c.kill();
    }
}

fn kill(ctx: &mut ConnCtx, argv: Vec<Bytes>) -> CmdFuture<'_> {
    Box::pin(async move {
        let clients = ctx.worker.shared.clients.snapshot();
        if argv.len() == 3 {
            // The old form: CLIENT KILL ip:port (may kill the caller).
            let target = clients
                .iter()
                .find(|c| c.addr.to_string().as_bytes() == argv[2].as_ref())
                .ok_or(CmdError::msg("ERR No such client"))?;
            kill_one(ctx, target);
            return Ok(Reply::Ok);
        }
        let filter = parse_kill_filter(&argv[2..])?;
        let me = ctx.client.id;
        let mut killed = 0;
        for c in clients.iter().filter(|c| filter.matches(c, me)) {
            kill_one(ctx, c);
            killed += 1;
        }
        Ok(Reply::Int(killed))
    })
}

/// CLIENT UNBLOCK id [TIMEOUT|ERROR]: wakes a client blocked in a blocking
/// command (see `crate::blocking`).
fn unblock(ctx: &mut ConnCtx, argv: Vec<Bytes>) -> CmdFuture<'_> {
    Box::pin(async move {
        if argv.len() > 4 {
            return Err(subcommand_syntax_error(&argv[1], "CLIENT"));
        }
        let error = match argv.get(3) {
            None => false,
            Some(r) if is(r, "timeout") => false,
            Some(r) if is(r, "error") => true,
            Some(_) => {
                return Err(CmdError::msg(
                    "ERR CLIENT UNBLOCK reason should be TIMEOUT or ERROR",
                ))
            }
        };
        let id = storage::numfmt::parse_i64(&argv[2]).ok_or(CmdError::NotInteger)?;
        let target = ctx
            .worker
            .shared
            .clients
            .snapshot()
            .into_iter()
            .find(|c| c.id as i64 == id);
        Ok(Reply::Int(
            target.is_some_and(|c| c.blocked.unblock(error)) as i64
        ))
    })
}

fn on_off(arg: &[u8]) -> CmdResult<bool> {
    if is(arg, "on") {
        Ok(true)
    } else if is(arg, "off") {
        Ok(false)
    } else {
        Err(CmdError::Syntax)
    }
}

fn no_evict(ctx: &mut ConnCtx, argv: Vec<Bytes>) -> CmdFuture<'_> {
    Box::pin(async move {
        let on = on_off(&argv[2])?;
        ctx.client.info.no_evict.store(on, Ordering::Relaxed);
        Ok(Reply::Ok)
    })
}

fn no_touch(ctx: &mut ConnCtx, argv: Vec<Bytes>) -> CmdFuture<'_> {
    Box::pin(async move {
        let on = on_off(&argv[2])?;
        ctx.client.no_touch = on;
        ctx.client.info.no_touch.store(on, Ordering::Relaxed);
        Ok(Reply::Ok)
    })
}

fn reply(ctx: &mut ConnCtx, argv: Vec<Bytes>) -> CmdFuture<'_> {
    Box::pin(async move {
        let mode = &argv[2];
        if is(mode, "on") {
            ctx.client.reply_mode = ReplyMode::On;
            Ok(Reply::Ok)
        } else if is(mode, "off") {
            // Not sent: replies are off from this one on.
            ctx.client.reply_mode = ReplyMode::Off;
            Ok(Reply::Ok)
        } else if is(mode, "skip") {
            // Not sent either; the next command's reply is skipped too.
            if ctx.client.reply_mode != ReplyMode::Off {
                ctx.client.reply_mode = ReplyMode::Skip;
            }
            Ok(Reply::Ok)
        } else {
            Err(CmdError::Syntax)
        }
    })
}

/// Redis's `addReplySubcommandSyntaxError`.
pub fn subcommand_syntax_error(sub: &[u8], container: &str) -> CmdError {
    CmdError::Other(
        format!(
            "ERR unknown subcommand or wrong number of arguments for '{}'. Try {} HELP.",
            crate::dispatch::trunc(sub, 128),
            container
        )
        .into(),
    )
}

/// A timeout argument in milliseconds (Redis's `getTimeoutFromObjectOrReply`).
pub fn parse_timeout_ms(arg: &[u8]) -> CmdResult<u64> {
    let v = storage::numfmt::parse_i64(arg).ok_or(CmdError::msg(
        "ERR timeout is not an integer or out of range",
    ))?;
    if v < 0 {
        return Err(CmdError::msg("ERR timeout is negative"));
    }
    Ok(v as u64)
}

fn pause(ctx: &mut ConnCtx, argv: Vec<Bytes>) -> CmdFuture<'_> {
    Box::pin(async move {
        if argv.len() > 4 {
            return Err(subcommand_syntax_error(&argv[1], "CLIENT"));
        }
        let mode = match argv.get(3) {
            None => PauseMode::All,
            Some(m) if is(m, "write") => PauseMode::Write,
            Some(m) if is(m, "all") => PauseMode::All,
            Some(_) => return Err(CmdError::msg("ERR CLIENT PAUSE mode must be WRITE or ALL")),
        };
        let ms = parse_timeout_ms(&argv[2])?;
        let until = Instant::now()
            .checked_add(Duration::from_millis(ms))
            .ok_or(CmdError::msg("ERR timeout is out of range"))?;
        ctx.worker.shared.pause.pause(mode, until);
        Ok(Reply::Ok)
    })
}

fn unpause(ctx: &mut ConnCtx, _argv: Vec<Bytes>) -> CmdFuture<'_> {
    Box::pin(async move {
        ctx.worker.shared.pause.unpause();
        Ok(Reply::Ok)
    })
}

const HELP: &[&str] = &[
    "CLIENT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "CACHING (YES|NO)",
    "    Enable/disable tracking of the keys for next command in OPTIN/OPTOUT modes.",
    "GETREDIR",
    "    Return the client ID we are redirecting to when tracking is enabled.",
    "GETNAME",
    "    Return the name of the current connection.",
    "ID",
    "    Return the ID of the current connection.",
    "INFO",
    "    Return information about the current client connection.",
    "KILL <ip:port>",
    "    Kill connection made from <ip:port>.",
    "KILL <option> <value> [<option> <value> [...]]",
    "    Kill connections. Options are:",
    "    * ADDR (<ip:port>|<unixsocket>:0)",
    "      Kill connections made from the specified address",
    "    * LADDR (<ip:port>|<unixsocket>:0)",
    "      Kill connections made to specified local address",
    "    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)",
    "      Kill connections by type.",
    "    * USER <username>",
    "      Kill connections authenticated by <username>.",
    "    * SKIPME (YES|NO)",
    "      Skip killing current connection (default: yes).",
    "    * ID <client-id>",
    "      Kill connections by client id.",
    "    * MAXAGE <maxage>",
    "      Kill connections older than the specified age.",
    "LIST [options ...]",
    "    Return information about client connections. Options:",
    "    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)",
    "      Return clients of specified type.",
    "UNPAUSE",
    "    Stop the current client pause, resuming traffic.",
    "PAUSE <timeout> [WRITE|ALL]",
    "    Suspend all, or just write, clients for <timeout> milliseconds.",
    "REPLY (ON|OFF|SKIP)",
    "    Control the replies sent to the current connection.",
    "SETNAME <name>",
    "    Assign the name <name> to the current connection.",
    "SETINFO <option> <value>",
    "    Set client meta attr. Options are:",
    "    * LIB-NAME: the client lib name.",
    "    * LIB-VER: the client lib version.",
    "UNBLOCK <clientid> [TIMEOUT|ERROR]",
    "    Unblock the specified blocked client.",
    "TRACKING (ON|OFF) [REDIRECT <id>] [BCAST] [PREFIX <prefix> [...]]",
    "         [OPTIN] [OPTOUT] [NOLOOP]",
    "    Control server assisted client side caching.",
    "TRACKINGINFO",
    "    Report tracking status for the current connection.",
    "NO-EVICT (ON|OFF)",
    "    Protect current client connection from eviction.",
    "NO-TOUCH (ON|OFF)",
    "    Will not touch LRU/LFU stats when this mode is on.",
    "HELP",
    "    Print this help.",
];

/// A HELP reply: each line as a status reply, as Redis's `addReplyHelp`.
pub fn help_reply(lines: &'static [&'static str]) -> Reply {
    Reply::Array(lines.iter().map(|l| Reply::status(l)).collect())
}

fn help(_ctx: &mut ConnCtx, _argv: Vec<Bytes>) -> CmdFuture<'_> {
    Box::pin(async move { Ok(help_reply(HELP)) })
}

fn reset(ctx: &mut ConnCtx, _argv: Vec<Bytes>) -> CmdFuture<'_> {
    Box::pin(async move {
        let requirepass = !crate::knobs::requirepass(&ctx.worker.shared.config()).is_empty();
        crate::commands::multi::discard_all(ctx).await;
        // Hook (pubsub, tracking, monitor): RESET leaves every subscription,
        // turns tracking off and ends MONITOR.
        crate::commands::pubsub::leave_all(ctx);
        crate::commands::tracking::disable(ctx);
        ctx.worker.shared.hub.monitors.remove(ctx.client.id);
        ctx.client.info.monitor.store(false, Ordering::Relaxed);
        let c = &mut ctx.client;
        c.db = 0;
        c.info.db.store(0, Ordering::Relaxed);
        c.resp = Resp::V2;
        c.info.resp.store(2, Ordering::Relaxed);
        c.authenticated = !requirepass;
        c.reply_mode = ReplyMode::On;
        c.no_touch = false;
        c.info.no_touch.store(false, Ordering::Relaxed);
        c.info.no_evict.store(false, Ordering::Relaxed);
        if let Ok(mut n) = c.info.names.lock() {
            // The library name and version stay: they describe the client.
            n.name.clear();
        }
        Ok(Reply::status("RESET"))
    })
}
