//! Startup: `redis-server`'s command line (`main()` in `server.c`) and the
//! config file reader (`loadServerConfig`, `loadServerConfigFromString`).
//!
//! The command line is turned into config-file text and appended to the
//! file's content (and stdin's, with `-`), so the whole startup
//! configuration is one text read top to bottom: later lines win, and an
//! error names the line of that combined text, as Redis does.

use std::fmt;
use std::io::Read;
use std::path::{Path, PathBuf};

use super::table::{lookup, DEPRECATED, MULTI_ARG};
use super::values::{self, Source};
use super::{clamp_hz, text, Config, Id, REDIS_VERSION};

/// Why startup stops before the server runs. Display gives the exact text
/// Redis prints, without its final newline (so `eprintln!("{e}")` is
/// byte-exact for the usual case, a [`StartupError::Fatal`] on stderr);
/// [`StartupError::print`] uses the right stream and
/// [`StartupError::exit_code`] is the status to exit with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StartupError {
    /// `-v` / `--version`: the version line, on stdout, status 0.
    Version(String),
    /// `-h` / `--help`: the usage text, on stderr, status 1.
    Usage(String),
    /// A config file that cannot be read: a log line, on stdout, status 1.
    CantOpen(String),
    /// A bad configuration: Redis's FATAL CONFIG FILE ERROR block, on
    /// stderr, status 1. `line` is the 1-based number and the trimmed text
    /// of the offending line, when there is one.
    Fatal {
        /// The line number and trimmed text.
        line: Option<(usize, String)>,
        /// What is wrong, as Redis words it.
        message: String,
    },
}

impl StartupError {
    /// The process exit status Redis uses for this outcome.
    pub fn exit_code(&self) -> i32 {
        match self {
            StartupError::Version(_) => 0,
            _ => 1,
        }
    }

    /// Whether Redis writes this text to stdout (else stderr).
    pub fn to_stdout(&self) -> bool {
        matches!(self, StartupError::Version(_) | StartupError::CantOpen(_))
    }

    /// Prints the text, and the newline that ends it, where Redis prints it.
    pub fn print(&self) {
        if self.to_stdout() {
            println!("{self}");
        } else {
            eprintln!("{self}");
        }
    }
}

impl fmt::Display for StartupError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StartupError::Version(s) | StartupError::Usage(s) | StartupError::CantOpen(s) => {
                f.write_str(s)
            }
            StartupError::Fatal { line, message } => {
                write!(
                    f,
                    "\n*** FATAL CONFIG FILE ERROR (Redis {REDIS_VERSION}) ***\n"
                )?;
                if let Some((n, text)) = line {
                    write!(
                        f,
                        "Reading the configuration file, at line {n}\n>>> '{text}'\n"
                    )?;
                }
                write!(f, "{message}")
            }
        }
    }
}

impl std::error::Error for StartupError {}

/// Nested `include`s deeper than this are refused (Redis would recurse
/// until its stack overflows).
const MAX_INCLUDE_DEPTH: usize = 32;

fn version_line() -> String {
    format!(
        "Redis server v={REDIS_VERSION} sha=00000000:0 malloc=jemalloc-5.3.0 bits=64 \
         build=0000000000000000 magpie={}",
        env!("CARGO_PKG_VERSION")
    )
}

fn usage() -> String {
    let p = "./magpie-server";
    format!(
        "Usage: {p} [/path/to/redis.conf] [options] [-]\n\
         \x20      {p} - (read config from stdin)\n\
         \x20      {p} -v or --version\n\
         \x20      {p} -h or --help\n\
         \n\
         Examples:\n\
         \x20      {p} (run the server with default conf)\n\
         \x20      echo 'maxmemory 128mb' | {p} -\n\
         \x20      {p} /etc/redis/6379.conf\n\
         \x20      {p} --port 7777\n\
         \x20      {p} /etc/myredis.conf --loglevel verbose -\n\
         \x20      {p} /etc/myredis.conf --loglevel verbose"
    )
}

