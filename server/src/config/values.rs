//! Values: parsing a directive's arguments (from a file line or CONFIG SET)
//! into a [`Value`], and formatting a value for CONFIG GET.
//!
//! Each kind mirrors the `set`/`get` pair of its Redis counterpart in
//! `config.c`, including the error strings.

use std::path::{Path, PathBuf};

use super::table::{Directive, Kind, NumFmt, StrCheck, MULTI_ARG};
use super::text;

/// A `save` point: snapshot after `seconds` if at least `changes` writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SavePoint {
    /// Seconds since the last save.
    pub seconds: i64,
    /// Writes since the last save.
    pub changes: i32,
}

/// One class's output buffer limit (`client-output-buffer-limit`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OutputBufferLimit {
    /// Disconnect at once above this many bytes; 0 means no limit.
    pub hard_bytes: u64,
    /// Disconnect when above this for `soft_seconds`; 0 means no limit.
    pub soft_bytes: u64,
    /// How long the soft limit may be exceeded.
    pub soft_seconds: i32,
}

/// The client classes of `client-output-buffer-limit`, in Redis's order.
pub const OBUF_CLASSES: [&str; 3] = ["normal", "slave", "pubsub"];

/// A stored directive value.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Value {
    Bool(bool),
    Num(i64),
    Enum(u32),
    /// `None` is an unset string (shown as "").
    Str(Option<Vec<u8>>),
    Dir(PathBuf),
    Save(Vec<SavePoint>),
    Bind(Vec<Vec<u8>>),
    Obuf([OutputBufferLimit; 3]),
    Oom([i32; 3]),
    Notify(u32),
    ReplicaOf(Option<(Vec<u8>, u16)>),
    Percentiles(Vec<f64>),
}

/// Redis's defaults for the kinds whose default is not a table literal.
pub(crate) fn default_save() -> Vec<SavePoint> {
    vec![
        SavePoint {
            seconds: 3600,
            changes: 1,
        },
        SavePoint {
            seconds: 300,
            changes: 100,
        },
        SavePoint {
            seconds: 60,
            changes: 10000,
        },
    ]
}

/// magpie binds to loopback by default (redis.conf's shipped setting), not
/// Redis's compiled-in `* -::*`.
pub(crate) const DEFAULT_BIND: [&str; 2] = ["127.0.0.1", "-::1"];

pub(crate) const DEFAULT_OBUF: [OutputBufferLimit; 3] = [
    OutputBufferLimit {
        hard_bytes: 0,
        soft_bytes: 0,
        soft_seconds: 0,
    },
    OutputBufferLimit {
        hard_bytes: 256 << 20,
        soft_bytes: 64 << 20,
        soft_seconds: 60,
    },
    OutputBufferLimit {
        hard_bytes: 32 << 20,
        soft_bytes: 8 << 20,
        soft_seconds: 60,
    },
];

pub(crate) const DEFAULT_OOM: [i32; 3] = [0, 200, 800];
pub(crate) const DEFAULT_PERCENTILES: [f64; 3] = [50.0, 99.0, 99.9];

/// The default value of a row, given the dynamic defaults (`dir`, `shards`).
pub(crate) fn default_value(d: &Directive, cwd: &Path, shards: i64) -> Value {
    match d.kind {
        Kind::Bool { default } => Value::Bool(default),
        Kind::Num { default, .. } => {
            if d.id == super::Id::Shards {
                Value::Num(shards)
            } else {
                Value::Num(default)
            }
        }
        Kind::Enum { default, .. } => Value::Enum(default),
        Kind::Str { default, .. } => Value::Str(default.map(|s| s.as_bytes().to_vec())),
        Kind::Dir => Value::Dir(cwd.to_path_buf()),
        Kind::Save => Value::Save(default_save()),
        Kind::Bind => Value::Bind(DEFAULT_BIND.iter().map(|s| s.as_bytes().to_vec()).collect()),
        Kind::ClientOutputBufferLimit => Value::Obuf(DEFAULT_OBUF),
        Kind::OomScoreAdjValues => Value::Oom(DEFAULT_OOM),
        Kind::NotifyKeyspaceEvents => Value::Notify(0),
        Kind::ReplicaOf => Value::ReplicaOf(None),
        Kind::Percentiles => Value::Percentiles(DEFAULT_PERCENTILES.to_vec()),
    }
}

