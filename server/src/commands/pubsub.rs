//! Pub/Sub commands: (P|S)SUBSCRIBE, (P|S)UNSUBSCRIBE, PUBLISH, SPUBLISH
//! and PUBSUB. The registry is `crate::pubsub`; these handlers keep the
//! connection's own subscription sets and the registry in step.

use crate::command::flags::*;
use crate::command::{row, BeginSearch, CmdFuture, CommandSpec, Exec, FindKeys, KeySpec, Keys};
use crate::conn::ConnCtx;
use crate::pubsub::Kind;
use bytes::Bytes;
use std::sync::atomic::Ordering;
use storage::{CmdError, Reply};

const SUB_FLAGS: u32 = PUBSUB | NOSCRIPT | LOADING | STALE;
const SLOW: &[&str] = &["pubsub", "slow"];
const FAST_ACL: &[&str] = &["pubsub", "fast"];
const INFO_FLAGS: u32 = PUBSUB | LOADING | STALE;

/// Shard channels are named like keys (a cluster routes them by slot) but
/// are not keys.
static SHARD_CHANNELS: &[KeySpec] = &[KeySpec::new(
    &["not_key"],
    BeginSearch::Index(1),
    FindKeys::Range {
        lastkey: -1,
        keystep: 1,
        limit: 0,
    },
)];
static SHARD_CHANNEL: &[KeySpec] = &[KeySpec::new(
    &["not_key"],
    BeginSearch::Index(1),
    FindKeys::Range {
        lastkey: 0,
        keystep: 1,
        limit: 0,
    },
)];

const ALL_FROM_1: Keys = Keys::Range {
    first: 1,
    last: -1,
    step: 1,
};

static PUBSUB_SUBS: &[CommandSpec] = &[
    row("channels", -2, INFO_FLAGS, Keys::None, Exec::Coord(channels))
        .acl(SLOW)
        .doc(
            "pubsub",
            "2.8.0",
            "Returns the active channels.",
            "O(N) where N is the number of active channels, and assuming constant time pattern matching (relatively short channels and patterns)",
        ),
    row("help", 2, LOADING | STALE, Keys::None, Exec::Coord(help))
        .acl(&["slow"])
        .doc(
            "pubsub",
            "6.2.0",
            "Returns helpful text about the different subcommands.",
            "O(1)",
        ),
    row("numpat", 2, INFO_FLAGS, Keys::None, Exec::Coord(numpat))
        .acl(SLOW)
        .doc(
            "pubsub",
            "2.8.0",
            "Returns a count of unique pattern subscriptions.",
            "O(1)",
        ),
    row("numsub", -2, INFO_FLAGS, Keys::None, Exec::Coord(numsub))
        .acl(SLOW)
        .doc(
            "pubsub",
            "2.8.0",
            "Returns a count of subscribers to channels.",
            "O(N) for the NUMSUB subcommand, where N is the number of requested channels",
        ),
    row(
        "shardchannels",
        -2,
        INFO_FLAGS,
        Keys::None,
        Exec::Coord(shardchannels),
    )
    .acl(SLOW)
    .doc(
        "pubsub",
        "7.0.0",
        "Returns the active shard channels.",
        "O(N) where N is the number of active shard channels, and assuming constant time pattern matching (relatively short shard channels).",
    ),
    row(
        "shardnumsub",
        -2,
        INFO_FLAGS,
        Keys::None,
        Exec::Coord(shardnumsub),
    )
    .acl(SLOW)
    .doc(
        "pubsub",
        "7.0.0",
        "Returns the count of subscribers of shard channels.",
        "O(N) for the SHARDNUMSUB subcommand, where N is the number of requested shard channels",
    ),
];

