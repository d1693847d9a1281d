//! INFO: Redis 7.4's sections and field names, in Redis's order.
//!
//! Sections are plain text, `# Name` headers, CRLF line endings, a blank
//! line between sections. Per-shard numbers (keyspace, hits/misses,
//! command statistics) are gathered with one `on_all_shards` call; process
//! numbers come from the allocator (jemalloc) and `/proc`.

use crate::command::flags::*;
use crate::command::{row, CmdFuture, CommandSpec, Exec, Keys};
use crate::conn::ConnCtx;
use crate::server::Shared;
use crate::stats::CmdStats;
use bytes::Bytes;
use std::collections::HashSet;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use storage::Reply;

/// The INFO row.
pub static COMMANDS: &[CommandSpec] =
    &[
        row("info", -1, LOADING | STALE, Keys::None, Exec::Coord(info))
            .history(&[(
                "7.0.0",
                "Added support for taking multiple section arguments.",
            )])
            .acl(&["slow", "dangerous"])
            .tips(&[
                "nondeterministic_output",
                "request_policy:all_shards",
                "response_policy:special",
            ])
            .doc(
                "server",
                "1.0.0",
                "Returns information and statistics about the server.",
                "O(1)",
            ),
    ];

/// Samples averaged for the instantaneous rates (Redis's 16 samples).
const RATE_SAMPLES: usize = 16;

#[derive(Default)]
struct Rates {
    last: Option<(Instant, [u64; 3])>,
    samples: [[u64; RATE_SAMPLES]; 3],
    idx: usize,
}

/// What INFO keeps between calls.
pub struct InfoState {
    /// Allocated bytes when the server started.
    pub startup_memory: u64,
    /// The highest allocated bytes seen.
    pub peak_memory: AtomicU64,
    /// The replication id INFO replication shows.
    pub replid: String,
    rates: Mutex<Rates>,
}

impl Default for InfoState {
    fn default() -> Self {
        Self::new()
    }
}

impl InfoState {
    /// Reads the allocator once for the start-up figure.
    pub fn new() -> InfoState {
        let used = allocated();
        InfoState {
            startup_memory: used,
            peak_memory: AtomicU64::new(used),
            replid: (0..40)
                .map(|_| format!("{:x}", rand::random::<u8>() % 16))
                .collect(),
            rates: Mutex::new(Rates::default()),
        }
    }

    /// Notes a current memory figure for the peak.
    fn note_memory(&self, used: u64) -> u64 {
        self.peak_memory
            .fetch_max(used, Ordering::Relaxed)
            .max(used)
    }

    /// Instantaneous ops/sec, input bytes/sec, output bytes/sec.
    fn rates(&self) -> [u64; 3] {
        let r = self.rates.lock().unwrap_or_else(|p| p.into_inner());
        let mut out = [0u64; 3];
        for (i, o) in out.iter_mut().enumerate() {
            *o = r.samples[i].iter().sum::<u64>() / RATE_SAMPLES as u64;
        }
        out
    }
}

/// Samples the rates (and the memory peak) ten times a second, as Redis's
/// cron does; runs on the listener's runtime.
pub async fn sample_rates(shared: Arc<Shared>) {
    let mut tick = tokio::time::interval(Duration::from_millis(100));
    loop {
        tick.tick().await;
        let now = Instant::now();
        let cur = [
            shared
                .stats
                .total_commands_processed
                .load(Ordering::Relaxed),
            shared.stats.net_input_bytes.load(Ordering::Relaxed),
            shared.stats.net_output_bytes.load(Ordering::Relaxed),
        ];
        {
            let mut r = shared.info.rates.lock().unwrap_or_else(|p| p.into_inner());
            if let Some((t, prev)) = r.last {
                let ms = now.duration_since(t).as_millis().max(1) as u64;
                let idx = r.idx;
                for i in 0..3 {
                    r.samples[i][idx] = cur[i].saturating_sub(prev[i]) * 1000 / ms;
                }
                r.idx = (idx + 1) % RATE_SAMPLES;
            }
            r.last = Some((now, cur));
        }
        shared.info.note_memory(allocated());
    }
}

