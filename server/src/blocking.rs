//! Blocking commands: clients parked on keys until a write fills them.
//!
//! A blocked client owns one [`Waiter`] (shared by every key it waits on,
//! on every shard) and registers a [`Parked`] entry in the wait list of
//! each key, in the shard that owns the key. The first shard to serve it
//! wins by *claiming* the waiter (an atomic flag); timeout, CLIENT UNBLOCK
//! and disconnection claim it too, so a waiter is answered exactly once.
//! Entries of claimed waiters are dropped lazily when met and eagerly by a
//! cleanup message when the blocked command ends.
//!
//! Serving is synchronous with the write that made a key ready: dispatch
//! calls [`after_write`] right after every write command on the shard, in
//! the same step, so the next command on that shard already sees the list
//! after the waiters took their elements (Redis's `handleClientsBlockedOnKeys`
//! before the next command). Waiters on one key are served first come,
//! first served.
//!
//! Invariants:
//! - a key's wait list lives on the shard that owns the key;
//! - a waiter is answered once (claim before send);
//! - parking re-checks the key in the same shard step, so a push between
//!   the first attempt and parking is never missed.
//!
//! Serving runs as the blocked client (Redis re-runs the command for it):
//! its keyspace events and invalidations name it (tracking NOLOOP), and
//! its CLIENT NO-TOUCH holds.
//!
//! One case can't be finished inside the source shard's step: BLMOVE whose
//! destination lives on another shard. The first waiter still claims the
//! element in the push's step (strict FIFO), pops it, and sends it to the
//! destination's shard ([`Served::Move`]); the waiter is answered once it
//! is pushed there. While such a move is in flight, [`MoveFence`] holds
//! back every command about to start (`dispatch::execute`), so nobody who
//! could know of the push sees the element in neither list: from any
//! client's view the move is atomic. Should the destination turn out to
//! hold another type, the element goes back to the source's end it came
//! from and the waiter gets WRONGTYPE, as Redis (which never pops then).

use crate::clients::ClientInfo;
use crate::command::ShardCtx;
use crate::conn::ConnCtx;
use crate::slot::shard_of;
use crate::worker::{ShardEnv, ShardMsg, Worker};
use bytes::Bytes;
use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::Poll;
use std::time::Duration;
use storage::{CmdError, CmdResult, Reply};
use tokio::sync::oneshot;

/// What serving a parked client on a key did.
pub enum Served {
    /// The key holds nothing for this client: keep waiting.
    NotReady,
    /// The waiter was already answered elsewhere: drop the entry.
    Gone,
    /// Claimed and popped: the element goes on to another shard.
    Move(Transfer),
    /// Served with this reply; the key (if any) was pushed to and may now
    /// serve its own waiters.
    Reply(Reply, Option<Bytes>),
}

/// Pushes an element on a list (a blocking command's destination):
/// `(ctx, key, element, left)`. WRONGTYPE leaves everything unchanged.
pub type PushFn = fn(&mut ShardCtx<'_>, &[u8], &[u8], bool) -> CmdResult<()>;

/// An element a cross-shard BLMOVE popped, on its way to `dst`.
pub struct Transfer {
    /// Where it came from (it goes back there if `dst` has another type).
    pub src: Bytes,
    /// The end it was popped from.
    pub from_left: bool,
    /// The destination key, on another shard.
    pub dst: Bytes,
    /// The end to push it on.
    pub to_left: bool,
    /// The element (also the blocked client's reply).
    pub value: Bytes,
    /// The list push.
    pub push: PushFn,
}

/// Cross-shard moves in flight (kept in `Shared`; see the module doc).
#[derive(Default)]
pub struct MoveFence {
    n: AtomicUsize,
    done: tokio::sync::Notify,
}

impl MoveFence {
    /// True when no move is in flight (one load: the command path's cost).
    #[inline]
    pub fn is_clear(&self) -> bool {
        self.n.load(Ordering::Acquire) == 0
    }

    /// Waits until no move is in flight.
    pub async fn wait(&self) {
        loop {
            let done = self.done.notified();
            tokio::pin!(done);
            done.as_mut().enable();
            if self.is_clear() {
                return;
            }
            done.await;
        }
    }
}

/// One move in flight: counted from the pop until the element is pushed
/// (or put back), also if the shard's message is dropped at shutdown.
struct InFlight(Arc<crate::server::Shared>);

impl InFlight {
    fn new(shared: Arc<crate::server::Shared>) -> InFlight {
        shared.moves.n.fetch_add(1, Ordering::AcqRel);
        InFlight(shared)
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        if self.0.moves.n.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.0.moves.done.notify_waiters();
        }
    }
}