/// The pub/sub family's rows.
pub static COMMANDS: &[CommandSpec] = &[
    row("subscribe", -2, SUB_FLAGS, Keys::None, Exec::Coord(subscribe))
        .acl(SLOW)
        .doc(
            "pubsub",
            "2.0.0",
            "Listens for messages published to channels.",
            "O(N) where N is the number of channels to subscribe to.",
        ),
    row(
        "unsubscribe",
        -1,
        SUB_FLAGS,
        Keys::None,
        Exec::Coord(unsubscribe),
    )
    .acl(SLOW)
    .doc(
        "pubsub",
        "2.0.0",
        "Stops listening to messages posted to channels.",
        "O(N) where N is the number of channels to unsubscribe.",
    ),
    row(
        "psubscribe",
        -2,
        SUB_FLAGS,
        Keys::None,
        Exec::Coord(psubscribe),
    )
    .acl(SLOW)
    .doc(
        "pubsub",
        "2.0.0",
        "Listens for messages published to channels that match one or more patterns.",
        "O(N) where N is the number of patterns to subscribe to.",
    ),
    row(
        "punsubscribe",
        -1,
        SUB_FLAGS,
        Keys::None,
        Exec::Coord(punsubscribe),
    )
    .acl(SLOW)
    .doc(
        "pubsub",
        "2.0.0",
        "Stops listening to messages published to channels that match one or more patterns.",
        "O(N) where N is the number of patterns to unsubscribe.",
    ),
    row(
        "ssubscribe",
        -2,
        SUB_FLAGS,
        ALL_FROM_1,
        Exec::Coord(ssubscribe),
    )
    .acl(SLOW)
    .key_specs(SHARD_CHANNELS)
    .doc(
        "pubsub",
        "7.0.0",
        "Listens for messages published to shard channels.",
        "O(N) where N is the number of shard channels to subscribe to.",
    ),
    row(
        "sunsubscribe",
        -1,
        SUB_FLAGS,
        ALL_FROM_1,
        Exec::Coord(sunsubscribe),
    )
    .acl(SLOW)
    .key_specs(SHARD_CHANNELS)
    .doc(
        "pubsub",
        "7.0.0",
        "Stops listening to messages posted to shard channels.",
        "O(N) where N is the number of shard channels to unsubscribe.",
    ),
    row(
        "publish",
        3,
        PUBSUB | LOADING | STALE | FAST | MAY_REPLICATE,
        Keys::None,
        Exec::Coord(publish),
    )
    .acl(FAST_ACL)
    .doc(
        "pubsub",
        "2.0.0",
        "Posts a message to a channel.",
        "O(N+M) where N is the number of clients subscribed to the receiving channel and M is the total number of subscribed patterns (by any client).",
    ),
    row(
        "spublish",
        3,
        PUBSUB | LOADING | STALE | FAST | MAY_REPLICATE,
        crate::command::KEY1,
        Exec::Coord(spublish),
    )
    .acl(FAST_ACL)
    .key_specs(SHARD_CHANNEL)
    .doc(
        "pubsub",
        "7.0.0",
        "Post a message to a shard channel",
        "O(N) where N is the number of clients subscribed to the receiving shard channel.",
    ),
    row("pubsub", -2, 0, Keys::None, Exec::Container)
        .acl(&["slow"])
        .doc(
            "pubsub",
            "2.8.0",
            "A container for Pub/Sub commands.",
            "Depends on subcommand.",
        )
        .subs(PUBSUB_SUBS),
];

fn kind_index(kind: Kind) -> usize {
    match kind {
        Kind::Channel => 0,
        Kind::Pattern => 1,
        Kind::Shard => 2,
    }
}

fn confirm(word: &'static str, name: Option<Bytes>, count: usize) -> Reply {
    Reply::Push(vec![
        Reply::bulk_static(word),
        name.map_or(Reply::Nil, Reply::Bulk),
        Reply::Int(count as i64),
    ])
}

fn sync_count(ctx: &ConnCtx, kind: Kind) {
    let n = ctx.client.subs.count_of(kind);
    ctx.client.info.subs[kind_index(kind)].store(n, Ordering::Relaxed);
}

