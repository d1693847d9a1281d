//! MEMORY USAGE, STATS, DOCTOR, MALLOC-STATS, PURGE, HELP.
//!
//! Figures come from jemalloc (see `evict` for the cached figure that
//! maxmemory uses; these commands measure afresh). MEMORY USAGE is an
//! estimate: the key's slot in the keyspace plus the heap bytes of key and
//! value. It walks the whole value (so `SAMPLES` is validated but every
//! element is counted: the estimate is at least as good as Redis's sample).
//! MEMORY PURGE: Redis calls jemalloc's `arena.<all>.purge`, a control
//! that takes no value; tikv-jemalloc-ctl's safe API only reads and writes
//! values, so [`purge`] gets the same effect safely (see there).

use crate::command::flags::*;
use crate::command::{row, CmdFuture, CommandSpec, Exec, KeySpec, Keys, ShardCtx};
use crate::conn::ConnCtx;
use bytes::Bytes;
use std::sync::atomic::Ordering;
use storage::{CmdError, CmdResult, Reply};

const KEY2: Keys = Keys::Range {
    first: 2,
    last: 2,
    step: 1,
};

const SUBS: &[CommandSpec] = &[
    row("doctor", 2, 0, Keys::None, Exec::Coord(doctor))
        .acl(&["slow"])
        .tips(&[
            "nondeterministic_output",
            "request_policy:all_shards",
            "response_policy:special",
        ])
        .doc(
            "server",
            "4.0.0",
            "Outputs a memory problems report.",
            "O(1)",
        ),
    row("help", 2, LOADING | STALE, Keys::None, Exec::Coord(help))
        .acl(&["slow"])
        .doc(
            "server",
            "4.0.0",
            "Returns helpful text about the different subcommands.",
            "O(1)",
        ),
    row("malloc-stats", 2, 0, Keys::None, Exec::Coord(malloc_stats))
        .acl(&["slow"])
        .tips(&[
            "nondeterministic_output",
            "request_policy:all_shards",
            "response_policy:special",
        ])
        .doc(
            "server",
            "4.0.0",
            "Returns the allocator statistics.",
            "Depends on how much memory is allocated, could be slow",
        ),
    row("purge", 2, 0, Keys::None, Exec::Coord(purge_cmd))
        .acl(&["slow"])
        .tips(&["request_policy:all_shards", "response_policy:all_succeeded"])
        .doc(
            "server",
            "4.0.0",
            "Asks the allocator to release memory.",
            "Depends on how much memory is allocated, could be slow",
        ),
    row("stats", 2, 0, Keys::None, Exec::Coord(stats))
        .acl(&["slow"])
        .tips(&[
            "nondeterministic_output",
            "request_policy:all_shards",
            "response_policy:special",
        ])
        .doc(
            "server",
            "4.0.0",
            "Returns details about memory usage.",
            "O(1)",
        ),
    row("usage", -3, READONLY, KEY2, Exec::Shard(usage))
        .key_specs(&[KeySpec::at(&["RO"], 2)])
        .acl(&["read", "slow"])
        .doc(
            "server",
            "4.0.0",
            "Estimates the memory usage of a key.",
            "O(N) where N is the number of samples.",
        ),
];

/// The MEMORY family's rows.
pub static COMMANDS: &[CommandSpec] = &[row("memory", -2, 0, Keys::None, Exec::Container)
    .acl(&["slow"])
    .doc(
        "server",
        "4.0.0",
        "A container for memory diagnostics commands.",
        "Depends on subcommand.",
    )
    .subs(SUBS)];

/// MEMORY USAGE key [SAMPLES count].
fn usage(ctx: &mut ShardCtx<'_>, argv: &[Bytes]) -> CmdResult<Reply> {
    let mut j = 3;
    while j < argv.len() {
        if argv[j].eq_ignore_ascii_case(b"samples") && j + 1 < argv.len() {
            let n = storage::numfmt::parse_i64(&argv[j + 1]).ok_or(CmdError::NotInteger)?;
            if n < 0 {
                return Err(CmdError::Syntax);
            }
            j += 2;
        } else {
            return Err(CmdError::Syntax);
        }
    }
    let now = ctx.shard.now_ms();
    let key = &argv[2];
    Ok(match ctx.shard.dbs[ctx.db].peek(key, now) {
        Some(e) => Reply::Int(key_usage(key, e) as i64),
        None => Reply::Nil,
    })
}

