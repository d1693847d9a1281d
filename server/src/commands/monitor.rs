//! MONITOR (the feed itself is `crate::monitor`).

use crate::command::flags::*;
use crate::command::{row, CmdFuture, CommandSpec, Exec, Keys};
use crate::conn::ConnCtx;
use bytes::Bytes;
use std::sync::atomic::Ordering;
use storage::Reply;

/// The MONITOR row.
pub static COMMANDS: &[CommandSpec] = &[row(
    "monitor",
    1,
    ADMIN | NOSCRIPT | LOADING | STALE,
    Keys::None,
    Exec::Coord(monitor),
)
.acl(&["admin", "slow", "dangerous"])
.doc(
    "server",
    "1.0.0",
    "Listens for all requests received by the server in real-time.",
    "",
)];

fn monitor(ctx: &mut ConnCtx, _argv: Vec<Bytes>) -> CmdFuture<'_> {
    Box::pin(async move {
        let info = &ctx.client.info;
        // Already monitoring: Redis ignores the command, without a reply.
        if info.monitor.swap(true, Ordering::Relaxed) {
            return Ok(Reply::Multi(Vec::new()));
        }
        ctx.worker.shared.hub.monitors.add(info);
        Ok(Reply::Ok)
    })
}
