//! Finding, starting and stopping the two servers under comparison.

use std::ffi::OsString;
use std::io::{BufReader, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant, SystemTime};

use crate::resp::{self, Reply};

/// Which program a server is, which decides its command line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flavor {
    /// A real `redis-server`: takes no `--shards`.
    Redis,
    /// `magpie-server`.
    Magpie,
}

/// A program to start.
#[derive(Clone, Debug)]
pub struct Program {
    pub path: PathBuf,
    pub flavor: Flavor,
}

/// The command line a server is started with. Both flavors get the same
/// arguments, except `--shards`, which only magpie has.
pub fn server_args(flavor: Flavor, port: u16, shards: usize) -> Vec<String> {
    let mut args: Vec<String> = [
        "--port",
        &port.to_string(),
        "--save",
        "",
        "--appendonly",
        "no",
        "--enable-debug-command",
        "yes",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    if flavor == Flavor::Magpie {
        args.extend(["--shards".to_string(), shards.to_string()]);
    }
    args
}

/// The reference server: `$REDIS_SERVER`, else `redis-server` on `PATH`.
pub fn reference_program() -> Result<Program, String> {
    let path = match std::env::var_os("REDIS_SERVER") {
        Some(p) => {
            let p = PathBuf::from(p);
            if !p.is_file() {
                return Err(format!(
                    "REDIS_SERVER={} does not exist. Install Redis 7.0 (`apt-get install -y redis-server`) \
                     or point REDIS_SERVER at a redis-server binary.",
                    p.display()
                ));
            }
            p
        }
        None => find_in_path("redis-server").ok_or_else(|| {
            "the reference server `redis-server` is not on PATH. The compat suite needs it: \
             run `apt-get install -y redis-server`, or set REDIS_SERVER to a redis-server 7.0 binary."
                .to_string()
        })?,
    };
    Ok(Program {
        path,
        flavor: Flavor::Redis,
    })
}

/// The server under test: `$MAGPIE_SERVER`, else `magpie-server` in the
/// target directory this test was built into. `MAGPIE_IS_REDIS=1` says the
/// program is a redis-server (to test the harness itself).
pub fn magpie_program() -> Result<Program, String> {
    let flavor = if std::env::var("MAGPIE_IS_REDIS").is_ok_and(|v| v == "1") {
        Flavor::Redis
    } else {
        Flavor::Magpie
    };
    if let Some(p) = std::env::var_os("MAGPIE_SERVER") {
        let path = PathBuf::from(p);
        if !path.is_file() {
            return Err(format!("MAGPIE_SERVER={} does not exist", path.display()));
        }
        return Ok(Program { path, flavor });
    }
    let candidates = magpie_candidates();
    match candidates.iter().find(|p| p.is_file()) {
        Some(path) => {
            warn_if_stale(path);
            Ok(Program {
                path: path.clone(),
                flavor,
            })
        }
        None => Err(format!(
            "magpie-server not found (looked at {}). Run `cargo build -p magpie-server` first \
             (with --release for a release test run), or set MAGPIE_SERVER to its path.",
            candidates
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        )),
    }
}

/// `target/<profile>/magpie-server` next to this test executable (which lives
/// in `target/<profile>/deps/`), then the workspace's `target/debug`.
fn magpie_candidates() -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Ok(exe) = std::env::current_exe() {
        if let Some(profile_dir) = exe.parent().and_then(Path::parent) {
            out.push(profile_dir.join("magpie-server"));
        }
    }
    let fallback = workspace_dir().join("target/debug/magpie-server");
    if !out.contains(&fallback) {
        out.push(fallback);
    }
    out
}

fn workspace_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap_or(Path::new("."))
        .to_path_buf()
}

/// A magpie binary older than the sources it is built from gives confusing
/// failures: say so (not captured by the test harness).
fn warn_if_stale(bin: &Path) {
    let Ok(built) = bin.metadata().and_then(|m| m.modified()) else {
        return;
    };
    let ws = workspace_dir();
    let newest = ["server", "storage", "scripting", "persistence"]
        .iter()
        .filter_map(|m| newest_mtime(&ws.join(m).join("src")))
        .max();
    static WARNED: std::sync::Once = std::sync::Once::new();
    if newest.is_some_and(|n| n > built) {
        WARNED.call_once(|| {
            let _ = writeln!(
                std::io::stderr(),
                "compat: warning: {} is older than the server sources; run `cargo build -p magpie-server`",
                bin.display()
            );
        });
    }
}

fn newest_mtime(dir: &Path) -> Option<SystemTime> {
    let mut newest = None;
    for entry in std::fs::read_dir(dir).ok()?.flatten() {
        let path = entry.path();
        let t = if path.is_dir() {
            newest_mtime(&path)
        } else {
            entry.metadata().and_then(|m| m.modified()).ok()
        };
        newest = newest.max(t);
    }
    newest
}

