//! `redis.call` on the server: the [`scripting::Host`] over the shards a
//! run holds.
//!
//! Gates, in Redis's order (`scriptCall`): unknown command, arity,
//! `noscript`, writes from read-only runs. Then routing: the command's
//! keys must live on held shards. Keys on one shard run the handler there;
//! keys on several held shards are gathered into a scratch shard (as
//! `dispatch::gather_run_scatter` does); a key on a shard the run does not
//! hold aborts the run before any write so it re-runs holding every shard.

use crate::command::table::{lookup, lookup_sub};
use crate::command::{flags, CommandSpec, Exec, ShardCtx};
use crate::server::Limits;
use crate::slot::shard_of;
use bytes::Bytes;
use scripting::errors;
use scripting::{CallResult, Host};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use storage::{Entry, Reply, Shard};

/// Shards with their ids, and written keys with their shard ids.
pub type Parts = (Vec<(usize, Shard)>, Vec<(usize, Bytes)>);

/// The data and context of one run.
pub struct ScriptHost {
    shards: Vec<(usize, Shard)>,
    all_held: bool,
    nshards: usize,
    db: usize,
    limits: Limits,
    readonly: bool,
    deny_oom: bool,
    wrote: Arc<AtomicBool>,
    touched: Vec<(usize, Bytes)>,
    /// Where keyspace events and invalidations go.
    hub: Arc<crate::pubsub::Hub>,
    /// The client running the script (tracking's NOLOOP, events).
    client: u64,
}

/// Who runs the script: its database, its client id, and where the
/// keyspace events and invalidations of its writes go.
pub struct Caller {
    /// The selected database when the script starts.
    pub db: usize,
    /// The client's id.
    pub client: u64,
    /// The pub/sub hub.
    pub hub: Arc<crate::pubsub::Hub>,
}

impl ScriptHost {
    /// A host over `shards` (the held ones, with their ids), for `caller`.
    pub fn new(
        shards: Vec<(usize, Shard)>,
        all_held: bool,
        nshards: usize,
        caller: Caller,
        limits: Limits,
        readonly: bool,
        wrote: Arc<AtomicBool>,
    ) -> ScriptHost {
        let Caller { db, client, hub } = caller;
        ScriptHost {
            shards,
            all_held,
            nshards,
            db,
            limits,
            readonly,
            deny_oom: false,
            wrote,
            touched: Vec::new(),
            hub,
            client,
        }
    }

    /// Refuses denyoom calls until the first write (memory was over
    /// maxmemory at the gate and the script lacks `allow-oom`).
    pub fn deny_oom(mut self, on: bool) -> ScriptHost {
        self.deny_oom = on;
        self
    }

    /// The shards to put back and the keys written, by shard.
    pub fn into_parts(self) -> Parts {
        (self.shards, self.touched)
    }

    /// Like [`ScriptHost::into_parts`] through a shared handle.
    pub fn take_parts(&mut self) -> Parts {
        (
            std::mem::take(&mut self.shards),
            std::mem::take(&mut self.touched),
        )
    }

