//! The process-wide pub/sub registry and the hub that shards and
//! connections share for everything pushed to clients.
//!
//! Pub/sub lives outside the shard model (DESIGN.md section 7): channels,
//! shard channels and patterns map to the clients subscribed to them,
//! behind read-mostly locks. PUBLISH encodes a message once per protocol
//! and appends it to each receiver's [`Outbox`](crate::outbox::Outbox);
//! it never waits for a receiver. Each connection keeps its own ordered
//! sets of subscriptions ([`ClientSubs`]); the registry mirrors them.
//!
//! Invariants:
//! - a client is in the registry's list for a channel exactly when the
//!   channel is in its own `ClientSubs` (both change under the
//!   connection's own command, registry lock held);
//! - a channel or pattern with no subscriber has no registry entry.

use crate::clients::{ClientInfo, ClientRegistry};
use crate::config::OutputBufferLimit;
use bytes::Bytes;
use indexmap::IndexSet;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock, RwLock};

/// The three namespaces of pub/sub.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// SUBSCRIBE / PUBLISH.
    Channel,
    /// PSUBSCRIBE (patterns over the channel namespace).
    Pattern,
    /// SSUBSCRIBE / SPUBLISH.
    Shard,
}

impl Kind {
    /// The confirmation word of a subscription.
    pub fn subscribe_word(self) -> &'static str {
        match self {
            Kind::Channel => "subscribe",
            Kind::Pattern => "psubscribe",
            Kind::Shard => "ssubscribe",
        }
    }
    /// The confirmation word of an unsubscription.
    pub fn unsubscribe_word(self) -> &'static str {
        match self {
            Kind::Channel => "unsubscribe",
            Kind::Pattern => "punsubscribe",
            Kind::Shard => "sunsubscribe",
        }
    }
}

/// One connection's subscriptions, in subscription order.
#[derive(Default)]
pub struct ClientSubs {
    /// SUBSCRIBE channels.
    pub channels: IndexSet<Bytes>,
    /// PSUBSCRIBE patterns.
    pub patterns: IndexSet<Bytes>,
    /// SSUBSCRIBE shard channels.
    pub shard: IndexSet<Bytes>,
}

impl ClientSubs {
    /// The set of one kind.
    pub fn of(&mut self, kind: Kind) -> &mut IndexSet<Bytes> {
        match kind {
            Kind::Channel => &mut self.channels,
            Kind::Pattern => &mut self.patterns,
            Kind::Shard => &mut self.shard,
        }
    }

    /// Number of subscriptions of one kind.
    pub fn count_of(&self, kind: Kind) -> usize {
        match kind {
            Kind::Channel => self.channels.len(),
            Kind::Pattern => self.patterns.len(),
            Kind::Shard => self.shard.len(),
        }
    }

    /// The count a (un)subscribe confirmation reports: channels plus
    /// patterns, or shard channels alone.
    pub fn count_for(&self, kind: Kind) -> usize {
        match kind {
            Kind::Shard => self.shard.len(),
            _ => self.channels.len() + self.patterns.len(),
        }
    }

    /// True while any subscription holds (Redis's `CLIENT_PUBSUB`).
    pub fn active(&self) -> bool {
        !(self.channels.is_empty() && self.patterns.is_empty() && self.shard.is_empty())
    }
}

type Subscribers = Vec<Arc<ClientInfo>>;

/// Frames (recipient, sequence number) a command pushed to other clients.
type Deliveries = Vec<(Arc<ClientInfo>, u64)>;

