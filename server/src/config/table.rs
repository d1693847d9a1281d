//! The directive table: one row per configuration directive, as data.
//!
//! Rows follow Redis 7.4's `static_configs[]` in `config.c` (without the TLS
//! rows, as a Redis built without `BUILD_TLS`), plus magpie's own `shards`.
//! Everything else (`CONFIG GET/SET/REWRITE`, the config file, the command
//! line) is driven by this table. A directive that magpie stores but does
//! not act on is still here, so that a stock `redis.conf` loads and
//! `CONFIG GET` answers as Redis does.

/// What kind of value a directive holds, with its bounds and default.
#[derive(Debug)]
pub(crate) enum Kind {
    /// `yes` / `no`.
    Bool { default: bool },
    /// An integer. Bounds are inclusive; `unsigned` selects how an out-of-range
    /// value is compared and printed (Redis's `%llu` vs `%lld`).
    Num {
        min: i128,
        max: i128,
        default: i64,
        unsigned: bool,
        fmt: NumFmt,
    },
    /// One of a fixed set of names (several at once, OR-ed, when the row has
    /// [`MULTI_ARG`]).
    Enum {
        values: &'static [(&'static str, u32)],
        default: u32,
    },
    /// A string. `default: None` means "unset" (shown as ""), and with
    /// `empty_is_null` setting "" unsets it again.
    Str {
        default: Option<&'static str>,
        empty_is_null: bool,
        check: StrCheck,
    },
    /// `dir`: the working directory, absolute.
    Dir,
    /// `save`: pairs of seconds and changes.
    Save,
    /// `bind`: up to 16 addresses.
    Bind,
    /// `client-output-buffer-limit`: per-class hard, soft and seconds.
    ClientOutputBufferLimit,
    /// `oom-score-adj-values`: three integers.
    OomScoreAdjValues,
    /// `notify-keyspace-events`: a set of class letters.
    NotifyKeyspaceEvents,
    /// `replicaof`: a host and port, or nothing.
    ReplicaOf,
    /// `latency-tracking-info-percentiles`: a list of doubles.
    Percentiles,
}

/// How an integer is written and read, beyond plain decimal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum NumFmt {
    /// Plain decimal (`string2ll`).
    Plain,
    /// A byte count with units (`memtoull`).
    Memory,
    /// A byte count or a percentage of maxmemory (stored negative).
    MemoryOrPercent,
    /// Octal (`unixsocketperm`).
    Octal,
}

/// Extra validation of a string value, with Redis's messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum StrCheck {
    None,
    /// Must be a file name, not a path (`dbfilename`).
    DbFilename,
    /// Non-empty file name (`appendfilename`).
    AofFilename,
    /// Non-empty directory name (`appenddirname`).
    AofDirname,
    /// Hostname characters only (`cluster-announce-hostname`).
    Hostname,
    /// Known `{variables}` only (`proc-title-template`).
    ProcTitle,
}

/// CONFIG SET refuses it: "can't set immutable config".
pub(crate) const IMMUTABLE: u32 = 1 << 0;
/// CONFIG SET refuses it unless `enable-protected-configs` allows the client.
pub(crate) const PROTECTED: u32 = 1 << 1;
/// Its value must be redacted from logs (passwords).
pub(crate) const SENSITIVE: u32 = 1 << 2;
/// Not matched by CONFIG GET patterns; an exact name still works.
pub(crate) const HIDDEN: u32 = 1 << 3;
/// Takes several words: from a file line as they are, from CONFIG SET
/// split on single spaces.
pub(crate) const MULTI_ARG: u32 = 1 << 4;

/// One directive.
#[derive(Debug)]
pub(crate) struct Directive {
    /// Its place in the table, checked by a test.
    pub id: Id,
    /// The canonical, lowercase name.
    pub name: &'static str,
    /// An older name Redis still accepts (e.g. `lua-time-limit`).
    pub alias: Option<&'static str>,
    pub flags: u32,
    pub kind: Kind,
}

impl Directive {
    pub(crate) fn has(&self, flag: u32) -> bool {
        self.flags & flag != 0
    }
}

