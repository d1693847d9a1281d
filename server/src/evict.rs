//! maxmemory: the process's memory figure and eviction across shards.
//!
//! The figure. `used_memory` is what jemalloc reports as allocated
//! (`stats.allocated`). Reading it needs an epoch advance, which merges
//! every arena's statistics under a lock: too costly per command. So the
//! figure is cached in [`MemoryMonitor`] and refreshed
//! - by each worker after every [`REFRESH_EVERY`] commands it gates while
//!   a maxmemory is set (every [`REFRESH_EVERY_FAR`] while more than 1/16
//!   below it), and on each cron tick;
//! - whenever the cached figure says "over", before evicting (so a stale
//!   figure never causes an eviction);
//! - after an eviction, lowered by the estimated bytes freed until the next
//!   refresh measures again.
//!
//! Between two readings each worker adds its own thread's drift: jemalloc
//! keeps per-thread allocated/deallocated byte counters that cost a
//! pointer read (`thread.allocatedp`), so a worker publishes "bytes my
//! thread allocated net since the last reading" into its slot at every
//! gated command and after evicting. The figure is then the last reading
//! plus the drifts: current without the costly epoch advance, which under
//! a write flood at the limit had cost 40% of the CPU (two readings per
//! evicting command). Other threads (listener, scripts, snapshot writer)
//! are caught by the readings, which the cron still takes.
//!
//! What counts against maxmemory is the allocated figure minus the
//! keyspace slots that are allocated but free ([`storage::Shard::reusable_bytes`]):
//! an evicted key's slot stays with the map and the next new key reuses it,
//! so it is memory eviction cannot free and new keys do not need (INFO shows
//! it as `mem_not_counted_for_evict`). Without this, keys stored wholly in
//! their slot (short key, short value) would free nothing measurable.
//!
//! Eviction across shards. One evictor at a time (an async mutex). With one
//! shard it runs inline, exactly Redis's `performEvictions`. With several,
//! each round asks every shard for its pool's best scores (each shard
//! samples its own keys into its own pool; scores are comparable across
//! shards: idle time, 255 - frequency, or time to deadline), picks the best
//! `batch` scores of all, and asks each shard to evict as many of its best
//! candidates as it won. `batch` starts at 1 and doubles while still over,
//! so victims are the best of the whole keyspace, not of one shard. Offers
//! below some shard's weakest offer do not count, and ties are broken at
//! random ([`choose_wins`]).
//!
//! The OOM gate ([`before_command`]) runs for every command while a
//! maxmemory is set, as in Redis's `processCommand`: eviction runs first,
//! and a denyoom command is refused with `-OOM` if memory is still over.

use crate::command::flags::DENYOOM;
use crate::command::CommandSpec;
use crate::config::{Config, MaxmemoryPolicy};
use crate::conn::ConnCtx;
use crate::server::Shared;
use crate::worker::Worker;
use std::cell::Cell;
use std::rc::Rc;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::time::{Duration, Instant};
use storage::evict::{Access, EvictParams, LfuParams, Policy};
use storage::{CmdError, CmdResult};
use tikv_jemalloc_ctl::thread::ThreadLocal;

/// Commands a worker gates between two refreshes of the memory figure
/// when the figure is within 1/16 of maxmemory.
pub const REFRESH_EVERY: u32 = 32;
/// The same, while the figure is further below maxmemory.
pub const REFRESH_EVERY_FAR: u32 = 256;
/// The same, while the worker's thread drift is tracked (module doc): the
/// readings then only catch up with other threads.
pub const REFRESH_EVERY_TRACKED: u32 = 4096;
/// How old a reading may be when eviction starts, with drift tracked.
const READING_MAX_AGE: Duration = Duration::from_millis(10);

/// The maxmemory settings a worker consults (part of `Limits`).
#[derive(Debug, Clone, Copy)]
pub struct MemoryLimits {
    /// maxmemory in bytes; 0: no limit.
    pub maxmemory: u64,
    /// maxmemory-policy.
    pub policy: Policy,
    /// maxmemory-samples.
    pub samples: usize,
    /// maxmemory-eviction-tenacity (0..=100).
    pub tenacity: u32,
    /// lfu-log-factor and lfu-decay-time.
    pub lfu: LfuParams,
}