    fn resolve(argv: &[Bytes]) -> Option<&'static CommandSpec> {
        let cmd = lookup(&argv[0])?;
        if cmd.subcommands.is_empty() || (argv.len() == 1 && !matches!(cmd.exec, Exec::Container)) {
            return Some(cmd);
        }
        lookup_sub(cmd, argv.get(1)?)
    }

    fn held(&self, shard: usize) -> Option<usize> {
        self.shards.iter().position(|(s, _)| *s == shard)
    }

    fn run_keyed(
        &mut self,
        cmd: &CommandSpec,
        f: crate::command::ShardFn,
        argv: &[Bytes],
    ) -> CallResult {
        let positions = match cmd.key_positions(argv) {
            Ok(p) => p,
            Err(e) => return CallResult::Reply(Reply::error(e)),
        };
        let mut idx: Vec<usize> = Vec::with_capacity(positions.len());
        for &p in &positions {
            match self.held(shard_of(&argv[p], self.nshards)) {
                Some(i) => {
                    if !idx.contains(&i) {
                        idx.push(i)
                    }
                }
                None => return self.unreachable(),
            }
        }
        let write = cmd.has(flags::WRITE);
        if write {
            self.wrote.store(true, Ordering::Release);
            for &p in &positions {
                let s = shard_of(&argv[p], self.nshards);
                self.touched.push((s, argv[p].clone()));
            }
        }
        let result = match idx.len() {
            0 | 1 => {
                let i = idx.first().copied().unwrap_or(0);
                let Some((_, shard)) = self.shards.get_mut(i) else {
                    return CallResult::Reply(Reply::error("ERR no shard held"));
                };
                crate::notify::with_shard(
                    shard,
                    &self.limits,
                    &self.hub,
                    self.db,
                    true,
                    self.client,
                    |sctx| f(sctx, argv),
                )
            }
            _ => {
                let keys: Vec<Bytes> = positions.iter().map(|&p| argv[p].clone()).collect();
                self.gathered(&keys, |sctx| f(sctx, argv))
            }
        };
        CallResult::Reply(match result {
            Ok(r) => r,
            Err(e) => e.into(),
        })
    }

    /// Runs `f` over a scratch shard holding `keys` (from several held
    /// shards), then moves the keys back.
    fn gathered(
        &mut self,
        keys: &[Bytes],
        f: impl FnOnce(&mut ShardCtx<'_>) -> storage::CmdResult<Reply>,
    ) -> storage::CmdResult<Reply> {
        let mut scratch = Shard::new(usize::MAX, self.limits.databases);
        // WATCH: what the command modifies goes to the owners' logs below.
        scratch.log_modified = true;
        let now = scratch.refresh_time();
        for k in keys {
            let s = shard_of(k, self.nshards);
            let Some(i) = self.held(s) else { continue };
            for (dbi, db) in self.shards[i].1.dbs.iter_mut().enumerate() {
                if db.peek(k, now).is_some() {
                    if let Some(e) = db.remove(k) {
                        if let Some(d) = scratch.dbs.get_mut(dbi) {
                            d.insert_entry(k, e);
                        }
                    }
                }
            }
        }
        let r = crate::notify::with_shard(
            &mut scratch,
            &self.limits,
            &self.hub,
            self.db,
            true,
            self.client,
            f,
        );
        for k in keys {
            let s = shard_of(k, self.nshards);
            let Some(i) = self.held(s) else { continue };
            let mut back: Vec<(usize, Entry)> = Vec::new();
            for (dbi, d) in scratch.dbs.iter_mut().enumerate() {
                if d.peek(k, now).is_some() {
                    if let Some(e) = d.remove(k) {
                        back.push((dbi, e));
                    }
                }
            }
            for (dbi, e) in back {
                if let Some(d) = self.shards[i].1.dbs.get_mut(dbi) {
                    d.insert_entry(k, e);
                }
            }
        }
        for (db, k) in std::mem::take(&mut scratch.modified) {
            if let Some(i) = self.held(shard_of(&k, self.nshards)) {
                let owner = &mut self.shards[i].1;
                if owner.log_modified {
                    owner.modified.push((db, k));
                }
            }
        }
        r
    }

    /// A command needs a shard the run does not hold.
    fn unreachable(&self) -> CallResult {
        if self.wrote.load(Ordering::Acquire) {
            CallResult::Reply(Reply::error(
                "ERR magpie: this script accessed a key on another shard after writing; declare the keys it uses (KEYS) or put them under one {hash tag}",
            ))
        } else {
            CallResult::Abort
        }
    }

    /// Connection and server commands scripts may call, answered over the
    /// held shards.
    fn coord(&mut self, cmd: &'static CommandSpec, argv: &[Bytes]) -> CallResult {
        let needs_all = matches!(
            cmd.name,
            "dbsize" | "keys" | "flushdb" | "flushall" | "randomkey" | "scan"
        );
        if needs_all && !self.all_held {
            return self.unreachable();
        }
        let r = match cmd.name {
            "ping" => match argv.len() {
                1 => Reply::status("PONG"),
                2 => Reply::Bulk(argv[1].clone()),
                _ => Reply::error(format!("ERR {}", errors::WRONG_ARGS)),
            },
            "echo" => Reply::Bulk(argv[1].clone()),
            "time" => {
                let now = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .unwrap_or_default();
                Reply::Array(vec![
                    Reply::Bulk(Bytes::from(now.as_secs().to_string())),
                    Reply::Bulk(Bytes::from(now.subsec_micros().to_string())),
                ])
            }
            "select" => match storage::numfmt::parse_i64(&argv[1]) {
                None => Reply::error("ERR value is not an integer or out of range"),
                Some(i) if i < 0 || i as usize >= self.limits.databases => {
                    Reply::error("ERR DB index is out of range")
                }
                Some(i) => {
                    self.db = i as usize;
                    Reply::Ok
                }
            },
            "wait" => Reply::Int(0),
            "dbsize" => {
                let db = self.db;
                Reply::Int(
                    self.shards
                        .iter()
                        .map(|(_, s)| s.dbs.get(db).map_or(0, |d| d.len()))
                        .sum::<usize>() as i64,
                )
            }
            "keys" => {
                let db = self.db;
                let pattern = &argv[1];
                let all = pattern.as_ref() == b"*";
                let mut out = Vec::new();
                for (_, s) in &self.shards {
                    let now = s.now_ms();
                    if let Some(d) = s.dbs.get(db) {
                        out.extend(
                            d.iter_live(now)
                                .filter(|(k, _)| {
                                    all || storage::glob::glob_match(pattern, k, false)
                                })
                                .map(|(k, _)| Reply::bulk(k)),
                        );
                    }
                }
                Reply::Array(out)
            }
            "flushdb" | "flushall" => {
                let ok = match argv.len() {
                    1 => true,
                    2 => {
                        argv[1].eq_ignore_ascii_case(b"sync")
                            || argv[1].eq_ignore_ascii_case(b"async")
                    }
                    _ => false,
                };
                if !ok {
                    Reply::error("ERR syntax error")
                } else {
                    self.wrote.store(true, Ordering::Release);
                    let db = self.db;
                    let all = cmd.name == "flushall";
                    for (_, s) in &mut self.shards {
                        for (i, d) in s.dbs.iter_mut().enumerate() {
                            if all || i == db {
                                d.clear();
                            }
                        }
                    }
                    Reply::Ok
                }
            }
            "blpop" | "brpop" | "bzpopmin" | "bzpopmax" | "brpoplpush" | "blmove" => {
                return self.nonblocking(cmd.name, argv);
            }
            // Their immediate forms, as EXEC runs them.
            "blmpop" | "bzmpop" => match crate::dispatch::immediate_form(cmd) {
                Exec::Shard(f) => return self.run_keyed(cmd, f, argv),
                _ => Reply::error(format!(
                    "ERR magpie does not run '{}' inside scripts yet",
                    cmd.name
                )),
            },
            "randomkey" => self.random_key(),
            "scan" => {
                let db = self.db;
                match crate::commands::keys::scan_held(argv, self.nshards, db, &mut self.shards) {
                    Ok(r) => r,
                    Err(e) => e.into(),
                }
            }
            name => Reply::error(format!(
                "ERR magpie does not run '{name}' inside scripts yet"
            )),
        };
        CallResult::Reply(r)
    }
}

