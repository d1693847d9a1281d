//! Snapshots in the server: start-up load, SAVE, BGSAVE, save points,
//! SHUTDOWN and DEBUG RELOAD saves, and the state INFO persistence shows.
//!
//! BGSAVE (and save points) take a copy-on-write cut (DESIGN.md 9):
//! 1. the cut: a short [`Tx`] over every shard only starts a cut on each
//!    non-empty database (`storage::cut`: O(1) per database) and records
//!    its key counts;
//! 2. the walk: a driver task sends each shard one slice at a time
//!    ([`SLICE`] entries); the shard serves its clients between slices,
//!    and its mutation paths serialize an entry's cut value before
//!    changing it. Serialized keys go, in chunks, through a channel to
//! 3. the writer: a helper thread streams them into `temp-<pid>.rdb`,
//!    then fsyncs, renames and fsyncs the directory. No shard thread does
//!    file I/O. Memory grows with the unwritten chunks and the values
//!    changed during the save, not with the dataset.
//!
//! SAVE, SHUTDOWN, FLUSHALL and DEBUG RELOAD keep the simple path: a
//! [`Tx`] freezes every shard while each serializes its databases into
//! memory, then a helper thread writes the file.
//!
//! Invariants: at most one save runs at a time (`busy`); a save's file is
//! renamed into place only if no later cut has been written already
//! (`written_seq`), so the newest cut always wins; a failed write leaves
//! the previous file untouched.

