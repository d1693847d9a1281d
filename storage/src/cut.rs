//! Copy-on-write snapshot cuts of one database (DESIGN.md section 9).
//!
//! A background save records a cut with [`Db::cut_begin`] (O(1), inside a
//! short global transaction), then walks the keyspace in bounded slices
//! with [`Db::cut_step`] while clients keep writing. Every entry carries
//! the epoch of the cut that last saved it (`Entry::cut`); the mutation
//! paths of [`Db`] call [`Db::cow_at`] (one branch when no cut runs) and
//! serialize an entry's old value into the cut's [`CutSink`] before they
//! change, delete or expire it, and mark it saved.
//!
//! Invariants while a cut with epoch `E` runs:
//! - an entry whose `cut != E` existed at the cut and still holds its cut
//!   value (anything that changes it saves it first);
//! - entries inserted after the cut get `cut = E` at insertion (every
//!   insertion path sets it), so they never appear in the file;
//! - the walk goes from the last position to the first, clamped to the
//!   length, as SCAN does: `swap_remove` only moves the last entry, so an
//!   unsaved entry is never moved into the walked part (and the epoch
//!   check makes a second visit harmless anyway);
//! - FLUSHALL/FLUSHDB during a cut retire the whole map into the cut
//!   (O(1)); the walk drains retired maps first, freeing them as it goes.
//!
//! Memory: the sink holds what was serialized and not yet handed to the
//! file writer; retired maps live until drained. Nothing is cloned.

use crate::db::{Db, Entry};
use crate::small::SmallBytes;
use indexmap::IndexMap;

/// Where a cut's entries are serialized to (the server's RDB encoder).
pub trait CutSink: Send {
    /// Serializes `entry` under `key` as it was at the cut.
    fn put(&mut self, key: &[u8], entry: &Entry);
    /// Hands over whatever is buffered (the walk is done or aborted).
    fn finish(&mut self);
}

/// The state of a running cut.
pub(crate) struct CutState {
    /// This cut's epoch: entries with `cut == epoch` are saved or new.
    pub(crate) epoch: u32,
    /// Positions of the live map still to walk (from the end).
    remaining: usize,
    /// Maps retired by a flush during the cut, still to serialize.
    retired: Vec<IndexMap<SmallBytes, Entry, crate::db::Hasher>>,
    pub(crate) sink: Box<dyn CutSink>,
}

/// What a cut recorded about one database.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CutMeta {
    /// Keys at the cut (including expired ones not yet deleted).
    pub keys: u64,
    /// Keys with a deadline at the cut.
    pub expires: u64,
}

impl std::fmt::Debug for CutState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CutState")
            .field("epoch", &self.epoch)
            .field("remaining", &self.remaining)
            .field("retired", &self.retired.len())
            .finish()
    }
}

impl CutState {
    /// Saves `e` unless this cut saved it already, and marks it.
    #[inline]
    pub(crate) fn save(&mut self, key: &[u8], e: &mut Entry) {
        if e.cut != self.epoch {
            self.sink.put(key, e);
            e.cut = self.epoch;
        }
    }
}

impl Db {
    /// Starts a cut: from now on the database serializes each entry's value
    /// as of this moment, into `sink`, either when [`Db::cut_step`] reaches
    /// it or before anything changes it. O(1) (O(n) once per 2^32 cuts).
    /// A running cut is ended first (its sink finished).
    pub fn cut_begin(&mut self, sink: Box<dyn CutSink>) -> CutMeta {
        self.cut_end();
        if self.epoch == u32::MAX {
            // Wrap: make every stored mark older than the next epoch.
            for e in self.map.values_mut() {
                e.cut = 0;
            }
            self.epoch = 0;
        }
        self.epoch += 1;
        self.cut = Some(Box::new(CutState {
            epoch: self.epoch,
            remaining: self.map.len(),
            retired: Vec::new(),
            sink,
        }));
        CutMeta {
            keys: self.map.len() as u64,
            expires: self.expires_len() as u64,
        }
    }

