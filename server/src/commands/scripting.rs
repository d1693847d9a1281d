//! Scripting commands: EVAL, EVALSHA, EVAL_RO, EVALSHA_RO, SCRIPT, FCALL,
//! FCALL_RO, FUNCTION. The runs themselves are in `crate::script`.

use crate::command::args::is;
use crate::command::flags::*;
use crate::command::{row, BeginSearch, CmdFuture, CommandSpec, Exec, FindKeys, KeySpec, Keys};
use crate::commands::client::help_reply;
use crate::conn::ConnCtx;
use crate::script::{self, Request, What};
use bytes::Bytes;
use scripting::functions::Libraries;
use scripting::shebang::eval_flags;
use scripting::ScriptFlags;
use std::borrow::Cow;
use storage::{CmdError, CmdResult, Reply};

const SCRIPT_ACL: &[&str] = &["slow", "scripting"];
const WRITE_SCRIPT_ACL: &[&str] = &["write", "slow", "scripting"];
const NUMKEYS: Keys = Keys::NumKeys {
    numkeys: 2,
    extra: 0,
};
const KEYNUM_FIND: FindKeys = FindKeys::KeyNum {
    keynumidx: 0,
    firstkey: 1,
    keystep: 1,
};
const RW_KEYS: &[KeySpec] = &[KeySpec::new(
    &["RW", "access", "update"],
    BeginSearch::Index(2),
    KEYNUM_FIND,
)
.notes("We cannot tell how the keys will be used so we assume the worst, RW and UPDATE")];
const RW_KEYS_NO_NOTES: &[KeySpec] = &[KeySpec::new(
    &["RW", "access", "update"],
    BeginSearch::Index(2),
    KEYNUM_FIND,
)];
const RO_KEYS: &[KeySpec] = &[
    KeySpec::new(&["RO", "access"], BeginSearch::Index(2), KEYNUM_FIND)
        .notes("We cannot tell how the keys will be used so we assume the worst, RO and ACCESS"),
];
const RO_KEYS_NO_NOTES: &[KeySpec] = &[KeySpec::new(
    &["RO", "access"],
    BeginSearch::Index(2),
    KEYNUM_FIND,
)];
const RUN: u32 = NOSCRIPT | STALE | SKIP_MONITOR | NO_MANDATORY_KEYS | MOVABLEKEYS;

static SCRIPT_SUBS: &[CommandSpec] = &[
    row("exists", -3, NOSCRIPT, Keys::None, Exec::Coord(script_exists))
        .acl(SCRIPT_ACL)
        .tips(&["request_policy:all_shards", "response_policy:agg_logical_and"])
        .doc("scripting", "2.6.0", "Determines whether server-side Lua scripts exist in the script cache.", "O(N) with N being the number of scripts to check (so checking a single script is an O(1) operation)."),
    row("flush", -2, NOSCRIPT, Keys::None, Exec::Coord(script_flush))
        .acl(SCRIPT_ACL)
        .tips(&["request_policy:all_nodes", "response_policy:all_succeeded"])
        .history(&[("6.2.0", "Added the `ASYNC` and `SYNC` flushing mode modifiers.")])
        .doc("scripting", "2.6.0", "Removes all server-side Lua scripts from the script cache.", "O(N) with N being the number of scripts in cache"),
    row("help", 2, LOADING | STALE, Keys::None, Exec::Coord(script_help))
        .acl(SCRIPT_ACL)
        .doc("scripting", "5.0.0", "Returns helpful text about the different subcommands.", "O(1)"),
    row("kill", 2, NOSCRIPT | ALLOW_BUSY, Keys::None, Exec::Coord(script_kill))
        .acl(SCRIPT_ACL)
        .tips(&["request_policy:all_shards", "response_policy:one_succeeded"])
        .doc("scripting", "2.6.0", "Terminates a server-side Lua script during execution.", "O(1)"),
    row("load", 3, NOSCRIPT | STALE, Keys::None, Exec::Coord(script_load))
        .acl(SCRIPT_ACL)
        .tips(&["request_policy:all_nodes", "response_policy:all_succeeded"])
        .doc("scripting", "2.6.0", "Loads a server-side Lua script to the script cache.", "O(N) with N being the length in bytes of the script body."),
];

