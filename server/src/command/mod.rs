//! The command table: one row of data per command.
//!
//! Everything about a command that is not its behaviour lives in its row:
//! arity, flags, key positions, ACL categories, docs. Dispatch (arity, auth,
//! routing), `COMMAND` and its subcommands all read the rows; nothing else
//! keeps command knowledge. Family modules under `commands/` each export a
//! slice of rows; [`table`] joins them once at start-up.

pub mod args;
pub mod table;

use crate::conn::ConnCtx;
use bytes::Bytes;
use std::future::Future;
use std::pin::Pin;
use storage::{CmdResult, Reply, Shard};

/// Command flags, as `COMMAND INFO` names them.
pub mod flags {
    pub const WRITE: u32 = 1 << 0;
    pub const READONLY: u32 = 1 << 1;
    pub const DENYOOM: u32 = 1 << 2;
    pub const ADMIN: u32 = 1 << 3;
    pub const PUBSUB: u32 = 1 << 4;
    pub const NOSCRIPT: u32 = 1 << 5;
    pub const BLOCKING: u32 = 1 << 6;
    pub const LOADING: u32 = 1 << 7;
    pub const STALE: u32 = 1 << 8;
    pub const SKIP_MONITOR: u32 = 1 << 9;
    pub const SKIP_SLOWLOG: u32 = 1 << 10;
    pub const FAST: u32 = 1 << 11;
    pub const NO_AUTH: u32 = 1 << 12;
    pub const MAY_REPLICATE: u32 = 1 << 13;
    pub const SENTINEL: u32 = 1 << 14;
    pub const NO_MANDATORY_KEYS: u32 = 1 << 15;
    pub const NO_ASYNC_LOADING: u32 = 1 << 16;
    pub const NO_MULTI: u32 = 1 << 17;
    pub const MOVABLEKEYS: u32 = 1 << 18;
    pub const ALLOW_BUSY: u32 = 1 << 19;

    /// Names in the order Redis prints them.
    pub const NAMES: &[(u32, &str)] = &[
        (WRITE, "write"),
        (READONLY, "readonly"),
        (DENYOOM, "denyoom"),
        (ADMIN, "admin"),
        (PUBSUB, "pubsub"),
        (NOSCRIPT, "noscript"),
        (BLOCKING, "blocking"),
        (LOADING, "loading"),
        (STALE, "stale"),
        (SKIP_MONITOR, "skip_monitor"),
        (SKIP_SLOWLOG, "skip_slowlog"),
        (FAST, "fast"),
        (NO_AUTH, "no_auth"),
        (MAY_REPLICATE, "may_replicate"),
        (SENTINEL, "sentinel"),
        (NO_MANDATORY_KEYS, "no_mandatory_keys"),
        (NO_ASYNC_LOADING, "no_async_loading"),
        (NO_MULTI, "no_multi"),
        (MOVABLEKEYS, "movablekeys"),
        (ALLOW_BUSY, "allow_busy"),
    ];
}

/// The positions of a request's keys in its argv. Inline for up to four
/// keys: computed for every request, so it must not allocate.
pub type KeyPositions = smallvec::SmallVec<[usize; 4]>;

/// Where a command's keys are, for routing and `COMMAND GETKEYS`.
#[derive(Clone, Copy)]
pub enum Keys {
    /// No keys.
    None,
    /// Redis's legacy (first, last, step); `last` negative counts from the end.
    Range {
        first: usize,
        last: i32,
        step: usize,
    },
    /// A count argument at `numkeys` followed by that many keys; `extra` is
    /// an additional fixed key position before it (e.g. a destination), 0 for none.
    NumKeys { numkeys: usize, extra: usize },
    /// Computed from the arguments (e.g. keys after a keyword).
    Custom(fn(&[Bytes]) -> Result<Vec<usize>, &'static str>),
}

/// The execution context of a command that runs on the shard owning its keys.
pub struct ShardCtx<'a> {
    /// The shard.
    pub shard: &'a mut Shard,
    /// The client's selected database.
    pub db: usize,
    /// Whether lookups refresh the access clock (CLIENT NO-TOUCH turns this off).
    pub touch: bool,
    /// The server-wide settings shards need.
    pub limits: &'a crate::server::Limits,
    /// Where keyspace events and invalidations go (see `notify`).
    pub hub: &'a crate::pubsub::Hub,
    /// The client running the command (0: none), for tracking's NOLOOP.
    pub client: u64,
}