impl Default for MemoryLimits {
    fn default() -> Self {
        MemoryLimits {
            maxmemory: 0,
            policy: Policy::NoEviction,
            samples: 5,
            tenacity: 10,
            lfu: LfuParams::default(),
        }
    }
}

impl MemoryLimits {
    /// The settings in a configuration.
    pub fn from_config(c: &Config) -> MemoryLimits {
        let policy = match c.maxmemory_policy() {
            MaxmemoryPolicy::VolatileLru => Policy::VolatileLru,
            MaxmemoryPolicy::VolatileLfu => Policy::VolatileLfu,
            MaxmemoryPolicy::VolatileRandom => Policy::VolatileRandom,
            MaxmemoryPolicy::VolatileTtl => Policy::VolatileTtl,
            MaxmemoryPolicy::AllkeysLru => Policy::AllkeysLru,
            MaxmemoryPolicy::AllkeysLfu => Policy::AllkeysLfu,
            MaxmemoryPolicy::AllkeysRandom => Policy::AllkeysRandom,
            MaxmemoryPolicy::NoEviction => Policy::NoEviction,
        };
        MemoryLimits {
            maxmemory: c.maxmemory(),
            policy,
            samples: c.maxmemory_samples().max(1) as usize,
            tenacity: c.maxmemory_eviction_tenacity().min(100),
            lfu: LfuParams {
                log_factor: c.lfu_log_factor(),
                decay_time: c.lfu_decay_time(),
            },
        }
    }

    /// How the shards must track accesses under this policy.
    pub fn access(&self) -> Access {
        Access::for_policy(self.policy, self.lfu)
    }

    fn params(&self) -> EvictParams {
        EvictParams {
            policy: self.policy,
            samples: self.samples,
            lfu_decay_time: self.lfu.decay_time,
        }
    }

    /// Redis's `evictionTimeLimitUs`: how long one eviction may run before
    /// the command proceeds anyway (`None`: no limit).
    fn time_limit(&self) -> Option<Duration> {
        let t = self.tenacity;
        if t <= 10 {
            Some(Duration::from_micros(50 * t as u64))
        } else if t < 100 {
            Some(Duration::from_micros(
                (500.0 * 1.15f64.powi(t as i32 - 10)) as u64,
            ))
        } else {
            None
        }
    }
}

/// The process-wide memory figure and the eviction lock.
pub struct MemoryMonitor {
    /// maxmemory (bytes, 0: none), mirrored here for a lock-free check.
    maxmemory: AtomicU64,
    /// jemalloc's allocated bytes, as last measured (minus estimated frees
    /// since).
    allocated: AtomicU64,
    /// Per shard: free keyspace slot bytes (see the module doc).
    reusable: Vec<AtomicU64>,
    /// Per worker: net bytes its thread allocated since the last reading.
    drift: Vec<AtomicI64>,
    /// Counts readings, so each worker rebases its drift after one.
    generation: AtomicU64,
    /// When the last reading was taken.
    last_reading: std::sync::Mutex<Instant>,
    /// One evictor at a time.
    lock: tokio::sync::Mutex<()>,
}

impl MemoryMonitor {
    /// A monitor for `nshards` shards.
    pub fn new(nshards: usize, maxmemory: u64) -> MemoryMonitor {
        MemoryMonitor {
            maxmemory: AtomicU64::new(maxmemory),
            allocated: AtomicU64::new(allocated_now()),
            reusable: (0..nshards).map(|_| AtomicU64::new(0)).collect(),
            drift: (0..nshards).map(|_| AtomicI64::new(0)).collect(),
            generation: AtomicU64::new(0),
            last_reading: std::sync::Mutex::new(Instant::now()),
            lock: tokio::sync::Mutex::new(()),
        }
    }

    /// The configured maxmemory (0: none).
    pub fn maxmemory(&self) -> u64 {
        self.maxmemory.load(Ordering::Relaxed)
    }

    /// Sets maxmemory (CONFIG SET).
    pub fn set_maxmemory(&self, bytes: u64) {
        self.maxmemory.store(bytes, Ordering::Relaxed);
    }

