//! Per-command statistics (INFO commandstats), kept per worker and summed
//! on demand so the hot path touches no shared cache line.

use std::collections::HashMap;

/// A fast hasher: these maps are touched on every command.
type Fast = foldhash::fast::RandomState;

/// Counters of one command.
#[derive(Debug, Default, Clone, Copy)]
pub struct CmdStat {
    /// Times it ran.
    pub calls: u64,
    /// Microseconds spent.
    pub usec: u64,
    /// Rejected before running (arity, auth, ...).
    pub rejected_calls: u64,
    /// Ran and answered an error.
    pub failed_calls: u64,
}

/// Counters per command, keyed by full name (`client|list`).
#[derive(Debug, Default, Clone)]
pub struct CmdStats {
    /// The counters.
    pub by_name: HashMap<&'static str, CmdStat, Fast>,
    /// Subcommand counters keyed by (container, subcommand).
    pub by_sub: HashMap<(&'static str, &'static str), CmdStat, Fast>,
}

impl CmdStats {
    /// The counter for a command or subcommand.
    pub fn entry(&mut self, parent: Option<&'static str>, name: &'static str) -> &mut CmdStat {
        match parent {
            None => self.by_name.entry(name).or_default(),
            Some(p) => self.by_sub.entry((p, name)).or_default(),
        }
    }

    /// Adds another worker's counters into these.
    pub fn merge(&mut self, other: &CmdStats) {
        for (k, v) in &other.by_name {
            add(self.by_name.entry(k).or_default(), v);
        }
        for (k, v) in &other.by_sub {
            add(self.by_sub.entry(*k).or_default(), v);
        }
    }
}

fn add(a: &mut CmdStat, b: &CmdStat) {
    a.calls += b.calls;
    a.usec += b.usec;
    a.rejected_calls += b.rejected_calls;
    a.failed_calls += b.failed_calls;
}