use crate::server::Shared;
use crate::tx::Tx;
use persistence::snapshot::{serialize_db, write_file, DbChunk};
use persistence::Encoder;
use std::cell::RefCell;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Entries a shard serializes per slice of a background save (about
/// 0.1 ms of work for small keys) before it serves its clients again.
pub const SLICE: usize = 2000;

/// Bytes a cut's sink buffers before handing a chunk to the writer.
const CHUNK: usize = 256 << 10;

/// Redis's CONFIG_BGSAVE_RETRY_DELAY: after a failed BGSAVE, save points
/// try again only after this many seconds.
const BGSAVE_RETRY_DELAY: u64 = 5;

thread_local! {
    /// One encoder per thread: its LZF table is reused across saves and
    /// DUMPs instead of being allocated each time.
    static ENCODER: RefCell<Encoder> = RefCell::new(Encoder::new(true));
}

/// Runs `f` with this thread's encoder set to `compress`.
pub fn with_encoder<R>(compress: bool, f: impl FnOnce(&mut Encoder) -> R) -> R {
    ENCODER.with(|e| {
        let mut e = e.borrow_mut();
        e.set_compress(compress);
        f(&mut e)
    })
}

/// Persistence state, process-wide.
pub struct PersistState {
    /// Changes since the last successful save (an approximation of Redis's
    /// `server.dirty`: one per write command that changed something).
    pub dirty: AtomicU64,
    /// Unix seconds of the last successful save (start-up time before).
    pub last_save: AtomicU64,
    /// A save (foreground or background) is running.
    busy: AtomicBool,
    /// A BGSAVE is running (INFO `rdb_bgsave_in_progress`).
    pub bgsave_in_progress: AtomicBool,
    /// Unix seconds when the running BGSAVE started.
    pub bgsave_started: AtomicU64,
    /// Whether the last background save succeeded.
    pub last_bgsave_ok: AtomicBool,
    /// Seconds the last BGSAVE took, -1 before any.
    pub last_bgsave_secs: AtomicI64,
    /// Unix seconds of the last BGSAVE attempt (for the retry delay).
    last_bgsave_try: AtomicU64,
    /// Successful saves.
    pub saves: AtomicU64,
    /// Keys loaded / dropped as expired by the last load.
    pub last_load_loaded: AtomicU64,
    /// Keys dropped as expired by the last load.
    pub last_load_expired: AtomicU64,
    /// Cut sequence numbers: the last one taken and the last one written.
    next_seq: AtomicU64,
    written_seq: Mutex<u64>,
    /// FUNCTION2 payloads of the loaded file (library code), installed
    /// into the functions registry at start-up.
    pub functions: Mutex<Vec<Vec<u8>>>,
}

impl PersistState {
    /// The state of a server that started at `now` (Unix seconds).
    pub fn new(now: u64) -> PersistState {
        PersistState {
            dirty: AtomicU64::new(0),
            last_save: AtomicU64::new(now),
            busy: AtomicBool::new(false),
            bgsave_in_progress: AtomicBool::new(false),
            bgsave_started: AtomicU64::new(0),
            last_bgsave_ok: AtomicBool::new(true),
            last_bgsave_secs: AtomicI64::new(-1),
            last_bgsave_try: AtomicU64::new(0),
            saves: AtomicU64::new(0),
            last_load_loaded: AtomicU64::new(0),
            last_load_expired: AtomicU64::new(0),
            next_seq: AtomicU64::new(1),
            written_seq: Mutex::new(0),
            functions: Mutex::new(Vec::new()),
        }
    }

    /// Counts one change (a write command that did something).
    pub fn note_change(&self) {
        self.dirty.fetch_add(1, Ordering::Relaxed);
    }
}

fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// Everything serialized at one cut.
pub struct Cut {
    chunks: Vec<DbChunk>,
    seq: u64,
    dirty: u64,
    /// How long the shards were frozen.
    pub freeze: Duration,
    /// Keys serialized.
    pub keys: u64,
    /// The function libraries' code at the cut (FUNCTION2 records).
    functions: Vec<bytes::Bytes>,
}

/// Serializes every shard of `tx` (which holds them all frozen).
async fn serialize_all(shared: &Shared, tx: &Tx, compress: bool) -> Cut {
    let start = Instant::now();
    let seq = shared.persist.next_seq.fetch_add(1, Ordering::Relaxed);
    let dirty = shared.persist.dirty.load(Ordering::Relaxed);
    let parts = tx
        .run_all(move |env| {
            let now = env.shard.now_ms();
            with_encoder(compress, |enc| {
                env.shard
                    .dbs
                    .iter()
                    .enumerate()
                    .filter_map(|(i, db)| serialize_db(enc, db, i, now))
                    .collect::<Vec<_>>()
            })
        })
        .await;
    let chunks: Vec<DbChunk> = parts.into_iter().flatten().collect();
    let keys = chunks.iter().map(|c| c.keys).sum();
    let libs = shared.scripts.functions.snapshot();
    Cut {
        functions: libs.libs.values().map(|l| l.code.clone()).collect(),
        chunks,
        seq,
        dirty,
        freeze: start.elapsed(),
        keys,
    }
}

/// Freezes every shard, serializes it, and releases.
pub async fn take_cut(shared: &Arc<Shared>) -> Cut {
    let compress = shared.config().rdbcompression();
    let tx = Tx::begin(shared, (0..shared.nshards).collect()).await;
    let cut = serialize_all(shared, &tx, compress).await;
    drop(tx);
    tracing::debug!(
        "snapshot cut: {} keys serialized, shards frozen {:?}",
        cut.keys,
        cut.freeze
    );
    cut
}

/// Runs blocking work on a helper thread and awaits its result.
async fn on_helper<R: Send + 'static>(
    name: &str,
    f: impl FnOnce() -> R + Send + 'static,
) -> std::io::Result<R> {
    let (tx, rx) = tokio::sync::oneshot::channel();
    std::thread::Builder::new()
        .name(name.into())
        .spawn(move || {
            let _ = tx.send(f());
        })?;
    rx.await
        .map_err(|_| std::io::Error::other("helper thread died"))
}

/// DEBUG RELOAD [MERGE] [NOFLUSH] [NOSAVE]: with every shard frozen, saves
/// (unless NOSAVE), reads the file back into fresh shards and installs
/// them (unless NOFLUSH or MERGE, which add the file's keys to the current
/// ones, replacing keys of the same name). Atomic: a file that does not
/// load changes nothing.
pub async fn debug_reload(shared: &Arc<Shared>, save: bool, flush: bool) -> Result<(), String> {
    let Some(_busy) = Busy::take(&shared.persist) else {
        return Err("Background save already in progress".into());
    };
    reload_frozen(shared, save, flush).await
}