/// Bytes allocated by the application, from jemalloc (after refreshing
/// its statistics).
pub fn allocated() -> u64 {
    let _ = tikv_jemalloc_ctl::epoch::advance();
    tikv_jemalloc_ctl::stats::allocated::read().unwrap_or(0) as u64
}

/// Redis's `bytesToHuman`.
pub fn bytes_to_human(n: u64) -> String {
    const K: f64 = 1024.0;
    let d = n as f64;
    if n < 1024 {
        format!("{n}B")
    } else if d < K * K {
        format!("{:.2}K", d / K)
    } else if d < K * K * K {
        format!("{:.2}M", d / (K * K))
    } else if d < K * K * K * K {
        format!("{:.2}G", d / (K * K * K))
    } else if d < K * K * K * K * K {
        format!("{:.2}T", d / (K * K * K * K))
    } else if d < K * K * K * K * K * K {
        format!("{:.2}P", d / (K * K * K * K * K))
    } else {
        format!("{n}B")
    }
}

/// Sections in output order: (name, header, in `default`).
const SECTIONS: &[(&str, &str, bool)] = &[
    ("server", "Server", true),
    ("clients", "Clients", true),
    ("memory", "Memory", true),
    ("persistence", "Persistence", true),
    ("stats", "Stats", true),
    ("replication", "Replication", true),
    ("cpu", "CPU", true),
    ("modules", "Modules", true),
    ("commandstats", "Commandstats", false),
    ("errorstats", "Errorstats", true),
    ("latencystats", "Latencystats", false),
    ("cluster", "Cluster", true),
    ("keyspace", "Keyspace", true),
];

/// Which sections a request asks for (Redis's `genInfoSectionDict`).
fn wanted(args: &[Bytes]) -> HashSet<&'static str> {
    let mut out = HashSet::new();
    let defaults = || SECTIONS.iter().filter(|s| s.2).map(|s| s.0);
    if args.is_empty() {
        out.extend(defaults());
        return out;
    }
    for a in args {
        let a = a.to_ascii_lowercase();
        match a.as_slice() {
            b"all" | b"everything" => out.extend(SECTIONS.iter().map(|s| s.0)),
            b"default" => out.extend(defaults()),
            b"module_list" => {
                out.insert("modules");
            }
            other => {
                if let Some(s) = SECTIONS.iter().find(|s| s.0.as_bytes() == other) {
                    out.insert(s.0);
                }
            }
        }
    }
    out
}

/// Per-shard numbers INFO needs.
struct ShardNumbers {
    hits: u64,
    misses: u64,
    expired: u64,
    expired_subkeys: u64,
    evicted: u64,
    /// Per database: keys, keys with a deadline, sum of TTLs of a sample
    /// weighted by its expires count, hashes with field deadlines.
    dbs: Vec<(u64, u64, u128, u64)>,
    cmdstats: CmdStats,
}

fn info(ctx: &mut ConnCtx, argv: Vec<Bytes>) -> CmdFuture<'_> {
    Box::pin(async move {
        let want = wanted(&argv[1..]);
        let needs_shards = ["stats", "keyspace", "commandstats"]
            .iter()
            .any(|s| want.contains(s));
        let shards = if needs_shards {
            crate::dispatch::on_all_shards(ctx, |env| {
                let now = env.shard.now_ms();
                let st = env.shard.stats();
                ShardNumbers {
                    hits: st.keyspace_hits,
                    misses: st.keyspace_misses,
                    expired: st.expired_keys,
                    expired_subkeys: st.expired_subkeys,
                    evicted: st.evicted_keys,
                    dbs: env
                        .shard
                        .dbs
                        .iter()
                        .map(|d| {
                            let e = d.expires_len() as u64;
                            (
                                d.len() as u64,
                                e,
                                d.avg_ttl(now) as u128 * e as u128,
                                d.subexpiry() as u64,
                            )
                        })
                        .collect(),
                    cmdstats: env.cmdstats.clone(),
                }
            })
            .await
        } else {
            Vec::new()
        };
        let text = generate(ctx, &want, &shards);
        Ok(Reply::Verbatim("txt", Bytes::from(text)))
    })
}