/// Where a value is being set from; `save` behaves differently in a file.
pub(crate) enum Source<'a> {
    /// A config file or the command line. The flag records whether a `save`
    /// line was seen yet: the first one replaces the defaults, later ones add.
    File { save_seen: &'a mut bool },
    /// CONFIG SET.
    Command,
}

/// Parses `args` (the words after the name) for directive `d`, given its
/// current value. Returns Redis's error text on failure.
pub(crate) fn parse(
    d: &Directive,
    args: &[&[u8]],
    old: &Value,
    source: Source<'_>,
) -> Result<Value, String> {
    match &d.kind {
        Kind::Bool { .. } => {
            let a = one(args)?;
            if a.eq_ignore_ascii_case(b"yes") {
                Ok(Value::Bool(true))
            } else if a.eq_ignore_ascii_case(b"no") {
                Ok(Value::Bool(false))
            } else {
                Err("argument must be 'yes' or 'no'".into())
            }
        }
        Kind::Num {
            min,
            max,
            unsigned,
            fmt,
            ..
        } => parse_num(one(args)?, *min, *max, *unsigned, *fmt).map(Value::Num),
        Kind::Enum { values, .. } => parse_enum(d, values, args).map(Value::Enum),
        Kind::Str {
            empty_is_null,
            check,
            ..
        } => {
            let a = one(args)?;
            check_str(*check, a)?;
            if *empty_is_null && a.is_empty() {
                Ok(Value::Str(None))
            } else {
                Ok(Value::Str(Some(a.to_vec())))
            }
        }
        Kind::Dir => {
            if args.len() != 1 {
                return Err("wrong number of arguments".into());
            }
            let base = match old {
                Value::Dir(p) => p.as_path(),
                _ => Path::new("/"),
            };
            resolve_dir(base, args[0]).map(Value::Dir)
        }
        Kind::Save => parse_save(args, old, source),
        Kind::Bind => {
            if args.len() > 16 {
                return Err("Too many bind addresses specified.".into());
            }
            if args.len() == 1 && args[0].is_empty() {
                return Ok(Value::Bind(Vec::new()));
            }
            Ok(Value::Bind(args.iter().map(|a| a.to_vec()).collect()))
        }
        Kind::ClientOutputBufferLimit => {
            let current = match old {
                Value::Obuf(o) => *o,
                _ => DEFAULT_OBUF,
            };
            parse_obuf(args, current).map(Value::Obuf)
        }
        Kind::OomScoreAdjValues => parse_oom(args).map(Value::Oom),
        Kind::NotifyKeyspaceEvents => {
            if args.len() != 1 {
                return Err("wrong number of arguments".into());
            }
            notify::parse(args[0])
                .map(Value::Notify)
                .ok_or_else(|| "Invalid event class character. Use 'Ag$lshzxeKEtmdn'.".into())
        }
        Kind::ReplicaOf => parse_replicaof(args).map(Value::ReplicaOf),
        Kind::Percentiles => parse_percentiles(args).map(Value::Percentiles),
    }
}

fn one<'a>(args: &[&'a [u8]]) -> Result<&'a [u8], String> {
    match args {
        [a] => Ok(a),
        _ => Err("wrong number of arguments".into()),
    }
}

/// `numericParseString` followed by `numericBoundaryCheck`.
fn parse_num(a: &[u8], min: i128, max: i128, unsigned: bool, fmt: NumFmt) -> Result<i64, String> {
    let mut parsed = None;
    if matches!(fmt, NumFmt::Memory | NumFmt::MemoryOrPercent) {
        parsed = text::memtoull(a).map(|v| v as i64);
    }
    if parsed.is_none() && fmt == NumFmt::MemoryOrPercent && a.len() > 1 && a.ends_with(b"%") {
        parsed = text::string2ll(&a[..a.len() - 1])
            .filter(|&v| v >= 0)
            .map(|v| -v);
    }
    if parsed.is_none() && fmt == NumFmt::Octal {
        let (v, end, overflow) = text::strtoll(a, 8);
        if end && !overflow {
            parsed = Some(v);
        }
    }
    if parsed.is_none() && fmt == NumFmt::Plain {
        parsed = text::string2ll(a);
    }
    let v = parsed.ok_or_else(|| {
        match fmt {
            NumFmt::MemoryOrPercent => "argument must be a memory or percent value",
            NumFmt::Memory => "argument must be a memory value",
            NumFmt::Octal => "argument couldn't be parsed as an octal number",
            NumFmt::Plain => "argument couldn't be parsed into an integer",
        }
        .to_string()
    })?;

    if unsigned {
        let u = i128::from(v as u64);
        if u > max || u < min {
            return Err(if fmt == NumFmt::Octal {
                format!("argument must be between {min:o} and {max:o} inclusive")
            } else {
                format!("argument must be between {min} and {max} inclusive")
            });
        }
    } else if fmt == NumFmt::MemoryOrPercent && v < 0 {
        if i128::from(v) < min {
            return Err(format!(
                "percentage argument must be less or equal to {}",
                -min
            ));
        }
    } else if i128::from(v) > max || i128::from(v) < min {
        return Err(format!(
            "argument must be between {min} and {max} inclusive"
        ));
    }
    Ok(v)
}

