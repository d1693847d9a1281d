//! Configuration: `redis-server`'s command line and `redis.conf`, and the
//! `CONFIG GET`, `CONFIG SET` and `CONFIG REWRITE` commands, with Redis 7.4's
//! names, value formats and error texts.
//!
//! The shape:
//! - `table.rs` lists every directive as data: name, alias, kind (with
//!   bounds and default), flags (immutable, protected, sensitive, hidden,
//!   multi-word). `values.rs` parses and formats each kind, `load.rs` reads
//!   the command line and files, `rewrite.rs` does CONFIG REWRITE, `text.rs`
//!   holds Redis's string routines (`sdssplitargs`, `memtoull`, ...).
//! - [`Config`] holds one value per row. It starts from the defaults, then
//!   [`Config::from_command_line`] applies the config file, stdin and
//!   `--name value` options in Redis's order (later lines win).
//! - [`Config::get`], [`Config::set`] and [`Config::rewrite`] implement the
//!   three CONFIG subcommands; the caller encodes the replies and applies
//!   side effects (re-listening on a new port, ...) for the ids `set`
//!   reports as changed.
//!
//! Invariants:
//! - A value in a `Config` always passed its directive's validation.
//! - CONFIG SET is all-or-nothing: on any error nothing changes.
//! - `dir` is always absolute and canonical. magpie does not `chdir`: paths
//!   (`dbfilename`, a relative `include`, `logfile`) resolve against `dir`
//!   (see [`Config::resolve`]), which is what Redis's `chdir` achieves.
//!
//! magpie's own directive `shards` (worker threads, default: the number of
//! cores, 1..=1024, immutable) is an ordinary row: it appears in
//! `CONFIG GET *` and in rewritten files like any Redis directive.
//!
//! Where magpie differs from Redis on purpose:
//! - `bind` defaults to `127.0.0.1 -::1` (what redis.conf ships), not the
//!   compiled-in `* -::*`; CONFIG REWRITE treats that as the default.
//! - No TLS directives (like a Redis built without TLS), no Sentinel mode.
//!   Replication, cluster and AOF directives are accepted and stored so
//!   stock config files load, but nothing acts on them.
//! - `user`, `loadmodule`, `rename-command` and module settings are
//!   collected in [`FileDirectives`] for the server; CONFIG REWRITE leaves
//!   their lines as they are (Redis regenerates `user` lines from its ACL).
//! - CONFIG GET lists, and CONFIG REWRITE appends, in table order (Redis:
//!   hash-table order, which varies).
//! - The "can't open config file" log line is stamped in UTC.
//! - `--test-memory` and `--check-system` are not supported.

mod glob;
mod load;
mod rewrite;
mod table;
mod text;
mod values;

use std::path::{Path, PathBuf};

pub use load::StartupError;
pub use table::Id;
pub use values::{notify, OutputBufferLimit, SavePoint, OBUF_CLASSES};

use table::{lookup, row, HIDDEN, IMMUTABLE, PROTECTED, SENSITIVE, TABLE};
use values::{Source, Value};

/// The Redis version magpie reports (INFO, HELLO, error banners).
pub const REDIS_VERSION: &str = "7.4.0";

/// Where a CONFIG SET comes from, for `enable-protected-configs local`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// A client on a loopback address or a Unix socket.
    Local,
    /// Any other client.
    Remote,
}

/// `enable-debug-command`, `enable-module-command`,
/// `enable-protected-configs`: who may use the feature.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProtectedAction {
    /// Nobody.
    No,
    /// Every client.
    Yes,
    /// Clients on loopback or a Unix socket.
    Local,
}

impl ProtectedAction {
    /// Redis's `allowProtectedAction`.
    pub fn allows(self, origin: Origin) -> bool {
        match self {
            ProtectedAction::No => false,
            ProtectedAction::Yes => true,
            ProtectedAction::Local => origin == Origin::Local,
        }
    }
}

/// `maxmemory-policy`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MaxmemoryPolicy {
    /// `volatile-lru`: approximated LRU among keys with a TTL.
    VolatileLru,
    /// `volatile-lfu`: approximated LFU among keys with a TTL.
    VolatileLfu,
    /// `volatile-random`: a random key with a TTL.
    VolatileRandom,
    /// `volatile-ttl`: the key with the nearest expiry.
    VolatileTtl,
    /// `allkeys-lru`: approximated LRU among all keys.
    AllkeysLru,
    /// `allkeys-lfu`: approximated LFU among all keys.
    AllkeysLfu,
    /// `allkeys-random`: any random key.
    AllkeysRandom,
    /// `noeviction`: refuse writes that need memory.
    NoEviction,
}