fn generate(ctx: &ConnCtx, want: &HashSet<&str>, shards: &[ShardNumbers]) -> String {
    let shared = &ctx.worker.shared;
    let mut out = String::new();
    for (name, header, _) in SECTIONS {
        if !want.contains(name) {
            continue;
        }
        if !out.is_empty() {
            out.push_str("\r\n");
        }
        let _ = write!(out, "# {header}\r\n");
        let mut lines: Vec<(String, String)> = Vec::new();
        let mut add = |k: &str, v: String| lines.push((k.to_string(), v));
        match *name {
            "server" => server_section(ctx, &mut add),
            "clients" => clients_section(shared, &mut add),
            "memory" => memory_section(shared, &mut add),
            "persistence" => persistence_section(shared, &mut add),
            "stats" => stats_section(shared, shards, &mut add),
            "replication" => replication_section(shared, &mut add),
            "cpu" => cpu_section(&mut add),
            "commandstats" => commandstats_section(shards, &mut add),
            "errorstats" => {
                for (code, n) in shared.errorstats.snapshot() {
                    add(&format!("errorstat_{code}"), format!("count={n}"));
                }
            }
            "cluster" => add("cluster_enabled", "0".into()),
            "keyspace" => keyspace_section(shards, &mut add),
            _ => {}
        }
        for (k, v) in lines {
            let _ = write!(out, "{k}:{v}\r\n");
        }
    }
    out
}

type Add<'a> = dyn FnMut(&str, String) + 'a;

fn unix_now_us() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_micros())
        .unwrap_or(0)
}

fn read_trimmed(path: &str) -> String {
    std::fs::read_to_string(path)
        .map(|s| s.trim().to_string())
        .unwrap_or_default()
}

fn server_section(ctx: &ConnCtx, add: &mut Add<'_>) {
    let shared = &ctx.worker.shared;
    let cfg = shared.config();
    let uptime = shared.started.elapsed().as_secs();
    let os = format!(
        "{} {} {}",
        read_trimmed("/proc/sys/kernel/ostype"),
        read_trimmed("/proc/sys/kernel/osrelease"),
        std::env::consts::ARCH
    );
    let port = shared.port.load(Ordering::Relaxed);
    add("redis_version", crate::REDIS_VERSION.into());
    add("magpie_version", crate::MAGPIE_VERSION.into());
    add("redis_git_sha1", "00000000".into());
    add("redis_git_dirty", "0".into());
    add("redis_build_id", "0".into());
    add("redis_mode", "standalone".into());
    add("os", os);
    add("arch_bits", (usize::BITS).to_string());
    add("monotonic_clock", "POSIX clock_gettime".into());
    add("multiplexing_api", "epoll".into());
    add("atomicvar_api", "c11-builtin".into());
    add("gcc_version", "0.0.0".into());
    add("process_id", std::process::id().to_string());
    add("process_supervised", "no".into());
    add("run_id", shared.run_id.clone());
    add("tcp_port", port.to_string());
    add("server_time_usec", unix_now_us().to_string());
    add("uptime_in_seconds", uptime.to_string());
    add("uptime_in_days", (uptime / 86400).to_string());
    add("hz", crate::knobs::hz(&cfg).to_string());
    add("configured_hz", crate::knobs::hz(&cfg).to_string());
    add(
        "lru_clock",
        storage::db::lru_clock(unix_now_us() as u64 / 1000).to_string(),
    );
    add(
        "executable",
        std::env::current_exe()
            .map(|p| p.display().to_string())
            .unwrap_or_default(),
    );
    add("config_file", crate::knobs::config_file(&cfg));
    add("io_threads_active", "0".into());
    let mut listener = String::from("name=tcp");
    for b in crate::knobs::bind(&cfg) {
        let _ = write!(listener, ",bind={b}");
    }
    let _ = write!(listener, ",port={port}");
    add("listener0", listener);
}

