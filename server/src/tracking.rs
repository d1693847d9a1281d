//! Client-side caching: CLIENT TRACKING's server half (Redis's
//! `tracking.c`).
//!
//! One process-wide table, since keys live on every shard and any shard
//! may modify a key another connection read:
//! - default mode: key -> ids of the clients that read it; a modification
//!   removes the key and sends each of them one invalidation;
//! - BCAST mode: prefix -> clients; a modification of a matching key is
//!   remembered, and [`Tracking::flush_broadcasts`] (called by dispatch
//!   after each write command) sends each client one invalidation with
//!   every key collected, as Redis does once per event-loop turn.
//!
//! Invalidations travel as RESP3 `invalidate` pushes, or, redirected to a
//! RESP2 client in pub/sub mode, as `message`s on `__redis__:invalidate`.
//! A frame for the client that is running the command goes after that
//! command's reply (Redis's `tracking_pending_keys`).
//!
//! Invariants: `active` is the number of clients with tracking on; while
//! it is 0 the modified-key signal costs one atomic load.

use crate::clients::ClientInfo;
use crate::pubsub::Hub;
use bytes::Bytes;
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

/// The channel of redirected invalidations for RESP2 clients.
pub const INVALIDATE_CHANNEL: &[u8] = b"__redis__:invalidate";

/// A client's tracking options (CLIENT TRACKING ON ...).
#[derive(Clone, Default, Debug, PartialEq, Eq)]
pub struct Options {
    /// REDIRECT id (0: none).
    pub redirect: u64,
    /// BCAST.
    pub bcast: bool,
    /// OPTIN.
    pub optin: bool,
    /// OPTOUT.
    pub optout: bool,
    /// NOLOOP.
    pub noloop: bool,
}

struct Tracked {
    info: Arc<ClientInfo>,
    opts: Options,
    prefixes: BTreeSet<Bytes>,
    broken_redirect: bool,
}

#[derive(Default)]
struct Prefix {
    clients: BTreeSet<u64>,
    /// Keys modified since the last broadcast, with who modified them.
    pending: Vec<(Bytes, u64)>,
}

#[derive(Default)]
struct State {
    clients: HashMap<u64, Tracked>,
    keys: HashMap<Bytes, HashSet<u64>>,
    items: usize,
    prefixes: BTreeMap<Bytes, Prefix>,
    pending_bcast: bool,
}

/// What CLIENT TRACKINGINFO reports.
pub struct Info {
    /// Flags after `on`/`off` (bcast, optin, optout, noloop, broken_redirect).
    pub opts: Options,
    /// REDIRECT id.
    pub redirect: u64,
    /// BCAST prefixes, sorted.
    pub prefixes: Vec<Bytes>,
    /// The redirect target disconnected.
    pub broken_redirect: bool,
}

/// The tracking table.
#[derive(Default)]
pub struct Tracking {
    state: Mutex<State>,
    active: AtomicUsize,
    max_keys: AtomicUsize,
}

/// What a client-side invalidation carries.
enum Payload<'a> {
    Keys(&'a [Bytes]),
    /// FLUSHDB / FLUSHALL: everything (a null).
    All,
}

impl Tracking {
    /// True while some client has tracking on.
    pub fn active(&self) -> bool {
        self.active.load(Ordering::Relaxed) > 0
    }

    /// `tracking-table-max-keys` (0: no limit).
    pub fn set_max_keys(&self, n: usize) {
        self.max_keys.store(n, Ordering::Relaxed);
    }

    /// Turns tracking on (or changes its options) for `info`, with BCAST
    /// `prefixes` (already checked). Prefixes add to earlier ones.
    pub fn enable(&self, info: &Arc<ClientInfo>, opts: Options, prefixes: &[Bytes]) {
        let Ok(mut s) = self.state.lock() else {
            return;
        };
        let id = info.id;
        let bcast = opts.bcast;
        let t = s.clients.entry(id).or_insert_with(|| {
            self.active.fetch_add(1, Ordering::Relaxed);
            Tracked {
                info: info.clone(),
                opts: Options::default(),
                prefixes: BTreeSet::new(),
                broken_redirect: false,
            }
        });
        t.opts = opts;
        t.broken_redirect = false;
        let mut add = Vec::new();
        if bcast {
            if prefixes.is_empty() {
                add.push(Bytes::new());
            }
            add.extend(prefixes.iter().cloned());
            for p in &add {
                t.prefixes.insert(p.clone());
            }
        }
        for p in add {
            s.prefixes.entry(p).or_default().clients.insert(id);
        }
    }