static FUNCTION_SUBS: &[CommandSpec] = &[
    row(
        "delete",
        3,
        WRITE | NOSCRIPT,
        Keys::None,
        Exec::Coord(function_delete),
    )
    .acl(WRITE_SCRIPT_ACL)
    .tips(&["request_policy:all_shards", "response_policy:all_succeeded"])
    .doc(
        "scripting",
        "7.0.0",
        "Deletes a library and its functions.",
        "O(1)",
    ),
    row("dump", 2, NOSCRIPT, Keys::None, Exec::Coord(function_dump))
        .acl(SCRIPT_ACL)
        .doc(
            "scripting",
            "7.0.0",
            "Dumps all libraries into a serialized binary payload.",
            "O(N) where N is the number of functions",
        ),
    row(
        "flush",
        -2,
        WRITE | NOSCRIPT,
        Keys::None,
        Exec::Coord(function_flush),
    )
    .acl(WRITE_SCRIPT_ACL)
    .tips(&["request_policy:all_shards", "response_policy:all_succeeded"])
    .doc(
        "scripting",
        "7.0.0",
        "Deletes all libraries and functions.",
        "O(N) where N is the number of functions deleted",
    ),
    row(
        "help",
        2,
        LOADING | STALE,
        Keys::None,
        Exec::Coord(function_help),
    )
    .acl(SCRIPT_ACL)
    .doc(
        "scripting",
        "7.0.0",
        "Returns helpful text about the different subcommands.",
        "O(1)",
    ),
    row(
        "kill",
        2,
        NOSCRIPT | ALLOW_BUSY,
        Keys::None,
        Exec::Coord(function_kill),
    )
    .acl(SCRIPT_ACL)
    .tips(&["request_policy:all_shards", "response_policy:one_succeeded"])
    .doc(
        "scripting",
        "7.0.0",
        "Terminates a function during execution.",
        "O(1)",
    ),
    row("list", -2, NOSCRIPT, Keys::None, Exec::Coord(function_list))
        .acl(SCRIPT_ACL)
        .tips(&["nondeterministic_output_order"])
        .doc(
            "scripting",
            "7.0.0",
            "Returns information about all libraries.",
            "O(N) where N is the number of functions",
        ),
    row(
        "load",
        -3,
        WRITE | DENYOOM | NOSCRIPT,
        Keys::None,
        Exec::Coord(function_load),
    )
    .acl(WRITE_SCRIPT_ACL)
    .tips(&["request_policy:all_shards", "response_policy:all_succeeded"])
    .doc(
        "scripting",
        "7.0.0",
        "Creates a library.",
        "O(1) (considering compilation time is redundant)",
    ),
    row(
        "restore",
        -3,
        WRITE | DENYOOM | NOSCRIPT,
        Keys::None,
        Exec::Coord(function_restore),
    )
    .acl(WRITE_SCRIPT_ACL)
    .tips(&["request_policy:all_shards", "response_policy:all_succeeded"])
    .doc(
        "scripting",
        "7.0.0",
        "Restores all libraries from a payload.",
        "O(N) where N is the number of functions on the payload",
    ),
    row(
        "stats",
        2,
        NOSCRIPT | ALLOW_BUSY,
        Keys::None,
        Exec::Coord(function_stats),
    )
    .acl(SCRIPT_ACL)
    .tips(&[
        "nondeterministic_output",
        "request_policy:all_shards",
        "response_policy:special",
    ])
    .doc(
        "scripting",
        "7.0.0",
        "Returns information about a function during execution.",
        "O(1)",
    ),
];

