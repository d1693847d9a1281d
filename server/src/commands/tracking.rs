//! CLIENT TRACKING, CLIENT CACHING, CLIENT GETREDIR, CLIENT TRACKINGINFO
//! (rows in `client.rs`'s CLIENT container; the table is `crate::tracking`).

use crate::clients::tflags;
use crate::command::args::is;
use crate::command::{flags, CmdFuture, CommandSpec};
use crate::conn::ConnCtx;
use crate::tracking::{overlaps, Options};
use bytes::Bytes;
use std::sync::atomic::Ordering;
use storage::{CmdError, CmdResult, Reply};

fn err(s: &'static str) -> CmdError {
    CmdError::msg(s)
}

/// CLIENT TRACKING (ON|OFF) [REDIRECT id] [BCAST] [PREFIX p ...] [OPTIN]
/// [OPTOUT] [NOLOOP], with Redis's checks in Redis's order.
pub fn tracking(ctx: &mut ConnCtx, argv: Vec<Bytes>) -> CmdFuture<'_> {
    Box::pin(async move {
        let mut opts = Options::default();
        let mut prefixes: Vec<Bytes> = Vec::new();
        let mut j = 3;
        while j < argv.len() {
            let a = &argv[j];
            let more = j + 1 < argv.len();
            if is(a, "redirect") && more {
                j += 1;
                if opts.redirect != 0 {
                    return Err(err(
                        "ERR A client can only redirect to a single other client",
                    ));
                }
                let id = storage::numfmt::parse_i64(&argv[j]).ok_or(CmdError::NotInteger)?;
                if id <= 0 || ctx.worker.shared.clients.get(id as u64).is_none() {
                    return Err(err("ERR The client ID you want redirect to does not exist"));
                }
                opts.redirect = id as u64;
            } else if is(a, "bcast") {
                opts.bcast = true;
            } else if is(a, "optin") {
                opts.optin = true;
            } else if is(a, "optout") {
                opts.optout = true;
            } else if is(a, "noloop") {
                opts.noloop = true;
            } else if is(a, "prefix") && more {
                j += 1;
                prefixes.push(argv[j].clone());
            } else {
                return Err(CmdError::Syntax);
            }
            j += 1;
        }
        let on = &argv[2];
        if is(on, "off") {
            disable(ctx);
            return Ok(Reply::Ok);
        }
        if !is(on, "on") {
            return Err(CmdError::Syntax);
        }
        if !opts.bcast && !prefixes.is_empty() {
            return Err(err("ERR PREFIX option requires BCAST mode to be enabled"));
        }
        if let Some(cur) = &ctx.client.tracking {
            if cur.bcast != opts.bcast {
                return Err(err("ERR You can't switch BCAST mode on/off before disabling tracking for this client, and then re-enabling it with a different mode."));
            }
        }
        if opts.bcast && (opts.optin || opts.optout) {
            return Err(err("ERR OPTIN and OPTOUT are not compatible with BCAST"));
        }
        if opts.optin && opts.optout {
            return Err(err("ERR You can't specify both OPTIN mode and OPTOUT mode"));
        }
        if let Some(cur) = &ctx.client.tracking {
            if (opts.optin && cur.optout) || (opts.optout && cur.optin) {
                return Err(err("ERR You can't switch OPTIN/OPTOUT mode before disabling tracking for this client, and then re-enabling it with a different mode."));
            }
        }
        if opts.bcast {
            check_prefixes(ctx, &prefixes)?;
        }
        let hub = ctx.worker.shared.hub.clone();
        hub.tracking
            .enable(&ctx.client.info, opts.clone(), &prefixes);
        let info = &ctx.client.info;
        info.tracking_redir
            .store(opts.redirect as i64, Ordering::Relaxed);
        info.tracking_flags.store(
            if opts.bcast { tflags::BCAST } else { 0 },
            Ordering::Relaxed,
        );
        ctx.client.tracking = Some(opts);
        Ok(Reply::Ok)
    })
}

/// Redis's `checkPrefixCollisionsOrReply`.
fn check_prefixes(ctx: &ConnCtx, prefixes: &[Bytes]) -> CmdResult<()> {
    let hub = &ctx.worker.shared.hub;
    for (i, p) in prefixes.iter().enumerate() {
        if let Some(q) = hub.tracking.overlapping_prefix(ctx.client.id, p) {
            return Err(CmdError::Other(
                format!(
                    "ERR Prefix '{}' overlaps with an existing prefix '{}'. Prefixes for a single client must not overlap.",
                    crate::dispatch::trunc(p, usize::MAX),
                    crate::dispatch::trunc(&q, usize::MAX)
                )
                .into(),
            ));
        }
        for q in &prefixes[i + 1..] {
            if overlaps(p, q) {
                return Err(CmdError::Other(
                    format!(
                        "ERR Prefix '{}' overlaps with another provided prefix '{}'. Prefixes for a single client must not overlap.",
                        crate::dispatch::trunc(p, usize::MAX),
                        crate::dispatch::trunc(q, usize::MAX)
                    )
                    .into(),
                ));
            }
        }
    }
    Ok(())
}