/// `configEnumGetValue`: one name, or (for multi-word rows) several OR-ed.
fn parse_enum(d: &Directive, values: &[(&str, u32)], args: &[&[u8]]) -> Result<u32, String> {
    let bitflags = d.has(MULTI_ARG);
    let mut out = None;
    if !args.is_empty() && (bitflags || args.len() == 1) {
        let mut acc = 0;
        let mut all = true;
        for a in args {
            let mut matched = false;
            for &(name, v) in values {
                if a.eq_ignore_ascii_case(name.as_bytes()) {
                    acc |= v;
                    matched = true;
                }
            }
            all &= matched;
        }
        if all {
            out = Some(acc);
        }
    }
    let v = out.ok_or_else(|| {
        let names: Vec<&str> = values.iter().map(|&(n, _)| n).collect();
        format!(
            "argument(s) must be one of the following: {}",
            names.join(", ")
        )
    })?;
    // isValidShutdownOnSigFlags.
    let shutdown = matches!(
        d.id,
        super::Id::ShutdownOnSigint | super::Id::ShutdownOnSigterm
    );
    if shutdown && v & 1 != 0 && v & 2 != 0 {
        return Err("shutdown options SAVE and NOSAVE can't be used simultaneously".into());
    }
    Ok(v)
}

/// `configEnumGetName`: an exact match, else (for flags) the matching names
/// joined by spaces, else "unknown".
pub(crate) fn enum_name(values: &[(&str, u32)], v: u32, bitflags: bool) -> String {
    let mut names: Vec<&str> = Vec::new();
    let mut unmatched = v;
    for &(name, val) in values {
        if val == v {
            return name.to_string();
        }
        if bitflags && val != 0 && val == (unmatched & val) {
            names.push(name);
            unmatched &= !val;
        }
    }
    if names.is_empty() || unmatched != 0 {
        "unknown".into()
    } else {
        names.join(" ")
    }
}

fn check_str(check: StrCheck, a: &[u8]) -> Result<(), String> {
    let is_path = a.contains(&b'/') || a.contains(&b'\\');
    let err = match check {
        StrCheck::None => None,
        StrCheck::DbFilename => is_path.then_some("dbfilename can't be a path, just a filename"),
        StrCheck::AofFilename if a.is_empty() => Some("appendfilename can't be empty"),
        StrCheck::AofFilename => {
            is_path.then_some("appendfilename can't be a path, just a filename")
        }
        StrCheck::AofDirname if a.is_empty() => Some("appenddirname can't be empty"),
        StrCheck::AofDirname => is_path.then_some("appenddirname can't be a path, just a dirname"),
        StrCheck::Hostname if a.len() >= 256 => Some("Hostnames must be less than 256 characters"),
        StrCheck::Hostname => a
            .iter()
            .any(|&c| !(c.is_ascii_alphanumeric() || c == b'-' || c == b'.'))
            .then_some("Hostnames may only contain alphanumeric characters, hyphens or dots"),
        StrCheck::ProcTitle => (!valid_proc_title(a))
            .then_some("template format is invalid or contains unknown variables"),
    };
    match err {
        Some(e) => Err(e.into()),
        None => Ok(()),
    }
}

/// `validateProcTitleTemplate`: `{name}` variables must be known, `{{`
/// is a literal brace, and the expansion (with an empty title) must not be
/// blank.
fn valid_proc_title(t: &[u8]) -> bool {
    const VARS: [&[u8]; 7] = [
        b"title",
        b"listen-addr",
        b"server-mode",
        b"port",
        b"tls-port",
        b"unixsocket",
        b"config-file",
    ];
    let mut out: Vec<u8> = Vec::new();
    let mut p = 0;
    while p < t.len() {
        let Some(open) = t[p..].iter().position(|&c| c == b'{').map(|o| p + o) else {
            out.extend_from_slice(&t[p..]);
            break;
        };
        out.extend_from_slice(&t[p..open]);
        let sv = open + 1;
        match t.get(sv) {
            None => return false,
            Some(b'{') => {
                out.push(b'{');
                p = sv + 1;
                continue;
            }
            Some(_) => {}
        }
        let Some(close) = t[sv..].iter().position(|&c| c == b'}').map(|o| sv + o) else {
            return false;
        };
        let var = &t[sv..close];
        if !VARS.contains(&var) {
            return false;
        }
        // Variables that always expand to something non-empty.
        if matches!(var, b"listen-addr" | b"port" | b"tls-port") {
            out.push(b'x');
        }
        p = close + 1;
    }
    !text::trim(&out, b" ").is_empty()
}

