//! Dispatch: one flat sequence of gates driven by the command table, as
//! Redis's `processCommand`, then routing to where the command runs.
//!
//! Routing: a command whose keys all live on the connection's own shard
//! runs inline; keys on one other shard go there as one message; keys on
//! several shards are gathered into a scratch shard under a multi-shard
//! transaction, the command runs there, and the results are put back
//! before the transaction releases, so observers see all or nothing.

use crate::command::table::{lookup, lookup_sub};
use crate::command::{CommandSpec, Exec, ShardCtx, ShardFn};
use crate::conn::ConnCtx;
use crate::slot::shard_of;
use crate::tx::Tx;
use crate::worker::ShardEnv;
use bytes::Bytes;
use std::sync::atomic::Ordering;
use std::time::Instant;
use storage::{CmdError, CmdResult, Entry, Reply, Shard};

/// Runs one request and returns its reply.
pub async fn execute(ctx: &mut ConnCtx, argv: Vec<Bytes>) -> Reply {
    let (cmd, parent) = match resolve(&argv) {
        Ok(found) => found,
        Err(reply) => {
            count_error(ctx, &reply);
            return reply;
        }
    };
    note_last_command(ctx, cmd, parent);
    if let Err(e) = gates(ctx, cmd, parent, &argv) {
        count(ctx, cmd, parent, |s| s.rejected_calls += 1);
        let reply: Reply = e.into();
        count_error(ctx, &reply);
        return reply;
    }
    // A script past busy-reply-threshold: only allow-busy commands run
    // (Redis's processCommand). A keyed command for a shard a script
    // holds waits for it, and gets -BUSY if the script becomes busy.
    if !cmd.has(crate::command::flags::ALLOW_BUSY) {
        let busy = match cmd.exec {
            Exec::Shard(_) => ctx.worker.wait_unfrozen_or_busy().await,
            _ => ctx.worker.shared.scripts.busy_error(),
        };
        if let Some(e) = busy {
            count(ctx, cmd, parent, |s| s.rejected_calls += 1);
            let reply = Reply::error(e);
            count_error(ctx, &reply);
            return reply;
        }
    }
    // CLIENT PAUSE: wait while a pause holds this command back.
    let worker = ctx.worker.clone();
    let shared = &worker.shared;
    shared
        .pause
        .wait(
            cmd.has(crate::command::flags::WRITE) || cmd.has(crate::command::flags::MAY_REPLICATE),
        )
        .await;
    let slowlog_on = shared.slowlog.enabled() && !cmd.has(crate::command::flags::SKIP_SLOWLOG);
    let argc = argv.len();
    let start = Instant::now();
    // Shard handlers borrow the arguments, so the slow log can still read
    // them afterwards without a copy on the hot path.
    let (result, argv) = match cmd.exec {
        Exec::Shard(f) => (run_keyed(ctx, cmd, f, &argv).await, argv),
        Exec::Coord(f) => {
            let kept = if slowlog_on {
                argv[..argc.min(crate::slowlog::MAX_ARGC + 1)].to_vec()
            } else {
                Vec::new()
            };
            (f(ctx, argv).await, kept)
        }
        Exec::Container => (Err(CmdError::Syntax), argv),
    };
    let usec = start.elapsed().as_micros() as u64;
    let reply = finish(ctx, cmd, parent, result, usec);
    shared
        .stats
        .total_commands_processed
        .fetch_add(1, Ordering::Relaxed);
    if slowlog_on && shared.slowlog.is_slow(usec) {
        let args = &argv[..argv.len().min(crate::slowlog::MAX_ARGC + 1)];
        shared.slowlog.record(
            args,
            argc,
            usec,
            ctx.client.info.addr.to_string(),
            ctx.client.info.name(),
        );
    }
    let event = if cmd.has(crate::command::flags::FAST) {
        "fast-command"
    } else {
        "command"
    };
    shared.latency.record(event, usec / 1000);
    reply
}

/// Turns a handler's result into its reply and counts it (commandstats,
/// error stats).
fn finish(
    ctx: &ConnCtx,
    cmd: &'static CommandSpec,
    parent: Option<&'static CommandSpec>,
    result: CmdResult<Reply>,
    usec: u64,
) -> Reply {
    let reply = match result {
        Ok(r) => r,
        Err(e) => e.into(),
    };
    let failed = reply.is_error();
    count(ctx, cmd, parent, |s| {
        s.calls += 1;
        s.usec += usec;
        if failed {
            s.failed_calls += 1;
        }
    });
    if failed {
        count_error(ctx, &reply);
    }
    reply
}