const INT_MAX: i128 = i32::MAX as i128;
const INT_MIN: i128 = i32::MIN as i128;
const UINT_MAX: i128 = u32::MAX as i128;
const LONG_MAX: i128 = i64::MAX as i128;
const ULLONG_MAX: i128 = u64::MAX as i128;

const fn int(min: i128, max: i128, default: i64) -> Kind {
    Kind::Num {
        min,
        max,
        default,
        unsigned: false,
        fmt: NumFmt::Plain,
    }
}
const fn uint(min: i128, max: i128, default: i64) -> Kind {
    Kind::Num {
        min,
        max,
        default,
        unsigned: true,
        fmt: NumFmt::Plain,
    }
}
const fn mem(min: i128, max: i128, default: i64, unsigned: bool) -> Kind {
    Kind::Num {
        min,
        max,
        default,
        unsigned,
        fmt: NumFmt::Memory,
    }
}
const fn yes() -> Kind {
    Kind::Bool { default: true }
}
const fn no() -> Kind {
    Kind::Bool { default: false }
}
const fn str_null() -> Kind {
    Kind::Str {
        default: None,
        empty_is_null: true,
        check: StrCheck::None,
    }
}
const fn str_def(default: &'static str) -> Kind {
    Kind::Str {
        default: Some(default),
        empty_is_null: false,
        check: StrCheck::None,
    }
}

pub(crate) const LOGLEVELS: &[(&str, u32)] = &[
    ("debug", 0),
    ("verbose", 1),
    ("notice", 2),
    ("warning", 3),
    ("nothing", 4),
];
pub(crate) const MAXMEMORY_POLICIES: &[(&str, u32)] = &[
    ("volatile-lru", 0),
    ("volatile-lfu", 1),
    ("volatile-random", 2),
    ("volatile-ttl", 3),
    ("allkeys-lru", 4),
    ("allkeys-lfu", 5),
    ("allkeys-random", 6),
    ("noeviction", 7),
];
pub(crate) const PROTECTED_ACTION: &[(&str, u32)] = &[("no", 0), ("yes", 1), ("local", 2)];
pub(crate) const SHUTDOWN_FLAGS: &[(&str, u32)] = &[
    ("default", 0),
    ("save", 1),
    ("nosave", 2),
    ("now", 4),
    ("force", 8),
];
const SUPERVISED: &[(&str, u32)] = &[("upstart", 1), ("systemd", 2), ("auto", 3), ("no", 0)];
const SYSLOG_FACILITY: &[(&str, u32)] = &[
    ("user", 8),
    ("local0", 128),
    ("local1", 136),
    ("local2", 144),
    ("local3", 152),
    ("local4", 160),
    ("local5", 168),
    ("local6", 176),
    ("local7", 184),
];
const REPL_DISKLESS_LOAD: &[(&str, u32)] = &[("disabled", 0), ("on-empty-db", 1), ("swapdb", 2)];
const APPENDFSYNC: &[(&str, u32)] = &[("everysec", 2), ("always", 1), ("no", 0)];
const OOM_SCORE_ADJ: &[(&str, u32)] = &[("no", 0), ("yes", 1), ("relative", 1), ("absolute", 2)];
const ACL_PUBSUB_DEFAULT: &[(&str, u32)] = &[("allchannels", 1), ("resetchannels", 0)];
const SANITIZE_DUMP: &[(&str, u32)] = &[("no", 0), ("yes", 1), ("clients", 2)];
const ENDPOINT_TYPE: &[(&str, u32)] = &[("ip", 0), ("hostname", 1), ("unknown-endpoint", 2)];
const PROPAGATION_ERROR: &[(&str, u32)] = &[("ignore", 0), ("panic", 1), ("panic-on-replicas", 2)];

/// Declares `Id` and `TABLE` from one list so they cannot drift apart.
macro_rules! directives {
    ($( $id:ident : $name:literal $(| $alias:literal)? , $flags:expr , $kind:expr ; )*) => {
        /// Identifies a directive; `Id::X as usize` is its row in the table.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        #[allow(missing_docs)]
        pub enum Id { $($id),* }

        /// Every directive, in a fixed order (also the order of `CONFIG GET *`).
        pub(crate) static TABLE: &[Directive] = &[
            $( Directive {
                id: Id::$id,
                name: $name,
                alias: directives!(@alias $($alias)?),
                flags: $flags,
                kind: $kind,
            } ),*
        ];
    };
    (@alias) => { None };
    (@alias $a:literal) => { Some($a) };
}

