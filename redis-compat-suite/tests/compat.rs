//! The differential suite: one module per file in `cases/`, one test per
//! shard count (`strings::shards_1`, `strings::shards_4`), each running the
//! file in RESP2 and RESP3 against magpie and a reference redis-server.
//! See README.md.

include!(concat!(env!("OUT_DIR"), "/cases.rs"));
