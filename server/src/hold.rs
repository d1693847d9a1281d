//! Holding shards: running commands while a set of shards stays frozen for
//! one connection, so several commands are atomic together (MULTI/EXEC;
//! Lua scripts reuse it).
//!
//! # API
//! - [`Hold::acquire`] freezes a set of shards and returns once all are
//!   frozen. Only the connection's own shard: no transaction and no hop, the
//!   worker is frozen locally (its other connections and its inbox wait).
//!   Any other set: one [`Tx`] (DESIGN.md section 5), own shard included.
//! - Install it with [`install`]; from then on every routing function of
//!   `dispatch` (`run_keyed`, `run_inline`, `gather_run_scatter`,
//!   `on_all_shards`, `run_on_shard`, `freeze`) runs on the held shards
//!   instead of starting a transaction of its own: nesting `Tx::begin`
//!   would deadlock.
//! - [`call`] runs one command given its argv (lookup, arity and the other
//!   gates, the handler, statistics) against the held shards; blocking
//!   commands run in their immediate form. [`call_blocking`] does the same
//!   from synchronous code on the connection's thread (a Lua `redis.call`):
//!   it drives the future with a small executor that parks the thread, which
//!   is safe because a held connection never waits for its own worker's
//!   runtime: the own shard is borrowed directly, other shards answer from
//!   their own threads.
//! - [`release`] uninstalls the hold, serves clients blocked on keys the
//!   held commands wrote (Redis serves them after EXEC or the script, never
//!   in the middle), then unfreezes. Dropping a [`Hold`] also unfreezes.
//!
//! # Invariants
//! - A held connection touches only held shards: an access to any other
//!   shard returns `None` (the command answers an error) rather than
//!   hopping there, because that shard may be frozen by a transaction that
//!   waits for one of ours (deadlock). The caller computes the set up front
//!   (all shards for global commands).
//! - The own shard, when held, is borrowed directly: its inbox task is then
//!   parked (in the transaction's operation loop, or waiting out the local
//!   freeze) and no `RefCell` borrow spans an await.
//! - Callers of [`call_blocking`] hold no borrow of the worker's `env`.

use crate::conn::ConnCtx;
use crate::tx::Tx;
use crate::worker::{ShardEnv, ShardMsg, Worker};
use bytes::Bytes;
use std::cell::RefCell;
use std::future::Future;
use std::rc::Rc;
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};
use storage::Reply;

/// A set of shards held frozen for one connection.
pub struct Hold {
    worker: Rc<Worker>,
    /// The transaction, unless only the own shard is held (local freeze).
    tx: Option<Tx>,
    /// The held shards, ascending.
    shards: Vec<usize>,
    /// True when the own shard is frozen locally (no `tx`).
    local: bool,
    /// Keys written per shard, whose blocked clients are served at release.
    wakes: RefCell<Vec<(usize, Vec<Bytes>)>>,
}

impl Hold {
    /// Freezes `shards` (any order, duplicates allowed) for the connection on
    /// `worker` and returns once all of them are frozen.
    pub async fn acquire(worker: &Rc<Worker>, mut shards: Vec<usize>) -> Hold {
        shards.sort_unstable();
        shards.dedup();
        let own = worker.id;
        let (tx, local) = if shards.is_empty() {
            (None, false)
        } else if shards == [own] {
            worker.wait_unfrozen().await;
            worker.freeze_local();
            (None, true)
        } else {
            (Some(Tx::begin(&worker.shared, shards.clone()).await), false)
        };
        Hold {
            worker: worker.clone(),
            tx,
            shards,
            local,
            wakes: RefCell::new(Vec::new()),
        }
    }

    /// The held shards, ascending.
    pub fn shards(&self) -> &[usize] {
        &self.shards
    }

    /// True if shard `s` is held.
    pub fn holds(&self, s: usize) -> bool {
        self.shards.binary_search(&s).is_ok()
    }

    /// Runs `f` on the own shard, directly (no hop). `None` if it is not held.
    pub fn with_own<R>(&self, f: impl FnOnce(&mut ShardEnv) -> R) -> Option<R> {
        if !self.holds(self.worker.id) {
            return None;
        }
        let mut env = self.worker.env.borrow_mut();
        env.shard.refresh_time();
        Some(f(&mut env))
    }

    /// Runs `f` on held shard `s` (directly when it is the own shard).
    /// `None` when `s` is not held or has gone away.
    pub async fn run_on<R, F>(&self, s: usize, f: F) -> Option<R>
    where
        R: Send + 'static,
        F: FnOnce(&mut ShardEnv) -> R + Send + 'static,
    {
        if s == self.worker.id {
            return self.with_own(f);
        }
        self.tx.as_ref()?.run(s, f).await
    }