/// `loglevel`, from most to least verbose.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum LogLevel {
    /// `debug`.
    Debug,
    /// `verbose`.
    Verbose,
    /// `notice` (the default).
    Notice,
    /// `warning`.
    Warning,
    /// `nothing`: no logging.
    Nothing,
}

/// One `bind` address. A leading `-` in the config marks it optional: a
/// failure to bind it is not fatal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BindAddr {
    /// The address, without the `-`.
    pub addr: String,
    /// Written with a leading `-`.
    pub optional: bool,
}

/// `shutdown-on-sigint` / `shutdown-on-sigterm` flags.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ShutdownFlags {
    /// Save before exiting even without save points.
    pub save: bool,
    /// Do not save even with save points.
    pub nosave: bool,
    /// Do not wait for lagging replicas.
    pub now: bool,
    /// Exit even if the save fails.
    pub force: bool,
}

/// Config-file lines that are not settings: the server acts on them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FileDirectives {
    /// `rename-command <old> <new>` (an empty `new` removes the command).
    /// The server checks the command exists.
    pub rename_commands: Vec<(Vec<u8>, Vec<u8>)>,
    /// `user <name> <rules...>`, as written.
    pub users: Vec<Vec<Vec<u8>>>,
    /// `loadmodule <path> <args...>`: magpie loads no modules; the server
    /// decides whether to refuse.
    pub load_modules: Vec<Vec<Vec<u8>>>,
    /// `<module>.<name> <value>` module settings.
    pub module_configs: Vec<(Vec<u8>, Vec<u8>)>,
}

/// The server's configuration: one value per directive of the table.
#[derive(Debug, Clone)]
pub struct Config {
    values: Vec<Value>,
    /// The absolute path of the file loaded at startup, if any.
    config_file: Option<PathBuf>,
    /// The default of `shards` on this machine (rewrite omits it when equal).
    default_shards: i64,
    file_directives: FileDirectives,
}

impl Default for Config {
    fn default() -> Self {
        let cwd = std::env::current_dir()
            .and_then(std::fs::canonicalize)
            .unwrap_or_default();
        let default_shards = std::thread::available_parallelism()
            .map_or(1, |n| n.get())
            .clamp(1, 1024) as i64;
        Config::with_defaults(cwd, default_shards)
    }
}

impl Config {
    /// Defaults with an explicit working directory and core count (tests).
    fn with_defaults(cwd: PathBuf, default_shards: i64) -> Self {
        Config {
            values: TABLE
                .iter()
                .map(|d| values::default_value(d, &cwd, default_shards))
                .collect(),
            config_file: None,
            default_shards,
            file_directives: FileDirectives::default(),
        }
    }

    fn value(&self, id: Id) -> &Value {
        &self.values[id as usize]
    }

    fn default_of(&self, id: Id) -> Value {
        let dir = match self.value(Id::Dir) {
            Value::Dir(p) => p.clone(),
            _ => PathBuf::new(),
        };
        values::default_value(row(id), &dir, self.default_shards)
    }

    // ---- CONFIG GET -------------------------------------------------------

    /// CONFIG GET: the name/value pairs matching any of `patterns`.
    ///
    /// A pattern without `*`, `?` or `[` is an exact name (hidden rows and
    /// aliases included) and is answered under the spelling the client
    /// used; a glob matches primary names and aliases, case-insensitively,
    /// skipping hidden rows. A name is reported once. The caller encodes
    /// the pairs (a map in RESP3, a flat array in RESP2).
    pub fn get(&self, patterns: &[&[u8]]) -> Vec<(String, Vec<u8>)> {
        let mut out: Vec<(String, Vec<u8>)> = Vec::new();
        let seen = |out: &[(String, Vec<u8>)], name: &[u8]| {
            out.iter()
                .any(|(n, _)| n.as_bytes().eq_ignore_ascii_case(name))
        };
        for &pattern in patterns {
            if !pattern.iter().any(|c| b"[*?".contains(c)) {
                if seen(&out, pattern) {
                    continue;
                }
                if let Some(d) = lookup(pattern) {
                    // A matched name is ASCII, so this is lossless.
                    let name = String::from_utf8_lossy(pattern).into_owned();
                    out.push((name, values::format(d, self.value(d.id))));
                }
                continue;
            }
            for (name, d) in table::all_names() {
                if d.has(HIDDEN) || seen(&out, name.as_bytes()) {
                    continue;
                }
                if glob::matches(pattern, name.as_bytes()) {
                    out.push((name.to_string(), values::format(d, self.value(d.id))));
                }
            }
        }
        out
    }

