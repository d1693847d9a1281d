//! The process-wide script cache: bodies by SHA1.
//!
//! Every worker's engine compiles bodies from here on demand, so a script
//! loaded (or EVAL'd) through one connection runs by EVALSHA on any other.
//! `SCRIPT FLUSH` empties it and bumps the generation, which tells engines
//! to drop their compiled copies.

use bytes::Bytes;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::RwLock;

/// Script bodies by lower-case hex SHA1.
#[derive(Default)]
pub struct ScriptCache {
    bodies: RwLock<HashMap<String, Bytes>>,
    generation: AtomicU64,
}

impl ScriptCache {
    /// Stores `body` under `sha`.
    pub fn insert(&self, sha: String, body: Bytes) {
        if let Ok(mut m) = self.bodies.write() {
            m.entry(sha).or_insert(body);
        }
    }

    /// The body of `sha` (any case), if cached.
    pub fn get(&self, sha: &[u8]) -> Option<Bytes> {
        let key = normalize(sha)?;
        self.bodies.read().ok()?.get(&key).cloned()
    }

    /// True if `sha` (any case) is cached.
    pub fn contains(&self, sha: &[u8]) -> bool {
        match normalize(sha) {
            Some(key) => self
                .bodies
                .read()
                .map(|m| m.contains_key(&key))
                .unwrap_or(false),
            None => false,
        }
    }

    /// Empties the cache (SCRIPT FLUSH).
    pub fn flush(&self) {
        if let Ok(mut m) = self.bodies.write() {
            m.clear();
        }
        self.generation.fetch_add(1, Ordering::Release);
    }

    /// Bumped by every flush.
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// Number of cached scripts (INFO's `number_of_cached_scripts`).
    pub fn len(&self) -> usize {
        self.bodies.read().map(|m| m.len()).unwrap_or(0)
    }

    /// True when no script is cached.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Total bytes of the cached bodies (INFO's `used_memory_scripts_eval`).
    pub fn bytes(&self) -> usize {
        self.bodies
            .read()
            .map(|m| m.iter().map(|(k, v)| k.len() + v.len()).sum())
            .unwrap_or(0)
    }
}

/// A 40-hex-digit SHA1 in lower case; `None` for anything else.
fn normalize(sha: &[u8]) -> Option<String> {
    if sha.len() != 40 || !sha.iter().all(|c| c.is_ascii_hexdigit()) {
        return None;
    }
    Some(String::from_utf8_lossy(sha).to_ascii_lowercase())
}