/// The scripting rows of the command table.
pub static COMMANDS: &[CommandSpec] = &[
    row("eval", -3, RUN, NUMKEYS, Exec::Coord(eval))
        .acl(SCRIPT_ACL)
        .key_specs(RW_KEYS)
        .doc(
            "scripting",
            "2.6.0",
            "Executes a server-side Lua script.",
            "Depends on the script that is executed.",
        ),
    row("evalsha", -3, RUN, NUMKEYS, Exec::Coord(evalsha))
        .acl(SCRIPT_ACL)
        .key_specs(RW_KEYS_NO_NOTES)
        .doc(
            "scripting",
            "2.6.0",
            "Executes a server-side Lua script by SHA1 digest.",
            "Depends on the script that is executed.",
        ),
    row("eval_ro", -3, READONLY | RUN, NUMKEYS, Exec::Coord(eval_ro))
        .acl(SCRIPT_ACL)
        .key_specs(RO_KEYS)
        .doc(
            "scripting",
            "7.0.0",
            "Executes a read-only server-side Lua script.",
            "Depends on the script that is executed.",
        ),
    row(
        "evalsha_ro",
        -3,
        READONLY | RUN,
        NUMKEYS,
        Exec::Coord(evalsha_ro),
    )
    .acl(SCRIPT_ACL)
    .key_specs(RO_KEYS_NO_NOTES)
    .doc(
        "scripting",
        "7.0.0",
        "Executes a read-only server-side Lua script by SHA1 digest.",
        "Depends on the script that is executed.",
    ),
    row("fcall", -3, RUN, NUMKEYS, Exec::Coord(fcall))
        .acl(SCRIPT_ACL)
        .key_specs(RW_KEYS)
        .doc(
            "scripting",
            "7.0.0",
            "Invokes a function.",
            "Depends on the function that is executed.",
        ),
    row(
        "fcall_ro",
        -3,
        READONLY | RUN,
        NUMKEYS,
        Exec::Coord(fcall_ro),
    )
    .acl(SCRIPT_ACL)
    .key_specs(RO_KEYS)
    .doc(
        "scripting",
        "7.0.0",
        "Invokes a read-only function.",
        "Depends on the function that is executed.",
    ),
    row("script", -2, 0, Keys::None, Exec::Container)
        .acl(&["slow"])
        .doc(
            "scripting",
            "2.6.0",
            "A container for Lua scripts management commands.",
            "Depends on subcommand.",
        )
        .subs(SCRIPT_SUBS),
    row("function", -2, 0, Keys::None, Exec::Container)
        .acl(&["slow"])
        .doc(
            "scripting",
            "7.0.0",
            "A container for function commands.",
            "Depends on subcommand.",
        )
        .subs(FUNCTION_SUBS),
];

fn err(s: String) -> CmdError {
    CmdError::Other(Cow::Owned(s))
}

/// Redis's `scriptFlagsToCmdFlags`: a script with flags (a shebang, or
/// any function) that has neither `allow-oom` nor `no-writes` is a denyoom
/// command, refused while memory is over maxmemory (before its arguments
/// are looked at, as Redis's gate does).
fn oom_gate(flags: ScriptFlags) -> CmdResult<()> {
    let exempt = ScriptFlags::EVAL_COMPAT | ScriptFlags::ALLOW_OOM | ScriptFlags::NO_WRITES;
    if flags.0 & exempt == 0 && crate::evict::pre_command_oom() {
        return Err(CmdError::Oom);
    }
    Ok(())
}

/// EVAL-style `numkeys key... arg...` from argument 2.
fn split_keys(argv: &[Bytes]) -> CmdResult<(Vec<Bytes>, Vec<Bytes>)> {
    let n = storage::numfmt::parse_i64(&argv[2]).ok_or(CmdError::NotInteger)?;
    if n > (argv.len() - 3) as i64 {
        return Err(CmdError::msg(
            "ERR Number of keys can't be greater than number of args",
        ));
    }
    if n < 0 {
        return Err(CmdError::msg("ERR Number of keys can't be negative"));
    }
    let n = n as usize;
    Ok((argv[3..3 + n].to_vec(), argv[3 + n..].to_vec()))
}

async fn eval_generic(
    ctx: &mut ConnCtx,
    argv: Vec<Bytes>,
    by_sha: bool,
    ro: bool,
) -> CmdResult<Reply> {
    let shared = ctx.worker.shared.clone();
    if let Some(body) = if by_sha {
        shared.scripts.cache.get(&argv[1])
    } else {
        Some(argv[1].clone())
    } {
        // A shebang that does not parse leaves EVAL's own flags.
        oom_gate(eval_flags(&body).unwrap_or(ScriptFlags(ScriptFlags::EVAL_COMPAT)))?;
    }
    let (keys, args) = split_keys(&argv)?;
    let (sha, body) = if by_sha {
        match shared.scripts.cache.get(&argv[1]) {
            Some(body) => (String::from_utf8_lossy(&argv[1]).to_ascii_lowercase(), body),
            None => return Err(CmdError::msg(scripting::errors::NOSCRIPT)),
        }
    } else {
        let body = argv[1].clone();
        (scripting::sha1hex(&body), body)
    };
    let flags = eval_flags(&body).map_err(|m| err(format!("ERR {m}")))?;
    if !by_sha {
        shared.scripts.cache.insert(sha.clone(), body.clone());
    }
    let req = Request {
        name: sha.clone(),
        what: What::Eval { sha, body },
        function: false,
        keys,
        args,
        readonly: ro || flags.has(ScriptFlags::NO_WRITES),
        allow_oom: flags.has(ScriptFlags::ALLOW_OOM),
        argv,
    };
    Ok(script::run(ctx, req).await)
}

