//! A worker thread: one shard, its inbox, and the connections it runs.
//!
//! Each worker runs a current-thread tokio runtime. Its shard sits in a
//! `RefCell` that is borrowed only for the duration of one command, never
//! across an `.await`, so connections on this worker run commands inline and
//! messages from other workers run between them. While a multi-shard
//! transaction holds this shard (`frozen`), inline commands wait.

use crate::server::{Limits, Shared};
use crate::stats::CmdStats;
use crate::tx::TxOp;
use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;
use storage::Shard;
use tokio::sync::{mpsc, oneshot, Notify};

/// What a worker owns besides its connections.
pub struct ShardEnv {
    /// The data.
    pub shard: Shard,
    /// This worker's copy of the settings commands consult.
    pub limits: Limits,
    /// Per-command statistics of commands dispatched on this worker.
    pub cmdstats: CmdStats,
    /// Hook (blocking): clients blocked on this shard's keys.
    pub blocking: crate::blocking::ShardWaiters,
    /// WATCHed keys of this shard and who watches them.
    pub watches: crate::watch::ShardWatches,
    /// Pub/sub and friends: where keyspace events and invalidations go.
    pub hub: Arc<crate::pubsub::Hub>,
}

/// A message to a worker's inbox.
pub enum ShardMsg {
    /// Run a closure on the shard (a hop from another worker).
    Run(Box<dyn FnOnce(&mut ShardEnv) + Send>),
    /// Join a multi-shard transaction: freeze, answer `ready`, then run
    /// `ops` until the channel closes.
    Arm {
        ops: mpsc::UnboundedReceiver<TxOp>,
        ready: oneshot::Sender<()>,
    },
    /// A newly accepted connection to serve on this worker.
    Conn(std::net::TcpStream),
}

/// A worker's state shared by its tasks (single-threaded: `Rc`).
pub struct Worker {
    /// The worker's (and its shard's) index.
    pub id: usize,
    /// Process-wide state.
    pub shared: Arc<Shared>,
    /// The shard and worker-local state; borrowed only between awaits.
    pub env: RefCell<ShardEnv>,
    frozen: Cell<bool>,
    unfrozen: Notify,
}

impl Worker {
    /// Waits until no transaction holds this shard.
    pub async fn wait_unfrozen(&self) {
        while self.frozen.get() {
            let n = self.unfrozen.notified();
            if !self.frozen.get() {
                break;
            }
            n.await;
        }
    }

    /// Waits until no transaction holds this shard, unless a script is
    /// (or becomes) busy: then returns the `-BUSY` text to answer with.
    pub async fn wait_unfrozen_or_busy(&self) -> Option<&'static str> {
        loop {
            if let Some(e) = self.shared.scripts.busy_error() {
                return Some(e);
            }
            if !self.frozen.get() {
                return None;
            }
            let busy_changed = self.shared.scripts.busy_changed(self.id)?;
            let unfrozen = self.unfrozen.notified();
            let busy = busy_changed.notified();
            tokio::pin!(unfrozen, busy);
            unfrozen.as_mut().enable();
            busy.as_mut().enable();
            if self.shared.scripts.busy_error().is_some() || !self.frozen.get() {
                continue;
            }
            tokio::select! {
                _ = unfrozen => {}
                _ = busy => {}
            }
        }
    }

    /// True while a multi-shard transaction holds this shard.
    pub fn is_frozen(&self) -> bool {
        self.frozen.get()
    }

    /// Freezes this shard for a connection of its own (`hold`): other
    /// connections and inbox messages wait until [`Worker::unfreeze_local`].
    /// The caller has waited until the shard was unfrozen.
    pub(crate) fn freeze_local(&self) {
        self.frozen.set(true);
    }

    /// Ends a [`Worker::freeze_local`].
    pub(crate) fn unfreeze_local(&self) {
        self.frozen.set(false);
        self.unfrozen.notify_waiters();
    }
}