/// Resolves `dir` as `chdir` + `getcwd` would: relative to the current
/// directory, symlinks resolved, and it must be a directory.
pub(crate) fn resolve_dir(base: &Path, a: &[u8]) -> Result<PathBuf, String> {
    if a.is_empty() {
        return Err("No such file or directory".into());
    }
    let p = bytes_to_path(a);
    let full = if p.is_absolute() { p } else { base.join(p) };
    let canon = std::fs::canonicalize(&full).map_err(|e| text::strerror(&e))?;
    if !canon.is_dir() {
        return Err("Not a directory".into());
    }
    Ok(canon)
}

/// `setConfigSaveOption`.
fn parse_save(args: &[&[u8]], old: &Value, source: Source<'_>) -> Result<Value, String> {
    let args: &[&[u8]] = if args.len() == 1 && args[0].is_empty() {
        &[]
    } else {
        args
    };
    if args.len() % 2 == 1 {
        return Err("Invalid save parameters".into());
    }
    let mut points = Vec::with_capacity(args.len() / 2);
    for pair in args.chunks(2) {
        let (seconds, s_end, _) = text::strtoll(pair[0], 10);
        let (changes, c_end, _) = text::strtoll(pair[1], 10);
        if !s_end || !c_end || seconds < 1 || changes < 0 {
            return Err("Invalid save parameters".into());
        }
        // Redis keeps changes in an int.
        points.push(SavePoint {
            seconds,
            changes: changes as i32,
        });
    }
    match source {
        Source::File { save_seen } if !args.is_empty() => {
            // In a file, save lines accumulate; the first one drops the defaults.
            let mut all = match old {
                Value::Save(p) if *save_seen => p.clone(),
                _ => Vec::new(),
            };
            *save_seen = true;
            all.extend(points);
            Ok(Value::Save(all))
        }
        Source::File { save_seen } => {
            *save_seen = true;
            Ok(Value::Save(Vec::new()))
        }
        Source::Command => Ok(Value::Save(points)),
    }
}

/// `updateClientOutputBufferLimit`: groups of four; only the classes named
/// change.
fn parse_obuf(
    args: &[&[u8]],
    mut current: [OutputBufferLimit; 3],
) -> Result<[OutputBufferLimit; 3], String> {
    if !args.len().is_multiple_of(4) {
        return Err("Wrong number of arguments in buffer limit configuration.".into());
    }
    let mut updates = Vec::new();
    for group in args.chunks(4) {
        let class = match group[0].to_ascii_lowercase().as_slice() {
            b"normal" => 0,
            b"slave" | b"replica" => 1,
            b"pubsub" => 2,
            _ => {
                return Err("Invalid client class specified in buffer limit configuration.".into())
            }
        };
        let hard = text::memtoull(group[1]);
        let soft = text::memtoull(group[2]);
        let (secs, end, _) = text::strtoll(group[3], 10);
        // Redis stores the seconds in an int before checking the sign.
        let secs = secs as i32;
        match (hard, soft) {
            (Some(hard_bytes), Some(soft_bytes)) if end && secs >= 0 => {
                updates.push((
                    class,
                    OutputBufferLimit {
                        hard_bytes,
                        soft_bytes,
                        soft_seconds: secs,
                    },
                ));
            }
            _ => {
                return Err(
                    "Error in hard, soft or soft_seconds setting in buffer limit configuration."
                        .into(),
                )
            }
        }
    }
    for (class, limit) in updates {
        current[class] = limit;
    }
    Ok(current)
}

fn parse_oom(args: &[&[u8]]) -> Result<[i32; 3], String> {
    if args.len() != 3 {
        return Err("wrong number of arguments".into());
    }
    let mut out = [0; 3];
    for (slot, a) in out.iter_mut().zip(args) {
        let (v, end, _) = text::strtoll(a, 10);
        if !end || !(-2000..=2000).contains(&v) {
            return Err(
                "Invalid oom-score-adj-values, elements must be between -2000 and 2000.".into(),
            );
        }
        *slot = v as i32;
    }
    Ok(out)
}

