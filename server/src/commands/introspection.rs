//! COMMAND and its subcommands, all derived from the command table rows.

use crate::command::flags::*;
use crate::command::table::{all, lookup, lookup_sub};
use crate::command::{row, BeginSearch, CmdFuture, CommandSpec, Exec, FindKeys, KeySpec, Keys};
use crate::conn::ConnCtx;
use bytes::Bytes;
use storage::{CmdError, CmdResult, Reply};

const CONN: &[&str] = &["slow", "connection"];
const LS: u32 = LOADING | STALE;

static COMMAND_SUBS: &[CommandSpec] = &[
    row("count", 2, LS, Keys::None, Exec::Coord(count))
        .acl(CONN)
        .doc("server", "2.8.13", "Returns a count of commands.", "O(1)"),
    row("docs", -2, LS, Keys::None, Exec::Coord(docs))
        .acl(CONN)
        .tips(&["nondeterministic_output_order"])
        .doc(
            "server",
            "7.0.0",
            "Returns documentary information about one, multiple or all commands.",
            "O(N) where N is the number of commands to look up",
        ),
    row("getkeys", -3, LS, Keys::None, Exec::Coord(getkeys))
        .acl(CONN)
        .doc(
            "server",
            "2.8.13",
            "Extracts the key names from an arbitrary command.",
            "O(N) where N is the number of arguments to the command",
        ),
    row(
        "getkeysandflags",
        -3,
        LS,
        Keys::None,
        Exec::Coord(getkeysandflags),
    )
    .acl(CONN)
    .doc(
        "server",
        "7.0.0",
        "Extracts the key names and access flags for an arbitrary command.",
        "O(N) where N is the number of arguments to the command",
    ),
    row("help", 2, LS, Keys::None, Exec::Coord(help))
        .acl(CONN)
        .doc(
            "server",
            "5.0.0",
            "Returns helpful text about the different subcommands.",
            "O(1)",
        ),
    row("info", -2, LS, Keys::None, Exec::Coord(info))
        .history(&[(
            "7.0.0",
            "Allowed to be called with no argument to get info on all commands.",
        )])
        .acl(CONN)
        .tips(&["nondeterministic_output_order"])
        .doc(
            "server",
            "2.8.13",
            "Returns information about one, multiple or all commands.",
            "O(N) where N is the number of commands to look up",
        ),
    row("list", -2, LS, Keys::None, Exec::Coord(list))
        .acl(CONN)
        .tips(&["nondeterministic_output_order"])
        .doc(
            "server",
            "7.0.0",
            "Returns a list of command names.",
            "O(N) where N is the total number of Redis commands",
        ),
];

/// The COMMAND row: its own handler runs for COMMAND alone.
pub static COMMANDS: &[CommandSpec] =
    &[row("command", -1, LS, Keys::None, Exec::Coord(command_all))
        .acl(CONN)
        .tips(&["nondeterministic_output_order"])
        .doc(
            "server",
            "2.8.13",
            "Returns detailed information about all commands.",
            "O(N) where N is the total number of Redis commands",
        )
        .subs(COMMAND_SUBS)];

/// COMMAND alone: every command's row (dispatch sends COMMAND <sub> to
/// the subcommand rows).
fn command_all(_ctx: &mut ConnCtx, _argv: Vec<Bytes>) -> CmdFuture<'_> {
    Box::pin(async move {
        Ok(Reply::Array(
            all().iter().map(|c| info_row(c, None)).collect(),
        ))
    })
}

fn status_set<'a>(items: impl Iterator<Item = &'a str>) -> Reply {
    Reply::Set(items.map(|s| Reply::Status(s.to_string().into())).collect())
}

fn kv(k: &'static str, v: Reply) -> (Reply, Reply) {
    (Reply::bulk_static(k), v)
}

