//! Scripting on the server: where scripts run, what they hold, and how
//! other clients see a long one.
//!
//! Design (DESIGN.md sections 5 and 8):
//! - Each worker has a script thread (spawned on first use) owning one Lua
//!   engine. The worker never runs Lua itself, so while a script runs the
//!   worker keeps serving its other connections: they wait for the shards
//!   the script holds, and once the script passes `busy-reply-threshold`
//!   they get `-BUSY`, while SCRIPT KILL, FUNCTION KILL and SHUTDOWN NOSAVE
//!   still work — also with `--shards 1` and on the script's own worker.
//! - A run holds a set of shards through a multi-shard transaction
//!   ([`crate::tx::Tx`]): the shards of the declared keys, or every shard
//!   for a script that declares none or is known to touch undeclared keys. The held shards' data is moved to the script
//!   thread for the run and moved back before the transaction releases, so
//!   the run is atomic and `redis.call` runs handlers with no hops.
//! - A script with declared keys that touches a key on a shard it does
//!   not hold is stopped (if it has not written yet), its SHA is
//!   remembered as "wide", and it runs again holding every shard. After a
//!   write this is impossible without rollback: the call gets an error
//!   (KNOWN_DIFFERENCES.md).
//!
//! Invariants: the shards taken out of a worker always return to it (the
//! run is a spawned task that is never cancelled, and the script thread
//! always answers); a frozen shard's placeholder is never read (frozen
//! shards run only their transaction's operations).

pub mod host;
pub mod payload;

use crate::server::{Limits, Shared};
use crate::tx::Tx;
use crate::worker::ShardEnv;
use bytes::Bytes;
use scripting::functions::{FunctionRegistry, Libraries, Library};
use scripting::{Engine, ScriptCache, Watch};
use std::cell::RefCell;
use std::collections::HashSet;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Mutex, OnceLock, RwLock};
use std::time::{Duration, Instant};
use storage::{Reply, Shard};
use tokio::sync::{oneshot, Notify};

/// Process-wide scripting state (in [`Shared`]).
pub struct Scripts {
    /// Script bodies by SHA1.
    pub cache: ScriptCache,
    /// Function libraries.
    pub functions: FunctionRegistry,
    running: Mutex<Vec<Arc<Running>>>,
    busy: AtomicUsize,
    /// One per worker, notified when a script becomes busy or a busy one
    /// ends (per worker so waiting never contends across threads).
    busy_changed: Vec<Notify>,
    wide: RwLock<HashSet<String>>,
    runners: Vec<OnceLock<mpsc::Sender<Job>>>,
    next_id: AtomicU64,
}

/// A script or function being run.
pub struct Running {
    id: u64,
    /// The SHA1 or the function name.
    pub name: String,
    /// FCALL rather than EVAL.
    pub function: bool,
    /// The command as sent (FUNCTION STATS).
    pub argv: Vec<Bytes>,
    /// When the run started.
    pub started: Instant,
    /// Set to stop the run (SCRIPT KILL / FUNCTION KILL).
    pub kill: Arc<AtomicBool>,
    /// Set once the run called a write command.
    pub wrote: Arc<AtomicBool>,
    busy: AtomicBool,
}

/// What a script thread is asked to do.
pub enum Job {
    /// Run a script or function over shards moved in.
    Run(Box<RunJob>),
    /// Compile a script (SCRIPT LOAD).
    Compile {
        sha: String,
        body: Bytes,
        reply: oneshot::Sender<Result<(), String>>,
    },
    /// Validate a library (FUNCTION LOAD, FUNCTION RESTORE).
    Load {
        code: Bytes,
        reply: oneshot::Sender<Result<Library, String>>,
    },
}

/// Which code a run executes.
pub enum What {
    /// EVAL / EVALSHA.
    Eval { sha: String, body: Bytes },
    /// FCALL.
    Function { name: String },
}