fn parse_replicaof(args: &[&[u8]]) -> Result<Option<(Vec<u8>, u16)>, String> {
    let [host, port] = args else {
        return Err("wrong number of arguments".into());
    };
    if host.eq_ignore_ascii_case(b"no") && port.eq_ignore_ascii_case(b"one") {
        return Ok(None);
    }
    let (p, end, _) = text::strtoll(port, 10);
    match u16::try_from(p) {
        Ok(p) if end => Ok(Some((host.to_vec(), p))),
        _ => Err("Invalid master port".into()),
    }
}

fn parse_percentiles(args: &[&[u8]]) -> Result<Vec<f64>, String> {
    if args.len() == 1 && args[0].is_empty() {
        return Ok(Vec::new());
    }
    args.iter()
        .map(|a| {
            let v =
                text::string2d(a).ok_or("Invalid latency-tracking-info-percentiles parameters")?;
            if !(0.0..=100.0).contains(&v) {
                return Err(
                    "latency-tracking-info-percentiles parameters should sit between [0.0,100.0]",
                );
            }
            Ok(v)
        })
        .collect::<Result<_, &str>>()
        .map_err(String::from)
}

/// The CONFIG GET text of a value.
pub(crate) fn format(d: &Directive, v: &Value) -> Vec<u8> {
    match (v, &d.kind) {
        (Value::Bool(b), _) => (if *b { "yes" } else { "no" }).into(),
        (Value::Num(n), Kind::Num { fmt, .. }) => format_num(*n, *fmt).into_bytes(),
        (Value::Num(n), _) => n.to_string().into_bytes(),
        (Value::Enum(e), Kind::Enum { values, .. }) => {
            enum_name(values, *e, d.has(MULTI_ARG)).into_bytes()
        }
        (Value::Enum(_), _) => b"unknown".to_vec(),
        (Value::Str(s), _) => s.clone().unwrap_or_default(),
        (Value::Dir(p), _) => path_to_bytes(p),
        (Value::Save(points), _) => points
            .iter()
            .map(|p| format!("{} {}", p.seconds, p.changes))
            .collect::<Vec<_>>()
            .join(" ")
            .into_bytes(),
        (Value::Bind(addrs), _) => addrs.join(&b' '),
        (Value::Obuf(limits), _) => limits
            .iter()
            .zip(OBUF_CLASSES)
            .map(|(l, class)| {
                format!(
                    "{class} {} {} {}",
                    l.hard_bytes, l.soft_bytes, l.soft_seconds
                )
            })
            .collect::<Vec<_>>()
            .join(" ")
            .into_bytes(),
        (Value::Oom(v), _) => format!("{} {} {}", v[0], v[1], v[2]).into_bytes(),
        (Value::Notify(flags), _) => notify::to_string(*flags).into_bytes(),
        (Value::ReplicaOf(None), _) => Vec::new(),
        (Value::ReplicaOf(Some((host, port))), _) => {
            let mut out = host.clone();
            out.extend_from_slice(format!(" {port}").as_bytes());
            out
        }
        (Value::Percentiles(ps), _) => ps
            .iter()
            .map(|&p| text::format_double(p))
            .collect::<Vec<_>>()
            .join(" ")
            .into_bytes(),
    }
}

/// `numericConfigGet`.
pub(crate) fn format_num(n: i64, fmt: NumFmt) -> String {
    match fmt {
        NumFmt::MemoryOrPercent if n < 0 => format!("{}%", -i128::from(n)),
        NumFmt::Memory | NumFmt::MemoryOrPercent => (n as u64).to_string(),
        NumFmt::Octal => format!("{:o}", n as u64),
        NumFmt::Plain => n.to_string(),
    }
}

#[cfg(unix)]
pub(crate) fn path_to_bytes(p: &Path) -> Vec<u8> {
    use std::os::unix::ffi::OsStrExt;
    p.as_os_str().as_bytes().to_vec()
}

#[cfg(not(unix))]
pub(crate) fn path_to_bytes(p: &Path) -> Vec<u8> {
    p.to_string_lossy().into_owned().into_bytes()
}

#[cfg(unix)]
pub(crate) fn bytes_to_path(b: &[u8]) -> PathBuf {
    use std::os::unix::ffi::OsStrExt;
    PathBuf::from(std::ffi::OsStr::from_bytes(b))
}