async fn reload_frozen(shared: &Arc<Shared>, save: bool, flush: bool) -> Result<(), String> {
    let (path, compress, checksum) = target(shared);
    let tx = Tx::begin(shared, (0..shared.nshards).collect()).await;
    if save {
        let cut = serialize_all(shared, &tx, compress).await;
        let sh = shared.clone();
        let p = path.clone();
        let r = on_helper("rdb-save", move || {
            let r = write_cut(&sh, &cut, &p, compress, checksum);
            if r.is_ok() {
                saved(&sh, &cut);
            }
            r
        })
        .await
        .and_then(|r| r);
        r.map_err(|e| format!("Error trying to save the DB: {e}"))?;
    }
    let nshards = shared.nshards;
    let databases = shared.config().databases();
    let thresholds = crate::server::Limits::from_config(&shared.config()).thresholds;
    let staged = on_helper("rdb-load", move || {
        let data = std::fs::read(&path).map_err(|e| e.to_string())?;
        let mut shards: Vec<storage::Shard> = (0..nshards)
            .map(|i| storage::Shard::new(i, databases))
            .collect();
        load_into(&data, &mut shards, thresholds).map_err(|e| e.to_string())?;
        Ok::<_, String>(shards)
    })
    .await
    .map_err(|e| e.to_string())??;
    let slots: Arc<Vec<Mutex<Option<Vec<storage::Db>>>>> = Arc::new(
        staged
            .into_iter()
            .map(|s| Mutex::new(Some(s.dbs)))
            .collect(),
    );
    tx.run_all(move |env| {
        let Some(new) = slots
            .get(env.shard.id)
            .and_then(|m| m.lock().ok().and_then(|mut g| g.take()))
        else {
            return;
        };
        if flush {
            env.shard.dbs = new;
        } else {
            let now = env.shard.now_ms();
            for (d, nd) in env.shard.dbs.iter_mut().zip(new) {
                for (k, e) in nd.iter_live(now) {
                    d.insert_entry(k, e.clone());
                }
            }
        }
    })
    .await;
    drop(tx);
    Ok(())
}

/// The aux fields magpie writes (Redis's set, without replication ones).
fn aux_fields() -> Vec<(&'static str, Vec<u8>)> {
    vec![
        ("redis-ver", crate::REDIS_VERSION.as_bytes().to_vec()),
        ("redis-bits", b"64".to_vec()),
        ("ctime", unix_now().to_string().into_bytes()),
        (
            "used-mem",
            crate::commands::info::allocated().to_string().into_bytes(),
        ),
        ("aof-base", b"0".to_vec()),
    ]
}

/// Writes a cut to `path` (blocking: call on a helper thread). Skips the
/// rename when a later cut was written already.
fn write_cut(
    shared: &Shared,
    cut: &Cut,
    path: &std::path::Path,
    compress: bool,
    checksum: bool,
) -> std::io::Result<u64> {
    let mut written = shared
        .persist
        .written_seq
        .lock()
        .unwrap_or_else(|p| p.into_inner());
    if *written > cut.seq {
        return Ok(0);
    }
    let codes: Vec<&[u8]> = cut.functions.iter().map(|c| &c[..]).collect();
    let n = write_file(path, compress, &aux_fields(), &codes, &cut.chunks, checksum)?;
    *written = cut.seq;
    Ok(n)
}

/// Redis's `shared.bgsaveerr`.
pub const MISCONF_RDB: &str = "MISCONF Redis is configured to save RDB snapshots, but it's currently unable to persist to disk. Commands that may modify the data set are disabled, because this instance is configured to report errors during writes if RDB snapshotting fails (stop-writes-on-bgsave-error option). Please check the Redis logs for details about the RDB error.";

/// The dispatch gate of `stop-writes-on-bgsave-error` (Redis's
/// `writeCommandsDeniedByDiskError`): after a failed background save,
/// with save points set, write commands (and PING, as in Redis) get
/// `-MISCONF` until a save succeeds. One atomic load when the last save
/// went well.
#[inline]
pub fn write_gate(shared: &Shared, cmd: &crate::command::CommandSpec) -> storage::CmdResult<()> {
    if shared.persist.last_bgsave_ok.load(Ordering::Relaxed) {
        return Ok(());
    }
    write_gate_slow(shared, cmd)
}

#[cold]
fn write_gate_slow(shared: &Shared, cmd: &crate::command::CommandSpec) -> storage::CmdResult<()> {
    if !(cmd.has(crate::command::flags::WRITE) || cmd.name == "ping") {
        return Ok(());
    }
    let cfg = shared.config();
    if cfg.stop_writes_on_bgsave_error() && !cfg.save_points().is_empty() {
        return Err(storage::CmdError::msg(MISCONF_RDB));
    }
    Ok(())
}

