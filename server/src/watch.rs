//! WATCH: optimistic locking for MULTI/EXEC, as Redis's `multi.c`.
//!
//! Each shard keeps a registry of its watched keys, `key -> [(db,
//! watcher)]`, in its `ShardEnv`. A write to a watched key marks every
//! watcher of that (db, key) dirty through [`touch`], on the shard, in the
//! same step as the write; FLUSHDB, FLUSHALL and SWAPDB use [`touch_db`].
//! EXEC freezes the shards of its watched keys, then checks the client's
//! dirty flag and whether a watched key has expired since WATCH
//! ([`expired_since_watch`]); either aborts the transaction (null reply).
//!
//! Only real modifications mark watchers, as Redis's `signalModifiedKey`:
//! while a shard has watched keys its `Shard::log_modified` is on, and
//! `ShardCtx::key_modified` (the one modified-key signal every write
//! handler raises, `notify.rs`) logs (db, key) in `Shard::modified`.
//! [`touch_logged`] drains that log after every step on a worker
//! (`notify::with_ctx`), after a scratch-shard gather (its log moves to
//! the keys' shards first) and when a script's shards come back. A write
//! that changes nothing (`SET k v NX` on an existing key, `DEL` of a
//! missing key) raises no signal and leaves watchers alone. Eviction and
//! blocking pops call [`touch`] directly.
//!
//! Invariants:
//! - a watched key's registry entry lives on the shard that owns the key;
//! - a client's entries are removed when it unwatches (UNWATCH, EXEC,
//!   DISCARD, RESET) or disconnects;
//! - the dirty flag is only read by EXEC under the freeze of every shard
//!   holding a watched key, so a write is either before the check (seen) or
//!   after the transaction.

use crate::worker::ShardEnv;
use bytes::Bytes;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

/// One client's watch state, shared by its registry entries and its
/// `ClientInfo` (CLIENT LIST's `d` flag and `watch=` count).
#[derive(Default)]
pub struct WatchState {
    dirty: AtomicBool,
    keys: AtomicUsize,
}

impl WatchState {
    /// True once a watched key was modified (Redis's CLIENT_DIRTY_CAS).
    pub fn is_dirty(&self) -> bool {
        self.dirty.load(Ordering::Acquire)
    }

    /// Number of keys watched.
    pub fn keys(&self) -> usize {
        self.keys.load(Ordering::Relaxed)
    }

    fn mark_dirty(&self) {
        self.dirty.store(true, Ordering::Release);
    }
}

/// A registry entry: one client watching a key in one database.
struct Watcher {
    db: usize,
    state: Arc<WatchState>,
    /// The key was already logically expired at WATCH: its deletion is no
    /// change (Redis's `watchedKey.expired`).
    expired: bool,
}

/// Distinct watched (db, key) pairs over all shards, for INFO's
/// `total_watched_keys` (process-wide: one server per process).
static TOTAL_WATCHED: AtomicUsize = AtomicUsize::new(0);

/// INFO `total_watched_keys`: distinct watched (db, key) pairs.
pub fn total_watched_keys() -> usize {
    TOTAL_WATCHED.load(Ordering::Relaxed)
}

/// A shard's watched keys.
#[derive(Default)]
pub struct ShardWatches {
    map: HashMap<Bytes, Vec<Watcher>>,
}

impl ShardWatches {
    /// Number of distinct watched keys on this shard (all databases).
    pub fn keys(&self) -> usize {
        self.map.len()
    }
}

/// What WATCH saw of a key, kept by the client for EXEC's expiry check.
#[derive(Clone)]
pub struct Watched {
    /// Database.
    pub db: usize,
    /// The key.
    pub key: Bytes,
    /// The shard that owns it.
    pub shard: usize,
    /// Its deadline when watched, if it was live with one.
    pub deadline: Option<u64>,
}

/// The hook for writes: marks dirty every client watching one of `keys` in
/// `db`. Cheap when nothing is watched on the shard.
pub fn touch<'a>(env: &mut ShardEnv, db: usize, keys: impl IntoIterator<Item = &'a [u8]>) {
    if env.watches.map.is_empty() {
        return;
    }
    for k in keys {
        let Some(ws) = env.watches.map.get_mut(k) else {
            continue;
        };
        let exists = env
            .shard
            .dbs
            .get(db)
            .is_some_and(|d| d.get_any(k).is_some());
        for w in ws.iter_mut().filter(|w| w.db == db) {
            if w.expired && !exists {
                // Already-expired key now deleted: logically no change.
                w.expired = false;
                continue;
            }
            w.state.mark_dirty();
        }
    }
}

