//! Process-wide state and start-up: workers, listeners, signals.

use crate::clients::ClientRegistry;
use crate::config::{Config, Id};
use crate::worker::{self, ShardEnv, ShardMsg};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Instant;
use tokio::sync::{mpsc, oneshot, Notify};

/// The settings that command handlers consult on the shard; each worker
/// holds a copy, refreshed after CONFIG SET.
#[derive(Clone, Debug)]
pub struct Limits {
    /// Number of databases.
    pub databases: usize,
    /// proto-max-bulk-len: the largest string a command may build.
    pub proto_max_bulk_len: u64,
    /// hz: active expiry cycles per second.
    pub hz: u32,
    /// active-expire-effort (1..10).
    pub active_expire_effort: u32,
    /// The encoding thresholds (`*-max-listpack-*`, `set-max-intset-entries`).
    pub thresholds: storage::types::Thresholds,
    /// rdbcompression: LZF for long strings in DUMP payloads.
    pub rdbcompression: bool,
    /// maxmemory, its policy and knobs.
    pub memory: crate::evict::MemoryLimits,
}

impl Default for Limits {
    /// Redis's defaults (for tests of handlers).
    fn default() -> Self {
        Limits {
            databases: 16,
            proto_max_bulk_len: 512 * 1024 * 1024,
            hz: 10,
            active_expire_effort: 1,
            thresholds: storage::types::Thresholds::default(),
            rdbcompression: true,
            memory: Default::default(),
        }
    }
}

impl Limits {
    /// The limits implied by a configuration.
    pub fn from_config(c: &Config) -> Limits {
        Limits {
            databases: c.databases(),
            proto_max_bulk_len: c.proto_max_bulk_len(),
            hz: c.hz(),
            active_expire_effort: c.active_expire_effort(),
            thresholds: storage::types::Thresholds {
                hash_max_listpack_entries: c.int(Id::HashMaxListpackEntries).max(0) as usize,
                hash_max_listpack_value: c.int(Id::HashMaxListpackValue).max(0) as usize,
                list_max_listpack_size: c.int(Id::ListMaxListpackSize),
                set_max_intset_entries: c.int(Id::SetMaxIntsetEntries).max(0) as usize,
                set_max_listpack_entries: c.int(Id::SetMaxListpackEntries).max(0) as usize,
                set_max_listpack_value: c.int(Id::SetMaxListpackValue).max(0) as usize,
                zset_max_listpack_entries: c.int(Id::ZsetMaxListpackEntries).max(0) as usize,
                zset_max_listpack_value: c.int(Id::ZsetMaxListpackValue).max(0) as usize,
            },
            rdbcompression: c.rdbcompression(),
            memory: crate::evict::MemoryLimits::from_config(c),
        }
    }
}

/// Process-wide counters for INFO stats.
#[derive(Default)]
pub struct GlobalStats {
    /// Connections accepted.
    pub total_connections_received: AtomicU64,
    /// Connections refused (maxclients).
    pub rejected_connections: AtomicU64,
    /// Commands run.
    pub total_commands_processed: AtomicU64,
    /// Bytes read from clients.
    pub net_input_bytes: AtomicU64,
    /// Bytes written to clients.
    pub net_output_bytes: AtomicU64,
    /// Error replies sent.
    pub total_error_replies: AtomicU64,
    /// Connections currently open.
    pub connected_clients: AtomicUsize,
}

