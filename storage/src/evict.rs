//! Eviction inside one shard: the access clock (Redis's 24-bit LRU clock or
//! 8-bit logarithmic LFU counter with a 16-bit decay time, both kept in
//! `Entry::lru`), the 16-entry candidate pool, sampling per policy, and the
//! deletion of victims.
//!
//! Invariants:
//! - `Entry::lru` holds an LRU clock (seconds, 24 bits) under LRU and
//!   random policies, and `minutes << 8 | counter` under LFU ones, as
//!   Redis's `robj.lru`. Switching policy at runtime does not convert old
//!   values (Redis neither): they adjust as keys are accessed.
//! - The pool holds at most [`POOL_SIZE`] candidates sorted by ascending
//!   score; the best victim is the last one. An entry may name a key that
//!   has gone since ("ghost"): it is skipped when popped, as in Redis.
//! - A score is comparable across shards (idle milliseconds, `255 - freq`,
//!   or `u64::MAX - deadline`), so the server can pick the best victim of
//!   all shards (see `server/src/evict.rs`).
//!
//! Nothing here knows the process's memory figure: the caller decides how
//! many bytes to free and reads back an estimate of what was freed.

use crate::db::{lru_clock, Db, Entry, LRU_CLOCK_MAX};
use crate::shard::Shard;
use crate::small::SmallBytes;
use rand::Rng;

/// Redis's `EVPOOL_SIZE`.
pub const POOL_SIZE: usize = 16;
/// Redis's `LFU_INIT_VAL`: the counter of a new key, so that new keys are
/// not the first victims.
pub const LFU_INIT_VAL: u8 = 5;

/// The eight `maxmemory-policy` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Policy {
    /// Approximated LRU among keys with a deadline.
    VolatileLru,
    /// Approximated LFU among keys with a deadline.
    VolatileLfu,
    /// A random key with a deadline.
    VolatileRandom,
    /// The key with the nearest deadline.
    VolatileTtl,
    /// Approximated LRU among all keys.
    AllkeysLru,
    /// Approximated LFU among all keys.
    AllkeysLfu,
    /// Any random key.
    AllkeysRandom,
    /// Never evict: writes that need memory fail.
    #[default]
    NoEviction,
}

impl Policy {
    /// True for the policies that track access frequency (`lru` holds LFU data).
    pub fn is_lfu(self) -> bool {
        matches!(self, Policy::VolatileLfu | Policy::AllkeysLfu)
    }

    /// True for the policies that only consider keys with a deadline.
    pub fn is_volatile(self) -> bool {
        matches!(
            self,
            Policy::VolatileLru
                | Policy::VolatileLfu
                | Policy::VolatileRandom
                | Policy::VolatileTtl
        )
    }

    fn is_random(self) -> bool {
        matches!(self, Policy::VolatileRandom | Policy::AllkeysRandom)
    }
}

/// The LFU knobs (`lfu-log-factor`, `lfu-decay-time`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LfuParams {
    /// Higher: the counter grows more slowly.
    pub log_factor: u32,
    /// Minutes per decrement of an idle key's counter (0: never decays).
    pub decay_time: u32,
}

impl Default for LfuParams {
    fn default() -> Self {
        LfuParams {
            log_factor: 10,
            decay_time: 1,
        }
    }
}

/// How a database updates `Entry::lru` on access: Redis's `lookupKey`
/// touch, either the LRU clock or the LFU counter. Each `Db` holds a copy.
#[derive(Debug, Clone, Copy)]
pub struct Access {
    /// `Some` under an LFU policy.
    pub lfu: Option<LfuParams>,
    /// xorshift state for the counter's probabilistic increment (cheaper
    /// than reaching for the shard's RNG from inside a lookup).
    seed: u64,
}

impl Default for Access {
    fn default() -> Self {
        Access::lru()
    }
}

impl Access {
    /// LRU tracking (every policy but the LFU ones).
    pub fn lru() -> Access {
        Access {
            lfu: None,
            seed: 0x9E37_79B9_7F4A_7C15,
        }
    }

    /// LFU tracking with these knobs.
    pub fn lfu(params: LfuParams) -> Access {
        Access {
            lfu: Some(params),
            ..Access::lru()
        }
    }

    /// The tracking a policy needs.
    pub fn for_policy(policy: Policy, params: LfuParams) -> Access {
        if policy.is_lfu() {
            Access::lfu(params)
        } else {
            Access::lru()
        }
    }