    /// Turns tracking off for client `id` (CLIENT TRACKING OFF, RESET,
    /// disconnect). Keys it read stay in the table until modified, as in Redis.
    pub fn disable(&self, id: u64) {
        let Ok(mut s) = self.state.lock() else {
            return;
        };
        if let Some(t) = s.clients.remove(&id) {
            self.active.fetch_sub(1, Ordering::Relaxed);
            for p in t.prefixes {
                if let Some(e) = s.prefixes.get_mut(&p) {
                    e.clients.remove(&id);
                    if e.clients.is_empty() {
                        s.prefixes.remove(&p);
                    }
                }
            }
        }
    }

    /// The options of client `id`, if tracking is on.
    pub fn info(&self, id: u64) -> Option<Info> {
        let s = self.state.lock().ok()?;
        let t = s.clients.get(&id)?;
        Some(Info {
            opts: t.opts.clone(),
            redirect: t.opts.redirect,
            prefixes: t.prefixes.iter().cloned().collect(),
            broken_redirect: t.broken_redirect,
        })
    }

    /// The BCAST prefixes of client `id` that overlap `p` (one is a
    /// prefix of the other), for CLIENT TRACKING's collision check.
    pub fn overlapping_prefix(&self, id: u64, p: &[u8]) -> Option<Bytes> {
        let s = self.state.lock().ok()?;
        let t = s.clients.get(&id)?;
        t.prefixes.iter().find(|q| overlaps(q, p)).cloned()
    }

    /// Remembers that client `id` read `keys` (default mode).
    pub fn remember(&self, hub: &Hub, id: u64, keys: &[&[u8]]) {
        let evicted = {
            let Ok(mut s) = self.state.lock() else {
                return;
            };
            for k in keys {
                let ids = match s.keys.get_mut(*k) {
                    Some(ids) => ids,
                    None => s.keys.entry(Bytes::copy_from_slice(k)).or_default(),
                };
                if ids.insert(id) {
                    s.items += 1;
                }
            }
            // tracking-table-max-keys: invalidate keys beyond the limit.
            let max = self.max_keys.load(Ordering::Relaxed);
            let mut out = Vec::new();
            if max > 0 {
                while s.keys.len() > max {
                    let Some(k) = s.keys.keys().next().cloned() else {
                        break;
                    };
                    out.push(k);
                    let over = s.keys.len() - max;
                    if out.len() >= over {
                        break;
                    }
                }
            }
            out
        };
        for k in evicted {
            self.invalidate(hub, &k, 0, id);
        }
    }

    /// The modified-key signal's tracking half: sends invalidations for
    /// `key` to the clients that read it and records it for BCAST
    /// prefixes. `current` is the client running the command (0: none).
    pub fn invalidate(&self, hub: &Hub, key: &[u8], modifier: u64, current: u64) {
        let targets: Vec<(Arc<ClientInfo>, Options)> = {
            let Ok(mut s) = self.state.lock() else {
                return;
            };
            if !s.prefixes.is_empty() {
                let mut hit = false;
                for (p, e) in s.prefixes.iter_mut() {
                    if key.starts_with(p) {
                        e.pending.push((Bytes::copy_from_slice(key), modifier));
                        hit = true;
                    }
                }
                s.pending_bcast |= hit;
            }
            let Some(ids) = s.keys.remove(key) else {
                return;
            };
            s.items -= ids.len();
            ids.into_iter()
                .filter_map(|id| s.clients.get(&id))
                .filter(|t| !t.opts.bcast)
                .filter(|t| !(t.opts.noloop && t.info.id == modifier))
                .map(|t| (t.info.clone(), t.opts.clone()))
                .collect()
        };
        let keys = [Bytes::copy_from_slice(key)];
        for (info, opts) in targets {
            self.send(hub, &info, &opts, Payload::Keys(&keys), current);
        }
    }

    /// Sends the BCAST invalidations collected since the last call.
    pub fn flush_broadcasts(&self, hub: &Hub, current: u64) {
        let work: Vec<(Arc<ClientInfo>, Options, Vec<Bytes>)> = {
            let Ok(mut s) = self.state.lock() else {
                return;
            };
            if !s.pending_bcast {
                return;
            }
            s.pending_bcast = false;
            let mut work = Vec::new();
            let State {
                clients, prefixes, ..
            } = &mut *s;
            for e in prefixes.values_mut() {
                if e.pending.is_empty() {
                    continue;
                }
                let pending = std::mem::take(&mut e.pending);
                for id in &e.clients {
                    let Some(t) = clients.get(id) else { continue };
                    let keys: Vec<Bytes> = pending
                        .iter()
                        .filter(|(_, by)| !(t.opts.noloop && *by == *id))
                        .map(|(k, _)| k.clone())
                        .collect();
                    if !keys.is_empty() {
                        work.push((t.info.clone(), t.opts.clone(), keys));
                    }
                }
            }
            work
        };
        for (info, opts, keys) in work {
            self.send(hub, &info, &opts, Payload::Keys(&keys), current);
        }
    }