fn find_in_path(name: &str) -> Option<PathBuf> {
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

/// A running server; killed (and its scratch directory removed) on drop,
/// also when a test panics.
pub struct Server {
    child: Child,
    pub addr: SocketAddr,
    dir: PathBuf,
    name: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

impl Server {
    /// Starts `program` on a free port and waits until it answers PING.
    /// `extra` arguments go after the standard ones.
    pub fn start(
        name: &str,
        program: &Program,
        shards: usize,
        extra: &[&str],
    ) -> Result<Server, String> {
        let mut last_err = String::new();
        // A free port can be taken by someone else before the server binds
        // it: try a few.
        for _ in 0..3 {
            match Self::try_start(name, program, shards, extra) {
                Ok(s) => return Ok(s),
                Err(e) => last_err = e,
            }
        }
        Err(last_err)
    }

    fn try_start(
        name: &str,
        program: &Program,
        shards: usize,
        extra: &[&str],
    ) -> Result<Server, String> {
        static SEQ: AtomicUsize = AtomicUsize::new(0);
        let port = free_port()?;
        let dir = std::env::temp_dir().join(format!(
            "magpie-compat-{}-{}-{name}",
            std::process::id(),
            SEQ.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&dir).map_err(|e| format!("creating {}: {e}", dir.display()))?;
        let log_path = dir.join("server.log");
        let log = std::fs::File::create(&log_path).map_err(|e| format!("creating log: {e}"))?;
        let log2 = log.try_clone().map_err(|e| format!("log: {e}"))?;
        let mut args: Vec<OsString> = server_args(program.flavor, port, shards)
            .into_iter()
            .map(OsString::from)
            .collect();
        args.extend(extra.iter().map(OsString::from));
        let child = Command::new(&program.path)
            .args(&args)
            .current_dir(&dir)
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(log2)
            .spawn()
            .map_err(|e| format!("starting {}: {e}", program.path.display()))?;
        let addr: SocketAddr = ([127, 0, 0, 1], port).into();
        let mut server = Server {
            child,
            addr,
            dir,
            name: name.to_string(),
        };
        server.wait_ready(program, &args)?;
        Ok(server)
    }

    /// If the server has died, says how, with the end of its output.
    pub fn death_report(&mut self) -> Option<String> {
        let status = self.child.try_wait().ok()??;
        Some(format!(
            "{} server exited with {status}\n--- last lines of its output ---\n{}",
            self.name,
            self.log_tail(30)
        ))
    }

    fn log_tail(&self, n: usize) -> String {
        let log = std::fs::read_to_string(self.dir.join("server.log")).unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        lines[lines.len().saturating_sub(n)..].join("\n")
    }

    fn wait_ready(&mut self, program: &Program, args: &[OsString]) -> Result<(), String> {
        let deadline = Instant::now() + Duration::from_secs(5);
        let mut last = String::from("no answer");
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(self.startup_failure(program, args, &format!("exited with {status}")));
            }
            match ping(self.addr) {
                Ok(()) => return Ok(()),
                Err(e) => last = e,
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        Err(self.startup_failure(
            program,
            args,
            &format!("did not answer PING within 5 s ({last})"),
        ))
    }

    fn startup_failure(&self, program: &Program, args: &[OsString], what: &str) -> String {
        let mut msg = format!(
            "{} server {} {} {}\n--- last lines of its output ---\n{}",
            self.name,
            program.path.display(),
            args.iter()
                .map(|a| format!("{a:?}"))
                .collect::<Vec<_>>()
                .join(" "),
            what,
            self.log_tail(15)
        );
        if program.flavor == Flavor::Magpie
            && program
                .path
                .file_name()
                .is_some_and(|f| f == "redis-server")
        {
            msg.push_str("\n(MAGPIE_SERVER is a redis-server: set MAGPIE_IS_REDIS=1 so it is started without --shards)");
        }
        msg
    }
}

fn free_port() -> Result<u16, String> {
    let l = TcpListener::bind("127.0.0.1:0").map_err(|e| format!("finding a free port: {e}"))?;
    l.local_addr().map(|a| a.port()).map_err(|e| e.to_string())
}

fn ping(addr: SocketAddr) -> Result<(), String> {
    let stream =
        TcpStream::connect_timeout(&addr, Duration::from_millis(200)).map_err(|e| e.to_string())?;
    stream
        .set_read_timeout(Some(Duration::from_millis(500)))
        .map_err(|e| e.to_string())?;
    let mut reader = BufReader::new(stream);
    reader
        .get_mut()
        .write_all(&resp::encode_command(&[b"PING".to_vec()]))
        .map_err(|e| e.to_string())?;
    match resp::read_reply(&mut reader) {
        Ok(Reply::Simple(s)) if s == b"PONG" => Ok(()),
        Ok(other) => Err(format!("PING answered {}", other.notation())),
        Err(e) => Err(e.to_string()),
    }
}
