//! CONFIG GET, SET, RESETSTAT, REWRITE, HELP.
//!
//! The directive table, parsing and formatting live in `crate::config`;
//! here are the command rows and the side effects of a change (new limits
//! for the shards, a new listening address).

use crate::command::flags::*;
use crate::command::{row, CmdFuture, CommandSpec, Exec, Keys};
use crate::config::{Id, Origin};
use crate::conn::ConnCtx;
use crate::server::Limits;
use bytes::Bytes;
use std::sync::atomic::Ordering;
use storage::{CmdError, Reply};

const SUBS: &[CommandSpec] = &[
    row(
        "get",
        -3,
        ADMIN | NOSCRIPT | LOADING | STALE,
        Keys::None,
        Exec::Coord(config_get),
    )
    .history(&[(
        "7.0.0",
        "Added the ability to pass multiple pattern parameters in one call",
    )])
    .acl(&["admin", "slow", "dangerous"])
    .doc(
        "server",
        "2.0.0",
        "Returns the effective values of configuration parameters.",
        "O(N) when N is the number of configuration parameters provided",
    ),
    row(
        "set",
        -4,
        ADMIN | NOSCRIPT | LOADING | STALE,
        Keys::None,
        Exec::Coord(config_set),
    )
    .history(&[(
        "7.0.0",
        "Added the ability to set multiple parameters in one call.",
    )])
    .acl(&["admin", "slow", "dangerous"])
    .tips(&["request_policy:all_nodes", "response_policy:all_succeeded"])
    .doc(
        "server",
        "2.0.0",
        "Sets configuration parameters in-flight.",
        "O(N) when N is the number of configuration parameters provided",
    ),
    row(
        "resetstat",
        2,
        ADMIN | NOSCRIPT | LOADING | STALE,
        Keys::None,
        Exec::Coord(config_resetstat),
    )
    .acl(&["admin", "slow", "dangerous"])
    .tips(&["request_policy:all_nodes", "response_policy:all_succeeded"])
    .doc("server", "2.0.0", "Resets the server's statistics.", "O(1)"),
    row(
        "rewrite",
        2,
        ADMIN | NOSCRIPT | LOADING | STALE,
        Keys::None,
        Exec::Coord(config_rewrite),
    )
    .acl(&["admin", "slow", "dangerous"])
    .tips(&["request_policy:all_nodes", "response_policy:all_succeeded"])
    .doc(
        "server",
        "2.8.0",
        "Persists the effective configuration to file.",
        "O(1)",
    ),
    row(
        "help",
        2,
        LOADING | STALE,
        Keys::None,
        Exec::Coord(config_help),
    )
    .acl(&["slow"])
    .doc(
        "server",
        "5.0.0",
        "Returns helpful text about the different subcommands.",
        "O(1)",
    ),
];

/// The CONFIG family's rows.
pub static COMMANDS: &[CommandSpec] = &[row("config", -2, 0, Keys::None, Exec::Container)
    .acl(&["slow"])
    .doc(
        "server",
        "2.0.0",
        "A container for server configuration commands.",
        "Depends on subcommand.",
    )
    .subs(SUBS)];

fn config_get(ctx: &mut ConnCtx, argv: Vec<Bytes>) -> CmdFuture<'_> {
    Box::pin(async move {
        let patterns: Vec<&[u8]> = argv[2..].iter().map(|b| &b[..]).collect();
        let pairs = ctx.worker.shared.config().get(&patterns);
        Ok(Reply::Map(
            pairs
                .into_iter()
                .map(|(k, v)| (Reply::Bulk(Bytes::from(k)), Reply::Bulk(Bytes::from(v))))
                .collect(),
        ))
    })
}

