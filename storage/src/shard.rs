//! A shard: the partition of all databases that one worker thread owns.
//!
//! Nothing here knows about threads or sockets; the server calls into a
//! shard with `&mut`, so no locks are needed around the data. Time and
//! randomness are injected so tests can control them.

use crate::db::{Db, DbStats};
use rand::rngs::SmallRng;
use rand::SeedableRng;

/// Where a shard reads the time from.
pub trait Clock: Send {
    /// Current Unix time in milliseconds.
    fn now_ms(&self) -> u64;
}

/// The system clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_ms(&self) -> u64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .unwrap_or(0)
    }
}

/// Hash fields the active cycle may delete per database and effort level.
const FIELDS_PER_CYCLE: usize = 1000;

/// All databases of one shard.
pub struct Shard {
    /// This shard's index among all shards.
    pub id: usize,
    /// The databases, indexed by DB number.
    pub dbs: Vec<Db>,
    clock: Box<dyn Clock>,
    /// The time the current command runs at (Redis caches it per command,
    /// so that one command sees one instant).
    now_ms: u64,
    /// Seeded randomness for sampling and random picks.
    pub rng: SmallRng,
    /// Whether the active expiry cycle runs (DEBUG SET-ACTIVE-EXPIRE).
    pub active_expire_enabled: bool,
    /// Eviction candidates kept between evictions (Redis's pool).
    pub evict_pool: crate::evict::EvictionPool,
    /// The database random eviction policies try next.
    pub evict_next_db: usize,
    /// While set, `modified` logs every (db, key) the server's handlers
    /// signal as really modified (the server turns it on while keys of the
    /// shard are watched, and drains the log after each step).
    pub log_modified: bool,
    /// The modified-key log (see `log_modified`).
    pub modified: Vec<(usize, bytes::Bytes)>,
}

impl Shard {
    /// A shard with `databases` empty databases, the system clock and a
    /// random seed.
    pub fn new(id: usize, databases: usize) -> Shard {
        Shard::with_clock(id, databases, Box::new(SystemClock), rand::random())
    }

    /// A shard with an injected clock and seed.
    pub fn with_clock(id: usize, databases: usize, clock: Box<dyn Clock>, seed: u64) -> Shard {
        let now_ms = clock.now_ms();
        Shard {
            id,
            dbs: (0..databases).map(|_| Db::default()).collect(),
            clock,
            now_ms,
            rng: SmallRng::seed_from_u64(seed),
            active_expire_enabled: true,
            evict_pool: Default::default(),
            evict_next_db: 0,
            log_modified: false,
            modified: Vec::new(),
        }
    }

    /// Sets how accesses update `Entry::lru` in every database (called when
    /// maxmemory-policy or the LFU knobs change).
    pub fn set_access(&mut self, access: crate::evict::Access) {
        for db in &mut self.dbs {
            db.set_access(access);
        }
        // Scores from another policy do not compare.
        self.evict_pool.clear();
    }

    /// Whether the command about to run is from a CLIENT NO-TOUCH client
    /// (its writes then leave access clocks alone, as its reads do). One
    /// comparison when unchanged (databases replaced whole, as by a load,
    /// start all at false, so the first one speaks for all).
    #[inline]
    pub fn set_no_touch(&mut self, on: bool) {
        if self.dbs.first().is_some_and(|d| d.no_touch != on) {
            for db in &mut self.dbs {
                db.no_touch = on;
            }
        }
    }

    /// Reads the clock; call once before each command.
    pub fn refresh_time(&mut self) -> u64 {
        self.now_ms = self.clock.now_ms();
        self.now_ms
    }

    /// The time of the current command, in Unix milliseconds.
    pub fn now_ms(&self) -> u64 {
        self.now_ms
    }

    /// Grows keyspaces in small steps (see [`Db::set_bounded_growth`]).
    pub fn set_bounded_growth(&mut self, on: bool) {
        for db in &mut self.dbs {
            db.set_bounded_growth(on);
        }
    }

    /// Counters summed over all databases.
    pub fn stats(&self) -> DbStats {
        let mut total = DbStats::default();
        for db in &self.dbs {
            total.expired_keys += db.stats.expired_keys;
            total.keyspace_hits += db.stats.keyspace_hits;
            total.keyspace_misses += db.stats.keyspace_misses;
            total.expired_subkeys += db.stats.expired_subkeys;
            total.evicted_keys += db.stats.evicted_keys;
        }
        total
    }

    /// Resets the counters (CONFIG RESETSTAT).
    pub fn reset_stats(&mut self) {
        for db in &mut self.dbs {
            db.stats = DbStats::default();
        }
    }

    /// Redis's active expiry cycle for one tick: in each database, sample
    /// keys with a deadline, delete the expired ones, and repeat while more
    /// than a quarter of a sample had expired, up to a bounded effort.
    /// Returns the number of keys deleted.
    pub fn active_expire_cycle(&mut self, effort: u32) -> usize {
        if !self.active_expire_enabled {
            return 0;
        }
        let now = self.refresh_time();
        let sample = 20 + 5 * (effort.saturating_sub(1) as usize);
        let max_rounds = 16 * effort.max(1) as usize;
        let mut total = 0;
        for db in &mut self.dbs {
            for _ in 0..max_rounds {
                let (sampled, expired) = db.active_expire_round(now, sample, &mut self.rng);
                total += expired;
                if sampled == 0 || expired * 4 <= sampled {
                    break;
                }
            }
            // Hash fields with a deadline (Redis 7.4's HFE active expiry).
            db.active_expire_fields(
                now,
                FIELDS_PER_CYCLE * effort.max(1) as usize,
                &mut self.rng,
            );
        }
        total
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::value::{Str, Value};
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::Arc;

    struct TestClock(Arc<AtomicU64>);
    impl Clock for TestClock {
        fn now_ms(&self) -> u64 {
            self.0.load(Ordering::Relaxed)
        }
    }

    #[test]
    fn active_cycle_uses_injected_clock() {
        let t = Arc::new(AtomicU64::new(1000));
        let mut shard = Shard::with_clock(0, 16, Box::new(TestClock(t.clone())), 7);
        let now = shard.refresh_time();
        for i in 0..500u32 {
            let v = Value::Str(Str::from_bytes(b"v"));
            shard.dbs[0].insert_with_expire(format!("k{i}").as_bytes(), v, Some(now + 10), now);
        }
        assert_eq!(shard.active_expire_cycle(1), 0);
        t.store(2000, Ordering::Relaxed);
        let mut deleted = 0;
        for _ in 0..10 {
            deleted += shard.active_expire_cycle(1);
        }
        assert_eq!(deleted, 500);
        assert_eq!(shard.stats().expired_keys, 500);
    }
}