fn eval(ctx: &mut ConnCtx, argv: Vec<Bytes>) -> CmdFuture<'_> {
    Box::pin(eval_generic(ctx, argv, false, false))
}

fn eval_ro(ctx: &mut ConnCtx, argv: Vec<Bytes>) -> CmdFuture<'_> {
    Box::pin(eval_generic(ctx, argv, false, true))
}

fn evalsha(ctx: &mut ConnCtx, argv: Vec<Bytes>) -> CmdFuture<'_> {
    Box::pin(eval_generic(ctx, argv, true, false))
}

fn evalsha_ro(ctx: &mut ConnCtx, argv: Vec<Bytes>) -> CmdFuture<'_> {
    Box::pin(eval_generic(ctx, argv, true, true))
}

async fn fcall_generic(ctx: &mut ConnCtx, argv: Vec<Bytes>, ro: bool) -> CmdResult<Reply> {
    // Redis's order: the function (its flags decide the OOM gate), then
    // the key count.
    let name = String::from_utf8_lossy(&argv[1]).into_owned();
    let libs = ctx.worker.shared.scripts.functions.snapshot();
    let Some((_, meta)) = libs.find(&name) else {
        return Err(CmdError::msg("ERR Function not found"));
    };
    oom_gate(meta.flags)?;
    if storage::numfmt::parse_i64(&argv[2]).is_none() {
        return Err(CmdError::msg("ERR Bad number of keys provided"));
    }
    let (keys, args) = split_keys(&argv)?;
    if ro && !meta.flags.has(ScriptFlags::NO_WRITES) {
        return Err(CmdError::msg(
            "ERR Can not execute a script with write flag using *_ro command.",
        ));
    }
    let req = Request {
        name: name.clone(),
        what: What::Function { name },
        function: true,
        keys,
        args,
        readonly: ro || meta.flags.has(ScriptFlags::NO_WRITES),
        allow_oom: meta.flags.has(ScriptFlags::ALLOW_OOM),
        argv,
    };
    Ok(script::run(ctx, req).await)
}

fn fcall(ctx: &mut ConnCtx, argv: Vec<Bytes>) -> CmdFuture<'_> {
    Box::pin(fcall_generic(ctx, argv, false))
}

fn fcall_ro(ctx: &mut ConnCtx, argv: Vec<Bytes>) -> CmdFuture<'_> {
    Box::pin(fcall_generic(ctx, argv, true))
}

fn script_load(ctx: &mut ConnCtx, argv: Vec<Bytes>) -> CmdFuture<'_> {
    Box::pin(async move {
        let body = argv[2].clone();
        eval_flags(&body).map_err(|m| err(format!("ERR {m}")))?;
        let sha = scripting::sha1hex(&body);
        let shared = ctx.worker.shared.clone();
        script::compile(&shared, ctx.worker.id, sha.clone(), body.clone())
            .await
            .map_err(err)?;
        shared.scripts.cache.insert(sha.clone(), body);
        Ok(Reply::Bulk(Bytes::from(sha)))
    })
}

fn script_exists(ctx: &mut ConnCtx, argv: Vec<Bytes>) -> CmdFuture<'_> {
    Box::pin(async move {
        let cache = &ctx.worker.shared.scripts.cache;
        Ok(Reply::Array(
            argv[2..]
                .iter()
                .map(|sha| Reply::Int(cache.contains(sha) as i64))
                .collect(),
        ))
    })
}