/// One run.
pub struct RunJob {
    what: What,
    keys: Vec<Bytes>,
    args: Vec<Bytes>,
    shards: Vec<(usize, Shard)>,
    all_held: bool,
    nshards: usize,
    db: usize,
    limits: Limits,
    readonly: bool,
    /// Memory was over maxmemory when the run passed the gate and the
    /// script lacks `allow-oom` (Redis's `scriptVerifyOOM`).
    deny_oom: bool,
    running: Arc<Running>,
    busy_after: Option<Duration>,
    shared: Arc<Shared>,
    /// The client running it.
    client: u64,
    reply: oneshot::Sender<RunDone>,
}

/// A finished run: the reply and the shards to put back.
pub struct RunDone {
    reply: Reply,
    shards: Vec<(usize, Shard)>,
    aborted: bool,
    touched: Vec<(usize, Bytes)>,
}

impl Scripts {
    /// State for `nshards` workers.
    pub fn new(nshards: usize) -> Scripts {
        Scripts {
            cache: ScriptCache::default(),
            functions: FunctionRegistry::default(),
            running: Mutex::new(Vec::new()),
            busy: AtomicUsize::new(0),
            busy_changed: (0..nshards).map(|_| Notify::new()).collect(),
            wide: RwLock::new(HashSet::new()),
            runners: (0..nshards).map(|_| OnceLock::new()).collect(),
            next_id: AtomicU64::new(1),
        }
    }

    /// True while some script is past busy-reply-threshold: the
    /// per-request check that skips [`Scripts::busy_error`]'s lock.
    pub fn any_busy(&self) -> bool {
        self.busy.load(Ordering::Acquire) != 0
    }

    /// The `-BUSY` error other clients get while a script is past
    /// busy-reply-threshold, if one is.
    pub fn busy_error(&self) -> Option<&'static str> {
        if self.busy.load(Ordering::Acquire) == 0 {
            return None;
        }
        let function = self
            .running
            .lock()
            .ok()
            .map(|r| {
                r.iter()
                    .any(|x| x.function && x.busy.load(Ordering::Acquire))
            })
            .unwrap_or(false);
        Some(if function {
            scripting::errors::BUSY_FUNCTION
        } else {
            scripting::errors::BUSY_SCRIPT
        })
    }

    /// Worker `id`'s notification of busy changes.
    pub fn busy_changed(&self, id: usize) -> Option<&Notify> {
        self.busy_changed.get(id)
    }

    fn notify_busy_changed(&self) {
        for n in &self.busy_changed {
            n.notify_waiters();
        }
    }

    /// The oldest run, if any.
    pub fn current(&self) -> Option<Arc<Running>> {
        self.running.lock().ok()?.first().cloned()
    }

    /// SCRIPT KILL (`function` false) or FUNCTION KILL (true).
    pub fn kill(&self, function: bool) -> Result<(), &'static str> {
        let Some(r) = self.current() else {
            return Err(scripting::errors::NOTBUSY);
        };
        if r.wrote.load(Ordering::Acquire) {
            return Err(scripting::errors::UNKILLABLE);
        }
        if r.function != function {
            // SCRIPT KILL cannot stop a function, nor FUNCTION KILL a script.
            return Err(if r.function {
                scripting::errors::BUSY_FUNCTION
            } else {
                scripting::errors::BUSY_SCRIPT
            });
        }
        r.kill.store(true, Ordering::Release);
        Ok(())
    }

    fn register(&self, name: String, function: bool, argv: Vec<Bytes>) -> Arc<Running> {
        let r = Arc::new(Running {
            id: self.next_id.fetch_add(1, Ordering::Relaxed),
            name,
            function,
            argv,
            started: Instant::now(),
            kill: Arc::new(AtomicBool::new(false)),
            wrote: Arc::new(AtomicBool::new(false)),
            busy: AtomicBool::new(false),
        });
        if let Ok(mut v) = self.running.lock() {
            v.push(r.clone());
        }
        r
    }

    fn unregister(&self, r: &Running) {
        if let Ok(mut v) = self.running.lock() {
            v.retain(|x| x.id != r.id);
        }
        if r.busy.swap(false, Ordering::AcqRel) {
            self.busy.fetch_sub(1, Ordering::AcqRel);
            self.notify_busy_changed();
        }
    }

    fn is_wide(&self, name: &str) -> bool {
        self.wide.read().map(|w| w.contains(name)).unwrap_or(false)
    }

    fn mark_wide(&self, name: &str) {
        if let Ok(mut w) = self.wide.write() {
            w.insert(name.to_string());
        }
    }

    /// Sends `job` to worker `id`'s script thread, starting it if needed.
    pub fn send(&self, id: usize, job: Job) {
        let Some(slot) = self.runners.get(id) else {
            return;
        };
        let tx = slot.get_or_init(|| spawn_runner(id));
        if let Err(mpsc::SendError(job)) = tx.send(job) {
            // The thread died (cannot start): answer so nothing waits forever.
            fail_job(job, "ERR script engine unavailable");
        }
    }
}