/// Records a successful save of `cut`.
fn saved(shared: &Shared, cut: &Cut) {
    let p = &shared.persist;
    // Writes made after the cut still count as unsaved.
    let _ = p
        .dirty
        .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |d| {
            Some(d.saturating_sub(cut.dirty))
        });
    p.last_save.store(unix_now(), Ordering::Relaxed);
    p.saves.fetch_add(1, Ordering::Relaxed);
    // As Redis's rdbSave: any successful save clears a background error.
    p.last_bgsave_ok.store(true, Ordering::Relaxed);
}

/// Holds `busy` for one save; releasing it on drop, so that a save whose
/// client went away mid-await (its future dropped) does not block every
/// later save. Disarmed when a helper thread takes over the release.
struct Busy<'a> {
    p: &'a PersistState,
    armed: bool,
}

impl<'a> Busy<'a> {
    fn take(p: &'a PersistState) -> Option<Busy<'a>> {
        (!p.busy.swap(true, Ordering::AcqRel)).then_some(Busy { p, armed: true })
    }
}

impl Drop for Busy<'_> {
    fn drop(&mut self) {
        if self.armed {
            self.p.bgsave_in_progress.store(false, Ordering::Relaxed);
            self.p.busy.store(false, Ordering::Release);
        }
    }
}

/// Where and how to save, from the current configuration.
fn target(shared: &Shared) -> (PathBuf, bool, bool) {
    let c = shared.config();
    (c.rdb_path(), c.rdbcompression(), c.rdbchecksum())
}

/// Why a save did not start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SaveError {
    /// Another save is running.
    InProgress,
    /// Writing the file failed (logged).
    Failed,
}

/// A foreground save (SAVE, SHUTDOWN, FLUSHALL with save points, DEBUG
/// RELOAD): the cut, then the write on a helper thread, awaited.
pub async fn save(shared: &Arc<Shared>) -> Result<(), SaveError> {
    let Some(busy) = Busy::take(&shared.persist) else {
        return Err(SaveError::InProgress);
    };
    let cut = take_cut(shared).await;
    let (path, compress, checksum) = target(shared);
    let (tx, rx) = tokio::sync::oneshot::channel();
    let sh = shared.clone();
    let spawned = std::thread::Builder::new()
        .name("rdb-save".into())
        .spawn(move || {
            let r = write_cut(&sh, &cut, &path, compress, checksum);
            if r.is_ok() {
                saved(&sh, &cut);
            }
            let _ = tx.send(r);
        });
    let result = match spawned {
        Ok(_) => rx
            .await
            .unwrap_or_else(|_| Err(std::io::Error::other("save thread died"))),
        Err(e) => Err(e),
    };
    drop(busy);
    match result {
        Ok(_) => {
            tracing::info!("DB saved on disk");
            Ok(())
        }
        Err(e) => {
            tracing::warn!("Failed saving the DB: {e}");
            Err(SaveError::Failed)
        }
    }
}

/// What a background save's shards send its writer thread.
enum WriterMsg {
    /// Encoded keys of a database.
    Chunk(usize, Vec<u8>),
    /// Every shard finished its walk: complete the file.
    Done,
    /// The walk could not finish (a shard went away): drop the file.
    Abort,
}

/// A cut's sink on one shard: encodes entries as of the cut (expiry
/// judged at the cut's time) and hands full chunks to the writer.
struct ChunkSink {
    db: usize,
    now: u64,
    compress: bool,
    buf: Vec<u8>,
    tx: std::sync::mpsc::Sender<WriterMsg>,
}

impl ChunkSink {
    fn flush(&mut self) {
        if !self.buf.is_empty() {
            let b = std::mem::take(&mut self.buf);
            // A writer that gave up (I/O error) no longer listens.
            let _ = self.tx.send(WriterMsg::Chunk(self.db, b));
        }
    }
}

impl storage::cut::CutSink for ChunkSink {
    fn put(&mut self, key: &[u8], entry: &storage::Entry) {
        let (buf, now) = (&mut self.buf, self.now);
        ENCODER.with(|e| match e.try_borrow_mut() {
            Ok(mut enc) => {
                enc.set_compress(self.compress);
                enc.put_entry(buf, key, entry, now);
            }
            // The thread's encoder is in use (a write inside a DUMP):
            // a fresh one.
            Err(_) => {
                Encoder::new(self.compress).put_entry(buf, key, entry, now);
            }
        });
        if self.buf.len() >= CHUNK {
            self.flush();
        }
    }

