//! The README's leaderboard example, run as written with redis-cli.

#![allow(clippy::unwrap_used)]

use magpie_tests::Server;
use std::process::Command;

#[test]
fn readme_leaderboard_example_runs() {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md")).unwrap();
    let section = readme
        .split("## A leaderboard")
        .nth(1)
        .expect("README has a leaderboard section");
    let block = section
        .split("```sh")
        .nth(1)
        .and_then(|b| b.split("```").next())
        .unwrap();
    let server = Server::start(&["--shards", "2"]);
    let mut checked = 0;
    for line in block.lines().filter(|l| l.starts_with("redis-cli ")) {
        let (cmd, expected) = line
            .split_once("# =>")
            .expect("each line states its result");
        let args: Vec<&str> = cmd.split_whitespace().skip(1).collect();
        let out = Command::new("redis-cli")
            .arg("-p")
            .arg(server.port.to_string())
            .args(&args)
            .output()
            .expect("redis-cli is required: apt-get install -y redis-tools");
        let got = String::from_utf8_lossy(&out.stdout)
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ");
        assert_eq!(got, expected.trim(), "README line: {line}");
        checked += 1;
    }
    assert_eq!(checked, 4);
}