/// A handler that runs on one shard: inline when the shard is the
/// connection's own, otherwise by a message to the owning shard.
pub type ShardFn = fn(&mut ShardCtx<'_>, &[Bytes]) -> CmdResult<Reply>;

/// A boxed future for asynchronous handlers.
pub type CmdFuture<'a> = Pin<Box<dyn Future<Output = CmdResult<Reply>> + 'a>>;

/// A handler that coordinates across shards or uses connection state.
pub type CoordFn = for<'a> fn(&'a mut ConnCtx, Vec<Bytes>) -> CmdFuture<'a>;

/// How a command runs.
#[derive(Clone, Copy)]
pub enum Exec {
    /// On the shard of its keys. When the keys span several shards, they are
    /// gathered under a multi-shard transaction (see `dispatch`).
    Shard(ShardFn),
    /// On the connection, possibly talking to several shards.
    Coord(CoordFn),
    /// A container whose subcommands are rows of their own.
    Container,
}

/// One row of the command table.
pub struct CommandSpec {
    /// Lower-case name (`get`, or `setname` for a subcommand).
    pub name: &'static str,
    /// Redis's arity: exact count, or negative for "at least".
    pub arity: i32,
    /// Bits from [`flags`].
    pub flags: u32,
    /// ACL categories without the `@`, as `COMMAND INFO` lists them.
    pub acl: &'static [&'static str],
    /// Key positions.
    pub keys: Keys,
    /// Command tips (`nondeterministic_output`, ...).
    pub tips: &'static [&'static str],
    /// The group `COMMAND DOCS` reports (`string`, `generic`, ...).
    pub group: &'static str,
    /// The version that introduced it.
    pub since: &'static str,
    /// One-line summary.
    pub summary: &'static str,
    /// Time complexity text.
    pub complexity: &'static str,
    /// The handler.
    pub exec: Exec,
    /// Subcommands (for containers such as CLIENT).
    pub subcommands: &'static [CommandSpec],
    /// Key specifications as `COMMAND INFO` reports them. Empty means
    /// "derive one from `keys`" (see [`CommandSpec::derived_key_specs`]).
    pub key_specs: &'static [KeySpec],
    /// `COMMAND DOCS` doc flags (`deprecated`, `syscmd`).
    pub doc_flags: &'static [&'static str],
    /// `COMMAND DOCS` deprecated_since (empty for none).
    pub deprecated_since: &'static str,
    /// `COMMAND DOCS` replaced_by (empty for none).
    pub replaced_by: &'static str,
    /// `COMMAND DOCS` history: (version, what changed).
    pub history: &'static [(&'static str, &'static str)],
}

/// How `COMMAND INFO` finds where a key specification's keys begin.
#[derive(Clone, Copy, Debug)]
pub enum BeginSearch {
    /// At a fixed argument index.
    Index(i32),
    /// After the first (or, with a negative `startfrom`, last) occurrence of a keyword.
    Keyword {
        /// The keyword, upper case as Redis prints it.
        keyword: &'static str,
        /// Where to start looking (negative counts from the end).
        startfrom: i32,
    },
    /// Not expressible.
    Unknown,
}

/// How `COMMAND INFO` finds a key specification's keys from where they begin.
#[derive(Clone, Copy, Debug)]
pub enum FindKeys {
    /// A range: `lastkey` relative to the first key (negative from the end),
    /// `keystep`, and `limit` (0, or a divisor of the remaining arguments).
    Range {
        /// Last key, relative to the first one.
        lastkey: i32,
        /// Step between keys.
        keystep: i32,
        /// 0, or the remaining arguments divided by this.
        limit: i32,
    },
    /// A count argument then the keys.
    KeyNum {
        /// Index of the count, relative to the begin-search result.
        keynumidx: i32,
        /// Index of the first key, relative to the begin-search result.
        firstkey: i32,
        /// Step between keys.
        keystep: i32,
    },
    /// Not expressible.
    Unknown,
}