impl ScriptHost {
    /// RANDOMKEY over every shard (all held): a shard drawn by its key
    /// count, then a key in it, as the command does outside scripts.
    fn random_key(&mut self) -> Reply {
        let db = self.db;
        let mut counts: Vec<usize> = self
            .shards
            .iter()
            .map(|(_, s)| s.dbs.get(db).map_or(0, |d| d.len()))
            .collect();
        loop {
            let total: usize = counts.iter().sum();
            if total == 0 {
                return Reply::Nil;
            }
            let Some(i) =
                crate::commands::keys::pick_weighted(&counts, rand::random_range(0..total))
            else {
                return Reply::Nil;
            };
            let Some((_, shard)) = self.shards.get_mut(i) else {
                return Reply::Nil;
            };
            let now = shard.now_ms();
            let pick = match shard.dbs.get_mut(db) {
                Some(d) => d.random_pick(now, &mut shard.rng),
                None => storage::RandomPick::Empty,
            };
            match pick {
                storage::RandomPick::Live(k) => return Reply::bulk(&k),
                storage::RandomPick::Expired => counts[i] = counts[i].saturating_sub(1),
                storage::RandomPick::Empty => counts[i] = 0,
            }
        }
    }

    /// Redis 7.4 runs blocking commands in scripts without blocking: the
    /// pop or move happens if it can, otherwise the timeout reply.
    fn nonblocking(&mut self, name: &str, argv: &[Bytes]) -> CallResult {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .unwrap_or(0);
        let timeout = &argv[argv.len() - 1];
        if let Err(e) = crate::commands::list::parse_timeout(timeout, now) {
            return CallResult::Reply(e.into());
        }
        let body = &argv[1..argv.len() - 1];
        let inner = |n: &'static str, rest: &[Bytes]| -> Vec<Bytes> {
            let mut v = vec![Bytes::from_static(n.as_bytes())];
            v.extend_from_slice(rest);
            v
        };
        match name {
            "brpoplpush" => self.call(inner("rpoplpush", body)),
            "blmove" => self.call(inner("lmove", body)),
            _ => {
                let pop = match name {
                    "blpop" => "lpop",
                    "brpop" => "rpop",
                    "bzpopmin" => "zpopmin",
                    _ => "zpopmax",
                };
                for key in body {
                    match self.call(inner(pop, std::slice::from_ref(key))) {
                        CallResult::Abort => return CallResult::Abort,
                        CallResult::Reply(Reply::Bulk(v)) => {
                            return CallResult::Reply(Reply::Array(vec![
                                Reply::Bulk(key.clone()),
                                Reply::Bulk(v),
                            ]))
                        }
                        CallResult::Reply(Reply::Array(items)) if !items.is_empty() => {
                            let mut out = vec![Reply::Bulk(key.clone())];
                            out.extend(items);
                            return CallResult::Reply(Reply::Array(out));
                        }
                        CallResult::Reply(Reply::Pairs(pairs)) if !pairs.is_empty() => {
                            let mut out = vec![Reply::Bulk(key.clone())];
                            for (m, sc) in pairs {
                                out.push(m);
                                out.push(sc);
                            }
                            return CallResult::Reply(Reply::Array(out));
                        }
                        CallResult::Reply(e @ Reply::Error(_)) => return CallResult::Reply(e),
                        CallResult::Reply(_) => {}
                    }
                }
                CallResult::Reply(Reply::NilArray)
            }
        }
    }
}