fn script_flush(ctx: &mut ConnCtx, argv: Vec<Bytes>) -> CmdFuture<'_> {
    Box::pin(async move {
        let ok = match argv.len() {
            2 => true,
            3 => is(&argv[2], "sync") || is(&argv[2], "async"),
            _ => false,
        };
        if !ok {
            return Err(CmdError::msg(
                "ERR SCRIPT FLUSH only support SYNC|ASYNC option",
            ));
        }
        ctx.worker.shared.scripts.cache.flush();
        Ok(Reply::Ok)
    })
}

fn script_kill(ctx: &mut ConnCtx, _argv: Vec<Bytes>) -> CmdFuture<'_> {
    Box::pin(async move {
        ctx.worker
            .shared
            .scripts
            .kill(false)
            .map(|_| Reply::Ok)
            .map_err(CmdError::msg)
    })
}

const SCRIPT_HELP: &[&str] = &[
    "SCRIPT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "DEBUG (YES|SYNC|NO)",
    "    Set the debug mode for subsequent scripts executed.",
    "EXISTS <sha1> [<sha1> ...]",
    "    Return information about the existence of the scripts in the script cache.",
    "FLUSH [ASYNC|SYNC]",
    "    Flush the Lua scripts cache. Very dangerous on replicas.",
    "    When called without the optional mode argument, the behavior is determined by the",
    "    lazyfree-lazy-user-flush configuration directive. Valid modes are:",
    "    * ASYNC: Asynchronously flush the scripts cache.",
    "    * SYNC: Synchronously flush the scripts cache.",
    "KILL",
    "    Kill the currently executing Lua script.",
    "LOAD <script>",
    "    Load a script into the scripts cache without executing it.",
    "HELP",
    "    Print this help.",
];

fn script_help(_ctx: &mut ConnCtx, _argv: Vec<Bytes>) -> CmdFuture<'_> {
    Box::pin(async move { Ok(help_reply(SCRIPT_HELP)) })
}

fn function_load(ctx: &mut ConnCtx, argv: Vec<Bytes>) -> CmdFuture<'_> {
    Box::pin(async move {
        let mut replace = false;
        let mut pos = 2;
        while pos < argv.len() - 1 {
            let a = &argv[pos];
            pos += 1;
            if is(a, "replace") {
                replace = true;
                continue;
            }
            return Err(err(format!(
                "ERR Unknown option given: {}",
                String::from_utf8_lossy(a)
            )));
        }
        if pos >= argv.len() {
            return Err(CmdError::msg("ERR Function code is missing"));
        }
        let code = argv[pos].clone();
        let shared = ctx.worker.shared.clone();
        let lib = script::load_library(&shared, ctx.worker.id, code)
            .await
            .map_err(err)?;
        let name = lib.name.clone();
        shared
            .scripts
            .functions
            .update(|libs| libs.add(lib, replace))
            .map_err(err)?;
        Ok(Reply::Bulk(Bytes::from(name)))
    })
}

fn function_dump(ctx: &mut ConnCtx, _argv: Vec<Bytes>) -> CmdFuture<'_> {
    Box::pin(async move {
        let libs = ctx.worker.shared.scripts.functions.snapshot();
        let codes: Vec<&[u8]> = libs.libs.values().map(|l| &l.code[..]).collect();
        let compress = ctx.worker.shared.config().rdbcompression();
        let payload =
            crate::persist::with_encoder(compress, |enc| script::payload::dump(enc, &codes));
        Ok(Reply::Bulk(Bytes::from(payload)))
    })
}

