//! Multi-shard transactions: the ordering, barrier and release protocol of
//! DESIGN.md section 5.
//!
//! 1. Order: under one global mutex, `Arm` is queued into each involved
//!    shard's inbox in ascending shard order, so every shard sees
//!    transactions in the same relative order (no deadlock).
//! 2. Barrier: a shard that takes `Arm` answers ready and then serves only
//!    this transaction's operations; its own connections' inline commands
//!    wait. The coordinator proceeds only when every shard is ready, so no
//!    client can observe half of a multi-shard command.
//! 3. Operations: closures run on the frozen shards.
//! 4. Release: dropping [`Tx`] closes the operation channels, which
//!    unfreezes every shard — also on error or a cancelled coordinator.

use crate::server::Shared;
use crate::worker::{ShardEnv, ShardMsg};
use tokio::sync::{mpsc, oneshot};

/// An operation run on a frozen shard.
pub type TxOp = Box<dyn FnOnce(&mut ShardEnv) + Send>;

/// A transaction holding a set of shards frozen.
pub struct Tx {
    shards: Vec<usize>,
    ops: Vec<mpsc::UnboundedSender<TxOp>>,
}

impl Tx {
    /// Freezes `shards` (any order, duplicates allowed) and returns once all
    /// of them are frozen.
    pub async fn begin(shared: &Shared, mut shards: Vec<usize>) -> Tx {
        shards.sort_unstable();
        shards.dedup();
        let mut ops = Vec::with_capacity(shards.len());
        let mut readies = Vec::with_capacity(shards.len());
        {
            // Poisoning cannot leave the order inconsistent: the guard only
            // orders sends, so a poisoned lock is still safe to take.
            let _order = shared.tx_order.lock().unwrap_or_else(|p| p.into_inner());
            for &s in &shards {
                let (op_tx, op_rx) = mpsc::unbounded_channel();
                let (ready_tx, ready_rx) = oneshot::channel();
                shared.send(
                    s,
                    ShardMsg::Arm {
                        ops: op_rx,
                        ready: ready_tx,
                    },
                );
                ops.push(op_tx);
                readies.push(ready_rx);
            }
        }
        for r in readies {
            // A shard that is gone (shutdown) just doesn't answer; we go on.
            let _ = r.await;
        }
        Tx { shards, ops }
    }

    /// The shards this transaction holds, ascending.
    pub fn shards(&self) -> &[usize] {
        &self.shards
    }

    /// Runs `f` on frozen shard `shard` and returns its result. `None` when
    /// the shard is not part of this transaction or has gone away.
    pub async fn run<R, F>(&self, shard: usize, f: F) -> Option<R>
    where
        R: Send + 'static,
        F: FnOnce(&mut ShardEnv) -> R + Send + 'static,
    {
        self.start(shard, f)?.await.ok()
    }

    /// Sends `f` to frozen shard `shard` at once (no await) and returns the
    /// receiver of its result; `None` when the shard is not part of this
    /// transaction or has gone away.
    pub fn start<R, F>(&self, shard: usize, f: F) -> Option<oneshot::Receiver<R>>
    where
        R: Send + 'static,
        F: FnOnce(&mut ShardEnv) -> R + Send + 'static,
    {
        let i = self.shards.binary_search(&shard).ok()?;
        let (tx, rx) = oneshot::channel();
        let op: TxOp = Box::new(move |env| {
            let _ = tx.send(f(env));
        });
        self.ops[i].send(op).ok()?;
        Some(rx)
    }

    /// Runs `f` on every shard of the transaction, concurrently, and returns
    /// the results in shard order.
    pub async fn run_all<R, F>(&self, f: F) -> Vec<R>
    where
        R: Send + 'static,
        F: Fn(&mut ShardEnv) -> R + Send + Sync + Clone + 'static,
    {
        let mut waits = Vec::with_capacity(self.shards.len());
        for i in 0..self.shards.len() {
            let (tx, rx) = oneshot::channel();
            let f = f.clone();
            let op: TxOp = Box::new(move |env| {
                let _ = tx.send(f(env));
            });
            if self.ops[i].send(op).is_ok() {
                waits.push(rx);
            }
        }
        let mut out = Vec::with_capacity(waits.len());
        for w in waits {
            if let Ok(r) = w.await {
                out.push(r);
            }
        }
        out
    }
}