/// State shared by every worker and the listener.
pub struct Shared {
    /// Number of shards (= workers).
    pub nshards: usize,
    inboxes: Vec<mpsc::UnboundedSender<ShardMsg>>,
    /// Orders the arming of multi-shard transactions (see `tx`).
    pub tx_order: Mutex<()>,
    /// The configuration, as CONFIG GET sees it.
    pub config: RwLock<Config>,
    /// Connected clients.
    pub clients: Arc<ClientRegistry>,
    /// Pub/sub, notifications, tracking, MONITOR (see `pubsub`).
    pub hub: Arc<crate::pubsub::Hub>,
    /// Counters.
    pub stats: GlobalStats,
    /// When the server started.
    pub started: Instant,
    /// Unix time of start, in seconds.
    pub started_unix: u64,
    /// A random 40-hex-digit id for INFO's run_id.
    pub run_id: String,
    /// The port actually listened on (for INFO when `--port 0`).
    pub port: AtomicUsize,
    /// Set when shutting down.
    pub shutting_down: AtomicBool,
    /// Wakes the listener to shut down.
    pub shutdown: Notify,
    /// CLIENT PAUSE state.
    pub pause: crate::pause::PauseState,
    /// SLOWLOG entries.
    pub slowlog: crate::slowlog::SlowLog,
    /// LATENCY samples.
    pub latency: crate::slowlog::LatencyMonitor,
    /// INFO errorstats counters.
    pub errorstats: crate::slowlog::ErrorStats,
    /// What INFO keeps between calls (memory at start-up and peak, rates).
    pub info: crate::commands::info::InfoState,
    /// Scripts and functions: caches, runs, BUSY state.
    pub scripts: crate::script::Scripts,
    /// Snapshot state: changes since the last save, saves in progress.
    pub persist: crate::persist::PersistState,
    /// The memory figure maxmemory is checked against, and the evictor.
    pub memory: crate::evict::MemoryMonitor,
    /// Cross-shard BLMOVE serves in flight (commands wait for none).
    pub moves: crate::blocking::MoveFence,
    /// Asks the listener to listen on a new port or bind address.
    rebind: Mutex<Option<mpsc::UnboundedSender<RebindRequest>>>,
}

/// A request to the listener to re-listen (CONFIG SET port / bind).
struct RebindRequest {
    config: Config,
    previous: Config,
    reply: oneshot::Sender<Result<u16, String>>,
}

/// Listens on the port and addresses of `config` instead of the current
/// ones, as CONFIG SET port/bind does. On failure the old listeners are
/// restored and the reason is returned.
pub async fn rebind(shared: &Shared, config: &Config, previous: &Config) -> Result<(), String> {
    let tx = shared
        .rebind
        .lock()
        .ok()
        .and_then(|g| g.clone())
        .ok_or_else(|| "Unable to listen on this port. Check server logs.".to_string())?;
    let (reply, rx) = oneshot::channel();
    tx.send(RebindRequest {
        config: config.clone(),
        previous: previous.clone(),
        reply,
    })
    .map_err(|_| "Unable to listen on this port. Check server logs.".to_string())?;
    let port = rx
        .await
        .map_err(|_| "Unable to listen on this port. Check server logs.".to_string())??;
    shared.port.store(port as usize, Ordering::Relaxed);
    Ok(())
}

impl Shared {
    /// Queues a message to shard `s`.
    pub fn send(&self, s: usize, msg: ShardMsg) {
        if let Some(tx) = self.inboxes.get(s) {
            // A closed inbox means the worker is gone at shutdown; the
            // awaiting side sees its reply channel close.
            let _ = tx.send(msg);
        }
    }

    /// Runs `f` on shard `s` and awaits its result (a hop). `None` if the
    /// shard has gone away.
    pub async fn run_on<R, F>(&self, s: usize, f: F) -> Option<R>
    where
        R: Send + 'static,
        F: FnOnce(&mut ShardEnv) -> R + Send + 'static,
    {
        let (tx, rx) = oneshot::channel();
        self.send(
            s,
            ShardMsg::Run(Box::new(move |env| {
                let _ = tx.send(f(env));
            })),
        );
        rx.await.ok()
    }

    /// A copy of the current configuration.
    pub fn config(&self) -> Config {
        match self.config.read() {
            Ok(c) => c.clone(),
            Err(p) => p.into_inner().clone(),
        }
    }
}

