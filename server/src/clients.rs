//! The process-wide registry of connected clients, for CLIENT LIST/KILL and
//! INFO clients. Each connection publishes a small shared record; the hot
//! path only updates a few relaxed atomics in it.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, AtomicU8, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;
use tokio::sync::Notify;

/// What other connections may see or change of one client.
pub struct ClientInfo {
    /// CLIENT ID.
    pub id: u64,
    /// Peer address.
    pub addr: SocketAddr,
    /// Local address.
    pub laddr: SocketAddr,
    /// The socket's file descriptor number.
    pub fd: i64,
    /// When it connected.
    pub created: Instant,
    /// Milliseconds since `created` of the last command.
    pub last_interaction_ms: AtomicU64,
    /// Selected database.
    pub db: AtomicUsize,
    /// RESP version (2 or 3).
    pub resp: AtomicU8,
    /// Connection name, library name and version.
    pub names: Mutex<ClientNames>,
    /// Last command's full name.
    pub last_cmd: Mutex<String>,
    /// Bytes waiting in the query buffer at the last read.
    pub qbuf: AtomicUsize,
    /// Set by CLIENT KILL; the connection closes at its next step.
    pub killed: AtomicBool,
    /// Wakes the connection when killed.
    pub kill_notify: Notify,
    /// CLIENT NO-EVICT / NO-TOUCH flags, for CLIENT LIST.
    pub no_evict: AtomicBool,
    /// CLIENT NO-TOUCH.
    pub no_touch: AtomicBool,
    /// The worker (shard) serving it.
    pub worker: usize,
    /// Multi state for CLIENT LIST (`-1` when not in MULTI).
    pub multi: AtomicI64,
    /// WATCH state: dirty flag and number of watched keys.
    pub watch: Arc<crate::watch::WatchState>,
    /// Hook (blocking): the waiter of a blocked command, for CLIENT
    /// UNBLOCK and the `b` flag.
    pub blocked: crate::blocking::BlockedSlot,
    /// Frames pushed to this client by others (pub/sub, notifications,
    /// invalidations, MONITOR), bounded by `client-output-buffer-limit`.
    pub outbox: crate::outbox::Outbox,
    /// Hook (pubsub): number of channels, patterns and shard channels.
    pub subs: [AtomicUsize; 3],
    /// Hook (tracking): the REDIRECT target while tracking is on, 0 for
    /// none, -1 while tracking is off.
    pub tracking_redir: AtomicI64,
    /// Hook (tracking): CLIENT LIST flags `B` (bcast) and `R` (broken redirect).
    pub tracking_flags: AtomicU8,
    /// Hook (monitor): in MONITOR mode.
    pub monitor: AtomicBool,
}

/// `tracking_flags` bits.
pub mod tflags {
    /// BCAST mode.
    pub const BCAST: u8 = 1;
    /// The redirect target is gone.
    pub const BROKEN: u8 = 2;
}

/// Names a client sets about itself.
#[derive(Default, Clone)]
pub struct ClientNames {
    /// CLIENT SETNAME.
    pub name: String,
    /// CLIENT SETINFO LIB-NAME.
    pub lib_name: String,
    /// CLIENT SETINFO LIB-VER.
    pub lib_ver: String,
}

impl ClientInfo {
    /// A record for a new connection; the hooks start empty.
    pub fn new(id: u64, addr: SocketAddr, laddr: SocketAddr, fd: i64, worker: usize) -> ClientInfo {
        ClientInfo {
            id,
            addr,
            laddr,
            fd,
            created: Instant::now(),
            last_interaction_ms: AtomicU64::new(0),
            db: AtomicUsize::new(0),
            resp: AtomicU8::new(2),
            names: Mutex::new(ClientNames::default()),
            last_cmd: Mutex::new("NULL".to_string()),
            qbuf: AtomicUsize::new(0),
            killed: AtomicBool::new(false),
            kill_notify: Notify::new(),
            no_evict: AtomicBool::new(false),
            no_touch: AtomicBool::new(false),
            worker,
            multi: AtomicI64::new(-1),
            watch: Default::default(),
            blocked: Default::default(),
            outbox: Default::default(),
            subs: Default::default(),
            tracking_redir: AtomicI64::new(-1),
            tracking_flags: AtomicU8::new(0),
            monitor: AtomicBool::new(false),
        }
    }

    /// True while the client has any subscription (Redis's `CLIENT_PUBSUB`).
    pub fn pubsub_active(&self) -> bool {
        self.subs.iter().any(|n| n.load(Ordering::Relaxed) > 0)
    }

    /// Seconds since connecting.
    pub fn age_secs(&self) -> u64 {
        self.created.elapsed().as_secs()
    }