    /// True while a cut runs on this database.
    pub fn cut_running(&self) -> bool {
        self.cut.is_some()
    }

    /// Serializes up to `budget` entries of the running cut (visiting
    /// entries already saved costs a little too). Returns true when the cut
    /// is complete (then it is ended, its sink finished) or none runs.
    pub fn cut_step(&mut self, budget: usize) -> bool {
        let Some(c) = self.cut.as_mut() else {
            return true;
        };
        let mut work = 0;
        let mut visited = 0;
        // Retired maps first: nothing changes them, so pop and free.
        while let Some(mut m) = c.retired.pop() {
            while work < budget {
                let Some((k, mut e)) = m.pop() else { break };
                c.save(&k, &mut e);
                work += 1;
            }
            if !m.is_empty() {
                c.retired.push(m);
                return false;
            }
        }
        let mut pos = c.remaining.min(self.map.len());
        // Skipping a saved entry is cheap but not free: bound both.
        while pos > 0 && work < budget && visited < budget.saturating_mul(8) {
            pos -= 1;
            visited += 1;
            if let Some((k, e)) = self.map.get_index_mut(pos) {
                if e.cut != c.epoch {
                    c.sink.put(k, e);
                    e.cut = c.epoch;
                    work += 1;
                }
            }
        }
        c.remaining = pos;
        if pos == 0 {
            self.cut_end();
            return true;
        }
        false
    }

    /// Ends the running cut now (complete or aborted), finishing its sink.
    pub fn cut_end(&mut self) {
        if let Some(mut c) = self.cut.take() {
            c.sink.finish();
        }
    }

    /// Copy-on-write hook: before the entry at position `i` changes, save
    /// its cut value. One branch when no cut runs.
    #[inline(always)]
    pub(crate) fn cow_at(&mut self, i: usize) {
        if self.cut.is_some() {
            self.cow_at_slow(i);
        }
    }

    #[cold]
    #[inline(never)]
    fn cow_at_slow(&mut self, i: usize) {
        if let (Some(c), Some((k, e))) = (self.cut.as_mut(), self.map.get_index_mut(i)) {
            c.save(k, e);
        }
    }

    /// Copy-on-write hook by key (see [`Db::cow_at`]).
    #[inline(always)]
    pub(crate) fn cow_key(&mut self, key: &[u8]) {
        if self.cut.is_some() {
            self.cow_key_slow(key);
        }
    }

    #[cold]
    #[inline(never)]
    fn cow_key_slow(&mut self, key: &[u8]) {
        if let Some(i) = self.map.get_index_of(key) {
            self.cow_at_slow(i);
        }
    }