    /// The CONFIG GET text of one directive.
    pub fn get_one(&self, id: Id) -> Vec<u8> {
        values::format(row(id), self.value(id))
    }

    // ---- CONFIG SET -------------------------------------------------------

    /// CONFIG SET with the words after `SET`, as the client sent them: an
    /// odd count is Redis's "ERR syntax error" (the caller has already
    /// checked the arity, at least one pair).
    pub fn set_args(&mut self, args: &[&[u8]], origin: Origin) -> Result<Vec<Id>, String> {
        if args.len() % 2 == 1 {
            return Err("ERR syntax error".into());
        }
        let pairs: Vec<(&[u8], &[u8])> = args.chunks(2).map(|p| (p[0], p[1])).collect();
        self.set(&pairs, origin)
    }

    /// CONFIG SET name value [name value ...]: all or nothing.
    ///
    /// Returns the directives whose value changed (the caller applies them:
    /// listen on a new port, resize, ...) or the exact error text, starting
    /// with `ERR`. If applying fails, restore a clone taken before the call
    /// and reply with [`Config::apply_error`].
    pub fn set(&mut self, pairs: &[(&[u8], &[u8])], origin: Origin) -> Result<Vec<Id>, String> {
        // Pass 1 (Redis's order of checks): unknown names, immutable and
        // protected rows, duplicates. The first problem in argument order
        // decides the error.
        let protected_ok = self.enable_protected_configs().allows(origin);
        let mut found: Vec<(&'static table::Directive, &'static str, &[u8])> = Vec::new();
        for &(name, value) in pairs {
            let Some(d) = lookup(name) else {
                return Err(format!(
                    "ERR Unknown option or number of arguments for CONFIG SET - '{}'",
                    String::from_utf8_lossy(name)
                ));
            };
            let shown = String::from_utf8_lossy(name);
            if d.has(IMMUTABLE) {
                return Err(set_failed(&shown, "can't set immutable config"));
            }
            if d.has(PROTECTED) && !protected_ok {
                return Err(set_failed(&shown, "can't set protected config"));
            }
            // Redis registers an alias as its own entry, so the same
            // directive under two names is not a duplicate; the last wins.
            let registered = if name.eq_ignore_ascii_case(d.name.as_bytes()) {
                d.name
            } else {
                d.alias.unwrap_or(d.name)
            };
            if found.iter().any(|&(_, r, _)| r == registered) {
                return Err(set_failed(&shown, "duplicate parameter"));
            }
            found.push((d, registered, value));
        }

        // Pass 2: parse every value against the values being built.
        let mut new_values = self.values.clone();
        for &(d, registered, value) in &found {
            let args: Vec<&[u8]> = if d.has(table::MULTI_ARG) {
                text::split_on(value, b' ')
            } else {
                vec![value]
            };
            let old = &new_values[d.id as usize];
            let mut v = values::parse(d, &args, old, Source::Command)
                .map_err(|e| set_failed(registered, &e))?;
            if d.id == Id::Hz {
                v = clamp_hz(v);
            }
            new_values[d.id as usize] = v;
        }

        let mut changed = Vec::new();
        for &(d, _, _) in &found {
            let i = d.id as usize;
            if new_values[i] != self.values[i] && !changed.contains(&d.id) {
                changed.push(d.id);
            }
        }
        self.values = new_values;
        Ok(changed)
    }

    /// The error to send when applying a set value failed (e.g. "Unable to
    /// listen on this port. Check server logs.").
    pub fn apply_error(id: Id, reason: &str) -> String {
        set_failed(row(id).name, reason)
    }

    // ---- lookups about directives ----------------------------------------

    /// Finds a directive by name or alias, in any case.
    pub fn lookup(name: &[u8]) -> Option<Id> {
        lookup(name).map(|d| d.id)
    }

    /// Whether the value of this directive must be redacted from logs and
    /// the slow log (`requirepass`, `masterauth`, `masteruser`).
    pub fn is_sensitive(id: Id) -> bool {
        row(id).has(SENSITIVE)
    }