fn clients_section(shared: &Shared, add: &mut Add<'_>) {
    let cfg = shared.config();
    let clients = shared.clients.snapshot();
    let max_qbuf = clients
        .iter()
        .map(|c| c.qbuf.load(Ordering::Relaxed))
        .max()
        .unwrap_or(0);
    add("connected_clients", clients.len().to_string());
    add("cluster_connections", "0".into());
    add("maxclients", crate::knobs::maxclients(&cfg).to_string());
    add("client_recent_max_input_buffer", max_qbuf.to_string());
    add("client_recent_max_output_buffer", "0".into());
    let blocked = clients.iter().filter(|c| c.blocked.is_blocked()).count();
    add("blocked_clients", blocked.to_string());
    let (_, _, _, tracking) = shared.hub.tracking.counts();
    add("tracking_clients", tracking.to_string());
    let pubsub = clients.iter().filter(|c| c.pubsub_active()).count();
    add("pubsub_clients", pubsub.to_string());
    let watching = clients.iter().filter(|c| c.watch.keys() > 0).count();
    add("watching_clients", watching.to_string());
    add("clients_in_timeout_table", "0".into());
    add(
        "total_watched_keys",
        crate::watch::total_watched_keys().to_string(),
    );
    for k in ["total_blocking_keys", "total_blocking_keys_on_nokey"] {
        add(k, "0".into());
    }
}

/// Resident set size from /proc (bytes).
pub fn rss() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map(|kb| kb * 1024)
        .unwrap_or(0)
}

fn total_system_memory() -> u64 {
    let info = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    info.lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map(|kb| kb * 1024)
        .unwrap_or(0)
}

fn ratio(a: u64, b: u64) -> String {
    if b == 0 {
        "0.00".into()
    } else {
        format!("{:.2}", a as f64 / b as f64)
    }
}

fn memory_section(shared: &Shared, add: &mut Add<'_>) {
    let cfg = shared.config();
    let used = allocated();
    let peak = shared.info.note_memory(used);
    let active = tikv_jemalloc_ctl::stats::active::read().unwrap_or(0) as u64;
    let resident = tikv_jemalloc_ctl::stats::resident::read().unwrap_or(0) as u64;
    let rss = rss();
    let startup = shared.info.startup_memory;
    let overhead = startup.min(used);
    let dataset = used - overhead;
    let net = used.saturating_sub(startup);
    let maxmemory = crate::knobs::maxmemory(&cfg);
    let clients_mem: u64 = shared
        .clients
        .snapshot()
        .iter()
        .map(|c| (16384 + 1024 + c.qbuf.load(Ordering::Relaxed)) as u64)
        .sum();
    add("used_memory", used.to_string());
    add("used_memory_human", bytes_to_human(used));
    add("used_memory_rss", rss.to_string());
    add("used_memory_rss_human", bytes_to_human(rss));
    add("used_memory_peak", peak.to_string());
    add("used_memory_peak_human", bytes_to_human(peak));
    add(
        "used_memory_peak_perc",
        format!("{:.2}%", used as f64 * 100.0 / peak.max(1) as f64),
    );
    add("used_memory_overhead", overhead.to_string());
    add("used_memory_startup", startup.to_string());
    add("used_memory_dataset", dataset.to_string());
    add(
        "used_memory_dataset_perc",
        format!("{:.2}%", dataset as f64 * 100.0 / net.max(1) as f64),
    );
    add("allocator_allocated", used.to_string());
    add("allocator_active", active.to_string());
    add("allocator_resident", resident.to_string());
    add("allocator_muzzy", "0".into());
    let total = total_system_memory();
    add("total_system_memory", total.to_string());
    add("total_system_memory_human", bytes_to_human(total));
    // Lua memory is not measured per engine (0); the counts are real.
    let libs = shared.scripts.functions.snapshot();
    for (k, v) in [
        ("used_memory_lua", "0"),
        ("used_memory_vm_eval", "0"),
        ("used_memory_lua_human", "0B"),
        ("used_memory_scripts_eval", "0"),
        (
            "number_of_cached_scripts",
            &shared.scripts.cache.len().to_string(),
        ),
        ("number_of_functions", &libs.function_count().to_string()),
        ("number_of_libraries", &libs.libs.len().to_string()),
        ("used_memory_vm_functions", "0"),
        ("used_memory_vm_total", "0"),
        ("used_memory_vm_total_human", "0B"),
        ("used_memory_functions", "0"),
        ("used_memory_scripts", "0"),
        ("used_memory_scripts_human", "0B"),
    ] {
        add(k, v.into());
    }
    add("maxmemory", maxmemory.to_string());
    add("maxmemory_human", bytes_to_human(maxmemory));
    add("maxmemory_policy", crate::knobs::maxmemory_policy(&cfg));
    add("allocator_frag_ratio", ratio(active, used));
    add(
        "allocator_frag_bytes",
        (active as i64 - used as i64).to_string(),
    );
    add("allocator_rss_ratio", ratio(resident, active));
    add(
        "allocator_rss_bytes",
        (resident as i64 - active as i64).to_string(),
    );
    add("rss_overhead_ratio", ratio(rss, resident));
    add(
        "rss_overhead_bytes",
        (rss as i64 - resident as i64).to_string(),
    );
    add("mem_fragmentation_ratio", ratio(rss, used));
    add(
        "mem_fragmentation_bytes",
        (rss as i64 - used as i64).to_string(),
    );
    // Free keyspace slots: allocated, reused by new keys, not freeable by
    // eviction (see `evict`).
    add(
        "mem_not_counted_for_evict",
        shared.memory.not_counted().to_string(),
    );
    add("mem_replication_backlog", "0".into());
    add("mem_total_replication_buffers", "0".into());
    add("mem_clients_slaves", "0".into());
    add("mem_clients_normal", clients_mem.to_string());
    add("mem_cluster_links", "0".into());
    add("mem_aof_buffer", "0".into());
    add("mem_allocator", "jemalloc-5.3.0".into());
    add("mem_overhead_db_hashtable_rehashing", "0".into());
    add("active_defrag_running", "0".into());
    add("lazyfree_pending_objects", "0".into());
    add("lazyfreed_objects", "0".into());
}