fn config_set(ctx: &mut ConnCtx, argv: Vec<Bytes>) -> CmdFuture<'_> {
    Box::pin(async move {
        let shared = ctx.worker.shared.clone();
        let origin = if ctx.client.info.addr.ip().is_loopback() {
            Origin::Local
        } else {
            Origin::Remote
        };
        let args: Vec<&[u8]> = argv[2..].iter().map(|b| &b[..]).collect();
        let (before, after, changed) = {
            let mut cfg = shared
                .config
                .write()
                .map_err(|_| CmdError::msg("ERR configuration lock poisoned"))?;
            let before = cfg.clone();
            let changed = cfg
                .set_args(&args, origin)
                .map_err(|e| CmdError::Other(e.into()))?;
            (before, cfg.clone(), changed)
        };
        if changed.iter().any(|id| matches!(id, Id::Port | Id::Bind)) {
            if let Err(reason) = crate::server::rebind(&shared, &after, &before).await {
                if let Ok(mut cfg) = shared.config.write() {
                    *cfg = before.clone();
                }
                let id = if changed.contains(&Id::Port) {
                    Id::Port
                } else {
                    Id::Bind
                };
                return Err(CmdError::Other(
                    crate::config::Config::apply_error(id, &reason).into(),
                ));
            }
        }
        shared.slowlog.configure(
            crate::knobs::slowlog_log_slower_than(&after),
            crate::knobs::slowlog_max_len(&after),
        );
        shared
            .latency
            .configure(crate::knobs::latency_monitor_threshold(&after));
        // Hook (pubsub): notify-keyspace-events, output buffer limits,
        // tracking-table-max-keys.
        shared.hub.configure(&after);
        // Shards keep a copy of the limits they consult; refresh them all.
        let limits = Limits::from_config(&after);
        let access_changed = {
            let old = Limits::from_config(&before).memory;
            old.policy != limits.memory.policy || old.lfu != limits.memory.lfu
        };
        for s in 0..shared.nshards {
            let l = limits.clone();
            crate::dispatch::run_on_shard(ctx, s, move |env| {
                if access_changed {
                    env.shard.set_access(l.memory.access());
                }
                env.shard.set_bounded_growth(l.memory.maxmemory != 0);
                env.limits = l
            })
            .await;
        }
        shared.memory.set_maxmemory(limits.memory.maxmemory);
        // Inside EXEC the shards are held: the cron evicts right after.
        if changed.contains(&Id::Maxmemory) && ctx.hold.is_none() {
            // Lowering maxmemory evicts at once (Redis runs performEvictions
            // from the config's apply function), beyond one time slice.
            while crate::evict::perform_evictions(&ctx.worker).await
                == crate::evict::Outcome::Running
            {}
        }
        Ok(Reply::Ok)
    })
}

fn config_resetstat(ctx: &mut ConnCtx, _argv: Vec<Bytes>) -> CmdFuture<'_> {
    Box::pin(async move {
        crate::dispatch::on_all_shards(ctx, |env| {
            env.shard.reset_stats();
            env.cmdstats = Default::default();
        })
        .await;
        let s = &ctx.worker.shared.stats;
        for c in [
            &s.total_connections_received,
            &s.rejected_connections,
            &s.total_commands_processed,
            &s.net_input_bytes,
            &s.net_output_bytes,
            &s.total_error_replies,
        ] {
            c.store(0, Ordering::Relaxed);
        }
        Ok(Reply::Ok)
    })
}

fn config_rewrite(ctx: &mut ConnCtx, _argv: Vec<Bytes>) -> CmdFuture<'_> {
    Box::pin(async move {
        let cfg = ctx.worker.shared.config();
        cfg.rewrite().map_err(|e| CmdError::Other(e.into()))?;
        tracing::info!("CONFIG REWRITE executed with success.");
        Ok(Reply::Ok)
    })
}

fn config_help(_ctx: &mut ConnCtx, _argv: Vec<Bytes>) -> CmdFuture<'_> {
    Box::pin(async move {
        let lines = [
            "CONFIG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
            "GET <pattern>",
            "    Return parameters matching the glob-like <pattern> and their values.",
            "SET <directive> <value>",
            "    Set the configuration <directive> to <value>.",
            "RESETSTAT",
            "    Reset statistics reported by the INFO command.",
            "REWRITE",
            "    Rewrite the configuration file.",
            "HELP",
            "    Print this help.",
        ];
        Ok(Reply::Array(
            lines.iter().map(|l| Reply::Status((*l).into())).collect(),
        ))
    })
}
