//! One database of one shard: the keyspace map and its expires index.
//!
//! Invariants:
//! - a key is in `expires` exactly when its entry has a deadline;
//! - an entry whose deadline has passed is never returned: lookups delete it
//!   first (lazy expiry), and the active cycle deletes the ones nobody reads.
//!
//! The map is an `IndexMap` so that random sampling (RANDOMKEY, active expiry,
//! eviction) is O(1) and so that SCAN can walk positions. SCAN walks positions
//! from the end towards the start: `swap_remove` only ever moves the *last*
//! entry into a freed slot, so an entry present for the whole walk is never
//! moved from the unvisited part into the visited part. That is Redis's SCAN
//! guarantee without Redis's reverse-binary cursor.

use crate::evict::Access;
use crate::small::SmallBytes;
use crate::value::Value;
use indexmap::map::raw_entry_v1::{RawEntryApiV1, RawEntryMut};
use indexmap::{IndexMap, IndexSet};
use rand::Rng;

pub(crate) type Hasher = foldhash::fast::RandomState;

/// Redis's 24-bit LRU clock resolution: one tick per second.
pub const LRU_CLOCK_MAX: u32 = (1 << 24) - 1;

/// The LRU clock value for a time in milliseconds.
pub fn lru_clock(now_ms: u64) -> u32 {
    ((now_ms / 1000) as u32) & LRU_CLOCK_MAX
}

/// A stored value with its deadline and access clock.
#[derive(Debug, Clone)]
pub struct Entry {
    /// The value.
    pub value: Value,
    /// Absolute deadline in Unix milliseconds; 0 means none.
    expire_at: u64,
    /// LRU clock of the last access (24 bits).
    pub lru: u32,
    /// Epoch of the snapshot cut that last saved this entry (see `cut`);
    /// fits in the padding after `lru`.
    pub(crate) cut: u32,
}

impl Entry {
    /// A new entry without deadline.
    pub fn new(value: Value, now_ms: u64) -> Entry {
        Entry {
            value,
            expire_at: 0,
            lru: lru_clock(now_ms),
            cut: 0,
        }
    }

    /// An entry with an optional deadline and a given LRU clock (for
    /// RESTORE and the RDB loader, which set both from the payload).
    pub fn with_expire(value: Value, expire_at: Option<u64>, lru: u32) -> Entry {
        Entry {
            value,
            expire_at: expire_at.unwrap_or(0),
            lru: lru & LRU_CLOCK_MAX,
            cut: 0,
        }
    }

    /// The deadline, if any.
    pub fn expire_at(&self) -> Option<u64> {
        (self.expire_at != 0).then_some(self.expire_at)
    }

    /// Redis: a key is expired once `now > when` (keyIsExpired).
    fn is_expired(&self, now_ms: u64) -> bool {
        self.expire_at != 0 && self.expire_at < now_ms
    }

    /// True if the deadline has passed at `now_ms` (the entry is logically gone).
    pub fn is_expired_at(&self, now_ms: u64) -> bool {
        self.is_expired(now_ms)
    }
}

/// The outcome of one try of [`Db::random_pick`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RandomPick {
    /// The database holds no key.
    Empty,
    /// A live key, chosen uniformly among all stored keys.
    Live(Box<[u8]>),
    /// The chosen key had expired; it was deleted (and counted). Try again.
    Expired,
}

/// Counters a database keeps for INFO.
#[derive(Debug, Default, Clone, Copy)]
pub struct DbStats {
    /// Keys deleted because their deadline passed (lazy or active).
    pub expired_keys: u64,
    /// Read lookups that found a key.
    pub keyspace_hits: u64,
    /// Read lookups that found nothing.
    pub keyspace_misses: u64,
    /// Hash fields deleted because their deadline passed (INFO's
    /// `expired_subkeys`).
    pub expired_subkeys: u64,
    /// Keys deleted by maxmemory eviction.
    pub evicted_keys: u64,
}