    /// A flush during a cut: the whole map moves into the cut, to be
    /// drained by the walk (entries already saved are skipped there).
    /// Returns false, leaving the map alone, when no cut runs.
    pub(crate) fn retire_map(&mut self) -> bool {
        match self.cut.as_mut() {
            Some(c) => {
                let m = std::mem::take(&mut self.map);
                c.retired.push(m);
                c.remaining = 0;
                true
            }
            None => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::value::{Str, Value};
    use std::collections::BTreeMap;
    use std::sync::{Arc, Mutex};

    type Saved = Arc<Mutex<Vec<(Vec<u8>, Vec<u8>)>>>;

    struct Collect(Saved);
    impl CutSink for Collect {
        fn put(&mut self, key: &[u8], e: &Entry) {
            let v = match &e.value {
                Value::Str(s) => s.to_bytes().to_vec(),
                _ => b"?".to_vec(),
            };
            self.0.lock().unwrap().push((key.to_vec(), v));
        }
        fn finish(&mut self) {}
    }

    fn s(v: &[u8]) -> Value {
        Value::Str(Str::from_bytes(v))
    }

    fn snapshot(db: &Db) -> BTreeMap<Vec<u8>, Vec<u8>> {
        db.iter_live(0)
            .map(|(k, e)| match &e.value {
                Value::Str(s) => (k.to_vec(), s.to_bytes().to_vec()),
                _ => (k.to_vec(), b"?".to_vec()),
            })
            .collect()
    }

    /// Runs a cut while `churn(db, round)` mutates between slices; the
    /// saved set must equal the dataset at the cut, each key once.
    fn check(db: &mut Db, mut churn: impl FnMut(&mut Db, u32)) {
        let want = snapshot(db);
        let saved: Saved = Default::default();
        let meta = db.cut_begin(Box::new(Collect(saved.clone())));
        assert_eq!(meta.keys as usize, db.len());
        let mut round = 0;
        while !db.cut_step(7) {
            churn(db, round);
            round += 1;
        }
        assert!(!db.cut_running());
        let got = saved.lock().unwrap().clone();
        let n = got.len();
        let got: BTreeMap<_, _> = got.into_iter().collect();
        assert_eq!(n, got.len(), "a key saved twice");
        assert_eq!(got, want);
    }

    fn filled(n: u32) -> Db {
        let mut db = Db::default();
        for i in 0..n {
            db.insert(format!("k{i}").as_bytes(), s(format!("v{i}").as_bytes()), 0);
        }
        db
    }

    #[test]
    fn the_epoch_fits_in_the_entry_padding() {
        // value + deadline + LRU clock, rounded to 8: the epoch is free.
        let without = (std::mem::size_of::<Value>() + 8 + 4).next_multiple_of(8);
        assert_eq!(std::mem::size_of::<Entry>(), without);
    }

    #[test]
    fn cut_without_writes_saves_everything_once() {
        let mut db = filled(500);
        check(&mut db, |_, _| {});
        // A second cut saves everything again.
        check(&mut db, |_, _| {});
    }

    #[test]
    fn overwrites_deletes_inserts_and_expiry_during_a_cut() {
        let mut db = filled(1000);
        db.insert_with_expire(b"ttl", s(b"t"), Some(50), 0);
        check(&mut db, |db, r| {
            let i = (r * 37) % 1000;
            db.insert(format!("k{i}").as_bytes(), s(b"new"), 0);
            db.remove(format!("k{}", (r * 11) % 1000).as_bytes());
            db.insert(format!("fresh{r}").as_bytes(), s(b"x"), 0);
            if let Some(e) = db.lookup_write(format!("k{}", (r * 13) % 1000).as_bytes(), 0) {
                e.value = s(b"mutated");
            }
            db.set_expire(format!("k{}", (r * 17) % 1000).as_bytes(), Some(10));
            // Lazy expiry of the key with a deadline.
            db.peek(b"ttl", 100);
            // A key removed and re-added is new.
            let k = format!("k{}", (r * 19) % 1000);
            if let Some(e) = db.remove(k.as_bytes()) {
                db.insert_entry(k.as_bytes(), e);
            }
        });
    }

    #[test]
    fn flush_during_a_cut_keeps_the_cut() {
        let mut db = filled(300);
        check(&mut db, |db, r| {
            if r == 5 {
                db.clear();
            }
            db.insert(format!("after{r}").as_bytes(), s(b"x"), 0);
        });
        // The retired map is gone and later keys are in the next cut.
        check(&mut db, |_, _| {});
    }

    #[test]
    fn swapped_databases_keep_their_cut() {
        let mut a = filled(100);
        let mut b = Db::default();
        let want = snapshot(&a);
        let saved: Saved = Default::default();
        a.cut_begin(Box::new(Collect(saved.clone())));
        a.cut_step(10);
        std::mem::swap(&mut a, &mut b);
        b.insert(b"k1", s(b"changed"), 0);
        a.insert(b"k1", s(b"other"), 0);
        while !b.cut_step(10) {}
        let got: BTreeMap<_, _> = saved.lock().unwrap().clone().into_iter().collect();
        assert_eq!(got, want);
    }
}