/// Finds the row for a request: the command, or the subcommand of a container.
fn resolve(argv: &[Bytes]) -> Result<(&'static CommandSpec, Option<&'static CommandSpec>), Reply> {
    let Some(name) = argv.first() else {
        return Err(Reply::error("ERR empty command"));
    };
    let Some(cmd) = lookup(name) else {
        return Err(unknown_command(argv));
    };
    // A row with subcommands whose own handler runs when called alone
    // (COMMAND) is a container only when a subcommand is given.
    if cmd.subcommands.is_empty() || (argv.len() == 1 && !matches!(cmd.exec, Exec::Container)) {
        return Ok((cmd, None));
    }
    let Some(sub) = argv.get(1) else {
        return Err(CmdError::WrongArity(cmd.name.to_string()).into());
    };
    match lookup_sub(cmd, sub) {
        Some(s) => Ok((s, Some(cmd))),
        None => Err(Reply::error(format!(
            "ERR unknown subcommand '{}'. Try {} HELP.",
            trunc(sub, 128),
            cmd.name.to_ascii_uppercase()
        ))),
    }
}

/// Redis's reply for a command it doesn't know.
fn unknown_command(argv: &[Bytes]) -> Reply {
    let mut args = String::new();
    for a in argv.iter().skip(1) {
        if args.len() >= 128 {
            break;
        }
        let room = 128 - args.len();
        args.push('\'');
        args.push_str(&trunc(a, room));
        args.push_str("' ");
    }
    Reply::error(format!(
        "ERR unknown command '{}', with args beginning with: {}",
        trunc(&argv[0], 128),
        args
    ))
}

/// Redis's `%.*s` of an argument: at most `max` bytes, and it stops at a
/// NUL byte (the argument is read as a C string).
pub(crate) fn trunc(b: &[u8], max: usize) -> String {
    let end = b.iter().position(|&c| c == 0).unwrap_or(b.len()).min(max);
    String::from_utf8_lossy(&b[..end]).into_owned()
}

/// The checks every command passes before it runs.
fn gates(
    ctx: &ConnCtx,
    cmd: &CommandSpec,
    parent: Option<&CommandSpec>,
    argv: &[Bytes],
) -> CmdResult<()> {
    // Subcommand arities count the container's name too (CONFIG GET is -3).
    let n = argv.len() as i32;
    let arity_ok = if cmd.arity > 0 {
        n == cmd.arity
    } else {
        n >= -cmd.arity
    };
    if !arity_ok {
        return Err(CmdError::WrongArity(cmd.full_name(parent)));
    }
    if !ctx.client.authenticated && !cmd.has(crate::command::flags::NO_AUTH) {
        return Err(CmdError::msg("NOAUTH Authentication required."));
    }
    Ok(())
}

fn count(
    ctx: &ConnCtx,
    cmd: &'static CommandSpec,
    parent: Option<&'static CommandSpec>,
    f: impl FnOnce(&mut crate::stats::CmdStat),
) {
    let mut env = ctx.worker.env.borrow_mut();
    let (p, name) = match parent {
        Some(p) => (Some(p.name), cmd.name),
        None => (None, cmd.name),
    };
    f(env.cmdstats.entry(p, name));
}

/// Records the command CLIENT LIST shows as `cmd=`; set before the command
/// runs, so a blocked client shows the command it is blocked in.
fn note_last_command(
    ctx: &ConnCtx,
    cmd: &'static CommandSpec,
    parent: Option<&'static CommandSpec>,
) {
    let (p, name) = (parent.map(|p| p.name), cmd.name);
    if let Ok(mut last) = ctx.client.info.last_cmd.lock() {
        // Most connections repeat the same command: skip the rewrite then.
        let same = match p {
            Some(p) => {
                last.len() == p.len() + 1 + name.len()
                    && last.starts_with(p)
                    && last.ends_with(name)
            }
            None => last.as_str() == name,
        };
        if !same {
            last.clear();
            if let Some(p) = p {
                last.push_str(p);
                last.push('|');
            }
            last.push_str(name);
        }
    }
}