/// Bytes a key costs: its keyspace slot (hash, key, entry), the expires
/// index slot if it has a deadline, and the heap bytes of key and value.
pub fn key_usage(key: &[u8], e: &storage::Entry) -> u64 {
    let slot = std::mem::size_of::<(u64, storage::small::SmallBytes, storage::Entry)>() as u64;
    let exp = if e.expire_at().is_some() {
        std::mem::size_of::<(u64, storage::small::SmallBytes)>() as u64
    } else {
        0
    };
    slot + exp + storage::evict::entry_heap_bytes(key, e)
}

const HELP: &[&str] = &[
    "MEMORY <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "DOCTOR",
    "    Return memory problems reports.",
    "MALLOC-STATS",
    "    Return internal statistics report from the memory allocator.",
    "PURGE",
    "    Attempt to purge dirty pages for reclamation by the allocator.",
    "STATS",
    "    Return information about the memory usage of the server.",
    "USAGE <key> [SAMPLES <count>]",
    "    Return memory in bytes used by <key> and its value. Nested values are",
    "    sampled up to <count> times (default: 5, 0 means sample all).",
    "HELP",
    "    Print this help.",
];

fn help(_ctx: &mut ConnCtx, _argv: Vec<Bytes>) -> CmdFuture<'_> {
    Box::pin(async move {
        Ok(Reply::Array(
            HELP.iter().map(|&l| Reply::status(l)).collect(),
        ))
    })
}

/// The figures MEMORY STATS and DOCTOR share (Redis's `redisMemOverhead`).
struct Overhead {
    peak: u64,
    total: u64,
    startup: u64,
    clients_normal: u64,
    nclients: u64,
    /// Per non-empty database: (index, keys, main slots bytes, expires slots bytes).
    dbs: Vec<(usize, u64, u64, u64)>,
    active: u64,
    resident: u64,
    rss: u64,
}

impl Overhead {
    fn keys(&self) -> u64 {
        self.dbs.iter().map(|d| d.1).sum()
    }
    fn overhead_total(&self) -> u64 {
        self.startup + self.clients_normal + self.dbs.iter().map(|d| d.2 + d.3).sum::<u64>()
    }
    fn dataset(&self) -> u64 {
        self.total.saturating_sub(self.overhead_total())
    }
}

async fn overhead(ctx: &mut ConnCtx) -> Overhead {
    let per_shard = crate::dispatch::on_all_shards(ctx, |env| {
        env.shard
            .dbs
            .iter()
            .map(|d| {
                let slot =
                    std::mem::size_of::<(u64, storage::small::SmallBytes, storage::Entry)>() as u64;
                let exp = std::mem::size_of::<(u64, storage::small::SmallBytes)>() as u64;
                (
                    d.len() as u64,
                    d.len() as u64 * slot + d.free_slot_bytes() as u64,
                    d.expires_len() as u64 * exp,
                )
            })
            .collect::<Vec<_>>()
    })
    .await;
    let ndb = per_shard.iter().map(|s| s.len()).max().unwrap_or(0);
    let mut dbs = Vec::new();
    for i in 0..ndb {
        let (mut k, mut m, mut x) = (0, 0, 0);
        for s in &per_shard {
            if let Some(&(a, b, c)) = s.get(i) {
                k += a;
                m += b;
                x += c;
            }
        }
        if k > 0 {
            dbs.push((i, k, m, x));
        }
    }
    let shared = &ctx.worker.shared;
    let total = crate::evict::allocated_now();
    let clients = shared.clients.snapshot();
    let clients_normal = clients
        .iter()
        .map(|c| (16384 + 1024 + c.qbuf.load(Ordering::Relaxed)) as u64)
        .sum();
    Overhead {
        peak: shared
            .info
            .peak_memory
            .fetch_max(total, Ordering::Relaxed)
            .max(total),
        total,
        startup: shared.info.startup_memory,
        clients_normal,
        nclients: clients.len() as u64,
        dbs,
        active: tikv_jemalloc_ctl::stats::active::read().unwrap_or(0) as u64,
        resident: tikv_jemalloc_ctl::stats::resident::read().unwrap_or(0) as u64,
        rss: crate::commands::info::rss(),
    }
}

fn ratio(a: u64, b: u64) -> f64 {
    if b == 0 {
        0.0
    } else {
        a as f64 / b as f64
    }
}

fn int(n: u64) -> Reply {
    Reply::Int(n.min(i64::MAX as u64) as i64)
}

fn sint(n: i64) -> Reply {
    Reply::Int(n)
}