/// What shards and connections share for pushing to clients: the
/// pub/sub registry, the output limits, the keyspace-notification flags,
/// client tracking and MONITOR.
pub struct Hub {
    /// Every connected client (redirect targets of tracking).
    pub clients: Arc<ClientRegistry>,
    channels: RwLock<HashMap<Bytes, Subscribers>>,
    shard_channels: RwLock<HashMap<Bytes, Subscribers>>,
    patterns: RwLock<Vec<(Bytes, Subscribers)>>,
    /// Number of channels plus patterns plus shard channels with
    /// subscribers: 0 lets notifications skip building their channels.
    live: AtomicUsize,
    /// `notify-keyspace-events` flags (see `config::notify`).
    pub notify_flags: AtomicU32,
    obuf: RwLock<[OutputBufferLimit; 3]>,
    /// CLIENT TRACKING state.
    pub tracking: crate::tracking::Tracking,
    /// MONITOR clients.
    pub monitors: crate::monitor::Monitors,
    /// Invalidations each running command pushed to other clients.
    deliveries: Mutex<HashMap<u64, Deliveries>>,
    any_deliveries: AtomicBool,
}

/// The longest a writer waits for its invalidations to reach their
/// clients' sockets.
pub const DELIVERY_WAIT: std::time::Duration = std::time::Duration::from_millis(50);

impl Hub {
    /// An empty hub over `clients`.
    pub fn new(clients: Arc<ClientRegistry>) -> Hub {
        Hub {
            clients,
            channels: RwLock::default(),
            shard_channels: RwLock::default(),
            patterns: RwLock::default(),
            live: AtomicUsize::new(0),
            notify_flags: AtomicU32::new(0),
            obuf: RwLock::new(
                [OutputBufferLimit {
                    hard_bytes: 0,
                    soft_bytes: 0,
                    soft_seconds: 0,
                }; 3],
            ),
            tracking: Default::default(),
            monitors: Default::default(),
            deliveries: Mutex::default(),
            any_deliveries: AtomicBool::new(false),
        }
    }