/// SUBSCRIBE, PSUBSCRIBE, SSUBSCRIBE: one confirmation per name.
fn subscribe_to(ctx: &mut ConnCtx, names: &[Bytes], kind: Kind) -> Reply {
    let hub = ctx.worker.shared.hub.clone();
    let mut out = Vec::with_capacity(names.len());
    for name in names {
        if ctx.client.subs.of(kind).insert(name.clone()) {
            hub.subscribe(kind, name, &ctx.client.info);
            sync_count(ctx, kind);
        }
        out.push(confirm(
            kind.subscribe_word(),
            Some(name.clone()),
            ctx.client.subs.count_for(kind),
        ));
    }
    Reply::Multi(out)
}

/// UNSUBSCRIBE, PUNSUBSCRIBE, SUNSUBSCRIBE: the names given, or every
/// subscription of the kind (in subscription order); a lone null
/// confirmation when there is none.
fn unsubscribe_from(ctx: &mut ConnCtx, names: &[Bytes], kind: Kind) -> Reply {
    let all;
    let names = if names.is_empty() {
        all = ctx.client.subs.of(kind).iter().cloned().collect::<Vec<_>>();
        &all[..]
    } else {
        names
    };
    if names.is_empty() {
        return Reply::Multi(vec![confirm(
            kind.unsubscribe_word(),
            None,
            ctx.client.subs.count_for(kind),
        )]);
    }
    let hub = ctx.worker.shared.hub.clone();
    let mut out = Vec::with_capacity(names.len());
    for name in names {
        if ctx.client.subs.of(kind).shift_remove(name) {
            hub.unsubscribe(kind, name, ctx.client.id);
            sync_count(ctx, kind);
        }
        out.push(confirm(
            kind.unsubscribe_word(),
            Some(name.clone()),
            ctx.client.subs.count_for(kind),
        ));
    }
    Reply::Multi(out)
}

/// Drops every subscription without confirmations (disconnect, RESET).
pub fn leave_all(ctx: &mut ConnCtx) {
    let hub = ctx.worker.shared.hub.clone();
    for kind in [Kind::Channel, Kind::Pattern, Kind::Shard] {
        for name in std::mem::take(ctx.client.subs.of(kind)) {
            hub.unsubscribe(kind, &name, ctx.client.id);
        }
        sync_count(ctx, kind);
    }
}

fn subscribe(ctx: &mut ConnCtx, argv: Vec<Bytes>) -> CmdFuture<'_> {
    Box::pin(async move { Ok(subscribe_to(ctx, &argv[1..], Kind::Channel)) })
}

fn psubscribe(ctx: &mut ConnCtx, argv: Vec<Bytes>) -> CmdFuture<'_> {
    Box::pin(async move { Ok(subscribe_to(ctx, &argv[1..], Kind::Pattern)) })
}

fn ssubscribe(ctx: &mut ConnCtx, argv: Vec<Bytes>) -> CmdFuture<'_> {
    Box::pin(async move { Ok(subscribe_to(ctx, &argv[1..], Kind::Shard)) })
}

fn unsubscribe(ctx: &mut ConnCtx, argv: Vec<Bytes>) -> CmdFuture<'_> {
    Box::pin(async move { Ok(unsubscribe_from(ctx, &argv[1..], Kind::Channel)) })
}

fn punsubscribe(ctx: &mut ConnCtx, argv: Vec<Bytes>) -> CmdFuture<'_> {
    Box::pin(async move { Ok(unsubscribe_from(ctx, &argv[1..], Kind::Pattern)) })
}

fn sunsubscribe(ctx: &mut ConnCtx, argv: Vec<Bytes>) -> CmdFuture<'_> {
    Box::pin(async move { Ok(unsubscribe_from(ctx, &argv[1..], Kind::Shard)) })
}