    fn finish(&mut self) {
        self.flush();
    }
}

/// One slice of a shard's walk: steps the first database with a running
/// cut. True when no cut runs on the shard any more.
fn walk_slice(shard: &mut storage::Shard) -> bool {
    let mut it = shard.dbs.iter_mut().filter(|d| d.cut_running());
    if let Some(d) = it.next() {
        if !d.cut_step(SLICE) {
            return false;
        }
    }
    !shard.dbs.iter().any(|d| d.cut_running())
}

/// Ends every running cut of the shard (an aborted save).
fn abort_cuts(shard: &mut storage::Shard) {
    for d in &mut shard.dbs {
        d.cut_end();
    }
}

/// Starts a background save: the cut now (so the file holds the dataset
/// as of this call), then the walk in slices and the write on a helper
/// thread. Returns once the cut is taken.
pub async fn bgsave(shared: &Arc<Shared>) -> Result<(), SaveError> {
    let p = &shared.persist;
    let Some(mut busy) = Busy::take(p) else {
        return Err(SaveError::InProgress);
    };
    let started = unix_now();
    p.bgsave_in_progress.store(true, Ordering::Relaxed);
    p.bgsave_started.store(started, Ordering::Relaxed);
    p.last_bgsave_try.store(started, Ordering::Relaxed);
    // The start runs as its own task: a client that goes away mid-await
    // must not leave cuts running with no walk and no writer. The task
    // (or the writer thread it starts) releases `busy`.
    busy.armed = false;
    let sh = shared.clone();
    match tokio::spawn(async move { start_bgsave(&sh).await }).await {
        Ok(r) => r,
        Err(_) => {
            let p = &shared.persist;
            p.last_bgsave_ok.store(false, Ordering::Relaxed);
            p.bgsave_in_progress.store(false, Ordering::Relaxed);
            p.busy.store(false, Ordering::Release);
            Err(SaveError::Failed)
        }
    }
}

/// The body of [`bgsave`], holding `busy` until the writer releases it.
async fn start_bgsave(shared: &Arc<Shared>) -> Result<(), SaveError> {
    let p = &shared.persist;
    let (path, compress, checksum) = target(shared);
    let (wtx, wrx) = std::sync::mpsc::channel::<WriterMsg>();
    // The cut: a short freeze that only starts a cut on every database.
    let t_cut = Instant::now();
    let tx = Tx::begin(shared, (0..shared.nshards).collect()).await;
    let seq = p.next_seq.fetch_add(1, Ordering::Relaxed);
    let dirty = p.dirty.load(Ordering::Relaxed);
    let sink_tx = wtx.clone();
    let totals: Vec<(usize, u64, u64)> = tx
        .run_all(move |env| {
            let now = env.shard.now_ms();
            let mut out = Vec::new();
            for (i, d) in env.shard.dbs.iter_mut().enumerate() {
                if d.is_empty() {
                    continue;
                }
                let m = d.cut_begin(Box::new(ChunkSink {
                    db: i,
                    now,
                    compress,
                    buf: Vec::new(),
                    tx: sink_tx.clone(),
                }));
                out.push((i, m.keys, m.expires));
            }
            out
        })
        .await
        .into_iter()
        .flatten()
        .collect();
    drop(tx);
    let keys: u64 = totals.iter().map(|t| t.1).sum();
    tracing::info!(
        "Background saving started (cut of {keys} keys, shards paused {:.3} ms)",
        t_cut.elapsed().as_secs_f64() * 1000.0
    );
    let sh = shared.clone();
    let t0 = Instant::now();
    let finish = move |ok: bool| {
        let p = &sh.persist;
        p.last_bgsave_ok.store(ok, Ordering::Relaxed);
        p.last_bgsave_secs
            .store(t0.elapsed().as_secs() as i64, Ordering::Relaxed);
        p.bgsave_in_progress.store(false, Ordering::Relaxed);
        p.busy.store(false, Ordering::Release);
    };
    let libs = shared.scripts.functions.snapshot();
    let cut = Cut {
        functions: libs.libs.values().map(|l| l.code.clone()).collect(),
        chunks: Vec::new(),
        seq,
        dirty,
        freeze: t_cut.elapsed(),
        keys,
    };
    let spawned = std::thread::Builder::new()
        .name("rdb-bgsave".into())
        .spawn({
            let sh = shared.clone();
            let finish = finish.clone();
            move || match write_stream(&sh, &cut, wrx, &path, compress, checksum, &totals) {
                Ok(_) => {
                    saved(&sh, &cut);
                    tracing::info!("Background saving terminated with success");
                    finish(true);
                }
                Err(e) => {
                    tracing::warn!("Background saving error: {e}");
                    finish(false);
                }
            }
        });
    if let Err(e) = spawned {
        tracing::warn!("Can't save in background: {e}");
        // Nobody will write: end the cuts (their chunks go nowhere).
        let shared = shared.clone();
        let tx = Tx::begin(&shared, (0..shared.nshards).collect()).await;
        tx.run_all(|env| abort_cuts(&mut env.shard)).await;
        drop(tx);
        finish(false);
        return Err(SaveError::Failed);
    }
    // The walk, in the background; the writer thread releases `busy`.
    tokio::spawn(drive_walk(shared.clone(), wtx));
    Ok(())
}