/// One key specification (Redis 7's `key_specs` entry).
#[derive(Clone, Copy, Debug)]
pub struct KeySpec {
    /// Flags such as `RW`, `RO`, `OW`, `RM`, `access`, `update`, `insert`,
    /// `delete`, `not_key`, `incomplete`, `variable_flags`.
    pub flags: &'static [&'static str],
    /// Where the keys begin.
    pub begin: BeginSearch,
    /// How the keys follow.
    pub find: FindKeys,
    /// Free text `COMMAND INFO` prints first as `notes` (empty for none).
    pub notes: &'static str,
}

impl KeySpec {
    /// A key specification without notes.
    pub const fn new(flags: &'static [&'static str], begin: BeginSearch, find: FindKeys) -> Self {
        KeySpec {
            flags,
            begin,
            find,
            notes: "",
        }
    }
    /// The common case: one key at argument `index`.
    pub const fn at(flags: &'static [&'static str], index: i32) -> Self {
        KeySpec::new(
            flags,
            BeginSearch::Index(index),
            FindKeys::Range {
                lastkey: 0,
                keystep: 1,
                limit: 0,
            },
        )
    }
    /// Keys from argument `index` to `lastkey` (relative to `index`, or
    /// negative from the end), every `keystep`.
    pub const fn range(
        flags: &'static [&'static str],
        index: i32,
        lastkey: i32,
        keystep: i32,
    ) -> Self {
        KeySpec::new(
            flags,
            BeginSearch::Index(index),
            FindKeys::Range {
                lastkey,
                keystep,
                limit: 0,
            },
        )
    }
    /// Sets the notes.
    pub const fn notes(mut self, notes: &'static str) -> Self {
        self.notes = notes;
        self
    }
}

impl CommandSpec {
    /// True if the row has flag `f`.
    pub fn has(&self, f: u32) -> bool {
        self.flags & f != 0
    }

    /// Positions of the keys in `argv` (argv[0] is the command name).
    pub fn key_positions(&self, argv: &[Bytes]) -> Result<KeyPositions, &'static str> {
        match self.keys {
            Keys::None => Ok(KeyPositions::new()),
            Keys::Range { first, last, step } => {
                let n = argv.len() as i64;
                let last = if last < 0 {
                    n + last as i64
                } else {
                    last as i64
                };
                let mut v = KeyPositions::new();
                let mut i = first as i64;
                while i <= last && i < n {
                    v.push(i as usize);
                    i += step.max(1) as i64;
                }
                Ok(v)
            }
            Keys::NumKeys { numkeys, extra } => {
                let mut v = KeyPositions::new();
                if extra > 0 {
                    v.push(extra);
                }
                let count = argv
                    .get(numkeys)
                    .and_then(|b| storage::numfmt::parse_i64(b))
                    .ok_or("ERR value is not an integer or out of range")?;
                if count < 0 {
                    return Err("ERR Number of keys can't be negative");
                }
                let count = count as usize;
                if count > argv.len().saturating_sub(numkeys + 1) {
                    return Err("ERR Number of keys can't be greater than number of args");
                }
                v.extend((numkeys + 1)..(numkeys + 1 + count));
                Ok(v)
            }
            Keys::Custom(f) => f(argv).map(KeyPositions::from_vec),
        }
    }

    /// The legacy (first, last, step) triple `COMMAND INFO` reports.
    pub fn legacy_range(&self) -> (i64, i64, i64) {
        match self.keys {
            Keys::None | Keys::Custom(_) | Keys::NumKeys { .. } => (0, 0, 0),
            Keys::Range { first, last, step } => (first as i64, last as i64, step as i64),
        }
    }

    /// The name `COMMAND` and error texts use (`client|setname` for subcommands).
    pub fn full_name(&self, parent: Option<&CommandSpec>) -> String {
        match parent {
            Some(p) => format!("{}|{}", p.name, self.name),
            None => self.name.to_string(),
        }
    }
}

/// A row with defaults; family modules fill in what differs.
pub const fn row(
    name: &'static str,
    arity: i32,
    flags: u32,
    keys: Keys,
    exec: Exec,
) -> CommandSpec {
    CommandSpec {
        name,
        arity,
        flags,
        acl: &[],
        keys,
        tips: &[],
        group: "generic",
        since: "1.0.0",
        summary: "",
        complexity: "",
        exec,
        subcommands: &[],
        key_specs: &[],
        doc_flags: &[],
        deprecated_since: "",
        replaced_by: "",
        history: &[],
    }
}

