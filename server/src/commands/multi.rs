//! Transactions: MULTI, EXEC, DISCARD, WATCH, UNWATCH (Redis's `multi.c`).
//!
//! Between MULTI and EXEC, dispatch queues every command that passes its
//! gates and answers `QUEUED`; a command refused at queue time (unknown,
//! wrong arity, `no-multi`, ...) marks the transaction so EXEC answers
//! EXECABORT. EXEC holds, with one `hold::Hold`, every shard its queued
//! commands need (all of them when one is global) plus the shards of the
//! watched keys, checks WATCH under that freeze, then runs the queued
//! commands one after the other with their normal handlers: no observer
//! sees part of it, whatever `--shards` is. Errors at run time are replies
//! in the array; nothing is rolled back. Blocking commands run in their
//! immediate form.
//!
//! Invariants:
//! - `Client::multi` is `Some` exactly between MULTI and EXEC/DISCARD/RESET,
//!   and `ClientInfo::multi` then holds the queue length (else -1);
//! - every exit of EXEC and DISCARD unwatches all keys;
//! - the hold is released before EXEC returns.

use crate::command::flags::*;
use crate::command::{row, CmdFuture, CommandSpec, Exec, KeySpec, Keys};
use crate::conn::ConnCtx;
use crate::hold::Hold;
use crate::slot::shard_of;
use crate::watch::{self, Watched};
use crate::worker::ShardMsg;
use bytes::Bytes;
use std::sync::atomic::Ordering;
use storage::{CmdError, Reply};

const TX_FLAGS: u32 = NOSCRIPT | LOADING | STALE | FAST | ALLOW_BUSY;
const TX_ACL: &[&str] = &["fast", "transaction"];

/// The transaction family's rows.
pub static COMMANDS: &[CommandSpec] = &[
    row("multi", 1, TX_FLAGS, Keys::None, Exec::Coord(multi))
        .acl(TX_ACL)
        .doc("transactions", "1.2.0", "Starts a transaction.", "O(1)"),
    row(
        "exec",
        1,
        NOSCRIPT | LOADING | STALE | SKIP_SLOWLOG,
        Keys::None,
        Exec::Coord(exec),
    )
    .acl(&["slow", "transaction"])
    .doc(
        "transactions",
        "1.2.0",
        "Executes all commands in a transaction.",
        "Depends on commands in the transaction",
    ),
    row("discard", 1, TX_FLAGS, Keys::None, Exec::Coord(discard))
        .acl(TX_ACL)
        .doc(
            "transactions",
            "2.0.0",
            "Discards a transaction.",
            "O(N), when N is the number of queued commands",
        ),
    row(
        "watch",
        -2,
        TX_FLAGS,
        Keys::Range {
            first: 1,
            last: -1,
            step: 1,
        },
        Exec::Coord(watch),
    )
    .acl(TX_ACL)
    .key_specs(&[KeySpec::range(&["RO"], 1, -1, 1)])
    .doc(
        "transactions",
        "2.2.0",
        "Monitors changes to keys to determine the execution of a transaction.",
        "O(1) for every key.",
    ),
    row("unwatch", 1, TX_FLAGS, Keys::None, Exec::Coord(unwatch))
        .acl(TX_ACL)
        .doc(
            "transactions",
            "2.2.0",
            "Forgets about watched keys of a transaction.",
            "O(1)",
        ),
];

/// A queued command, resolved at queue time.
struct Queued {
    cmd: &'static CommandSpec,
    parent: Option<&'static CommandSpec>,
    argv: Vec<Bytes>,
}

/// The transaction being queued between MULTI and EXEC.
#[derive(Default)]
pub struct MultiState {
    queue: Vec<Queued>,
    /// A command was refused at queue time: EXEC answers EXECABORT.
    aborted: bool,
    /// Union of the queued commands' flags (CLIENT PAUSE WRITE holds EXEC
    /// back when a queued command writes).
    flags: u32,
}

/// Dispatch hook: a command was refused before queueing.
pub fn flag_error(ctx: &mut ConnCtx) {
    if let Some(m) = &mut ctx.client.multi {
        m.aborted = true;
    }
}

/// Redis's OOM rule inside MULTI (`processCommand`): while memory is
/// over maxmemory, EXEC is refused when a queued command is denyoom, and
/// nothing else is queued (the queue itself takes memory); EXEC, DISCARD,
/// QUIT and RESET always pass.
pub fn refused_when_oom(ctx: &ConnCtx, cmd: &CommandSpec, parent: Option<&CommandSpec>) -> bool {
    let Some(m) = &ctx.client.multi else {
        return false;
    };
    if parent.is_some() {
        return true;
    }
    match cmd.name {
        "exec" => m.flags & DENYOOM != 0,
        "discard" | "quit" | "reset" => false,
        _ => true,
    }
}