fn fail_job(job: Job, msg: &'static str) {
    match job {
        Job::Run(run) => {
            let RunJob { shards, reply, .. } = *run;
            let _ = reply.send(RunDone {
                reply: Reply::error(msg),
                shards,
                aborted: false,
                touched: Vec::new(),
            });
        }
        Job::Compile { reply, .. } => {
            let _ = reply.send(Err(msg.to_string()));
        }
        Job::Load { reply, .. } => {
            let _ = reply.send(Err(msg.to_string()));
        }
    }
}

/// Script threads get a large stack: Lua's C recursion and the reply
/// conversion are bounded, but deep.
const RUNNER_STACK: usize = 64 << 20;

fn spawn_runner(id: usize) -> mpsc::Sender<Job> {
    let (tx, rx) = mpsc::channel::<Job>();
    let spawned = std::thread::Builder::new()
        .name(format!("script-{id}"))
        .stack_size(RUNNER_STACK)
        .spawn(move || runner_loop(rx));
    if let Err(e) = spawned {
        tracing::error!("cannot start the script thread of shard {id}: {e}");
    }
    tx
}

fn runner_loop(rx: mpsc::Receiver<Job>) {
    let mut engine = match Engine::new(scripting::engine::DEFAULT_MEMORY_LIMIT) {
        Ok(e) => e,
        Err(e) => {
            tracing::error!("cannot create a Lua engine: {e}");
            while let Ok(job) = rx.recv() {
                fail_job(job, "ERR script engine unavailable");
            }
            return;
        }
    };
    while let Ok(job) = rx.recv() {
        match job {
            Job::Compile { sha, body, reply } => {
                let _ = reply.send(engine.compile(&sha, &body));
            }
            Job::Load { code, reply } => {
                let _ = reply.send(Library::build(code, |c| engine.load_library(c)));
            }
            Job::Run(run) => run_one(&mut engine, *run),
        }
    }
}

fn run_one(engine: &mut Engine, job: RunJob) {
    let RunJob {
        what,
        keys,
        args,
        mut shards,
        all_held,
        nshards,
        db,
        limits,
        readonly,
        deny_oom,
        running,
        busy_after,
        shared,
        client,
        reply,
    } = job;
    for (_, s) in &mut shards {
        // Time stands still for the whole run, as in Redis.
        s.refresh_time();
    }
    let host = Rc::new(RefCell::new(
        host::ScriptHost::new(
            shards,
            all_held,
            nshards,
            host::Caller {
                db,
                client,
                hub: shared.hub.clone(),
            },
            limits,
            readonly,
            running.wrote.clone(),
        )
        .deny_oom(deny_oom),
    ));
    let on_busy: Box<dyn FnOnce()> = {
        let running = running.clone();
        let shared = shared.clone();
        Box::new(move || {
            if !running.busy.swap(true, Ordering::AcqRel) {
                shared.scripts.busy.fetch_add(1, Ordering::AcqRel);
                shared.scripts.notify_busy_changed();
            }
        })
    };
    let watch = Watch {
        kill: running.kill.clone(),
        busy_after,
        on_busy: Some(on_busy),
    };
    engine.sync_scripts(shared.scripts.cache.generation());
    let dyn_host: Rc<RefCell<dyn scripting::Host>> = host.clone();
    let out = match &what {
        What::Eval { sha, body } => engine.run_eval(sha, body, &keys, &args, dyn_host, watch),
        What::Function { name } => {
            let libs = shared.scripts.functions.snapshot();
            engine.run_function(&libs, name, &keys, &args, dyn_host, watch)
        }
    };
    shared.scripts.unregister(&running);
    let (shards, touched) = match Rc::try_unwrap(host) {
        Ok(h) => h.into_inner().into_parts(),
        // Unreachable: the engine drops its handle when the run ends.
        Err(rc) => rc.borrow_mut().take_parts(),
    };
    let _ = reply.send(RunDone {
        reply: out.reply,
        shards,
        aborted: out.aborted,
        touched,
    });
}