/// The first, non-blocking attempt of a blocking command over its keys:
/// `Ok(None)` when it would block.
pub type AttemptFn =
    Arc<dyn Fn(&mut ShardCtx<'_>, &[Bytes]) -> CmdResult<Option<Reply>> + Send + Sync>;

/// Serves a parked client from a key; must call `claim` (and get true)
/// before changing anything.
pub type ServeFn = Arc<dyn Fn(&mut ShardCtx<'_>, &[u8], &dyn Fn() -> bool) -> Served + Send + Sync>;

/// A blocking command, parsed.
pub struct BlockRequest {
    /// The keys to wait on, in the command's order.
    pub keys: Vec<Bytes>,
    /// Other keys the command writes (BLMOVE's destination).
    pub extra_keys: Vec<Bytes>,
    /// Milliseconds to wait; 0 is forever.
    pub timeout_ms: u64,
    /// The reply when the timeout expires.
    pub timeout_reply: Reply,
    /// The non-blocking attempt.
    pub attempt: AttemptFn,
    /// Serving from one ready key.
    pub serve: ServeFn,
}

/// Why a blocked client wakes up.
enum Wake {
    Served(Reply),
    Unblocked { error: bool },
}

/// One blocked client, shared by all its wait-list entries.
pub struct Waiter {
    done: AtomicBool,
    tx: Mutex<Option<oneshot::Sender<Wake>>>,
}

impl Waiter {
    fn new(tx: oneshot::Sender<Wake>) -> Waiter {
        Waiter {
            done: AtomicBool::new(false),
            tx: Mutex::new(Some(tx)),
        }
    }

    /// Takes the right to answer this waiter; true for the one caller that wins.
    fn claim(&self) -> bool {
        !self.done.swap(true, Ordering::AcqRel)
    }

    fn is_done(&self) -> bool {
        self.done.load(Ordering::Acquire)
    }

    fn send(&self, w: Wake) {
        let tx = self.tx.lock().ok().and_then(|mut g| g.take());
        if let Some(tx) = tx {
            let _ = tx.send(w);
        }
    }
}

/// A client's current waiter, for CLIENT UNBLOCK and the disconnect watch
/// (kept in [`ClientInfo`]).
#[derive(Default)]
pub struct BlockedSlot(Mutex<Option<Arc<Waiter>>>);

impl BlockedSlot {
    fn set(&self, w: Option<Arc<Waiter>>) {
        if let Ok(mut g) = self.0.lock() {
            *g = w;
        }
    }

    /// True while the client is blocked.
    pub fn is_blocked(&self) -> bool {
        self.0
            .lock()
            .map(|g| g.as_ref().is_some_and(|w| !w.is_done()))
            .unwrap_or(false)
    }

    /// CLIENT UNBLOCK: wakes the client as if timed out, or with an error.
    /// False when it wasn't blocked.
    pub fn unblock(&self, error: bool) -> bool {
        let w = self.0.lock().ok().and_then(|g| g.clone());
        match w {
            Some(w) if w.claim() => {
                w.send(Wake::Unblocked { error });
                true
            }
            _ => false,
        }
    }
}

/// Who a blocked command runs as when served: its database, client id
/// (events and invalidations name it) and whether it touches keys.
#[derive(Clone, Copy)]
struct Caller {
    db: usize,
    client: u64,
    touch: bool,
}

/// One entry of a key's wait list.
struct Parked {
    waiter: Arc<Waiter>,
    caller: Caller,
    serve: ServeFn,
}

/// A shard's wait lists (kept in [`ShardEnv`]).
#[derive(Default)]
pub struct ShardWaiters {
    /// Per key (any database), the parked clients in arrival order.
    queues: HashMap<Box<[u8]>, VecDeque<Parked>>,
    /// Keys signaled ready, to serve before the next command.
    ready: VecDeque<Box<[u8]>>,
    /// The other shards, for cross-shard moves (unset in unit tests).
    shared: Option<Arc<crate::server::Shared>>,
}

impl ShardWaiters {
    /// Wait lists of a worker's shard, able to reach the other shards.
    pub fn new(shared: Arc<crate::server::Shared>) -> ShardWaiters {
        ShardWaiters {
            shared: Some(shared),
            ..Default::default()
        }
    }

    /// Number of keys with parked clients.
    pub fn keys(&self) -> usize {
        self.queues.len()
    }
}

/// Dispatch hook: after a write command on this shard touched `keys`,
/// serve the clients blocked on any of them. Cheap when nobody waits.
pub fn after_write<'a>(env: &mut ShardEnv, keys: impl IntoIterator<Item = &'a [u8]>) {
    if env.blocking.queues.is_empty() {
        return;
    }
    for k in keys {
        if env.blocking.queues.contains_key(k) {
            env.blocking.ready.push_back(k.into());
        }
    }
    serve_ready(env);
}

/// [`after_write`] on the worker's own shard.
pub fn after_write_local<'a>(worker: &Worker, keys: impl IntoIterator<Item = &'a [u8]>) {
    let mut env = worker.env.borrow_mut();
    after_write(&mut env, keys);
}

