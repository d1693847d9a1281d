//! The harness checks itself: two real redis-servers configured to differ
//! must produce mismatch reports, and identical ones must not.

use redis_compat_suite::case::parse_case;
use redis_compat_suite::runner::{run_steps, RunConfig};
use redis_compat_suite::server::{reference_program, Server};

const CASE: &str = r#"# equal on both
GET nokey
HSET h f v
# line 5: the hash encoding differs (hash-max-listpack-entries 0 on one side)
OBJECT ENCODING h
# line 7: ECHO is renamed away on one side
@raw "ECHO hi\r\n"
RPUSH l a b c
# line 10: @expect compares with the stated reply, which 7.0 does not give
@expect KD-9 "listpack" OBJECT ENCODING l
@sort KEYS *
@type-only TIME
"#;

fn config(resp: u8, expect_from_reference: bool) -> RunConfig {
    RunConfig {
        file: "self-check.txt".into(),
        shards: 1,
        resp,
        expect_from_reference,
        trace: false,
    }
}

#[test]
fn detects_deliberate_mismatches() {
    let program = reference_program().unwrap_or_else(|e| panic!("{e}"));
    let reference = Server::start("reference", &program, 1, &[]).unwrap_or_else(|e| panic!("{e}"));
    let different = Server::start(
        "different",
        &program,
        1,
        &[
            "--hash-max-listpack-entries",
            "0",
            "--rename-command",
            "ECHO",
            "",
        ],
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let steps = parse_case(CASE).expect("valid case");
    for resp in [2, 3] {
        let out = run_steps(&steps, different.addr, reference.addr, &config(resp, false));
        let all = out.reports.join("\n\n");
        assert_eq!(
            out.failed, 3,
            "RESP{resp}: expected 3 mismatches, got:\n{all}"
        );
        assert_eq!(out.passed, 5, "RESP{resp}:\n{all}");
        assert!(
            all.contains(&format!(
                "self-check.txt:5 [shards=1 RESP{resp}] OBJECT ENCODING h"
            )) && all.contains(r#"magpie:    "hashtable""#)
                && all.contains(r#"reference: "listpack""#),
            "{all}"
        );
        assert!(
            all.contains("self-check.txt:7 ") && all.contains("unknown command 'ECHO'"),
            "{all}"
        );
        assert!(
            all.contains("expected (KD-9, Redis 7.4): \"listpack\""),
            "{all}"
        );
    }
}

#[test]
fn identical_servers_agree() {
    let program = reference_program().unwrap_or_else(|e| panic!("{e}"));
    let a = Server::start("a", &program, 1, &[]).unwrap_or_else(|e| panic!("{e}"));
    let b = Server::start("b", &program, 1, &[]).unwrap_or_else(|e| panic!("{e}"));
    let steps = parse_case(CASE).expect("valid case");
    for resp in [2, 3] {
        // Self-test mode: @expect checks that the reference really differs.
        let out = run_steps(&steps, a.addr, b.addr, &config(resp, true));
        assert_eq!(out.failed, 0, "{}", out.reports.join("\n\n"));
        assert_eq!(out.passed, 8);
    }
}

/// `@async`/`@await`, `@replies` and `@conn` against two identical servers.
#[test]
fn async_and_multi_reply_directives() {
    const ASYNC_CASE: &str = r#"
@conn 2
@async BLPOP bl 5
@conn 1
RPUSH bl x
@conn 2
@await
@replies 2 SUBSCRIBE ch1 ch2
@conn 1
PUBLISH ch1 hello
@conn 2
@await
@conn 1
@noreply CLIENT REPLY SKIP
@noreply SET k v
GET k
"#;
    let program = reference_program().unwrap_or_else(|e| panic!("{e}"));
    let a = Server::start("a", &program, 1, &[]).unwrap_or_else(|e| panic!("{e}"));
    let b = Server::start("b", &program, 1, &[]).unwrap_or_else(|e| panic!("{e}"));
    let steps = parse_case(ASYNC_CASE).expect("valid case");
    for resp in [2, 3] {
        let out = run_steps(&steps, a.addr, b.addr, &config(resp, true));
        assert_eq!(out.failed, 0, "{}", out.reports.join("\n\n"));
        // RPUSH, await BLPOP, SUBSCRIBE, PUBLISH, await message, GET
        assert_eq!(out.passed, 6);
    }
}
