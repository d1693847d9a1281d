//! `magpie-server [config-file] [--name value ...]`, like `redis-server`.

use magpie::config::{Config, LogLevel};
use std::path::PathBuf;
use tikv_jemallocator::Jemalloc;

#[global_allocator]
static GLOBAL: Jemalloc = Jemalloc;

/// Set in the environment of the re-executed child of `daemonize yes`.
const DAEMON_CHILD: &str = "MAGPIE_DAEMON_CHILD";

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut config = match Config::from_command_line(&args) {
        Ok(c) => c,
        Err(e) => {
            e.print();
            std::process::exit(e.exit_code());
        }
    };
    if config.daemonize() && std::env::var_os(DAEMON_CHILD).is_none() {
        daemonize(&args);
    }
    init_logging(&config);
    let pidfile = config.startup_pidfile();
    if let Some(p) = &pidfile {
        if let Err(e) = std::fs::write(p, format!("{}\n", std::process::id())) {
            tracing::warn!("Failed to write PID file {}: {e}", p.display());
        }
    }
    let result = magpie::server::run(config);
    if let Some(p) = &pidfile {
        let _ = std::fs::remove_file(p);
    }
    if let Err(e) = result {
        tracing::error!("{e:#}");
        eprintln!("{e:#}");
        std::process::exit(1);
    }
    std::process::exit(0);
}

/// `daemonize yes` without fork: start this program again, detached in its
/// own process group with no terminal I/O, and exit, as Redis's parent does.
fn daemonize(args: &[String]) -> ! {
    use std::os::unix::process::CommandExt;
    let exe = std::env::current_exe().unwrap_or_else(|_| PathBuf::from("magpie-server"));
    let spawned = std::process::Command::new(exe)
        .args(args)
        .env(DAEMON_CHILD, "1")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .process_group(0)
        .spawn();
    match spawned {
        Ok(_) => std::process::exit(0),
        Err(e) => {
            eprintln!("Can't daemonize: {e}");
            std::process::exit(1);
        }
    }
}

/// Logs as `loglevel` and `logfile` say (standard output when empty).
fn init_logging(config: &Config) {
    let level = match config.loglevel() {
        LogLevel::Debug => "debug",
        LogLevel::Verbose => "info",
        LogLevel::Notice => "info",
        LogLevel::Warning => "warn",
        LogLevel::Nothing => "off",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("MAGPIE_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(level));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(false);
    match config.logfile() {
        Some(path) => match std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
        {
            Ok(file) => builder.with_writer(std::sync::Mutex::new(file)).init(),
            Err(e) => {
                eprintln!("Can't open the log file: {e}");
                std::process::exit(1);
            }
        },
        None => builder.with_writer(std::io::stdout).init(),
    }
}