/// What happened to a key that the server must hear about (keyspace
/// notifications, client tracking). Storage knows nothing of pub/sub: it
/// only logs these while [`Db::log_events`] is set, and the server drains
/// [`Db::events`] after each step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyEvent {
    /// A key was added (Redis's `dbAdd`: the `new` event).
    New,
    /// A key was deleted because its deadline passed (lazy or active).
    Expired,
    /// Hash fields were deleted because their deadlines passed.
    HExpired,
    /// A hash left empty by field expiry was deleted.
    Deleted,
}

/// One database's keys.
#[derive(Debug, Default)]
pub struct Db {
    /// Log key events into `events` (set by the server while anyone
    /// listens; off, the data path pays one branch).
    pub log_events: bool,
    /// Logged key events, oldest first; the server drains it.
    pub events: Vec<(KeyEvent, SmallBytes)>,
    pub(crate) map: IndexMap<SmallBytes, Entry, Hasher>,
    expires: IndexSet<SmallBytes, Hasher>,
    /// Keys that may hold a hash with field deadlines: a superset, checked
    /// when used (a key deleted or overwritten leaves a stale entry, which
    /// the active cycle drops).
    hexpires: IndexSet<SmallBytes, Hasher>,
    /// Counters for INFO.
    pub stats: DbStats,
    /// How an access updates `Entry::lru` (LRU clock or LFU counter).
    access: Access,
    /// CLIENT NO-TOUCH of the command running: writes leave `Entry::lru`
    /// alone too (Redis's `lookupKey` skips the touch for every lookup of
    /// such a client but TOUCH's). Set through [`crate::Shard::set_no_touch`].
    pub(crate) no_touch: bool,
    /// Grow the entry storage in small steps (under maxmemory: spare
    /// slots count in used memory but not against maxmemory).
    bounded_growth: bool,
    /// The running snapshot cut, if any (copy-on-write, see `cut`).
    pub(crate) cut: Option<Box<crate::cut::CutState>>,
    /// The epoch of the latest cut; new entries are marked with it.
    pub(crate) epoch: u32,
}

impl Db {
    /// Number of keys, including expired ones not yet deleted.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// True when the database holds no key.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// Number of keys with a deadline.
    pub fn expires_len(&self) -> usize {
        self.expires.len()
    }

    /// Deletes `key` if its deadline has passed. Returns true if it did.
    fn expire_if_needed(&mut self, key: &[u8], now_ms: u64) -> bool {
        match self.map.get_index_of(key) {
            Some(i) => self.expire_index_if_needed(i, now_ms),
            None => false,
        }
    }

    /// Deletes the entry at position `i` if its deadline has passed.
    fn expire_index_if_needed(&mut self, i: usize, now_ms: u64) -> bool {
        let expired = match self.map.get_index(i) {
            Some((_, e)) => e.is_expired(now_ms),
            None => return false,
        };
        if expired {
            self.cow_at(i);
            if let Some((k, _)) = self.map.swap_remove_index(i) {
                self.expires.swap_remove(&k);
                if self.log_events {
                    self.events.push((KeyEvent::Expired, k));
                }
            }
            self.stats.expired_keys += 1;
        }
        expired
    }

    /// The position of a live key, deleting it first if it has expired.
    /// One hash lookup: the hot path of every command.
    fn find(&mut self, key: &[u8], now_ms: u64) -> Option<usize> {
        let i = self.map.get_index_of(key)?;
        if self.expire_index_if_needed(i, now_ms) {
            None
        } else {
            Some(i)
        }
    }

    /// Sets how accesses update `Entry::lru` (the maxmemory policy's
    /// tracking: LRU clock or LFU counter).
    pub fn set_access(&mut self, access: Access) {
        self.access = access;
    }

    /// Looks a key up for reading: deletes it if expired, counts a hit or a
    /// miss, and refreshes its access clock unless `touch` is false.
    pub fn lookup_read(&mut self, key: &[u8], now_ms: u64, touch: bool) -> Option<&mut Entry> {
        match self.find(key, now_ms) {
            Some(i) => {
                self.stats.keyspace_hits += 1;
                // Callers may change the value through the reference.
                self.cow_at(i);
                let (_, e) = self.map.get_index_mut(i)?;
                if touch {
                    self.access.touch(&mut e.lru, now_ms);
                }
                Some(e)
            }
            None => {
                self.stats.keyspace_misses += 1;
                None
            }
        }
    }