impl Config {
    /// Builds the configuration from `redis-server`'s command line:
    /// `[/path/to/redis.conf] [--name value ...] [-]`. `args` are the
    /// arguments after the program name (`std::env::args().skip(1)`); `-`
    /// reads config text from stdin.
    pub fn from_command_line(args: &[String]) -> Result<Config, StartupError> {
        Config::from_command_line_with_stdin(args, &mut std::io::stdin())
    }

    /// As [`Config::from_command_line`], reading `-` from `stdin`.
    pub fn from_command_line_with_stdin(
        args: &[String],
        stdin: &mut dyn Read,
    ) -> Result<Config, StartupError> {
        let mut cfg = Config::default();
        cfg.load_command_line(args, stdin)?;
        Ok(cfg)
    }

    pub(crate) fn load_command_line(
        &mut self,
        args: &[String],
        stdin: &mut dyn Read,
    ) -> Result<(), StartupError> {
        let Some(first) = args.first().map(String::as_str) else {
            return Ok(());
        };
        if first == "-v" || first == "--version" {
            return Err(StartupError::Version(version_line()));
        }
        if first == "--help" || first == "-h" {
            return Err(StartupError::Usage(usage()));
        }

        let mut rest = args;
        if !first.starts_with('-') {
            let abs = std::path::absolute(first).unwrap_or_else(|_| PathBuf::from(first));
            self.config_file = Some(abs);
            rest = &args[1..];
        }
        let (options, from_stdin) = options_text(rest, self.config_file.is_none());

        let mut content = Vec::new();
        if let Some(file) = self.config_file.clone() {
            let shown = values::path_to_bytes(&file);
            content.extend(self.read_config(&shown)?);
        }
        if from_stdin {
            // Redis logs "Reading config from stdin" here; logging is the
            // server's business.
            let _ = stdin.read_to_end(&mut content);
        }
        content.push(b'\n');
        content.extend_from_slice(&options);

        let mut loader = Loader {
            save_seen: false,
            depth: 0,
        };
        loader.load_string(self, &content)
    }

    /// Loads config text as if it were a config file's content (tests and
    /// tools; the server uses [`Config::from_command_line`]).
    pub fn load_str(&mut self, content: &[u8]) -> Result<(), StartupError> {
        Loader {
            save_seen: false,
            depth: 0,
        }
        .load_string(self, content)
    }

    /// Reads a config file (or every file a glob pattern names), relative
    /// to `dir` as Redis's `fopen` after its `chdir` would.
    fn read_config(&self, path: &[u8]) -> Result<Vec<u8>, StartupError> {
        let mut content = Vec::new();
        if path.iter().any(|c| b"*?[".contains(c)) {
            for file in expand_glob(self.dir(), path) {
                match std::fs::read(&file) {
                    Ok(bytes) => content.extend(bytes),
                    Err(e) => {
                        let shown = values::path_to_bytes(&file);
                        return Err(cant_open(&shown, &e));
                    }
                }
            }
            return Ok(content);
        }
        let full = self.resolve(&values::bytes_to_path(path));
        if full.is_dir() {
            // fopen() succeeds on a directory and fgets() then reads
            // nothing: Redis loads it as an empty file.
            return Ok(Vec::new());
        }
        std::fs::read(full).map_err(|e| cant_open(path, &e))
    }
}

fn cant_open(path: &[u8], e: &std::io::Error) -> StartupError {
    StartupError::CantOpen(log_line(&format!(
        "Fatal error, can't open config file '{}': {}",
        String::from_utf8_lossy(path),
        text::strerror(e)
    )))
}

/// A warning in Redis's log format, `pid:C dd Mon yyyy hh:mm:ss.mmm # msg`
/// (in UTC: magpie does not read the time zone database).
fn log_line(msg: &str) -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    let secs = now.as_secs() as i64;
    let (y, m, d) = civil_from_days(secs.div_euclid(86_400));
    let sod = secs.rem_euclid(86_400);
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let month = MONTHS
        .get((m as usize).wrapping_sub(1))
        .copied()
        .unwrap_or("Jan");
    format!(
        "{}:C {:02} {} {} {:02}:{:02}:{:02}.{:03} # {}",
        std::process::id(),
        d,
        month,
        y,
        sod / 3600,
        sod / 60 % 60,
        sod % 60,
        now.subsec_millis(),
        msg
    )
}