fn publish(ctx: &mut ConnCtx, argv: Vec<Bytes>) -> CmdFuture<'_> {
    Box::pin(async move {
        let n = ctx.worker.shared.hub.publish(false, &argv[1], &argv[2]);
        Ok(Reply::Int(n as i64))
    })
}

fn spublish(ctx: &mut ConnCtx, argv: Vec<Bytes>) -> CmdFuture<'_> {
    Box::pin(async move {
        let n = ctx.worker.shared.hub.publish(true, &argv[1], &argv[2]);
        Ok(Reply::Int(n as i64))
    })
}

fn list_channels(ctx: &ConnCtx, argv: &[Bytes], shard: bool) -> Result<Reply, CmdError> {
    if argv.len() > 3 {
        return Err(crate::commands::client::subcommand_syntax_error(
            &argv[1], "PUBSUB",
        ));
    }
    let names = ctx
        .worker
        .shared
        .hub
        .channel_names(shard, argv.get(2).map(|p| &p[..]));
    Ok(Reply::Array(names.into_iter().map(Reply::Bulk).collect()))
}

fn channels(ctx: &mut ConnCtx, argv: Vec<Bytes>) -> CmdFuture<'_> {
    Box::pin(async move { list_channels(ctx, &argv, false) })
}

fn shardchannels(ctx: &mut ConnCtx, argv: Vec<Bytes>) -> CmdFuture<'_> {
    Box::pin(async move { list_channels(ctx, &argv, true) })
}

fn count_subs(ctx: &ConnCtx, argv: &[Bytes], shard: bool) -> Reply {
    let hub = &ctx.worker.shared.hub;
    let mut out = Vec::with_capacity((argv.len() - 2) * 2);
    for ch in &argv[2..] {
        out.push(Reply::Bulk(ch.clone()));
        out.push(Reply::Int(hub.numsub(shard, ch) as i64));
    }
    Reply::Array(out)
}

fn numsub(ctx: &mut ConnCtx, argv: Vec<Bytes>) -> CmdFuture<'_> {
    Box::pin(async move { Ok(count_subs(ctx, &argv, false)) })
}

fn shardnumsub(ctx: &mut ConnCtx, argv: Vec<Bytes>) -> CmdFuture<'_> {
    Box::pin(async move { Ok(count_subs(ctx, &argv, true)) })
}

fn numpat(ctx: &mut ConnCtx, _argv: Vec<Bytes>) -> CmdFuture<'_> {
    Box::pin(async move { Ok(Reply::Int(ctx.worker.shared.hub.numpat() as i64)) })
}

const HELP: &[&str] = &[
    "PUBSUB <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "CHANNELS [<pattern>]",
    "    Return the currently active channels matching a <pattern> (default: '*').",
    "NUMPAT",
    "    Return number of subscriptions to patterns.",
    "NUMSUB [<channel> ...]",
    "    Return the number of subscribers for the specified channels, excluding",
    "    pattern subscriptions(default: no channels).",
    "SHARDCHANNELS [<pattern>]",
    "    Return the currently active shard level channels matching a <pattern> (default: '*').",
    "SHARDNUMSUB [<shardchannel> ...]",
    "    Return the number of subscribers for the specified shard level channel(s)",
    "HELP",
    "    Print this help.",
];

fn help(_ctx: &mut ConnCtx, _argv: Vec<Bytes>) -> CmdFuture<'_> {
    Box::pin(async move { Ok(crate::commands::client::help_reply(HELP)) })
}

/// The commands a RESP2 client in subscribed mode may run.
pub fn allowed_in_resp2_pubsub(name: &str) -> bool {
    matches!(
        name,
        "ping"
            | "subscribe"
            | "ssubscribe"
            | "unsubscribe"
            | "sunsubscribe"
            | "psubscribe"
            | "punsubscribe"
            | "quit"
            | "reset"
    )
}