    /// Looks a key up for writing: deletes it if expired; no statistics;
    /// refreshes its access clock unless the client is NO-TOUCH.
    pub fn lookup_write(&mut self, key: &[u8], now_ms: u64) -> Option<&mut Entry> {
        let i = self.find(key, now_ms)?;
        self.cow_at(i);
        let (_, e) = self.map.get_index_mut(i)?;
        if !self.no_touch {
            self.access.touch(&mut e.lru, now_ms);
        }
        Some(e)
    }

    /// Looks a key up without side effects other than lazy expiry.
    pub fn peek(&mut self, key: &[u8], now_ms: u64) -> Option<&Entry> {
        let i = self.find(key, now_ms)?;
        self.map.get_index(i).map(|(_, e)| e)
    }

    /// A live entry by shared reference: no lazy expiry, no statistics
    /// (an expired entry is just not returned). For commands that read
    /// several keys at once after looking each up with [`Db::lookup_read`].
    pub fn get_live(&self, key: &[u8], now_ms: u64) -> Option<&Entry> {
        self.map.get(key).filter(|e| !e.is_expired(now_ms))
    }

    /// The entry at `key`, expired or not, with no side effect at all
    /// (WATCH records whether a key is already logically expired).
    pub fn get_any(&self, key: &[u8]) -> Option<&Entry> {
        self.map.get(key)
    }

    /// True if the key exists (not expired). Does not touch it.
    pub fn contains(&mut self, key: &[u8], now_ms: u64) -> bool {
        self.peek(key, now_ms).is_some()
    }

    /// Stores a value, replacing any previous one and its deadline.
    pub fn insert(&mut self, key: &[u8], value: Value, now_ms: u64) {
        self.insert_with_expire(key, value, None, now_ms);
    }

    /// Stores a value with an optional absolute deadline (ms), replacing
    /// any previous value and deadline.
    pub fn insert_with_expire(
        &mut self,
        key: &[u8],
        value: Value,
        expire_at: Option<u64>,
        now_ms: u64,
    ) {
        self.note_if_field_ttls(key, &value);
        let mut entry = Entry {
            value,
            expire_at: expire_at.unwrap_or(0),
            lru: self.access.initial(now_ms),
            cut: self.epoch,
        };
        let lfu = self.access.lfu.is_some();
        // One probe for both cases: overwrite in place, or insert.
        let had_expire = match self.map.raw_entry_mut_v1().from_key(key) {
            RawEntryMut::Occupied(mut o) => {
                let old = o.get_mut();
                if let Some(c) = self.cut.as_mut() {
                    c.save(key, old);
                }
                let had = old.expire_at != 0;
                // Redis's dbSetValue: an overwrite keeps the LFU counter.
                if lfu {
                    entry.lru = old.lru;
                }
                *old = entry;
                had
            }
            RawEntryMut::Vacant(_) => {
                self.grow_if_full();
                self.map.insert(key.into(), entry);
                if self.log_events {
                    self.events.push((KeyEvent::New, key.into()));
                }
                false
            }
        };
        match (had_expire, expire_at.is_some()) {
            (true, false) => {
                self.expires.swap_remove(key);
            }
            (false, true) => {
                self.expires.insert(key.into());
            }
            _ => {}
        }
    }

    /// Inserts an entry as it is (used by COPY, MOVE, RENAME and RESTORE).
    /// A key that did not exist is logged as new.
    pub fn insert_entry(&mut self, key: &[u8], entry: Entry) {
        if self.log_events && !self.map.contains_key(key) {
            self.events.push((KeyEvent::New, key.into()));
        }
        self.put_entry(key, entry);
    }