/// Dispatch hook for a command refused by the OOM gate (Redis's
/// `rejectCommand`): inside MULTI the transaction is marked for
/// EXECABORT, and a refused EXEC discards it, answering EXECABORT with
/// the reason.
pub async fn rejected(
    ctx: &mut ConnCtx,
    cmd: &CommandSpec,
    parent: Option<&CommandSpec>,
    reply: Reply,
) -> Reply {
    flag_error(ctx);
    if parent.is_some() || cmd.name != "exec" || ctx.client.multi.is_none() {
        return reply;
    }
    discard_all(ctx).await;
    match reply {
        Reply::Error(e) => Reply::error(format!("EXECABORT Transaction discarded because of: {e}")),
        other => other,
    }
}

/// Dispatch inside MULTI, after the common gates: refuses a `no-multi`
/// command (marking the transaction, as Redis does before queueing), waits
/// out CLIENT PAUSE, then runs the transaction commands and queues the rest.
pub async fn inside_multi(
    ctx: &mut ConnCtx,
    cmd: &'static CommandSpec,
    parent: Option<&'static CommandSpec>,
    argv: Vec<Bytes>,
) -> Reply {
    if cmd.has(NO_MULTI) {
        flag_error(ctx);
        crate::dispatch::count(ctx, cmd, parent, |s| s.rejected_calls += 1);
        let reply = Reply::error("ERR Command not allowed inside a transaction");
        crate::dispatch::count_error(ctx, &reply);
        return reply;
    }
    // CLIENT PAUSE WRITE holds back writes, and EXEC of a transaction with
    // writes.
    let queued_writes = ctx
        .client
        .multi
        .as_ref()
        .is_some_and(|m| m.flags & (WRITE | MAY_REPLICATE) != 0);
    let write =
        cmd.has(WRITE | MAY_REPLICATE) || (queued_writes && parent.is_none() && cmd.name == "exec");
    ctx.worker.shared.pause.wait(write).await;
    if parent.is_none() && runs_inside_multi(cmd) {
        return crate::dispatch::run_resolved(ctx, cmd, parent, cmd.exec, argv).await;
    }
    queue(ctx, cmd, parent, argv)
}

/// Commands that run at once inside MULTI instead of being queued
/// (Redis's `processCommand`).
fn runs_inside_multi(cmd: &CommandSpec) -> bool {
    matches!(
        cmd.name,
        "exec" | "discard" | "multi" | "watch" | "quit" | "reset"
    )
}

/// Queues a command inside MULTI and answers QUEUED.
fn queue(
    ctx: &mut ConnCtx,
    cmd: &'static CommandSpec,
    parent: Option<&'static CommandSpec>,
    argv: Vec<Bytes>,
) -> Reply {
    let Some(m) = &mut ctx.client.multi else {
        return Reply::error("ERR EXEC without MULTI");
    };
    m.flags |= cmd.flags;
    m.queue.push(Queued { cmd, parent, argv });
    ctx.client
        .info
        .multi
        .store(m.queue.len() as i64, Ordering::Relaxed);
    Reply::status("QUEUED")
}

fn multi(ctx: &mut ConnCtx, _argv: Vec<Bytes>) -> CmdFuture<'_> {
    Box::pin(async move {
        if ctx.client.multi.is_some() {
            return Err(CmdError::msg("ERR MULTI calls can not be nested"));
        }
        ctx.client.multi = Some(MultiState::default());
        ctx.client.info.multi.store(0, Ordering::Relaxed);
        Ok(Reply::Ok)
    })
}

fn discard(ctx: &mut ConnCtx, _argv: Vec<Bytes>) -> CmdFuture<'_> {
    Box::pin(async move {
        if ctx.client.multi.is_none() {
            return Err(CmdError::msg("ERR DISCARD without MULTI"));
        }
        discard_all(ctx).await;
        Ok(Reply::Ok)
    })
}

/// Leaves MULTI (if in it) and unwatches every key: DISCARD, RESET.
pub async fn discard_all(ctx: &mut ConnCtx) {
    ctx.client.multi = None;
    ctx.client.info.multi.store(-1, Ordering::Relaxed);
    unwatch_all(ctx).await;
}

fn exec(ctx: &mut ConnCtx, _argv: Vec<Bytes>) -> CmdFuture<'_> {
    Box::pin(async move {
        let Some(state) = ctx.client.multi.take() else {
            return Err(CmdError::msg("ERR EXEC without MULTI"));
        };
        if state.aborted {
            ctx.client.info.multi.store(-1, Ordering::Relaxed);
            unwatch_all(ctx).await;
            return Err(CmdError::msg(
                "EXECABORT Transaction discarded because of previous errors.",
            ));
        }
        let shards = shards_needed(ctx, &state.queue);
        let hold = Hold::acquire(&ctx.worker, shards).await;
        crate::hold::install(ctx, hold);
        // WATCH, under the freeze of every watched key's shard.
        let mut dirty = ctx.client.info.watch.is_dirty();
        if !dirty {
            for w in ctx.client.watched.clone() {
                if w.deadline.is_some()
                    && crate::dispatch::run_on_shard(ctx, w.shard, move |env| {
                        watch::expired_since_watch(env, &w)
                    })
                    .await
                    .unwrap_or(false)
                {
                    dirty = true;
                    break;
                }
            }
        }
        unwatch_all(ctx).await;
        let reply = if dirty {
            Reply::NilArray
        } else {
            let mut replies = Vec::with_capacity(state.queue.len());
            for q in state.queue {
                let exec = crate::dispatch::immediate_form(q.cmd);
                replies
                    .push(crate::dispatch::run_resolved(ctx, q.cmd, q.parent, exec, q.argv).await);
            }
            Reply::Array(replies)
        };
        crate::hold::release(ctx).await;
        ctx.client.info.multi.store(-1, Ordering::Relaxed);
        Ok(reply)
    })
}