directives! {
    // Network.
    Bind: "bind", MULTI_ARG, Kind::Bind;
    Port: "port", 0, int(0, 65535, 6379);
    ProtectedMode: "protected-mode", 0, yes();
    TcpBacklog: "tcp-backlog", IMMUTABLE, int(0, INT_MAX, 511);
    Unixsocket: "unixsocket", IMMUTABLE, str_null();
    Unixsocketperm: "unixsocketperm", IMMUTABLE,
        Kind::Num { min: 0, max: 0o777, default: 0, unsigned: true, fmt: NumFmt::Octal };
    Timeout: "timeout", 0, int(0, INT_MAX, 0);
    TcpKeepalive: "tcp-keepalive", 0, int(0, INT_MAX, 300);
    SocketMarkId: "socket-mark-id", IMMUTABLE, uint(0, UINT_MAX, 0);
    BindSourceAddr: "bind-source-addr", 0, str_null();
    Maxclients: "maxclients", 0, uint(1, UINT_MAX, 10000);
    // magpie: worker threads, each owning a shard of the keyspace.
    Shards: "shards", IMMUTABLE, int(1, 1024, 1);

    // General.
    Daemonize: "daemonize", IMMUTABLE, no();
    Supervised: "supervised", IMMUTABLE, Kind::Enum { values: SUPERVISED, default: 0 };
    Pidfile: "pidfile", IMMUTABLE, str_null();
    Loglevel: "loglevel", 0, Kind::Enum { values: LOGLEVELS, default: 2 };
    Logfile: "logfile", IMMUTABLE, str_def("");
    SyslogEnabled: "syslog-enabled", IMMUTABLE, no();
    SyslogIdent: "syslog-ident", IMMUTABLE, str_def("redis");
    SyslogFacility: "syslog-facility", IMMUTABLE, Kind::Enum { values: SYSLOG_FACILITY, default: 128 };
    CrashLogEnabled: "crash-log-enabled", 0, yes();
    CrashMemcheckEnabled: "crash-memcheck-enabled", 0, yes();
    Databases: "databases", IMMUTABLE, int(1, INT_MAX, 16);
    AlwaysShowLogo: "always-show-logo", IMMUTABLE, no();
    SetProcTitle: "set-proc-title", IMMUTABLE, yes();
    ProcTitleTemplate: "proc-title-template", 0,
        Kind::Str { default: Some("{title} {listen-addr} {server-mode}"), empty_is_null: false, check: StrCheck::ProcTitle };
    EnableProtectedConfigs: "enable-protected-configs", IMMUTABLE, Kind::Enum { values: PROTECTED_ACTION, default: 0 };
    EnableDebugCommand: "enable-debug-command", IMMUTABLE, Kind::Enum { values: PROTECTED_ACTION, default: 0 };
    EnableModuleCommand: "enable-module-command", IMMUTABLE, Kind::Enum { values: PROTECTED_ACTION, default: 0 };
    IgnoreWarnings: "ignore-warnings", 0, str_def("");
    ShutdownOnSigint: "shutdown-on-sigint", MULTI_ARG, Kind::Enum { values: SHUTDOWN_FLAGS, default: 0 };
    ShutdownOnSigterm: "shutdown-on-sigterm", MULTI_ARG, Kind::Enum { values: SHUTDOWN_FLAGS, default: 0 };
    ShutdownTimeout: "shutdown-timeout", 0, int(0, INT_MAX, 10);
    ServerCpulist: "server_cpulist", IMMUTABLE, str_null();
    BioCpulist: "bio_cpulist", IMMUTABLE, str_null();
    AofRewriteCpulist: "aof_rewrite_cpulist", IMMUTABLE, str_null();
    BgsaveCpulist: "bgsave_cpulist", IMMUTABLE, str_null();
    DisableThp: "disable-thp", IMMUTABLE, yes();
    UseExitOnPanic: "use-exit-on-panic", HIDDEN, no();
    WatchdogPeriod: "watchdog-period", HIDDEN, int(0, INT_MAX, 0);

    // Snapshotting.
    Save: "save", MULTI_ARG, Kind::Save;
    StopWritesOnBgsaveError: "stop-writes-on-bgsave-error", 0, yes();
    Rdbcompression: "rdbcompression", 0, yes();
    Rdbchecksum: "rdbchecksum", IMMUTABLE, yes();
    SanitizeDumpPayload: "sanitize-dump-payload", 0, Kind::Enum { values: SANITIZE_DUMP, default: 0 };
    Dbfilename: "dbfilename", PROTECTED,
        Kind::Str { default: Some("dump.rdb"), empty_is_null: false, check: StrCheck::DbFilename };
    RdbDelSyncFiles: "rdb-del-sync-files", 0, no();
    Dir: "dir", PROTECTED, Kind::Dir;
    RdbSaveIncrementalFsync: "rdb-save-incremental-fsync", 0, yes();
    RdbKeySaveDelay: "rdb-key-save-delay", HIDDEN, int(INT_MIN, INT_MAX, 0);
    KeyLoadDelay: "key-load-delay", HIDDEN, int(INT_MIN, INT_MAX, 0);
    LoadingProcessEventsIntervalBytes: "loading-process-events-interval-bytes", HIDDEN, int(1024, INT_MAX, 2 * 1024 * 1024);

    // Replication (stored, not acted on: magpie has no replication yet).
    Replicaof: "replicaof" | "slaveof", IMMUTABLE | MULTI_ARG, Kind::ReplicaOf;
    Masterauth: "masterauth", SENSITIVE, str_null();
    Masteruser: "masteruser", SENSITIVE, str_null();
    ReplicaServeStaleData: "replica-serve-stale-data" | "slave-serve-stale-data", 0, yes();
    ReplicaReadOnly: "replica-read-only" | "slave-read-only", 0, yes();
    ReplDisklessSync: "repl-diskless-sync", 0, yes();
    ReplDisklessSyncDelay: "repl-diskless-sync-delay", 0, int(0, INT_MAX, 5);
    ReplDisklessSyncMaxReplicas: "repl-diskless-sync-max-replicas", 0, int(0, INT_MAX, 0);
    ReplDisklessLoad: "repl-diskless-load", 0, Kind::Enum { values: REPL_DISKLESS_LOAD, default: 0 };
    ReplPingReplicaPeriod: "repl-ping-replica-period" | "repl-ping-slave-period", 0, int(1, INT_MAX, 10);
    ReplTimeout: "repl-timeout", 0, int(1, INT_MAX, 60);
    ReplDisableTcpNodelay: "repl-disable-tcp-nodelay", 0, no();
    ReplBacklogSize: "repl-backlog-size", 0, mem(1, LONG_MAX, 1024 * 1024, false);
    ReplBacklogTtl: "repl-backlog-ttl", 0, int(0, LONG_MAX, 3600);
    ReplicaPriority: "replica-priority" | "slave-priority", 0, int(0, INT_MAX, 100);
    ReplicaAnnounced: "replica-announced", 0, yes();
    MinReplicasToWrite: "min-replicas-to-write" | "min-slaves-to-write", 0, int(0, INT_MAX, 0);
    MinReplicasMaxLag: "min-replicas-max-lag" | "min-slaves-max-lag", 0, int(0, INT_MAX, 10);
    ReplicaAnnounceIp: "replica-announce-ip" | "slave-announce-ip", 0, str_null();
    ReplicaAnnouncePort: "replica-announce-port" | "slave-announce-port", 0, int(0, 65535, 0);
    ReplicaLazyFlush: "replica-lazy-flush" | "slave-lazy-flush", 0, no();
    ReplicaIgnoreMaxmemory: "replica-ignore-maxmemory" | "slave-ignore-maxmemory", 0, yes();
    ReplicaIgnoreDiskWriteErrors: "replica-ignore-disk-write-errors", 0, no();
    PropagationErrorBehavior: "propagation-error-behavior", 0, Kind::Enum { values: PROPAGATION_ERROR, default: 0 };

    // Security.
    Requirepass: "requirepass", SENSITIVE, str_null();
    Aclfile: "aclfile", IMMUTABLE, str_def("");
    AcllogMaxLen: "acllog-max-len", 0, uint(0, LONG_MAX, 128);
    AclPubsubDefault: "acl-pubsub-default", 0, Kind::Enum { values: ACL_PUBSUB_DEFAULT, default: 0 };

    // Memory management.
    Maxmemory: "maxmemory", 0, mem(0, ULLONG_MAX, 0, true);
    MaxmemoryPolicy: "maxmemory-policy", 0, Kind::Enum { values: MAXMEMORY_POLICIES, default: 7 };
    MaxmemorySamples: "maxmemory-samples", 0, int(1, INT_MAX, 5);
    MaxmemoryEvictionTenacity: "maxmemory-eviction-tenacity", 0, int(0, 100, 10);
    MaxmemoryClients: "maxmemory-clients", 0,
        Kind::Num { min: -100, max: LONG_MAX, default: 0, unsigned: false, fmt: NumFmt::MemoryOrPercent };
    LfuLogFactor: "lfu-log-factor", 0, int(0, INT_MAX, 10);
    LfuDecayTime: "lfu-decay-time", 0, int(0, INT_MAX, 1);
    ActiveExpireEffort: "active-expire-effort", 0, int(1, 10, 1);
    LazyfreeLazyEviction: "lazyfree-lazy-eviction", 0, no();
    LazyfreeLazyExpire: "lazyfree-lazy-expire", 0, no();
    LazyfreeLazyServerDel: "lazyfree-lazy-server-del", 0, no();
    LazyfreeLazyUserDel: "lazyfree-lazy-user-del", 0, no();
    LazyfreeLazyUserFlush: "lazyfree-lazy-user-flush", 0, no();
    OomScoreAdj: "oom-score-adj", 0, Kind::Enum { values: OOM_SCORE_ADJ, default: 0 };
    OomScoreAdjValues: "oom-score-adj-values", MULTI_ARG, Kind::OomScoreAdjValues;
    JemallocBgThread: "jemalloc-bg-thread", 0, yes();
    Activedefrag: "activedefrag", 0, no();
    ActiveDefragIgnoreBytes: "active-defrag-ignore-bytes", 0, mem(1, LONG_MAX, 100 << 20, true);
    ActiveDefragThresholdLower: "active-defrag-threshold-lower", 0, int(0, 1000, 10);
    ActiveDefragThresholdUpper: "active-defrag-threshold-upper", 0, int(0, 1000, 100);
    ActiveDefragCycleMin: "active-defrag-cycle-min", 0, int(1, 99, 1);
    ActiveDefragCycleMax: "active-defrag-cycle-max", 0, int(1, 99, 25);
    ActiveDefragMaxScanFields: "active-defrag-max-scan-fields", 0, uint(1, LONG_MAX, 1000);

    // Threads.
    IoThreads: "io-threads", IMMUTABLE, int(1, 128, 1);
    IoThreadsDoReads: "io-threads-do-reads", IMMUTABLE, no();

    // Append only mode (stored; magpie persists with RDB only).
    Appendonly: "appendonly", 0, no();
    Appendfilename: "appendfilename", IMMUTABLE,
        Kind::Str { default: Some("appendonly.aof"), empty_is_null: false, check: StrCheck::AofFilename };
    Appenddirname: "appenddirname", IMMUTABLE,
        Kind::Str { default: Some("appendonlydir"), empty_is_null: false, check: StrCheck::AofDirname };
    Appendfsync: "appendfsync", 0, Kind::Enum { values: APPENDFSYNC, default: 2 };
    NoAppendfsyncOnRewrite: "no-appendfsync-on-rewrite", 0, no();
    AutoAofRewritePercentage: "auto-aof-rewrite-percentage", 0, int(0, INT_MAX, 100);
    AutoAofRewriteMinSize: "auto-aof-rewrite-min-size", 0, mem(0, LONG_MAX, 64 * 1024 * 1024, false);
    AofLoadTruncated: "aof-load-truncated", 0, yes();
    AofUseRdbPreamble: "aof-use-rdb-preamble", 0, yes();
    AofTimestampEnabled: "aof-timestamp-enabled", 0, no();
    AofRewriteIncrementalFsync: "aof-rewrite-incremental-fsync", 0, yes();
    AofDisableAutoGc: "aof-disable-auto-gc", 0, no();

    // Scripting.
    BusyReplyThreshold: "busy-reply-threshold" | "lua-time-limit", 0, int(0, LONG_MAX, 5000);

    // Cluster (stored, not acted on).
    ClusterEnabled: "cluster-enabled", IMMUTABLE, no();
    ClusterConfigFile: "cluster-config-file", IMMUTABLE, str_def("nodes.conf");
    ClusterNodeTimeout: "cluster-node-timeout", 0, int(0, LONG_MAX, 15000);
    ClusterPort: "cluster-port", IMMUTABLE, int(0, 65535, 0);
    ClusterReplicaValidityFactor: "cluster-replica-validity-factor" | "cluster-slave-validity-factor", 0, int(0, INT_MAX, 10);
    ClusterMigrationBarrier: "cluster-migration-barrier", 0, int(0, INT_MAX, 1);
    ClusterAllowReplicaMigration: "cluster-allow-replica-migration", 0, yes();
    ClusterRequireFullCoverage: "cluster-require-full-coverage", 0, yes();
    ClusterReplicaNoFailover: "cluster-replica-no-failover" | "cluster-slave-no-failover", 0, no();
    ClusterAllowReadsWhenDown: "cluster-allow-reads-when-down", 0, no();
    ClusterAllowPubsubshardWhenDown: "cluster-allow-pubsubshard-when-down", 0, yes();
    ClusterLinkSendbufLimit: "cluster-link-sendbuf-limit", 0, mem(0, ULLONG_MAX, 0, true);
    ClusterAnnounceIp: "cluster-announce-ip", 0, str_null();
    ClusterAnnounceHostname: "cluster-announce-hostname", 0,
        Kind::Str { default: None, empty_is_null: true, check: StrCheck::Hostname };
    ClusterAnnounceHumanNodename: "cluster-announce-human-nodename", 0, str_null();
    ClusterAnnouncePort: "cluster-announce-port", 0, int(0, 65535, 0);
    ClusterAnnounceBusPort: "cluster-announce-bus-port", 0, int(0, 65535, 0);
    ClusterAnnounceTlsPort: "cluster-announce-tls-port", 0, int(0, 65535, 0);
    ClusterPreferredEndpointType: "cluster-preferred-endpoint-type", 0, Kind::Enum { values: ENDPOINT_TYPE, default: 0 };

    // Slow log, latency monitor, event notification.
    SlowlogLogSlowerThan: "slowlog-log-slower-than", 0, int(-1, LONG_MAX, 10000);
    SlowlogMaxLen: "slowlog-max-len", 0, uint(0, LONG_MAX, 128);
    LatencyMonitorThreshold: "latency-monitor-threshold", 0, int(0, LONG_MAX, 0);
    LatencyTracking: "latency-tracking", 0, yes();
    LatencyTrackingInfoPercentiles: "latency-tracking-info-percentiles", MULTI_ARG, Kind::Percentiles;
    NotifyKeyspaceEvents: "notify-keyspace-events", 0, Kind::NotifyKeyspaceEvents;

    // Advanced.
    HashMaxListpackEntries: "hash-max-listpack-entries" | "hash-max-ziplist-entries", 0, uint(0, LONG_MAX, 512);
    HashMaxListpackValue: "hash-max-listpack-value" | "hash-max-ziplist-value", 0, mem(0, LONG_MAX, 64, true);
    ListMaxListpackSize: "list-max-listpack-size" | "list-max-ziplist-size", 0, int(INT_MIN, INT_MAX, -2);
    ListCompressDepth: "list-compress-depth", 0, int(0, INT_MAX, 0);
    SetMaxIntsetEntries: "set-max-intset-entries", 0, uint(0, LONG_MAX, 512);
    SetMaxListpackEntries: "set-max-listpack-entries", 0, uint(0, LONG_MAX, 128);
    SetMaxListpackValue: "set-max-listpack-value", 0, mem(0, LONG_MAX, 64, true);
    ZsetMaxListpackEntries: "zset-max-listpack-entries" | "zset-max-ziplist-entries", 0, uint(0, LONG_MAX, 128);
    ZsetMaxListpackValue: "zset-max-listpack-value" | "zset-max-ziplist-value", 0, mem(0, LONG_MAX, 64, true);
    HllSparseMaxBytes: "hll-sparse-max-bytes", 0, mem(0, LONG_MAX, 3000, true);
    StreamNodeMaxBytes: "stream-node-max-bytes", 0, mem(0, LONG_MAX, 4096, true);
    StreamNodeMaxEntries: "stream-node-max-entries", 0, int(0, LONG_MAX, 100);
    Activerehashing: "activerehashing", 0, yes();
    ClientOutputBufferLimit: "client-output-buffer-limit", MULTI_ARG, Kind::ClientOutputBufferLimit;
    ClientQueryBufferLimit: "client-query-buffer-limit", 0, mem(1024 * 1024, LONG_MAX, 1024 * 1024 * 1024, true);
    ProtoMaxBulkLen: "proto-max-bulk-len", 0, mem(1024 * 1024, LONG_MAX, 512 * 1024 * 1024, false);
    Hz: "hz", 0, int(0, INT_MAX, 10);
    DynamicHz: "dynamic-hz", 0, yes();
    TrackingTableMaxKeys: "tracking-table-max-keys", 0, uint(0, LONG_MAX, 1_000_000);
}