/// Drains the shard's modified-key log (see the module doc) into
/// [`touch`]. Cheap when the log is empty.
pub fn touch_logged(env: &mut ShardEnv) {
    if env.shard.modified.is_empty() {
        return;
    }
    let log = std::mem::take(&mut env.shard.modified);
    for (db, key) in &log {
        touch(env, *db, std::iter::once(&key[..]));
    }
}

/// Adds `keys` (db, key), modified on a scratch shard by a gather, to
/// this shard's log and drains it.
pub fn touch_forwarded(env: &mut ShardEnv, keys: Vec<(usize, Bytes)>) {
    if env.shard.log_modified {
        env.shard.modified.extend(keys);
    }
    touch_logged(env);
}

/// The hook for FLUSHDB, FLUSHALL and SWAPDB, called before `db` is emptied
/// or swapped with `other`: marks dirty the watchers of keys that exist in
/// `db` (or in `other`), as Redis's `touchAllWatchedKeysInDb`.
pub fn touch_db(env: &mut ShardEnv, db: usize, other: Option<usize>) {
    if env.watches.map.is_empty() {
        return;
    }
    let now = env.shard.now_ms();
    let dbs = &env.shard.dbs;
    for (k, ws) in env.watches.map.iter_mut() {
        let in_db = dbs.get(db).is_some_and(|d| d.get_any(k).is_some());
        let other_entry = other.and_then(|o| dbs.get(o)).and_then(|d| d.get_any(k));
        if !in_db && other_entry.is_none() {
            continue;
        }
        let other_expired = other_entry.is_some_and(|e| e.is_expired_at(now));
        for w in ws.iter_mut().filter(|w| w.db == db) {
            if w.expired {
                match other_entry {
                    None => {
                        w.expired = false;
                        continue;
                    }
                    Some(_) if other_expired => continue,
                    Some(_) => {}
                }
            } else if !in_db && other_expired {
                // A missing key replaced by an expired one: no change yet.
                w.expired = true;
                continue;
            }
            w.state.mark_dirty();
        }
    }
}

/// Registers `state` as watching `key` in `db` on this shard (WATCH) and
/// returns its deadline if it is live with one. Watching twice is one watch.
pub fn register(
    env: &mut ShardEnv,
    db: usize,
    key: &Bytes,
    state: &Arc<WatchState>,
) -> Option<u64> {
    let now = env.shard.now_ms();
    let entry = env.shard.dbs.get(db).and_then(|d| d.get_any(key));
    let expired = entry.is_some_and(|e| e.is_expired_at(now));
    let deadline = entry.filter(|_| !expired).and_then(|e| e.expire_at());
    env.shard.log_modified = true;
    let ws = env.watches.map.entry(key.clone()).or_default();
    if !ws.iter().any(|w| w.db == db) {
        TOTAL_WATCHED.fetch_add(1, Ordering::Relaxed);
    }
    if !ws
        .iter()
        .any(|w| w.db == db && Arc::ptr_eq(&w.state, state))
    {
        ws.push(Watcher {
            db,
            state: state.clone(),
            expired,
        });
    }
    deadline
}

/// Removes `state`'s entries for `keys` (db, key) on this shard.
pub fn unregister(env: &mut ShardEnv, keys: &[(usize, Bytes)], state: &Arc<WatchState>) {
    for (db, k) in keys {
        if let Some(ws) = env.watches.map.get_mut(&k[..]) {
            let before = ws.iter().any(|w| w.db == *db);
            ws.retain(|w| !(w.db == *db && Arc::ptr_eq(&w.state, state)));
            if before && !ws.iter().any(|w| w.db == *db) {
                TOTAL_WATCHED.fetch_sub(1, Ordering::Relaxed);
            }
            if ws.is_empty() {
                env.watches.map.remove(&k[..]);
            }
        }
    }
    if env.watches.map.is_empty() {
        env.shard.log_modified = false;
        env.shard.modified.clear();
    }
}

