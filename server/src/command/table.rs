//! The joined command table and name lookup.

use super::CommandSpec;
use std::collections::HashMap;
use std::sync::OnceLock;

struct Table {
    /// foldhash: looked up for every request (SipHash showed in profiles).
    by_name: HashMap<Box<[u8]>, &'static CommandSpec, foldhash::fast::RandomState>,
    all: Vec<&'static CommandSpec>,
}

fn table() -> &'static Table {
    static TABLE: OnceLock<Table> = OnceLock::new();
    TABLE.get_or_init(|| {
        let mut all: Vec<&'static CommandSpec> = crate::commands::FAMILIES
            .iter()
            .flat_map(|f| f.iter())
            .collect();
        all.sort_by_key(|c| c.name);
        let by_name = all.iter().map(|c| (c.name.as_bytes().into(), *c)).collect();
        Table { by_name, all }
    })
}

/// Finds a command by name, ignoring ASCII case.
pub fn lookup(name: &[u8]) -> Option<&'static CommandSpec> {
    let mut buf = [0u8; 32];
    if name.len() > buf.len() {
        return None;
    }
    let lower = &mut buf[..name.len()];
    lower.copy_from_slice(name);
    lower.make_ascii_lowercase();
    table().by_name.get(&*lower).copied()
}

/// Finds a subcommand of `parent` by name, ignoring ASCII case.
pub fn lookup_sub(parent: &'static CommandSpec, name: &[u8]) -> Option<&'static CommandSpec> {
    parent
        .subcommands
        .iter()
        .find(|s| s.name.as_bytes().eq_ignore_ascii_case(name))
}

/// Every top-level command, sorted by name.
pub fn all() -> &'static [&'static CommandSpec] {
    &table().all
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::command::{flags, Exec, Keys};

    #[test]
    fn table_invariants() {
        let mut seen = std::collections::HashSet::new();
        for c in all() {
            assert!(seen.insert(c.name), "duplicate command {}", c.name);
            assert_eq!(c.name, c.name.to_ascii_lowercase());
            assert!(c.arity != 0, "{} has arity 0", c.name);
            assert!(
                !(c.has(flags::WRITE) && c.has(flags::READONLY)),
                "{} both write and readonly",
                c.name
            );
            match c.exec {
                Exec::Container => {
                    assert!(
                        !c.subcommands.is_empty(),
                        "{} container without subcommands",
                        c.name
                    );
                    for s in c.subcommands {
                        assert!(s.arity != 0);
                        assert!(!matches!(s.exec, Exec::Container));
                    }
                }
                Exec::Shard(_) => {
                    // A shard handler needs keys to route by.
                    assert!(
                        !matches!(c.keys, Keys::None),
                        "{} runs on a shard but has no keys",
                        c.name
                    );
                }
                Exec::Coord(_) => {}
            }
            if let Keys::Range { first, .. } = c.keys {
                assert!(first >= 1);
            }
        }
    }

    #[test]
    fn lookup_ignores_case() {
        assert!(lookup(b"GeT").is_some());
        assert!(lookup(b"nosuchcommand").is_none());
        assert!(lookup(&[b'a'; 100]).is_none());
    }
}