    /// Measures the allocator now and caches the figure.
    pub fn refresh(&self) -> u64 {
        let a = allocated_now();
        self.allocated.store(a, Ordering::Relaxed);
        // The reading includes every thread's drift so far: start over.
        self.generation.fetch_add(1, Ordering::AcqRel);
        for d in &self.drift {
            d.store(0, Ordering::Relaxed);
        }
        if let Ok(mut t) = self.last_reading.lock() {
            *t = Instant::now();
        }
        a
    }

    /// True when the last reading is older than `age`.
    fn reading_older_than(&self, age: Duration) -> bool {
        self.last_reading
            .lock()
            .map(|t| t.elapsed() > age)
            .unwrap_or(true)
    }

    /// Publishes the calling worker thread's drift (module doc). False when
    /// this thread has no jemalloc counters (then only readings count).
    pub fn note_thread(&self, worker: usize) -> bool {
        let Some(net) = thread_net() else {
            return false;
        };
        let Some(slot) = self.drift.get(worker) else {
            return false;
        };
        let generation = self.generation.load(Ordering::Acquire);
        DRIFT_BASE.with(|b| {
            let (seen, base) = b.get();
            if seen != generation {
                b.set((generation, net));
                slot.store(0, Ordering::Relaxed);
            } else {
                slot.store(net.wrapping_sub(base) as i64, Ordering::Relaxed);
            }
        });
        true
    }

    /// The sum of the workers' drifts.
    fn drift(&self) -> i64 {
        self.drift.iter().map(|d| d.load(Ordering::Relaxed)).sum()
    }

    /// Records a shard's free slot bytes.
    pub fn set_reusable(&self, shard: usize, bytes: u64) {
        if let Some(r) = self.reusable.get(shard) {
            r.store(bytes, Ordering::Relaxed);
        }
    }

    /// Bytes allocated but not counted for eviction (free keyspace slots).
    pub fn not_counted(&self) -> u64 {
        self.reusable
            .iter()
            .map(|r| r.load(Ordering::Relaxed))
            .sum()
    }

    /// The cached figure eviction works against.
    pub fn used_for_evict(&self) -> u64 {
        self.allocated
            .load(Ordering::Relaxed)
            .saturating_add_signed(self.drift())
            .saturating_sub(self.not_counted())
    }

    fn note_freed(&self, bytes: u64) {
        let _ = self
            .allocated
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |a| {
                Some(a.saturating_sub(bytes))
            });
    }
}

/// jemalloc's allocated bytes, after an epoch advance.
pub fn allocated_now() -> u64 {
    let _ = tikv_jemalloc_ctl::epoch::advance();
    tikv_jemalloc_ctl::stats::allocated::read().unwrap_or(0) as u64
}

/// This thread's net allocated bytes (jemalloc's per-thread counters).
fn thread_net() -> Option<u64> {
    THREAD_COUNTERS.with(|c| c.map(|(a, d)| a.get().wrapping_sub(d.get())))
}

thread_local! {
    /// This thread's jemalloc allocated/deallocated counters (pointer reads).
    static THREAD_COUNTERS: Option<(ThreadLocal<u64>, ThreadLocal<u64>)> = {
        use tikv_jemalloc_ctl::thread::{allocatedp, deallocatedp};
        match (allocatedp::read(), deallocatedp::read()) {
            (Ok(a), Ok(d)) => Some((a, d)),
            _ => None,
        }
    };
    /// (generation, thread net bytes) when this thread last rebased.
    static DRIFT_BASE: Cell<(u64, u64)> = const { Cell::new((u64::MAX, 0)) };
    /// Commands gated on this worker thread since its last refresh.
    static SINCE_REFRESH: Cell<u32> = const { Cell::new(0) };
    /// Whether memory was over the limit (and could not be brought under)
    /// when the last command on this thread passed the gate: Redis's
    /// `pre_command_oom_state`, for denyoom commands inside scripts.
    static PRE_COMMAND_OOM: Cell<bool> = const { Cell::new(false) };
}

/// Refreshes the figure and this worker's shard's free slot bytes.
fn refresh_local(worker: &Worker) {
    let shared = &worker.shared;
    if let Ok(env) = worker.env.try_borrow() {
        shared
            .memory
            .set_reusable(worker.id, env.shard.reusable_bytes());
    }
    shared.memory.refresh();
}