    /// A hub of its own, for handlers run outside a server (unit tests).
    pub fn detached() -> &'static Hub {
        static HUB: OnceLock<Hub> = OnceLock::new();
        HUB.get_or_init(|| Hub::new(Arc::new(ClientRegistry::default())))
    }

    /// Takes the settings the hub consults from a configuration.
    pub fn configure(&self, c: &crate::config::Config) {
        self.notify_flags
            .store(c.notify_keyspace_events(), Ordering::Relaxed);
        if let Ok(mut o) = self.obuf.write() {
            for (i, l) in o.iter_mut().enumerate() {
                *l = c.client_output_buffer_limit(i);
            }
        }
        self.tracking
            .set_max_keys(c.tracking_table_max_keys() as usize);
    }

    /// The output limit for a client: the pubsub class while it has
    /// subscriptions, the normal class otherwise.
    pub fn limit_for(&self, c: &ClientInfo) -> OutputBufferLimit {
        let class = if c.pubsub_active() { 2 } else { 0 };
        self.obuf
            .read()
            .map(|o| o[class])
            .unwrap_or(OutputBufferLimit {
                hard_bytes: 0,
                soft_bytes: 0,
                soft_seconds: 0,
            })
    }

    /// Pushes an encoded frame (`v2` for RESP2 clients, `v3` for RESP3) to
    /// a client, closing it if that takes it over its output limit.
    /// Returns the frame's sequence number in the client's outbox, `None`
    /// if the client is gone or closing.
    pub fn deliver(&self, c: &ClientInfo, v2: &Bytes, v3: &Bytes, deferred: bool) -> Option<u64> {
        let frame = if c.resp.load(Ordering::Relaxed) == 3 {
            v3.clone()
        } else {
            v2.clone()
        };
        match c.outbox.push(frame, deferred, self.limit_for(c)) {
            Ok(seq) => Some(seq),
            Err(crate::outbox::Overflow::JustExceeded) => {
                tracing::warn!(
                    "Client id={} addr={} scheduled to be closed ASAP for overcoming of output buffer limits.",
                    c.id,
                    c.addr
                );
                crate::outbox::OBUF_DISCONNECTIONS.fetch_add(1, Ordering::Relaxed);
                c.kill();
                None
            }
            Err(crate::outbox::Overflow::Dead) => None,
        }
    }

    /// Remembers that the command client `current` runs pushed frame `seq`
    /// to `to` (a cache invalidation): its reply waits for it, see
    /// [`Hub::await_deliveries`].
    pub fn note_delivery(&self, current: u64, to: Arc<ClientInfo>, seq: u64) {
        if current == 0 || to.id == current {
            return;
        }
        if let Ok(mut m) = self.deliveries.lock() {
            m.entry(current).or_default().push((to, seq));
            self.any_deliveries.store(true, Ordering::Relaxed);
        }
    }

    /// False when no delivery is awaited by anyone: the per-request check
    /// that skips [`Hub::await_deliveries`].
    pub fn maybe_deliveries(&self) -> bool {
        self.any_deliveries.load(Ordering::Relaxed)
    }

    /// Before client `current` gets its reply: waits until the
    /// invalidations its command caused were offered to their clients'
    /// sockets, as Redis writes them in the same event-loop turn as the
    /// reply. So a client that saw the reply of a write never serves the
    /// old value from its cache. Bounded: a recipient whose socket is full
    /// (it stopped reading) delays the writer by at most
    /// [`DELIVERY_WAIT`].
    pub async fn await_deliveries(&self, current: u64) {
        if !self.any_deliveries.load(Ordering::Relaxed) {
            return;
        }
        let mine = match self.deliveries.lock() {
            Ok(mut m) => {
                let v = m.remove(&current);
                if m.is_empty() {
                    self.any_deliveries.store(false, Ordering::Relaxed);
                }
                v
            }
            Err(_) => None,
        };
        let Some(mine) = mine else {
            return;
        };
        let all = async {
            for (to, seq) in &mine {
                to.outbox.wait_acked(*seq).await;
            }
        };
        let _ = tokio::time::timeout(DELIVERY_WAIT, all).await;
    }

    fn map(&self, kind: Kind) -> &RwLock<HashMap<Bytes, Subscribers>> {
        match kind {
            Kind::Shard => &self.shard_channels,
            _ => &self.channels,
        }
    }

    /// Adds `c` to the subscribers of `name`. The caller checked that it
    /// was not subscribed yet.
    pub fn subscribe(&self, kind: Kind, name: &Bytes, c: &Arc<ClientInfo>) {
        if kind == Kind::Pattern {
            if let Ok(mut p) = self.patterns.write() {
                match p.iter_mut().find(|(n, _)| n == name) {
                    Some((_, subs)) => subs.push(c.clone()),
                    None => {
                        p.push((name.clone(), vec![c.clone()]));
                        self.live.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
            return;
        }
        if let Ok(mut m) = self.map(kind).write() {
            let subs = m.entry(name.clone()).or_insert_with(|| {
                self.live.fetch_add(1, Ordering::Relaxed);
                Vec::new()
            });
            subs.push(c.clone());
        }
    }

    /// Removes client `id` from the subscribers of `name`.
    pub fn unsubscribe(&self, kind: Kind, name: &[u8], id: u64) {
        if kind == Kind::Pattern {
            if let Ok(mut p) = self.patterns.write() {
                if let Some(i) = p.iter().position(|(n, _)| n == name) {
                    p[i].1.retain(|c| c.id != id);
                    if p[i].1.is_empty() {
                        p.remove(i);
                        self.live.fetch_sub(1, Ordering::Relaxed);
                    }
                }
            }
            return;
        }
        if let Ok(mut m) = self.map(kind).write() {
            if let Some(subs) = m.get_mut(name) {
                subs.retain(|c| c.id != id);
                if subs.is_empty() {
                    m.remove(name);
                    self.live.fetch_sub(1, Ordering::Relaxed);
                }
            }
        }
    }

    /// True when nobody is subscribed to anything.
    pub fn is_quiet(&self) -> bool {
        self.live.load(Ordering::Relaxed) == 0
    }

    /// PUBLISH (or SPUBLISH with `shard`): delivers `msg` to the channel's
    /// subscribers and, for PUBLISH, to matching patterns' subscribers.
    /// Returns the number of deliveries.
    pub fn publish(&self, shard: bool, channel: &[u8], msg: &[u8]) -> usize {
        if self.is_quiet() {
            return 0;
        }
        let mut n = 0;
        let kind = if shard { Kind::Shard } else { Kind::Channel };
        if let Ok(m) = self.map(kind).read() {
            if let Some(subs) = m.get(channel) {
                let word: &[u8] = if shard { b"smessage" } else { b"message" };
                let (v2, v3) = frames(&[word, channel, msg]);
                for c in subs {
                    if self.deliver(c, &v2, &v3, false).is_some() {
                        n += 1;
                    }
                }
            }
        }
        if shard {
            return n;
        }
        if let Ok(p) = self.patterns.read() {
            for (pat, subs) in p.iter() {
                if storage::glob::glob_match(pat, channel, false) {
                    let (v2, v3) = frames(&[b"pmessage", pat, channel, msg]);
                    for c in subs {
                        if self.deliver(c, &v2, &v3, false).is_some() {
                            n += 1;
                        }
                    }
                }
            }
        }
        n
    }

    /// PUBSUB CHANNELS / SHARDCHANNELS: active channels matching `pattern`.
    pub fn channel_names(&self, shard: bool, pattern: Option<&[u8]>) -> Vec<Bytes> {
        let kind = if shard { Kind::Shard } else { Kind::Channel };
        self.map(kind)
            .read()
            .map(|m| {
                m.keys()
                    .filter(|c| pattern.is_none_or(|p| storage::glob::glob_match(p, c, false)))
                    .cloned()
                    .collect()
            })
            .unwrap_or_default()
    }

    /// PUBSUB NUMSUB / SHARDNUMSUB for one channel.
    pub fn numsub(&self, shard: bool, channel: &[u8]) -> usize {
        let kind = if shard { Kind::Shard } else { Kind::Channel };
        self.map(kind)
            .read()
            .map(|m| m.get(channel).map_or(0, |s| s.len()))
            .unwrap_or(0)
    }

    /// PUBSUB NUMPAT: patterns with subscribers.
    pub fn numpat(&self) -> usize {
        self.patterns.read().map(|p| p.len()).unwrap_or(0)
    }

    /// INFO's (pubsub_channels, pubsubshard_channels).
    pub fn channel_counts(&self) -> (usize, usize) {
        let c = self.channels.read().map(|m| m.len()).unwrap_or(0);
        let s = self.shard_channels.read().map(|m| m.len()).unwrap_or(0);
        (c, s)
    }
}

/// Encodes a push of bulk strings for RESP2 (`*`) and RESP3 (`>`).
pub fn frames(parts: &[&[u8]]) -> (Bytes, Bytes) {
    let mut out = Vec::with_capacity(16 + parts.iter().map(|p| p.len() + 16).sum::<usize>());
    out.push(b'*');
    out.extend_from_slice(parts.len().to_string().as_bytes());
    out.extend_from_slice(b"\r\n");
    for p in parts {
        out.push(b'$');
        out.extend_from_slice(p.len().to_string().as_bytes());
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(p);
        out.extend_from_slice(b"\r\n");
    }
    let v2 = Bytes::from(out.clone());
    out[0] = b'>';
    (v2, Bytes::from(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_differ_only_in_the_type_byte() {
        let (a, b) = frames(&[b"message", b"ch", b"hi"]);
        assert_eq!(&a[..], b"*3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$2\r\nhi\r\n");
        assert_eq!(b[0], b'>');
        assert_eq!(a[1..], b[1..]);
    }

    #[test]
    fn counts_follow_kinds() {
        let mut s = ClientSubs::default();
        s.of(Kind::Channel).insert(Bytes::from_static(b"a"));
        s.of(Kind::Pattern).insert(Bytes::from_static(b"p*"));
        s.of(Kind::Shard).insert(Bytes::from_static(b"s"));
        assert_eq!(s.count_for(Kind::Channel), 2);
        assert_eq!(s.count_for(Kind::Pattern), 2);
        assert_eq!(s.count_for(Kind::Shard), 1);
        assert!(s.active());
    }
}