    /// Inserts an entry without logging anything: an entry moving between
    /// shards (not a key event).
    pub fn put_entry(&mut self, key: &[u8], mut entry: Entry) {
        self.cow_key(key);
        // New here: not part of a running cut (and due in the next one).
        entry.cut = self.epoch;
        self.grow_if_full();
        self.note_if_field_ttls(key, &entry.value);
        let has = entry.expire_at != 0;
        let old = self.map.insert(key.into(), entry);
        let had = old.map(|o| o.expire_at != 0).unwrap_or(false);
        if has && !had {
            self.expires.insert(key.into());
        } else if had && !has {
            self.expires.swap_remove(key);
        }
    }

    /// Makes room for `additional` more keys at once (the RDB loader, from
    /// the file's RESIZEDB hint), so loading does not regrow the table.
    pub fn reserve(&mut self, additional: usize) {
        self.map.reserve_exact(additional);
    }

    /// Grows the entry storage by a quarter when full (see `growth`). Left alone, indexmap
    /// sizes its entry vector to the hash table's capacity, up to 1.75x
    /// the keys (150 bytes per small key at 500k keys); growing by a
    /// quarter keeps the slack under 25% (105 bytes per key, Redis: 104).
    fn grow_if_full(&mut self) {
        let len = self.map.len();
        if len == self.map.capacity() {
            // Under maxmemory, small steps: a quarter could overshoot.
            let step = if self.bounded_growth {
                (len / 32).max(8)
            } else {
                crate::growth::additional(len)
            };
            self.map.reserve_exact(step);
        }
    }

    /// Gives back the keyspace's spare slots when more than an eighth are
    /// free (after eviction: free slots are memory maxmemory does not
    /// count, so they must stay a small share). O(n), so only when sparse.
    pub fn shrink_if_sparse(&mut self) {
        let len = self.map.len();
        if self.map.capacity() - len > len / 8 + 1024 {
            self.map.shrink_to(len + len / 32);
        }
        let n = self.expires.len();
        if self.expires.capacity() - n > n / 8 + 1024 {
            self.expires.shrink_to(n + n / 32);
        }
    }

    /// Grows the entry storage by 1/32 instead of 1/4 when full (set while
    /// a maxmemory is configured, so free slots stay a small share).
    pub fn set_bounded_growth(&mut self, on: bool) {
        self.bounded_growth = on;
    }

    /// Removes a key, returning its entry (even if it had expired).
    pub fn remove(&mut self, key: &[u8]) -> Option<Entry> {
        let mut e = self.map.swap_remove(key)?;
        if let Some(c) = self.cut.as_mut() {
            c.save(key, &mut e);
        }
        if e.expire_at != 0 {
            self.expires.swap_remove(key);
        }
        Some(e)
    }

    /// Sets or clears the deadline of an existing key. Returns false when
    /// the key does not exist.
    pub fn set_expire(&mut self, key: &[u8], expire_at: Option<u64>) -> bool {
        self.cow_key(key);
        let Some(e) = self.map.get_mut(key) else {
            return false;
        };
        let had = e.expire_at != 0;
        e.expire_at = expire_at.unwrap_or(0);
        match (had, expire_at.is_some()) {
            (false, true) => {
                self.expires.insert(key.into());
            }
            (true, false) => {
                self.expires.swap_remove(key);
            }
            _ => {}
        }
        true
    }

    /// Deletes every key.
    pub fn clear(&mut self) {
        // During a cut the old map goes to the cut, which drains it.
        if !self.retire_map() {
            self.map = IndexMap::default();
        }
        self.expires = IndexSet::default();
        self.hexpires = IndexSet::default();
    }

    /// Iterates over live keys (skipping expired ones without deleting them).
    pub fn iter_live(&self, now_ms: u64) -> impl Iterator<Item = (&[u8], &Entry)> {
        self.map
            .iter()
            .filter(move |(_, e)| !e.is_expired(now_ms))
            .map(|(k, e)| (&k[..], e))
    }