/// FUNCTION RESTORE payload [FLUSH|APPEND|REPLACE], as Redis's
/// `functionRestoreCommand`: the policy, the payload's trailer, every
/// library built into a fresh set, then the set swapped in or joined.
fn function_restore(ctx: &mut ConnCtx, argv: Vec<Bytes>) -> CmdFuture<'_> {
    Box::pin(async move {
        if argv.len() > 4 {
            return Err(CmdError::msg(
                "ERR unknown subcommand or wrong number of arguments for 'RESTORE'. Try FUNCTION HELP.",
            ));
        }
        #[derive(PartialEq)]
        enum Policy {
            Flush,
            Append,
            Replace,
        }
        let policy = match argv.get(3) {
            None => Policy::Append,
            Some(a) if is(a, "append") => Policy::Append,
            Some(a) if is(a, "replace") => Policy::Replace,
            Some(a) if is(a, "flush") => Policy::Flush,
            Some(_) => return Err(CmdError::msg(
                "ERR Wrong restore policy given, value should be either FLUSH, APPEND or REPLACE.",
            )),
        };
        let codes = script::payload::codes(&argv[2]).map_err(err)?;
        let shared = ctx.worker.shared.clone();
        let mut fresh = Libraries::default();
        for code in codes {
            let lib = script::load_library(&shared, ctx.worker.id, Bytes::from(code))
                .await
                .map_err(err)?;
            fresh.add(lib, false).map_err(err)?;
        }
        shared
            .scripts
            .functions
            .update(|libs| {
                if policy == Policy::Flush {
                    fresh.generation = libs.generation + 1;
                    *libs = fresh;
                    Ok(())
                } else {
                    libs.join(fresh, policy == Policy::Replace)
                }
            })
            .map_err(err)?;
        Ok(Reply::Ok)
    })
}

fn function_delete(ctx: &mut ConnCtx, argv: Vec<Bytes>) -> CmdFuture<'_> {
    Box::pin(async move {
        let name = String::from_utf8_lossy(&argv[2]).into_owned();
        ctx.worker
            .shared
            .scripts
            .functions
            .update(|libs| match libs.libs.remove(&name) {
                Some(_) => {
                    libs.generation += 1;
                    Ok(())
                }
                None => Err("ERR Library not found".to_string()),
            })
            .map_err(err)?;
        Ok(Reply::Ok)
    })
}

fn function_flush(ctx: &mut ConnCtx, argv: Vec<Bytes>) -> CmdFuture<'_> {
    Box::pin(async move {
        let ok = match argv.len() {
            2 => true,
            3 => is(&argv[2], "sync") || is(&argv[2], "async"),
            _ => false,
        };
        if !ok {
            return Err(CmdError::msg(
                "ERR FUNCTION FLUSH only supports SYNC|ASYNC option",
            ));
        }
        ctx.worker
            .shared
            .scripts
            .functions
            .update(|libs| {
                libs.libs.clear();
                libs.generation += 1;
                Ok(())
            })
            .map_err(err)?;
        Ok(Reply::Ok)
    })
}

fn function_list(ctx: &mut ConnCtx, argv: Vec<Bytes>) -> CmdFuture<'_> {
    Box::pin(async move {
        let mut with_code = false;
        let mut pattern: Option<Bytes> = None;
        let mut i = 2;
        while i < argv.len() {
            let a = &argv[i];
            if !with_code && is(a, "withcode") {
                with_code = true;
            } else if pattern.is_none() && is(a, "libraryname") {
                if i >= argv.len() - 1 {
                    return Err(CmdError::msg("ERR library name argument was not given"));
                }
                i += 1;
                pattern = Some(argv[i].clone());
            } else {
                return Err(err(format!(
                    "ERR Unknown argument {}",
                    String::from_utf8_lossy(a)
                )));
            }
            i += 1;
        }
        let libs = ctx.worker.shared.scripts.functions.snapshot();
        let mut out = Vec::new();
        for lib in libs.libs.values() {
            if let Some(p) = &pattern {
                if !storage::glob::glob_match(p, lib.name.as_bytes(), false) {
                    continue;
                }
            }
            let functions = lib
                .functions
                .values()
                .map(|f| {
                    Reply::Map(vec![
                        (Reply::bulk_static("name"), Reply::bulk(f.name.as_bytes())),
                        (
                            Reply::bulk_static("description"),
                            match &f.description {
                                Some(d) => Reply::Bulk(d.clone()),
                                None => Reply::Nil,
                            },
                        ),
                        (
                            Reply::bulk_static("flags"),
                            Reply::Set(f.flags.names().into_iter().map(Reply::status).collect()),
                        ),
                    ])
                })
                .collect();
            let mut fields = vec![
                (
                    Reply::bulk_static("library_name"),
                    Reply::bulk(lib.name.as_bytes()),
                ),
                (Reply::bulk_static("engine"), Reply::bulk_static("LUA")),
                (Reply::bulk_static("functions"), Reply::Array(functions)),
            ];
            if with_code {
                fields.push((
                    Reply::bulk_static("library_code"),
                    Reply::Bulk(lib.code.clone()),
                ));
            }
            out.push(Reply::Map(fields));
        }
        Ok(Reply::Array(out))
    })
}