fn count_error(ctx: &ConnCtx, reply: &Reply) {
    let shared = &ctx.worker.shared;
    shared
        .stats
        .total_error_replies
        .fetch_add(1, Ordering::Relaxed);
    if let Reply::Error(text) = reply {
        shared.errorstats.count(text);
    }
}

/// Runs a shard handler where its keys live.
async fn run_keyed(
    ctx: &mut ConnCtx,
    cmd: &CommandSpec,
    f: ShardFn,
    argv: &[Bytes],
) -> CmdResult<Reply> {
    let nshards = ctx.worker.shared.nshards;
    let positions = cmd.key_positions(argv).map_err(CmdError::msg)?;
    let own = ctx.worker.id;
    let mut target = match positions.first() {
        Some(&p) => shard_of(&argv[p], nshards),
        None => own,
    };
    let mut single = true;
    for &p in positions.iter().skip(1) {
        if shard_of(&argv[p], nshards) != target {
            single = false;
            break;
        }
    }
    if positions.is_empty() {
        target = own;
    }
    let db = ctx.client.db;
    let touch = !ctx.client.no_touch;
    // Hook (blocking): after a write, serve clients blocked on its keys in
    // the same shard step, before the next command runs there.
    let write = cmd.has(crate::command::flags::WRITE);
    if single && target == own {
        let r = run_inline(ctx, |shard_ctx| f(shard_ctx, argv)).await;
        if write {
            crate::blocking::after_write_local(
                &ctx.worker,
                positions.iter().map(|&p| &argv[p][..]),
            );
        }
        return r;
    }
    if single {
        let argv = argv.to_vec();
        return hop_unless_busy(ctx, target, move |env| {
            let mut sctx = ShardCtx {
                shard: &mut env.shard,
                db,
                touch,
                limits: &env.limits,
            };
            let r = f(&mut sctx, &argv);
            if write {
                crate::blocking::after_write(env, positions.iter().map(|&p| &argv[p][..]));
            }
            r
        })
        .await
        .map_err(CmdError::msg)?
        .unwrap_or_else(|| Err(CmdError::msg("ERR server is shutting down")));
    }
    let keys: Vec<Bytes> = positions.iter().map(|&p| argv[p].clone()).collect();
    gather_run_scatter(ctx, keys, move |sctx| f(sctx, argv)).await
}