    /// The `lru` field of a new key.
    pub fn initial(&self, now_ms: u64) -> u32 {
        match self.lfu {
            None => lru_clock(now_ms),
            Some(_) => lfu_pack(now_ms, LFU_INIT_VAL),
        }
    }

    /// Records an access (Redis's `updateLFU` or `LRU_CLOCK()`).
    pub fn touch(&mut self, lru: &mut u32, now_ms: u64) {
        match self.lfu {
            None => *lru = lru_clock(now_ms),
            Some(p) => {
                let c = lfu_decr_and_return(*lru, now_ms, p.decay_time);
                let r = self.next_unit();
                *lru = lfu_pack(now_ms, lfu_log_incr(c, p.log_factor, r));
            }
        }
    }

    /// A uniform number in [0, 1).
    fn next_unit(&mut self) -> f64 {
        let mut x = self.seed;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.seed = x;
        (x >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// Redis's `LFUGetTimeInMinutes`: 16 bits of minutes.
pub fn lfu_minutes(now_ms: u64) -> u16 {
    ((now_ms / 60_000) & 0xFFFF) as u16
}

/// An LFU `lru` field: decay time in the high 16 bits, counter in the low 8.
pub fn lfu_pack(now_ms: u64, counter: u8) -> u32 {
    ((lfu_minutes(now_ms) as u32) << 8) | counter as u32
}

/// Redis's `LFULogIncr`: increments with probability
/// `1 / ((counter - 5) * log_factor + 1)`; `r` is uniform in [0, 1).
pub fn lfu_log_incr(counter: u8, log_factor: u32, r: f64) -> u8 {
    if counter == 255 {
        return 255;
    }
    let base = (counter as f64 - LFU_INIT_VAL as f64).max(0.0);
    let p = 1.0 / (base * log_factor as f64 + 1.0);
    if r < p {
        counter + 1
    } else {
        counter
    }
}

/// Redis's `LFUDecrAndReturn`: the counter after one decrement per
/// `decay_time` minutes elapsed since the last access (not stored).
pub fn lfu_decr_and_return(lru: u32, now_ms: u64, decay_time: u32) -> u8 {
    let ldt = (lru >> 8) as u16;
    let counter = (lru & 0xFF) as u8;
    let now = lfu_minutes(now_ms);
    let elapsed = if now >= ldt {
        (now - ldt) as u64
    } else {
        65535 - ldt as u64 + now as u64
    };
    let periods = if decay_time == 0 {
        0
    } else {
        elapsed / decay_time as u64
    };
    if periods >= counter as u64 {
        0
    } else {
        counter - periods as u8
    }
}

/// Redis's `estimateObjectIdleTime`, in milliseconds, on the wrapping
/// 24-bit clock.
pub fn idle_ms(lru: u32, now_ms: u64) -> u64 {
    let now = lru_clock(now_ms);
    let secs = if now >= lru {
        now - lru
    } else {
        now + (LRU_CLOCK_MAX - lru)
    };
    secs as u64 * 1000
}

/// What one eviction needs to know besides the data.
#[derive(Debug, Clone, Copy)]
pub struct EvictParams {
    /// The policy (not `NoEviction`: the caller answers OOM for that).
    pub policy: Policy,
    /// `maxmemory-samples`.
    pub samples: usize,
    /// `lfu-decay-time`, for LFU scores.
    pub lfu_decay_time: u32,
}

/// The eviction score of an entry: higher is a better victim.
fn score(p: &EvictParams, e: &Entry, now_ms: u64) -> u64 {
    match p.policy {
        Policy::AllkeysLfu | Policy::VolatileLfu => {
            255 - lfu_decr_and_return(e.lru, now_ms, p.lfu_decay_time) as u64
        }
        Policy::VolatileTtl => u64::MAX - e.expire_at().unwrap_or(u64::MAX),
        _ => idle_ms(e.lru, now_ms),
    }
}

#[derive(Debug, Clone)]
struct Candidate {
    score: u64,
    db: usize,
    key: SmallBytes,
}

/// Redis's eviction pool: the best candidates seen by sampling so far,
/// sorted by ascending score.
#[derive(Debug, Default, Clone)]
pub struct EvictionPool {
    entries: Vec<Candidate>,
}

impl EvictionPool {
    /// Number of candidates held.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True when no candidate is held.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Offers a sampled key (Redis's `evictionPoolPopulate` insertion): a
    /// candidate worse than every held one is dropped when the pool is full;
    /// otherwise it goes in order, pushing out the worst one if full.
    pub fn offer(&mut self, score: u64, db: usize, key: &[u8]) {
        if self
            .entries
            .iter()
            .any(|c| c.db == db && c.key.as_slice() == key)
        {
            return;
        }
        let k = self.entries.partition_point(|c| c.score < score);
        if k == 0 && self.entries.len() == POOL_SIZE {
            return;
        }
        let c = Candidate {
            score,
            db,
            key: SmallBytes::new(key),
        };
        if self.entries.len() < POOL_SIZE {
            self.entries.insert(k, c);
        } else {
            // Full: drop the worst (first) and insert just before `k`.
            self.entries.remove(0);
            self.entries.insert(k - 1, c);
        }
    }

    /// Removes and returns the best candidate.
    fn pop_best(&mut self) -> Option<Candidate> {
        self.entries.pop()
    }

    /// The held scores, best first.
    pub fn scores(&self) -> Vec<u64> {
        self.entries.iter().rev().map(|c| c.score).collect()
    }

    /// Forgets every candidate (FLUSHALL, policy change).
    pub fn clear(&mut self) {
        self.entries.clear();
    }
}

impl Db {
    /// Samples up to `samples` keys (all keys, or only those with a deadline
    /// for volatile policies) into the pool. Returns the number of keys the
    /// policy may evict in this database.
    fn populate_pool(
        &self,
        dbid: usize,
        p: &EvictParams,
        now_ms: u64,
        pool: &mut EvictionPool,
        rng: &mut impl Rng,
    ) -> usize {
        let n = self.eligible(p.policy);
        if n == 0 {
            return 0;
        }
        for _ in 0..p.samples.min(n) {
            let i = rng.random_range(0..n);
            if let Some((k, e)) = self.sample_at(p.policy.is_volatile(), i) {
                pool.offer(score(p, e, now_ms), dbid, k);
            }
        }
        n
    }

    fn eligible(&self, policy: Policy) -> usize {
        if policy.is_volatile() {
            self.expires_len()
        } else {
            self.len()
        }
    }
}

/// What [`Shard::evict`] did.
#[derive(Debug, Default)]
pub struct Evicted {
    /// (database, key) of every evicted key, for `evicted` keyspace events
    /// and tracking invalidation.
    pub keys: Vec<(usize, SmallBytes)>,
    /// Estimated heap bytes freed (key, value, expires-index copy).
    pub freed: u64,
    /// `freed` plus the keyspace slots the keys left free for reuse: what
    /// the evictions took off the figure maxmemory is checked against.
    pub counted: u64,
}

/// jemalloc's size class for a small request (an estimate of what a heap
/// allocation really costs).
pub fn alloc_size(n: usize) -> usize {
    if n == 0 {
        return 0;
    }
    if n <= 8 {
        return 8;
    }
    if n <= 128 {
        return n.div_ceil(16) * 16;
    }
    // Four classes per doubling above 128.
    let group = 1usize << (usize::BITS - 1 - (n - 1).leading_zeros());
    let step = group / 4;
    n.div_ceil(step) * step
}

/// Keyspace slot bytes an entry occupies (and leaves free for reuse).
fn slot_bytes(e: &Entry) -> u64 {
    let slot = std::mem::size_of::<(u64, SmallBytes, Entry)>();
    let exp = std::mem::size_of::<(u64, SmallBytes)>();
    (slot + if e.expire_at().is_some() { exp } else { 0 }) as u64
}

/// Estimated heap bytes an entry owns outside the keyspace's slot: what
/// deleting it gives back to the allocator.
pub fn entry_heap_bytes(key: &[u8], e: &Entry) -> u64 {
    let key_heap = if key.len() > crate::small::INLINE_MAX {
        alloc_size(key.len())
    } else {
        0
    };
    let value = match &e.value {
        crate::value::Value::Str(s) => alloc_size(s.heap_size()),
        v => v.heap_size(),
    };
    // A deadline also keeps a copy of the key in the expires index.
    let expires = if e.expire_at().is_some() { key_heap } else { 0 };
    (key_heap + value + expires) as u64
}

impl Shard {
    /// Fills the shard's pool from every database and returns the held
    /// scores, best first: this shard's offer when the server chooses
    /// victims across shards. For random policies, one random score per
    /// key it could evict (up to the pool size), so that shards are chosen
    /// uniformly among them.
    pub fn evict_offer(&mut self, p: &EvictParams) -> Vec<u64> {
        let now = self.now_ms();
        if p.policy.is_random() {
            let n: usize = self.dbs.iter().map(|d| d.eligible(p.policy)).sum();
            return (0..n.min(POOL_SIZE))
                .map(|_| self.rng.random::<u64>())
                .collect();
        }
        let mut pool = std::mem::take(&mut self.evict_pool);
        let mut total = 0;
        for (i, db) in self.dbs.iter().enumerate() {
            total += db.populate_pool(i, p, now, &mut pool, &mut self.rng);
        }
        if total == 0 {
            pool.clear();
        }
        let scores = pool.scores();
        self.evict_pool = pool;
        scores
    }

    /// Evicts up to `count` keys by the policy, choosing each as Redis's
    /// `performEvictions` does (sample into the pool, take the best
    /// candidate that still exists; random policies: a random key of the
    /// next non-empty database), and stops early once `enough` bytes are
    /// estimated freed. Counts `evicted_keys`.
    pub fn evict(&mut self, p: &EvictParams, count: usize, enough: u64) -> Evicted {
        let mut out = Evicted::default();
        while out.keys.len() < count && out.counted < enough {
            let Some((db, key)) = self.pick_victim(p) else {
                break;
            };
            let Some(d) = self.dbs.get_mut(db) else {
                break;
            };
            if let Some(e) = d.remove(&key) {
                let heap = entry_heap_bytes(&key, &e);
                out.freed += heap;
                out.counted += heap + slot_bytes(&e);
                d.stats.evicted_keys += 1;
                drop(e);
                out.keys.push((db, key));
            }
        }
        if !out.keys.is_empty() {
            for db in &mut self.dbs {
                db.shrink_if_sparse();
            }
        }
        out
    }

    fn pick_victim(&mut self, p: &EvictParams) -> Option<(usize, SmallBytes)> {
        let ndb = self.dbs.len();
        if p.policy.is_random() {
            for _ in 0..ndb {
                self.evict_next_db = (self.evict_next_db + 1) % ndb.max(1);
                let db = &self.dbs[self.evict_next_db];
                let n = db.eligible(p.policy);
                if n == 0 {
                    continue;
                }
                let i = self.rng.random_range(0..n);
                if let Some((k, _)) = db.sample_at(p.policy.is_volatile(), i) {
                    return Some((self.evict_next_db, k.clone()));
                }
            }
            return None;
        }
        let now = self.now_ms();
        loop {
            let mut total = 0;
            for (i, db) in self.dbs.iter().enumerate() {
                total += db.populate_pool(i, p, now, &mut self.evict_pool, &mut self.rng);
            }
            if total == 0 {
                self.evict_pool.clear();
                return None;
            }
            while let Some(c) = self.evict_pool.pop_best() {
                let Some(db) = self.dbs.get(c.db) else {
                    continue;
                };
                // A ghost (deleted, or no longer volatile) is skipped.
                let live = match db.sample_key(&c.key) {
                    Some(e) => !p.policy.is_volatile() || e.expire_at().is_some(),
                    None => false,
                };
                if live {
                    return Some((c.db, c.key));
                }
            }
        }
    }

    /// Bytes of keyspace slots allocated but free (kept for reuse by new
    /// keys): memory that eviction cannot give back but new keys do not
    /// need either, so the server does not count it against maxmemory.
    pub fn reusable_bytes(&self) -> u64 {
        self.dbs.iter().map(|d| d.free_slot_bytes() as u64).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::value::{Str, Value};
    use rand::SeedableRng;

    fn s(v: &[u8]) -> Value {
        Value::Str(Str::from_bytes(v))
    }

    #[test]
    fn lfu_counter_grows_logarithmically() {
        // log_factor 0: every access counts.
        assert_eq!(lfu_log_incr(5, 0, 0.99), 6);
        assert_eq!(lfu_log_incr(255, 0, 0.0), 255);
        // At the initial value the increment is certain whatever the factor.
        assert_eq!(lfu_log_incr(3, 10, 0.999), 4);
        assert_eq!(lfu_log_incr(5, 10, 0.999), 6);
        // Counter 15, factor 10: p = 1/101.
        assert_eq!(lfu_log_incr(15, 10, 0.0098), 16);
        assert_eq!(lfu_log_incr(15, 10, 0.0100), 15);
        // A million hits with factor 10 land near Redis's table (about 255).
        let mut a = Access::lfu(LfuParams::default());
        let mut lru = a.initial(0);
        for _ in 0..100 {
            a.touch(&mut lru, 0);
        }
        let c100 = lru & 0xFF;
        assert!((8..=14).contains(&c100), "{c100}");
    }

    #[test]
    fn lfu_counter_decays_per_period() {
        let lru = lfu_pack(0, 20);
        assert_eq!(lfu_decr_and_return(lru, 59_999, 1), 20);
        assert_eq!(lfu_decr_and_return(lru, 5 * 60_000, 1), 15);
        assert_eq!(lfu_decr_and_return(lru, 10 * 60_000, 2), 15);
        assert_eq!(lfu_decr_and_return(lru, 100 * 60_000, 1), 0);
        assert_eq!(lfu_decr_and_return(lru, 100 * 60_000, 0), 20);
        // The 16-bit minute clock wraps.
        let late = lfu_pack(65_535 * 60_000, 9);
        // Redis counts 65535 - ldt + now across the wrap (one minute short).
        assert_eq!(lfu_decr_and_return(late, 65_538 * 60_000, 1), 7);
    }

    #[test]
    fn idle_time_wraps_on_the_24_bit_clock() {
        assert_eq!(idle_ms(lru_clock(10_000), 15_000), 5_000);
        let old = LRU_CLOCK_MAX - 1;
        assert_eq!(idle_ms(old, 3_000), 4_000);
    }

    #[test]
    fn pool_keeps_the_best_sixteen_sorted() {
        let mut pool = EvictionPool::default();
        for i in 0..40u64 {
            // Scores 0, 7, 14, ... in a scrambled order.
            let sc = (i * 17 % 40) * 7;
            pool.offer(sc, 0, format!("k{sc}").as_bytes());
        }
        assert_eq!(pool.len(), POOL_SIZE);
        let scores = pool.scores();
        let want: Vec<u64> = (24..40).rev().map(|i| i * 7).collect();
        assert_eq!(scores, want);
        // Worse than everything held: dropped.
        pool.offer(1, 0, b"low");
        assert_eq!(pool.scores(), want);
        // A duplicate offer is ignored.
        pool.offer(500, 0, b"k273");
        assert_eq!(pool.len(), POOL_SIZE);
        assert_eq!(pool.pop_best().map(|c| c.score), Some(273));
    }

    fn params(policy: Policy) -> EvictParams {
        EvictParams {
            policy,
            samples: 5,
            lfu_decay_time: 1,
        }
    }

    #[test]
    fn lru_evicts_idle_keys_first() {
        let mut shard = Shard::with_clock(0, 2, Box::new(crate::shard::SystemClock), 1);
        let now = shard.refresh_time();
        for i in 0..200u32 {
            // Old keys: last touched an hour ago.
            let mut e = Entry::new(s(b"v"), now - 3_600_000);
            e.lru = lru_clock(now - 3_600_000);
            shard.dbs[i as usize % 2].insert_entry(format!("old{i}").as_bytes(), e);
            shard.dbs[0].insert(format!("new{i}").as_bytes(), s(b"v"), now);
        }
        let out = shard.evict(&params(Policy::AllkeysLru), 150, u64::MAX);
        assert_eq!(out.keys.len(), 150);
        assert!(out
            .keys
            .iter()
            .all(|(_, k)| k.as_slice().starts_with(b"old")));
        assert_eq!(shard.stats().evicted_keys, 150);
    }

    #[test]
    fn volatile_policies_never_touch_persistent_keys() {
        let mut shard = Shard::with_clock(0, 1, Box::new(crate::shard::SystemClock), 2);
        let now = shard.refresh_time();
        for i in 0..50u32 {
            shard.dbs[0].insert(format!("p{i}").as_bytes(), s(b"v"), now);
            shard.dbs[0].insert_with_expire(
                format!("t{i}").as_bytes(),
                s(b"v"),
                Some(now + 1_000_000 + i as u64 * 1000),
                now,
            );
        }
        for policy in [
            Policy::VolatileLru,
            Policy::VolatileLfu,
            Policy::VolatileRandom,
            Policy::VolatileTtl,
        ] {
            let out = shard.evict(&params(policy), 10, u64::MAX);
            assert!(out.keys.iter().all(|(_, k)| k.as_slice().starts_with(b"t")));
        }
        let out = shard.evict(&params(Policy::VolatileTtl), 100, u64::MAX);
        assert_eq!(out.keys.len(), 10);
        assert!(shard
            .evict(&params(Policy::VolatileLru), 1, u64::MAX)
            .keys
            .is_empty());
        assert_eq!(shard.dbs[0].len(), 50);
    }

    #[test]
    fn volatile_ttl_takes_the_nearest_deadlines() {
        let mut shard = Shard::with_clock(0, 1, Box::new(crate::shard::SystemClock), 3);
        let now = shard.refresh_time();
        for i in 0..1000u64 {
            shard.dbs[0].insert_with_expire(
                format!("t{i}").as_bytes(),
                s(b"v"),
                Some(now + 1_000_000 + i * 1000),
                now,
            );
        }
        let out = shard.evict(&params(Policy::VolatileTtl), 100, u64::MAX);
        // Sampling is approximate: the victims are mostly from the first third.
        let early = out
            .keys
            .iter()
            .filter(|(_, k)| {
                std::str::from_utf8(&k[1..])
                    .ok()
                    .and_then(|n| n.parse::<u64>().ok())
                    .is_some_and(|n| n < 333)
            })
            .count();
        assert!(early >= 80, "{early}");
    }

    #[test]
    fn lfu_prefers_rarely_used_keys() {
        let mut shard = Shard::with_clock(0, 1, Box::new(crate::shard::SystemClock), 4);
        let lfu = LfuParams {
            log_factor: 0,
            decay_time: 1,
        };
        shard.set_access(Access::lfu(lfu));
        let now = shard.refresh_time();
        for i in 0..100u32 {
            shard.dbs[0].insert(format!("hot{i}").as_bytes(), s(b"v"), now);
            shard.dbs[0].insert(format!("cold{i}").as_bytes(), s(b"v"), now);
            for _ in 0..5 {
                shard.dbs[0].lookup_read(format!("hot{i}").as_bytes(), now, true);
            }
        }
        let e = shard.dbs[0].peek(b"hot3", now).map(|e| e.lru & 0xFF);
        assert_eq!(e, Some(10));
        let out = shard.evict(&params(Policy::AllkeysLfu), 90, u64::MAX);
        assert!(out
            .keys
            .iter()
            .all(|(_, k)| k.as_slice().starts_with(b"cold")));
    }

    #[test]
    fn random_evicts_until_empty_and_estimates_bytes() {
        let mut shard = Shard::with_clock(0, 16, Box::new(crate::shard::SystemClock), 5);
        let now = shard.refresh_time();
        let big = vec![b'x'; 1000];
        for i in 0..20u32 {
            shard.dbs[(i % 16) as usize].insert(format!("k{i}").as_bytes(), s(&big), now);
        }
        let out = shard.evict(&params(Policy::AllkeysRandom), 100, u64::MAX);
        assert_eq!(out.keys.len(), 20);
        assert!(out.freed >= 20 * 1000, "{}", out.freed);
        assert!(shard
            .evict(&params(Policy::AllkeysRandom), 1, u64::MAX)
            .keys
            .is_empty());
        // `enough` stops early.
        for i in 0..20u32 {
            shard.dbs[0].insert(format!("k{i}").as_bytes(), s(&big), now);
        }
        let out = shard.evict(&params(Policy::AllkeysRandom), 100, 2500 + 3 * 72);
        assert_eq!(out.keys.len(), 3);
    }

    #[test]
    fn offer_reports_pool_scores_best_first() {
        let mut shard = Shard::with_clock(0, 1, Box::new(crate::shard::SystemClock), 6);
        let now = shard.refresh_time();
        for i in 0..100u64 {
            let mut e = Entry::new(s(b"v"), now);
            e.lru = lru_clock(now - i * 1000);
            shard.dbs[0].insert_entry(format!("k{i}").as_bytes(), e);
        }
        let scores = shard.evict_offer(&params(Policy::AllkeysLru));
        assert!(!scores.is_empty() && scores.len() <= POOL_SIZE);
        assert!(scores.windows(2).all(|w| w[0] >= w[1]));
        assert!(shard.evict_offer(&params(Policy::VolatileLru)).is_empty());
    }

    #[test]
    fn size_classes() {
        assert_eq!(alloc_size(1), 8);
        assert_eq!(alloc_size(100), 112);
        assert_eq!(alloc_size(129), 160);
        assert_eq!(alloc_size(1000), 1024);
        assert_eq!(alloc_size(1025), 1280);
    }

    #[test]
    fn rng_is_uniform_enough() {
        let mut a = Access::lru();
        let mut low = 0;
        for _ in 0..10_000 {
            if a.next_unit() < 0.5 {
                low += 1;
            }
        }
        assert!((4_500..5_500).contains(&low), "{low}");
        let _ = rand::rngs::SmallRng::seed_from_u64(0);
    }
}