/// Walks every shard's cut one slice at a time (all shards in parallel,
/// each serving its clients between slices), then tells the writer.
async fn drive_walk(shared: Arc<Shared>, wtx: std::sync::mpsc::Sender<WriterMsg>) {
    let mut live: Vec<usize> = (0..shared.nshards).collect();
    let mut aborted = false;
    while !live.is_empty() {
        let waits: Vec<_> = live
            .iter()
            .map(|&s| {
                let (tx, rx) = tokio::sync::oneshot::channel();
                shared.send(
                    s,
                    crate::worker::ShardMsg::Run(Box::new(move |env| {
                        let _ = tx.send(walk_slice(&mut env.shard));
                    })),
                );
                (s, rx)
            })
            .collect();
        live.clear();
        for (s, rx) in waits {
            match rx.await {
                Ok(true) => {}
                Ok(false) => live.push(s),
                // The shard is gone (shutdown).
                Err(_) => aborted = true,
            }
        }
        if aborted {
            for s in 0..shared.nshards {
                shared.send(
                    s,
                    crate::worker::ShardMsg::Run(Box::new(|env| abort_cuts(&mut env.shard))),
                );
            }
            break;
        }
    }
    let _ = wtx.send(if aborted {
        WriterMsg::Abort
    } else {
        WriterMsg::Done
    });
}

/// The writer of a background save (blocking: a helper thread): streams
/// the chunks into the temp file until every shard is done, then installs
/// it unless a later cut was written already.
fn write_stream(
    shared: &Shared,
    cut: &Cut,
    rx: std::sync::mpsc::Receiver<WriterMsg>,
    path: &std::path::Path,
    compress: bool,
    checksum: bool,
    totals: &[(usize, u64, u64)],
) -> std::io::Result<u64> {
    use persistence::snapshot::StreamWriter;
    let codes: Vec<&[u8]> = cut.functions.iter().map(|c| &c[..]).collect();
    let mut w = StreamWriter::create(path, compress, &aux_fields(), &codes, totals, checksum);
    let mut done = false;
    // Drain every message, even after an error, so chunks are freed.
    for msg in rx.iter() {
        match msg {
            WriterMsg::Chunk(db, bytes) => {
                if let Ok(wr) = w.as_mut() {
                    if let Err(e) = wr.chunk(db, &bytes) {
                        w = Err(e);
                    }
                }
            }
            WriterMsg::Done => {
                done = true;
                break;
            }
            WriterMsg::Abort => break,
        }
    }
    if !done {
        return Err(std::io::Error::other("the save was interrupted"));
    }
    let finished = w?.finish()?;
    let mut written = shared
        .persist
        .written_seq
        .lock()
        .unwrap_or_else(|p| p.into_inner());
    if *written > cut.seq {
        finished.discard();
        return Ok(0);
    }
    let n = finished.install(path)?;
    *written = cut.seq;
    Ok(n)
}

