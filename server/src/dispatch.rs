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
use crate::hold::Hold;
use crate::slot::shard_of;
use crate::tx::Tx;
use crate::worker::ShardEnv;
use bytes::Bytes;
use std::rc::Rc;
use std::sync::atomic::Ordering;
use std::time::Instant;
use storage::{CmdError, CmdResult, Entry, Reply, Shard};

/// Runs one request and returns its reply (or queues it inside MULTI).
pub async fn execute(ctx: &mut ConnCtx, argv: Vec<Bytes>) -> Reply {
    let (cmd, parent) = match resolve(&argv) {
        Ok(found) => found,
        Err(reply) => {
            count_error(ctx, &reply);
            crate::commands::multi::flag_error(ctx);
            return reply;
        }
    };
    note_last_command(ctx, cmd, parent);
    if let Err(e) = gates(ctx, cmd, parent, &argv) {
        count(ctx, cmd, parent, |s| s.rejected_calls += 1);
        let reply: Reply = e.into();
        count_error(ctx, &reply);
        crate::commands::multi::flag_error(ctx);
        return reply;
    }
    // maxmemory: evict if over; refuse a denyoom command if still over.
    // (Each gate below is one branch when its feature is unused: this is
    // the path of every request.)
    let memory_gate = ctx.worker.shared.memory.maxmemory() != 0 || crate::evict::pre_command_oom();
    if let Err(e) = match memory_gate {
        true => crate::evict::before_command(ctx, cmd, parent).await,
        false => Ok(()),
    } {
        count(ctx, cmd, parent, |s| s.rejected_calls += 1);
        let reply: Reply = e.into();
        count_error(ctx, &reply);
        return crate::commands::multi::rejected(ctx, cmd, parent, reply).await;
    }
    // A script past busy-reply-threshold: only allow-busy commands run
    // (Redis's processCommand). A keyed command for a shard a script
    // holds waits for it, and gets -BUSY if the script becomes busy.
    if !cmd.has(crate::command::flags::ALLOW_BUSY)
        && (ctx.worker.is_frozen() || ctx.worker.shared.scripts.any_busy())
    {
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
    if ctx.client.multi.is_some() {
        return Box::pin(crate::commands::multi::inside_multi(ctx, cmd, parent, argv)).await;
    }
    // CLIENT PAUSE: wait while a pause holds this command back.
    if ctx.worker.shared.pause.maybe_active() {
        ctx.worker
            .shared
            .pause
            .wait(cmd.has(crate::command::flags::WRITE | crate::command::flags::MAY_REPLICATE))
            .await;
    }
    // A cross-shard BLMOVE's element in flight: start after it lands
    // (`blocking::MoveFence`; SCRIPT KILL and friends never wait).
    if !ctx.worker.shared.moves.is_clear() && !cmd.has(crate::command::flags::ALLOW_BUSY) {
        ctx.worker.shared.moves.wait().await;
    }
    run_resolved(ctx, cmd, parent, cmd.exec, argv).await
}

/// Runs one request now, never queueing and never pausing: the gates, then
/// the handler, with blocking commands in their immediate form. What
/// `hold::call` runs for a script.
pub async fn execute_now(ctx: &mut ConnCtx, argv: Vec<Bytes>) -> Reply {
    let (cmd, parent) = match resolve(&argv) {
        Ok(found) => found,
        Err(reply) => {
            count_error(ctx, &reply);
            return reply;
        }
    };
    if let Err(e) = gates(ctx, cmd, parent, &argv) {
        count(ctx, cmd, parent, |s| s.rejected_calls += 1);
        let reply: Reply = e.into();
        count_error(ctx, &reply);
        return reply;
    }
    run_resolved(ctx, cmd, parent, immediate_form(cmd), argv).await
}

/// How a command runs where Redis never blocks (EXEC, scripts): blocking
/// commands in their immediate form, others as their row says.
pub fn immediate_form(cmd: &'static CommandSpec) -> Exec {
    if cmd.has(crate::command::flags::BLOCKING) {
        let now = crate::commands::list::NONBLOCKING
            .iter()
            .chain(crate::commands::zset::NONBLOCKING)
            .find(|(name, _)| *name == cmd.name);
        if let Some((_, f)) = now {
            return Exec::Shard(*f);
        }
    }
    cmd.exec
}

/// Runs a command that passed its gates with `exec` (its row's handler or
/// its immediate form) and returns its reply, counted in the statistics and
/// the slow log.
pub async fn run_resolved(
    ctx: &mut ConnCtx,
    cmd: &'static CommandSpec,
    parent: Option<&'static CommandSpec>,
    exec: Exec,
    argv: Vec<Bytes>,
) -> Reply {
    let worker = ctx.worker.clone();
    let shared = &worker.shared;
    // Hook (tracking): remember the keys a tracking client reads.
    crate::commands::tracking::before_command(ctx, cmd, &argv);
    // Hook (monitor): the command as received, fed after it ran.
    let monitored = (shared.hub.monitors.any()
        && !cmd.has(crate::command::flags::ADMIN | crate::command::flags::SKIP_MONITOR))
    .then(|| crate::monitor::redacted(cmd.name, &argv));
    let slowlog_on = shared.slowlog.enabled() && !cmd.has(crate::command::flags::SKIP_SLOWLOG);
    let argc = argv.len();
    let start = Instant::now();
    // Shard handlers borrow the arguments, so the slow log can still read
    // them afterwards without a copy on the hot path.
    let (result, argv) = match exec {
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
    crate::commands::tracking::after_command(ctx, parent);
    if let Some(args) = monitored {
        let source = ctx.client.info.addr.to_string();
        shared
            .hub
            .monitors
            .feed(&shared.hub, ctx.client.db, &source, &args);
    }
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
    // Hook (tracking): invalidations reach their clients before this reply.
    if shared.hub.maybe_deliveries() {
        shared.hub.await_deliveries(ctx.client.id).await;
    }
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
    // Redis's `server.dirty`, approximated: a write command counts once
    // unless its reply says it changed nothing.
    if !failed
        && cmd.has(crate::command::flags::WRITE)
        && !matches!(reply, Reply::Nil | Reply::NilArray | Reply::Int(0))
    {
        ctx.worker.shared.persist.note_change();
    }
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
pub(crate) fn resolve(
    argv: &[Bytes],
) -> Result<(&'static CommandSpec, Option<&'static CommandSpec>), Reply> {
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
pub(crate) fn gates(
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
    crate::persist::write_gate(&ctx.worker.shared, cmd)?;
    // Hook (pubsub): a RESP2 connection with subscriptions only takes
    // (un)subscriptions, PING, QUIT and RESET.
    if ctx.client.resp == crate::protocol::encode::Resp::V2
        && ctx.client.subs.active()
        && !crate::commands::pubsub::allowed_in_resp2_pubsub(parent.map_or(cmd.name, |p| p.name))
    {
        return Err(CmdError::Other(
            format!(
                "ERR Can't execute '{}': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context",
                cmd.full_name(parent)
            )
            .into(),
        ));
    }
    Ok(())
}

pub(crate) fn count(
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
    ctx: &mut ConnCtx,
    cmd: &'static CommandSpec,
    parent: Option<&'static CommandSpec>,
) {
    // Most connections repeat the same command: skip the shared write then.
    let same = ctx.client.last_cmd.is_some_and(|(c, p)| {
        std::ptr::eq(c, cmd)
            && match (p, parent) {
                (Some(a), Some(b)) => std::ptr::eq(a, b),
                (None, None) => true,
                _ => false,
            }
    });
    if same {
        return;
    }
    ctx.client.last_cmd = Some((cmd, parent));
    if let Ok(mut last) = ctx.client.info.last_cmd.lock() {
        last.clear();
        if let Some(p) = parent {
            last.push_str(p.name);
            last.push('|');
        }
        last.push_str(cmd.name);
    }
}

pub(crate) fn count_error(ctx: &ConnCtx, reply: &Reply) {
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
    let client = ctx.client.id;
    // Hooks after a write, in the same shard step: mark WATCHers dirty,
    // and serve clients blocked on its keys before the next command.
    let write = cmd.has(crate::command::flags::WRITE);
    if let Some(hold) = ctx.hold.clone() {
        // Boxed: rare, and would otherwise grow every request's future.
        return Box::pin(run_keyed_held(
            ctx, &hold, f, argv, positions, target, single, write,
        ))
        .await;
    }
    if single && target == own {
        let r = run_inline_unheld(ctx, |shard_ctx| f(shard_ctx, argv)).await;
        if write {
            let mut env = ctx.worker.env.borrow_mut();
            crate::blocking::after_write(&mut env, positions.iter().map(|&p| &argv[p][..]));
        }
        return r;
    }
    if single {
        let argv = argv.to_vec();
        return hop_unless_busy(ctx, target, move |env| {
            let r = run_on_env(env, f, &argv, db, touch, client);
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
    Box::pin(gather_run_scatter(ctx, keys, write, move |sctx| {
        f(sctx, argv)
    }))
    .await
}

/// Runs a shard handler on an environment.
fn run_on_env(
    env: &mut ShardEnv,
    f: ShardFn,
    argv: &[Bytes],
    db: usize,
    touch: bool,
    client: u64,
) -> CmdResult<Reply> {
    crate::notify::with_ctx(env, db, touch, client, |sctx| f(sctx, argv))
}

/// The error of a held command that reaches a shard its hold lacks (a bug
/// in computing the hold's shards; answered instead of risking a deadlock).
fn not_held() -> CmdError {
    CmdError::msg("ERR internal error: shard not held by this transaction")
}

/// [`run_keyed`] while the connection holds shards (EXEC, scripts): the
/// command runs on the held shards, its keys' blocked clients are served
/// when the hold is released.
#[allow(clippy::too_many_arguments)]
async fn run_keyed_held(
    ctx: &ConnCtx,
    hold: &Rc<Hold>,
    f: ShardFn,
    argv: &[Bytes],
    positions: crate::command::KeyPositions,
    target: usize,
    single: bool,
    write: bool,
) -> CmdResult<Reply> {
    let db = ctx.client.db;
    let touch = !ctx.client.no_touch;
    let client = ctx.client.id;
    if !single {
        let n = ctx.worker.shared.nshards;
        // Moving entries out of a shard the hold lacks could lose them.
        if positions
            .iter()
            .any(|&p| !hold.holds(shard_of(&argv[p], n)))
        {
            return Err(not_held());
        }
        let keys: Vec<Bytes> = positions.iter().map(|&p| argv[p].clone()).collect();
        return gather_run_scatter(ctx, keys, write, move |sctx| f(sctx, argv)).await;
    }
    let r = if target == ctx.worker.id {
        hold.with_own(|env| run_on_env(env, f, argv, db, touch, client))
    } else {
        let argv = argv.to_vec();
        hold.run_on(target, move |env| {
            run_on_env(env, f, &argv, db, touch, client)
        })
        .await
    };
    if write {
        hold.defer_wake(target, positions.iter().map(|&p| argv[p].clone()));
    }
    r.unwrap_or_else(|| Err(not_held()))
}

/// Runs `f` on the connection's own shard, waiting while a multi-shard
/// transaction holds it. Under a hold, directly on the held own shard.
pub async fn run_inline<R>(ctx: &ConnCtx, f: impl FnOnce(&mut ShardCtx<'_>) -> R) -> R {
    if let Some(hold) = &ctx.hold {
        if !hold.holds(ctx.worker.id) {
            // A bug in computing the hold's shards. Waiting for the own
            // shard could deadlock with the held ones: run unfrozen-or-not.
            tracing::warn!("a held command ran on an own shard it does not hold");
        }
        let mut env = ctx.worker.env.borrow_mut();
        let env = &mut *env;
        env.shard.refresh_time();
        return crate::notify::with_ctx(env, ctx.client.db, !ctx.client.no_touch, ctx.client.id, f);
    }
    run_inline_unheld(ctx, f).await
}

/// [`run_inline`] without a hold.
async fn run_inline_unheld<R>(ctx: &ConnCtx, f: impl FnOnce(&mut ShardCtx<'_>) -> R) -> R {
    if ctx.worker.is_frozen() {
        ctx.worker.wait_unfrozen().await;
    }
    let mut env = ctx.worker.env.borrow_mut();
    let env = &mut *env;
    env.shard.refresh_time();
    crate::notify::with_ctx(env, ctx.client.db, !ctx.client.no_touch, ctx.client.id, f)
}

/// Runs `f` on shard `s`: inline on the own shard (waiting while a
/// transaction holds it), otherwise as a hop; under a hold, on the held
/// shard (`None` if it is not held). `None` also when the shard is gone.
pub async fn run_on_shard<R, F>(ctx: &ConnCtx, s: usize, f: F) -> Option<R>
where
    R: Send + 'static,
    F: FnOnce(&mut ShardEnv) -> R + Send + 'static,
{
    if let Some(hold) = &ctx.hold {
        return hold.run_on(s, f).await;
    }
    if s == ctx.worker.id {
        ctx.worker.wait_unfrozen().await;
        let mut env = ctx.worker.env.borrow_mut();
        env.shard.refresh_time();
        Some(f(&mut env))
    } else {
        ctx.worker.shared.run_on(s, f).await
    }
}

/// Shards frozen for one multi-shard operation: a transaction of its own,
/// or the connection's hold when it has one (never both: nesting a
/// transaction inside a hold would deadlock).
pub enum Frozen {
    /// A transaction started for this operation.
    Tx(Tx),
    /// The connection's hold.
    Held(Rc<Hold>),
}

impl Frozen {
    /// Runs `f` on frozen shard `s`; `None` if it is not frozen or is gone.
    pub async fn run<R, F>(&self, s: usize, f: F) -> Option<R>
    where
        R: Send + 'static,
        F: FnOnce(&mut ShardEnv) -> R + Send + 'static,
    {
        match self {
            Frozen::Tx(tx) => tx.run(s, f).await,
            Frozen::Held(h) => h.run_on(s, f).await,
        }
    }

    /// Runs `f` on every frozen shard; results in shard order.
    pub async fn run_all<R, F>(&self, f: F) -> Vec<R>
    where
        R: Send + 'static,
        F: Fn(&mut ShardEnv) -> R + Send + Sync + Clone + 'static,
    {
        match self {
            Frozen::Tx(tx) => tx.run_all(f).await,
            Frozen::Held(h) => h.run_all(f).await,
        }
    }

    /// The frozen shards, ascending.
    pub fn shards(&self) -> &[usize] {
        match self {
            Frozen::Tx(tx) => tx.shards(),
            Frozen::Held(h) => h.shards(),
        }
    }
}

/// Freezes `shards` for one operation: under a hold, the hold itself (it
/// must cover them); otherwise a new transaction.
pub async fn freeze(ctx: &ConnCtx, shards: Vec<usize>) -> Frozen {
    match &ctx.hold {
        Some(h) => Frozen::Held(h.clone()),
        None => Frozen::Tx(Tx::begin(&ctx.worker.shared, shards).await),
    }
}

type Moved = Vec<(usize, Bytes, Entry)>;

/// Runs a keyed handler whose keys span shards: under a transaction over
/// those shards (or the connection's hold), moves the keys' entries (in
/// every database) into a scratch shard, runs the handler there, and moves
/// the results back. `_write` is no longer needed (WATCH follows the
/// modified-key signal); kept so callers stay unchanged.
pub async fn gather_run_scatter<R>(
    ctx: &ConnCtx,
    keys: Vec<Bytes>,
    _write: bool,
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
    let tx = freeze(ctx, by_shard.iter().map(|(s, _)| *s).collect()).await;
    let limits = ctx.worker.env.borrow().limits.clone();
    let hub = shared.hub.clone();
    let client = ctx.client.id;
    let mut scratch = Shard::new(usize::MAX, limits.databases);
    scratch.set_access(limits.memory.access());
    let now = scratch.refresh_time();
    for (s, ks) in &by_shard {
        let ks = ks.clone();
        let moved: Moved = tx
            .run(*s, move |env: &mut ShardEnv| {
                // Keys found expired here are real expiries: report them.
                let logging = crate::notify::sync_logging(&mut env.shard, &env.hub);
                let moved = take_keys(&mut env.shard, &ks);
                if logging {
                    crate::notify::after_step(&mut env.shard, &env.hub, client);
                }
                moved
            })
            .await
            .unwrap_or_default();
        for (db, k, e) in moved {
            if let Some(d) = scratch.dbs.get_mut(db) {
                d.put_entry(&k, e);
            }
        }
    }
    let db = ctx.client.db;
    // WATCH: log what the command modifies (forwarded at put-back).
    scratch.log_modified = true;
    let r = {
        let logging = crate::notify::sync_logging(&mut scratch, &hub);
        let mut sctx = ShardCtx {
            shard: &mut scratch,
            db,
            touch: !ctx.client.no_touch,
            limits: &limits,
            hub: &hub,
            client,
        };
        let r = f(&mut sctx);
        if logging {
            crate::notify::after_step(&mut scratch, &hub, client);
        }
        r
    };
    let stats = scratch.stats();
    let held = matches!(tx, Frozen::Held(_));
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
        // WATCH: the scratch's modified keys that live on this shard.
        let modified: Vec<(usize, Bytes)> = scratch
            .modified
            .iter()
            .filter(|(_, k)| ks.contains(k))
            .cloned()
            .collect();
        tx.run(*s, move |env: &mut ShardEnv| {
            for (dbi, k, e) in back {
                if let Some(d) = env.shard.dbs.get_mut(dbi) {
                    d.put_entry(&k, e);
                }
            }
            crate::watch::touch_forwarded(env, modified);
            // Hook (blocking): keys put back may serve blocked clients
            // (under a hold, when it is released).
            if !held {
                crate::blocking::after_write(env, touched.iter().map(|k| &k[..]));
            }
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
        if let Frozen::Held(h) = &tx {
            h.defer_wake(*s, ks.iter().cloned());
        }
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
/// Under a hold, on the held shards (all of them, for a global command).
pub async fn on_all_shards<R, F>(ctx: &ConnCtx, f: F) -> Vec<R>
where
    R: Send + 'static,
    F: Fn(&mut ShardEnv) -> R + Send + Sync + Clone + 'static,
{
    if let Some(h) = &ctx.hold {
        return h.run_all(f).await;
    }
    let shared = ctx.worker.shared.clone();
    let client = ctx.client.id;
    // Keys found expired on the way are reported like any expiry.
    let f = move |env: &mut ShardEnv| {
        let logging = crate::notify::sync_logging(&mut env.shard, &env.hub);
        let r = f(env);
        if logging {
            crate::notify::after_step(&mut env.shard, &env.hub, client);
        }
        r
    };
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
    positions: crate::command::KeyPositions,
    /// The shard that owns every key of the request.
    pub target: usize,
}

/// The batch plan for a request, if it is a single-shard keyed command
/// for another shard that passes every gate now. Anything else (errors,
/// connection commands, multi-shard keys, a pause in force) returns `None`
/// and goes through [`execute`] one by one.
pub fn remote_plan(ctx: &ConnCtx, argv: &[Bytes]) -> Option<RemotePlan> {
    let shared = &ctx.worker.shared;
    // Tracking clients and monitors need dispatch's per-command hooks; a
    // busy script's -BUSY gate is in `execute`.
    if shared.nshards == 1
        || shared.pause.is_paused()
        || ctx.client.multi.is_some()
        || ctx.client.tracking.is_some()
        || shared.hub.monitors.any()
        || shared.scripts.busy_error().is_some()
        || !shared.moves.is_clear()
    {
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
    // Over maxmemory: go through `execute`, whose gate evicts.
    if crate::evict::over_limit(&ctx.worker) {
        return None;
    }
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
    let client = ctx.client.id;
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
                let r = crate::notify::with_ctx(env, db, touch, client, |sctx| f(sctx, &argv));
                if write {
                    // Serve clients blocked on these keys before the next
                    // command, as the unbatched path does.
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
    shared.hub.await_deliveries(ctx.client.id).await;
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
