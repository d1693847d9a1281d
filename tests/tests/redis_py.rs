//! Runs the redis-py test file (tests/python) against a fresh magpie.
//! Fails, never skips, when python3, pytest or redis-py is missing.

#![allow(clippy::unwrap_used)]

use magpie_tests::Server;
use std::process::Command;

#[test]
fn redis_py_with_defaults() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/python");
    let probe = Command::new("python3")
        .args(["-c", "import redis, pytest"])
        .status();
    assert!(
        matches!(probe, Ok(s) if s.success()),
        "python3 with redis-py 8 and pytest is required: pip install 'redis>=8' pytest"
    );
    for shards in ["1", "4"] {
        let server = Server::start(&["--shards", shards]);
        let status = Command::new("python3")
            .args(["-m", "pytest", "-q", "-p", "no:cacheprovider", dir])
            .env("MAGPIE_PORT", server.port.to_string())
            .status()
            .expect("cannot run pytest");
        assert!(
            status.success(),
            "redis-py tests failed with --shards {shards}"
        );
    }
}