fn key_spec_reply(ks: &KeySpec) -> Reply {
    let begin = match ks.begin {
        BeginSearch::Index(i) => Reply::Map(vec![
            kv("type", Reply::bulk_static("index")),
            kv("spec", Reply::Map(vec![kv("index", Reply::Int(i as i64))])),
        ]),
        BeginSearch::Keyword { keyword, startfrom } => Reply::Map(vec![
            kv("type", Reply::bulk_static("keyword")),
            kv(
                "spec",
                Reply::Map(vec![
                    kv("keyword", Reply::bulk_static(keyword)),
                    kv("startfrom", Reply::Int(startfrom as i64)),
                ]),
            ),
        ]),
        BeginSearch::Unknown => Reply::Map(vec![
            kv("type", Reply::bulk_static("unknown")),
            kv("spec", Reply::Map(vec![])),
        ]),
    };
    let find = match ks.find {
        FindKeys::Range {
            lastkey,
            keystep,
            limit,
        } => Reply::Map(vec![
            kv("type", Reply::bulk_static("range")),
            kv(
                "spec",
                Reply::Map(vec![
                    kv("lastkey", Reply::Int(lastkey as i64)),
                    kv("keystep", Reply::Int(keystep as i64)),
                    kv("limit", Reply::Int(limit as i64)),
                ]),
            ),
        ]),
        FindKeys::KeyNum {
            keynumidx,
            firstkey,
            keystep,
        } => Reply::Map(vec![
            kv("type", Reply::bulk_static("keynum")),
            kv(
                "spec",
                Reply::Map(vec![
                    kv("keynumidx", Reply::Int(keynumidx as i64)),
                    kv("firstkey", Reply::Int(firstkey as i64)),
                    kv("keystep", Reply::Int(keystep as i64)),
                ]),
            ),
        ]),
        FindKeys::Unknown => Reply::Map(vec![
            kv("type", Reply::bulk_static("unknown")),
            kv("spec", Reply::Map(vec![])),
        ]),
    };
    let mut m = Vec::with_capacity(4);
    if !ks.notes.is_empty() {
        m.push(kv("notes", Reply::bulk_static(ks.notes)));
    }
    m.push(kv("flags", status_set(ks.flags.iter().copied())));
    m.push(kv("begin_search", begin));
    m.push(kv("find_keys", find));
    Reply::Map(m)
}

/// Redis's legacy (first, last, step) and whether keys are "movable",
/// computed from the key specs as `populateCommandLegacyRangeSpec` does.
fn legacy_range(specs: &[KeySpec]) -> ((i64, i64, i64), bool) {
    let range = |ks: &KeySpec| match (ks.begin, ks.find) {
        (
            BeginSearch::Index(pos),
            FindKeys::Range {
                lastkey, keystep, ..
            },
        ) => Some((pos, lastkey, keystep)),
        _ => None,
    };
    let incomplete = |ks: &KeySpec| ks.flags.contains(&"incomplete");
    if specs.is_empty() {
        return ((0, 0, 0), false);
    }
    if specs.len() == 1 {
        if let Some((pos, last, step)) = range(&specs[0]) {
            let abs = if last >= 0 { pos + last } else { last };
            return ((pos as i64, abs as i64, step as i64), incomplete(&specs[0]));
        }
    }
    let mut movable = false;
    let mut first = i32::MAX;
    let mut last: i32 = 0;
    let mut prev_last: i32 = 0;
    for ks in specs {
        let Some((pos, lk, step)) = range(ks) else {
            movable = true;
            continue;
        };
        if step != 1 || (prev_last != 0 && prev_last != pos - 1) {
            movable = true;
            continue;
        }
        if incomplete(ks) {
            movable = true;
        }
        first = first.min(pos);
        let abs = if lk >= 0 { lk + pos } else { lk };
        // Unsigned comparison, so a negative (from-the-end) index wins.
        if (abs as u32) > (last as u32) {
            last = abs;
        }
        prev_last = last;
    }
    if first == i32::MAX {
        return ((0, 0, 0), movable);
    }
    ((first as i64, last as i64, 1), movable)
}

