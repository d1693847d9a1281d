//! Generates one test module per case file: `cases/strings.txt` becomes
//! `strings::shards_1` and `strings::shards_4` in `tests/compat.rs`.

use std::fmt::Write as _;
use std::path::Path;

fn main() {
    println!("cargo:rerun-if-changed=cases");
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("cases");
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .map(|rd| {
            rd.flatten()
                .filter_map(|e| {
                    let name = e.file_name().to_string_lossy().into_owned();
                    name.strip_suffix(".txt").map(str::to_string)
                })
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    let mut out = String::new();
    for name in names {
        let mut ident: String = name
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() {
                    c.to_ascii_lowercase()
                } else {
                    '_'
                }
            })
            .collect();
        if ident.starts_with(|c: char| c.is_ascii_digit()) {
            ident.insert_str(0, "case_");
        }
        let _ = writeln!(
            out,
            "mod {ident} {{\n    #[test]\n    fn shards_1() {{\n        redis_compat_suite::run_case_file({name:?}, 1);\n    }}\n\n    #[test]\n    fn shards_4() {{\n        redis_compat_suite::run_case_file({name:?}, 4);\n    }}\n}}\n"
        );
    }
    let out_dir = std::env::var("OUT_DIR").expect("cargo sets OUT_DIR");
    std::fs::write(Path::new(&out_dir).join("cases.rs"), out).expect("write generated tests");
}