    // ---- typed accessors --------------------------------------------------

    fn bool_of(&self, id: Id) -> bool {
        matches!(self.value(id), Value::Bool(true))
    }

    fn num_of(&self, id: Id) -> i64 {
        match self.value(id) {
            Value::Num(n) => *n,
            _ => 0,
        }
    }

    fn enum_of(&self, id: Id) -> u32 {
        match self.value(id) {
            Value::Enum(e) => *e,
            _ => 0,
        }
    }

    fn str_of(&self, id: Id) -> Option<&[u8]> {
        match self.value(id) {
            Value::Str(Some(s)) => Some(s),
            _ => None,
        }
    }

    fn path_of(&self, id: Id) -> Option<PathBuf> {
        self.str_of(id)
            .filter(|s| !s.is_empty())
            .map(|s| self.resolve(&values::bytes_to_path(s)))
    }

    /// A boolean directive's value (`false` for a non-boolean id).
    pub fn flag(&self, id: Id) -> bool {
        self.bool_of(id)
    }

    /// An integer directive's value (0 for a non-integer id). Memory sizes
    /// are bytes; unsigned values above `i64::MAX` (only `maxmemory` and
    /// `cluster-link-sendbuf-limit` allow them) read as negative: use the
    /// typed accessor for those.
    pub fn int(&self, id: Id) -> i64 {
        self.num_of(id)
    }

    /// The file loaded at startup, absolute.
    pub fn config_file(&self) -> Option<&Path> {
        self.config_file.as_deref()
    }

    /// The file-only directives (`rename-command`, `user`, ...) to act on.
    pub fn file_directives(&self) -> &FileDirectives {
        &self.file_directives
    }

    /// `port`: 0 means do not listen on TCP.
    pub fn port(&self) -> u16 {
        u16::try_from(self.num_of(Id::Port)).unwrap_or(0)
    }

    /// `bind`: the addresses to listen on (empty: none).
    pub fn bind(&self) -> Vec<BindAddr> {
        match self.value(Id::Bind) {
            Value::Bind(addrs) => addrs
                .iter()
                .map(|a| {
                    let optional = a.first() == Some(&b'-');
                    let addr = if optional { &a[1..] } else { &a[..] };
                    BindAddr {
                        addr: String::from_utf8_lossy(addr).into_owned(),
                        optional,
                    }
                })
                .collect(),
            _ => Vec::new(),
        }
    }

    /// `protected-mode`: refuse non-local clients when no password is set and no `bind`.
    pub fn protected_mode(&self) -> bool {
        self.bool_of(Id::ProtectedMode)
    }

    /// `requirepass`: `None` when unset (no AUTH needed).
    pub fn requirepass(&self) -> Option<&[u8]> {
        self.str_of(Id::Requirepass)
    }

    /// `databases`: how many numbered databases (SELECT 0..n-1).
    pub fn databases(&self) -> usize {
        usize::try_from(self.num_of(Id::Databases)).unwrap_or(16)
    }

    /// `maxclients`: connections beyond this are refused.
    pub fn maxclients(&self) -> u32 {
        u32::try_from(self.num_of(Id::Maxclients)).unwrap_or(u32::MAX)
    }

    /// `timeout`: idle seconds before a client is closed; 0 means never.
    pub fn timeout_secs(&self) -> u64 {
        u64::try_from(self.num_of(Id::Timeout)).unwrap_or(0)
    }

    /// `tcp-keepalive` seconds; 0 disables.
    pub fn tcp_keepalive_secs(&self) -> u64 {
        u64::try_from(self.num_of(Id::TcpKeepalive)).unwrap_or(0)
    }

    /// `tcp-backlog`: the listen(2) backlog.
    pub fn tcp_backlog(&self) -> u32 {
        u32::try_from(self.num_of(Id::TcpBacklog)).unwrap_or(511)
    }

    /// `unixsocket`, resolved against `dir`.
    pub fn unixsocket(&self) -> Option<PathBuf> {
        self.path_of(Id::Unixsocket)
    }

    /// `unixsocketperm` mode bits (0: leave the default).
    pub fn unixsocketperm(&self) -> u32 {
        u32::try_from(self.num_of(Id::Unixsocketperm)).unwrap_or(0)
    }

    /// `dir`: absolute and canonical.
    pub fn dir(&self) -> &Path {
        match self.value(Id::Dir) {
            Value::Dir(p) => p,
            _ => Path::new("/"),
        }
    }