/// Serves the waiters of every key signaled ready, first come first
/// served, until the keys run dry.
fn serve_ready(env: &mut ShardEnv) {
    while let Some(key) = env.blocking.ready.pop_front() {
        let Some(mut q) = env.blocking.queues.remove(&key) else {
            continue;
        };
        let mut i = 0;
        while i < q.len() {
            if q[i].waiter.is_done() {
                q.remove(i);
                continue;
            }
            let waiter = q[i].waiter.clone();
            let serve = q[i].serve.clone();
            let c = q[i].caller;
            let served = crate::notify::with_ctx(env, c.db, c.touch, c.client, |sctx| {
                serve(sctx, &key, &|| waiter.claim())
            });
            match served {
                Served::NotReady => i += 1,
                Served::Gone => {
                    q.remove(i);
                }
                Served::Move(t) => {
                    q.remove(i);
                    start_move(env, c, waiter, t);
                }
                Served::Reply(r, pushed) => {
                    waiter.send(Wake::Served(r));
                    q.remove(i);
                    if let Some(d) = pushed {
                        if env.blocking.queues.contains_key(&d[..]) || d[..] == key[..] {
                            env.blocking.ready.push_back(d[..].into());
                        }
                    }
                }
            }
        }
        if !q.is_empty() {
            // Entries parked meanwhile (none: serving doesn't park) go after.
            let slot = env.blocking.queues.entry(key).or_default();
            let newer = std::mem::take(slot);
            *slot = q;
            slot.extend(newer);
        }
    }
}

/// Parks `waiter` on `keys` of this shard, serving it at once instead if a
/// key is ready (closes the race with writes since the attempt).
fn park(env: &mut ShardEnv, c: Caller, keys: &[Bytes], waiter: &Arc<Waiter>, serve: &ServeFn) {
    for k in keys {
        if waiter.is_done() {
            return;
        }
        let served = crate::notify::with_ctx(env, c.db, c.touch, c.client, |sctx| {
            serve(sctx, k, &|| waiter.claim())
        });
        match served {
            Served::NotReady => env
                .blocking
                .queues
                .entry(k[..].into())
                .or_default()
                .push_back(Parked {
                    waiter: waiter.clone(),
                    caller: c,
                    serve: serve.clone(),
                }),
            Served::Gone => return,
            Served::Move(t) => {
                start_move(env, c, waiter.clone(), t);
                return;
            }
            Served::Reply(r, pushed) => {
                waiter.send(Wake::Served(r));
                after_write(env, pushed.as_deref());
                return;
            }
        }
    }
}

