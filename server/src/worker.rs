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

    /// True while a multi-shard transaction holds this shard.
    pub fn is_frozen(&self) -> bool {
        self.frozen.get()
    }
}

/// Starts worker `id` on its own thread.
pub fn spawn(
    id: usize,
    shared: Arc<Shared>,
    limits: Limits,
    rx: mpsc::UnboundedReceiver<ShardMsg>,
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
            let databases = limits.databases;
            let mut shard = Shard::new(id, databases);
            shard.set_access(limits.memory.access());
            shard.set_bounded_growth(limits.memory.maxmemory != 0);
            let worker = Rc::new(Worker {
                id,
                shared,
                env: RefCell::new(ShardEnv {
                    shard,
                    limits,
                    cmdstats: CmdStats::default(),
                    blocking: Default::default(),
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
    while let Some(msg) = rx.recv().await {
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
                while let Some(op) = ops.recv().await {
                    let mut env = worker.env.borrow_mut();
                    env.shard.refresh_time();
                    op(&mut env);
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
            env.shard.active_expire_cycle(effort);
        }
        crate::evict::cron_tick(&worker);
        if worker.id == 0 && crate::evict::over_limit(&worker) {
            crate::evict::perform_evictions(&worker).await;
        }
    }
}