    /// Seconds since the last command.
    pub fn idle_secs(&self) -> u64 {
        let now = self.created.elapsed().as_millis() as u64;
        now.saturating_sub(self.last_interaction_ms.load(Ordering::Relaxed)) / 1000
    }

    /// Marks the client killed and wakes it.
    pub fn kill(&self) {
        self.killed.store(true, Ordering::Relaxed);
        self.kill_notify.notify_one();
    }

    /// The connection name.
    pub fn name(&self) -> String {
        self.names
            .lock()
            .map(|n| n.name.clone())
            .unwrap_or_default()
    }

    /// One CLIENT LIST / CLIENT INFO line, without the newline.
    pub fn describe(&self, current_cmd: Option<&str>) -> String {
        let names = self.names.lock().map(|n| n.clone()).unwrap_or_default();
        let cmd = match current_cmd {
            Some(c) => c.to_string(),
            None => self.last_cmd.lock().map(|c| c.clone()).unwrap_or_default(),
        };
        // Redis's order (getClientInfoString): O P x b t R B d e T.
        let mut flags = String::new();
        if self.monitor.load(Ordering::Relaxed) {
            flags.push('O');
        }
        if self.pubsub_active() {
            flags.push('P');
        }
        if self.multi.load(Ordering::Relaxed) >= 0 {
            flags.push('x');
        }
        if self.blocked.is_blocked() {
            flags.push('b');
        }
        let redir = self.tracking_redir.load(Ordering::Relaxed);
        if redir >= 0 {
            flags.push('t');
            let tf = self.tracking_flags.load(Ordering::Relaxed);
            if tf & tflags::BROKEN != 0 {
                flags.push('R');
            }
            if tf & tflags::BCAST != 0 {
                flags.push('B');
            }
        }
        if self.watch.is_dirty() {
            flags.push('d');
        }
        if self.no_evict.load(Ordering::Relaxed) {
            flags.push('e');
        }
        if self.no_touch.load(Ordering::Relaxed) {
            flags.push('T');
        }
        if flags.is_empty() {
            flags.push('N');
        }
        let qbuf = self.qbuf.load(Ordering::Relaxed);
        let (oll, omem) = self.outbox.usage();
        format!(
            "id={} addr={} laddr={} fd={} name={} age={} idle={} flags={} db={} sub={} psub={} ssub={} multi={} watch={} qbuf={} qbuf-free={} argv-mem={} multi-mem=0 rbs=16384 rbp=16384 obl=0 oll={} omem={} tot-mem={} events=r cmd={} user=default redir={} resp={} lib-name={} lib-ver={}",
            self.id,
            self.addr,
            self.laddr,
            self.fd,
            names.name,
            self.age_secs(),
            self.idle_secs(),
            flags,
            self.db.load(Ordering::Relaxed),
            self.subs[0].load(Ordering::Relaxed),
            self.subs[1].load(Ordering::Relaxed),
            self.subs[2].load(Ordering::Relaxed),
            self.multi.load(Ordering::Relaxed),
            self.watch.keys(),
            qbuf,
            16384usize.saturating_sub(qbuf),
            0,
            oll,
            omem,
            16384 + 1024 + qbuf + omem,
            cmd,
            redir,
            self.resp.load(Ordering::Relaxed),
            names.lib_name,
            names.lib_ver,
        )
    }
}

/// All connected clients.
#[derive(Default)]
pub struct ClientRegistry {
    clients: Mutex<BTreeMap<u64, Arc<ClientInfo>>>,
    next_id: AtomicU64,
}

impl ClientRegistry {
    /// A fresh client id (ids start at 1 and never repeat).
    pub fn next_id(&self) -> u64 {
        self.next_id.fetch_add(1, Ordering::Relaxed) + 1
    }

    /// Registers a client.
    pub fn add(&self, c: Arc<ClientInfo>) {
        if let Ok(mut m) = self.clients.lock() {
            m.insert(c.id, c);
        }
    }

    /// Forgets a client.
    pub fn remove(&self, id: u64) {
        if let Ok(mut m) = self.clients.lock() {
            m.remove(&id);
        }
    }

    /// A snapshot of every client, by id.
    pub fn snapshot(&self) -> Vec<Arc<ClientInfo>> {
        self.clients
            .lock()
            .map(|m| m.values().cloned().collect())
            .unwrap_or_default()
    }

    /// The client with this id, if connected.
    pub fn get(&self, id: u64) -> Option<Arc<ClientInfo>> {
        self.clients.lock().ok()?.get(&id).cloned()
    }

    /// Number of connected clients.
    pub fn len(&self) -> usize {
        self.clients.lock().map(|m| m.len()).unwrap_or(0)
    }

    /// True when nobody is connected.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}
