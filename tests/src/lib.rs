//! Starts a real `magpie-server` process on a free port for black-box tests.
//!
//! The binary is the workspace's own build (`target/<profile>/magpie-server`,
//! or `MAGPIE_SERVER`); if it is missing, it is built with cargo first.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Once;
use std::time::{Duration, Instant};

/// A running magpie-server, killed on drop.
pub struct Server {
    /// The port it listens on.
    pub port: u16,
    child: Child,
}

/// Path of the magpie-server binary, building it if needed.
pub fn binary() -> PathBuf {
    if let Ok(p) = std::env::var("MAGPIE_SERVER") {
        return PathBuf::from(p);
    }
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let exe = std::env::current_exe().unwrap_or_default();
    // target/<profile>/deps/test-binary -> target/<profile>/magpie-server
    let profile_dir = exe
        .parent()
        .and_then(|p| p.parent())
        .map(PathBuf::from)
        .unwrap_or(root.join("target/debug"));
    let bin = profile_dir.join("magpie-server");
    static BUILD: Once = Once::new();
    BUILD.call_once(|| {
        let release = profile_dir.ends_with("release");
        let mut cmd = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
        cmd.current_dir(&root)
            .args(["build", "-q", "-p", "magpie-server"]);
        if release {
            cmd.arg("--release");
        }
        let status = cmd
            .status()
            .expect("cannot run cargo to build magpie-server");
        assert!(status.success(), "building magpie-server failed");
    });
    bin
}

/// A free TCP port on 127.0.0.1.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("no free port")
}

impl Server {
    /// Starts magpie with `--port <free>` and extra arguments, and waits for PONG.
    pub fn start(extra: &[&str]) -> Server {
        let port = free_port();
        let child = Command::new(binary())
            .args(["--port", &port.to_string(), "--save", ""])
            .args(extra)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("cannot start magpie-server");
        let server = Server { port, child };
        server.wait_ready(Duration::from_secs(10));
        server
    }

    /// Waits until the server answers PING.
    pub fn wait_ready(&self, limit: Duration) {
        let start = Instant::now();
        while start.elapsed() < limit {
            if let Ok(mut s) = TcpStream::connect(("127.0.0.1", self.port)) {
                let _ = s.set_read_timeout(Some(Duration::from_secs(1)));
                if s.write_all(b"PING\r\n").is_ok() {
                    let mut buf = [0u8; 7];
                    if s.read_exact(&mut buf).is_ok() && &buf == b"+PONG\r\n" {
                        return;
                    }
                }
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        panic!("magpie-server did not answer PING on port {}", self.port);
    }

    /// The server's redis:// URL.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    /// A synchronous `redis` crate connection.
    pub fn connect(&self) -> redis::Connection {
        redis::Client::open(self.url())
            .and_then(|c| c.get_connection())
            .expect("cannot connect to magpie-server")
    }

    /// A raw TCP connection.
    pub fn raw(&self) -> TcpStream {
        let s = TcpStream::connect(("127.0.0.1", self.port)).expect("cannot connect");
        let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
        s
    }

    /// The server's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends a signal to the server.
    pub fn signal(&self, sig: i32) {
        // Through kill(1): no unsafe code for a signal to our own child.
        let _ = Command::new("kill")
            .args([format!("-{sig}"), self.pid().to_string()])
            .status();
    }

    /// Waits for the process to exit, up to `limit`; returns its exit code.
    pub fn wait_exit(&mut self, limit: Duration) -> Option<i32> {
        let start = Instant::now();
        while start.elapsed() < limit {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some(status.code().unwrap_or(-1));
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        None
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Reads whatever arrives within a short time from a raw connection.
pub fn read_some(s: &mut TcpStream) -> Vec<u8> {
    let mut out = Vec::new();
    let mut buf = [0u8; 65536];
    let _ = s.set_read_timeout(Some(Duration::from_millis(300)));
    while let Ok(n) = s.read(&mut buf) {
        if n == 0 {
            break;
        }
        out.extend_from_slice(&buf[..n]);
    }
    out
}