fn persistence_section(shared: &Shared, add: &mut Add<'_>) {
    let p = &shared.persist;
    let ld = |a: &AtomicU64| a.load(Ordering::Relaxed).to_string();
    let bg = p.bgsave_in_progress.load(Ordering::Relaxed);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    for (k, v) in [
        ("loading", "0"),
        ("async_loading", "0"),
        ("current_cow_peak", "0"),
        ("current_cow_size", "0"),
        ("current_cow_size_age", "0"),
        ("current_fork_perc", "0.00"),
        ("current_save_keys_processed", "0"),
        ("current_save_keys_total", "0"),
    ] {
        add(k, v.into());
    }
    add("rdb_changes_since_last_save", ld(&p.dirty));
    add("rdb_bgsave_in_progress", (bg as u8).to_string());
    add("rdb_last_save_time", ld(&p.last_save));
    let ok = p.last_bgsave_ok.load(Ordering::Relaxed);
    add(
        "rdb_last_bgsave_status",
        if ok { "ok" } else { "err" }.into(),
    );
    add(
        "rdb_last_bgsave_time_sec",
        p.last_bgsave_secs.load(Ordering::Relaxed).to_string(),
    );
    let current = if bg {
        now.saturating_sub(p.bgsave_started.load(Ordering::Relaxed)) as i64
    } else {
        -1
    };
    add("rdb_current_bgsave_time_sec", current.to_string());
    add("rdb_saves", ld(&p.saves));
    add("rdb_last_cow_size", "0".into());
    add("rdb_last_load_keys_expired", ld(&p.last_load_expired));
    add("rdb_last_load_keys_loaded", ld(&p.last_load_loaded));
    for (k, v) in [
        ("aof_enabled", "0"),
        ("aof_rewrite_in_progress", "0"),
        ("aof_rewrite_scheduled", "0"),
        ("aof_last_rewrite_time_sec", "-1"),
        ("aof_current_rewrite_time_sec", "-1"),
        ("aof_last_bgrewrite_status", "ok"),
        ("aof_rewrites", "0"),
        ("aof_rewrites_consecutive_failures", "0"),
        ("aof_last_write_status", "ok"),
        ("aof_last_cow_size", "0"),
        ("module_fork_in_progress", "0"),
        ("module_fork_last_cow_size", "0"),
    ] {
        add(k, v.into());
    }
}