/// Counts one gated command and refreshes every [`REFRESH_EVERY`]; true
/// when the cached figure is over maxmemory. Cheap: for the batch path.
pub fn over_limit(worker: &Worker) -> bool {
    let mem = &worker.shared.memory;
    let max = mem.maxmemory();
    if max == 0 {
        return false;
    }
    let tracked = mem.note_thread(worker.id);
    let every = if tracked {
        REFRESH_EVERY_TRACKED
    } else if mem.used_for_evict() < max - max / 16 {
        REFRESH_EVERY_FAR
    } else {
        REFRESH_EVERY
    };
    let due = SINCE_REFRESH.with(|c| {
        let n = c.get() + 1;
        c.set(if n >= every { 0 } else { n });
        n >= every
    });
    if due {
        refresh_local(worker);
    }
    mem.used_for_evict() > max
}

/// After a message from another worker ran on this shard (a hop or a
/// batch of writes): publish the shard's free slot bytes, which writes
/// consume, so the figure other workers check stays current.
pub fn after_message(shared: &Shared, id: usize, env: &crate::worker::ShardEnv) {
    if shared.memory.maxmemory() != 0 {
        shared.memory.set_reusable(id, env.shard.reusable_bytes());
        // What the message allocated and freed on this thread, too.
        shared.memory.note_thread(id);
    }
}

/// The cron's share: refresh the figure (and evict if over, so memory
/// goes down even when no command arrives after CONFIG SET maxmemory).
pub fn cron_tick(worker: &Worker) {
    if worker.shared.memory.maxmemory() != 0 {
        refresh_local(worker);
    }
}

/// The OOM gate for a command (Redis's `processCommand` maxmemory step):
/// evicts while over maxmemory, then refuses a denyoom command if memory
/// is still over.
pub async fn before_command(
    ctx: &ConnCtx,
    cmd: &CommandSpec,
    parent: Option<&CommandSpec>,
) -> CmdResult<()> {
    let worker = &ctx.worker;
    if worker.shared.memory.maxmemory() == 0 {
        PRE_COMMAND_OOM.with(|c| c.set(false));
        return Ok(());
    }
    let denyoom = cmd.has(DENYOOM) || crate::commands::multi::refused_when_oom(ctx, cmd, parent);
    oom_check(worker, denyoom).await
}

/// Evicts as needed and answers `-OOM` if memory stays over maxmemory and
/// `denyoom` is set.
pub async fn oom_check(worker: &Rc<Worker>, denyoom: bool) -> CmdResult<()> {
    let oom = if over_limit(worker) {
        perform_evictions(worker).await == Outcome::Fail
    } else {
        false
    };
    PRE_COMMAND_OOM.with(|c| c.set(oom));
    if oom && denyoom {
        Err(CmdError::Oom)
    } else {
        Ok(())
    }
}

/// For scripts: true when memory was over maxmemory (after eviction) as
/// the current command (EVAL, FCALL) passed the gate; a denyoom command
/// inside a script without `allow-oom` then fails with [`CmdError::Oom`].
pub fn pre_command_oom() -> bool {
    PRE_COMMAND_OOM.with(|c| c.get())
}

/// Result of an eviction run (Redis's EVICT_OK / EVICT_RUNNING / EVICT_FAIL).
#[derive(Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Under maxmemory now.
    Ok,
    /// Still over, but the time limit ended this run; the command proceeds.
    Running,
    /// Still over and nothing left to evict (or noeviction).
    Fail,
}