/// Waits until no save runs (SHUTDOWN after a BGSAVE, tests).
pub async fn wait_idle(shared: &Shared) {
    while shared.persist.busy.load(Ordering::Acquire) {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// Save points: every 100 ms, start a BGSAVE when one is due (Redis's
/// `serverCron` check, with its retry delay after a failure).
pub async fn cron(shared: Arc<Shared>) {
    loop {
        tokio::time::sleep(Duration::from_millis(100)).await;
        if shared.shutting_down.load(Ordering::Relaxed) {
            return;
        }
        let p = &shared.persist;
        if p.busy.load(Ordering::Acquire) {
            continue;
        }
        let now = unix_now();
        let dirty = p.dirty.load(Ordering::Relaxed);
        let since = now.saturating_sub(p.last_save.load(Ordering::Relaxed));
        let may_retry = p.last_bgsave_ok.load(Ordering::Relaxed)
            || now.saturating_sub(p.last_bgsave_try.load(Ordering::Relaxed)) > BGSAVE_RETRY_DELAY;
        let cfg = shared.config();
        let due = cfg
            .save_points()
            .iter()
            .find(|sp| dirty >= sp.changes.max(0) as u64 && since as i64 > sp.seconds && may_retry);
        if let Some(sp) = due {
            tracing::info!(
                "{} changes in {} seconds. Saving...",
                sp.changes,
                sp.seconds
            );
            let _ = bgsave(&shared).await;
        }
    }
}

/// Loads `dir/dbfilename` into fresh shards before the server starts.
/// A missing file is an empty dataset; a file that does not load whole is
/// an error (the server exits 1, as Redis does).
pub fn load_at_startup(
    config: &crate::config::Config,
    nshards: usize,
    thresholds: storage::types::Thresholds,
) -> anyhow::Result<(Vec<storage::Shard>, Option<persistence::Loaded>)> {
    let databases = config.databases();
    let mut shards: Vec<storage::Shard> = (0..nshards)
        .map(|i| storage::Shard::new(i, databases))
        .collect();
    let path = config.rdb_path();
    let data = match std::fs::read(&path) {
        Ok(d) => d,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok((shards, None)),
        Err(e) => anyhow::bail!(
            "Fatal error loading the DB, check server logs. Exiting. ({}: {e})",
            path.display()
        ),
    };
    let start = Instant::now();
    let loaded = load_into(&data, &mut shards, thresholds).map_err(|e| {
        anyhow::anyhow!(
            "Fatal error loading the DB ({}): {e}. Exiting.",
            path.display()
        )
    })?;
    if let Some(v) = loaded.aux("redis-ver").or(loaded.aux("valkey-ver")) {
        tracing::info!(
            "Loading RDB produced by version {}",
            String::from_utf8_lossy(v)
        );
    }
    if let Some(ct) = loaded
        .aux("ctime")
        .and_then(|c| std::str::from_utf8(c).ok())
        .and_then(|c| c.parse::<u64>().ok())
    {
        tracing::info!("RDB age {} seconds", unix_now().saturating_sub(ct));
    }
    tracing::info!(
        "Done loading RDB, keys loaded: {}, keys expired: {}.",
        loaded.keys,
        loaded.expired
    );
    tracing::info!(
        "DB loaded from disk: {:.3} seconds",
        start.elapsed().as_secs_f64()
    );
    Ok((shards, Some(loaded)))
}

/// Loads an RDB image into `shards` (each key into the shard owning its
/// slot). On error the shards may hold part of the file: callers load
/// into fresh shards and drop them on error.
pub fn load_into(
    data: &[u8],
    shards: &mut [storage::Shard],
    thresholds: storage::types::Thresholds,
) -> persistence::RdbResult<persistence::Loaded> {
    let n = shards.len();
    let databases = shards.first().map_or(16, |s| s.dbs.len());
    let now = storage::shard::SystemClock.now_ms();
    let opts = persistence::LoadOptions {
        thresholds,
        now_ms: now,
        databases,
    };
    // Keys spread evenly over the shards by slot: each reserves its share.
    let hints = std::cell::RefCell::new(Vec::new());
    let r = persistence::load_with_hints(
        data,
        &opts,
        |db, keys| hints.borrow_mut().push((db, keys)),
        |db, key, entry| {
            for (hdb, keys) in hints.borrow_mut().drain(..) {
                for sh in shards.iter_mut() {
                    if let Some(d) = sh.dbs.get_mut(hdb) {
                        d.reserve((keys as usize / n).saturating_add(16));
                    }
                }
            }
            let s = crate::slot::shard_of(key, n);
            shards[s].dbs[db].insert_entry(key, entry);
        },
    );
    r
}

use storage::shard::Clock as _;