/// Binds the listeners, starts the workers, and serves until shutdown.
pub fn run(config: Config) -> anyhow::Result<()> {
    let nshards = config.shards().max(1);
    let limits = Limits::from_config(&config);
    let mut inboxes = Vec::with_capacity(nshards);
    let mut receivers = Vec::with_capacity(nshards);
    for _ in 0..nshards {
        let (tx, rx) = mpsc::unbounded_channel();
        inboxes.push(tx);
        receivers.push(rx);
    }
    let started_unix = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let run_id: String = (0..40)
        .map(|_| format!("{:x}", rand::random::<u8>() % 16))
        .collect();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let listeners = rt.block_on(bind_all(&config))?;
    // Load the snapshot before serving, as Redis does; a file that does
    // not load whole stops start-up.
    let (shards, loaded) = crate::persist::load_at_startup(&config, nshards, limits.thresholds)?;
    let persist = crate::persist::PersistState::new(started_unix);
    if let Some(l) = loaded {
        persist.last_load_loaded.store(l.keys, Ordering::Relaxed);
        persist
            .last_load_expired
            .store(l.expired, Ordering::Relaxed);
        if let Ok(mut f) = persist.functions.lock() {
            *f = l.functions;
        }
    }
    // The file's function libraries, built as Redis's `rdbFunctionLoad`
    // does; one that does not load stops start-up as a bad file would.
    let scripts = crate::script::Scripts::new(nshards);
    if let Ok(codes) = persist.functions.lock() {
        crate::script::install_loaded_libraries(&scripts.functions, &codes)
            .map_err(|e| anyhow::anyhow!("Failed loading the RDB file's functions: {e}"))?;
    }
    let port = listeners
        .first()
        .and_then(|l| l.local_addr().ok())
        .map(|a| a.port() as usize)
        .unwrap_or(config.port() as usize);
    let slowlog = crate::slowlog::SlowLog::new(
        crate::knobs::slowlog_log_slower_than(&config),
        crate::knobs::slowlog_max_len(&config),
    );
    let latency =
        crate::slowlog::LatencyMonitor::new(crate::knobs::latency_monitor_threshold(&config));
    let clients = Arc::new(ClientRegistry::default());
    let hub = Arc::new(crate::pubsub::Hub::new(clients.clone()));
    hub.configure(&config);
    let shared = Arc::new(Shared {
        nshards,
        hub,
        inboxes,
        tx_order: Mutex::new(()),
        config: RwLock::new(config),
        clients,
        stats: GlobalStats::default(),
        started: Instant::now(),
        started_unix,
        run_id,
        port: AtomicUsize::new(port),
        shutting_down: AtomicBool::new(false),
        shutdown: Notify::new(),
        rebind: Mutex::new(None),
        pause: crate::pause::PauseState::default(),
        slowlog,
        latency,
        errorstats: crate::slowlog::ErrorStats::default(),
        info: crate::commands::info::InfoState::new(),
        scripts,
        persist,
        memory: crate::evict::MemoryMonitor::new(nshards, limits.memory.maxmemory),
        moves: Default::default(),
    });
    for ((id, rx), shard) in receivers.into_iter().enumerate().zip(shards) {
        worker::spawn(id, shared.clone(), limits.clone(), rx, shard)?;
    }
    tracing::info!("Ready to accept connections tcp (port {port}, {nshards} shards)");
    rt.spawn(crate::commands::info::sample_rates(shared.clone()));
    rt.spawn(crate::persist::cron(shared.clone()));
    rt.block_on(accept_loop(shared, listeners));
    Ok(())
}

/// On SIGTERM/SIGINT: saves when save points are set, as Redis does.
/// False when the save failed: Redis then refuses to exit.
async fn final_save(shared: &Arc<Shared>) -> bool {
    if shared.config().save_points().is_empty() {
        return true;
    }
    crate::persist::wait_idle(shared).await;
    tracing::warn!("Saving the final RDB snapshot before exiting.");
    match crate::persist::save(shared).await {
        Ok(()) => true,
        Err(_) => {
            tracing::warn!("Error trying to save the DB, can't exit.");
            false
        }
    }
}

async fn bind_all(config: &Config) -> anyhow::Result<Vec<tokio::net::TcpListener>> {
    let mut out = Vec::new();
    let mut port = config.port();
    for addr in config.bind() {
        // A leading '-' marks an address that may be unavailable (Redis).
        let (optional, host) = (addr.optional, addr.addr.as_str());
        let host = if host == "*" { "0.0.0.0" } else { host };
        let sa = if host.contains(':') {
            format!("[{host}]:{port}")
        } else {
            format!("{host}:{port}")
        };
        match bind_one(&sa) {
            Ok(l) => {
                if port == 0 {
                    // `--port 0` picks a free port; other addresses reuse it.
                    port = l.local_addr()?.port();
                }
                out.push(l);
            }
            Err(e) if optional => tracing::debug!("skipping optional bind {sa}: {e}"),
            Err(e) => {
                anyhow::bail!("Warning: Could not create server TCP listening socket {sa}: {e}")
            }
        }
    }
    if out.is_empty() {
        anyhow::bail!(
            "Failed listening on port {} (tcp), aborting.",
            config.port()
        );
    }
    Ok(out)
}