/// The shards EXEC holds: those of the queued commands' keys (the own
/// shard for keyless shard commands), every shard when a queued command is
/// global (a coordinator command outside the `connection` category: KEYS,
/// FLUSHALL, DBSIZE, SCAN, INFO, SORT, ...), and those of watched keys.
fn shards_needed(ctx: &ConnCtx, queue: &[Queued]) -> Vec<usize> {
    let n = ctx.worker.shared.nshards;
    let own = ctx.worker.id;
    let mut shards: Vec<usize> = ctx.client.watched.iter().map(|w| w.shard).collect();
    for q in queue {
        match crate::dispatch::immediate_form(q.cmd) {
            Exec::Shard(_) => match q.cmd.key_positions(&q.argv) {
                Ok(ps) if !ps.is_empty() => {
                    shards.extend(ps.iter().map(|&p| shard_of(&q.argv[p], n)))
                }
                _ => shards.push(own),
            },
            Exec::Coord(_) => {
                let row = q.parent.unwrap_or(q.cmd);
                if !row.acl.contains(&"connection") && !q.cmd.acl.contains(&"connection") {
                    return (0..n).collect();
                }
            }
            Exec::Container => {}
        }
    }
    shards
}

fn watch(ctx: &mut ConnCtx, argv: Vec<Bytes>) -> CmdFuture<'_> {
    Box::pin(async move {
        if ctx.client.multi.is_some() {
            return Err(CmdError::msg("ERR WATCH inside MULTI is not allowed"));
        }
        // No point in watching once dirty (EXEC will fail anyway).
        if ctx.client.info.watch.is_dirty() {
            return Ok(Reply::Ok);
        }
        let n = ctx.worker.shared.nshards;
        let db = ctx.client.db;
        for key in argv.into_iter().skip(1) {
            if ctx
                .client
                .watched
                .iter()
                .any(|w| w.db == db && w.key == key)
            {
                continue;
            }
            let shard = shard_of(&key, n);
            let state = ctx.client.info.watch.clone();
            let k = key.clone();
            let deadline = crate::dispatch::run_on_shard(ctx, shard, move |env| {
                watch::register(env, db, &k, &state)
            })
            .await
            .ok_or_else(|| CmdError::msg("ERR server is shutting down"))?;
            ctx.client.watched.push(Watched {
                db,
                key,
                shard,
                deadline,
            });
            ctx.client.info.watch.set_keys(ctx.client.watched.len());
        }
        Ok(Reply::Ok)
    })
}

fn unwatch(ctx: &mut ConnCtx, _argv: Vec<Bytes>) -> CmdFuture<'_> {
    Box::pin(async move {
        unwatch_all(ctx).await;
        Ok(Reply::Ok)
    })
}

/// Groups the watched keys by shard.
fn by_shard(watched: &[Watched]) -> Vec<(usize, Vec<(usize, Bytes)>)> {
    let mut out: Vec<(usize, Vec<(usize, Bytes)>)> = Vec::new();
    for w in watched {
        let k = (w.db, w.key.clone());
        match out.iter_mut().find(|(s, _)| *s == w.shard) {
            Some((_, v)) => v.push(k),
            None => out.push((w.shard, vec![k])),
        }
    }
    out
}

/// Forgets every watched key and clears the dirty flag (after the
/// registry entries are gone, so no late write marks the next WATCH).
pub async fn unwatch_all(ctx: &mut ConnCtx) {
    if ctx.client.watched.is_empty() {
        ctx.client.info.watch.reset();
        return;
    }
    let watched = std::mem::take(&mut ctx.client.watched);
    for (s, keys) in by_shard(&watched) {
        let state = ctx.client.info.watch.clone();
        crate::dispatch::run_on_shard(ctx, s, move |env| watch::unregister(env, &keys, &state))
            .await;
    }
    ctx.client.info.watch.reset();
}

/// Disconnect hook: drops the client's registry entries without waiting.
pub fn forget_watches(ctx: &mut ConnCtx) {
    let watched = std::mem::take(&mut ctx.client.watched);
    for (s, keys) in by_shard(&watched) {
        let state = ctx.client.info.watch.clone();
        ctx.worker.shared.send(
            s,
            ShardMsg::Run(Box::new(move |env| watch::unregister(env, &keys, &state))),
        );
    }
}