impl Host for ScriptHost {
    fn call(&mut self, argv: Vec<Bytes>) -> CallResult {
        let Some(cmd) = Self::resolve(&argv) else {
            return CallResult::Reply(Reply::error(format!("ERR {}", errors::UNKNOWN_CMD)));
        };
        let n = argv.len() as i32;
        let arity_ok = if cmd.arity > 0 {
            n == cmd.arity
        } else {
            n >= -cmd.arity
        };
        if !arity_ok {
            return CallResult::Reply(Reply::error(format!("ERR {}", errors::WRONG_ARGS)));
        }
        if cmd.has(flags::NOSCRIPT) {
            return CallResult::Reply(Reply::error(format!("ERR {}", errors::NOSCRIPT_CMD)));
        }
        if self.readonly && cmd.has(flags::WRITE) {
            return CallResult::Reply(Reply::error(format!("ERR {}", errors::RO_WRITE)));
        }
        // Redis's `scriptVerifyOOM`: only before the script's first write
        // (after it, stopping halfway would be worse).
        if self.deny_oom && cmd.has(flags::DENYOOM) && !self.wrote.load(Ordering::Acquire) {
            return CallResult::Reply(storage::CmdError::Oom.into());
        }
        match cmd.exec {
            Exec::Shard(f) => self.run_keyed(cmd, f, &argv),
            Exec::Coord(_) => self.coord(cmd, &argv),
            Exec::Container => {
                CallResult::Reply(Reply::error(format!("ERR {}", errors::WRONG_ARGS)))
            }
        }
    }

    fn acl_check(&mut self, argv: &[Bytes]) -> Option<bool> {
        // One user with every permission (magpie has no ACL users yet).
        Self::resolve(argv).map(|_| true)
    }

    fn log(&mut self, level: u8, msg: &[u8]) {
        let msg = String::from_utf8_lossy(msg);
        match level {
            0 => tracing::debug!(target: "lua", "{msg}"),
            1 => tracing::debug!(target: "lua", "{msg}"),
            2 => tracing::info!(target: "lua", "{msg}"),
            _ => tracing::warn!(target: "lua", "{msg}"),
        }
    }
}
