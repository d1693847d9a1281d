//! Differential tests: the same command sequences against magpie and a real
//! `redis-server`, replies compared exactly.
//!
//! The case files in `cases/` are the specification magpie is held to; the
//! format is described in README.md. `tests/compat.rs` runs every case file
//! against `--shards 1` and `--shards 4`, each in RESP2 and RESP3.
//!
//! Modules: [`resp`] decodes and prints replies, [`case`] parses case files,
//! [`compare`] normalizes replies for unordered and masked comparisons,
//! [`server`] starts the two servers, [`runner`] runs the steps.

pub mod case;
pub mod compare;
pub mod resp;
pub mod runner;
pub mod server;

use std::collections::BTreeSet;
use std::io::Write;
use std::path::{Path, PathBuf};

use case::{Action, Step};
use runner::{run_steps, Outcome, RunConfig};
use server::{Flavor, Server};

/// The directory holding the case files.
pub fn cases_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("cases")
}

/// The row ids (`KD-1`, ...) of KNOWN_DIFFERENCES.md: the first cell of
/// every table row.
pub fn known_difference_rows() -> BTreeSet<String> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("KNOWN_DIFFERENCES.md");
    let text = std::fs::read_to_string(&path).unwrap_or_default();
    text.lines()
        .filter_map(|l| l.trim().strip_prefix('|'))
        .filter_map(|l| l.split('|').next())
        .map(|cell| cell.trim().to_string())
        .filter(|cell| cell.starts_with("KD-"))
        .collect()
}

/// Reads and parses a case file, and checks that every `@expect` cites an
/// existing row of KNOWN_DIFFERENCES.md.
pub fn load_case(name: &str) -> Result<Vec<Step>, String> {
    let path = cases_dir().join(format!("{name}.txt"));
    let src = std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    let steps = case::parse_case(&src).map_err(|e| format!("{name}.txt {e}"))?;
    let rows = known_difference_rows();
    for step in &steps {
        if let Action::Command { mods, .. } = &step.action {
            if let Some((row, _)) = &mods.expect {
                if !rows.contains(row) {
                    return Err(format!(
                        "{name}.txt line {}: @expect cites {row}, which is not a row of KNOWN_DIFFERENCES.md",
                        step.line
                    ));
                }
            }
        }
    }
    Ok(steps)
}

/// Writes past the test harness's output capture, so summaries show in
/// every run.
fn say(msg: &str) {
    let _ = writeln!(std::io::stderr(), "{msg}");
}

fn env_list(name: &str) -> Option<Vec<String>> {
    std::env::var(name)
        .ok()
        .filter(|v| !v.trim().is_empty())
        .map(|v| v.split(',').map(|s| s.trim().to_string()).collect())
}

/// The body of one generated test: case file `name` against magpie with
/// `shards` shards, in RESP2 then RESP3. Panics with every mismatch.
///
/// Environment: `COMPAT_CASE` (comma-separated file names to run; others
/// pass without running), `COMPAT_SHARDS` (e.g. `1`), `COMPAT_RESP` (`2` or
/// `3`), `COMPAT_TRACE=1` (print every step with the reference's reply),
/// plus the server locations (see [`server`]).
pub fn run_case_file(name: &str, shards: usize) {
    if let Some(only) = env_list("COMPAT_CASE") {
        if !only
            .iter()
            .any(|o| o == name || o == &format!("{name}.txt"))
        {
            return;
        }
    }
    if let Some(only) = env_list("COMPAT_SHARDS") {
        if !only.contains(&shards.to_string()) {
            return;
        }
    }
    let resps: Vec<u8> = match env_list("COMPAT_RESP") {
        Some(v) => [2, 3]
            .into_iter()
            .filter(|r| v.contains(&r.to_string()))
            .collect(),
        None => vec![2, 3],
    };
    let steps = load_case(name).unwrap_or_else(|e| panic!("{e}"));
    let reference_prog = server::reference_program().unwrap_or_else(|e| panic!("{e}"));
    let magpie_prog = server::magpie_program().unwrap_or_else(|e| panic!("{e}"));
    // Both servers live until the end of this function, panics included.
    let mut reference =
        Server::start("reference", &reference_prog, shards, &[]).unwrap_or_else(|e| panic!("{e}"));
    let mut magpie =
        Server::start("magpie", &magpie_prog, shards, &[]).unwrap_or_else(|e| panic!("{e}"));
    let mut total = Outcome::default();
    for resp in resps {
        let cfg = RunConfig {
            file: format!("{name}.txt"),
            shards,
            resp,
            expect_from_reference: magpie_prog.flavor == Flavor::Redis,
            trace: std::env::var("COMPAT_TRACE").is_ok_and(|v| v == "1"),
        };
        let out = run_steps(&steps, magpie.addr, reference.addr, &cfg);
        say(&format!(
            "compat: {} passed, {} failed ({name}.txt, shards {shards}, RESP{resp}{})",
            out.passed,
            out.failed,
            if out.ignored > 0 {
                format!(", {} not compared", out.ignored)
            } else {
                String::new()
            }
        ));
        total.absorb(out);
    }
    for server in [&mut magpie, &mut reference] {
        if let Some(report) = server.death_report() {
            total.failed += 1;
            total.reports.push(report);
        }
    }
    if total.failed > 0 {
        panic!(
            "{} mismatch(es) in {name}.txt with --shards {shards}:\n\n{}\n",
            total.failed,
            total.reports.join("\n\n")
        );
    }
}