/// Days since 1970-01-01 to (year, month, day), proleptic Gregorian.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

/// Turns the options after the config file into config text, exactly as
/// `main()` does: `--name` starts a line, the words after it are quoted
/// arguments, `--save` with nothing after it becomes `save ""`, and `-` as
/// the first or last word means stdin. `first_is_argv1` tells whether
/// `opts[0]` is the first argument (no config file was given).
fn options_text(opts: &[String], first_is_argv1: bool) -> (Vec<u8>, bool) {
    let mut out: Vec<u8> = Vec::new();
    let mut from_stdin = false;
    let mut handled_last = true;
    for (k, arg) in opts.iter().enumerate() {
        let a = arg.as_bytes();
        let is_last = k + 1 == opts.len();
        let next_is_option = opts.get(k + 1).is_some_and(|n| n.starts_with("--"));
        if a == b"-" && ((k == 0 && first_is_argv1) || is_last) {
            from_stdin = true;
        } else if handled_last && a.starts_with(b"--") {
            if !out.is_empty() {
                out.push(b'\n');
            }
            out.extend_from_slice(&a[2..]);
            out.push(b' ');
            let words = text::split_args(a).map_or(0, |v| v.len());
            if words == 1 {
                // A bare option name: its value follows.
                handled_last = false;
                let is_save = arg.eq_ignore_ascii_case("--save");
                let is_sentinel = arg.eq_ignore_ascii_case("--sentinel");
                if is_save && (is_last || next_is_option) {
                    // `--save` with no value is `save ""`.
                    out.extend_from_slice(b"\"\"");
                    handled_last = !is_last;
                } else if is_sentinel && next_is_option {
                    handled_last = true;
                }
            } else {
                // "--port 6380" as one word: name and value together.
                handled_last = true;
            }
        } else {
            out.extend(text::repr(a));
            out.push(b' ');
            handled_last = true;
        }
    }
    (out, from_stdin)
}

/// Reads config text line by line into a [`Config`].
struct Loader {
    /// Whether a `save` line was seen: the first one drops the defaults.
    save_seen: bool,
    depth: usize,
}

impl Loader {
    fn load_string(&mut self, cfg: &mut Config, content: &[u8]) -> Result<(), StartupError> {
        for (i, raw) in text::split_on(content, b'\n').into_iter().enumerate() {
            let line = text::trim(raw, b" \t\r\n");
            if line.is_empty() || line[0] == b'#' {
                continue;
            }
            self.load_line(cfg, line).map_err(|e| match e {
                LineError::Message(message) => StartupError::Fatal {
                    line: Some((i + 1, String::from_utf8_lossy(line).into_owned())),
                    message,
                },
                LineError::Startup(e) => e,
            })?;
        }

        // Checks Redis makes after each file (and after each include).
        if let Some(path) = cfg.logfile() {
            if let Err(e) = std::fs::OpenOptions::new()
                .append(true)
                .create(true)
                .open(&path)
            {
                return Err(StartupError::Fatal {
                    line: None,
                    message: format!("Can't open the log file: {}", text::strerror(&e)),
                });
            }
        }
        let hz = cfg.values[Id::Hz as usize].clone();
        cfg.values[Id::Hz as usize] = clamp_hz(hz);
        Ok(())
    }