/// Directives Redis 7 still tolerates in a config file (and ignores), with
/// the argument counts (name included) it accepts.
pub(crate) const DEPRECATED: &[(&str, usize, usize)] = &[
    ("list-max-ziplist-entries", 2, 2),
    ("list-max-ziplist-value", 2, 2),
    ("lua-replicate-commands", 2, 2),
];

impl Id {
    /// The directive's canonical name.
    pub fn name(self) -> &'static str {
        row(self).name
    }
}

/// The row of an id.
pub(crate) fn row(id: Id) -> &'static Directive {
    &TABLE[id as usize]
}

/// Finds a directive by name or alias, ignoring ASCII case.
pub(crate) fn lookup(name: &[u8]) -> Option<&'static Directive> {
    TABLE.iter().find(|d| {
        name.eq_ignore_ascii_case(d.name.as_bytes())
            || d.alias
                .is_some_and(|a| name.eq_ignore_ascii_case(a.as_bytes()))
    })
}

/// Every name CONFIG GET can list: each primary name followed by its alias.
pub(crate) fn all_names() -> impl Iterator<Item = (&'static str, &'static Directive)> {
    TABLE
        .iter()
        .flat_map(|d| std::iter::once((d.name, d)).chain(d.alias.map(|a| (a, d))))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn ids_match_rows() {
        for (i, d) in TABLE.iter().enumerate() {
            assert_eq!(d.id as usize, i, "{}", d.name);
        }
    }

    #[test]
    fn names_are_unique_and_lowercase() {
        let mut seen = HashSet::new();
        for (name, _) in all_names() {
            assert!(seen.insert(name), "duplicate {name}");
            assert_eq!(name, name.to_ascii_lowercase());
        }
    }

    #[test]
    fn defaults_are_in_range() {
        for d in TABLE {
            match d.kind {
                Kind::Num {
                    min,
                    max,
                    default,
                    unsigned,
                    ..
                } => {
                    let v = if unsigned {
                        i128::from(default as u64)
                    } else {
                        i128::from(default)
                    };
                    assert!(v >= min && v <= max, "{}", d.name);
                }
                Kind::Enum { values, default } => {
                    assert!(values.iter().any(|&(_, v)| v == default), "{}", d.name);
                }
                _ => {}
            }
        }
    }

    #[test]
    fn lookup_finds_aliases_in_any_case() {
        assert_eq!(
            lookup(b"LUA-TIME-LIMIT").map(|d| d.id),
            Some(Id::BusyReplyThreshold)
        );
        assert_eq!(lookup(b"slaveof").map(|d| d.id), Some(Id::Replicaof));
        assert_eq!(
            lookup(b"hash-max-ziplist-entries").map(|d| d.id),
            Some(Id::HashMaxListpackEntries)
        );
        assert!(lookup(b"nope").is_none());
    }
}