/// One `COMMAND INFO` row.
fn info_row(c: &CommandSpec, parent: Option<&CommandSpec>) -> Reply {
    let specs = c.derived_key_specs();
    let ((first, last, step), movable) = legacy_range(&specs);
    let mut flag_names: Vec<&str> = NAMES
        .iter()
        // Redis hides `may_replicate` and `sentinel` on purpose.
        .filter(|(bit, _)| *bit != MAY_REPLICATE && *bit != SENTINEL)
        .filter(|(bit, _)| c.has(*bit) || (*bit == MOVABLEKEYS && movable))
        .map(|(_, n)| *n)
        .collect();
    flag_names.dedup();
    let acl: Vec<String> = c.acl.iter().map(|a| format!("@{a}")).collect();
    Reply::Array(vec![
        Reply::Bulk(Bytes::from(c.full_name(parent))),
        Reply::Int(c.arity as i64),
        status_set(flag_names.into_iter()),
        Reply::Int(first),
        Reply::Int(last),
        Reply::Int(step),
        status_set(acl.iter().map(|s| s.as_str())),
        Reply::Set(c.tips.iter().map(|t| Reply::bulk_static(t)).collect()),
        Reply::Set(specs.iter().map(key_spec_reply).collect()),
        subcommands_reply(c),
    ])
}

/// The subcommand rows: an empty *set* when there are none (Redis's
/// `addReplySetLen(c, 0)`), an array otherwise.
fn subcommands_reply(c: &CommandSpec) -> Reply {
    if c.subcommands.is_empty() {
        Reply::Set(Vec::new())
    } else {
        Reply::Array(c.subcommands.iter().map(|s| info_row(s, Some(c))).collect())
    }
}

/// Finds a command by `name` or `container|sub`.
fn find_by_full_name(name: &[u8]) -> Option<(&'static CommandSpec, Option<&'static CommandSpec>)> {
    match name.iter().position(|&b| b == b'|') {
        None => lookup(name).map(|c| (c, None)),
        Some(i) => {
            let parent = lookup(&name[..i])?;
            let sub = lookup_sub(parent, &name[i + 1..])?;
            Some((sub, Some(parent)))
        }
    }
}

fn info(_ctx: &mut ConnCtx, argv: Vec<Bytes>) -> CmdFuture<'_> {
    Box::pin(async move {
        if argv.len() == 2 {
            return Ok(Reply::Array(
                all().iter().map(|c| info_row(c, None)).collect(),
            ));
        }
        Ok(Reply::Array(
            argv[2..]
                .iter()
                .map(|n| match find_by_full_name(n) {
                    Some((c, p)) => info_row(c, p),
                    None => Reply::Nil,
                })
                .collect(),
        ))
    })
}

fn count(_ctx: &mut ConnCtx, _argv: Vec<Bytes>) -> CmdFuture<'_> {
    Box::pin(async move { Ok(Reply::Int(all().len() as i64)) })
}

fn doc_map(c: &CommandSpec) -> Reply {
    let mut m = vec![
        kv("summary", Reply::bulk_static(c.summary)),
        kv("since", Reply::bulk_static(c.since)),
        kv("group", Reply::bulk_static(c.group)),
    ];
    if !c.complexity.is_empty() {
        m.push(kv("complexity", Reply::bulk_static(c.complexity)));
    }
    if !c.doc_flags.is_empty() {
        m.push(kv("doc_flags", status_set(c.doc_flags.iter().copied())));
    }
    if !c.deprecated_since.is_empty() {
        m.push(kv(
            "deprecated_since",
            Reply::bulk_static(c.deprecated_since),
        ));
    }
    if !c.replaced_by.is_empty() {
        m.push(kv("replaced_by", Reply::bulk_static(c.replaced_by)));
    }
    if !c.history.is_empty() {
        m.push(kv(
            "history",
            Reply::Set(
                c.history
                    .iter()
                    .map(|(v, what)| {
                        Reply::Array(vec![Reply::bulk_static(v), Reply::bulk_static(what)])
                    })
                    .collect(),
            ),
        ));
    }
    if !c.subcommands.is_empty() {
        m.push(kv(
            "subcommands",
            Reply::Map(
                c.subcommands
                    .iter()
                    .map(|s| (Reply::Bulk(Bytes::from(s.full_name(Some(c)))), doc_map(s)))
                    .collect(),
            ),
        ));
    }
    Reply::Map(m)
}