    /// A uniformly random live key, deleting expired ones it meets (up to
    /// 100 tries when nearly everything has expired, as Redis does).
    pub fn random_key(&mut self, now_ms: u64, rng: &mut impl Rng) -> Option<Box<[u8]>> {
        let mut tries = 0;
        loop {
            if self.map.is_empty() {
                return None;
            }
            let i = rng.random_range(0..self.map.len());
            let (k, e) = self.map.get_index(i)?;
            if !e.is_expired(now_ms) {
                return Some(k.as_slice().into());
            }
            tries += 1;
            if tries >= 100 && self.expires.len() == self.map.len() {
                // Redis gives up and returns a logically expired key rather
                // than looping forever over a keyspace that is all expired.
                return Some(k.as_slice().into());
            }
            let k = k.clone();
            self.expire_if_needed(&k, now_ms);
        }
    }

    /// One try of Redis's `dbRandomKey`: a uniformly random stored key. An
    /// expired key is deleted (lazy expiry, counted in `expired_keys`) and
    /// reported as [`RandomPick::Expired`], so that a caller retrying until
    /// it gets a live key samples the live keys uniformly.
    pub fn random_pick(&mut self, now_ms: u64, rng: &mut impl Rng) -> RandomPick {
        if self.map.is_empty() {
            return RandomPick::Empty;
        }
        let i = rng.random_range(0..self.map.len());
        let Some((k, e)) = self.map.get_index(i) else {
            return RandomPick::Empty;
        };
        if !e.is_expired(now_ms) {
            return RandomPick::Live(k.as_slice().into());
        }
        let k = k.clone();
        self.expire_if_needed(&k, now_ms);
        RandomPick::Expired
    }

    /// Like [`Db::scan_step`], but also visits entries whose deadline has
    /// passed (check [`Entry::is_expired_at`]), so that SCAN can delete the
    /// expired keys it meets as Redis does. Deleting keys already visited
    /// (positions at or after the returned value) is safe: `swap_remove`
    /// then only moves another visited entry.
    pub fn scan_step_all(
        &self,
        remaining: Option<usize>,
        count: usize,
        mut visit: impl FnMut(&[u8], &Entry),
    ) -> usize {
        let mut pos = remaining.unwrap_or(usize::MAX).min(self.map.len());
        let mut visited = 0;
        while pos > 0 && visited < count.max(1) {
            pos -= 1;
            visited += 1;
            if let Some((k, e)) = self.map.get_index(pos) {
                visit(k, e);
            }
        }
        pos
    }

    /// One SCAN step. `remaining` is the number of positions still to visit
    /// (start with `None` for "all"); visits up to `count` positions from
    /// the end and returns the new `remaining`, 0 when the walk is done.
    pub fn scan_step(
        &self,
        remaining: Option<usize>,
        count: usize,
        now_ms: u64,
        mut visit: impl FnMut(&[u8], &Entry),
    ) -> usize {
        let mut pos = remaining.unwrap_or(usize::MAX).min(self.map.len());
        let mut visited = 0;
        while pos > 0 && visited < count.max(1) {
            pos -= 1;
            visited += 1;
            if let Some((k, e)) = self.map.get_index(pos) {
                if !e.is_expired(now_ms) {
                    visit(k, e);
                }
            }
        }
        pos
    }

    /// One round of active expiry: samples up to `sample` keys with a
    /// deadline and deletes the expired ones. Returns (sampled, expired).
    pub fn active_expire_round(
        &mut self,
        now_ms: u64,
        sample: usize,
        rng: &mut impl Rng,
    ) -> (usize, usize) {
        let mut sampled = 0;
        let mut expired = 0;
        for _ in 0..sample {
            if self.expires.is_empty() {
                break;
            }
            let i = rng.random_range(0..self.expires.len());
            let Some(key) = self.expires.get_index(i).cloned() else {
                break;
            };
            sampled += 1;
            if self.expire_if_needed(&key, now_ms) {
                expired += 1;
            }
        }
        (sampled, expired)
    }

    fn note_if_field_ttls(&mut self, key: &[u8], value: &Value) {
        if let Value::Hash(h) = value {
            if h.has_field_ttls() && !self.hexpires.contains(key) {
                self.hexpires.insert(key.into());
            }
        }
    }