#[cfg(not(unix))]
pub(crate) fn bytes_to_path(b: &[u8]) -> PathBuf {
    PathBuf::from(String::from_utf8_lossy(b).into_owned())
}

/// `notify-keyspace-events` class letters (Redis's `notify.c`).
pub mod notify {
    /// `K`: keyspace events, published on `__keyspace@<db>__:<key>`.
    pub const KEYSPACE: u32 = 1 << 0;
    /// `E`: keyevent events, published on `__keyevent@<db>__:<event>`.
    pub const KEYEVENT: u32 = 1 << 1;
    /// `g`: generic commands (DEL, EXPIRE, RENAME, ...).
    pub const GENERIC: u32 = 1 << 2;
    /// `$`: string commands.
    pub const STRING: u32 = 1 << 3;
    /// `l`: list commands.
    pub const LIST: u32 = 1 << 4;
    /// `s`: set commands.
    pub const SET: u32 = 1 << 5;
    /// `h`: hash commands.
    pub const HASH: u32 = 1 << 6;
    /// `z`: sorted set commands.
    pub const ZSET: u32 = 1 << 7;
    /// `x`: expired events.
    pub const EXPIRED: u32 = 1 << 8;
    /// `e`: evicted events.
    pub const EVICTED: u32 = 1 << 9;
    /// `t`: stream commands.
    pub const STREAM: u32 = 1 << 10;
    /// `m`: key miss events (not part of `A`).
    pub const KEY_MISS: u32 = 1 << 11;
    /// Loaded events (module-only; no letter).
    pub const LOADED: u32 = 1 << 12;
    /// `d`: module key type events.
    pub const MODULE: u32 = 1 << 13;
    /// `n`: new key events (not part of `A`).
    pub const NEW: u32 = 1 << 14;
    /// `A`: alias for `g$lshzxetd`.
    pub const ALL: u32 =
        GENERIC | STRING | LIST | SET | HASH | ZSET | EXPIRED | EVICTED | STREAM | MODULE;

    /// `keyspaceEventsStringToFlags`; `None` for an unknown letter.
    pub fn parse(s: &[u8]) -> Option<u32> {
        let mut flags = 0;
        for &c in s {
            flags |= match c {
                b'A' => ALL,
                b'g' => GENERIC,
                b'$' => STRING,
                b'l' => LIST,
                b's' => SET,
                b'h' => HASH,
                b'z' => ZSET,
                b'x' => EXPIRED,
                b'e' => EVICTED,
                b'K' => KEYSPACE,
                b'E' => KEYEVENT,
                b't' => STREAM,
                b'm' => KEY_MISS,
                b'd' => MODULE,
                b'n' => NEW,
                _ => return None,
            };
        }
        Some(flags)
    }

