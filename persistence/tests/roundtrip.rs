//! Property: whatever the writer writes, the loader reads back unchanged
//! (values, deadlines, databases), with and without compression.

#![allow(clippy::unwrap_used)]

use persistence::snapshot::{image, serialize_db};
use persistence::{load, Encoder, LoadOptions};
use proptest::prelude::*;
use storage::types::hash::{ExpireCond, Hash};
use storage::types::list::List;
use storage::types::set::Set;
use storage::types::zset::{AddFlags, ZSet};
use storage::types::Thresholds;
use storage::{Db, Str, Value};

const NOW: u64 = 1_800_000_000_000;

fn small_th() -> Thresholds {
    // Small limits so both compact and large encodings are exercised.
    Thresholds {
        hash_max_listpack_entries: 4,
        set_max_intset_entries: 4,
        set_max_listpack_entries: 4,
        zset_max_listpack_entries: 4,
        list_max_listpack_size: 4,
        ..Thresholds::default()
    }
}

fn blob() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..40),
        (any::<i64>()).prop_map(|n| n.to_string().into_bytes()),
        (0u8..4, 0usize..300).prop_map(|(c, n)| vec![b'a' + c; n]),
    ]
}

fn value() -> impl Strategy<Value = Value> {
    let th = small_th();
    prop_oneof![
        blob().prop_map(|b| Value::Str(Str::from_bytes(&b))),
        proptest::collection::vec(blob(), 1..12).prop_map(move |v| Value::List(Box::new(
            List::from_items(v.iter().map(|x| &x[..]), 4)
        ))),
        proptest::collection::vec(blob(), 1..12).prop_map(move |v| {
            let mut s = Set::create(&v[0], v.len(), &th);
            for m in &v {
                s.add(m, &th);
            }
            Value::Set(s)
        }),
        proptest::collection::vec(
            (blob(), blob(), prop_oneof![Just(0u64), (1u64..1000)]),
            1..10
        )
        .prop_map(move |v| {
            let mut h = Hash::new();
            for (f, x, ttl) in &v {
                h.set(f, x, &th);
                if *ttl != 0 {
                    h.set_field_ttl(f, NOW + ttl, ExpireCond::Always, NOW);
                }
            }
            Value::Hash(h)
        }),
        proptest::collection::vec((blob(), -1e6f64..1e6), 1..10).prop_map(move |v| {
            let mut z = ZSet::new();
            for (m, s) in &v {
                z.add(m, *s, AddFlags::default(), &th);
            }
            Value::ZSet(Box::new(z))
        }),
    ]
}

fn canon(v: &Value) -> String {
    // Order-insensitive where the type is.
    match v {
        Value::Set(s) => {
            let mut m: Vec<Vec<u8>> = s.iter().map(|m| m.to_vec()).collect();
            m.sort();
            format!("set {m:?}")
        }
        Value::Hash(h) => {
            let mut e = h.entries_with_ttl();
            e.sort();
            format!("hash {e:?}")
        }
        Value::ZSet(z) => format!("zset {:?}", z.iter().collect::<Vec<_>>()),
        Value::List(l) => format!("list {:?}", l.iter().collect::<Vec<_>>()),
        Value::Str(s) => format!("str {:?}", s.to_bytes()),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]
    #[test]
    fn write_then_load(
        keys in proptest::collection::vec((0usize..3, blob(), value(), prop_oneof![Just(None), (1u64..1_000_000).prop_map(Some)]), 0..20),
        compress in any::<bool>(),
    ) {
        let mut dbs: Vec<Db> = (0..3).map(|_| Db::default()).collect();
        for (db, k, v, ttl) in &keys {
            dbs[*db].insert_with_expire(k, v.clone(), ttl.map(|t| NOW + t), NOW);
        }
        let mut enc = Encoder::new(compress);
        let chunks: Vec<_> = dbs.iter().enumerate().filter_map(|(i, d)| serialize_db(&mut enc, d, i, NOW)).collect();
        let img = image(compress, &[("redis-ver", b"7.0.0".to_vec())], &[], &chunks, true);
        let opts = LoadOptions { thresholds: small_th(), now_ms: NOW, databases: 16 };
        let mut back: Vec<Db> = (0..3).map(|_| Db::default()).collect();
        let loaded = load(&img, &opts, |db, k, e| back[db].insert_entry(k, e)).unwrap();
        prop_assert_eq!(loaded.aux("redis-ver"), Some(&b"7.0.0"[..]));
        for (i, d) in dbs.iter().enumerate() {
            prop_assert_eq!(d.len(), back[i].len());
            for (k, e) in d.iter_live(NOW) {
                let b = back[i].get_live(k, NOW).expect("key kept");
                prop_assert_eq!(e.expire_at(), b.expire_at());
                prop_assert_eq!(canon(&e.value), canon(&b.value));
            }
        }
    }
}

/// FUNCTION2 records written before the databases come back in order,
/// compressed or not.
#[test]
fn functions_round_trip_through_a_file() {
    let long = format!(
        "#!lua name=big\n{}",
        "redis.register_function('f', function() return 1 end)\n".repeat(20)
    );
    let codes: Vec<&[u8]> = vec![b"#!lua name=a\nx", long.as_bytes()];
    for compress in [false, true] {
        let img = image(compress, &[], &codes, &[], true);
        let opts = LoadOptions {
            thresholds: small_th(),
            now_ms: NOW,
            databases: 16,
        };
        let loaded = load(&img, &opts, |_, _, _| {}).unwrap();
        let back: Vec<&[u8]> = loaded.functions.iter().map(|v| v.as_slice()).collect();
        assert_eq!(back, codes);
    }
}