    /// Records that the hash at `key` has field deadlines, so the active
    /// cycle visits it (call after HEXPIRE and friends set one).
    pub fn note_field_ttls(&mut self, key: &[u8]) {
        if !self.hexpires.contains(key) {
            self.hexpires.insert(key.into());
        }
    }

    /// Number of hashes with field deadlines (INFO keyspace `subexpiry`).
    pub fn subexpiry(&self) -> usize {
        self.hexpires
            .iter()
            .filter(|k| {
                matches!(self.map.get(&k[..]), Some(Entry { value: Value::Hash(h), .. }) if h.has_field_ttls())
            })
            .count()
    }

    /// One active cycle of hash-field expiry: samples hashes with field
    /// deadlines, deletes their fields whose deadline has come (at most
    /// `max_fields` in all), deletes a hash left empty, and repeats while
    /// more than a quarter of a sample had something to expire. Returns the
    /// number of fields deleted.
    pub fn active_expire_fields(
        &mut self,
        now_ms: u64,
        max_fields: usize,
        rng: &mut impl Rng,
    ) -> usize {
        const SAMPLE: usize = 20;
        let mut deleted = 0;
        for _round in 0..16 {
            let n = self.hexpires.len();
            if n == 0 || deleted >= max_fields {
                break;
            }
            // Small index: visit every key (from the end, so dropping the
            // current one does not skip another); large: sample.
            let picks: Vec<usize> = if n <= SAMPLE {
                (0..n).rev().collect()
            } else {
                (0..SAMPLE).map(|_| rng.random_range(0..n)).collect()
            };
            let mut sampled = 0;
            let mut due = 0;
            for i in picks {
                let Some(key) = self.hexpires.get_index(i).cloned() else {
                    continue;
                };
                sampled += 1;
                self.cow_key(&key);
                let (fields, empty, keep) = match self.map.get_mut(&key) {
                    Some(e) if e.is_expired(now_ms) => (0, false, false),
                    Some(Entry {
                        value: Value::Hash(h),
                        ..
                    }) => match h.min_field_ttl() {
                        None => (0, false, false),
                        Some(min) if min > now_ms => (0, false, true),
                        Some(_) => {
                            let d = h.expire_due(now_ms, max_fields - deleted);
                            (d, h.is_empty(), h.has_field_ttls())
                        }
                    },
                    _ => (0, false, false),
                };
                if fields > 0 {
                    due += 1;
                    deleted += fields;
                    self.stats.expired_subkeys += fields as u64;
                    if self.log_events {
                        self.events.push((KeyEvent::HExpired, key.clone()));
                    }
                }
                if empty {
                    self.remove(&key);
                    if self.log_events {
                        self.events.push((KeyEvent::Deleted, key.clone()));
                    }
                }
                if !keep || empty {
                    self.hexpires.swap_remove(&key);
                }
                if deleted >= max_fields {
                    break;
                }
            }
            if n <= SAMPLE || sampled == 0 || due * 4 <= sampled {
                break;
            }
        }
        deleted
    }

    /// The entry at position `i` of the keyspace (or, with `volatile`, of
    /// the expires index): O(1) sampling for eviction.
    pub fn sample_at(&self, volatile: bool, i: usize) -> Option<(&SmallBytes, &Entry)> {
        if volatile {
            let k = self.expires.get_index(i)?;
            self.map.get_key_value(k.as_slice())
        } else {
            self.map.get_index(i)
        }
    }

    /// An entry as stored: no expiry check, no statistics, no touch.
    pub fn sample_key(&self, key: &[u8]) -> Option<&Entry> {
        self.map.get(key)
    }

    /// Bytes of allocated but unused keyspace slots (the entry vectors of
    /// the keyspace and the expires index keep their capacity when keys
    /// go, and new keys reuse it).
    pub fn free_slot_bytes(&self) -> usize {
        const SLOT: usize = std::mem::size_of::<(u64, SmallBytes, Entry)>();
        const EXP_SLOT: usize = std::mem::size_of::<(u64, SmallBytes)>();
        (self.map.capacity() - self.map.len()) * SLOT
            + (self.expires.capacity() - self.expires.len()) * EXP_SLOT
    }