/// Runs `f` on the connection's own shard, waiting while a multi-shard
/// transaction holds it.
pub async fn run_inline<R>(ctx: &ConnCtx, f: impl FnOnce(&mut ShardCtx<'_>) -> R) -> R {
    ctx.worker.wait_unfrozen().await;
    let mut env = ctx.worker.env.borrow_mut();
    let env = &mut *env;
    env.shard.refresh_time();
    let mut sctx = ShardCtx {
        shard: &mut env.shard,
        db: ctx.client.db,
        touch: !ctx.client.no_touch,
        limits: &env.limits,
    };
    f(&mut sctx)
}

type Moved = Vec<(usize, Bytes, Entry)>;

/// Runs a keyed handler whose keys span shards: under a transaction over
/// those shards, moves the keys' entries (in every database) into a
/// scratch shard, runs the handler there, and moves the results back.
pub async fn gather_run_scatter<R>(
    ctx: &ConnCtx,
    keys: Vec<Bytes>,
    f: impl FnOnce(&mut ShardCtx<'_>) -> R,
) -> R {
    let shared = ctx.worker.shared.clone();
    let n = shared.nshards;
    let mut by_shard: Vec<(usize, Vec<Bytes>)> = Vec::new();
    for k in keys {
        let s = shard_of(&k, n);
        match by_shard.iter_mut().find(|(id, _)| *id == s) {
            Some((_, v)) => {
                if !v.contains(&k) {
                    v.push(k)
                }
            }
            None => by_shard.push((s, vec![k])),
        }
    }
    let tx = Tx::begin(&shared, by_shard.iter().map(|(s, _)| *s).collect()).await;
    let limits = ctx.worker.env.borrow().limits.clone();
    let mut scratch = Shard::new(usize::MAX, limits.databases);
    let now = scratch.refresh_time();
    for (s, ks) in &by_shard {
        let ks = ks.clone();
        let moved: Moved = tx
            .run(*s, move |env: &mut ShardEnv| take_keys(&mut env.shard, &ks))
            .await
            .unwrap_or_default();
        for (db, k, e) in moved {
            if let Some(d) = scratch.dbs.get_mut(db) {
                d.insert_entry(&k, e);
            }
        }
    }
    let r = {
        let mut sctx = ShardCtx {
            shard: &mut scratch,
            db: ctx.client.db,
            touch: !ctx.client.no_touch,
            limits: &limits,
        };
        f(&mut sctx)
    };
    let stats = scratch.stats();
    for (i, (s, ks)) in by_shard.iter().enumerate() {
        let mut back: Moved = Vec::new();
        for k in ks {
            for (dbi, d) in scratch.dbs.iter_mut().enumerate() {
                if d.peek(k, now).is_some() {
                    if let Some(e) = d.remove(k) {
                        back.push((dbi, k.clone(), e));
                    }
                }
            }
        }
        let first = i == 0;
        let touched = ks.clone();
        tx.run(*s, move |env: &mut ShardEnv| {
            for (dbi, k, e) in back {
                if let Some(d) = env.shard.dbs.get_mut(dbi) {
                    d.insert_entry(&k, e);
                }
            }
            // Hook (blocking): keys put back may serve blocked clients.
            crate::blocking::after_write(env, touched.iter().map(|k| &k[..]));
            if first {
                // Keep INFO's hit/miss/expired counts: credit them to one shard.
                if let Some(d) = env.shard.dbs.get_mut(0) {
                    d.stats.keyspace_hits += stats.keyspace_hits;
                    d.stats.keyspace_misses += stats.keyspace_misses;
                    d.stats.expired_keys += stats.expired_keys;
                    d.stats.expired_subkeys += stats.expired_subkeys;
                }
            }
        })
        .await;
    }
    drop(tx);
    r
}

fn take_keys(shard: &mut Shard, keys: &[Bytes]) -> Moved {
    let now = shard.now_ms();
    let mut out = Vec::new();
    for (dbi, db) in shard.dbs.iter_mut().enumerate() {
        for k in keys {
            // peek first so an expired key is deleted (and counted) here.
            if db.peek(k, now).is_some() {
                if let Some(e) = db.remove(k) {
                    out.push((dbi, k.clone(), e));
                }
            }
        }
    }
    out
}

/// Runs `f` on every shard at one consistent point and returns the results
/// in shard order. With one shard and no transaction pending, inline.
pub async fn on_all_shards<R, F>(ctx: &ConnCtx, f: F) -> Vec<R>
where
    R: Send + 'static,
    F: Fn(&mut ShardEnv) -> R + Send + Sync + Clone + 'static,
{
    let shared = ctx.worker.shared.clone();
    if shared.nshards == 1 {
        ctx.worker.wait_unfrozen().await;
        let mut env = ctx.worker.env.borrow_mut();
        env.shard.refresh_time();
        return vec![f(&mut env)];
    }
    let tx = Tx::begin(&shared, (0..shared.nshards).collect()).await;
    tx.run_all(f).await
}

/// A request bound for one other shard that may travel in a batch with the
/// pipelined requests after it (DESIGN.md section 3).
pub struct RemotePlan {
    cmd: &'static CommandSpec,
    parent: Option<&'static CommandSpec>,
    f: ShardFn,
    /// Where the keys are (blocked clients are served after writes).
    positions: Vec<usize>,
    /// The shard that owns every key of the request.
    pub target: usize,
}

/// The batch plan for a request, if it is a single-shard keyed command
/// for another shard that passes every gate now. Anything else (errors,
/// connection commands, multi-shard keys, a pause in force) returns `None`
/// and goes through [`execute`] one by one.
pub fn remote_plan(ctx: &ConnCtx, argv: &[Bytes]) -> Option<RemotePlan> {
    let shared = &ctx.worker.shared;
    // A busy script: the request must go through `execute`'s -BUSY gate.
    if shared.nshards == 1 || shared.pause.is_paused() || shared.scripts.busy_error().is_some() {
        return None;
    }
    let (cmd, parent) = resolve(argv).ok()?;
    let Exec::Shard(f) = cmd.exec else {
        return None;
    };
    if cmd.has(crate::command::flags::BLOCKING) {
        return None;
    }
    gates(ctx, cmd, parent, argv).ok()?;
    let positions = cmd.key_positions(argv).ok()?;
    let first = *positions.first()?;
    let target = shard_of(&argv[first], shared.nshards);
    if target == ctx.worker.id
        || positions
            .iter()
            .any(|&p| shard_of(&argv[p], shared.nshards) != target)
    {
        return None;
    }
    Some(RemotePlan {
        cmd,
        parent,
        f,
        positions,
        target,
    })
}

/// Runs consecutive requests planned for the same shard as one message,
/// in order, and returns their replies in order. Each command still runs
/// whole on the shard (atomic); only the round trips are shared.
pub async fn execute_remote_batch(
    ctx: &mut ConnCtx,
    batch: Vec<(RemotePlan, Vec<Bytes>)>,
) -> Vec<Reply> {
    let Some(target) = batch.first().map(|(p, _)| p.target) else {
        return Vec::new();
    };
    let n = batch.len();
    let db = ctx.client.db;
    let touch = !ctx.client.no_touch;
    let mut meta = Vec::with_capacity(n);
    let mut work = Vec::with_capacity(n);
    for (plan, argv) in batch {
        note_last_command(ctx, plan.cmd, plan.parent);
        meta.push((plan.cmd, plan.parent));
        let write = plan.cmd.has(crate::command::flags::WRITE);
        work.push((plan.f, argv, write, plan.positions));
    }
    let start = Instant::now();
    let results = hop_unless_busy(ctx, target, move |env| {
        work.into_iter()
            .map(|(f, argv, write, positions)| {
                env.shard.refresh_time();
                let mut sctx = ShardCtx {
                    shard: &mut env.shard,
                    db,
                    touch,
                    limits: &env.limits,
                };
                let r = f(&mut sctx, &argv);
                if write {
                    // Serve clients blocked on these keys before the
                    // next command, as the unbatched path does.
                    crate::blocking::after_write(env, positions.iter().map(|&p| &argv[p][..]));
                }
                r
            })
            .collect::<Vec<_>>()
    })
    .await
    .unwrap_or_else(|busy| Some((0..n).map(|_| Err(CmdError::msg(busy))).collect()))
    .unwrap_or_else(|| {
        (0..n)
            .map(|_| Err(CmdError::msg("ERR server is shutting down")))
            .collect()
    });
    let shared = ctx.worker.shared.clone();
    // The batch's time, shared evenly for the per-command statistics.
    let usec = start.elapsed().as_micros() as u64 / n as u64;
    let mut replies = Vec::with_capacity(n);
    for ((cmd, parent), result) in meta.into_iter().zip(results) {
        replies.push(finish(ctx, cmd, parent, result, usec));
    }
    shared
        .stats
        .total_commands_processed
        .fetch_add(n as u64, Ordering::Relaxed);
    replies
}

/// A hop to shard `target` that answers `-BUSY` instead of waiting when a
/// script becomes busy while the hop is queued (behind that script, say).
/// A hop cancelled that way never runs. `Ok(None)` when the shard is gone.
async fn hop_unless_busy<R, F>(
    ctx: &ConnCtx,
    target: usize,
    f: F,
) -> Result<Option<R>, &'static str>
where
    R: Send + 'static,
    F: FnOnce(&mut ShardEnv) -> R + Send + 'static,
{
    use std::sync::atomic::AtomicU8;
    const QUEUED: u8 = 0;
    const STARTED: u8 = 1;
    const CANCELLED: u8 = 2;
    let shared = &ctx.worker.shared;
    let state = std::sync::Arc::new(AtomicU8::new(QUEUED));
    let st = state.clone();
    let (tx, rx) = tokio::sync::oneshot::channel();
    shared.send(
        target,
        crate::worker::ShardMsg::Run(Box::new(move |env| {
            if st
                .compare_exchange(QUEUED, STARTED, Ordering::AcqRel, Ordering::Acquire)
                .is_ok()
            {
                let _ = tx.send(f(env));
            }
        })),
    );
    let Some(busy_changed) = shared.scripts.busy_changed(ctx.worker.id) else {
        return Ok(rx.await.ok());
    };
    tokio::pin!(rx);
    loop {
        let changed = busy_changed.notified();
        tokio::pin!(changed);
        changed.as_mut().enable();
        if let Some(e) = shared.scripts.busy_error() {
            if state
                .compare_exchange(QUEUED, CANCELLED, Ordering::AcqRel, Ordering::Acquire)
                .is_ok()
            {
                return Err(e);
            }
            return Ok(rx.await.ok());
        }
        tokio::select! {
            r = &mut rx => return Ok(r.ok()),
            _ = changed => {}
        }
    }
}
