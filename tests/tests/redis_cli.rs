//! redis-cli against magpie: piped commands, RESP3 (`-3`), and `--pipe`
//! mass insertion. Fails, never skips, when redis-cli is missing.

#![allow(clippy::unwrap_used)]

use magpie_tests::Server;
use std::io::Write;
use std::process::{Command, Stdio};

fn redis_cli(port: u16, args: &[&str], stdin: &[u8]) -> String {
    let mut child = Command::new("redis-cli")
        .arg("-p")
        .arg(port.to_string())
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("redis-cli is required: apt-get install -y redis-tools");
    child.stdin.take().unwrap().write_all(stdin).unwrap();
    let out = child.wait_with_output().unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn piped_commands() {
    let server = Server::start(&["--shards", "2"]);
    let out = redis_cli(
        server.port,
        &[],
        b"SET a 1\nGET a\nINCR a\nGET nosuch\nDEL a\n",
    );
    assert_eq!(out, "OK\n1\n2\n\n1\n");
}

#[test]
fn resp3_hello() {
    let server = Server::start(&[]);
    let out = redis_cli(server.port, &["-3", "HELLO"], b"");
    assert!(out.contains("proto 3\n"), "{out}");
    assert!(out.contains("version 7.4.0\n"), "{out}");
}

#[test]
fn mass_insertion_with_pipe() {
    let server = Server::start(&["--shards", "4"]);
    let mut input = Vec::new();
    for i in 0..10_000 {
        let (k, v) = (format!("k{i}"), format!("v{i}"));
        input.extend_from_slice(
            format!(
                "*3\r\n$3\r\nSET\r\n${}\r\n{k}\r\n${}\r\n{v}\r\n",
                k.len(),
                v.len()
            )
            .as_bytes(),
        );
    }
    let out = redis_cli(server.port, &["--pipe"], &input);
    assert!(out.contains("errors: 0, replies: 10000"), "{out}");
    assert_eq!(redis_cli(server.port, &["DBSIZE"], b""), "10000\n");
}