    /// FLUSHDB / FLUSHALL: every tracking client gets a null invalidation,
    /// and the table is emptied.
    pub fn flush_all(&self, hub: &Hub, current: u64) {
        let targets: Vec<(Arc<ClientInfo>, Options)> = {
            let Ok(mut s) = self.state.lock() else {
                return;
            };
            s.keys.clear();
            s.items = 0;
            s.clients
                .values()
                .map(|t| (t.info.clone(), t.opts.clone()))
                .collect()
        };
        for (info, opts) in targets {
            self.send(hub, &info, &opts, Payload::All, current);
        }
    }

    /// INFO's (tracking_total_keys, tracking_total_items,
    /// tracking_total_prefixes, tracking_clients).
    pub fn counts(&self) -> (usize, usize, usize, usize) {
        self.state
            .lock()
            .map(|s| (s.keys.len(), s.items, s.prefixes.len(), s.clients.len()))
            .unwrap_or_default()
    }

    /// Redis's `sendTrackingMessage`.
    fn send(
        &self,
        hub: &Hub,
        c: &Arc<ClientInfo>,
        opts: &Options,
        what: Payload<'_>,
        current: u64,
    ) {
        let (to, redirected) = if opts.redirect != 0 {
            match hub.clients.get(opts.redirect) {
                Some(r) => (r, true),
                None => {
                    c.tracking_flags
                        .fetch_or(crate::clients::tflags::BROKEN, Ordering::Relaxed);
                    if let Ok(mut s) = self.state.lock() {
                        if let Some(t) = s.clients.get_mut(&c.id) {
                            t.broken_redirect = true;
                        }
                    }
                    if c.resp.load(Ordering::Relaxed) == 3 {
                        let mut f = b">2\r\n$21\r\ntracking-redir-broken\r\n:".to_vec();
                        f.extend_from_slice(opts.redirect.to_string().as_bytes());
                        f.extend_from_slice(b"\r\n");
                        let f = Bytes::from(f);
                        hub.deliver(c, &f, &f, c.id == current);
                    }
                    return;
                }
            }
        } else {
            (c.clone(), false)
        };
        let resp3 = to.resp.load(Ordering::Relaxed) == 3;
        let mut f = Vec::new();
        if resp3 {
            f.extend_from_slice(b">2\r\n$10\r\ninvalidate\r\n");
        } else if redirected && to.pubsub_active() {
            f.extend_from_slice(b"*3\r\n$7\r\nmessage\r\n$20\r\n__redis__:invalidate\r\n");
        } else {
            // A RESP2 client without a redirect to a subscriber: nothing
            // can carry the message.
            return;
        }
        match what {
            Payload::Keys(keys) => {
                f.push(b'*');
                f.extend_from_slice(keys.len().to_string().as_bytes());
                f.extend_from_slice(b"\r\n");
                for k in keys {
                    f.push(b'$');
                    f.extend_from_slice(k.len().to_string().as_bytes());
                    f.extend_from_slice(b"\r\n");
                    f.extend_from_slice(k);
                    f.extend_from_slice(b"\r\n");
                }
            }
            // The null of the tracking client's own protocol (Redis).
            Payload::All => {
                if c.resp.load(Ordering::Relaxed) == 3 {
                    f.extend_from_slice(b"_\r\n");
                } else {
                    f.extend_from_slice(b"$-1\r\n");
                }
            }
        }
        let f = Bytes::from(f);
        if let Some(seq) = hub.deliver(&to, &f, &f, to.id == current) {
            hub.note_delivery(current, to, seq);
        }
    }
}

/// Redis's `stringCheckPrefix`: one of the two is a prefix of the other.
pub fn overlaps(a: &[u8], b: &[u8]) -> bool {
    let n = a.len().min(b.len());
    a[..n] == b[..n]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overlap_is_symmetric_prefix() {
        assert!(overlaps(b"a", b"ab"));
        assert!(overlaps(b"ab", b"a"));
        assert!(overlaps(b"", b"x"));
        assert!(!overlaps(b"ab", b"ac"));
    }
}