fn docs(_ctx: &mut ConnCtx, argv: Vec<Bytes>) -> CmdFuture<'_> {
    Box::pin(async move {
        let mut out = Vec::new();
        if argv.len() == 2 {
            for c in all() {
                out.push((Reply::bulk_static(c.name), doc_map(c)));
            }
        } else {
            for n in &argv[2..] {
                if let Some((c, p)) = find_by_full_name(n) {
                    out.push((Reply::Bulk(Bytes::from(c.full_name(p))), doc_map(c)));
                }
            }
        }
        Ok(Reply::Map(out))
    })
}

/// Every command and subcommand with its full name.
fn all_with_subs() -> Vec<(String, &'static CommandSpec)> {
    let mut out = Vec::new();
    for c in all() {
        out.push((c.name.to_string(), *c));
        for s in c.subcommands {
            out.push((s.full_name(Some(c)), s));
        }
    }
    out
}

/// A COMMAND LIST filter over (full name, row).
type Filter = dyn Fn(&str, &CommandSpec) -> bool;

fn list(_ctx: &mut ConnCtx, argv: Vec<Bytes>) -> CmdFuture<'_> {
    Box::pin(async move {
        let names = all_with_subs();
        let pick: Box<Filter> = match argv.len() {
            2 => Box::new(|_, _| true),
            5 if crate::command::args::is(&argv[2], "filterby") => {
                let what = &argv[3];
                let arg = argv[4].clone();
                if crate::command::args::is(what, "module") {
                    Box::new(|_, _| false)
                } else if crate::command::args::is(what, "aclcat") {
                    Box::new(move |_, c: &CommandSpec| {
                        c.acl
                            .iter()
                            .any(|a| a.as_bytes().eq_ignore_ascii_case(&arg))
                    })
                } else if crate::command::args::is(what, "pattern") {
                    Box::new(move |n: &str, _| storage::glob::glob_match(&arg, n.as_bytes(), true))
                } else {
                    return Err(CmdError::Syntax);
                }
            }
            _ => return Err(CmdError::Syntax),
        };
        Ok(Reply::Array(
            names
                .into_iter()
                .filter(|(n, c)| pick(n, c))
                .map(|(n, _)| Reply::Bulk(Bytes::from(n)))
                .collect(),
        ))
    })
}

/// Resolves the command a GETKEYS request names, with Redis 7.4's errors.
fn getkeys_target(argv: &[Bytes]) -> CmdResult<(&'static CommandSpec, Vec<usize>)> {
    let target = &argv[2..];
    let base = lookup(&target[0]).ok_or(CmdError::msg("ERR Invalid command specified"))?;
    let cmd = if !base.subcommands.is_empty() && target.len() >= 2 {
        lookup_sub(base, &target[1]).ok_or(CmdError::msg("ERR Invalid command specified"))?
    } else {
        base
    };
    if matches!(cmd.keys, Keys::None) {
        return Err(CmdError::msg("ERR The command has no key arguments"));
    }
    let n = target.len() as i32;
    if (cmd.arity > 0 && cmd.arity != n) || n < -cmd.arity {
        return Err(CmdError::msg(
            "ERR Invalid number of arguments specified for command",
        ));
    }
    let positions = cmd.key_positions(target).unwrap_or_default();
    if positions.is_empty() && !cmd.has(NO_MANDATORY_KEYS) {
        return Err(CmdError::msg("ERR Invalid arguments specified for command"));
    }
    Ok((cmd, positions.into_vec()))
}

fn getkeys(_ctx: &mut ConnCtx, argv: Vec<Bytes>) -> CmdFuture<'_> {
    Box::pin(async move {
        let (_, positions) = getkeys_target(&argv)?;
        Ok(Reply::Array(
            positions
                .iter()
                .map(|&p| Reply::Bulk(argv[2 + p].clone()))
                .collect(),
        ))
    })
}