/// How a run was asked for.
pub struct Request {
    /// What to run.
    pub what: What,
    /// The name for SCRIPT KILL and FUNCTION STATS (SHA1 or function name).
    pub name: String,
    /// FCALL rather than EVAL.
    pub function: bool,
    /// The declared keys.
    pub keys: Vec<Bytes>,
    /// The other arguments.
    pub args: Vec<Bytes>,
    /// Write commands are refused (EVAL_RO, FCALL_RO, `no-writes`).
    pub readonly: bool,
    /// The script has the `allow-oom` flag: denyoom calls run even while
    /// memory is over maxmemory.
    pub allow_oom: bool,
    /// The command as sent.
    pub argv: Vec<Bytes>,
}

/// Runs a script or function for a client on worker `ctx`: holds the
/// shards, runs on the worker's script thread, puts the shards back.
pub async fn run(ctx: &crate::conn::ConnCtx, req: Request) -> Reply {
    let shared = ctx.worker.shared.clone();
    let worker_id = ctx.worker.id;
    let db = ctx.client.db;
    let client = ctx.client.id;
    let limits = ctx.worker.env.borrow().limits.clone();
    // The OOM state the command (or its EXEC) saw at the gate.
    let deny_oom = crate::evict::pre_command_oom() && !req.allow_oom;
    // Inside EXEC the connection already holds its shards (all of them when
    // a script is queued): the script borrows them from that hold, since
    // starting a transaction of its own would wait for them forever.
    let held = ctx.hold.clone();
    // A spawned task: the shards come back even if the client goes away.
    let task = tokio::task::spawn_local(async move {
        let n = shared.nshards;
        // No declared keys: the script either touches none or undeclared
        // ones, which may sit on any shard and be written before they are
        // read, so it holds every shard from the start.
        let mut wide = n == 1 || req.keys.is_empty() || shared.scripts.is_wide(&req.name);
        loop {
            let mut set: Vec<usize> = if wide {
                (0..n).collect()
            } else {
                req.keys
                    .iter()
                    .map(|k| crate::slot::shard_of(k, n))
                    .collect()
            };
            set.sort_unstable();
            set.dedup();
            let tx = match &held {
                Some(h) => Frozen::Hold(h.clone()),
                None => Frozen::Tx(Tx::begin(&shared, set).await),
            };
            let all_held = tx.shards().len() == n;
            let databases = limits.databases;
            let mut shards = Vec::with_capacity(tx.shards().len());
            for &s in tx.shards() {
                let taken = tx
                    .run(s, move |env: &mut ShardEnv| {
                        std::mem::replace(&mut env.shard, Shard::new(s, databases))
                    })
                    .await;
                if let Some(shard) = taken {
                    shards.push((s, shard));
                }
            }
            let busy_after = shared
                .config
                .read()
                .map(|c| c.busy_reply_threshold_ms())
                .unwrap_or(5000);
            let running = shared
                .scripts
                .register(req.name.clone(), req.function, req.argv.clone());
            let what = match &req.what {
                What::Eval { sha, body } => What::Eval {
                    sha: sha.clone(),
                    body: body.clone(),
                },
                What::Function { name } => What::Function { name: name.clone() },
            };
            let (reply_tx, reply_rx) = oneshot::channel();
            shared.scripts.send(
                worker_id,
                Job::Run(Box::new(RunJob {
                    what,
                    keys: req.keys.clone(),
                    args: req.args.clone(),
                    shards,
                    all_held,
                    nshards: n,
                    db,
                    limits: limits.clone(),
                    readonly: req.readonly,
                    deny_oom,
                    running: running.clone(),
                    busy_after: (busy_after > 0).then(|| Duration::from_millis(busy_after)),
                    shared: shared.clone(),
                    client,
                    reply: reply_tx,
                })),
            );
            let done = reply_rx.await;
            shared.scripts.unregister(&running);
            let Ok(done) = done else {
                // The script thread is gone with the data: nothing to put back.
                return Reply::error("ERR script engine unavailable");
            };
            for (s, shard) in done.shards {
                let keys: Vec<Bytes> = done
                    .touched
                    .iter()
                    .filter(|(ks, _)| *ks == s)
                    .map(|(_, k)| k.clone())
                    .collect();
                let deferred = matches!(tx, Frozen::Hold(_));
                let wake = keys.clone();
                tx.run(s, move |env: &mut ShardEnv| {
                    env.shard = shard;
                    // Hook (WATCH): the keys the script modified (logged
                    // in the shard while it was out) dirty watchers.
                    crate::watch::touch_logged(env);
                    // Hook (blocking): clients blocked on written keys,
                    // after EXEC when the script runs inside one.
                    if !deferred {
                        crate::blocking::after_write(env, keys.iter().map(|k| &k[..]));
                    }
                })
                .await;
                if let Frozen::Hold(h) = &tx {
                    h.defer_wake(s, wake);
                }
            }
            drop(tx);
            if done.aborted && !wide && held.is_none() {
                shared.scripts.mark_wide(&req.name);
                wide = true;
                continue;
            }
            return done.reply;
        }
    });
    task.await
        .unwrap_or_else(|_| Reply::error("ERR script run failed"))
}