/// Turns tracking off for the connection (CLIENT TRACKING OFF, RESET).
pub fn disable(ctx: &mut ConnCtx) {
    if ctx.client.tracking.take().is_some() {
        ctx.worker.shared.hub.tracking.disable(ctx.client.id);
    }
    ctx.client.caching = false;
    ctx.client.info.tracking_redir.store(-1, Ordering::Relaxed);
    ctx.client.info.tracking_flags.store(0, Ordering::Relaxed);
}

/// CLIENT CACHING YES|NO.
pub fn caching(ctx: &mut ConnCtx, argv: Vec<Bytes>) -> CmdFuture<'_> {
    Box::pin(async move {
        let Some(opts) = &ctx.client.tracking else {
            return Err(err("ERR CLIENT CACHING can be called only when the client is in tracking mode with OPTIN or OPTOUT mode enabled"));
        };
        let opt = &argv[2];
        if is(opt, "yes") {
            if !opts.optin {
                return Err(err(
                    "ERR CLIENT CACHING YES is only valid when tracking is enabled in OPTIN mode.",
                ));
            }
        } else if is(opt, "no") {
            if !opts.optout {
                return Err(err(
                    "ERR CLIENT CACHING NO is only valid when tracking is enabled in OPTOUT mode.",
                ));
            }
        } else {
            return Err(CmdError::Syntax);
        }
        ctx.client.caching = true;
        Ok(Reply::Ok)
    })
}

/// CLIENT GETREDIR.
pub fn getredir(ctx: &mut ConnCtx, _argv: Vec<Bytes>) -> CmdFuture<'_> {
    Box::pin(async move {
        Ok(Reply::Int(match &ctx.client.tracking {
            Some(o) => o.redirect as i64,
            None => -1,
        }))
    })
}

/// CLIENT TRACKINGINFO.
pub fn trackinginfo(ctx: &mut ConnCtx, _argv: Vec<Bytes>) -> CmdFuture<'_> {
    Box::pin(async move {
        let info = ctx
            .worker
            .shared
            .hub
            .tracking
            .info(ctx.client.id)
            .filter(|_| ctx.client.tracking.is_some());
        let mut flags = Vec::new();
        let (redirect, prefixes) = match &info {
            None => {
                flags.push(Reply::bulk_static("off"));
                (-1, Vec::new())
            }
            Some(i) => {
                flags.push(Reply::bulk_static("on"));
                if i.opts.bcast {
                    flags.push(Reply::bulk_static("bcast"));
                }
                if i.opts.optin {
                    flags.push(Reply::bulk_static("optin"));
                    if ctx.client.caching {
                        flags.push(Reply::bulk_static("caching-yes"));
                    }
                }
                if i.opts.optout {
                    flags.push(Reply::bulk_static("optout"));
                    if ctx.client.caching {
                        flags.push(Reply::bulk_static("caching-no"));
                    }
                }
                if i.opts.noloop {
                    flags.push(Reply::bulk_static("noloop"));
                }
                if i.broken_redirect {
                    flags.push(Reply::bulk_static("broken_redirect"));
                }
                (i.redirect as i64, i.prefixes.clone())
            }
        };
        Ok(Reply::Map(vec![
            (Reply::bulk_static("flags"), Reply::Set(flags)),
            (Reply::bulk_static("redirect"), Reply::Int(redirect)),
            (
                Reply::bulk_static("prefixes"),
                Reply::Array(prefixes.into_iter().map(Reply::Bulk).collect()),
            ),
        ]))
    })
}

/// Dispatch's hook before a command runs: a tracking client (default
/// mode) reading keys has them remembered first, so a write racing on
/// another shard still invalidates them.
pub fn before_command(ctx: &ConnCtx, cmd: &CommandSpec, argv: &[Bytes]) {
    let Some(opts) = &ctx.client.tracking else {
        return;
    };
    if opts.bcast || !cmd.has(flags::READONLY) {
        return;
    }
    let remember = if opts.optin {
        ctx.client.caching
    } else if opts.optout {
        !ctx.client.caching
    } else {
        true
    };
    if !remember {
        return;
    }
    let Ok(pos) = cmd.key_positions(argv) else {
        return;
    };
    if pos.is_empty() {
        return;
    }
    let keys: Vec<&[u8]> = pos.iter().map(|&p| &argv[p][..]).collect();
    let hub = &ctx.worker.shared.hub;
    hub.tracking.remember(hub, ctx.client.id, &keys);
}

/// Dispatch's hook after a command: CLIENT CACHING lasts for one command
/// (any CLIENT subcommand keeps it, as in Redis).
pub fn after_command(ctx: &mut ConnCtx, parent: Option<&CommandSpec>) {
    if ctx.client.caching && parent.is_none_or(|p| p.name != "client") {
        ctx.client.caching = false;
    }
}