/// Evicts keys until the figure is under maxmemory, the policy has nothing
/// left to evict, or the tenacity time limit is reached.
pub async fn perform_evictions(worker: &Rc<Worker>) -> Outcome {
    let shared = worker.shared.clone();
    let mem = &shared.memory;
    let _guard = mem.lock.lock().await;
    // A stale figure must not cause an eviction: the drift keeps it
    // current for the workers; a recent reading covers the other threads.
    if !mem.note_thread(worker.id) || mem.reading_older_than(READING_MAX_AGE) {
        refresh_local(worker);
    }
    let limits = match worker.env.try_borrow() {
        Ok(env) => env.limits.memory,
        Err(_) => return Outcome::Running,
    };
    let max = mem.maxmemory();
    let used = mem.used_for_evict();
    if max == 0 || used <= max {
        return Outcome::Ok;
    }
    if limits.policy == Policy::NoEviction {
        return Outcome::Fail;
    }
    let p = limits.params();
    let deadline = limits.time_limit().map(|d| Instant::now() + d);
    let mut batch = 1usize;
    loop {
        let used = mem.used_for_evict();
        if used <= max {
            return Outcome::Ok;
        }
        let tofree = used - max;
        let freed = if shared.nshards == 1 {
            evict_inline(worker, &p, tofree).await
        } else {
            evict_round(&shared, &p, batch, tofree).await
        };
        let Some((freed, n)) = freed else {
            return Outcome::Fail;
        };
        // The evicting threads published their drift (the frees); without
        // counters, estimate and measure again.
        if !mem.note_thread(worker.id) {
            mem.note_freed(freed);
            mem.refresh();
        }
        if n > 0 && mem.used_for_evict() <= max {
            return Outcome::Ok;
        }
        batch = (batch * 2).min(storage::evict::POOL_SIZE * shared.nshards);
        if deadline.is_some_and(|d| Instant::now() >= d) {
            return Outcome::Running;
        }
    }
}

/// One shard: evict on it directly until the estimate covers `tofree`.
/// `None` when nothing could be evicted.
async fn evict_inline(worker: &Rc<Worker>, p: &EvictParams, tofree: u64) -> Option<(u64, usize)> {
    worker.wait_unfrozen().await;
    let mut env = worker.env.borrow_mut();
    env.shard.refresh_time();
    let out = env.shard.evict(p, usize::MAX, tofree);
    worker
        .shared
        .memory
        .set_reusable(worker.id, env.shard.reusable_bytes());
    // `evicted` events, tracking invalidations, WATCH.
    crate::notify::evicted(&mut env, &out.keys);
    let n = out.keys.len();
    (n > 0).then_some((out.freed, n))
}

/// Several shards: one round of "offer, choose, evict" (module doc).
async fn evict_round(
    shared: &std::sync::Arc<Shared>,
    p: &EvictParams,
    batch: usize,
    tofree: u64,
) -> Option<(u64, usize)> {
    let n = shared.nshards;
    let offers = ask_all(shared, {
        let p = *p;
        move |env| {
            // Scores compare idle times across shards: each on a fresh
            // clock, not the one of its last command.
            env.shard.refresh_time();
            env.shard.evict_offer(&p)
        }
    })
    .await;
    let wins = choose_wins(&offers, n, batch, &mut rand::rng());
    if wins.iter().all(|&w| w == 0) {
        return None;
    }
    let mut pending = Vec::new();
    for (s, &count) in wins.iter().enumerate() {
        if count == 0 {
            continue;
        }
        let p = *p;
        let owner = shared.clone();
        let (tx, rx) = tokio::sync::oneshot::channel();
        shared.send(
            s,
            crate::worker::ShardMsg::Run(Box::new(move |env| {
                let out = env.shard.evict(&p, count, tofree);
                // `evicted` events, tracking invalidations, WATCH, on the
                // owning shard.
                crate::notify::evicted(env, &out.keys);
                let evicted = out.keys.len();
                drop(out.keys);
                owner.memory.note_thread(s);
                let _ = tx.send((out.freed, evicted, env.shard.reusable_bytes()));
            })),
        );
        pending.push((s, rx));
    }
    let (mut freed, mut evicted) = (0, 0);
    for (s, rx) in pending {
        if let Ok((f, k, reusable)) = rx.await {
            freed += f;
            evicted += k;
            shared.memory.set_reusable(s, reusable);
        }
    }
    (evicted > 0).then_some((freed, evicted))
}

