//! Loads every fixture file of `shared/fixtures/rdb` (written by Redis
//! 7.0.15, 7.4.1 and Valkey 8.0.1) and compares each key with the JSON
//! that says what the file holds; RESTOREs every DUMP payload likewise.

#![allow(clippy::unwrap_used)]

use persistence::dump::{dump, restore, RestoreError};
use persistence::{load, Encoder, LoadOptions, RdbError};
use serde_json::Value as J;
use std::collections::BTreeMap;
use std::path::PathBuf;
use storage::types::Thresholds;
use storage::{Entry, Value};

fn dir() -> PathBuf {
    let here = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    for cand in [
        here.join("../../../shared/fixtures/rdb"),
        here.join("../../shared/fixtures/rdb"),
        PathBuf::from("/work/shared/fixtures/rdb"),
    ] {
        if cand.join("README.md").exists() {
            return cand;
        }
    }
    panic!("fixtures not found")
}

fn b64(s: &str) -> Vec<u8> {
    let mut out = Vec::new();
    let (mut acc, mut bits) = (0u32, 0);
    for c in s.bytes() {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => continue,
        } as u32;
        acc = (acc << 6) | v;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
    }
    out
}

fn bytes(j: &J) -> Vec<u8> {
    match j {
        J::String(s) => s.as_bytes().to_vec(),
        J::Object(o) => b64(o["base64"].as_str().unwrap()),
        _ => panic!("not a byte string: {j}"),
    }
}

fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

fn opts() -> LoadOptions {
    LoadOptions {
        thresholds: Thresholds::default(),
        now_ms: 1_800_000_000_000,
        databases: 16,
    }
}

/// Checks a loaded value against the JSON record (value and field TTLs).
fn check_value(rec: &J, v: &Value) {
    let key = format!("{}", rec["key"]);
    assert_eq!(v.type_name(), rec["type"].as_str().unwrap(), "{key}");
    let want = &rec["value"];
    match v {
        Value::Str(s) => assert_eq!(s.to_bytes().to_vec(), bytes(want), "{key}"),
        Value::List(l) => {
            let got: Vec<Vec<u8>> = l.iter().map(|e| e.to_vec()).collect();
            let exp: Vec<Vec<u8>> = want.as_array().unwrap().iter().map(bytes).collect();
            assert_eq!(got, exp, "{key}");
        }
        Value::Set(s) => {
            let mut got: Vec<Vec<u8>> = s.iter().map(|m| m.to_vec()).collect();
            got.sort();
            let exp: Vec<Vec<u8>> = want.as_array().unwrap().iter().map(bytes).collect();
            assert_eq!(got, exp, "{key}");
        }
        Value::Hash(h) => {
            let mut got: Vec<(Vec<u8>, Vec<u8>, u64)> = h
                .entries_with_ttl()
                .into_iter()
                .map(|(f, v, t)| (f.to_vec(), v.to_vec(), t))
                .collect();
            got.sort();
            let exp: Vec<(Vec<u8>, Vec<u8>)> = want
                .as_array()
                .unwrap()
                .iter()
                .map(|p| (bytes(&p[0]), bytes(&p[1])))
                .collect();
            let pairs: Vec<_> = got.iter().map(|(f, v, _)| (f.clone(), v.clone())).collect();
            assert_eq!(pairs, exp, "{key}");
            let ttls: BTreeMap<Vec<u8>, u64> = got
                .iter()
                .filter(|e| e.2 != 0)
                .map(|e| (e.0.clone(), e.2))
                .collect();
            let exp_ttls: BTreeMap<Vec<u8>, u64> = rec
                .get("field_expire_ms")
                .and_then(|x| x.as_array())
                .map(|a| {
                    a.iter()
                        .map(|p| (bytes(&p[0]), p[1].as_u64().unwrap()))
                        .collect()
                })
                .unwrap_or_default();
            assert_eq!(ttls, exp_ttls, "{key}");
        }
        Value::ZSet(z) => {
            let got: Vec<(Vec<u8>, u64)> =
                z.iter().map(|(m, s)| (m.to_vec(), s.to_bits())).collect();
            let exp: Vec<(Vec<u8>, u64)> = want
                .as_array()
                .unwrap()
                .iter()
                .map(|p| {
                    let s: f64 = p[1].as_str().unwrap().parse().unwrap();
                    (bytes(&p[0]), s.to_bits())
                })
                .collect();
            assert_eq!(got, exp, "{key}");
        }
    }
}

type Keys = BTreeMap<(usize, Vec<u8>), Entry>;

fn load_fixture(name: &str) -> (Result<persistence::Loaded, RdbError>, Keys) {
    let data = std::fs::read(dir().join(format!("{name}.rdb"))).unwrap();
    let mut keys = BTreeMap::new();
    let r = load(&data, &opts(), |db, k, e| {
        assert!(keys.insert((db, k.to_vec()), e).is_none(), "key twice");
    });
    (r, keys)
}