fn bind_one(addr: &str) -> std::io::Result<tokio::net::TcpListener> {
    let sa: std::net::SocketAddr = addr
        .parse()
        .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, format!("{e}")))?;
    let socket = if sa.is_ipv6() {
        tokio::net::TcpSocket::new_v6()?
    } else {
        tokio::net::TcpSocket::new_v4()?
    };
    socket.set_reuseaddr(true)?;
    socket.bind(sa)?;
    socket.listen(511)
}

fn spawn_acceptors(
    listeners: Vec<tokio::net::TcpListener>,
    conn_tx: &mpsc::UnboundedSender<tokio::net::TcpStream>,
) -> Vec<tokio::task::JoinHandle<()>> {
    listeners
        .into_iter()
        .map(|l| {
            let conn_tx = conn_tx.clone();
            tokio::spawn(async move {
                loop {
                    match l.accept().await {
                        Ok((s, _)) => {
                            if conn_tx.send(s).is_err() {
                                break;
                            }
                        }
                        Err(e) => {
                            tracing::warn!("accept failed: {e}");
                            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
                        }
                    }
                }
            })
        })
        .collect()
}

async fn stop_acceptors(tasks: Vec<tokio::task::JoinHandle<()>>) {
    for t in &tasks {
        t.abort();
    }
    for t in tasks {
        // Waiting for the cancelled task drops its listener (closes the port).
        let _ = t.await;
    }
}

async fn accept_loop(shared: Arc<Shared>, listeners: Vec<tokio::net::TcpListener>) {
    let (conn_tx, mut conn_rx) = mpsc::unbounded_channel();
    let (rebind_tx, mut rebind_rx) = mpsc::unbounded_channel::<RebindRequest>();
    if let Ok(mut g) = shared.rebind.lock() {
        *g = Some(rebind_tx);
    }
    let mut acceptors = spawn_acceptors(listeners, &conn_tx);
    let mut next = 0usize;
    let mut sigterm =
        tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
    loop {
        tokio::select! {
            Some(stream) = conn_rx.recv() => {
                shared.stats.total_connections_received.fetch_add(1, Ordering::Relaxed);
                let _ = stream.set_nodelay(true);
                match stream.into_std() {
                    Ok(std_stream) => {
                        shared.send(next % shared.nshards, ShardMsg::Conn(std_stream));
                        next = next.wrapping_add(1);
                    }
                    Err(e) => tracing::warn!("cannot hand over a connection: {e}"),
                }
            }
            _ = tokio::signal::ctrl_c() => {
                tracing::warn!("Received SIGINT scheduling shutdown...");
                if final_save(&shared).await {
                    break;
                }
            }
            _ = async { match sigterm.as_mut() { Some(s) => { s.recv().await; } None => std::future::pending::<()>().await } } => {
                tracing::warn!("Received SIGTERM scheduling shutdown...");
                if final_save(&shared).await {
                    break;
                }
            }
            Some(req) = rebind_rx.recv() => {
                stop_acceptors(std::mem::take(&mut acceptors)).await;
                match bind_all(&req.config).await {
                    Ok(ls) => {
                        let port = ls.first().and_then(|l| l.local_addr().ok()).map(|a| a.port()).unwrap_or(0);
                        acceptors = spawn_acceptors(ls, &conn_tx);
                        let _ = req.reply.send(Ok(port));
                    }
                    Err(e) => {
                        tracing::warn!("{e:#}");
                        if let Ok(ls) = bind_all(&req.previous).await {
                            acceptors = spawn_acceptors(ls, &conn_tx);
                        }
                        let _ = req.reply.send(Err("Unable to listen on this port. Check server logs.".into()));
                    }
                }
            }
            _ = shared.shutdown.notified() => break,
        }
    }
    shared.shutting_down.store(true, Ordering::Relaxed);
    tracing::warn!("Redis is now ready to exit, bye bye...");
}