fn stats(ctx: &mut ConnCtx, _argv: Vec<Bytes>) -> CmdFuture<'_> {
    Box::pin(async move {
        let o = overhead(ctx).await;
        let k = |s: &'static str| Reply::bulk_static(s);
        let mut m: Vec<(Reply, Reply)> = vec![
            (k("peak.allocated"), int(o.peak)),
            (k("total.allocated"), int(o.total)),
            (k("startup.allocated"), int(o.startup)),
            (k("replication.backlog"), int(0)),
            (k("clients.slaves"), int(0)),
            (k("clients.normal"), int(o.clients_normal)),
            (k("cluster.links"), int(0)),
            (k("aof.buffer"), int(0)),
            (k("lua.caches"), int(0)),
            (k("functions.caches"), int(0)),
        ];
        for &(i, _, main, exp) in &o.dbs {
            m.push((
                Reply::Bulk(Bytes::from(format!("db.{i}"))),
                Reply::Map(vec![
                    (k("overhead.hashtable.main"), int(main)),
                    (k("overhead.hashtable.expires"), int(exp)),
                ]),
            ));
        }
        let keys = o.keys();
        let dataset = o.dataset();
        let net = o.total.saturating_sub(o.startup);
        m.extend([
            (k("overhead.db.hashtable.lut"), int(0)),
            (k("overhead.db.hashtable.rehashing"), int(0)),
            (k("overhead.total"), int(o.overhead_total())),
            (k("db.dict.rehashing.count"), int(0)),
            (k("keys.count"), int(keys)),
            (
                k("keys.bytes-per-key"),
                int(net.checked_div(keys).unwrap_or(0)),
            ),
            (k("dataset.bytes"), int(dataset)),
            (
                k("dataset.percentage"),
                Reply::Double(ratio(dataset * 100, net.max(1))),
            ),
            (
                k("peak.percentage"),
                Reply::Double(ratio(o.total * 100, o.peak.max(1))),
            ),
            (k("allocator.allocated"), int(o.total)),
            (k("allocator.active"), int(o.active)),
            (k("allocator.resident"), int(o.resident)),
            (k("allocator.muzzy"), int(0)),
            (
                k("allocator-fragmentation.ratio"),
                Reply::Double(ratio(o.active, o.total)),
            ),
            (
                k("allocator-fragmentation.bytes"),
                sint(o.active as i64 - o.total as i64),
            ),
            (
                k("allocator.rss-ratio"),
                Reply::Double(ratio(o.resident, o.active)),
            ),
            (
                k("allocator.rss-bytes"),
                sint(o.resident as i64 - o.active as i64),
            ),
            (
                k("rss-overhead.ratio"),
                Reply::Double(ratio(o.rss, o.resident)),
            ),
            (
                k("rss-overhead.bytes"),
                sint(o.rss as i64 - o.resident as i64),
            ),
            (k("fragmentation"), Reply::Double(ratio(o.rss, o.total))),
            (
                k("fragmentation.bytes"),
                sint(o.rss as i64 - o.total as i64),
            ),
        ]);
        Ok(Reply::Map(m))
    })
}