fn check_main(name: &str) {
    let expect: J =
        serde_json::from_slice(&std::fs::read(dir().join(format!("{name}.json"))).unwrap())
            .unwrap();
    let (r, keys) = load_fixture(name);
    let loaded = r.unwrap_or_else(|e| panic!("{name}: {e}"));
    assert_eq!(
        loaded.version as u64,
        expect["rdb_version"].as_u64().unwrap()
    );
    for (k, v) in expect["aux"].as_object().unwrap() {
        assert_eq!(
            loaded.aux(k),
            Some(v.as_str().unwrap().as_bytes()),
            "{name} aux {k}"
        );
    }
    let mut n = 0;
    for db in expect["dbs"].as_array().unwrap() {
        let dbi = db["db"].as_u64().unwrap() as usize;
        for rec in db["keys"].as_array().unwrap() {
            n += 1;
            let k = bytes(&rec["key"]);
            let e = keys
                .get(&(dbi, k.clone()))
                .unwrap_or_else(|| panic!("{name}: missing {rec}"));
            assert_eq!(
                e.expire_at(),
                rec["expire_ms"].as_u64(),
                "{name} {}",
                rec["key"]
            );
            check_value(rec, &e.value);
        }
    }
    assert_eq!(keys.len(), n, "{name}: extra keys");
}

#[test]
fn redis_7_0_15() {
    check_main("redis-7.0.15");
}

#[test]
fn redis_7_0_15_nocompress() {
    check_main("redis-7.0.15-nocompress");
}

#[test]
fn redis_7_4_1() {
    check_main("redis-7.4.1");
}

#[test]
fn valkey_8_0_1() {
    check_main("valkey-8.0.1");
}

#[test]
fn streams_are_refused_naming_the_type() {
    for name in [
        "streams-redis-7.0.15",
        "streams-redis-7.4.1",
        "streams-valkey-8.0.1",
    ] {
        let (r, _) = load_fixture(name);
        match r {
            Err(RdbError::Unsupported(m)) => assert!(m.contains("stream"), "{m}"),
            other => panic!("{name}: {other:?}"),
        }
    }
}

#[test]
fn corrupt_and_truncated_files_are_refused() {
    let data = std::fs::read(dir().join("redis-7.0.15.rdb")).unwrap();
    // Every truncation fails.
    for cut in (0..data.len())
        .step_by(97)
        .chain([data.len() - 1, data.len() - 8])
    {
        assert!(
            load(&data[..cut], &opts(), |_, _, _| {}).is_err(),
            "cut {cut}"
        );
    }
    // A flipped byte anywhere fails (bad CRC if nothing else).
    for at in (9..data.len()).step_by(131) {
        let mut d = data.clone();
        d[at] ^= 0x5a;
        assert!(load(&d, &opts(), |_, _, _| {}).is_err(), "flip {at}");
    }
    let mut d = data.clone();
    let n = d.len();
    d[n - 1] ^= 1;
    assert!(matches!(
        load(&d, &opts(), |_, _, _| {}),
        Err(RdbError::Checksum { .. })
    ));
    assert_eq!(
        load(b"NOTRDB0010", &opts(), |_, _, _| {}).unwrap_err(),
        RdbError::BadSignature
    );
    assert_eq!(
        load(b"REDIS0013\xff", &opts(), |_, _, _| {}).unwrap_err(),
        RdbError::Version(13)
    );
}

#[test]
fn every_dump_payload_restores() {
    let all: J =
        serde_json::from_slice(&std::fs::read(dir().join("dump-payloads.json")).unwrap()).unwrap();
    let mut checked = 0;
    for (server, recs) in all.as_object().unwrap() {
        for rec in recs.as_array().unwrap() {
            let payload = hex(rec["dump_hex"].as_str().unwrap());
            let r = restore(&payload, &opts());
            if rec["type"] == "stream" {
                assert_eq!(r.unwrap_err(), RestoreError::BadFormat);
                continue;
            }
            let v = r.unwrap_or_else(|e| panic!("{server} {}: {e:?}", rec["key"]));
            check_value(rec, &v);
            // Our own payload of the same value restores to it too.
            let mine = dump(&mut Encoder::new(true), &v, opts().now_ms).unwrap();
            check_value(rec, &restore(&mine, &opts()).unwrap());
            // Strings without LZF are byte-identical to Redis 7.0's DUMP.
            if server == "redis-7.0.15" && rec["type"] == "string" && rec["rdb_encoding"] != "lzf" {
                assert_eq!(mine, payload, "{}", rec["key"]);
            }
            // A flipped bit is caught by the checksum.
            let mut bad = payload.clone();
            bad[0] ^= 1;
            assert_eq!(
                restore(&bad, &opts()).unwrap_err(),
                RestoreError::VersionOrChecksum
            );
            checked += 1;
        }
    }
    assert!(checked > 60, "{checked}");
}