fn function_stats(ctx: &mut ConnCtx, _argv: Vec<Bytes>) -> CmdFuture<'_> {
    Box::pin(async move {
        let scripts = &ctx.worker.shared.scripts;
        if scripts.current().is_some_and(|r| !r.function) {
            // Redis answers FUNCTION STATS with -BUSY while an EVAL runs.
            return Err(CmdError::msg(scripting::errors::BUSY_SCRIPT));
        }
        let running = match scripts.current().filter(|r| r.function) {
            Some(r) => Reply::Map(vec![
                (Reply::bulk_static("name"), Reply::bulk(r.name.as_bytes())),
                (
                    Reply::bulk_static("command"),
                    Reply::Array(r.argv.iter().cloned().map(Reply::Bulk).collect()),
                ),
                (
                    Reply::bulk_static("duration_ms"),
                    Reply::Int(r.started.elapsed().as_millis() as i64),
                ),
            ]),
            None => Reply::Nil,
        };
        let libs = scripts.functions.snapshot();
        Ok(Reply::Map(vec![
            (Reply::bulk_static("running_script"), running),
            (
                Reply::bulk_static("engines"),
                Reply::Map(vec![(
                    Reply::bulk_static("LUA"),
                    Reply::Map(vec![
                        (
                            Reply::bulk_static("libraries_count"),
                            Reply::Int(libs.libs.len() as i64),
                        ),
                        (
                            Reply::bulk_static("functions_count"),
                            Reply::Int(libs.function_count() as i64),
                        ),
                    ]),
                )]),
            ),
        ]))
    })
}

fn function_kill(ctx: &mut ConnCtx, _argv: Vec<Bytes>) -> CmdFuture<'_> {
    Box::pin(async move {
        ctx.worker
            .shared
            .scripts
            .kill(true)
            .map(|_| Reply::Ok)
            .map_err(CmdError::msg)
    })
}

const FUNCTION_HELP: &[&str] = &[
    "FUNCTION <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "LOAD [REPLACE] <FUNCTION CODE>",
    "    Create a new library with the given library name and code.",
    "DELETE <LIBRARY NAME>",
    "    Delete the given library.",
    "LIST [LIBRARYNAME PATTERN] [WITHCODE]",
    "    Return general information on all the libraries:",
    "    * Library name",
    "    * The engine used to run the Library",
    "    * Functions list",
    "    * Library code (if WITHCODE is given)",
    "    It also possible to get only function that matches a pattern using LIBRARYNAME argument.",
    "STATS",
    "    Return information about the current function running:",
    "    * Function name",
    "    * Command used to run the function",
    "    * Duration in MS that the function is running",
    "    If no function is running, return nil",
    "    In addition, returns a list of available engines.",
    "KILL",
    "    Kill the current running function.",
    "FLUSH [ASYNC|SYNC]",
    "    Delete all the libraries.",
    "    When called without the optional mode argument, the behavior is determined by the",
    "    lazyfree-lazy-user-flush configuration directive. Valid modes are:",
    "    * ASYNC: Asynchronously flush the libraries.",
    "    * SYNC: Synchronously flush the libraries.",
    "DUMP",
    "    Return a serialized payload representing the current libraries, can be restored using FUNCTION RESTORE command",
    "RESTORE <PAYLOAD> [FLUSH|APPEND|REPLACE]",
    "    Restore the libraries represented by the given payload, it is possible to give a restore policy to",
    "    control how to handle existing libraries (default APPEND):",
    "    * FLUSH: delete all existing libraries.",
    "    * APPEND: appends the restored libraries to the existing libraries. On collision, abort.",
    "    * REPLACE: appends the restored libraries to the existing libraries, On collision, replace the old",
    "      libraries with the new libraries (notice that even on this option there is a chance of failure",
    "      in case of functions name collision with another library).",
    "HELP",
    "    Print this help.",
];

fn function_help(_ctx: &mut ConnCtx, _argv: Vec<Bytes>) -> CmdFuture<'_> {
    Box::pin(async move { Ok(help_reply(FUNCTION_HELP)) })
}