fn stats_section(shared: &Shared, shards: &[ShardNumbers], add: &mut Add<'_>) {
    let s = &shared.stats;
    let ld = |a: &AtomicU64| a.load(Ordering::Relaxed).to_string();
    let (hits, misses, expired) = shards.iter().fold((0, 0, 0), |acc, n| {
        (acc.0 + n.hits, acc.1 + n.misses, acc.2 + n.expired)
    });
    let [ops, inb, outb] = shared.info.rates();
    add(
        "total_connections_received",
        ld(&s.total_connections_received),
    );
    add("total_commands_processed", ld(&s.total_commands_processed));
    add("instantaneous_ops_per_sec", ops.to_string());
    add("total_net_input_bytes", ld(&s.net_input_bytes));
    add("total_net_output_bytes", ld(&s.net_output_bytes));
    add("total_net_repl_input_bytes", "0".into());
    add("total_net_repl_output_bytes", "0".into());
    add(
        "instantaneous_input_kbps",
        format!("{:.2}", inb as f64 / 1024.0),
    );
    add(
        "instantaneous_output_kbps",
        format!("{:.2}", outb as f64 / 1024.0),
    );
    add("instantaneous_input_repl_kbps", "0.00".into());
    add("instantaneous_output_repl_kbps", "0.00".into());
    add("rejected_connections", ld(&s.rejected_connections));
    add("sync_full", "0".into());
    add("sync_partial_ok", "0".into());
    add("sync_partial_err", "0".into());
    let expired_subkeys: u64 = shards.iter().map(|n| n.expired_subkeys).sum();
    add("expired_subkeys", expired_subkeys.to_string());
    add("expired_keys", expired.to_string());
    add("expired_stale_perc", "0.00".into());
    add("expired_time_cap_reached_count", "0".into());
    add("expire_cycle_cpu_milliseconds", "0".into());
    let evicted: u64 = shards.iter().map(|n| n.evicted).sum();
    add("evicted_keys", evicted.to_string());
    add("evicted_clients", "0".into());
    add("evicted_scripts", "0".into());
    add("total_eviction_exceeded_time", "0".into());
    add("current_eviction_exceeded_time", "0".into());
    add("keyspace_hits", hits.to_string());
    add("keyspace_misses", misses.to_string());
    let (channels, shard_channels) = shared.hub.channel_counts();
    add("pubsub_channels", channels.to_string());
    add("pubsub_patterns", shared.hub.numpat().to_string());
    add("pubsubshard_channels", shard_channels.to_string());
    for k in [
        "latest_fork_usec",
        "total_forks",
        "migrate_cached_sockets",
        "slave_expires_tracked_keys",
        "active_defrag_hits",
        "active_defrag_misses",
        "active_defrag_key_hits",
        "active_defrag_key_misses",
        "total_active_defrag_time",
        "current_active_defrag_time",
    ] {
        add(k, "0".into());
    }
    let (tkeys, titems, tprefixes, _) = shared.hub.tracking.counts();
    add("tracking_total_keys", tkeys.to_string());
    add("tracking_total_items", titems.to_string());
    add("tracking_total_prefixes", tprefixes.to_string());
    add("unexpected_error_replies", "0".into());
    add("total_error_replies", ld(&s.total_error_replies));
    for k in [
        "dump_payload_sanitizations",
        "total_reads_processed",
        "total_writes_processed",
        "io_threaded_reads_processed",
        "io_threaded_writes_processed",
        "client_query_buffer_limit_disconnections",
        "client_output_buffer_limit_disconnections",
        "reply_buffer_shrinks",
        "reply_buffer_expands",
        "eventloop_cycles",
        "eventloop_duration_sum",
        "eventloop_duration_cmd_sum",
        "instantaneous_eventloop_cycles_per_sec",
        "instantaneous_eventloop_duration_usec",
        "acl_access_denied_auth",
        "acl_access_denied_cmd",
        "acl_access_denied_key",
        "acl_access_denied_channel",
    ] {
        add(
            k,
            if k == "client_output_buffer_limit_disconnections" {
                crate::outbox::OBUF_DISCONNECTIONS
                    .load(Ordering::Relaxed)
                    .to_string()
            } else {
                "0".into()
            },
        );
    }
}