/// The shards a script runs over: its own transaction, or the hold of the
/// EXEC it runs in.
enum Frozen {
    Tx(Tx),
    Hold(Rc<crate::hold::Hold>),
}

impl Frozen {
    fn shards(&self) -> &[usize] {
        match self {
            Frozen::Tx(t) => t.shards(),
            Frozen::Hold(h) => h.shards(),
        }
    }

    async fn run<R, F>(&self, s: usize, f: F) -> Option<R>
    where
        R: Send + 'static,
        F: FnOnce(&mut ShardEnv) -> R + Send + 'static,
    {
        match self {
            Frozen::Tx(t) => t.run(s, f).await,
            Frozen::Hold(h) => h.run_on(s, f).await,
        }
    }
}

/// Compiles a script on this worker's script thread (SCRIPT LOAD).
pub async fn compile(
    shared: &Shared,
    worker: usize,
    sha: String,
    body: Bytes,
) -> Result<(), String> {
    let (tx, rx) = oneshot::channel();
    shared.scripts.send(
        worker,
        Job::Compile {
            sha,
            body,
            reply: tx,
        },
    );
    rx.await
        .unwrap_or_else(|_| Err("ERR script engine unavailable".into()))
}

/// Validates a library on this worker's script thread (FUNCTION LOAD).
pub async fn load_library(shared: &Shared, worker: usize, code: Bytes) -> Result<Library, String> {
    let (tx, rx) = oneshot::channel();
    shared.scripts.send(worker, Job::Load { code, reply: tx });
    rx.await
        .unwrap_or_else(|_| Err("ERR script engine unavailable".into()))
}

/// Start-up: builds the libraries of the loaded RDB file (its FUNCTION2
/// records) in a scratch engine, as Redis's `rdbFunctionLoad` does, and
/// installs them. An error is Redis's text for the first bad library.
pub fn install_loaded_libraries(
    registry: &FunctionRegistry,
    codes: &[Vec<u8>],
) -> Result<(), String> {
    if codes.is_empty() {
        return Ok(());
    }
    let mut engine = Engine::new(scripting::engine::DEFAULT_MEMORY_LIMIT)
        .map_err(|e| format!("cannot start a Lua engine: {e}"))?;
    let mut libs = Libraries::default();
    for code in codes {
        let lib = Library::build(Bytes::copy_from_slice(code), |c| engine.load_library(c))?;
        libs.add(lib, false)?;
    }
    registry.update(|current| current.join(libs, false))
}