/// Starts worker `id` on its own thread.
pub fn spawn(
    id: usize,
    shared: Arc<Shared>,
    limits: Limits,
    rx: mpsc::UnboundedReceiver<ShardMsg>,
    shard: Shard,
) -> std::io::Result<std::thread::JoinHandle<()>> {
    std::thread::Builder::new()
        .name(format!("shard-{id}"))
        .spawn(move || {
            let rt = match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(rt) => rt,
                Err(e) => {
                    tracing::error!("shard {id}: cannot start its runtime: {e}");
                    std::process::exit(1);
                }
            };
            let hub = shared.hub.clone();
            let waiters = crate::blocking::ShardWaiters::new(shared.clone());
            let mut shard = shard;
            shard.set_access(limits.memory.access());
            shard.set_bounded_growth(limits.memory.maxmemory != 0);
            let worker = Rc::new(Worker {
                id,
                shared,
                env: RefCell::new(ShardEnv {
                    shard,
                    limits,
                    cmdstats: CmdStats::default(),
                    blocking: waiters,
                    watches: Default::default(),
                    hub,
                }),
                frozen: Cell::new(false),
                unfrozen: Notify::new(),
            });
            let local = tokio::task::LocalSet::new();
            local.spawn_local(cron(worker.clone()));
            local.block_on(&rt, inbox_loop(worker, rx));
        })
}

async fn inbox_loop(worker: Rc<Worker>, mut rx: mpsc::UnboundedReceiver<ShardMsg>) {
    // Messages that arrived while a transaction held the shard, in order.
    let mut pending: VecDeque<ShardMsg> = VecDeque::new();
    let mut closed = false;
    loop {
        let msg = match pending.pop_front() {
            Some(m) => m,
            None if closed => break,
            None => match rx.recv().await {
                Some(m) => m,
                None => break,
            },
        };
        // A local hold (`hold`) freezes the shard outside any `Arm`: hops
        // and transactions wait for it, as inline commands do.
        if worker.frozen.get() && !matches!(msg, ShardMsg::Conn(_)) {
            worker.wait_unfrozen().await;
        }
        match msg {
            ShardMsg::Run(f) => {
                let mut env = worker.env.borrow_mut();
                env.shard.refresh_time();
                f(&mut env);
                crate::evict::after_message(&worker.shared, worker.id, &env);
            }
            ShardMsg::Arm { mut ops, ready } => {
                worker.frozen.set(true);
                let _ = ready.send(());
                // New connections are served at once even while a long
                // transaction (a script) holds the shard, so they can get
                // -BUSY or send SCRIPT KILL; other messages wait their turn.
                loop {
                    tokio::select! {
                        biased;
                        op = ops.recv() => match op {
                            Some(op) => {
                                let mut env = worker.env.borrow_mut();
                                env.shard.refresh_time();
                                op(&mut env);
                            }
                            None => break,
                        },
                        m = rx.recv(), if !closed => match m {
                            Some(ShardMsg::Conn(stream)) => {
                                tokio::task::spawn_local(crate::conn::serve(worker.clone(), stream));
                            }
                            Some(other) => pending.push_back(other),
                            None => closed = true,
                        },
                    }
                }
                worker.frozen.set(false);
                worker.unfrozen.notify_waiters();
            }
            ShardMsg::Conn(stream) => {
                tokio::task::spawn_local(crate::conn::serve(worker.clone(), stream));
            }
        }
    }
}

/// Periodic work, `hz` times a second: Redis's active expiry cycle, and
/// the memory figure (evicting if over maxmemory, as Redis's eviction
/// time event does after a time-limited run).
async fn cron(worker: Rc<Worker>) {
    loop {
        let (hz, effort) = {
            let env = worker.env.borrow();
            (env.limits.hz.clamp(1, 500), env.limits.active_expire_effort)
        };
        tokio::time::sleep(Duration::from_millis(1000 / hz as u64)).await;
        if worker.is_frozen() {
            continue;
        }
        {
            let mut env = worker.env.borrow_mut();
            let env = &mut *env;
            let logging = crate::notify::sync_logging(&mut env.shard, &env.hub);
            env.shard.active_expire_cycle(effort);
            if logging {
                crate::notify::after_step(&mut env.shard, &env.hub, 0);
            }
        }
        crate::evict::cron_tick(&worker);
        if worker.id == 0 && crate::evict::over_limit(&worker) {
            crate::evict::perform_evictions(&worker).await;
        }
    }
}