/// Sends an element a waiter popped on to its destination's shard: pushed
/// there as the waiter (its events, then its reply, then the
/// destination's own waiters), or on WRONGTYPE put back where it came from.
fn start_move(env: &mut ShardEnv, c: Caller, waiter: Arc<Waiter>, t: Transfer) {
    let Some(shared) = env.blocking.shared.clone() else {
        // No other shard to reach (unit tests): put it back, answer nil.
        let _ = crate::notify::with_ctx(env, c.db, c.touch, c.client, |sctx| {
            (t.push)(sctx, &t.src, &t.value, t.from_left)
        });
        waiter.send(Wake::Served(Reply::Nil));
        return;
    };
    let guard = InFlight::new(shared.clone());
    let d = shard_of(&t.dst, shared.nshards);
    let s = shard_of(&t.src, shared.nshards);
    shared.clone().send(
        d,
        ShardMsg::Run(Box::new(move |env| {
            let r = crate::notify::with_ctx(env, c.db, c.touch, c.client, |sctx| {
                (t.push)(sctx, &t.dst, &t.value, t.to_left)
            });
            match r {
                Ok(()) => {
                    crate::watch::touch(env, c.db, [&t.dst[..]]);
                    waiter.send(Wake::Served(Reply::Bulk(t.value.clone())));
                    after_write(env, [&t.dst[..]]);
                    drop(guard);
                }
                Err(e) => shared.send(
                    s,
                    ShardMsg::Run(Box::new(move |env| {
                        let _ = crate::notify::with_ctx(env, c.db, c.touch, c.client, |sctx| {
                            (t.push)(sctx, &t.src, &t.value, t.from_left)
                        });
                        crate::watch::touch(env, c.db, [&t.src[..]]);
                        waiter.send(Wake::Served(e.into()));
                        after_write(env, [&t.src[..]]);
                        drop(guard);
                    })),
                ),
            }
        })),
    );
}

/// Removes `waiter`'s entries from the wait lists of `keys`.
fn forget(env: &mut ShardEnv, keys: &[Bytes], waiter: &Arc<Waiter>) {
    for k in keys {
        if let Some(q) = env.blocking.queues.get_mut(&k[..]) {
            q.retain(|p| !Arc::ptr_eq(&p.waiter, waiter));
            if q.is_empty() {
                env.blocking.queues.remove(&k[..]);
            }
        }
    }
}

/// Runs `f` on shard `s` (see `dispatch::run_on_shard`).
async fn on_shard<R, F>(ctx: &ConnCtx, s: usize, f: F) -> Option<R>
where
    R: Send + 'static,
    F: FnOnce(&mut ShardEnv) -> R + Send + 'static,
{
    crate::dispatch::run_on_shard(ctx, s, f).await
}

/// Groups keys by shard, keeping the order of first appearance.
fn by_shard(keys: &[Bytes], n: usize) -> Vec<(usize, Vec<Bytes>)> {
    let mut out: Vec<(usize, Vec<Bytes>)> = Vec::new();
    for k in keys {
        let s = shard_of(k, n);
        match out.iter_mut().find(|(id, _)| *id == s) {
            Some((_, v)) => v.push(k.clone()),
            None => out.push((s, vec![k.clone()])),
        }
    }
    out
}

/// Answers the waiter for the blocked client if nobody else did, and
/// removes its wait-list entries everywhere (also when the command's
/// future is dropped: disconnection).
struct Cleanup<'a> {
    info: &'a ClientInfo,
    shared: Arc<crate::server::Shared>,
    waiter: Arc<Waiter>,
    parked: Vec<(usize, Vec<Bytes>)>,
}

impl Drop for Cleanup<'_> {
    fn drop(&mut self) {
        self.waiter.claim();
        self.info.blocked.set(None);
        for (s, keys) in self.parked.drain(..) {
            let w = self.waiter.clone();
            self.shared.send(
                s,
                ShardMsg::Run(Box::new(move |env| forget(env, &keys, &w))),
            );
        }
    }
}

fn shutting_down() -> CmdError {
    CmdError::msg("ERR server is shutting down")
}