/// How many victims each shard gives up this round: the best `batch`
/// offers over all shards (each offer lists a shard's pool scores, best
/// first), with two guards that keep victims the best of the whole
/// keyspace:
/// - only offers at or above the highest of the shards' lowest offers
///   count. A shard whose pool was emptied by earlier rounds offers only
///   its few fresh samples, and keys it did not offer may score as high as
///   those; taking another shard's weaker offers in their place would
///   evict, say, frequently used keys while rarely used ones remain.
/// - equal scores are ordered at random, so that ties (all new keys share
///   one LFU score) spread over the shards instead of always falling on
///   the first.
fn choose_wins(
    offers: &[Vec<u64>],
    nshards: usize,
    batch: usize,
    rng: &mut impl rand::Rng,
) -> Vec<usize> {
    use rand::seq::SliceRandom;
    let mut wins = vec![0usize; nshards];
    let Some(cutoff) = offers.iter().filter_map(|o| o.iter().min()).max().copied() else {
        return wins;
    };
    let mut all: Vec<(u64, usize)> = offers
        .iter()
        .enumerate()
        .flat_map(|(s, o)| o.iter().map(move |&sc| (sc, s)))
        .filter(|&(sc, _)| sc >= cutoff)
        .collect();
    all.shuffle(rng);
    // Stable: the shuffle decides among equal scores.
    all.sort_by_key(|a| std::cmp::Reverse(a.0));
    for &(_, s) in all.iter().take(batch.max(1)) {
        if let Some(w) = wins.get_mut(s) {
            *w += 1;
        }
    }
    wins
}

/// Runs `f` on every shard concurrently (plain messages, no freeze) and
/// returns the results in shard order.
async fn ask_all<R, F>(shared: &Shared, f: F) -> Vec<R>
where
    R: Send + 'static,
    F: Fn(&mut crate::worker::ShardEnv) -> R + Send + Clone + 'static,
{
    let mut rxs = Vec::with_capacity(shared.nshards);
    for s in 0..shared.nshards {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let f = f.clone();
        shared.send(
            s,
            crate::worker::ShardMsg::Run(Box::new(move |env| {
                let _ = tx.send(f(env));
            })),
        );
        rxs.push(rx);
    }
    let mut out = Vec::with_capacity(rxs.len());
    for rx in rxs {
        if let Ok(r) = rx.await {
            out.push(r);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn tenacity_time_limits_follow_redis() {
        let l = |t| MemoryLimits {
            tenacity: t,
            ..Default::default()
        };
        assert_eq!(l(10).time_limit(), Some(Duration::from_micros(500)));
        assert_eq!(l(0).time_limit(), Some(Duration::from_micros(0)));
        assert_eq!(l(11).time_limit(), Some(Duration::from_micros(575)));
        assert_eq!(l(100).time_limit(), None);
    }

    #[test]
    fn a_drained_shard_keeps_its_better_keys() {
        // Shard 0 holds only frequently used keys (score 240); the others
        // still hold new keys (250) but offer few of them.
        let offers = vec![vec![240; 16], vec![250; 5], vec![250; 4], vec![250; 5]];
        let mut rng = rand::rngs::SmallRng::seed_from_u64(1);
        for batch in [1, 8, 16, 64] {
            let wins = choose_wins(&offers, 4, batch, &mut rng);
            assert_eq!(wins[0], 0, "batch {batch}: {wins:?}");
            assert_eq!(wins.iter().sum::<usize>(), batch.min(14));
        }
    }

    #[test]
    fn equal_scores_spread_over_the_shards() {
        let offers = vec![vec![250; 16]; 4];
        let mut rng = rand::rngs::SmallRng::seed_from_u64(7);
        let mut total = [0usize; 4];
        for _ in 0..4000 {
            let wins = choose_wins(&offers, 4, 1, &mut rng);
            for (t, w) in total.iter_mut().zip(wins) {
                *t += w;
            }
        }
        assert!(total.iter().all(|&t| (800..1200).contains(&t)), "{total:?}");
    }

    #[test]
    fn no_offers_means_no_wins() {
        let mut rng = rand::rngs::SmallRng::seed_from_u64(1);
        assert_eq!(choose_wins(&[vec![], vec![]], 2, 4, &mut rng), vec![0, 0]);
    }

    #[test]
    fn monitor_subtracts_reusable_slots() {
        let m = MemoryMonitor::new(2, 0);
        m.allocated.store(10_000, Ordering::Relaxed);
        m.set_reusable(0, 1_000);
        m.set_reusable(1, 500);
        assert_eq!(m.used_for_evict(), 8_500);
        m.note_freed(9_000);
        assert_eq!(m.used_for_evict(), 0);
    }
}