    fn load_line(&mut self, cfg: &mut Config, line: &[u8]) -> Result<(), LineError> {
        let argv =
            text::split_args(line).ok_or_else(|| msg("Unbalanced quotes in configuration line"))?;
        let Some((name, args)) = argv.split_first() else {
            return Ok(());
        };
        let name = name.to_ascii_lowercase();
        let argc = argv.len();

        if let Some(d) = lookup(&name) {
            if !d.has(MULTI_ARG) && argc != 2 {
                return Err(msg("wrong number of arguments"));
            }
            let mut args: Vec<&[u8]> = args.iter().map(Vec::as_slice).collect();
            // Redis splits a multi-argument directive given as one quoted
            // argument (`--save "3600 1"`) on spaces.
            if d.has(MULTI_ARG) && args.len() == 1 && !args[0].is_empty() {
                args = text::split_on(args[0], b' ');
            }
            let old = &cfg.values[d.id as usize];
            let v = values::parse(
                d,
                &args,
                old,
                Source::File {
                    save_seen: &mut self.save_seen,
                },
            )
            .map_err(LineError::Message)?;
            cfg.values[d.id as usize] = v;
            return Ok(());
        }
        if DEPRECATED
            .iter()
            .any(|&(n, min, max)| name == n.as_bytes() && (min..=max).contains(&argc))
        {
            return Ok(());
        }
        let fd = &mut cfg.file_directives;
        match (name.as_slice(), argc) {
            (b"include", 2) => {
                if self.depth >= MAX_INCLUDE_DEPTH {
                    return Err(msg("Too many nested include directives"));
                }
                let content = cfg.read_config(&argv[1]).map_err(LineError::Startup)?;
                self.depth += 1;
                let r = self.load_string(cfg, &content);
                self.depth -= 1;
                r.map_err(LineError::Startup)
            }
            (b"rename-command", 3) => {
                fd.rename_commands.push((argv[1].clone(), argv[2].clone()));
                Ok(())
            }
            (b"user", n) if n >= 2 => {
                fd.users.push(args.to_vec());
                Ok(())
            }
            (b"loadmodule", n) if n >= 2 => {
                fd.load_modules.push(args.to_vec());
                Ok(())
            }
            _ if name.contains(&b'.') => {
                if argc != 2 {
                    return Err(msg("Module config specified without value"));
                }
                fd.module_configs.push((name.clone(), argv[1].clone()));
                Ok(())
            }
            (b"sentinel", 1) => Ok(()),
            (b"sentinel", _) => Err(msg("sentinel directive while not in sentinel mode")),
            _ => Err(msg("Bad directive or wrong number of arguments")),
        }
    }
}

enum LineError {
    /// An error about this line.
    Message(String),
    /// An error already complete (from an included file).
    Startup(StartupError),
}

fn msg(s: &str) -> LineError {
    LineError::Message(s.to_string())
}

/// Expands a glob pattern as glob(3) would (sorted; `*` and `?` do not
/// match a leading dot); no match is an empty list.
fn expand_glob(base: &Path, pattern: &[u8]) -> Vec<PathBuf> {
    let pat = values::bytes_to_path(pattern);
    let (mut current, rest): (Vec<PathBuf>, &[u8]) = if pat.is_absolute() {
        (vec![PathBuf::from("/")], pattern)
    } else {
        (vec![base.to_path_buf()], pattern)
    };
    let parts: Vec<&[u8]> = rest
        .split(|&b| b == b'/')
        .filter(|p| !p.is_empty())
        .collect();
    for (k, part) in parts.iter().enumerate() {
        let last = k + 1 == parts.len();
        let mut next = Vec::new();
        for dir in &current {
            if !part.iter().any(|c| b"*?[".contains(c)) {
                let p = dir.join(values::bytes_to_path(part));
                if (last && p.exists()) || p.is_dir() {
                    next.push(p);
                }
                continue;
            }
            let Ok(entries) = std::fs::read_dir(dir) else {
                continue;
            };
            let mut names: Vec<Vec<u8>> = entries
                .filter_map(Result::ok)
                .map(|e| values::path_to_bytes(Path::new(&e.file_name())))
                .filter(|n| n.first() != Some(&b'.') || part.first() == Some(&b'.'))
                .filter(|n| super::glob::matches_case_sensitive(part, n))
                .collect();
            names.sort();
            for n in names {
                let p = dir.join(values::bytes_to_path(&n));
                if last || p.is_dir() {
                    next.push(p);
                }
            }
        }
        current = next;
    }
    current
}