/// Runs a blocking command: the attempt, then parking until served, timed
/// out, unblocked or disconnected.
pub async fn block(ctx: &mut ConnCtx, req: BlockRequest) -> CmdResult<Reply> {
    let deadline = (req.timeout_ms > 0)
        .then(|| tokio::time::Instant::now() + Duration::from_millis(req.timeout_ms));
    let shared = ctx.worker.shared.clone();
    let n = shared.nshards;
    let db = ctx.client.db;
    let touch = !ctx.client.no_touch;
    let client = ctx.client.id;
    let caller = Caller { db, client, touch };
    let wait_on = by_shard(&req.keys, n);
    let mut all_keys = req.keys.clone();
    all_keys.extend(req.extra_keys.iter().cloned());
    let single = by_shard(&all_keys, n).len() == 1;
    let (tx, mut rx) = oneshot::channel();
    let waiter = Arc::new(Waiter::new(tx));
    let mut parked = Vec::new();
    if single {
        let (s, _) = wait_on[0];
        let keys = req.keys.clone();
        let extra = req.extra_keys.clone();
        let attempt = req.attempt.clone();
        let serve = req.serve.clone();
        let w = waiter.clone();
        let r = on_shard(ctx, s, move |env| {
            let r = crate::notify::with_ctx(env, db, touch, client, |sctx| attempt(sctx, &keys));
            if let Ok(None) = r {
                park(env, caller, &keys, &w, &serve);
            } else {
                if let Ok(Some(_)) = r {
                    // Hook (WATCH): the attempt popped (and maybe pushed).
                    crate::watch::touch(env, db, keys.iter().chain(&extra).map(|k| &k[..]));
                }
                after_write(env, extra.iter().map(|k| &k[..]));
            }
            r
        })
        .await
        .ok_or_else(shutting_down)??;
        if let Some(reply) = r {
            return Ok(reply);
        }
        parked.push((s, req.keys.clone()));
    } else {
        // Keys on several shards: one atomic attempt over all of them,
        // then park shard by shard (each re-checks its keys).
        let attempt = req.attempt.clone();
        let keys = req.keys.clone();
        let r = crate::dispatch::gather_run_scatter(ctx, all_keys.clone(), true, move |sctx| {
            attempt(sctx, &keys)
        })
        .await?;
        if let Some(reply) = r {
            return Ok(reply);
        }
        for (s, keys) in &wait_on {
            let (s, keys) = (*s, keys.clone());
            let serve = req.serve.clone();
            let w = waiter.clone();
            let k2 = keys.clone();
            on_shard(ctx, s, move |env| park(env, caller, &k2, &w, &serve))
                .await
                .ok_or_else(shutting_down)?;
            parked.push((s, keys));
            if waiter.is_done() {
                break;
            }
        }
    }
    ctx.client.info.blocked.set(Some(waiter.clone()));
    let cleanup = Cleanup {
        info: &ctx.client.info,
        shared: shared.clone(),
        waiter: waiter.clone(),
        parked,
    };
    let woke = match deadline {
        Some(d) => tokio::select! {
            w = &mut rx => w.ok(),
            _ = tokio::time::sleep_until(d) => None,
        },
        None => (&mut rx).await.ok(),
    };
    let woke = match woke {
        Some(w) => Some(w),
        // Timed out: answer with the timeout reply unless someone
        // claimed the waiter first (then their answer is on its way).
        None if waiter.claim() => None,
        None => rx.await.ok(),
    };
    drop(cleanup);
    match woke {
        Some(Wake::Served(r)) => Ok(r),
        Some(Wake::Unblocked { error: true }) => Ok(Reply::error(
            "UNBLOCKED client unblocked via CLIENT UNBLOCK",
        )),
        Some(Wake::Unblocked { error: false }) | None => Ok(req.timeout_reply),
    }
}

/// Connection hook: resolves when the client disconnects (or is killed)
/// while its command is blocked, so the connection drops the command and
/// its waiters are forgotten. Never resolves for a command that isn't
/// blocked; data the client sends meanwhile stops the watch (it is read
/// after the blocked command answers).
pub async fn closed_while_blocked(info: &ClientInfo, stream: &tokio::net::TcpStream) {
    std::future::poll_fn(|_| {
        // Re-polled whenever the command's future is woken (same select).
        if info.blocked.is_blocked() {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    })
    .await;
    let mut b = [0u8; 1];
    tokio::select! {
        r = stream.peek(&mut b) => match r {
            Ok(0) | Err(_) => {}
            Ok(_) => std::future::pending::<()>().await,
        },
        _ = info.kill_notify.notified() => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_waiter_is_claimed_once() {
        let (tx, mut rx) = oneshot::channel();
        let w = Waiter::new(tx);
        assert!(w.claim());
        assert!(!w.claim());
        w.send(Wake::Served(Reply::Nil));
        assert!(matches!(rx.try_recv(), Ok(Wake::Served(Reply::Nil))));
    }

    #[test]
    fn unblock_only_a_blocked_client() {
        let slot = BlockedSlot::default();
        assert!(!slot.unblock(true));
        let (tx, mut rx) = oneshot::channel();
        slot.set(Some(Arc::new(Waiter::new(tx))));
        assert!(slot.is_blocked());
        assert!(slot.unblock(true));
        assert!(!slot.unblock(false));
        assert!(matches!(rx.try_recv(), Ok(Wake::Unblocked { error: true })));
    }
}