fn replication_section(shared: &Shared, add: &mut Add<'_>) {
    add("role", "master".into());
    add("connected_slaves", "0".into());
    add("master_failover_state", "no-failover".into());
    add("master_replid", shared.info.replid.clone());
    add("master_replid2", "0".repeat(40));
    add("master_repl_offset", "0".into());
    add("second_repl_offset", "-1".into());
    add("repl_backlog_active", "0".into());
    add("repl_backlog_size", "1048576".into());
    add("repl_backlog_first_byte_offset", "0".into());
    add("repl_backlog_histlen", "0".into());
}

/// (user, system) CPU seconds from a `/proc/.../stat` file.
fn cpu_times(path: &str, children: bool) -> (f64, f64) {
    let stat = std::fs::read_to_string(path).unwrap_or_default();
    // Fields after the parenthesised command name; utime is field 14.
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let f: Vec<&str> = rest.split_whitespace().collect();
    let tick = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0) / 100.0;
    if children {
        (tick(13), tick(14))
    } else {
        (tick(11), tick(12))
    }
}

fn cpu_section(add: &mut Add<'_>) {
    let (user, sys) = cpu_times("/proc/self/stat", false);
    let (cuser, csys) = cpu_times("/proc/self/stat", true);
    let (tuser, tsys) = cpu_times("/proc/thread-self/stat", false);
    add("used_cpu_sys", format!("{sys:.6}"));
    add("used_cpu_user", format!("{user:.6}"));
    add("used_cpu_sys_children", format!("{csys:.6}"));
    add("used_cpu_user_children", format!("{cuser:.6}"));
    add("used_cpu_sys_main_thread", format!("{tsys:.6}"));
    add("used_cpu_user_main_thread", format!("{tuser:.6}"));
}

fn commandstats_section(shards: &[ShardNumbers], add: &mut Add<'_>) {
    let mut total = CmdStats::default();
    for s in shards {
        total.merge(&s.cmdstats);
    }
    let mut rows: Vec<(String, crate::stats::CmdStat)> = total
        .by_name
        .iter()
        .map(|(k, v)| (k.to_string(), *v))
        .chain(
            total
                .by_sub
                .iter()
                .map(|((p, n), v)| (format!("{p}|{n}"), *v)),
        )
        .collect();
    rows.sort_by(|a, b| a.0.cmp(&b.0));
    for (name, s) in rows {
        if s.calls == 0 && s.rejected_calls == 0 && s.failed_calls == 0 {
            continue;
        }
        let per = if s.calls == 0 {
            0.0
        } else {
            s.usec as f64 / s.calls as f64
        };
        add(
            &format!("cmdstat_{name}"),
            format!(
                "calls={},usec={},usec_per_call={:.2},rejected_calls={},failed_calls={}",
                s.calls, s.usec, per, s.rejected_calls, s.failed_calls
            ),
        );
    }
}

fn keyspace_section(shards: &[ShardNumbers], add: &mut Add<'_>) {
    let ndb = shards.iter().map(|s| s.dbs.len()).max().unwrap_or(0);
    for db in 0..ndb {
        let (mut keys, mut expires, mut ttl_sum, mut sub) = (0u64, 0u64, 0u128, 0u64);
        for s in shards {
            if let Some(&(k, e, t, h)) = s.dbs.get(db) {
                keys += k;
                expires += e;
                ttl_sum += t;
                sub += h;
            }
        }
        if keys == 0 {
            continue;
        }
        let avg = if expires == 0 {
            0
        } else {
            ttl_sum / expires as u128
        };
        add(
            &format!("db{db}"),
            format!("keys={keys},expires={expires},avg_ttl={avg},subexpiry={sub}"),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn human_bytes_like_redis() {
        assert_eq!(bytes_to_human(0), "0B");
        assert_eq!(bytes_to_human(1023), "1023B");
        assert_eq!(bytes_to_human(916416), "894.94K");
        assert_eq!(bytes_to_human(6860800), "6.54M");
        assert_eq!(bytes_to_human(25276502016), "23.54G");
    }

    #[test]
    fn section_selection() {
        let d = wanted(&[]);
        assert!(d.contains("server") && !d.contains("commandstats"));
        let a = wanted(&[Bytes::from_static(b"ALL")]);
        assert!(a.contains("commandstats") && a.contains("latencystats"));
        let k = wanted(&[Bytes::from_static(b"keyspace"), Bytes::from_static(b"nope")]);
        assert_eq!(k.len(), 1);
    }
}