/// EXEC's expiry check on the shard of `w`: the key had a deadline when
/// watched and is now gone or past it (Redis's `isWatchedKeyExpired`, plus
/// deletions by the expiry cycle, which Redis signals as modifications).
pub fn expired_since_watch(env: &mut ShardEnv, w: &Watched) -> bool {
    if w.deadline.is_none() {
        return false;
    }
    let now = env.shard.now_ms();
    match env.shard.dbs.get(w.db).and_then(|d| d.get_any(&w.key)) {
        None => true,
        Some(e) => e.is_expired_at(now),
    }
}

impl WatchState {
    /// Sets the number of watched keys (after WATCH or an unwatch).
    pub fn set_keys(&self, n: usize) {
        self.keys.store(n, Ordering::Relaxed);
    }

    /// Clears the dirty flag (after the client unwatched everything).
    pub fn reset(&self) {
        self.dirty.store(false, Ordering::Release);
        self.set_keys(0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use storage::{Shard, Str, Value};

    fn env() -> ShardEnv {
        ShardEnv {
            shard: Shard::new(0, 16),
            limits: Default::default(),
            cmdstats: Default::default(),
            blocking: Default::default(),
            watches: Default::default(),
            hub: std::sync::Arc::new(crate::pubsub::Hub::new(Default::default())),
        }
    }

    fn set(env: &mut ShardEnv, db: usize, k: &[u8]) {
        let now = env.shard.refresh_time();
        env.shard.dbs[db].insert(k, Value::Str(Str::from_bytes(b"v")), now);
    }

    #[test]
    fn touch_marks_only_the_same_db_and_key() {
        let mut env = env();
        let st = Arc::new(WatchState::default());
        register(&mut env, 0, &Bytes::from_static(b"k"), &st);
        touch(&mut env, 1, [&b"k"[..]]);
        touch(&mut env, 0, [&b"other"[..]]);
        assert!(!st.is_dirty());
        touch(&mut env, 0, [&b"k"[..]]);
        assert!(st.is_dirty());
    }

    #[test]
    fn only_signalled_modifications_mark_watchers() {
        let mut env = env();
        let st = Arc::new(WatchState::default());
        assert!(!env.shard.log_modified);
        let k = Bytes::from_static(b"k");
        register(&mut env, 0, &k, &st);
        assert!(env.shard.log_modified);
        // A handler that changes nothing raises no signal.
        crate::notify::with_ctx(&mut env, 0, true, 0, |_| ());
        assert!(!st.is_dirty());
        crate::notify::with_ctx(&mut env, 0, true, 0, |c| c.key_modified(b"k"));
        assert!(st.is_dirty() && env.shard.modified.is_empty());
        // The log is off once nothing is watched on the shard.
        unregister(&mut env, &[(0, k)], &st);
        assert!(!env.shard.log_modified);
        crate::notify::with_ctx(&mut env, 0, true, 0, |c| c.key_modified(b"k"));
        assert!(env.shard.modified.is_empty());
    }

    #[test]
    fn flush_touches_only_existing_keys() {
        let mut env = env();
        let st = Arc::new(WatchState::default());
        register(&mut env, 0, &Bytes::from_static(b"missing"), &st);
        touch_db(&mut env, 0, None);
        assert!(!st.is_dirty());
        set(&mut env, 0, b"there");
        register(&mut env, 0, &Bytes::from_static(b"there"), &st);
        touch_db(&mut env, 0, None);
        assert!(st.is_dirty());
    }

    #[test]
    fn swapdb_touches_keys_present_in_the_other_db() {
        let mut env = env();
        let st = Arc::new(WatchState::default());
        register(&mut env, 0, &Bytes::from_static(b"k"), &st);
        set(&mut env, 1, b"k");
        touch_db(&mut env, 0, Some(1));
        assert!(st.is_dirty());
    }

    #[test]
    fn unregister_empties_the_registry_and_the_count() {
        let mut env = env();
        let st = Arc::new(WatchState::default());
        let k = Bytes::from_static(b"unreg-k");
        register(&mut env, 3, &k, &st);
        register(&mut env, 3, &k, &st);
        assert_eq!(env.watches.keys(), 1);
        unregister(&mut env, &[(3, k)], &st);
        assert_eq!(env.watches.keys(), 0);
        touch(&mut env, 3, [&b"unreg-k"[..]]);
        assert!(!st.is_dirty());
    }
}
