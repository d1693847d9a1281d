//! Serialization and load speed of 1M small string keys (ignored by
//! default; run with `cargo test --release -p persistence --test speed --
//! --ignored --nocapture`). Reports CPU time, which is meaningful on a
//! shared machine where wall time is not.

#![allow(clippy::unwrap_used)]

use persistence::snapshot::{image, serialize_db};
use persistence::{load, Encoder, LoadOptions};
use storage::{Db, Str, Value};

fn cpu_ms() -> f64 {
    // utime + stime of this thread, in clock ticks (100 Hz).
    let s = std::fs::read_to_string("/proc/thread-self/stat").unwrap();
    let rest = &s[s.rfind(')').unwrap() + 2..];
    let f: Vec<&str> = rest.split(' ').collect();
    (f[11].parse::<f64>().unwrap() + f[12].parse::<f64>().unwrap()) * 10.0
}

#[test]
#[ignore]
fn one_million_string_keys() {
    let mut db = Db::default();
    for i in 0..1_000_000u32 {
        let v = format!("value:{i}");
        db.insert(
            format!("key:{i}").as_bytes(),
            Value::Str(Str::from_bytes(v.as_bytes())),
            0,
        );
    }
    let mut enc = Encoder::new(true);
    let (c0, t0) = (cpu_ms(), std::time::Instant::now());
    let chunk = serialize_db(&mut enc, &db, 0, 0).unwrap();
    println!(
        "serialize: {:.0} ms cpu, {:?} wall, {} bytes",
        cpu_ms() - c0,
        t0.elapsed(),
        chunk.bytes.len()
    );
    let img = image(true, &[], &[], &[chunk], true);
    let opts = LoadOptions {
        thresholds: Default::default(),
        now_ms: 0,
        databases: 16,
    };
    let (c0, t0) = (cpu_ms(), std::time::Instant::now());
    let mut n = 0;
    load(&img, &opts, |_, _, _| n += 1).unwrap();
    println!(
        "decode only: {:.0} ms cpu, {:?} wall",
        cpu_ms() - c0,
        t0.elapsed()
    );
    let mut back = Db::default();
    let (c0, t0) = (cpu_ms(), std::time::Instant::now());
    let hinted = std::cell::Cell::new(0u64);
    persistence::load_with_hints(
        &img,
        &opts,
        |_, n| hinted.set(n),
        |_, k, e| {
            if hinted.get() > 0 {
                back.reserve(hinted.take() as usize);
            }
            back.insert_entry(k, e)
        },
    )
    .unwrap();
    println!("load: {:.0} ms cpu, {:?} wall", cpu_ms() - c0, t0.elapsed());
    assert_eq!(back.len(), 1_000_000);
}