    /// A path from the configuration resolved as Redis (after its `chdir`
    /// to `dir`) would open it.
    pub fn resolve(&self, p: &Path) -> PathBuf {
        if p.is_absolute() {
            p.to_path_buf()
        } else {
            self.dir().join(p)
        }
    }

    /// `dbfilename` (a bare file name).
    pub fn dbfilename(&self) -> &[u8] {
        self.str_of(Id::Dbfilename).unwrap_or(b"dump.rdb")
    }

    /// Where the RDB snapshot lives: `dir/dbfilename`.
    pub fn rdb_path(&self) -> PathBuf {
        self.dir().join(values::bytes_to_path(self.dbfilename()))
    }

    /// `save` points; empty means no automatic snapshots.
    pub fn save_points(&self) -> &[SavePoint] {
        match self.value(Id::Save) {
            Value::Save(p) => p,
            _ => &[],
        }
    }

    /// `stop-writes-on-bgsave-error`.
    pub fn stop_writes_on_bgsave_error(&self) -> bool {
        self.bool_of(Id::StopWritesOnBgsaveError)
    }

    /// `rdbcompression`: LZF-compress strings in snapshots.
    pub fn rdbcompression(&self) -> bool {
        self.bool_of(Id::Rdbcompression)
    }

    /// `rdbchecksum`: write and check the CRC64 trailer.
    pub fn rdbchecksum(&self) -> bool {
        self.bool_of(Id::Rdbchecksum)
    }

    /// `appendonly` (stored; magpie has no AOF).
    pub fn appendonly(&self) -> bool {
        self.bool_of(Id::Appendonly)
    }

    /// `loglevel`.
    pub fn loglevel(&self) -> LogLevel {
        match self.enum_of(Id::Loglevel) {
            0 => LogLevel::Debug,
            1 => LogLevel::Verbose,
            3 => LogLevel::Warning,
            4 => LogLevel::Nothing,
            _ => LogLevel::Notice,
        }
    }

    /// `logfile`: `None` logs to standard output.
    pub fn logfile(&self) -> Option<PathBuf> {
        self.path_of(Id::Logfile)
    }

    /// `daemonize`.
    pub fn daemonize(&self) -> bool {
        self.bool_of(Id::Daemonize)
    }

    /// `pidfile`, resolved against `dir`.
    pub fn pidfile(&self) -> Option<PathBuf> {
        self.path_of(Id::Pidfile)
    }

    /// The pid file to write at startup, with Redis's rule: a daemon
    /// without `pidfile` uses `/var/run/redis.pid`, which CONFIG GET then
    /// shows. `None`: write no pid file.
    pub fn startup_pidfile(&mut self) -> Option<PathBuf> {
        if self.daemonize() && self.str_of(Id::Pidfile).is_none() {
            self.values[Id::Pidfile as usize] = Value::Str(Some(b"/var/run/redis.pid".to_vec()));
        }
        self.pidfile()
    }

    fn protected_action(&self, id: Id) -> ProtectedAction {
        match self.enum_of(id) {
            1 => ProtectedAction::Yes,
            2 => ProtectedAction::Local,
            _ => ProtectedAction::No,
        }
    }

    /// `enable-debug-command`: who may run DEBUG.
    pub fn enable_debug_command(&self) -> ProtectedAction {
        self.protected_action(Id::EnableDebugCommand)
    }

    /// `enable-module-command`: who may run MODULE.
    pub fn enable_module_command(&self) -> ProtectedAction {
        self.protected_action(Id::EnableModuleCommand)
    }

    /// `enable-protected-configs`: who may CONFIG SET `dir` and `dbfilename`.
    pub fn enable_protected_configs(&self) -> ProtectedAction {
        self.protected_action(Id::EnableProtectedConfigs)
    }

    fn shutdown_flags(&self, id: Id) -> ShutdownFlags {
        let v = self.enum_of(id);
        ShutdownFlags {
            save: v & 1 != 0,
            nosave: v & 2 != 0,
            now: v & 4 != 0,
            force: v & 8 != 0,
        }
    }

    /// `shutdown-on-sigint`.
    pub fn shutdown_on_sigint(&self) -> ShutdownFlags {
        self.shutdown_flags(Id::ShutdownOnSigint)
    }