/// The flags of the key spec that covers argument `pos`.
fn flags_at(specs: &[KeySpec], pos: usize, argc: usize) -> &'static [&'static str] {
    let pos = pos as i64;
    for ks in specs {
        let covers = match (ks.begin, ks.find) {
            (BeginSearch::Index(b), FindKeys::Range { lastkey, .. }) => {
                let b = b as i64;
                let last = if lastkey >= 0 {
                    b + lastkey as i64
                } else {
                    argc as i64 + lastkey as i64
                };
                pos >= b && pos <= last
            }
            (BeginSearch::Index(b), FindKeys::KeyNum { .. }) => pos > b as i64,
            _ => false,
        };
        if covers {
            return ks.flags;
        }
    }
    specs.first().map(|ks| ks.flags).unwrap_or(&[])
}

/// The key flags of a command whose key spec says `variable_flags`, as
/// its Redis `getkeys_proc` computes them from the arguments (`argv[0]` is
/// the command name).
fn variable_flags(cmd: &CommandSpec, argv: &[Bytes]) -> Option<&'static [&'static str]> {
    match cmd.name {
        // setGetKeys: a GET argument (compared as a C string) makes it a read too.
        "set" => {
            let get = argv.iter().skip(3).any(|a| {
                a.len() >= 3
                    && a[..3].eq_ignore_ascii_case(b"get")
                    && a.get(3).is_none_or(|&b| b == 0)
            });
            Some(if get {
                &["RW", "access", "update"]
            } else {
                &["OW", "update"]
            })
        }
        _ => None,
    }
}

fn getkeysandflags(_ctx: &mut ConnCtx, argv: Vec<Bytes>) -> CmdFuture<'_> {
    Box::pin(async move {
        let (cmd, positions) = getkeys_target(&argv)?;
        let specs = cmd.derived_key_specs();
        let argc = argv.len() - 2;
        let variable = variable_flags(cmd, &argv[2..]);
        Ok(Reply::Array(
            positions
                .iter()
                .map(|&p| {
                    Reply::Array(vec![
                        Reply::Bulk(argv[2 + p].clone()),
                        status_set(
                            variable
                                .unwrap_or_else(|| flags_at(&specs, p, argc))
                                .iter()
                                .copied(),
                        ),
                    ])
                })
                .collect(),
        ))
    })
}

const HELP: &[&str] = &[
    "COMMAND <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "(no subcommand)",
    "    Return details about all Redis commands.",
    "COUNT",
    "    Return the total number of commands in this Redis server.",
    "LIST",
    "    Return a list of all commands in this Redis server.",
    "INFO [<command-name> ...]",
    "    Return details about multiple Redis commands.",
    "    If no command names are given, documentation details for all",
    "    commands are returned.",
    "DOCS [<command-name> ...]",
    "    Return documentation details about multiple Redis commands.",
    "    If no command names are given, documentation details for all",
    "    commands are returned.",
    "GETKEYS <full-command>",
    "    Return the keys from a full Redis command.",
    "GETKEYSANDFLAGS <full-command>",
    "    Return the keys and the access flags from a full Redis command.",
    "HELP",
    "    Print this help.",
];

fn help(_ctx: &mut ConnCtx, _argv: Vec<Bytes>) -> CmdFuture<'_> {
    Box::pin(async move { Ok(crate::commands::client::help_reply(HELP)) })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn legacy_range_from_specs() {
        const A: &[&str] = &["RW"];
        let one = [KeySpec::range(A, 1, -1, 2)];
        assert_eq!(legacy_range(&one), ((1, -1, 2), false));
        let two = [
            KeySpec::at(A, 1),
            KeySpec::new(
                A,
                BeginSearch::Index(2),
                FindKeys::KeyNum {
                    keynumidx: 0,
                    firstkey: 1,
                    keystep: 1,
                },
            ),
        ];
        assert_eq!(legacy_range(&two), ((1, 1, 1), true));
    }
}