impl CommandSpec {
    /// Sets the ACL categories.
    pub const fn acl(mut self, acl: &'static [&'static str]) -> Self {
        self.acl = acl;
        self
    }
    /// Sets the tips.
    pub const fn tips(mut self, tips: &'static [&'static str]) -> Self {
        self.tips = tips;
        self
    }
    /// Sets the docs fields.
    pub const fn doc(
        mut self,
        group: &'static str,
        since: &'static str,
        summary: &'static str,
        complexity: &'static str,
    ) -> Self {
        self.group = group;
        self.since = since;
        self.summary = summary;
        self.complexity = complexity;
        self
    }
    /// Sets the subcommands.
    pub const fn subs(mut self, subs: &'static [CommandSpec]) -> Self {
        self.subcommands = subs;
        self
    }
    /// Sets the `COMMAND DOCS` history.
    pub const fn history(mut self, history: &'static [(&'static str, &'static str)]) -> Self {
        self.history = history;
        self
    }
    /// Sets the `COMMAND DOCS` doc flags.
    pub const fn doc_flags(mut self, flags: &'static [&'static str]) -> Self {
        self.doc_flags = flags;
        self
    }
    /// Marks the command deprecated, as `COMMAND DOCS` reports it.
    pub const fn deprecated(mut self, since: &'static str, replaced_by: &'static str) -> Self {
        self.doc_flags = &["deprecated"];
        self.deprecated_since = since;
        self.replaced_by = replaced_by;
        self
    }
    /// Sets the key specifications `COMMAND INFO` reports.
    pub const fn key_specs(mut self, specs: &'static [KeySpec]) -> Self {
        self.key_specs = specs;
        self
    }
}

/// Default key-spec flags for rows that give none: what a plain read or
/// write of the key does.
const RO_ACCESS: &[&str] = &["RO", "access"];
const RW_UPDATE: &[&str] = &["RW", "access", "update"];
const RW_ONLY: &[&str] = &["RW"];

impl CommandSpec {
    /// The key specifications: the row's own, or one derived from `keys`
    /// (with flags from the row's read/write flags) when it gives none.
    pub fn derived_key_specs(&self) -> Vec<KeySpec> {
        if !self.key_specs.is_empty() {
            return self.key_specs.to_vec();
        }
        let flags = if self.has(flags::READONLY) {
            RO_ACCESS
        } else if self.has(flags::WRITE) {
            RW_UPDATE
        } else {
            RW_ONLY
        };
        match self.keys {
            Keys::None => Vec::new(),
            Keys::Range { first, last, step } => {
                let lastkey = if last < 0 { last } else { last - first as i32 };
                vec![KeySpec {
                    flags,
                    begin: BeginSearch::Index(first as i32),
                    find: FindKeys::Range {
                        lastkey,
                        keystep: step as i32,
                        limit: 0,
                    },
                    notes: "",
                }]
            }
            Keys::NumKeys { numkeys, extra } => {
                let mut v = Vec::new();
                if extra > 0 {
                    v.push(KeySpec {
                        flags,
                        begin: BeginSearch::Index(extra as i32),
                        find: FindKeys::Range {
                            lastkey: 0,
                            keystep: 1,
                            limit: 0,
                        },
                        notes: "",
                    });
                }
                v.push(KeySpec {
                    flags,
                    begin: BeginSearch::Index(numkeys as i32),
                    find: FindKeys::KeyNum {
                        keynumidx: 0,
                        firstkey: 1,
                        keystep: 1,
                    },
                    notes: "",
                });
                v
            }
            Keys::Custom(_) => vec![KeySpec {
                flags,
                begin: BeginSearch::Unknown,
                find: FindKeys::Unknown,
                notes: "",
            }],
        }
    }
}

/// Keys from position 1 only (GET, SET, ...).
pub const KEY1: Keys = Keys::Range {
    first: 1,
    last: 1,
    step: 1,
};
/// Every argument from 1 is a key (DEL, EXISTS, MGET, ...).
pub const ALL_KEYS: Keys = Keys::Range {
    first: 1,
    last: -1,
    step: 1,
};
/// Keys at 1 and 2 (RENAME, COPY, ...).
pub const KEY1_2: Keys = Keys::Range {
    first: 1,
    last: 2,
    step: 1,
};