    /// Runs `f` on every held shard and returns the results in shard order:
    /// other shards concurrently, the own shard directly (never through its
    /// inbox, which [`call_blocking`] would keep from running).
    pub async fn run_all<R, F>(&self, f: F) -> Vec<R>
    where
        R: Send + 'static,
        F: Fn(&mut ShardEnv) -> R + Send + Sync + Clone + 'static,
    {
        let own = self.worker.id;
        let mut pending = Vec::with_capacity(self.shards.len());
        if let Some(tx) = &self.tx {
            for &s in self.shards.iter().filter(|&&s| s != own) {
                pending.push((s, tx.start(s, f.clone())));
            }
        }
        let mut mine = self.with_own(f);
        let mut out = Vec::with_capacity(self.shards.len());
        let mut pending = pending.into_iter().peekable();
        for &s in &self.shards {
            if s == own {
                out.extend(mine.take());
            } else if let Some((_, Some(rx))) = pending.next_if(|(p, _)| *p == s) {
                if let Ok(r) = rx.await {
                    out.push(r);
                }
            }
        }
        out
    }

    /// Notes that a held command wrote `keys` on shard `s`: clients blocked
    /// on them are served when the hold is released.
    pub fn defer_wake(&self, s: usize, keys: impl IntoIterator<Item = Bytes>) {
        let mut w = self.wakes.borrow_mut();
        match w.iter_mut().find(|(id, _)| *id == s) {
            Some((_, v)) => v.extend(keys),
            None => w.push((s, keys.into_iter().collect())),
        }
    }

    /// Serves the deferred blocked clients while still holding, then
    /// unfreezes (by dropping).
    pub async fn release(self) {
        let wakes = std::mem::take(&mut *self.wakes.borrow_mut());
        for (s, keys) in wakes {
            self.run_on(s, move |env| {
                crate::blocking::after_write(env, keys.iter().map(|k| &k[..]))
            })
            .await;
        }
    }
}

impl Drop for Hold {
    fn drop(&mut self) {
        // Not released (a cancelled EXEC): serve the waiters right after.
        for (s, keys) in self.wakes.get_mut().drain(..) {
            self.worker.shared.send(
                s,
                ShardMsg::Run(Box::new(move |env| {
                    crate::blocking::after_write(env, keys.iter().map(|k| &k[..]))
                })),
            );
        }
        if self.local {
            self.worker.unfreeze_local();
        }
        // `tx` drops after this and releases its shards.
    }
}

/// Makes `hold` the connection's: dispatch routes through it until
/// [`release`].
pub fn install(ctx: &mut ConnCtx, hold: Hold) {
    ctx.hold = Some(Rc::new(hold));
}

/// Uninstalls the connection's hold, serves the blocked clients its
/// commands made ready, and unfreezes its shards.
pub async fn release(ctx: &mut ConnCtx) {
    if let Some(h) = ctx.hold.take() {
        match Rc::try_unwrap(h) {
            Ok(h) => h.release().await,
            // Someone kept a clone: it unfreezes when the last one drops.
            Err(h) => drop(h),
        }
    }
}

/// Runs one command against the held shards (or normally, without a
/// hold): the full lookup and gates, then the handler, with statistics.
/// Blocking commands run in their immediate form.
pub async fn call(ctx: &mut ConnCtx, argv: Vec<Bytes>) -> Reply {
    crate::dispatch::execute_now(ctx, argv).await
}

/// [`call`] from synchronous code on the connection's thread (see the
/// module documentation for when this is safe).
pub fn call_blocking(ctx: &mut ConnCtx, argv: Vec<Bytes>) -> Reply {
    block_on(call(ctx, argv))
}

/// Wakes a parked thread.
struct ThreadWaker(std::thread::Thread);

impl Wake for ThreadWaker {
    fn wake(self: Arc<Self>) {
        self.0.unpark();
    }
    fn wake_by_ref(self: &Arc<Self>) {
        self.0.unpark();
    }
}

/// Drives `fut` to completion on this thread, parking between wake-ups.
pub fn block_on<F: Future>(fut: F) -> F::Output {
    let waker = Waker::from(Arc::new(ThreadWaker(std::thread::current())));
    let mut cx = Context::from_waker(&waker);
    let mut fut = std::pin::pin!(fut);
    loop {
        match fut.as_mut().poll(&mut cx) {
            Poll::Ready(v) => return v,
            Poll::Pending => std::thread::park(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::block_on;

    #[test]
    fn block_on_waits_for_another_thread() {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let t = std::thread::spawn(move || {
            let _ = tx.send(7);
        });
        assert_eq!(block_on(rx).ok(), Some(7));
        let _ = t.join();
    }
}