    /// `keyspaceEventsFlagsToString`: Redis's normalised spelling.
    pub fn to_string(flags: u32) -> String {
        let mut s = String::new();
        if flags & ALL == ALL {
            s.push('A');
        } else {
            for (bit, c) in [
                (GENERIC, 'g'),
                (STRING, '$'),
                (LIST, 'l'),
                (SET, 's'),
                (HASH, 'h'),
                (ZSET, 'z'),
                (EXPIRED, 'x'),
                (EVICTED, 'e'),
                (STREAM, 't'),
                (MODULE, 'd'),
                (NEW, 'n'),
            ] {
                if flags & bit != 0 {
                    s.push(c);
                }
            }
        }
        for (bit, c) in [(KEYSPACE, 'K'), (KEYEVENT, 'E'), (KEY_MISS, 'm')] {
            if flags & bit != 0 {
                s.push(c);
            }
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::super::table::{lookup, row, Id};
    use super::*;

    fn set(name: &str, args: &[&str]) -> Result<Value, String> {
        let d = lookup(name.as_bytes()).ok_or("no such row")?;
        let old = default_value(d, Path::new("/"), 4);
        let args: Vec<&[u8]> = args.iter().map(|a| a.as_bytes()).collect();
        parse(d, &args, &old, Source::Command)
    }

    fn get(name: &str, args: &[&str]) -> String {
        let d = lookup(name.as_bytes()).map(|d| d.id);
        match (d, set(name, args)) {
            (Some(id), Ok(v)) => String::from_utf8_lossy(&format(row(id), &v)).into_owned(),
            (_, Err(e)) => format!("ERR {e}"),
            (None, _) => "no row".into(),
        }
    }

    #[test]
    fn numbers_match_redis_messages() {
        assert_eq!(
            get("port", &["abc"]),
            "ERR argument couldn't be parsed into an integer"
        );
        assert_eq!(
            get("port", &["70000"]),
            "ERR argument must be between 0 and 65535 inclusive"
        );
        assert_eq!(
            get("maxmemory", &["1x"]),
            "ERR argument must be a memory value"
        );
        assert_eq!(
            get("maxmemory", &["-1"]),
            "ERR argument must be a memory value"
        );
        assert_eq!(get("maxmemory", &["1KB"]), "1024");
        assert_eq!(get("maxmemory", &["1k"]), "1000");
        assert_eq!(get("maxmemory", &[""]), "0");
        assert_eq!(
            get("maxmemory", &["99999999999999999999999"]),
            "18446744073709551615"
        );
        assert_eq!(
            get("proto-max-bulk-len", &["99999999999999999999999"]),
            "ERR argument must be between 1048576 and 9223372036854775807 inclusive"
        );
        assert_eq!(
            get("hash-max-listpack-entries", &["-1"]),
            "ERR argument must be between 0 and 9223372036854775807 inclusive"
        );
        assert_eq!(
            get("hash-max-listpack-entries", &["007"]),
            "ERR argument couldn't be parsed into an integer"
        );
        assert_eq!(
            get("maxclients", &["0"]),
            "ERR argument must be between 1 and 4294967295 inclusive"
        );
        assert_eq!(get("maxmemory-clients", &["10%"]), "10%");
        assert_eq!(
            get("maxmemory-clients", &["101%"]),
            "ERR percentage argument must be less or equal to 100"
        );
        assert_eq!(
            get("maxmemory-clients", &["1x"]),
            "ERR argument must be a memory or percent value"
        );
        assert_eq!(get("unixsocketperm", &["700"]), "700");
        assert_eq!(
            get("unixsocketperm", &["1000"]),
            "ERR argument must be between 0 and 777 inclusive"
        );
        assert_eq!(
            get("unixsocketperm", &["9"]),
            "ERR argument couldn't be parsed as an octal number"
        );
    }

    #[test]
    fn enums_and_bools() {
        assert_eq!(
            get("daemonize", &["maybe"]),
            "ERR argument must be 'yes' or 'no'"
        );
        assert_eq!(get("daemonize", &["YES"]), "yes");
        assert_eq!(get("loglevel", &["NOTICE"]), "notice");
        assert_eq!(
            get("loglevel", &["notice warning"]),
            "ERR argument(s) must be one of the following: debug, verbose, notice, warning, nothing"
        );
        assert_eq!(get("oom-score-adj", &["relative"]), "yes");
        assert_eq!(get("shutdown-on-sigint", &["save", "now"]), "save now");
        assert_eq!(get("shutdown-on-sigint", &["NOW", "force"]), "now force");
        assert_eq!(
            get("shutdown-on-sigint", &["save", "nosave"]),
            "ERR shutdown options SAVE and NOSAVE can't be used simultaneously"
        );
        assert_eq!(
            get("shutdown-on-sigint", &[]),
            "ERR argument(s) must be one of the following: default, save, nosave, now, force"
        );
        assert_eq!(
            get("maxmemory-policy", &["lru"]),
            "ERR argument(s) must be one of the following: volatile-lru, volatile-lfu, \
             volatile-random, volatile-ttl, allkeys-lru, allkeys-lfu, allkeys-random, noeviction"
        );
    }

    #[test]
    fn strings() {
        assert_eq!(
            get("dbfilename", &["a/b"]),
            "ERR dbfilename can't be a path, just a filename"
        );
        assert_eq!(
            get("appendfilename", &[""]),
            "ERR appendfilename can't be empty"
        );
        assert_eq!(
            get("cluster-announce-hostname", &["a_b"]),
            "ERR Hostnames may only contain alphanumeric characters, hyphens or dots"
        );
        assert_eq!(
            get("proc-title-template", &["{foo}"]),
            "ERR template format is invalid or contains unknown variables"
        );
        assert_eq!(
            get("proc-title-template", &[""]),
            "ERR template format is invalid or contains unknown variables"
        );
        assert_eq!(
            get("proc-title-template", &["{title}"]),
            "ERR template format is invalid or contains unknown variables"
        );
        assert_eq!(get("proc-title-template", &["x {{ {port}"]), "x {{ {port}");
        assert_eq!(get("requirepass", &[""]), "");
    }

    #[test]
    fn specials() {
        assert_eq!(get("save", &["100", "10", "20", "5"]), "100 10 20 5");
        for bad in [
            &["100"][..],
            &["0", "1"],
            &["1", "-1"],
            &["", "", ""],
            &["5", "5", "", "6", "6"],
        ] {
            assert_eq!(get("save", bad), "ERR Invalid save parameters");
        }
        assert_eq!(get("save", &[""]), "");
        assert_eq!(get("bind", &["127.0.0.1", "::1"]), "127.0.0.1 ::1");
        assert_eq!(get("bind", &[""]), "");
        let many: Vec<&str> = ["1"; 17].to_vec();
        assert_eq!(get("bind", &many), "ERR Too many bind addresses specified.");
        assert_eq!(
            get(
                "client-output-buffer-limit",
                &["replica", "1mb", "2kb", "3"]
            ),
            "normal 0 0 0 slave 1048576 2048 3 pubsub 33554432 8388608 60"
        );
        assert_eq!(
            get("client-output-buffer-limit", &["master", "1", "1", "1"]),
            "ERR Invalid client class specified in buffer limit configuration."
        );
        assert_eq!(
            get("client-output-buffer-limit", &["normal", "1", "1"]),
            "ERR Wrong number of arguments in buffer limit configuration."
        );
        assert_eq!(
            get("client-output-buffer-limit", &["normal", "1", "1", "-1"]),
            "ERR Error in hard, soft or soft_seconds setting in buffer limit configuration."
        );
        assert_eq!(get("notify-keyspace-events", &["KEA"]), "AKE");
        assert_eq!(get("notify-keyspace-events", &["Ex"]), "xE");
        assert_eq!(get("notify-keyspace-events", &["gKlshzxetmdn$"]), "AKm");
        assert_eq!(
            get("notify-keyspace-events", &["q"]),
            "ERR Invalid event class character. Use 'Ag$lshzxeKEtmdn'."
        );
        assert_eq!(
            get("latency-tracking-info-percentiles", &["50.5", "99", "100"]),
            "50.5 99 100"
        );
        assert_eq!(
            get("latency-tracking-info-percentiles", &["101"]),
            "ERR latency-tracking-info-percentiles parameters should sit between [0.0,100.0]"
        );
        assert_eq!(
            get("latency-tracking-info-percentiles", &["abc"]),
            "ERR Invalid latency-tracking-info-percentiles parameters"
        );
        assert_eq!(
            get("oom-score-adj-values", &["1", "2"]),
            "ERR wrong number of arguments"
        );
        assert_eq!(
            get("oom-score-adj-values", &["1", "2", "x"]),
            "ERR Invalid oom-score-adj-values, elements must be between -2000 and 2000."
        );
        assert_eq!(get("replicaof", &["host", "6380"]), "host 6380");
        assert_eq!(get("replicaof", &["no", "one"]), "");
        assert_eq!(get("replicaof", &["host", "x"]), "ERR Invalid master port");
    }

    #[test]
    fn dir_must_exist() {
        assert_eq!(
            get("dir", &["/nonexistent-magpie-dir"]),
            "ERR No such file or directory"
        );
        assert_eq!(get("dir", &[""]), "ERR No such file or directory");
        let tmp = std::env::temp_dir();
        let canon = std::fs::canonicalize(&tmp).unwrap_or(tmp.clone());
        assert_eq!(
            get("dir", &[&tmp.to_string_lossy()]),
            canon.to_string_lossy()
        );
    }

    #[test]
    fn save_lines_accumulate_in_a_file() {
        let d = row(Id::Save);
        let mut seen = false;
        let v = default_value(d, Path::new("/"), 1);
        let v = parse(
            d,
            &[b"900", b"1"],
            &v,
            Source::File {
                save_seen: &mut seen,
            },
        )
        .unwrap_or(v);
        let v = parse(
            d,
            &[b"60", b"5"],
            &v,
            Source::File {
                save_seen: &mut seen,
            },
        )
        .unwrap_or(v);
        assert_eq!(format(d, &v), b"900 1 60 5");
        let v = parse(
            d,
            &[b""],
            &v,
            Source::File {
                save_seen: &mut seen,
            },
        )
        .unwrap_or(v);
        assert_eq!(format(d, &v), b"");
        let v = parse(
            d,
            &[b"60", b"5"],
            &v,
            Source::File {
                save_seen: &mut seen,
            },
        )
        .unwrap_or(v);
        assert_eq!(format(d, &v), b"60 5");
    }
}