    /// Sum of the deadlines' remaining time over a sample, for INFO's avg_ttl.
    pub fn avg_ttl(&self, now_ms: u64) -> u64 {
        let n = self.expires.len().min(1000);
        if n == 0 {
            return 0;
        }
        let mut sum: u128 = 0;
        let mut counted = 0u128;
        for k in self.expires.iter().take(n) {
            if let Some(e) = self.map.get(k) {
                if e.expire_at > now_ms {
                    sum += (e.expire_at - now_ms) as u128;
                    counted += 1;
                }
            }
        }
        sum.checked_div(counted).map_or(0, |avg| avg as u64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::value::Str;
    use rand::SeedableRng;

    fn s(v: &[u8]) -> Value {
        Value::Str(Str::from_bytes(v))
    }

    #[test]
    fn lazy_expiry_deletes_on_lookup() {
        let mut db = Db::default();
        db.insert_with_expire(b"k", s(b"v"), Some(100), 0);
        assert_eq!(db.expires_len(), 1);
        assert!(db.lookup_read(b"k", 99, true).is_some());
        // As Redis: still there at its deadline, gone one millisecond later.
        assert!(db.lookup_read(b"k", 100, true).is_some());
        assert!(db.lookup_read(b"k", 101, true).is_none());
        assert_eq!(db.len(), 0);
        assert_eq!(db.expires_len(), 0);
        assert_eq!(db.stats.expired_keys, 1);
    }

    #[test]
    fn overwrite_clears_deadline() {
        let mut db = Db::default();
        db.insert_with_expire(b"k", s(b"v"), Some(100), 0);
        db.insert(b"k", s(b"w"), 0);
        assert_eq!(db.expires_len(), 0);
        assert!(db.lookup_read(b"k", 1000, true).is_some());
    }

    #[test]
    fn scan_returns_every_key_present_throughout() {
        let mut db = Db::default();
        for i in 0..1000u32 {
            db.insert(format!("k{i}").as_bytes(), s(b"v"), 0);
        }
        let mut seen = std::collections::HashSet::new();
        let mut remaining = None;
        let mut round = 0u32;
        loop {
            let r = db.scan_step(remaining, 10, 0, |k, _| {
                seen.insert(k.to_vec());
            });
            // Churn between steps: delete some keys, add others.
            db.remove(format!("k{}", round * 7 % 1000).as_bytes());
            db.insert(format!("new{round}").as_bytes(), s(b"v"), 0);
            round += 1;
            if r == 0 {
                break;
            }
            remaining = Some(r);
        }
        for i in 0..1000u32 {
            let k = format!("k{i}");
            if db.map.contains_key(k.as_bytes()) {
                assert!(seen.contains(k.as_bytes()), "missed {k}");
            }
        }
    }

    #[test]
    fn random_pick_deletes_expired_and_finds_live() {
        let mut db = Db::default();
        let mut rng = rand::rngs::SmallRng::seed_from_u64(3);
        assert_eq!(db.random_pick(0, &mut rng), RandomPick::Empty);
        for i in 0..50u32 {
            db.insert_with_expire(format!("e{i}").as_bytes(), s(b"v"), Some(10), 0);
        }
        db.insert(b"live", s(b"v"), 0);
        let mut expired = 0;
        loop {
            match db.random_pick(20, &mut rng) {
                RandomPick::Live(k) => {
                    assert_eq!(&*k, b"live");
                    break;
                }
                RandomPick::Expired => expired += 1,
                RandomPick::Empty => panic!("not empty"),
            }
        }
        assert_eq!(db.len(), 51 - expired);
        assert_eq!(db.stats.expired_keys, expired as u64);
    }

    #[test]
    fn random_pick_is_uniform() {
        let mut db = Db::default();
        let mut rng = rand::rngs::SmallRng::seed_from_u64(5);
        for i in 0..4u8 {
            db.insert(&[i], s(b"v"), 0);
        }
        let mut counts = [0u32; 4];
        for _ in 0..40_000 {
            if let RandomPick::Live(k) = db.random_pick(0, &mut rng) {
                counts[k[0] as usize] += 1;
            }
        }
        for c in counts {
            assert!((9_000..11_000).contains(&c), "{counts:?}");
        }
    }

    #[test]
    fn scan_step_all_sees_expired_and_survives_deleting_them() {
        let mut db = Db::default();
        for i in 0..1000u32 {
            let deadline = (i % 3 == 0).then_some(5);
            db.insert_with_expire(format!("k{i}").as_bytes(), s(b"v"), deadline, 0);
        }
        let mut seen = std::collections::HashSet::new();
        let mut remaining = None;
        loop {
            let mut expired = Vec::new();
            let r = db.scan_step_all(remaining, 7, |k, e| {
                if e.is_expired_at(10) {
                    expired.push(k.to_vec());
                } else {
                    seen.insert(k.to_vec());
                }
            });
            // Delete the expired keys just visited, as SCAN does.
            for k in expired {
                assert!(db.peek(&k, 10).is_none());
            }
            if r == 0 {
                break;
            }
            remaining = Some(r);
        }
        for i in 0..1000u32 {
            if i % 3 != 0 {
                assert!(seen.contains(format!("k{i}").as_bytes()), "missed k{i}");
            }
        }
        assert_eq!(db.len(), 666);
        assert_eq!(db.stats.expired_keys, 334);
    }

    #[test]
    fn field_expiry_index_counts_and_expires() {
        use crate::types::hash::{ExpireCond, Hash};
        use crate::types::Thresholds;
        let th = Thresholds::default();
        let mut db = Db::default();
        let mut rng = rand::rngs::SmallRng::seed_from_u64(2);
        for i in 0..50u32 {
            let mut h = Hash::new();
            h.set(b"keep", b"v", &th);
            h.set(b"gone", b"v", &th);
            h.set_field_ttl(b"gone", 100, ExpireCond::Always, 0);
            if i % 2 == 0 {
                h.set_field_ttl(b"keep", 100, ExpireCond::Always, 0);
            }
            db.insert(format!("h{i}").as_bytes(), Value::Hash(h), 0);
        }
        db.insert(b"plain", Value::Hash(Hash::default()), 0);
        assert_eq!(db.subexpiry(), 50);
        // Nothing due yet.
        assert_eq!(db.active_expire_fields(50, 1000, &mut rng), 0);
        // Overwriting a key drops it from the count (the stale index entry
        // is ignored).
        db.insert(b"h0", s(b"v"), 0);
        assert_eq!(db.subexpiry(), 49);
        let mut deleted = 0;
        for _ in 0..50 {
            deleted += db.active_expire_fields(200, 1000, &mut rng);
        }
        // 49 "gone" fields, and 24 "keep" fields (their hashes deleted).
        assert_eq!(deleted, 49 + 24);
        assert_eq!(db.stats.expired_subkeys, 73);
        assert_eq!(db.subexpiry(), 0);
        assert_eq!(db.len(), 1 + 1 + 25);
        // A renamed hash keeps being tracked.
        let mut h = Hash::new();
        h.set(b"f", b"v", &th);
        h.set_field_ttl(b"f", 300, ExpireCond::Always, 0);
        db.insert(b"x", Value::Hash(h), 0);
        let e = db.remove(b"x").unwrap();
        db.insert_entry(b"y", e);
        assert_eq!(db.subexpiry(), 1);
        assert_eq!(db.active_expire_fields(400, 1000, &mut rng), 1);
        assert!(db.peek(b"y", 400).is_none());
    }

    #[test]
    fn active_expire_removes_expired() {
        let mut db = Db::default();
        let mut rng = rand::rngs::SmallRng::seed_from_u64(1);
        for i in 0..100u32 {
            db.insert_with_expire(format!("k{i}").as_bytes(), s(b"v"), Some(10), 0);
        }
        for _ in 0..50 {
            db.active_expire_round(20, 20, &mut rng);
        }
        assert_eq!(db.len(), 0);
    }
}