    /// `shutdown-on-sigterm`.
    pub fn shutdown_on_sigterm(&self) -> ShutdownFlags {
        self.shutdown_flags(Id::ShutdownOnSigterm)
    }

    /// `shutdown-timeout`: seconds to wait for replicas at shutdown.
    pub fn shutdown_timeout_secs(&self) -> u64 {
        u64::try_from(self.num_of(Id::ShutdownTimeout)).unwrap_or(10)
    }

    /// `proto-max-bulk-len` bytes.
    pub fn proto_max_bulk_len(&self) -> u64 {
        self.num_of(Id::ProtoMaxBulkLen) as u64
    }

    /// `client-query-buffer-limit` bytes.
    pub fn client_query_buffer_limit(&self) -> u64 {
        self.num_of(Id::ClientQueryBufferLimit) as u64
    }

    /// `client-output-buffer-limit` of a class (0 normal, 1 replica, 2 pubsub).
    pub fn client_output_buffer_limit(&self, class: usize) -> OutputBufferLimit {
        match self.value(Id::ClientOutputBufferLimit) {
            Value::Obuf(o) => o.get(class).copied().unwrap_or(values::DEFAULT_OBUF[0]),
            _ => values::DEFAULT_OBUF[0],
        }
    }

    /// `hz`, already clamped to 1..=500 as Redis does.
    pub fn hz(&self) -> u32 {
        u32::try_from(self.num_of(Id::Hz)).unwrap_or(10)
    }

    /// `dynamic-hz`: raise the timer rate with many clients.
    pub fn dynamic_hz(&self) -> bool {
        self.bool_of(Id::DynamicHz)
    }

    /// `maxmemory` bytes; 0 means no limit.
    pub fn maxmemory(&self) -> u64 {
        self.num_of(Id::Maxmemory) as u64
    }

    /// `maxmemory-policy`.
    pub fn maxmemory_policy(&self) -> MaxmemoryPolicy {
        match self.enum_of(Id::MaxmemoryPolicy) {
            0 => MaxmemoryPolicy::VolatileLru,
            1 => MaxmemoryPolicy::VolatileLfu,
            2 => MaxmemoryPolicy::VolatileRandom,
            3 => MaxmemoryPolicy::VolatileTtl,
            4 => MaxmemoryPolicy::AllkeysLru,
            5 => MaxmemoryPolicy::AllkeysLfu,
            6 => MaxmemoryPolicy::AllkeysRandom,
            _ => MaxmemoryPolicy::NoEviction,
        }
    }

    /// The policy's name, as INFO reports it.
    pub fn maxmemory_policy_name(&self) -> String {
        String::from_utf8_lossy(&self.get_one(Id::MaxmemoryPolicy)).into_owned()
    }

    /// `maxmemory-samples`: keys sampled per eviction.
    pub fn maxmemory_samples(&self) -> u32 {
        u32::try_from(self.num_of(Id::MaxmemorySamples)).unwrap_or(5)
    }

    /// `maxmemory-eviction-tenacity`: 0..=100, effort per eviction cycle.
    pub fn maxmemory_eviction_tenacity(&self) -> u32 {
        u32::try_from(self.num_of(Id::MaxmemoryEvictionTenacity)).unwrap_or(10)
    }

    /// `lfu-log-factor`.
    pub fn lfu_log_factor(&self) -> u32 {
        u32::try_from(self.num_of(Id::LfuLogFactor)).unwrap_or(10)
    }

    /// `lfu-decay-time` in minutes.
    pub fn lfu_decay_time(&self) -> u32 {
        u32::try_from(self.num_of(Id::LfuDecayTime)).unwrap_or(1)
    }

    /// `active-expire-effort`: 1..=10.
    pub fn active_expire_effort(&self) -> u32 {
        u32::try_from(self.num_of(Id::ActiveExpireEffort)).unwrap_or(1)
    }

    /// `notify-keyspace-events` as a bitmask of [`notify`] flags.
    pub fn notify_keyspace_events(&self) -> u32 {
        match self.value(Id::NotifyKeyspaceEvents) {
            Value::Notify(f) => *f,
            _ => 0,
        }
    }

    /// `busy-reply-threshold` (`lua-time-limit`) in milliseconds.
    pub fn busy_reply_threshold_ms(&self) -> u64 {
        u64::try_from(self.num_of(Id::BusyReplyThreshold)).unwrap_or(5000)
    }