/// Redis's `getMemoryDoctorReport`, with the checks magpie has figures for
/// (no replicas, no script cache here).
fn doctor(ctx: &mut ConnCtx, _argv: Vec<Bytes>) -> CmdFuture<'_> {
    Box::pin(async move {
        let o = overhead(ctx).await;
        const MB10: i64 = 10 << 20;
        let frag = |a: u64, b: u64| (ratio(a, b), a as i64 - b as i64);
        let mut issues: Vec<&str> = Vec::new();
        let empty = o.total < 5 * 1024 * 1024;
        if !empty {
            if ratio(o.peak, o.total) > 1.5 {
                issues.push(" * Peak memory: In the past this instance used more than 150% the memory that is currently using. The allocator is normally not able to release memory after a peak, so you can expect to see a big fragmentation ratio, however this is actually harmless and is only due to the memory peak, and if the Redis instance Resident Set Size (RSS) is currently bigger than expected, the memory will be used as soon as you fill the Redis instance with more data. If the memory peak was only occasional and you want to try to reclaim memory, please try the MEMORY PURGE command, otherwise the only other option is to shutdown and restart the instance.\n\n");
            }
            let (r, b) = frag(o.rss, o.total);
            if r > 1.4 && b > MB10 {
                issues.push(" * High total RSS: This instance has a memory fragmentation and RSS overhead greater than 1.4 (this means that the Resident Set Size of the Redis process is much larger than the sum of the logical allocations Redis performed). This problem is usually due either to a large peak memory (check if there is a peak memory entry above in the report) or may result from a workload that causes the allocator to fragment memory a lot. If the problem is a large peak memory, then there is no issue. Otherwise, make sure you are using the Jemalloc allocator and not the default libc malloc. Note: The currently used allocator is \"jemalloc-5.3.0\".\n\n");
            }
            let (r, b) = frag(o.active, o.total);
            if r > 1.1 && b > MB10 {
                issues.push(" * High allocator fragmentation: This instance has an allocator external fragmentation greater than 1.1. This problem is usually due either to a large peak memory (check if there is a peak memory entry above in the report) or may result from a workload that causes the allocator to fragment memory a lot. You can try enabling 'activedefrag' config option.\n\n");
            }
            let (r, b) = frag(o.resident, o.active);
            if r > 1.1 && b > MB10 {
                issues.push(" * High allocator RSS overhead: This instance has an RSS memory overhead is greater than 1.1 (this means that the Resident Set Size of the allocator is much larger than the sum what the allocator actually holds). This problem is usually due to a large peak memory (check if there is a peak memory entry above in the report), you can try the MEMORY PURGE command to reclaim it.\n\n");
            }
            let (r, b) = frag(o.rss, o.resident);
            if r > 1.1 && b > MB10 {
                issues.push(" * High process RSS overhead: This instance has non-allocator RSS memory overhead is greater than 1.1 (this means that the Resident Set Size of the Redis process is much larger than the RSS the allocator holds). This problem may be due to Lua scripts or Modules.\n\n");
            }
            if o.clients_normal / o.nclients.max(1) > 1024 * 200 {
                issues.push(" * Big client buffers: The clients output buffers in this instance are greater than 200K per client (on average). This may result from different causes, like Pub/Sub clients subscribed to channels bot not receiving data fast enough, so that data piles on the Redis instance output buffer, or clients sending commands with large replies or very large sequences of commands in the same pipeline. Please use the CLIENT LIST command in order to investigate the issue if it causes problems in your instance, or to understand better why certain clients are using a big amount of memory.\n\n");
            }
        }
        let text = if empty {
            "Hi Sam, this instance is empty or is using very little memory, my issues detector can't be used in these conditions. Please, leave for your mission on Earth and fill it with some data. The new Sam and I will be back to our programming as soon as I finished rebooting.\n".to_string()
        } else if issues.is_empty() {
            "Hi Sam, I can't find any memory issue in your instance. I can only account for what occurs on this base.\n".to_string()
        } else {
            let mut s = String::from(
                "Sam, I detected a few issues in this Redis instance memory implants:\n\n",
            );
            for i in issues {
                s.push_str(i);
            }
            s.push_str("I'm here to keep you safe, Sam. I want to help you.\n");
            s
        };
        Ok(Reply::Verbatim("txt", Bytes::from(text)))
    })
}

/// MEMORY PURGE.
fn purge_cmd(_ctx: &mut ConnCtx, _argv: Vec<Bytes>) -> CmdFuture<'_> {
    Box::pin(async move {
        purge().map_err(|_| CmdError::msg("ERR Error purging dirty pages"))?;
        Ok(Reply::Ok)
    })
}

/// Returns jemalloc's unused dirty and muzzy pages to the system, as
/// Redis's `jemalloc_purge`. Setting an arena's decay time to 0 purges
/// its pages at once (jemalloc's decay-to-limit with no delay); each
/// arena's times are then set back to the process default
/// (`arenas.*_decay_ms`), so concurrent purges can't leave a 0 behind.
/// Arenas never initialised answer EFAULT and are skipped.
fn purge() -> tikv_jemalloc_ctl::Result<()> {
    use tikv_jemalloc_ctl::{Access, AsName};
    let narenas = tikv_jemalloc_ctl::arenas::narenas::read()? as usize;
    for (arena_key, default_key) in [
        (
            &b"arena.0.dirty_decay_ms\0"[..],
            &b"arenas.dirty_decay_ms\0"[..],
        ),
        (b"arena.0.muzzy_decay_ms\0", b"arenas.muzzy_decay_ms\0"),
    ] {
        let default: isize = default_key.name().read()?;
        let mut mib = arena_key.name().mib::<[usize; 3]>()?;
        for i in 0..narenas {
            mib[1] = i;
            if mib.write(0isize).is_ok() {
                mib.write(default)?;
            }
        }
    }
    Ok(())
}

/// jemalloc's own statistics report (`malloc_stats_print`).
fn malloc_stats(_ctx: &mut ConnCtx, _argv: Vec<Bytes>) -> CmdFuture<'_> {
    Box::pin(async move {
        let mut out = Vec::new();
        tikv_jemalloc_ctl::stats_print::stats_print(&mut out, Default::default())
            .map_err(|_| CmdError::msg("ERR Stats not supported for the current allocator"))?;
        Ok(Reply::Verbatim("txt", Bytes::from(out)))
    })
}