    /// `slowlog-log-slower-than` microseconds; negative disables the log.
    pub fn slowlog_log_slower_than(&self) -> i64 {
        self.num_of(Id::SlowlogLogSlowerThan)
    }

    /// `slowlog-max-len`.
    pub fn slowlog_max_len(&self) -> u64 {
        u64::try_from(self.num_of(Id::SlowlogMaxLen)).unwrap_or(128)
    }

    /// `latency-monitor-threshold` milliseconds; 0 disables.
    pub fn latency_monitor_threshold_ms(&self) -> u64 {
        u64::try_from(self.num_of(Id::LatencyMonitorThreshold)).unwrap_or(0)
    }

    /// `lazyfree-lazy-eviction`.
    pub fn lazyfree_lazy_eviction(&self) -> bool {
        self.bool_of(Id::LazyfreeLazyEviction)
    }

    /// `lazyfree-lazy-expire`.
    pub fn lazyfree_lazy_expire(&self) -> bool {
        self.bool_of(Id::LazyfreeLazyExpire)
    }

    /// `lazyfree-lazy-server-del`.
    pub fn lazyfree_lazy_server_del(&self) -> bool {
        self.bool_of(Id::LazyfreeLazyServerDel)
    }

    /// `lazyfree-lazy-user-del`: DEL behaves as UNLINK.
    pub fn lazyfree_lazy_user_del(&self) -> bool {
        self.bool_of(Id::LazyfreeLazyUserDel)
    }

    /// `lazyfree-lazy-user-flush`: FLUSHALL/FLUSHDB default to ASYNC.
    pub fn lazyfree_lazy_user_flush(&self) -> bool {
        self.bool_of(Id::LazyfreeLazyUserFlush)
    }

    /// `io-threads` (stored; magpie's parallelism is `shards`).
    pub fn io_threads(&self) -> u32 {
        u32::try_from(self.num_of(Id::IoThreads)).unwrap_or(1)
    }

    /// `hash-max-listpack-entries` (encoding thresholds for `OBJECT ENCODING`).
    pub fn hash_max_listpack_entries(&self) -> u64 {
        self.num_of(Id::HashMaxListpackEntries) as u64
    }

    /// `hash-max-listpack-value` bytes.
    pub fn hash_max_listpack_value(&self) -> u64 {
        self.num_of(Id::HashMaxListpackValue) as u64
    }

    /// `list-max-listpack-size`: positive is entries per node, -1..-5 is
    /// 4..64 KiB per node.
    pub fn list_max_listpack_size(&self) -> i64 {
        self.num_of(Id::ListMaxListpackSize)
    }

    /// `list-compress-depth`.
    pub fn list_compress_depth(&self) -> u64 {
        self.num_of(Id::ListCompressDepth) as u64
    }

    /// `set-max-intset-entries`.
    pub fn set_max_intset_entries(&self) -> u64 {
        self.num_of(Id::SetMaxIntsetEntries) as u64
    }

    /// `set-max-listpack-entries`.
    pub fn set_max_listpack_entries(&self) -> u64 {
        self.num_of(Id::SetMaxListpackEntries) as u64
    }

    /// `set-max-listpack-value` bytes.
    pub fn set_max_listpack_value(&self) -> u64 {
        self.num_of(Id::SetMaxListpackValue) as u64
    }

    /// `zset-max-listpack-entries`.
    pub fn zset_max_listpack_entries(&self) -> u64 {
        self.num_of(Id::ZsetMaxListpackEntries) as u64
    }

    /// `zset-max-listpack-value` bytes.
    pub fn zset_max_listpack_value(&self) -> u64 {
        self.num_of(Id::ZsetMaxListpackValue) as u64
    }

    /// `tracking-table-max-keys`: 0 means no limit.
    pub fn tracking_table_max_keys(&self) -> u64 {
        self.num_of(Id::TrackingTableMaxKeys) as u64
    }

    /// `shards`: worker threads, each owning a shard.
    pub fn shards(&self) -> usize {
        usize::try_from(self.num_of(Id::Shards)).unwrap_or(1)
    }
}

fn set_failed(name: &str, reason: &str) -> String {
    format!("ERR CONFIG SET failed (possibly related to argument '{name}') - {reason}")
}

/// Redis accepts any non-negative `hz` but runs within 1..=500.
fn clamp_hz(v: Value) -> Value {
    match v {
        Value::Num(n) => Value::Num(n.clamp(1, 500)),
        other => other,
    }
}

#[cfg(test)]
mod tests;
